// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpstap watch: evaluate the connection-health alert rules (lib/rules.c)
 * over the records of the connect, retrans and states modules, live (a pipe
 * from tcpstap-load -w -) or from captures; one line per alert.
 *
 * Several inputs (one per module) are read together with poll(), each with
 * its own decoder, so that a live stream never waits behind another.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcpstap/cli.h"
#include "tcpstap/format.h"
#include "tcpstap/health.h"
#include "tcpstap/rules.h"

#define MAX_INPUTS 8
#define CHUNK (1u << 16)
#define CONFIG_MAX (64u << 10)
#define OPT_SETTING 1000	/* getopt value of setting i: OPT_SETTING + i */

struct watch_opts {
	int json;
	int utc;
	int quiet;
	const char *config;
	struct tstp_rules_config rules;
	int npaths;
	char **paths;
};

struct input {
	const char *path;
	int fd;
	int eof;
	struct tstp_decoder dec;
};

struct watch {
	struct watch_opts o;
	struct tstp_format_opts fmt;
	struct tstp_rules *rules;
	struct input in[MAX_INPUTS];
	int nin;
	int output_failed;
	char line[TSTP_LINE_MAX];
};

static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void watch_usage(FILE *f)
{
	const struct tstp_rules_config *d;
	struct tstp_rules_config def;

	tstp_rules_config_defaults(&def);
	d = &def;
	fprintf(f,
		"Usage: %s watch [OPTIONS] [FILE|-]...\n\n"
		"Evaluate connection-health rules over the records of the connect, retrans and\n"
		"states modules (one FILE each, read together; default: stdin) and print one\n"
		"line per alert: the rule, the evidence and a hint of the likely cause.\n\n"
		"Options:\n"
		"  -j, --json                 alerts as JSON objects, one per line\n"
		"  -c, --config FILE          settings from FILE ('setting = value' lines, '#'\n"
		"                             comments); options given here override it\n"
		"  -u, --utc                  text times in UTC (JSON is always UTC)\n"
		"  -q, --quiet                no end-of-run summary on stderr\n"
		"  -h, --help                 this help\n\n"
		"Rules and their settings (0 turns a rule off):\n"
		"  --conn-rate N              new connections a second from one address (%llu)\n"
		"  --retrans-rate N           retransmitted segments a second, one connection (%llu)\n"
		"  --host-retrans-rate N      retransmitted segments a second, whole host (%llu)\n"
		"  --close-wait S             seconds in CLOSE_WAIT (%llu)\n"
		"  --syn-sent S               seconds in SYN_SENT (%llu)\n"
		"  --syn-recv S               seconds in SYN_RECV (%llu)\n"
		"  --max-conns N              connections open (%llu)\n"
		"  --max-conns-per-addr N     connections open from one address (%llu)\n"
		"  --slowloris-count N        idle connections from one address (%llu) that are\n"
		"  --slowloris-age S            at least S seconds old (%llu) and carried\n"
		"  --slowloris-bytes B          at most B bytes each (%llu; needs snapshots)\n"
		"  --listen-overflows N       connections a listener dropped, full accept queue (%llu)\n"
		"  --repeat S                 alert an ongoing condition again after S seconds (%llu)\n"
		"  --table-max N              connections tracked at most (%llu)\n\n"
		"A summary (alerts per rule, what each input decoded, lost or skipped) goes to\n"
		"stderr at the end. Exit status: 0 clean input, 3 data lost or damaged, 2 usage\n"
		"or input error, 1 other.\n\n"
		"EXAMPLES:\n"
		"  tcpstap-load -w - states snapshot_s=30 | %s watch          # live, one module\n"
		"  %s watch connect.tstp retrans.tstp states.tstp            # captures of three modules\n"
		"  %s watch --json --close-wait 300 states.tstp               # JSON, 5-minute CLOSE_WAIT\n"
		"  %s watch -c /etc/tcpstap/watch.conf --conn-rate 50 -       # config file plus an override\n",
		TSTP_PROG,
		(unsigned long long)d->conn_rate, (unsigned long long)d->retrans_rate,
		(unsigned long long)d->host_retrans_rate, (unsigned long long)d->close_wait_s,
		(unsigned long long)d->syn_sent_s, (unsigned long long)d->syn_recv_s,
		(unsigned long long)d->max_conns, (unsigned long long)d->max_conns_per_addr,
		(unsigned long long)d->slowloris_count, (unsigned long long)d->slowloris_age_s,
		(unsigned long long)d->slowloris_bytes, (unsigned long long)d->listen_overflows,
		(unsigned long long)d->repeat_s, (unsigned long long)d->table_max,
		TSTP_PROG, TSTP_PROG, TSTP_PROG, TSTP_PROG);
}

static int load_config(struct watch_opts *o)
{
	static char text[CONFIG_MAX];
	char err[TSTP_LINE_MAX];
	ssize_t n;
	size_t len = 0;
	int fd = open(o->config, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, o->config, strerror(errno));
		return TSTP_EXIT_USAGE;
	}
	while (len < sizeof(text) && (n = read(fd, text + len, sizeof(text) - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, o->config, strerror(errno));
			close(fd);
			return TSTP_EXIT_USAGE;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len == sizeof(text)) {
		fprintf(stderr, "%s: %s: larger than %u bytes\n", TSTP_PROG, o->config, CONFIG_MAX);
		return TSTP_EXIT_USAGE;
	}
	if (tstp_rules_config_parse(&o->rules, text, len, o->config, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", TSTP_PROG, err);
		return TSTP_EXIT_USAGE;
	}
	return 0;
}

static int parse_watch_opts(int argc, char **argv, struct watch_opts *o)
{
	static struct option longopts[32];
	const char *shortopts = "jc:uqh";
	size_t n = 0;
	int c;

	if (!longopts[0].name) {
		static const struct option fixed[] = {
			{ "json", no_argument, NULL, 'j' },
			{ "config", required_argument, NULL, 'c' },
			{ "utc", no_argument, NULL, 'u' },
			{ "quiet", no_argument, NULL, 'q' },
			{ "help", no_argument, NULL, 'h' },
		};

		for (; n < sizeof(fixed) / sizeof(fixed[0]); n++)
			longopts[n] = fixed[n];
		for (size_t i = 0; tstp_rules_setting_names[i]; i++, n++)
			longopts[n] = (struct option){ tstp_rules_setting_names[i], required_argument,
						       NULL, OPT_SETTING + (int)i };
	}
	memset(o, 0, sizeof(*o));
	tstp_rules_config_defaults(&o->rules);
	/* First pass: the config file only, so that options override it. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		if (c == 'c')
			o->config = optarg;
	if (o->config && (c = load_config(o)) != 0)
		return c;
	opterr = 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		char err[TSTP_LINE_MAX];

		switch (c) {
		case 'j':
			o->json = 1;
			break;
		case 'c':
			break;
		case 'u':
			o->utc = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'h':
			watch_usage(stdout);
			return -1;
		default:
			if (c >= OPT_SETTING) {
				const char *name = tstp_rules_setting_names[c - OPT_SETTING];

				if (tstp_rules_config_set(&o->rules, name, optarg, err, sizeof(err)) != 0)
					return tstp_usage_error("watch", "--%s", err);
				break;
			}
			return tstp_usage_error("watch", "invalid option");
		}
	}
	o->npaths = argc - optind;
	o->paths = argv + optind;
	if (o->npaths > MAX_INPUTS)
		return tstp_usage_error("watch", "at most %d inputs, got %d", MAX_INPUTS, o->npaths);
	return 0;
}

static void on_alert(const struct tstp_alert *a, const struct tstp_clock *clock, void *ctx)
{
	struct watch *wt = ctx;
	struct tstp_buf b;

	if (wt->output_failed)
		return;
	tstp_buf_init(&b, wt->line, sizeof(wt->line));
	if (wt->o.json)
		tstp_format_alert_json(&b, &wt->fmt, clock, a);
	else
		tstp_format_alert_text(&b, &wt->fmt, clock, a);
	if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
		perror(TSTP_PROG ": <stdout>");
		wt->output_failed = 1;
	}
}

static int watch_on_record(struct tstp_decoder *dec, const union tstp_record *rec)
{
	struct watch *wt = dec->ctx;

	tstp_rules_record(wt->rules, rec, &dec->clock);
	return wt->output_failed;
}

static int open_inputs(struct watch *wt)
{
	static char *stdin_path[] = { "-" };
	char **paths = wt->o.npaths ? wt->o.paths : stdin_path;
	int n = wt->o.npaths ? wt->o.npaths : 1;

	for (int i = 0; i < n; i++) {
		struct input *in = &wt->in[i];
		int use_stdin = strcmp(paths[i], "-") == 0;

		in->path = paths[i];
		in->fd = use_stdin ? STDIN_FILENO : open(paths[i], O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, paths[i], strerror(errno));
			return TSTP_EXIT_USAGE;
		}
		tstp_decoder_init(&in->dec, watch_on_record, wt);
		wt->nin++;
	}
	return 0;
}

/* Reads every input to its end, whichever has data first. */
static int pump(struct watch *wt)
{
	static uint8_t chunk[CHUNK];
	struct pollfd pfd[MAX_INPUTS];
	int open_inputs = wt->nin;

	while (open_inputs > 0 && !watch_stop && !wt->output_failed) {
		int n = 0, map[MAX_INPUTS];

		for (int i = 0; i < wt->nin; i++) {
			if (wt->in[i].eof)
				continue;
			pfd[n].fd = wt->in[i].fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			map[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror(TSTP_PROG ": poll");
			return TSTP_EXIT_ERROR;
		}
		for (int k = 0; k < n; k++) {
			struct input *in = &wt->in[map[k]];
			ssize_t got;

			if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(in->fd, chunk, sizeof(chunk));
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, tstp_input_name(in->path),
					strerror(errno));
				return TSTP_EXIT_USAGE;
			}
			if (got == 0) {
				in->eof = 1;
				open_inputs--;
				tstp_decoder_finish(&in->dec);
				continue;
			}
			if (tstp_decoder_feed(&in->dec, chunk, (size_t)got))
				return TSTP_EXIT_ERROR;
		}
	}
	return TSTP_EXIT_OK;
}

static void print_watch_summary(const struct watch *wt)
{
	struct tstp_rules_counts c;
	char text[TSTP_LINE_MAX];
	struct tstp_buf b;

	tstp_rules_counts(wt->rules, &c);
	tstp_buf_init(&b, text, sizeof(text));
	tstp_buf_printf(&b, "watch: %llu alerts", (unsigned long long)c.alerts);
	for (unsigned i = 0, first = 1; i < 10; i++) {
		if (!c.alerts_by_rule[i])
			continue;
		tstp_buf_printf(&b, "%s%s %llu", first ? " (" : ", ", tstp_rule_names[i],
				(unsigned long long)c.alerts_by_rule[i]);
		first = 0;
	}
	if (c.alerts)
		tstp_buf_str(&b, ")");
	tstp_buf_printf(&b, "; %llu health records used, %llu connections tracked at the end",
			(unsigned long long)c.records_used, (unsigned long long)c.conns_tracked);
	if (c.conns_dropped)
		tstp_buf_printf(&b, ", %llu not tracked (--table-max)", (unsigned long long)c.conns_dropped);
	fprintf(stderr, "%s: %s\n", TSTP_PROG, text);
	for (int i = 0; i < wt->nin; i++)
		if (wt->in[i].dec.finished)
			tstp_print_summary(stderr, wt->in[i].path, &wt->in[i].dec.count);
}

int cmd_watch(int argc, char **argv)
{
	static struct watch wt;
	struct sigaction sa = { .sa_handler = on_signal };
	int ret, out_ret, damaged = 0;

	ret = parse_watch_opts(argc, argv, &wt.o);
	if (ret)
		return ret < 0 ? TSTP_EXIT_OK : ret;
	wt.fmt.time_style = wt.o.utc ? TSTP_TIME_UTC : TSTP_TIME_LOCAL;
	wt.rules = tstp_rules_new(&wt.o.rules, on_alert, &wt);
	if (!wt.rules) {
		fprintf(stderr, "%s: %s\n", TSTP_PROG, strerror(ENOMEM));
		return TSTP_EXIT_ERROR;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = open_inputs(&wt);
	if (ret == TSTP_EXIT_OK)
		ret = pump(&wt);
	for (int i = 0; i < wt.nin; i++) {
		/* Interrupted or failed: what was read is still accounted. */
		tstp_decoder_finish(&wt.in[i].dec);
		damaged |= tstp_decode_damaged(&wt.in[i].dec.count);
	}
	if (wt.nin)
		tstp_rules_finish(wt.rules, &wt.in[0].dec.clock);
	out_ret = wt.output_failed ? TSTP_EXIT_ERROR : tstp_output_end();
	if (!wt.o.quiet && wt.nin)
		print_watch_summary(&wt);
	for (int i = 0; i < wt.nin; i++)
		if (wt.in[i].fd != STDIN_FILENO)
			close(wt.in[i].fd);
	tstp_rules_free(wt.rules);
	if (ret == TSTP_EXIT_OK)
		ret = out_ret;
	if (ret == TSTP_EXIT_OK && damaged)
		ret = TSTP_EXIT_DAMAGED;
	return ret;
}
