// SPDX-License-Identifier: GPL-2.0
/*
 * tstp-workload: request/response TCP workload with delays injected at known
 * stages, for the tcpstap kernel tests. A C port of tests/lib/workload.py:
 * under plain QEMU emulation Python costs milliseconds per call, which would
 * pollute the latency stages the tests assert on; this costs microseconds.
 *
 * Protocol: each request starts with a 12-byte header (request length,
 * response length, flags; u32 big-endian; lengths include the header) and is
 * padded to its length; the server answers with exactly the response length.
 * Flag 1 marks a warm-up exchange: the first on each connection, run without
 * any injected delay, because under emulation the first pass through cold
 * code costs milliseconds that are real but not injected (tests skip it).
 *
 *   server: listen, serve every connection in its own thread: wait until a
 *       request is readable, sleep --read-delay (kernel receive-queue delay),
 *       read it whole, sleep --app-delay (application delay), write the
 *       response.
 *   client: open --conns connections, then run --exchanges exchanges
 *       round-robin over them: write the request, wait until the response is
 *       readable, sleep --read-delay (client read delay), read it whole.
 *       With --start-file, it connects and runs the warm-ups first, then
 *       waits for that file (connections that predate the tracer).
 *
 * Both set their comm (tstp-server / tstp-client) and write their pid to
 * --pid-file, so tests can check the pid/comm a tracer reports.
 *
 * End of stream is detected with FIONREAD (readable with nothing queued is
 * the peer's FIN), never with MSG_PEEK: a peek is already a read for the
 * tracer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PROG "tstp-workload"
#define HDR_LEN 12u
#define FLAG_WARMUP 1u
/* Largest read per recv(), as the Python version; also the write chunk. */
#define IO_CHUNK (1u << 20)
/* Upper bound for a message: the guest has little memory, and a corrupt
 * header must not make the server send gigabytes. */
#define MAX_MSG (64u << 20)
#define MAX_DELAY_MS 3600000.0
#define CONNECT_TRIES 100
#define POLL_MS 50

struct options {
	int server;		/* mode: 1 server, 0 client */
	const char *addr;
	long port;
	double read_delay_ms;
	double app_delay_ms;
	long stall_at;		/* server: the Nth measured request stalls (0: none) */
	double stall_ms;
	long exchanges;
	long conns;
	long req_bytes;
	long resp_bytes;
	double gap_ms;
	const char *start_file;
	const char *ready_file;
	const char *pid_file;
	const char *sleep_log;
};

static struct options opt = {
	.addr = "127.0.0.1",
	.port = 5555,
	.exchanges = 5,
	.conns = 1,
	.req_bytes = 64,
	.resp_bytes = 32,
	.gap_ms = 20,
};

/* IO_CHUNK bytes of 'r': the response payload, shared read-only. */
static char *resp_chunk;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " server|client [OPTIONS]\n"
		"\n"
		"Request/response TCP workload with delays injected at known stages,\n"
		"for the tcpstap kernel tests. Each connection starts with one warm-up\n"
		"exchange that has no injected delay.\n"
		"\n"
		"Options:\n"
		"  --addr ADDR        server: address to bind (0.0.0.0, ::); client: server\n"
		"                     address; an address with ':' is IPv6 (default 127.0.0.1)\n"
		"  --port PORT        TCP port (default 5555)\n"
		"  --read-delay MS    ms to sleep once a message is readable, before reading\n"
		"                     it (server: requests, client: responses; default 0)\n"
		"  --app-delay MS     server: ms between reading a request and writing the\n"
		"                     response (default 0)\n"
		"  --stall-at N       server: the Nth measured request (server-wide) stalls\n"
		"  --stall-ms MS      ... this many ms before its response (a rare jitter)\n"
		"  --exchanges N      client: measured exchanges, after one warm-up per\n"
		"                     connection (default 5)\n"
		"  --conns N          client: connections, used round-robin (default 1)\n"
		"  --req-bytes N      client: request size, header included, >= 12 (default 64)\n"
		"  --resp-bytes N     client: response size asked for (default 32)\n"
		"  --gap MS           client: ms between exchanges (default 20)\n"
		"  --start-file F     client: after the warm-ups, create F.connected and wait\n"
		"                     until F exists before the measured exchanges\n"
		"  --ready-file F     server: create F once listening\n"
		"  --pid-file F       write the process id to F\n"
		"  --sleep-log F      append each injected sleep's real duration (us), one\n"
		"                     line per sleep\n"
		"  -h, --help         this help\n"
		"\n"
		"Delays accept decimals (ms). The server runs until killed; the client\n"
		"exits 0 once every exchange is done.\n"
		"\n"
		"EXAMPLES\n"
		"  " PROG " server --addr 0.0.0.0 --port 5599 --app-delay 30 &\n"
		"  " PROG " client --addr 127.0.0.1 --port 5599 --exchanges 5 --sleep-log /tmp/s\n"
		"  " PROG " server --addr :: --port 5599 --read-delay 12.5 --ready-file /tmp/r &\n"
		"  " PROG " client --addr ::1 --port 5599 --conns 4 --exchanges 20 \\\n"
		"      --req-bytes 5000 --resp-bytes 300000 --gap 0\n"
		"  " PROG " client --port 5599 --start-file /tmp/go &  # waits for /tmp/go\n");
}

static long parse_long(const char *name, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || v < min || v > max)
		die("--%s: invalid value '%s' (integer %ld..%ld)", name, s, min, max);
	return v;
}

static double parse_ms(const char *name, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v < 0 ||
	    v > MAX_DELAY_MS)
		die("--%s: invalid value '%s' (ms, 0..%.0f)", name, s, MAX_DELAY_MS);
	return v;
}

static void sleep_ms(double ms)
{
	struct timespec ts, rem;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000.0);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000.0) * 1e6);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	else if (ts.tv_nsec < 0)
		ts.tv_nsec = 0;
	while (nanosleep(&ts, &rem) < 0 && errno == EINTR)
		ts = rem;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep MS and log how long it really took (emulation overshoots), so tests
 * compare tcpstap with the delay that was actually injected. */
static void injected_sleep(double ms)
{
	char line[32];
	int64_t t0, took_ns;
	int n, fd;

	t0 = mono_ns();
	sleep_ms(ms);
	took_ns = mono_ns() - t0;
	if (!opt.sleep_log)
		return;
	/* Opened per sleep, as the Python version did, so a test may remove the
	 * log between clients; one write() per line on an O_APPEND fd, so server
	 * threads and the client never interleave partial lines. */
	n = snprintf(line, sizeof(line), "%lld\n", (long long)((took_ns + 500) / 1000));
	fd = open(opt.sleep_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %s", opt.sleep_log, strerror(errno));
	if (write(fd, line, (size_t)n) != n)
		die("%s: write: %s", opt.sleep_log, strerror(errno));
	close(fd);
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	close(fd);
}

static void set_comm(const char *name)
{
	if (prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0) < 0)
		die("prctl(PR_SET_NAME): %s", strerror(errno));
}

static void set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("setsockopt(TCP_NODELAY): %s", strerror(errno));
}

/* Block until FD is readable (or has an error/hangup to report). */
static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, -1);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

/* Read exactly N bytes (discarded) into BUF of IO_CHUNK bytes. Returns 0, or
 * -1 with errno set (ECONNRESET-like EPIPE for a peer that closed early). */
static int recv_exact(int fd, void *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = recv(fd, buf, n < IO_CHUNK ? n : IO_CHUNK, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		n -= (size_t)r;
	}
	return 0;
}

static int send_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The response: N bytes of 'r', written IO_CHUNK at most per send(). */
static int send_resp(int fd, size_t n)
{
	while (n > 0) {
		size_t k = n < IO_CHUNK ? n : IO_CHUNK;

		if (send_all(fd, resp_chunk, k) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static struct addrinfo *resolve(void)
{
	struct addrinfo hints = { 0 }, *ai;
	char port[16];
	int r;

	hints.ai_family = strchr(opt.addr, ':') ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%ld", opt.port);
	r = getaddrinfo(opt.addr, port, &hints, &ai);
	if (r != 0)
		die("%s: %s", opt.addr, gai_strerror(r));
	return ai;
}

/* ---- server ---- */

static long measured_requests;	/* server-wide, across connection threads */

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char *buf = malloc(IO_CHUNK);
	int first = 1;

	if (!buf)
		goto out;
	for (;;) {
		uint32_t req_len, resp_len, flags;
		int queued = 0;

		if (wait_readable(fd) < 0)
			break;
		/* Readable with nothing queued is the peer's FIN (or an error). */
		if (ioctl(fd, FIONREAD, &queued) < 0 || queued == 0)
			break;
		/* The server must know before reading that it is the warm-up. */
		if (opt.read_delay_ms > 0 && !first)
			injected_sleep(opt.read_delay_ms);
		first = 0;
		if (recv_exact(fd, buf, HDR_LEN) < 0)
			break;
		req_len = get_be32(buf);
		resp_len = get_be32(buf + 4);
		flags = get_be32(buf + 8);
		if (req_len < HDR_LEN || req_len > MAX_MSG || resp_len > MAX_MSG)
			break;	/* not our protocol: drop the connection */
		if (recv_exact(fd, buf, req_len - HDR_LEN) < 0)
			break;
		if (opt.app_delay_ms > 0 && !(flags & FLAG_WARMUP))
			injected_sleep(opt.app_delay_ms);
		if (opt.stall_at > 0 && !(flags & FLAG_WARMUP) &&
		    __atomic_add_fetch(&measured_requests, 1, __ATOMIC_RELAXED) == opt.stall_at)
			injected_sleep(opt.stall_ms);
		if (send_resp(fd, resp_len) < 0)
			break;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static void server(void)
{
	struct addrinfo *ai = resolve();
	pthread_attr_t attr;
	int lfd, one = 1;

	set_comm("tstp-server");
	lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket: %s", strerror(errno));
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("setsockopt(SO_REUSEADDR): %s", strerror(errno));
	if (bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("bind %s port %ld: %s", opt.addr, opt.port, strerror(errno));
	freeaddrinfo(ai);
	if (listen(lfd, 1024) < 0)
		die("listen: %s", strerror(errno));
	if (opt.ready_file)
		touch(opt.ready_file);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Threads need little stack: keep the guest's memory for the data. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		pthread_t t;
		int fd, r;

		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept: %s", strerror(errno));
		}
		set_nodelay(fd);
		r = pthread_create(&t, &attr, serve_conn, (void *)(intptr_t)fd);
		if (r != 0)
			die("pthread_create: %s", strerror(r));
	}
}

/* ---- client ---- */

static int connect_retry(const struct addrinfo *ai)
{
	int tries;

	for (tries = 0; tries < CONNECT_TRIES; tries++) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die("socket: %s", strerror(errno));
		set_nodelay(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return fd;
		if (errno != ECONNREFUSED)
			die("connect to %s port %ld: %s", opt.addr, opt.port, strerror(errno));
		close(fd);
		sleep_ms(POLL_MS);
	}
	die("connect to %s port %ld: %s (gave up after %d s)", opt.addr, opt.port,
	    strerror(ECONNREFUSED), CONNECT_TRIES * POLL_MS / 1000);
}

static void exchange(int fd, unsigned char *req, int warmup, unsigned char *buf)
{
	put_be32(req + 8, warmup ? FLAG_WARMUP : 0);
	if (send_all(fd, (const char *)req, (size_t)opt.req_bytes) < 0)
		die("send: %s", strerror(errno));
	if (wait_readable(fd) < 0)
		die("poll: %s", strerror(errno));
	if (opt.read_delay_ms > 0 && !warmup)
		injected_sleep(opt.read_delay_ms);
	if (recv_exact(fd, buf, (size_t)opt.resp_bytes) < 0)
		die("recv: %s", errno == EPIPE ? "peer closed mid-message" : strerror(errno));
	sleep_ms(opt.gap_ms);
}

static void client(void)
{
	struct addrinfo *ai = resolve();
	unsigned char *req, *buf;
	int *fds;
	long i;

	set_comm("tstp-client");
	fds = calloc((size_t)opt.conns, sizeof(*fds));
	req = malloc((size_t)opt.req_bytes);
	buf = malloc(IO_CHUNK);
	if (!fds || !req || !buf)
		die("out of memory");
	for (i = 0; i < opt.conns; i++)
		fds[i] = connect_retry(ai);
	freeaddrinfo(ai);

	memset(req, 'q', (size_t)opt.req_bytes);
	put_be32(req, (uint32_t)opt.req_bytes);
	put_be32(req + 4, (uint32_t)opt.resp_bytes);

	for (i = 0; i < opt.conns; i++)
		exchange(fds[i], req, 1, buf);
	/* Warm-ups done: with --start-file, wait (connections are now
	 * established and used) until the tracer is in place. */
	if (opt.start_file) {
		size_t n = strlen(opt.start_file) + sizeof(".connected");
		char *connected = malloc(n);

		if (!connected)
			die("out of memory");
		snprintf(connected, n, "%s.connected", opt.start_file);
		touch(connected);
		free(connected);
		while (access(opt.start_file, F_OK) < 0)
			sleep_ms(POLL_MS);
	}
	for (i = 0; i < opt.exchanges; i++)
		exchange(fds[i % opt.conns], req, 0, buf);

	for (i = 0; i < opt.conns; i++)
		if (close(fds[i]) < 0)
			die("close: %s", strerror(errno));
	free(fds);
	free(req);
	free(buf);
}

int main(int argc, char **argv)
{
	enum {
		O_ADDR = 256, O_PORT, O_READ_DELAY, O_APP_DELAY, O_EXCHANGES, O_CONNS,
		O_REQ_BYTES, O_RESP_BYTES, O_GAP, O_START_FILE, O_READY_FILE,
		O_PID_FILE, O_SLEEP_LOG, O_STALL_AT, O_STALL_MS,
	};
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, O_ADDR },
		{ "port", required_argument, NULL, O_PORT },
		{ "read-delay", required_argument, NULL, O_READ_DELAY },
		{ "app-delay", required_argument, NULL, O_APP_DELAY },
		{ "exchanges", required_argument, NULL, O_EXCHANGES },
		{ "conns", required_argument, NULL, O_CONNS },
		{ "req-bytes", required_argument, NULL, O_REQ_BYTES },
		{ "resp-bytes", required_argument, NULL, O_RESP_BYTES },
		{ "gap", required_argument, NULL, O_GAP },
		{ "start-file", required_argument, NULL, O_START_FILE },
		{ "ready-file", required_argument, NULL, O_READY_FILE },
		{ "pid-file", required_argument, NULL, O_PID_FILE },
		{ "sleep-log", required_argument, NULL, O_SLEEP_LOG },
		{ "stall-at", required_argument, NULL, O_STALL_AT },
		{ "stall-ms", required_argument, NULL, O_STALL_MS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;	/* report bad options ourselves, as "tstp-workload: ..." */
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case O_ADDR: opt.addr = optarg; break;
		case O_PORT: opt.port = parse_long("port", optarg, 0, 65535); break;
		case O_READ_DELAY: opt.read_delay_ms = parse_ms("read-delay", optarg); break;
		case O_APP_DELAY: opt.app_delay_ms = parse_ms("app-delay", optarg); break;
		case O_EXCHANGES:
			opt.exchanges = parse_long("exchanges", optarg, 0, 100000000);
			break;
		case O_CONNS: opt.conns = parse_long("conns", optarg, 1, 10000); break;
		case O_REQ_BYTES:
			opt.req_bytes = parse_long("req-bytes", optarg, HDR_LEN, MAX_MSG);
			break;
		case O_RESP_BYTES:
			/* At least 1: the client waits for the response to be readable. */
			opt.resp_bytes = parse_long("resp-bytes", optarg, 1, MAX_MSG);
			break;
		case O_GAP: opt.gap_ms = parse_ms("gap", optarg); break;
		case O_START_FILE: opt.start_file = optarg; break;
		case O_READY_FILE: opt.ready_file = optarg; break;
		case O_PID_FILE: opt.pid_file = optarg; break;
		case O_SLEEP_LOG: opt.sleep_log = optarg; break;
		case O_STALL_AT: opt.stall_at = parse_long("stall-at", optarg, 1, 100000000); break;
		case O_STALL_MS: opt.stall_ms = parse_ms("stall-ms", optarg); break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, PROG ": %s: %s\nTry '" PROG " --help'.\n",
				argv[optind - 1], c == ':' ? "missing value" : "unknown option");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, PROG ": %s\nTry '" PROG " --help'.\n",
			optind == argc ? "missing mode: server or client" : "too many arguments");
		return 2;
	}
	if (!strcmp(argv[optind], "server"))
		opt.server = 1;
	else if (strcmp(argv[optind], "client"))
		die("mode: must be 'server' or 'client', not '%s'", argv[optind]);

	resp_chunk = malloc(IO_CHUNK);
	if (!resp_chunk)
		die("out of memory");
	memset(resp_chunk, 'r', IO_CHUNK);
	if (opt.pid_file) {
		FILE *f = fopen(opt.pid_file, "w");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
			die("%s: %s", opt.pid_file, strerror(errno));
	}
	if (opt.server)
		server();
	else
		client();
	return 0;
}
