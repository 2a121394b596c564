// SPDX-License-Identifier: GPL-2.0 OR MIT
/* tcpstap read: one line per exchange, as text (tcpkit-like) or JSON. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tcpstap/cli.h"
#include "tcpstap/format.h"
#include "tcpstap/health.h"

struct read_opts {
	int json;
	int all;		/* also ANCHOR, HIST, STATS, SELFTEST records */
	int utc;
	int have_threshold;
	uint64_t threshold_ns;
	const char *path;
};

struct read_ctx {
	struct read_opts opts;
	struct tstp_format_opts fmt;
	char line[TSTP_LINE_MAX];
};

static void read_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s read [OPTIONS] [FILE|-]\n\n"
		"Print each request/response exchange recorded in FILE (default: stdin), and\n"
		"each connection-health event (connect, listen overflow, retransmission,\n"
		"reset, state transition, snapshot).\n\n"
		"Options:\n"
		"  -j, --json          one JSON object per line instead of text\n"
		"  -t, --threshold MS  only exchanges whose total is at least MS milliseconds\n"
		"                      (decimals allowed: -t 0.5)\n"
		"  -a, --all           also print anchor, histogram, stats, totals and self-test records\n"
		"  -u, --utc           text times in UTC instead of local time (JSON is always UTC)\n"
		"  -h, --help          this help\n\n"
		"A summary of what was decoded, lost or skipped goes to stderr at exit.\n"
		"Exit status: 0 clean input, 3 data lost or damaged, 2 usage or input error, 1 other.\n\n"
		"EXAMPLES:\n"
		"  %s read capture.tstp                 # every exchange, text\n"
		"  %s read -t 50 capture.tstp           # exchanges of 50 ms or more\n"
		"  %s read --json capture.tstp | jq .   # JSON lines\n"
		"  %s read --all -u capture.tstp        # with kernel histograms and counters\n",
		TSTP_PROG, TSTP_PROG, TSTP_PROG, TSTP_PROG, TSTP_PROG);
}

static int read_on_record(struct tstp_decoder *dec, const union tstp_record *rec)
{
	struct read_ctx *ctx = dec->ctx;
	struct tstp_buf b;

	tstp_buf_init(&b, ctx->line, sizeof(ctx->line));
	if (rec->hdr.type == TSTP_REC_EXCHANGE) {
		uint64_t total_ns;

		/* An unknown total cannot be shown to reach the threshold. */
		if (ctx->opts.have_threshold &&
		    (tstp_exchange_total_ns(&rec->exchange, &total_ns) != 0 ||
		     total_ns < ctx->opts.threshold_ns))
			return 0;
		if (ctx->opts.json)
			tstp_format_exchange_json(&b, &ctx->fmt, &dec->clock, &rec->exchange);
		else
			tstp_format_exchange_text(&b, &ctx->fmt, &dec->clock, &rec->exchange);
	} else if (ctx->opts.all || tstp_health_is_event(rec->hdr.type)) {
		if (ctx->opts.json)
			tstp_format_other_json(&b, &ctx->fmt, &dec->clock, rec);
		else
			tstp_format_other_text(&b, &ctx->fmt, &dec->clock, rec);
	} else {
		return 0;
	}
	if (fwrite(b.data, 1, b.len, stdout) != b.len) {
		perror(TSTP_PROG ": <stdout>");
		return 1;
	}
	return 0;
}

static int parse_read_opts(int argc, char **argv, struct read_opts *o)
{
	static const struct option longopts[] = {
		{ "json",	no_argument,		NULL, 'j' },
		{ "threshold",	required_argument,	NULL, 't' },
		{ "all",	no_argument,		NULL, 'a' },
		{ "utc",	no_argument,		NULL, 'u' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "jt:auh", longopts, NULL)) != -1) {
		double ms;

		switch (c) {
		case 'j':
			o->json = 1;
			break;
		case 't':
			/* 1e9 ms is 11.6 days: far beyond any exchange, still exact in ns. */
			if (tstp_parse_double(optarg, 0, 1e9, &ms) != 0)
				return tstp_usage_error("read", "-t %s: not a number of milliseconds in [0, 1e9]", optarg);
			o->have_threshold = 1;
			o->threshold_ns = (uint64_t)llround(ms * 1e6);
			break;
		case 'a':
			o->all = 1;
			break;
		case 'u':
			o->utc = 1;
			break;
		case 'h':
			read_usage(stdout);
			return -1;
		default:
			return tstp_usage_error("read", "invalid option");
		}
	}
	if (argc - optind > 1)
		return tstp_usage_error("read", "one input file at most, got %d", argc - optind);
	o->path = optind < argc ? argv[optind] : "-";
	return 0;
}

int cmd_read(int argc, char **argv)
{
	static struct read_ctx ctx;
	static struct tstp_decoder dec;
	int ret, out_ret;

	ret = parse_read_opts(argc, argv, &ctx.opts);
	if (ret)
		return ret < 0 ? TSTP_EXIT_OK : ret;
	ctx.fmt.time_style = ctx.opts.utc ? TSTP_TIME_UTC : TSTP_TIME_LOCAL;
	tstp_output_begin();
	tstp_decoder_init(&dec, read_on_record, &ctx);
	ret = tstp_decode_path(&dec, ctx.opts.path);
	out_ret = tstp_output_end();
	/* Not after a failed open: there is nothing to sum up. */
	if (dec.finished)
		tstp_print_summary(stderr, ctx.opts.path, &dec.count);
	if (ret == TSTP_EXIT_OK)
		ret = out_ret;
	if (ret == TSTP_EXIT_OK && tstp_decode_damaged(&dec.count))
		ret = TSTP_EXIT_DAMAGED;
	return ret;
}
