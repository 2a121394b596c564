// SPDX-License-Identifier: GPL-2.0
/*
 * tstp-sockets: put a known number of TCP sockets into each TCP state, on
 * loopback, for the tcpstap states tests; then hold them until SIGTERM.
 *
 * Every state is made stable for minutes, so that tcpstap and ss(8) can be
 * compared at leisure:
 *   ESTABLISHED   connected pairs (client bound to one of --sources addresses)
 *   CLOSE_WAIT    the client shut down its side (client: FIN_WAIT2, not orphaned)
 *   TIME_WAIT     the client closed first, then the server (made last: a
 *                 TIME_WAIT socket lasts 60 s, the only state with a fixed end)
 *   SYN_RECV      a TCP_DEFER_ACCEPT listener: the bare ACK of the handshake
 *                 is dropped, the request stays (client: ESTABLISHED)
 *   SYN_SENT      connects to --blackhole (routed to a dummy device: dropped)
 *   FIN_WAIT1     the client's FIN queued behind data the server never reads
 *                 (its window is zero); the server stays ESTABLISHED
 *   CLOSING       as FIN_WAIT1, then the server shuts down (server: FIN_WAIT2)
 *   LAST_ACK      the server shuts down first (client: CLOSE_WAIT), then the
 *                 client's FIN is queued behind unsent data
 *   LISTEN        5 listeners; one keeps --queue connections unaccepted
 *   IPv6          --ipv6 pairs on ::1
 * Where it holds the socket, it checks the state with TCP_INFO before
 * writing --ready FILE: one line "state count" per state (what it expects the
 * dump to show, both ends counted), then "listen_queue N".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#define PROG "tstp-sockets"
#define BATCH 1000
#define SMALL_BUF 4096

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

struct opts {
	unsigned established, close_wait, time_wait, syn_recv, syn_sent, fin_wait1, closing,
		 last_ack, queue, ipv6, sources;
	unsigned port;
	const char *blackhole;
	const char *ready;
};

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, what, strerror(errno));
	exit(1);
}

static void fail(const char *fmt, const char *a, unsigned n)
{
	fprintf(stderr, "%s: ", PROG);
	fprintf(stderr, fmt, a, n);
	fputc('\n', stderr);
	exit(1);
}

/* addr:port into ss; returns its length. */
static socklen_t make_addr(int family, const char *addr, unsigned port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &s->sin_addr) != 1)
			fail("%s: not an IPv4 address (port %u)", addr, port);
		return sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &s->sin6_addr) != 1)
			fail("%s: not an IPv6 address (port %u)", addr, port);
		return sizeof(*s);
	}
}

static int listener(int family, const char *addr, unsigned port, int backlog, int defer, int small)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_storage ss;
	socklen_t len;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (small) {	/* inherited by accepted sockets: a window that closes fast */
		int sz = SMALL_BUF;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) != 0)
			die("SO_RCVBUF");
	}
	if (defer) {
		int secs = 300;

		if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) != 0)
			die("TCP_DEFER_ACCEPT");
	}
	len = make_addr(family, addr, port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0)
		die("bind listener");
	if (listen(fd, backlog) != 0)
		die("listen");
	return fd;
}

/* Connects from src (NULL: any) to dst:port; blocking unless nonblock. */
static int client(int family, const char *src, const char *dst, unsigned port, int nonblock, int small)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0), one = 1;
	struct sockaddr_storage ss;
	socklen_t len;

	if (fd < 0)
		die("socket");
	if (small) {
		int sz = SMALL_BUF;

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (family == AF_INET && src) {
		/* Port chosen at connect: source ports are then shared between destinations. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		len = make_addr(AF_INET, src, 0, &ss);
		if (bind(fd, (struct sockaddr *)&ss, len) != 0)
			die("bind client");
	}
	len = make_addr(family, dst, port, &ss);
	if (connect(fd, (struct sockaddr *)&ss, len) != 0 && !(nonblock && errno == EINPROGRESS))
		die("connect");
	return fd;
}

static int accept_one(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		die("accept");
	return fd;
}

static unsigned tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		die("TCP_INFO");
	return ti.tcpi_state;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits up to 20 s for every fd to be in state; dies naming what is not. */
static void wait_state(const int *fds, unsigned n, unsigned state, const char *what)
{
	for (unsigned tries = 0; tries < 2000; tries++) {
		unsigned bad = 0;

		for (unsigned i = 0; i < n; i++)
			if (tcp_state(fds[i]) != state)
				bad++;
		if (!bad)
			return;
		sleep_ms(10);
	}
	fail("%s: not all %u sockets reached their state within 20 s", what, n);
}

/* Connected pairs: n clients to lfd, each accepted. */
static void pairs(int lfd, int family, const char *dst, unsigned port, unsigned n, unsigned sources,
		  int small, int *cli, int *srv)
{
	char src[32];

	for (unsigned done = 0; done < n; done += BATCH) {
		unsigned m = n - done < BATCH ? n - done : BATCH;

		for (unsigned i = 0; i < m; i++) {
			unsigned k = done + i;

			/* Weighted sources: address j gets about twice as many as j+1. */
			if (sources)
				snprintf(src, sizeof(src), "127.0.1.%u",
					 1 + (unsigned)__builtin_ctz(k + 1 + (1u << (sources - 1))) % sources);
			cli[k] = client(family, family == AF_INET && sources ? src : NULL, dst, port, 0, small);
		}
		for (unsigned i = 0; i < m; i++)
			srv[done + i] = accept_one(lfd);
	}
}

/* Writes until the peer's window stays shut, so that a FIN queues behind data. */
static void fill(int fd)
{
	static char junk[SMALL_BUF];
	int flags = fcntl(fd, F_GETFL), unsent = 0;

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	for (int quiet = 0; quiet < 3;) {
		ssize_t n = send(fd, junk, sizeof(junk), MSG_NOSIGNAL);

		if (n > 0) {
			quiet = 0;
			continue;
		}
		if (errno != EAGAIN)
			die("send");
		sleep_ms(50);
		quiet++;
	}
	if (ioctl(fd, SIOCOUTQNSD, &unsent) != 0 || unsent <= 0)
		fail("%s: window did not close (unsent %u)", "fill", (unsigned)unsent);
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: %s --ready FILE [--port P] [--established N] [--close-wait N] [--time-wait N]\n"
		"       [--syn-recv N] [--syn-sent N --blackhole ADDR] [--fin-wait1 N] [--closing N]\n"
		"       [--last-ack N] [--queue N] [--ipv6 N] [--sources N]\n"
		"Listeners on 127.0.0.1:P..P+3 and [::1]:P+4; clients bound to 127.0.1.1..N.\n", PROG);
	exit(2);
}

static unsigned num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (end == s || *end || errno || v > 1000000)
		usage();
	return (unsigned)v;
}

static void on_term(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "established", 1, NULL, 'e' }, { "close-wait", 1, NULL, 'c' },
		{ "time-wait", 1, NULL, 't' }, { "syn-recv", 1, NULL, 'r' },
		{ "syn-sent", 1, NULL, 's' }, { "fin-wait1", 1, NULL, 'f' },
		{ "closing", 1, NULL, 'g' }, { "last-ack", 1, NULL, 'l' },
		{ "queue", 1, NULL, 'q' }, { "ipv6", 1, NULL, '6' }, { "sources", 1, NULL, 'S' },
		{ "port", 1, NULL, 'p' }, { "blackhole", 1, NULL, 'b' }, { "ready", 1, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .port = 5000, .sources = 8 };
	unsigned total_pairs;
	int *cli, *srv, c, lmain, ldefer, lsmall, lqueue, l6;
	unsigned at = 0;
	FILE *f;
	struct sigaction sa;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'e': o.established = num(optarg); break;
		case 'c': o.close_wait = num(optarg); break;
		case 't': o.time_wait = num(optarg); break;
		case 'r': o.syn_recv = num(optarg); break;
		case 's': o.syn_sent = num(optarg); break;
		case 'f': o.fin_wait1 = num(optarg); break;
		case 'g': o.closing = num(optarg); break;
		case 'l': o.last_ack = num(optarg); break;
		case 'q': o.queue = num(optarg); break;
		case '6': o.ipv6 = num(optarg); break;
		case 'S': o.sources = num(optarg); break;
		case 'p': o.port = num(optarg); break;
		case 'b': o.blackhole = optarg; break;
		case 'R': o.ready = optarg; break;
		default: usage();
		}
	}
	if (!o.ready || (o.syn_sent && !o.blackhole) || o.sources < 1 || o.sources > 30 || o.port > 65000)
		usage();
	total_pairs = o.established + o.close_wait + o.time_wait + o.fin_wait1 + o.closing +
		      o.last_ack + o.ipv6 + o.syn_recv + o.queue + o.syn_sent;
	cli = calloc(total_pairs + 1, sizeof(*cli));
	srv = calloc(total_pairs + 1, sizeof(*srv));
	if (!cli || !srv)
		die("calloc");

	lmain = listener(AF_INET, "127.0.0.1", o.port, 8192, 0, 0);
	ldefer = listener(AF_INET, "127.0.0.1", o.port + 1, 8192, 1, 0);
	lsmall = listener(AF_INET, "127.0.0.1", o.port + 2, 128, 0, 1);
	lqueue = listener(AF_INET, "127.0.0.1", o.port + 3, 4096, 0, 0);
	l6 = listener(AF_INET6, "::1", o.port + 4, 4096, 0, 0);

	/* ESTABLISHED pairs. */
	pairs(lmain, AF_INET, "127.0.0.1", o.port, o.established, o.sources, 0, cli + at, srv + at);
	wait_state(cli + at, o.established, TCP_ESTABLISHED, "established clients");
	at += o.established;
	/* CLOSE_WAIT / FIN_WAIT2. */
	pairs(lmain, AF_INET, "127.0.0.1", o.port, o.close_wait, o.sources, 0, cli + at, srv + at);
	for (unsigned i = 0; i < o.close_wait; i++)
		shutdown(cli[at + i], SHUT_WR);
	wait_state(srv + at, o.close_wait, TCP_CLOSE_WAIT, "close-wait servers");
	wait_state(cli + at, o.close_wait, TCP_FIN_WAIT2, "fin-wait-2 clients");
	at += o.close_wait;
	/* IPv6 pairs. */
	pairs(l6, AF_INET6, "::1", o.port + 4, o.ipv6, 0, 0, cli + at, srv + at);
	at += o.ipv6;
	/* Zero-window pairs: FIN_WAIT1, CLOSING, LAST_ACK. */
	{
		unsigned n = o.fin_wait1 + o.closing + o.last_ack, b = at;

		pairs(lsmall, AF_INET, "127.0.0.1", o.port + 2, n, 0, 1, cli + at, srv + at);
		for (unsigned i = 0; i < n; i++)
			fill(cli[b + i]);
		for (unsigned i = 0; i < o.fin_wait1 + o.closing; i++)
			shutdown(cli[b + i], SHUT_WR);
		for (unsigned i = o.fin_wait1; i < n; i++)
			shutdown(srv[b + i], SHUT_WR);
		for (unsigned i = o.fin_wait1 + o.closing; i < n; i++) {
			unsigned one = 1;

			wait_state(&cli[b + i], one, TCP_CLOSE_WAIT, "last-ack clients (close-wait first)");
			shutdown(cli[b + i], SHUT_WR);
		}
		wait_state(cli + b, o.fin_wait1, TCP_FIN_WAIT1, "fin-wait-1 clients");
		wait_state(srv + b, o.fin_wait1, TCP_ESTABLISHED, "fin-wait-1 servers");
		wait_state(cli + b + o.fin_wait1, o.closing, TCP_CLOSING, "closing clients");
		wait_state(srv + b + o.fin_wait1, o.closing + o.last_ack, TCP_FIN_WAIT2, "closing/last-ack servers");
		wait_state(cli + b + o.fin_wait1 + o.closing, o.last_ack, TCP_LAST_ACK, "last-ack clients");
		at += n;
	}
	/* SYN_RECV behind TCP_DEFER_ACCEPT (nothing to accept). */
	for (unsigned i = 0; i < o.syn_recv; i++)
		cli[at + i] = client(AF_INET, NULL, "127.0.0.1", o.port + 1, 0, 0);
	wait_state(cli + at, o.syn_recv, TCP_ESTABLISHED, "syn-recv clients");
	at += o.syn_recv;
	/* An accept queue of exactly --queue connections. */
	for (unsigned i = 0; i < o.queue; i++)
		cli[at + i] = client(AF_INET, NULL, "127.0.0.1", o.port + 3, 0, 0);
	wait_state(cli + at, o.queue, TCP_ESTABLISHED, "queued clients");
	at += o.queue;
	/* SYN_SENT towards a black hole. */
	for (unsigned i = 0; i < o.syn_sent; i++)
		cli[at + i] = client(AF_INET, NULL, o.blackhole, 80, 1, 0);
	wait_state(cli + at, o.syn_sent, TCP_SYN_SENT, "syn-sent clients");
	at += o.syn_sent;

	/* TIME_WAIT last: it lasts 60 s, whatever the sysctls. Client closes first. */
	pairs(lmain, AF_INET, "127.0.0.1", o.port, o.time_wait, o.sources, 0, cli + at, srv + at);
	for (unsigned i = 0; i < o.time_wait; i++)
		close(cli[at + i]);
	wait_state(srv + at, o.time_wait, TCP_CLOSE_WAIT, "time-wait servers (close-wait first)");
	for (unsigned i = 0; i < o.time_wait; i++)
		close(srv[at + i]);
	at += o.time_wait;
	f = fopen(o.ready, "w");
	if (!f)
		die(o.ready);
	fprintf(f, "established %u\n", 2 * (o.established + o.ipv6 + o.queue) + o.syn_recv + o.fin_wait1);
	fprintf(f, "syn_sent %u\nsyn_recv %u\n", o.syn_sent, o.syn_recv);
	fprintf(f, "fin_wait1 %u\nfin_wait2 %u\n", o.fin_wait1, o.close_wait + o.closing + o.last_ack);
	fprintf(f, "time_wait %u\nclose 0\nclose_wait %u\n", o.time_wait, o.close_wait);
	fprintf(f, "last_ack %u\nlisten 5\nclosing %u\n", o.last_ack, o.closing);
	fprintf(f, "ipv6 %u\nlisten_queue %u\n", 2 * o.ipv6 + 1, o.queue);
	if (fclose(f) != 0)
		die(o.ready);
	fprintf(stderr, "%s: ready (%u pairs)\n", PROG, at);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pause();
	(void)lmain; (void)ldefer; (void)lsmall; (void)lqueue; (void)l6;
	return 0;
}
