// SPDX-License-Identifier: GPL-2.0
/*
 * tstp-conn: connection-level workloads for the connection-health kernel
 * tests (tests/kernel/4x-*.t). Each mode injects one known condition and
 * prints what it really did on stdout ("key=value" lines), so that a test
 * compares tcpstap's report with what happened, not with what was asked.
 *
 *   serve   listen on --port with --backlog, then per --mode:
 *             close   accept and close at once (connection floods)
 *             hold    accept and keep every connection open, reading
 *                     until the peer closes (idle connections)
 *             leak    accept, read to EOF and never close (CLOSE_WAIT leak)
 *             sink    accept, read and discard, close at EOF (bulk transfers)
 *             none    never accept (listen-queue overflow)
 *   flood   connect and close --rate connections a second for --duration s
 *   open    open --count connections (--rate a second if given), send
 *           --send bytes on each (default none), and keep them idle for
 *           --hold s
 *   burst   start --count non-blocking connects at once, wait --hold s
 *   bulk    send --bytes bytes on one connection, then close
 *   halfclose  connect, send a few bytes, shutdown(SHUT_WR), wait --hold s
 *
 * Single-threaded, poll()-driven: hundreds of connections cost nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "tstp-conn"
#define MAX_FDS 4096
#define NS_PER_S 1000000000LL

struct options {
	const char *mode;	/* serve, flood, open, burst, bulk, halfclose */
	const char *serve_mode;	/* close, hold, leak, sink, none */
	const char *addr;
	const char *bind_addr;
	long port;
	long backlog;
	long count;
	double rate;
	int rate_set;
	double duration;
	double hold;
	long long bytes;
	long send;
	const char *ready_file;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, what, strerror(errno));
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void sleep_ns(long long ns)
{
	struct timespec ts = { ns / NS_PER_S, ns % NS_PER_S };

	while (ns > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop)
		;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= min && v <= max))
		return -1;
	*out = v;
	return 0;
}

static void make_addr(const char *addr, long port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
		fprintf(stderr, "%s: %s: not an IPv4 address\n", PROG, addr);
		exit(2);
	}
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl");
}

static int new_socket(const struct options *o)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (o->bind_addr) {
		struct sockaddr_in sa;

		make_addr(o->bind_addr, 0, &sa);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			die("bind");
	}
	return fd;
}

/* A blocking connect; returns the socket or -1 (errno set). */
static int connect_to(const struct options *o)
{
	struct sockaddr_in sa;
	int fd = new_socket(o);

	make_addr(o->addr, o->port, &sa);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void touch(const char *path)
{
	int fd;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	close(fd);
}

static int serve(const struct options *o)
{
	static struct pollfd pfd[MAX_FDS];
	static char buf[65536];
	struct sockaddr_in sa;
	int one = 1, nfd = 1;
	long accepted = 0, closed = 0;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int accept_on = strcmp(o->serve_mode, "none") != 0;
	int close_now = strcmp(o->serve_mode, "close") == 0;
	int never_close = strcmp(o->serve_mode, "leak") == 0;

	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	make_addr(o->addr, o->port, &sa);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("bind");
	if (listen(lfd, (int)o->backlog) != 0)
		die("listen");
	set_nonblock(lfd);
	touch(o->ready_file);
	pfd[0].fd = lfd;
	pfd[0].events = accept_on ? POLLIN : 0;
	while (!stop) {
		int n = poll(pfd, (nfds_t)nfd, 200);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("poll");
		if (pfd[0].revents & POLLIN) {
			int c;

			while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
				accepted++;
				if (close_now || nfd == MAX_FDS) {
					close(c);
					closed++;
					continue;
				}
				pfd[nfd].fd = c;
				pfd[nfd].events = POLLIN;
				pfd[nfd].revents = 0;
				nfd++;
			}
		}
		for (int i = 1; i < nfd; i++) {
			ssize_t r;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(pfd[i].fd, buf, sizeof(buf));
			if (r > 0 || (r < 0 && errno == EAGAIN))
				continue;
			/* EOF or error: the peer is done. */
			if (never_close) {
				pfd[i].events = 0;	/* stays in CLOSE_WAIT */
				pfd[i].fd = -pfd[i].fd - 1;
				continue;
			}
			close(pfd[i].fd);
			closed++;
			pfd[i] = pfd[--nfd];
			i--;
		}
	}
	printf("accepted=%ld\nclosed=%ld\n", accepted, closed);
	return 0;
}

static int flood(const struct options *o)
{
	long long start = now_ns(), next = start, end = start + (long long)(o->duration * NS_PER_S);
	long long gap = (long long)(NS_PER_S / o->rate);
	long ok = 0, failed = 0;

	while (!stop && now_ns() < end) {
		int fd = connect_to(o);

		if (fd >= 0) {
			ok++;
			close(fd);
		} else {
			failed++;
		}
		next += gap;
		if (next > now_ns())
			sleep_ns(next - now_ns());
	}
	printf("connected=%ld\nfailed=%ld\nseconds=%.3f\n", ok, failed,
	       (double)(now_ns() - start) / NS_PER_S);
	return failed ? 1 : 0;
}

static int open_idle(const struct options *o)
{
	static int fds[MAX_FDS];
	static char buf[65536];
	long n = 0;

	long long next = now_ns();

	memset(buf, 'y', sizeof(buf));
	for (; n < o->count && !stop; n++) {
		if (o->rate_set) {
			next += (long long)(NS_PER_S / o->rate);
			if (next > now_ns())
				sleep_ns(next - now_ns());
		}
		fds[n] = connect_to(o);
		if (fds[n] < 0)
			die("connect");
		if (o->send > 0 && write(fds[n], buf, (size_t)o->send) != o->send)
			die("write");
	}
	printf("opened=%ld\n", n);
	fflush(stdout);
	touch(o->ready_file);
	sleep_ns((long long)(o->hold * NS_PER_S));
	for (long i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}

static int burst(const struct options *o)
{
	static int fds[MAX_FDS];
	struct sockaddr_in sa;
	long established = 0;

	make_addr(o->addr, o->port, &sa);
	for (long i = 0; i < o->count; i++) {
		fds[i] = new_socket(o);
		set_nonblock(fds[i]);
		if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
			die("connect");
	}
	sleep_ns((long long)(o->hold * NS_PER_S));
	for (long i = 0; i < o->count; i++) {
		int err = 0;
		socklen_t len = sizeof(err);
		struct pollfd p = { fds[i], POLLOUT, 0 };

		if (poll(&p, 1, 0) == 1 && getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err)
			established++;
		close(fds[i]);
	}
	printf("started=%ld\nestablished=%ld\n", o->count, established);
	return 0;
}

static int bulk(const struct options *o)
{
	static char buf[65536];
	long long left = o->bytes;
	int fd = connect_to(o);

	if (fd < 0)
		die("connect");
	memset(buf, 'x', sizeof(buf));
	while (left > 0 && !stop) {
		ssize_t w = write(fd, buf, left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write");
		left -= w;
	}
	shutdown(fd, SHUT_WR);
	/* Wait for the peer's close: every byte was delivered and acknowledged. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	printf("sent=%lld\n", o->bytes - left);
	return 0;
}

static int halfclose(const struct options *o)
{
	int fd = connect_to(o);
	struct sockaddr_in local;
	socklen_t len = sizeof(local);

	if (fd < 0)
		die("connect");
	if (write(fd, "hello\n", 6) != 6)
		die("write");
	shutdown(fd, SHUT_WR);
	getsockname(fd, (struct sockaddr *)&local, &len);
	printf("lport=%u\n", ntohs(local.sin_port));
	fflush(stdout);
	touch(o->ready_file);
	sleep_ns((long long)(o->hold * NS_PER_S));
	close(fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s MODE [OPTIONS]\n\n"
		"Modes: serve, flood, open, burst, bulk, halfclose (see the source header).\n\n"
		"Options:\n"
		"  --addr A          address to listen on (serve) or connect to (default 127.0.0.1)\n"
		"  --bind A          local address of client sockets\n"
		"  --port P          port (default 5555)\n"
		"  --mode M          serve: close, hold, leak, sink or none (default close)\n"
		"  --backlog N       serve: listen() backlog (default 128)\n"
		"  --count N         open/burst: connections (default 1, at most %d)\n"
		"  --rate R          flood, open: connections a second (flood: default 10;\n"
		"                    open: as fast as possible)\n"
		"  --duration S      flood: seconds (default 1)\n"
		"  --hold S          open/burst/halfclose: seconds to wait (default 0)\n"
		"  --bytes N         bulk: bytes to send (default 1000000)\n"
		"  --send N          open: bytes to send on each connection (default 0, at most 65536)\n"
		"  --ready-file F    created when listening (serve) or connected (open, halfclose)\n\n"
		"EXAMPLES:\n"
		"  %s serve --addr 10.77.0.1 --port 5555 --mode close &\n"
		"  %s flood --addr 10.77.0.1 --port 5555 --rate 500 --duration 2\n",
		PROG, MAX_FDS, PROG, PROG);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "bind", required_argument, NULL, 'B' },
		{ "port", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "backlog", required_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "hold", required_argument, NULL, 'H' },
		{ "bytes", required_argument, NULL, 'n' },
		{ "send", required_argument, NULL, 's' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = {
		.serve_mode = "close", .addr = "127.0.0.1", .port = 5555, .backlog = 128,
		.count = 1, .rate = 10, .duration = 1, .hold = 0, .bytes = 1000000,
	};
	struct sigaction sa = { .sa_handler = on_signal };
	long bytes_l;
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': o.addr = optarg; break;
		case 'B': o.bind_addr = optarg; break;
		case 'p': bad |= parse_long(optarg, 1, 65535, &o.port); break;
		case 'm': o.serve_mode = optarg; break;
		case 'b': bad |= parse_long(optarg, 0, 65535, &o.backlog); break;
		case 'c': bad |= parse_long(optarg, 1, MAX_FDS, &o.count); break;
		case 'r': bad |= parse_double(optarg, 0.1, 100000, &o.rate); o.rate_set = 1; break;
		case 'd': bad |= parse_double(optarg, 0, 3600, &o.duration); break;
		case 'H': bad |= parse_double(optarg, 0, 3600, &o.hold); break;
		case 'n': bad |= parse_long(optarg, 1, 1L << 40, &bytes_l); o.bytes = bytes_l; break;
		case 's': bad |= parse_long(optarg, 0, 65536, &o.send); break;
		case 'R': o.ready_file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "%s: '%s': out of range or not a number\n", PROG, optarg);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o.mode = argv[optind];
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(o.mode, "serve") == 0)
		return serve(&o);
	if (strcmp(o.mode, "flood") == 0)
		return flood(&o);
	if (strcmp(o.mode, "open") == 0)
		return open_idle(&o);
	if (strcmp(o.mode, "burst") == 0)
		return burst(&o);
	if (strcmp(o.mode, "bulk") == 0)
		return bulk(&o);
	if (strcmp(o.mode, "halfclose") == 0)
		return halfclose(&o);
	fprintf(stderr, "%s: unknown mode '%s'\n", PROG, o.mode);
	return 2;
}
