// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpstap states: TCP sockets per state (all 11, IPv4 and IPv6), receive and
 * send queue bytes, accept queues of listening sockets and the remote
 * addresses with the most sockets, from one netlink sock_diag dump (not
 * /proc/net/tcp). Text, JSON or Prometheus text exposition.
 *
 * REQUIREMENTS: none (sock_diag dumps work unprivileged). Counts the network
 * namespace it runs in (use ip netns exec / nsenter for another one).
 * OVERHEAD: one dump, about 90 bytes of netlink reply per socket; tens of ms
 * for 20,000 sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tcpstap/cli.h"
#include "tcpstap/format.h"
#include "tcpstap/prom.h"
#include "tcpstap/sockdiag.h"
#include "states.h"

/* A recorded dump bigger than this is not one (1M sockets take ~90 MB). */
#define REPLAY_MAX_BYTES (256u << 20)

enum states_format { FMT_TEXT, FMT_JSON, FMT_PROM };

struct states_opts {
	enum states_format format;
	struct states_dump_opts dump;
	const char *record;	/* write the dump's datagrams here */
	const char *replay;	/* read a recorded dump instead of the kernel */
	int verbose;
};

void states_dump_opts_default(struct states_dump_opts *o)
{
	o->top = STATES_DEFAULT_TOP;
	o->max_remotes = STATES_DEFAULT_MAX_REMOTES;
	o->max_listeners = STATES_DEFAULT_MAX_LISTENERS;
	o->mode = TSTP_DIAG_AUTO;
}

int states_dump_opt(struct states_dump_opts *o, int c, const char *arg, const char *cmd)
{
	switch (c) {
	case STATES_OPT_TOP:
		if (tstp_parse_u64(arg, 0, STATES_MAX_TOP, &o->top) != 0)
			return tstp_usage_error(cmd, "--top %s: not a count in [0, %d]", arg, STATES_MAX_TOP);
		return 0;
	case STATES_OPT_MAX_REMOTES:
		if (tstp_parse_u64(arg, 0, STATES_MAX_MAX_REMOTES, &o->max_remotes) != 0)
			return tstp_usage_error(cmd, "--max-remotes %s: not a count in [0, %u]", arg,
						STATES_MAX_MAX_REMOTES);
		return 0;
	case STATES_OPT_MAX_LISTENERS:
		if (tstp_parse_u64(arg, 0, STATES_MAX_MAX_LISTENERS, &o->max_listeners) != 0)
			return tstp_usage_error(cmd, "--max-listeners %s: not a count in [0, %u]", arg,
						STATES_MAX_MAX_LISTENERS);
		return 0;
	case STATES_OPT_NETLINK:
		if (strcmp(arg, "auto") == 0)
			o->mode = TSTP_DIAG_AUTO;
		else if (strcmp(arg, "v2") == 0)
			o->mode = TSTP_DIAG_ONLY_V2;
		else if (strcmp(arg, "legacy") == 0)
			o->mode = TSTP_DIAG_ONLY_LEGACY;
		else
			return tstp_usage_error(cmd, "--netlink %s: not one of auto, v2, legacy", arg);
		return 0;
	default:
		return 1;
	}
}

static void states_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s states [OPTIONS]\n\n"
		"Count the TCP sockets of this network namespace per state (IPv4 and IPv6),\n"
		"with receive/send queue bytes, the accept queue of every listening socket and\n"
		"the remote addresses with the most sockets, from one netlink sock_diag dump\n"
		"(not /proc/net/tcp). No root needed.\n\n"
		"Options:\n"
		"  -j, --json              one JSON document\n"
		"  -p, --prometheus        Prometheus text exposition format\n"
		STATES_DUMP_HELP
		"      --record FILE       also save the kernel's replies to FILE (for --replay)\n"
		"      --replay FILE       count a recorded dump instead of asking the kernel\n"
		"  -v, --verbose           on stderr: request used, sockets, bytes, dump time\n"
		"  -h, --help              this help\n\n"
		"Exit status: 0 counted, 1 the dump failed, 2 usage error.\n\n"
		"EXAMPLES:\n"
		"  %s states                          # per-state counts, listeners, top 10 remotes\n"
		"  %s states --json | jq .states.close_wait\n"
		"  %s states --prometheus > /var/lib/node_exporter/tcpstap.prom\n"
		"  ip netns exec blue %s states -n 20  # another namespace, top 20 remotes\n",
		TSTP_PROG, TSTP_PROG, TSTP_PROG, TSTP_PROG, TSTP_PROG);
}

static int parse_states_opts(int argc, char **argv, struct states_opts *o)
{
	enum { OPT_RECORD = 256, OPT_REPLAY };
	static const struct option longopts[] = {
		{ "json",	no_argument,		NULL, 'j' },
		{ "prometheus",	no_argument,		NULL, 'p' },
		STATES_DUMP_LONGOPTS,
		{ "record",	required_argument,	NULL, OPT_RECORD },
		{ "replay",	required_argument,	NULL, OPT_REPLAY },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	memset(o, 0, sizeof(*o));
	states_dump_opts_default(&o->dump);
	while ((c = getopt_long(argc, argv, "jpn:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->format = FMT_JSON;
			break;
		case 'p':
			o->format = FMT_PROM;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case OPT_RECORD:
			o->record = optarg;
			break;
		case OPT_REPLAY:
			o->replay = optarg;
			break;
		case 'h':
			states_usage(stdout);
			return -1;
		default:
			ret = states_dump_opt(&o->dump, c, optarg, "states");
			if (ret == 1)
				return tstp_usage_error("states", "invalid option");
			if (ret)
				return ret;
			break;
		}
	}
	if (optind < argc)
		return tstp_usage_error("states", "unexpected argument '%s'", argv[optind]);
	if (o->record && o->replay)
		return tstp_usage_error("states", "--record and --replay exclude each other");
	return 0;
}

/* The recording in memory until the dump succeeded: a fallback discards it. */
struct recording {
	FILE *mem;
	char *data;
	size_t len;
};

static int record_cb(void *ctx, const void *buf, size_t len)
{
	struct recording *r = ctx;

	if (!buf) {
		rewind(r->mem);
		return 0;
	}
	return fwrite(buf, 1, len, r->mem) == len ? 0 : -1;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wbe");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf = NULL;
	size_t off = 0;

	if (fd < 0 || fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > REPLAY_MAX_BYTES) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto fail;
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			goto fail;
		}
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	return buf;
fail:
	fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, path, strerror(errno));
	free(buf);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static const char *const fam_key[TSTP_NFAM] = { "ipv4", "ipv6" };

static void put_addr(char *out, size_t cap, uint8_t family, const uint8_t *addr, int port)
{
	struct tstp_buf b;

	tstp_buf_init(&b, out, cap);
	tstp_buf_addr(&b, family, addr, port);
}

static void print_text(FILE *f, const struct tstp_states *s, const struct tstp_dump_info *info,
		       const struct tstp_listen_mib *mib, const struct tstp_remote *top, size_t ntop,
		       const struct states_opts *o)
{
	char addr[TSTP_ADDR_MAX];

	fprintf(f, "TCP sockets: %llu (IPv4 %llu, IPv6 %llu), netlink %s%s\n\n",
		(unsigned long long)tstp_states_sockets(s), (unsigned long long)s->total[0],
		(unsigned long long)s->total[1], o->replay ? "replay of " : "",
		o->replay ? o->replay : tstp_diag_req_name(info->req));
	fprintf(f, "%-12s %10s %10s %10s\n", "state", "total", "ipv4", "ipv6");
	for (unsigned st = 1; st <= TSTP_TCP_CLOSING; st++)
		fprintf(f, "%-12s %10llu %10llu %10llu\n", tstp_tcp_state_ss_name(st),
			(unsigned long long)tstp_states_state(s, st),
			(unsigned long long)s->count[0][st], (unsigned long long)s->count[1][st]);
	if (s->unknown_state)
		fprintf(f, "%-12s %10llu\n", "unknown", (unsigned long long)s->unknown_state);
	fprintf(f, "\nqueues of non-listening sockets: rx %llu bytes, tx %llu bytes\n",
		(unsigned long long)(s->rx_queue[0] + s->rx_queue[1]),
		(unsigned long long)(s->tx_queue[0] + s->tx_queue[1]));
	if (mib->valid)
		fprintf(f, "listen overflows %llu, listen drops %llu (TcpExt counters since boot)\n",
			(unsigned long long)mib->overflows, (unsigned long long)mib->drops);
	fprintf(f, "\n%-32s %8s %8s\n", "listening", "queue", "backlog");
	for (size_t i = 0; i < s->nlisteners; i++) {
		const struct tstp_listener *l = &s->listeners[i];

		put_addr(addr, sizeof(addr), l->family, l->addr, l->port);
		fprintf(f, "%-32s %8llu %8llu", addr, (unsigned long long)l->queue,
			(unsigned long long)l->backlog);
		if (l->sockets > 1)
			fprintf(f, "  (%u sockets)", l->sockets);
		if (l->full)
			fprintf(f, "  FULL");
		fputc('\n', f);
	}
	if (s->listeners_dropped)
		fprintf(f, "%llu more listening sockets not listed (--max-listeners)\n",
			(unsigned long long)s->listeners_dropped);
	if (o->dump.top) {
		fprintf(f, "\ntop %zu remote addresses (of %zu):\n%10s  %s\n", ntop, s->nremotes,
			"sockets", "address");
		for (size_t i = 0; i < ntop; i++) {
			put_addr(addr, sizeof(addr), top[i].family, top[i].addr, -1);
			fprintf(f, "%10llu  %s\n", (unsigned long long)top[i].sockets, addr);
		}
	}
	if (s->remotes_dropped)
		fprintf(f, "%llu sockets of further remote addresses not counted per address (--max-remotes)\n",
			(unsigned long long)s->remotes_dropped);
}

static void json_addr(struct tstp_buf *b, const char *key, uint8_t family, const uint8_t *addr)
{
	char text[TSTP_ADDR_MAX];

	put_addr(text, sizeof(text), family, addr, -1);
	tstp_buf_printf(b, "\"%s\":", key);
	tstp_buf_json_string(b, text, strlen(text));
}

static void print_json(FILE *f, const struct tstp_states *s, const struct tstp_dump_info *info,
		       const struct tstp_listen_mib *mib, const struct tstp_remote *top, size_t ntop,
		       const struct states_opts *o)
{
	char text[TSTP_LINE_MAX];
	struct tstp_buf b;

	tstp_buf_init(&b, text, sizeof(text));
	tstp_buf_printf(&b, "{\"request\":\"%s\",\"sockets\":%llu,\"ipv4\":%llu,\"ipv6\":%llu,\"states\":{",
			o->replay ? "replay" : tstp_diag_req_name(info->req),
			(unsigned long long)tstp_states_sockets(s), (unsigned long long)s->total[0],
			(unsigned long long)s->total[1]);
	for (unsigned st = 1; st <= TSTP_TCP_CLOSING; st++)
		tstp_buf_printf(&b, "%s\"%s\":%llu", st > 1 ? "," : "", tstp_tcp_state_name(st),
				(unsigned long long)tstp_states_state(s, st));
	tstp_buf_str(&b, "}");
	for (unsigned fam = 0; fam < TSTP_NFAM; fam++) {
		tstp_buf_printf(&b, ",\"states_%s\":{", fam_key[fam]);
		for (unsigned st = 1; st <= TSTP_TCP_CLOSING; st++)
			tstp_buf_printf(&b, "%s\"%s\":%llu", st > 1 ? "," : "", tstp_tcp_state_name(st),
					(unsigned long long)s->count[fam][st]);
		tstp_buf_str(&b, "}");
	}
	tstp_buf_printf(&b, ",\"unknown_state\":%llu,\"rx_queue_bytes\":%llu,\"tx_queue_bytes\":%llu",
			(unsigned long long)s->unknown_state,
			(unsigned long long)(s->rx_queue[0] + s->rx_queue[1]),
			(unsigned long long)(s->tx_queue[0] + s->tx_queue[1]));
	if (mib->valid)
		tstp_buf_printf(&b, ",\"listen_overflows\":%llu,\"listen_drops\":%llu",
				(unsigned long long)mib->overflows, (unsigned long long)mib->drops);
	else
		tstp_buf_str(&b, ",\"listen_overflows\":null,\"listen_drops\":null");
	tstp_buf_str(&b, ",\"listeners\":[");
	fputs(text, f);
	for (size_t i = 0; i < s->nlisteners; i++) {
		const struct tstp_listener *l = &s->listeners[i];

		tstp_buf_init(&b, text, sizeof(text));
		tstp_buf_printf(&b, "%s{\"family\":\"%s\",", i ? "," : "",
				fam_key[l->family == 10 ? TSTP_FAM_IPV6 : TSTP_FAM_IPV4]);
		json_addr(&b, "addr", l->family, l->addr);
		tstp_buf_printf(&b, ",\"port\":%u,\"sockets\":%u,\"queue\":%llu,\"backlog\":%llu,\"full\":%u}",
				l->port, l->sockets, (unsigned long long)l->queue,
				(unsigned long long)l->backlog, l->full);
		fputs(text, f);
	}
	fprintf(f, "],\"listeners_not_listed\":%llu,\"remote_addresses\":%zu,"
		"\"remote_sockets_not_tracked\":%llu,\"top_remotes\":[",
		(unsigned long long)s->listeners_dropped, s->nremotes,
		(unsigned long long)s->remotes_dropped);
	for (size_t i = 0; i < ntop; i++) {
		tstp_buf_init(&b, text, sizeof(text));
		tstp_buf_str(&b, i ? ",{" : "{");
		json_addr(&b, "addr", top[i].family, top[i].addr);
		tstp_buf_printf(&b, ",\"sockets\":%llu}", (unsigned long long)top[i].sockets);
		fputs(text, f);
	}
	fputs("]}\n", f);
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

int cmd_states(int argc, char **argv)
{
	struct states_opts o;
	struct tstp_states s;
	struct tstp_dump_info info;
	struct tstp_listen_mib mib;
	struct recording rec = { NULL, NULL, 0 };
	struct tstp_remote *top = NULL;
	uint8_t *replay = NULL;
	size_t ntop = 0, replay_len = 0;
	struct timespec start, t0 = { 0, 0 }, t1 = { 0, 0 }, t2;
	char err[256];
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &start);
	ret = parse_states_opts(argc, argv, &o);
	if (ret)
		return ret < 0 ? TSTP_EXIT_OK : ret;
	memset(&mib, 0, sizeof(mib));
	if (tstp_states_init(&s, o.dump.max_listeners, o.dump.max_remotes) != 0) {
		fprintf(stderr, "%s: %s\n", TSTP_PROG, strerror(ENOMEM));
		return TSTP_EXIT_ERROR;
	}
	if (o.replay) {
		replay = read_file(o.replay, &replay_len);
		if (!replay) {
			ret = TSTP_EXIT_USAGE;
			goto out;
		}
		if (tstp_sockdiag_replay(&s, replay, replay_len, &info, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, o.replay, err);
			ret = TSTP_EXIT_ERROR;
			goto out;
		}
	} else {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (o.record && !(rec.mem = open_memstream(&rec.data, &rec.len))) {
			fprintf(stderr, "%s: %s\n", TSTP_PROG, strerror(errno));
			ret = TSTP_EXIT_ERROR;
			goto out;
		}
		ret = tstp_sockdiag_dump(&s, o.dump.mode, &info, err, sizeof(err),
					 o.record ? record_cb : NULL, &rec);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (ret) {
			fprintf(stderr, "%s: states: %s\n", TSTP_PROG, err);
			ret = TSTP_EXIT_ERROR;
			goto out;
		}
		if (o.record) {
			long len = ftell(rec.mem);

			if (len < 0 || fflush(rec.mem) != 0 ||
			    write_file(o.record, rec.data, (size_t)len) != 0) {
				ret = TSTP_EXIT_ERROR;
				goto out;
			}
		}
		tstp_read_netstat(&mib);
	}
	if (info.malformed || info.interrupted)
		fprintf(stderr, "%s: states: %llu malformed netlink messages skipped, %llu dump parts marked inconsistent by the kernel\n",
			TSTP_PROG, (unsigned long long)info.malformed, (unsigned long long)info.interrupted);
	tstp_states_sort_listeners(&s);
	if (o.dump.top) {
		top = calloc(o.dump.top, sizeof(*top));
		if (!top) {
			fprintf(stderr, "%s: %s\n", TSTP_PROG, strerror(ENOMEM));
			ret = TSTP_EXIT_ERROR;
			goto out;
		}
		ntop = tstp_states_top_remotes(&s, top, o.dump.top);
	}
	tstp_output_begin();
	if (o.format == FMT_PROM)
		tstp_prom_states(stdout, &s, &mib, o.dump.top);
	else if (o.format == FMT_JSON)
		print_json(stdout, &s, &info, &mib, top, ntop, &o);
	else
		print_text(stdout, &s, &info, &mib, top, ntop, &o);
	ret = tstp_output_end();
	if (o.verbose) {
		fprintf(stderr, "%s: states: request %s", TSTP_PROG,
			o.replay ? "replay" : tstp_diag_req_name(info.req));
		if (info.fallback_err)
			fprintf(stderr, " (SOCK_DIAG_BY_FAMILY refused: %s)", strerror(info.fallback_err));
		clock_gettime(CLOCK_MONOTONIC, &t2);
		fprintf(stderr, ", %llu sockets in %llu datagrams, %llu bytes; dump %.1f ms, total %.1f ms\n",
			(unsigned long long)info.messages, (unsigned long long)info.datagrams,
			(unsigned long long)info.bytes, ms_between(&t0, &t1), ms_between(&start, &t2));
	}
out:
	if (rec.mem)
		fclose(rec.mem);
	free(rec.data);
	free(replay);
	free(top);
	tstp_states_free(&s);
	return ret;
}
