// SPDX-License-Identifier: GPL-2.0
/*
 * tstp-churn: connection churn against a Redis server, for the scale part of
 * `make bench`. Keeps --conns connections open at once; each one connects,
 * runs --exchanges PING/+PONG exchanges (inline protocol), closes and is
 * replaced by a new one, for --duration seconds. One thread, epoll,
 * non-blocking sockets: ten thousand connections cost no thread each.
 *
 * At the end it prints one JSON object on stdout: connections opened and
 * completed, exchanges, errors by kind, the most connections open at once.
 * Exit 0 when it ran, 1 when nothing could be exchanged or on a setup error,
 * 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcpstap/cli.h"

#define PROG "tstp-churn"
#define MAX_CONNS 100000u
#define EVENTS_PER_WAIT 1024
#define REQ "PING\r\n"
#define RESP "+PONG\r\n"
#define RESP_LEN (sizeof(RESP) - 1)

struct options {
	const char *addr;
	uint64_t port;
	uint64_t conns;
	uint64_t exchanges;
	uint64_t duration_s;
	int json;
};

enum conn_state { C_FREE, C_CONNECTING, C_WAITING };

struct conn {
	int fd;
	enum conn_state state;
	uint32_t done;		/* exchanges completed on this connection */
	uint32_t got;		/* response bytes received so far */
};

#define ERRNO_KINDS 8

/* Errors of one kind, tallied by errno (0: the peer closed). */
struct errno_tally {
	int err[ERRNO_KINDS];
	uint64_t n[ERRNO_KINDS];
};

struct counters {
	uint64_t opened, completed, exchanges, open_now, peak_open;
	uint64_t err_connect, err_io, err_proto;
	struct errno_tally connect_why, io_why;
};

struct churn {
	struct options o;
	struct sockaddr_in sa;
	int ep;
	struct conn *c;
	struct counters n;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [OPTIONS]\n"
		"\n"
		"Connection churn against a Redis server: --conns connections open at once,\n"
		"each doing --exchanges PING exchanges, then closing and being replaced.\n"
		"\n"
		"Options:\n"
		"  --addr ADDR        server IPv4 address (default 127.0.0.1)\n"
		"  --port PORT        server port (default 6379)\n"
		"  --conns N          connections open at once (default 1000)\n"
		"  --exchanges N      exchanges per connection before it closes (default 3)\n"
		"  --duration S       seconds to run (default 10)\n"
		"  --json             the summary as JSON (default: one text line)\n"
		"  -h, --help         this help\n"
		"\n"
		"Raise the file limit (ulimit -n) above --conns first.\n"
		"\n"
		"EXAMPLES\n"
		"  " PROG " --conns 100 --duration 5\n"
		"  ulimit -n 30000; " PROG " --addr 10.77.0.1 --conns 10000 --exchanges 3 --duration 60 --json\n");
}

static int usage_error(const char *what, const char *arg, const char *range)
{
	fprintf(stderr, PROG ": --%s %s: %s (see --help)\n", what, arg, range);
	return 2;
}

static int parse_options(struct options *o, int argc, char **argv)
{
	enum { O_ADDR = 256, O_PORT, O_CONNS, O_EXCH, O_DUR, O_JSON };
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, O_ADDR },
		{ "port", required_argument, NULL, O_PORT },
		{ "conns", required_argument, NULL, O_CONNS },
		{ "exchanges", required_argument, NULL, O_EXCH },
		{ "duration", required_argument, NULL, O_DUR },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct options){ .addr = "127.0.0.1", .port = 6379, .conns = 1000,
			       .exchanges = 3, .duration_s = 10 };
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_ADDR: o->addr = optarg; break;
		case O_PORT:
			if (tstp_parse_u64(optarg, 1, 65535, &o->port) != 0)
				return usage_error("port", optarg, "not a port number (1-65535)");
			break;
		case O_CONNS:
			if (tstp_parse_u64(optarg, 1, MAX_CONNS, &o->conns) != 0)
				return usage_error("conns", optarg, "not a count in [1, 100000]");
			break;
		case O_EXCH:
			if (tstp_parse_u64(optarg, 1, 1000000, &o->exchanges) != 0)
				return usage_error("exchanges", optarg, "not a count in [1, 1000000]");
			break;
		case O_DUR:
			if (tstp_parse_u64(optarg, 1, 86400, &o->duration_s) != 0)
				return usage_error("duration", optarg, "not a number of seconds in [1, 86400]");
			break;
		case O_JSON: o->json = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void tally(struct errno_tally *t, int err)
{
	for (int i = 0; i < ERRNO_KINDS; i++) {
		if (t->n[i] && t->err[i] != err)
			continue;
		t->err[i] = err;
		t->n[i]++;
		return;
	}
}

static void print_tally(const struct errno_tally *t)
{
	putchar('{');
	for (int i = 0; i < ERRNO_KINDS && t->n[i]; i++)
		printf("%s\"%s\":%llu", i ? "," : "", t->err[i] ? strerrorname_np(t->err[i]) : "EOF",
		       (unsigned long long)t->n[i]);
	putchar('}');
}

static void conn_close(struct churn *ch, struct conn *c)
{
	close(c->fd);	/* also leaves the epoll set */
	c->fd = -1;
	c->state = C_FREE;
	ch->n.open_now--;
}

/* Opens slot i's next connection; a failure is counted and the slot retried. */
static void conn_open(struct churn *ch, uint32_t i)
{
	struct conn *c = &ch->c[i];
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = i };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		ch->n.err_connect++;
		tally(&ch->n.connect_why, errno);
		return;
	}
	if (connect(fd, (struct sockaddr *)&ch->sa, sizeof(ch->sa)) < 0 && errno != EINPROGRESS) {
		ch->n.err_connect++;
		tally(&ch->n.connect_why, errno);
		close(fd);
		return;
	}
	if (epoll_ctl(ch->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ch->n.err_io++;
		close(fd);
		return;
	}
	*c = (struct conn){ .fd = fd, .state = C_CONNECTING };
	ch->n.opened++;
	if (++ch->n.open_now > ch->n.peak_open)
		ch->n.peak_open = ch->n.open_now;
}

static int send_request(struct churn *ch, uint32_t i)
{
	struct conn *c = &ch->c[i];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

	/* A 6-byte request always fits an empty send buffer. */
	if (send(c->fd, REQ, sizeof(REQ) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(REQ) - 1) ||
	    epoll_ctl(ch->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		ch->n.err_io++;
		return -1;
	}
	c->state = C_WAITING;
	c->got = 0;
	return 0;
}

/* One readiness event on slot i. */
static void conn_event(struct churn *ch, uint32_t i, uint32_t events)
{
	struct conn *c = &ch->c[i];
	char buf[64];
	ssize_t r;

	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			ch->n.err_connect++;
			tally(&ch->n.connect_why, err ? err : errno);
			conn_close(ch, c);
			return;
		}
		if (send_request(ch, i) < 0)
			conn_close(ch, c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	r = recv(c->fd, buf, sizeof(buf), 0);
	if (r <= 0) {
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		ch->n.err_io++;
		tally(&ch->n.io_why, r < 0 ? errno : 0);
		conn_close(ch, c);
		return;
	}
	if (c->got + (size_t)r > RESP_LEN || memcmp(buf, RESP + c->got, (size_t)r) != 0) {
		ch->n.err_proto++;
		conn_close(ch, c);
		return;
	}
	c->got += (uint32_t)r;
	if (c->got < RESP_LEN)
		return;
	ch->n.exchanges++;
	if (++c->done < ch->o.exchanges) {
		if (send_request(ch, i) < 0)
			conn_close(ch, c);
		return;
	}
	ch->n.completed++;
	conn_close(ch, c);
}

static int run(struct churn *ch)
{
	struct epoll_event ev[EVENTS_PER_WAIT];
	double end = now_s() + (double)ch->o.duration_s;
	uint32_t i;

	while (now_s() < end) {
		for (i = 0; i < ch->o.conns; i++)
			if (ch->c[i].state == C_FREE)
				conn_open(ch, i);
		int n = epoll_wait(ch->ep, ev, EVENTS_PER_WAIT, 100);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, PROG ": epoll_wait: %s\n", strerror(errno));
			return -1;
		}
		for (int k = 0; k < n; k++)
			conn_event(ch, ev[k].data.u32, ev[k].events);
	}
	for (i = 0; i < ch->o.conns; i++)
		if (ch->c[i].state != C_FREE)
			conn_close(ch, &ch->c[i]);
	return 0;
}

static void report(const struct churn *ch, double secs)
{
	const struct counters *n = &ch->n;

	if (ch->o.json) {
		printf("{\"conns\":%llu,\"exchanges_per_conn\":%llu,\"duration_s\":%.3f,"
		       "\"opened\":%llu,\"completed\":%llu,\"exchanges\":%llu,\"peak_open\":%llu,"
		       "\"err_connect\":%llu,\"err_io\":%llu,\"err_proto\":%llu,\"connect_errors\":",
		       (unsigned long long)ch->o.conns, (unsigned long long)ch->o.exchanges, secs,
		       (unsigned long long)n->opened, (unsigned long long)n->completed,
		       (unsigned long long)n->exchanges, (unsigned long long)n->peak_open,
		       (unsigned long long)n->err_connect, (unsigned long long)n->err_io,
		       (unsigned long long)n->err_proto);
		print_tally(&n->connect_why);
		printf(",\"io_errors\":");
		print_tally(&n->io_why);
		printf("}\n");
	} else
		printf("%.1f s: %llu connections opened, %llu completed, %llu exchanges, "
		       "peak %llu open; errors: %llu connect, %llu io, %llu protocol\n",
		       secs, (unsigned long long)n->opened, (unsigned long long)n->completed,
		       (unsigned long long)n->exchanges, (unsigned long long)n->peak_open,
		       (unsigned long long)n->err_connect, (unsigned long long)n->err_io,
		       (unsigned long long)n->err_proto);
}

int main(int argc, char **argv)
{
	struct churn ch = { .ep = -1 };
	struct rlimit rl;
	double start;
	int rc = 1;

	if (parse_options(&ch.o, argc, argv) != 0)
		return 2;
	ch.sa.sin_family = AF_INET;
	ch.sa.sin_port = htons((uint16_t)ch.o.port);
	if (inet_pton(AF_INET, ch.o.addr, &ch.sa.sin_addr) != 1) {
		fprintf(stderr, PROG ": --addr %s: not an IPv4 address (see --help)\n", ch.o.addr);
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < ch.o.conns + 16) {
		fprintf(stderr, PROG ": open files limit %llu is below --conns %llu: raise it (ulimit -n)\n",
			(unsigned long long)rl.rlim_cur, (unsigned long long)ch.o.conns);
		return 1;
	}
	ch.c = calloc(ch.o.conns, sizeof(*ch.c));
	ch.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!ch.c || ch.ep < 0) {
		fprintf(stderr, PROG ": setup: %s\n", strerror(errno));
		goto out;
	}
	for (uint32_t i = 0; i < ch.o.conns; i++)
		ch.c[i].fd = -1;
	start = now_s();
	if (run(&ch) == 0) {
		report(&ch, now_s() - start);
		rc = ch.n.exchanges ? 0 : 1;
		if (!ch.n.exchanges)
			fprintf(stderr, PROG ": %s:%llu: no exchange completed\n", ch.o.addr,
				(unsigned long long)ch.o.port);
	}
out:
	if (ch.ep >= 0)
		close(ch.ep);
	free(ch.c);
	return rc;
}
