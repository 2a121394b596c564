// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpstap exporter: serves GET /metrics (Prometheus text exposition) with the
 * socket-state metrics of `tcpstap states`, computed per scrape, plus every
 * *.prom file that tcpstap-load keeps in a textfile directory (the
 * node_exporter textfile-collector pattern: module histograms and counters).
 * Optionally serves tcpkit-compatible JSON stats on another TCP port.
 *
 * One thread, one poll loop, a bounded number of clients: each has a bounded
 * request buffer and a deadline, so a slow or silent client costs a slot for
 * at most --client-timeout and never delays the others. HTTP/1.0 and 1.1,
 * GET and HEAD, always Connection: close. Plain libc on purpose: the binary
 * copied to a RHEL 6/7 host must need no library installed there.
 *
 * REQUIREMENTS: none (no root): sock_diag dumps are unprivileged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "tcpstap/cli.h"
#include "tcpstap/prom.h"
#include "tcpstap/sockdiag.h"
#include "states.h"

#define DEFAULT_LISTEN ":9477"
#define DEFAULT_TEXTFILE_DIR "/run/tcpstap/metrics"
/* tcpstap-load writes every 10 s (the modules' interval_s): three missed writes. */
#define DEFAULT_MAX_AGE_S 30
#define DEFAULT_CLIENT_TIMEOUT_S 10.0
#define DEFAULT_MAX_CLIENTS 32
#define MAX_CLIENTS_LIMIT 1024
#define REQUEST_MAX 8192		/* request line and headers */
#define TEXTFILE_MAX_BYTES (4u << 20)
#define TEXTFILES_MAX 256
#define TCPKIT_MAX_ENDPOINTS 4096
#define NAME_SET_MAX (1u << 20)		/* distinct metric names over all textfiles */

struct exporter_opts {
	const char *listen;
	const char *tcpkit_listen;
	const char *textfile_dir;
	uint64_t max_age_s;		/* 0: no staleness check */
	double client_timeout_s;
	uint64_t max_clients;
	int once;
	struct states_dump_opts dump;
};

enum skip_reason { SKIP_STALE, SKIP_INVALID, SKIP_RESERVED, SKIP_DUPLICATE, SKIP_TOO_LARGE,
		   SKIP_UNREADABLE, SKIP_TOO_MANY, NSKIP };
static const char *const skip_names[NSKIP] = {
	"stale", "invalid", "reserved", "duplicate", "too_large", "unreadable", "too_many",
};

/* What was last said about a textfile on stderr: say it again only when it changes. */
struct file_note {
	char name[256];
	int reason;		/* -1: served */
	int64_t mtime;
};

enum conn_kind { CONN_HTTP, CONN_TCPKIT };

struct conn {
	int fd;			/* -1: free slot */
	enum conn_kind kind;
	int writing;
	int64_t deadline_ms;
	size_t inlen;
	char in[REQUEST_MAX];
	char *out;
	size_t outlen, outoff;
};

struct name_set {
	char **slot;
	size_t nslots, n;
};

struct exporter {
	struct exporter_opts o;
	struct tstp_states states;
	int http_fd, tcpkit_fd;
	struct conn *conns;
	uint64_t skipped[NSKIP];
	uint64_t scrapes, scrape_errors, timeouts, refused;
	uint64_t http_requests[6];	/* 200, 400, 404, 405, 431, 503 */
	struct file_note *notes;
	size_t nnotes;
	char last_dir_error[256];
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void exporter_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s exporter [OPTIONS]\n\n"
		"Serve GET /metrics over HTTP: the TCP socket-state metrics of '%s states'\n"
		"(one netlink sock_diag dump per scrape) and every *.prom file of the textfile\n"
		"directory, where tcpstap-load keeps the running modules' histograms and\n"
		"counters. Optionally tcpkit-compatible JSON stats on a second TCP port.\n"
		"No root needed.\n\n"
		"Options:\n"
		"  -l, --listen ADDR:PORT        HTTP address (default %s; \":PORT\": all\n"
		"                                addresses, \"[::1]:PORT\" for IPv6)\n"
		"  -k, --tcpkit-listen ADDR:PORT also serve tcpkit JSON stats there (tcpkit's\n"
		"                                default port is 33333); off by default\n"
		"  -d, --textfile-dir DIR        *.prom files to append (default %s)\n"
		"  -a, --textfile-max-age S      skip files not written for S seconds (default %d,\n"
		"                                0: never skip for age)\n"
		"  -t, --client-timeout S        drop a client that has not finished within S\n"
		"                                seconds (default %.0f)\n"
		"  -c, --max-clients N           clients served at once (default %d)\n"
		STATES_DUMP_HELP
		"      --once                    print one scrape on stdout and exit\n"
		"  -h, --help                    this help\n\n"
		"Skipped textfiles are reported on stderr and counted in\n"
		"tcpstap_exporter_textfile_skipped_total{reason}.\n"
		"Exit status: 0 stopped by SIGINT/SIGTERM (or --once served), 1 error, 2 usage error.\n\n"
		"EXAMPLES:\n"
		"  %s exporter                              # http://HOST:9477/metrics\n"
		"  %s exporter -l 127.0.0.1:9477 -n 20      # local only, top 20 remote addresses\n"
		"  %s exporter -k :33333                    # plus tcpkit JSON: nc HOST 33333\n"
		"  %s exporter --once -d /tmp/prom | promtool check metrics\n",
		TSTP_PROG, TSTP_PROG, DEFAULT_LISTEN, DEFAULT_TEXTFILE_DIR, DEFAULT_MAX_AGE_S,
		DEFAULT_CLIENT_TIMEOUT_S, DEFAULT_MAX_CLIENTS, TSTP_PROG, TSTP_PROG, TSTP_PROG,
		TSTP_PROG);
}

/* "ADDR:PORT", "[V6]:PORT" or ":PORT" into host (NULL: any) and port. */
static int split_hostport(const char *s, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon;
	size_t hl;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		hl = (size_t)(close - s - 1);
		s++;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -1;	/* a bare IPv6 address needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl >= hcap || strlen(colon + 1) >= pcap || !colon[1])
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int valid_hostport(const char *spec)
{
	char host[128], port[16];
	uint64_t pnum;

	return split_hostport(spec, host, sizeof(host), port, sizeof(port)) == 0 &&
	       tstp_parse_u64(port, 0, 65535, &pnum) == 0;
}

static int parse_exporter_opts(int argc, char **argv, struct exporter_opts *o)
{
	enum { OPT_ONCE = 256 };
	static const struct option longopts[] = {
		{ "listen",		required_argument,	NULL, 'l' },
		{ "tcpkit-listen",	required_argument,	NULL, 'k' },
		{ "textfile-dir",	required_argument,	NULL, 'd' },
		{ "textfile-max-age",	required_argument,	NULL, 'a' },
		{ "client-timeout",	required_argument,	NULL, 't' },
		{ "max-clients",	required_argument,	NULL, 'c' },
		STATES_DUMP_LONGOPTS,
		{ "once",		no_argument,		NULL, OPT_ONCE },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	memset(o, 0, sizeof(*o));
	o->listen = DEFAULT_LISTEN;
	o->textfile_dir = DEFAULT_TEXTFILE_DIR;
	o->max_age_s = DEFAULT_MAX_AGE_S;
	o->client_timeout_s = DEFAULT_CLIENT_TIMEOUT_S;
	o->max_clients = DEFAULT_MAX_CLIENTS;
	states_dump_opts_default(&o->dump);
	while ((c = getopt_long(argc, argv, "l:k:d:a:t:c:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (!valid_hostport(optarg))
				return tstp_usage_error("exporter", "--listen %s: not ADDR:PORT, [IPV6]:PORT or :PORT", optarg);
			o->listen = optarg;
			break;
		case 'k':
			if (!valid_hostport(optarg))
				return tstp_usage_error("exporter", "--tcpkit-listen %s: not ADDR:PORT, [IPV6]:PORT or :PORT", optarg);
			o->tcpkit_listen = optarg;
			break;
		case 'd':
			o->textfile_dir = optarg;
			break;
		case 'a':
			if (tstp_parse_u64(optarg, 0, 86400 * 365, &o->max_age_s) != 0)
				return tstp_usage_error("exporter", "--textfile-max-age %s: not a number of seconds in [0, 31536000]", optarg);
			break;
		case 't':
			if (tstp_parse_double(optarg, 0.1, 3600, &o->client_timeout_s) != 0)
				return tstp_usage_error("exporter", "--client-timeout %s: not a number of seconds in [0.1, 3600]", optarg);
			break;
		case 'c':
			if (tstp_parse_u64(optarg, 1, MAX_CLIENTS_LIMIT, &o->max_clients) != 0)
				return tstp_usage_error("exporter", "--max-clients %s: not a count in [1, %d]", optarg, MAX_CLIENTS_LIMIT);
			break;
		case OPT_ONCE:
			o->once = 1;
			break;
		case 'h':
			exporter_usage(stdout);
			return -1;
		default:
			ret = states_dump_opt(&o->dump, c, optarg, "exporter");
			if (ret == 1)
				return tstp_usage_error("exporter", "invalid option");
			if (ret)
				return ret;
			break;
		}
	}
	if (optind < argc)
		return tstp_usage_error("exporter", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* ---- listening sockets ---- */

static int listen_on(const char *spec, const char *opt)
{
	char host[128], port[16];
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, err = 0, one = 1;

	/* Checked when the options were parsed. */
	if (split_hostport(spec, host, sizeof(host), port, sizeof(port)) != 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_family = host[0] ? AF_UNSPEC : AF_INET6;
	err = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (err && !host[0]) {
		hints.ai_family = AF_INET;	/* no IPv6 on this host */
		err = getaddrinfo(NULL, port, &hints, &res);
	}
	if (err) {
		fprintf(stderr, "%s: exporter: %s %s: %s\n", TSTP_PROG, opt, spec, gai_strerror(err));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && !host[0]) {
			int zero = 0;	/* ":PORT": IPv4 too, through the IPv6 socket */

			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0 && !host[0] && hints.ai_family == AF_INET6 && err == EAFNOSUPPORT) {
		/* IPv6 disabled at run time: plain IPv4 any-address. */
		char v4[32];

		snprintf(v4, sizeof(v4), "0.0.0.0:%s", port);
		return listen_on(v4, opt);
	}
	if (fd < 0)
		fprintf(stderr, "%s: exporter: %s %s: %s\n", TSTP_PROG, opt, spec, strerror(err));
	return fd;
}

/* ---- metric-name set (textfile collisions) ---- */

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* 1 if name was added, 0 if present, -1 out of memory or full. */
static int name_set_add(struct name_set *ns, const char *name)
{
	size_t i;

	if (ns->nslots == 0 || (ns->n + 1) * 2 > ns->nslots) {
		size_t n = ns->nslots ? ns->nslots * 2 : 256;
		char **t;

		if (ns->n >= NAME_SET_MAX || !(t = calloc(n, sizeof(*t))))
			return -1;
		for (size_t k = 0; k < ns->nslots; k++) {
			if (!ns->slot[k])
				continue;
			for (i = str_hash(ns->slot[k]) & (n - 1); t[i]; i = (i + 1) & (n - 1))
				;
			t[i] = ns->slot[k];
		}
		free(ns->slot);
		ns->slot = t;
		ns->nslots = n;
	}
	for (i = str_hash(name) & (ns->nslots - 1); ns->slot[i]; i = (i + 1) & (ns->nslots - 1))
		if (strcmp(ns->slot[i], name) == 0)
			return 0;
	ns->slot[i] = strdup(name);
	if (!ns->slot[i])
		return -1;
	ns->n++;
	return 1;
}

static int name_set_has(struct name_set *ns, const char *name)
{
	if (!ns->nslots)
		return 0;
	for (size_t i = str_hash(name) & (ns->nslots - 1); ns->slot[i]; i = (i + 1) & (ns->nslots - 1))
		if (strcmp(ns->slot[i], name) == 0)
			return 1;
	return 0;
}

static void name_set_free(struct name_set *ns)
{
	for (size_t i = 0; i < ns->nslots; i++)
		free(ns->slot[i]);
	free(ns->slot);
	memset(ns, 0, sizeof(*ns));
}

/* ---- textfiles ---- */

static int reserved_name(const char *name)
{
	return strncmp(name, "tcpstap_tcp_", 12) == 0 || strncmp(name, "tcpstap_exporter_", 17) == 0;
}

/* Says on stderr what happened to a file, once per change of reason or mtime. */
static void note_file(struct exporter *ex, const char *name, int reason, int64_t mtime, const char *detail)
{
	struct file_note *n = NULL;

	for (size_t i = 0; i < ex->nnotes; i++)
		if (strcmp(ex->notes[i].name, name) == 0)
			n = &ex->notes[i];
	if (n && n->reason == reason && n->mtime == mtime)
		return;
	if (!n && ex->nnotes < TEXTFILES_MAX * 2) {
		struct file_note *t = realloc(ex->notes, (ex->nnotes + 1) * sizeof(*t));

		if (t) {
			ex->notes = t;
			n = &ex->notes[ex->nnotes++];
			snprintf(n->name, sizeof(n->name), "%s", name);
		}
	}
	if (n) {
		n->reason = reason;
		n->mtime = mtime;
	}
	if (reason >= 0)
		fprintf(stderr, "%s: exporter: %s/%s: skipped (%s)%s%s\n", TSTP_PROG,
			ex->o.textfile_dir, name, skip_names[reason], detail ? ": " : "", detail ? detail : "");
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a regular file of at most TEXTFILE_MAX_BYTES; NULL with the reason set. */
static char *read_textfile(int dirfd, const char *name, size_t *len, struct stat *st, int *reason,
			   int *err)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char *buf = NULL;
	size_t off = 0;

	*reason = SKIP_UNREADABLE;
	if (fd < 0 || fstat(fd, st) != 0 || !S_ISREG(st->st_mode))
		goto fail;
	if ((uint64_t)st->st_size > TEXTFILE_MAX_BYTES) {
		*reason = SKIP_TOO_LARGE;
		goto fail;
	}
	buf = malloc((size_t)st->st_size + 2);
	if (!buf)
		goto fail;
	for (;;) {
		ssize_t n;

		if (off > (size_t)st->st_size) {	/* grew while read: next scrape */
			*reason = SKIP_TOO_LARGE;
			goto fail;
		}
		n = read(fd, buf + off, (size_t)st->st_size + 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*len = off;
	return buf;
fail:
	*err = errno;
	free(buf);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/*
 * Checks one file: every line valid, no reserved name, no family already
 * served by an earlier file. Adds its names to seen when it is accepted.
 * Returns -1 (accepted) or a skip reason; detail says where.
 */
static int check_textfile(const char *buf, size_t len, struct name_set *seen, char *detail, size_t dcap)
{
	struct name_set mine = { NULL, 0, 0 };
	struct tstp_prom_sample *s = malloc(sizeof(*s));
	size_t off = 0, line = 0;
	int reason = -1;

	if (!s)
		return SKIP_UNREADABLE;
	if (memchr(buf, '\0', len)) {
		snprintf(detail, dcap, "contains a NUL byte");
		reason = SKIP_INVALID;
	}
	while (reason < 0 && off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - buf - off) : len - off;
		enum tstp_prom_line kind = tstp_prom_parse_line(buf + off, l, s);

		line++;
		off += l + 1;
		if (kind == TSTP_PROM_INVALID) {
			snprintf(detail, dcap, "line %zu is not Prometheus text format", line);
			reason = SKIP_INVALID;
		} else if (kind == TSTP_PROM_SAMPLE || kind == TSTP_PROM_META) {
			if (reserved_name(s->name)) {
				snprintf(detail, dcap, "line %zu: %s is tcpstap exporter's own", line, s->name);
				reason = SKIP_RESERVED;
			} else if (name_set_has(seen, s->name)) {
				snprintf(detail, dcap, "line %zu: %s already served by an earlier file", line, s->name);
				reason = SKIP_DUPLICATE;
			} else if (name_set_add(&mine, s->name) < 0) {
				snprintf(detail, dcap, "too many metric names");
				reason = SKIP_TOO_LARGE;
			}
		}
	}
	if (reason < 0)
		for (size_t i = 0; i < mine.nslots; i++)
			if (mine.slot[i] && name_set_add(seen, mine.slot[i]) < 0)
				reason = SKIP_TOO_LARGE;
	name_set_free(&mine);
	free(s);
	return reason;
}

static void tcpkit_feed(struct tstp_tcpkit *tk, const char *buf, size_t len)
{
	struct tstp_prom_sample *s = malloc(sizeof(*s));
	size_t off = 0;

	if (!s)
		return;
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - buf - off) : len - off;

		if (tstp_prom_parse_line(buf + off, l, s) == TSTP_PROM_SAMPLE)
			tstp_tcpkit_add(tk, s);
		off += l + 1;
	}
	free(s);
}

struct served_file {
	char name[256];
	int64_t mtime;
};

/*
 * Every acceptable *.prom file in name order: its text to out (if not NULL),
 * its samples to tk (if not NULL). With count, skips are counted and noted.
 * served (may be NULL) receives up to TEXTFILES_MAX names and mtimes.
 */
static size_t scan_textfiles(struct exporter *ex, FILE *out, struct tstp_tcpkit *tk, int count,
			     struct served_file *served)
{
	DIR *dir = opendir(ex->o.textfile_dir);
	struct name_set seen = { NULL, 0, 0 };
	char *names[TEXTFILES_MAX];
	size_t nnames = 0, nserved = 0;
	struct dirent *de;
	time_t now = time(NULL);

	if (!dir) {
		char msg[256];

		/* No directory: no module running. Anything else is worth saying once. */
		snprintf(msg, sizeof(msg), "%s", errno == ENOENT ? "" : strerror(errno));
		if (count && strcmp(msg, ex->last_dir_error) != 0 && msg[0])
			fprintf(stderr, "%s: exporter: %s: %s\n", TSTP_PROG, ex->o.textfile_dir, msg);
		snprintf(ex->last_dir_error, sizeof(ex->last_dir_error), "%s", msg);
		return 0;
	}
	ex->last_dir_error[0] = '\0';
	while ((de = readdir(dir))) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".prom") != 0)
			continue;
		if (nnames == TEXTFILES_MAX || l >= sizeof(served[0].name)) {
			int reason = nnames == TEXTFILES_MAX ? SKIP_TOO_MANY : SKIP_INVALID;

			if (count) {
				ex->skipped[reason]++;
				note_file(ex, de->d_name, reason, 0, reason == SKIP_TOO_MANY ?
					  "more than 256 files" : "name longer than 255 bytes");
			}
			continue;
		}
		if (!(names[nnames] = strdup(de->d_name)))
			break;
		nnames++;
	}
	qsort(names, nnames, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < nnames; i++) {
		struct stat st;
		size_t len = 0;
		int reason = -1;
		char detail[300] = "";
		int rerr = 0;
		char *buf = read_textfile(dirfd(dir), names[i], &len, &st, &reason, &rerr);
		int64_t mtime = buf ? (int64_t)st.st_mtime : 0;

		if (buf) {
			reason = -1;
			if (ex->o.max_age_s && now - st.st_mtime > (time_t)ex->o.max_age_s) {
				snprintf(detail, sizeof(detail), "last written %lld s ago, more than %llu s",
					 (long long)(now - st.st_mtime), (unsigned long long)ex->o.max_age_s);
				reason = SKIP_STALE;
			} else {
				reason = check_textfile(buf, len, &seen, detail, sizeof(detail));
			}
		} else {
			snprintf(detail, sizeof(detail), "%s", reason == SKIP_TOO_LARGE ?
				 "larger than 4 MiB" : strerror(rerr));
		}
		if (reason >= 0) {
			if (count) {
				ex->skipped[reason]++;
				note_file(ex, names[i], reason, mtime, detail);
			}
		} else {
			if (count)
				note_file(ex, names[i], -1, mtime, NULL);
			if (out) {
				fwrite(buf, 1, len, out);
				if (len && buf[len - 1] != '\n')
					fputc('\n', out);
			}
			if (tk)
				tcpkit_feed(tk, buf, len);
			if (served) {
				snprintf(served[nserved].name, sizeof(served[nserved].name), "%s", names[i]);
				served[nserved].mtime = mtime;
			}
			nserved++;
		}
		free(buf);
		free(names[i]);
	}
	closedir(dir);
	name_set_free(&seen);
	return nserved;
}

/* ---- responses ---- */

static const struct {
	int code;
	const char *reason;
} statuses[] = {
	{ 200, "OK" }, { 400, "Bad Request" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 431, "Request Header Fields Too Large" },
	{ 503, "Service Unavailable" },
};

/* The body of /metrics in *body (malloc'd). Returns 0, or -1 if out of memory. */
static int build_metrics(struct exporter *ex, char **body, size_t *len)
{
	FILE *m = open_memstream(body, len);
	FILE *files = NULL;
	char *fbody = NULL;
	size_t flen = 0, nserved;
	struct served_file *served = calloc(TEXTFILES_MAX, sizeof(*served));
	struct tstp_dump_info info;
	struct tstp_listen_mib mib;
	char err[256];
	int64_t t0 = now_ms();
	int up;

	if (!m || !served || !(files = open_memstream(&fbody, &flen))) {
		if (m)
			fclose(m);
		free(*body);
		*body = NULL;
		free(served);
		return -1;
	}
	ex->scrapes++;
	up = tstp_sockdiag_dump(&ex->states, ex->o.dump.mode, &info, err, sizeof(err), NULL, NULL) == 0;
	if (up) {
		tstp_read_netstat(&mib);
		tstp_states_sort_listeners(&ex->states);
		tstp_prom_states(m, &ex->states, &mib, ex->o.dump.top);
	} else {
		ex->scrape_errors++;
		fprintf(stderr, "%s: exporter: states: %s\n", TSTP_PROG, err);
	}
	nserved = scan_textfiles(ex, files, NULL, 1, served);
	fclose(files);

	tstp_prom_family(m, "tcpstap_exporter_states_up", "gauge",
			 "1 if this scrape's netlink sock_diag dump succeeded, else 0 (tcpstap_tcp_* are then absent).");
	tstp_prom_u64(m, "tcpstap_exporter_states_up", NULL, (uint64_t)up);
	tstp_prom_family(m, "tcpstap_exporter_scrapes_total", "counter", "Scrapes of /metrics served.");
	tstp_prom_u64(m, "tcpstap_exporter_scrapes_total", NULL, ex->scrapes);
	tstp_prom_family(m, "tcpstap_exporter_states_errors_total", "counter",
			 "Scrapes whose netlink sock_diag dump failed.");
	tstp_prom_u64(m, "tcpstap_exporter_states_errors_total", NULL, ex->scrape_errors);
	tstp_prom_family(m, "tcpstap_exporter_textfile_skipped_total", "counter",
			 "Textfiles left out of scrapes, by reason (each scrape counts each file it skips).");
	for (int r = 0; r < NSKIP; r++) {
		const char *l[] = { "reason", skip_names[r], NULL };

		tstp_prom_u64(m, "tcpstap_exporter_textfile_skipped_total", l, ex->skipped[r]);
	}
	tstp_prom_family(m, "tcpstap_exporter_textfile_mtime_seconds", "gauge",
			 "Last write of each textfile served in this scrape, Unix time.");
	for (size_t i = 0; i < nserved && i < TEXTFILES_MAX; i++) {
		const char *l[] = { "file", served[i].name, NULL };

		tstp_prom_u64(m, "tcpstap_exporter_textfile_mtime_seconds", l, (uint64_t)served[i].mtime);
	}
	tstp_prom_family(m, "tcpstap_exporter_http_responses_total", "counter",
			 "HTTP responses sent, by status code (this scrape's own not yet counted).");
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		char code[8];
		const char *l[] = { "code", code, NULL };

		snprintf(code, sizeof(code), "%d", statuses[i].code);
		tstp_prom_u64(m, "tcpstap_exporter_http_responses_total", l, ex->http_requests[i]);
	}
	tstp_prom_family(m, "tcpstap_exporter_client_timeouts_total", "counter",
			 "HTTP and tcpkit clients dropped at --client-timeout.");
	tstp_prom_u64(m, "tcpstap_exporter_client_timeouts_total", NULL, ex->timeouts);
	tstp_prom_family(m, "tcpstap_exporter_scrape_duration_seconds", "gauge",
			 "Time to take the socket dump and read the textfiles for this scrape.");
	tstp_prom_double(m, "tcpstap_exporter_scrape_duration_seconds", NULL, (double)(now_ms() - t0) / 1000.0);
	if (flen)
		fwrite(fbody, 1, flen, m);
	free(fbody);
	free(served);
	if (fclose(m) != 0) {
		free(*body);
		*body = NULL;
		return -1;
	}
	return 0;
}

static int build_tcpkit(struct exporter *ex, char **body, size_t *len)
{
	FILE *m = open_memstream(body, len);
	struct tstp_tcpkit tk;

	if (!m)
		return -1;
	tstp_tcpkit_init(&tk, TCPKIT_MAX_ENDPOINTS);
	scan_textfiles(ex, NULL, &tk, 0, NULL);
	tstp_tcpkit_finish(&tk);
	tstp_tcpkit_json(m, &tk);
	tstp_tcpkit_free(&tk);
	if (fclose(m) != 0) {
		free(*body);
		*body = NULL;
		return -1;
	}
	return 0;
}


/* Status line, headers and (unless HEAD) body into c->out. Takes body. */
static int set_response(struct exporter *ex, struct conn *c, int code, const char *ctype,
			char *body, size_t blen, int head)
{
	FILE *m = open_memstream(&c->out, &c->outlen);
	const char *reason = "Error";

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].code == code) {
			reason = statuses[i].reason;
			ex->http_requests[i]++;
		}
	if (!m) {
		free(body);
		return -1;
	}
	fprintf(m, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n",
		code, reason, ctype, blen);
	if (code == 405)
		fputs("Allow: GET, HEAD\r\n", m);
	fputs("\r\n", m);
	if (!head && blen)
		fwrite(body, 1, blen, m);
	free(body);
	if (fclose(m) != 0) {
		free(c->out);
		c->out = NULL;
		return -1;
	}
	c->outoff = 0;
	c->writing = 1;
	return 0;
}

static int simple_response(struct exporter *ex, struct conn *c, int code, const char *text, int head)
{
	char *body = strdup(text);

	return set_response(ex, c, code, "text/plain; charset=utf-8", body, body ? strlen(body) : 0, head);
}

/* The request is complete in c->in (headers end at hdr_end): answer it. */
static int handle_request(struct exporter *ex, struct conn *c)
{
	char method[16], target[256], version[16];
	int head;

	c->in[c->inlen] = '\0';
	if (sscanf(c->in, "%15s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0)
		return simple_response(ex, c, 400, "bad request\n", 0);
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0)
		return simple_response(ex, c, 405, "only GET and HEAD\n", 0);
	if (strcmp(target, "/metrics") == 0 || strncmp(target, "/metrics?", 9) == 0) {
		char *body = NULL;
		size_t len = 0;

		if (build_metrics(ex, &body, &len) != 0)
			return simple_response(ex, c, 503, "out of memory\n", head);
		return set_response(ex, c, 200, TSTP_PROM_CONTENT_TYPE, body, len, head);
	}
	if (strcmp(target, "/") == 0)
		return simple_response(ex, c, 200, "tcpstap exporter: metrics at /metrics\n", head);
	return simple_response(ex, c, 404, "not found: try /metrics\n", head);
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->outlen = c->outoff = c->inlen = 0;
	c->writing = 0;
}

static void conn_accept(struct exporter *ex, int lfd, enum conn_kind kind)
{
	struct conn *c = NULL;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (size_t i = 0; i < ex->o.max_clients; i++)
		if (ex->conns[i].fd < 0) {
			c = &ex->conns[i];
			break;
		}
	if (!c) {	/* cannot happen: listeners are not polled when full */
		ex->refused++;
		close(fd);
		return;
	}
	c->fd = fd;
	c->kind = kind;
	c->deadline_ms = now_ms() + (int64_t)(ex->o.client_timeout_s * 1000);
	if (kind == CONN_TCPKIT) {
		char *body = NULL;
		size_t len = 0;

		/* tcpkit writes its JSON on connect, then closes: no request. */
		if (build_tcpkit(ex, &body, &len) != 0) {
			conn_close(c);
			return;
		}
		c->out = body;
		c->outlen = len;
		c->outoff = 0;
		c->writing = 1;
	}
}

static int request_complete(const struct conn *c)
{
	for (size_t i = 0; i + 1 < c->inlen; i++) {
		if (c->in[i] == '\n' && c->in[i + 1] == '\n')
			return 1;
		if (i + 3 < c->inlen && memcmp(c->in + i, "\r\n\r\n", 4) == 0)
			return 1;
	}
	return 0;
}

static void conn_read(struct exporter *ex, struct conn *c)
{
	ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->inlen += (size_t)n;
	if (request_complete(c)) {
		if (handle_request(ex, c) != 0)
			conn_close(c);
	} else if (c->inlen >= sizeof(c->in) - 1) {
		if (simple_response(ex, c, 431, "request headers larger than 8 KiB\n", 0) != 0)
			conn_close(c);
	}
}

static void conn_write(struct conn *c)
{
	ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->outoff += (size_t)n;
	if (c->outoff == c->outlen) {
		shutdown(c->fd, SHUT_WR);
		conn_close(c);
	}
}

static int serve(struct exporter *ex)
{
	size_t nfds = ex->o.max_clients + 2;
	struct pollfd *pfd = calloc(nfds, sizeof(*pfd));

	if (!pfd) {
		fprintf(stderr, "%s: exporter: %s\n", TSTP_PROG, strerror(ENOMEM));
		return TSTP_EXIT_ERROR;
	}
	while (!stop_signal) {
		size_t n = 0, active = 0;
		int64_t now = now_ms(), wait = -1;
		int r;

		for (size_t i = 0; i < ex->o.max_clients; i++) {
			struct conn *c = &ex->conns[i];

			if (c->fd < 0)
				continue;
			if (now >= c->deadline_ms) {
				ex->timeouts++;
				conn_close(c);
				continue;
			}
			active++;
			if (wait < 0 || c->deadline_ms - now < wait)
				wait = c->deadline_ms - now;
		}
		/* Listeners are polled only while a slot is free: the kernel queues the rest. */
		if (active < ex->o.max_clients) {
			pfd[n++] = (struct pollfd){ .fd = ex->http_fd, .events = POLLIN };
			if (ex->tcpkit_fd >= 0)
				pfd[n++] = (struct pollfd){ .fd = ex->tcpkit_fd, .events = POLLIN };
		}
		for (size_t i = 0; i < ex->o.max_clients; i++) {
			struct conn *c = &ex->conns[i];

			if (c->fd >= 0)
				pfd[n++] = (struct pollfd){ .fd = c->fd, .events = c->writing ? POLLOUT : POLLIN };
		}
		r = poll(pfd, n, wait > INT32_MAX ? INT32_MAX : (int)wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "%s: exporter: poll: %s\n", TSTP_PROG, strerror(errno));
			free(pfd);
			return TSTP_EXIT_ERROR;
		}
		for (size_t k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			if (pfd[k].fd == ex->http_fd) {
				conn_accept(ex, ex->http_fd, CONN_HTTP);
				continue;
			}
			if (pfd[k].fd == ex->tcpkit_fd) {
				conn_accept(ex, ex->tcpkit_fd, CONN_TCPKIT);
				continue;
			}
			for (size_t i = 0; i < ex->o.max_clients; i++) {
				struct conn *c = &ex->conns[i];

				if (c->fd != pfd[k].fd)
					continue;
				if (c->writing)
					conn_write(c);
				else
					conn_read(ex, c);
				break;
			}
		}
	}
	free(pfd);
	fprintf(stderr, "%s: exporter: stopped by signal %d after %llu scrapes\n", TSTP_PROG,
		(int)stop_signal, (unsigned long long)ex->scrapes);
	return TSTP_EXIT_OK;
}

int cmd_exporter(int argc, char **argv)
{
	static struct exporter ex;
	struct sigaction sa;
	int ret;

	ret = parse_exporter_opts(argc, argv, &ex.o);
	if (ret)
		return ret < 0 ? TSTP_EXIT_OK : ret;
	ex.http_fd = ex.tcpkit_fd = -1;
	if (tstp_states_init(&ex.states, ex.o.dump.max_listeners, ex.o.dump.max_remotes) != 0) {
		fprintf(stderr, "%s: exporter: %s\n", TSTP_PROG, strerror(ENOMEM));
		return TSTP_EXIT_ERROR;
	}
	if (ex.o.once) {
		char *body = NULL;
		size_t len = 0;

		if (build_metrics(&ex, &body, &len) != 0) {
			fprintf(stderr, "%s: exporter: %s\n", TSTP_PROG, strerror(ENOMEM));
			ret = TSTP_EXIT_ERROR;
			goto out;
		}
		tstp_output_begin();
		fwrite(body, 1, len, stdout);
		free(body);
		ret = tstp_output_end();
		if (ret == TSTP_EXIT_OK && ex.scrape_errors)
			ret = TSTP_EXIT_ERROR;
		goto out;
	}
	ex.conns = calloc(ex.o.max_clients, sizeof(*ex.conns));
	if (!ex.conns) {
		fprintf(stderr, "%s: exporter: %s\n", TSTP_PROG, strerror(ENOMEM));
		ret = TSTP_EXIT_ERROR;
		goto out;
	}
	for (size_t i = 0; i < ex.o.max_clients; i++)
		ex.conns[i].fd = -1;
	ex.http_fd = listen_on(ex.o.listen, "--listen");
	if (ex.http_fd < 0) {
		ret = TSTP_EXIT_ERROR;
		goto out;
	}
	if (ex.o.tcpkit_listen) {
		ex.tcpkit_fd = listen_on(ex.o.tcpkit_listen, "--tcpkit-listen");
		if (ex.tcpkit_fd < 0) {
			ret = TSTP_EXIT_ERROR;
			goto out;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "%s: exporter: serving /metrics on %s%s%s, textfiles from %s\n", TSTP_PROG,
		ex.o.listen, ex.o.tcpkit_listen ? ", tcpkit JSON on " : "",
		ex.o.tcpkit_listen ? ex.o.tcpkit_listen : "", ex.o.textfile_dir);
	ret = serve(&ex);
out:
	if (ex.conns)
		for (size_t i = 0; i < ex.o.max_clients; i++)
			conn_close(&ex.conns[i]);
	free(ex.conns);
	if (ex.http_fd >= 0)
		close(ex.http_fd);
	if (ex.tcpkit_fd >= 0)
		close(ex.tcpkit_fd);
	free(ex.notes);
	tstp_states_free(&ex.states);
	return ret;
}
