// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpstap stats: latency percentiles and log2 histograms per (role, service
 * endpoint), the producer's counters and the decoder's loss counters.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstap/cli.h"
#include "tcpstap/format.h"
#include "tcpstap/stats.h"

#define DEFAULT_MAX_ENDPOINTS 4096
#define BAR_WIDTH 40

struct stats_opts {
	int json;
	uint64_t max_endpoints;
	const char *path;
};

struct stats_ctx {
	struct stats_opts opts;
	struct tstp_stats_table table;
	int have_stats;
	struct tstp_stats last_stats;	/* cumulative: the last one says it all */
	int out_of_memory;
};

static void stats_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s stats [OPTIONS] [FILE|-]\n\n"
		"Summarise FILE (default: stdin) per role and service endpoint (the local\n"
		"address of a server, the remote address of a client): count, min, average,\n"
		"p50, p90, p99, p99.9, max and a log2 histogram of the exchange totals, with\n"
		"the kernel's histograms of exchanges below the threshold merged in; then the\n"
		"producer's counters from its last STATS record and the decoder's losses.\n\n"
		"Options:\n"
		"  -j, --json              one JSON document instead of text\n"
		"  -m, --max-endpoints N   aggregate at most N endpoints (default %d); records\n"
		"                          of further endpoints are counted as overflow\n"
		"  -h, --help              this help\n\n"
		"Exit status: 0 clean input, 3 data lost or damaged, 2 usage or input error, 1 other.\n\n"
		"EXAMPLES:\n"
		"  %s stats capture.tstp\n"
		"  %s stats --json capture.tstp | jq '.endpoints[] | {port, p99_us}'\n"
		"  stap ... -o /dev/stdout | %s stats -\n",
		TSTP_PROG, DEFAULT_MAX_ENDPOINTS, TSTP_PROG, TSTP_PROG, TSTP_PROG);
}

static int stats_on_record(struct tstp_decoder *dec, const union tstp_record *rec)
{
	struct stats_ctx *ctx = dec->ctx;
	int ret = 0;

	switch (rec->hdr.type) {
	case TSTP_REC_EXCHANGE:
		ret = tstp_stats_add_exchange(&ctx->table, &rec->exchange);
		break;
	case TSTP_REC_HIST:
		ret = tstp_stats_add_hist(&ctx->table, &rec->hist);
		break;
	case TSTP_REC_STATS:
		ctx->have_stats = 1;
		ctx->last_stats = rec->stats;
		break;
	default:
		break;
	}
	if (ret) {
		fprintf(stderr, "%s: %s\n", TSTP_PROG, strerror(ENOMEM));
		ctx->out_of_memory = 1;
		return 1;
	}
	return 0;
}

static void put_ns_ms(struct tstp_buf *b, const char *name, uint64_t ns)
{
	tstp_buf_put(b, " ", 1);
	tstp_buf_str(b, name);
	tstp_buf_put(b, " ", 1);
	tstp_buf_ns_as_ms(b, ns);
}

/* Rows from the first to the last non-empty bucket, bars as in bcc's print_log2_hist. */
static void print_log2_hist(FILE *f, const uint64_t *bucket)
{
	unsigned first = TSTP_HIST_BUCKETS, last = 0;
	uint64_t peak = 0;
	char bar[BAR_WIDTH + 1];

	for (unsigned i = 0; i < TSTP_HIST_BUCKETS; i++) {
		if (!bucket[i])
			continue;
		if (first == TSTP_HIST_BUCKETS)
			first = i;
		last = i;
		if (bucket[i] > peak)
			peak = bucket[i];
	}
	if (!peak)
		return;
	fprintf(f, "  %10s%-14s : count    distribution\n", "usecs", "");
	for (unsigned i = first; i <= last; i++) {
		unsigned long long lo = i ? 1ull << (i - 1) : 0;
		unsigned long long hi = i ? (1ull << i) - 1 : 0;
		size_t stars = (size_t)(bucket[i] * BAR_WIDTH / peak);

		memset(bar, '*', stars);
		memset(bar + stars, ' ', BAR_WIDTH - stars);
		bar[BAR_WIDTH] = '\0';
		if (i == TSTP_HIST_BUCKETS - 1)
			fprintf(f, "  %10llu -> %-10s : %-8llu |%s|\n", lo, "inf",
				(unsigned long long)bucket[i], bar);
		else
			fprintf(f, "  %10llu -> %-10llu : %-8llu |%s|\n", lo, hi,
				(unsigned long long)bucket[i], bar);
	}
}

static void print_endpoint_text(FILE *f, const struct tstp_endpoint *e)
{
	struct tstp_summary s;
	char text[TSTP_LINE_MAX];
	struct tstp_buf b;

	tstp_endpoint_summary(e, &s);
	tstp_buf_init(&b, text, sizeof(text));
	tstp_buf_str(&b, tstp_role_name(e->key.role));
	tstp_buf_put(&b, " ", 1);
	tstp_buf_addr(&b, e->key.family, e->key.addr, e->key.port);
	tstp_buf_printf(&b, ": %llu exchanges (%llu records + %llu below threshold from kernel histograms",
			(unsigned long long)s.count, (unsigned long long)e->exchanges,
			(unsigned long long)e->kernel_count);
	if (e->no_total)
		tstp_buf_printf(&b, "; %llu more records without a total",
				(unsigned long long)e->no_total);
	tstp_buf_str(&b, ")\n");
	switch (s.method) {
	case TSTP_PCT_LOGLINEAR:
		tstp_buf_str(&b, "  percentiles: exchange records, log-linear histogram (at most 1.6% high)\n");
		break;
	case TSTP_PCT_MERGED_LOG2:
		tstp_buf_str(&b, "  percentiles: merged log2 histogram (upper bucket edge, at most 2x high)\n");
		break;
	default:
		tstp_buf_str(&b, "  percentiles: none (no exchange with a known total)\n");
		break;
	}
	if (s.method != TSTP_PCT_NONE) {
		tstp_buf_str(&b, " ");
		put_ns_ms(&b, "min", s.min_ns);
		put_ns_ms(&b, "avg", s.avg_ns);
		for (unsigned p = 0; p < TSTP_NPCT; p++)
			put_ns_ms(&b, tstp_pct_names[p], s.pct_ns[p]);
		put_ns_ms(&b, "max", s.max_ns);
		tstp_buf_str(&b, " ms\n");
	}
	tstp_buf_printf(&b, "  bytes: %llu requested, %llu in responses (exchange records only)\n",
			(unsigned long long)e->req_bytes, (unsigned long long)e->resp_bytes);
	fputs(text, f);
	print_log2_hist(f, e->log2);
	fputc('\n', f);
}

static void print_producer_text(FILE *f, const struct tstp_decoder *dec, const struct stats_ctx *ctx)
{
	const struct tstp_stats *st = &ctx->last_stats;

	if (dec->clock.have_anchor) {
		const struct tstp_anchor *a = &dec->last_anchor;

		fprintf(f, "producer %s: threshold %u us, sampling 1/%u sockets, event budget ",
			tstp_producer_name(a->producer), a->threshold_us, a->sample_ratio);
		if (a->max_events)
			fprintf(f, "%u/s\n", a->max_events);
		else
			fprintf(f, "unlimited\n");
	} else {
		fprintf(f, "producer: no ANCHOR record in input\n");
	}
	if (!ctx->have_stats) {
		fprintf(f, "producer counters: no STATS record in input\n");
		return;
	}
	fprintf(f, "producer counters (last STATS record, cumulative since load):\n"
		"  exchanges %llu: emitted %llu, below threshold %llu, dropped (rate budget) %llu\n"
		"  sockets held %llu, closed %llu, evicted %llu, sampled out %llu\n"
		"  probes %llu hits, %llu ns in handlers, ",
		(unsigned long long)st->exchanges, (unsigned long long)st->emitted,
		(unsigned long long)st->below_threshold, (unsigned long long)st->dropped_rate,
		(unsigned long long)st->sockets, (unsigned long long)st->closed,
		(unsigned long long)st->evicted, (unsigned long long)st->sampled_out,
		(unsigned long long)st->probe_hits, (unsigned long long)st->probe_ns);
	if (st->probe_hits)
		fprintf(f, "%llu ns per hit\n", (unsigned long long)(st->probe_ns / st->probe_hits));
	else
		fprintf(f, "- ns per hit\n");
	fprintf(f, "  armed %s, disarm reason %s\n", st->armed ? "yes" : "no",
		tstp_disarm_name(st->disarm_reason));
}

static void print_text(FILE *f, const struct tstp_decoder *dec, const struct stats_ctx *ctx,
		       const struct tstp_endpoint **eps, size_t neps)
{
	char text[TSTP_LINE_MAX];
	struct tstp_buf b;

	fprintf(f, "tcpstap stats: %s\n", tstp_input_name(ctx->opts.path));
	print_producer_text(f, dec, ctx);
	fputc('\n', f);
	if (neps == 0)
		fprintf(f, "no exchanges or histograms in input\n\n");
	for (size_t i = 0; i < neps; i++)
		print_endpoint_text(f, eps[i]);
	if (ctx->table.overflow_records)
		fprintf(f, "%llu records not aggregated: more than %llu endpoints (see --max-endpoints)\n",
			(unsigned long long)ctx->table.overflow_records,
			(unsigned long long)ctx->opts.max_endpoints);
	if (ctx->table.unknown_role)
		fprintf(f, "%llu records with an unknown role skipped\n",
			(unsigned long long)ctx->table.unknown_role);
	tstp_buf_init(&b, text, sizeof(text));
	tstp_buf_decode_summary(&b, &dec->count);
	fprintf(f, "decoder: %s\n", text);
}

static void json_field_u64(struct tstp_buf *b, const char *key, uint64_t v, int first)
{
	tstp_buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", key, (unsigned long long)v);
}

static void json_field_us(struct tstp_buf *b, const char *key, uint64_t ns, int valid)
{
	tstp_buf_printf(b, ",\"%s\":", key);
	if (valid)
		tstp_buf_milli(b, ns);
	else
		tstp_buf_str(b, "null");
}

static void print_endpoint_json(FILE *f, const struct tstp_endpoint *e)
{
	static const char *const pct_keys[TSTP_NPCT] = { "p50_us", "p90_us", "p99_us", "p999_us" };
	struct tstp_summary s;
	char text[TSTP_LINE_MAX * 2];
	struct tstp_buf b;
	int have = 0, first = 1;

	tstp_endpoint_summary(e, &s);
	have = s.method != TSTP_PCT_NONE;
	tstp_buf_init(&b, text, sizeof(text));
	tstp_buf_printf(&b, "{\"role\":\"%s\",\"addr\":", tstp_role_name(e->key.role));
	{
		char addr[TSTP_ADDR_MAX];
		struct tstp_buf ab;

		tstp_buf_init(&ab, addr, sizeof(addr));
		tstp_buf_addr(&ab, e->key.family, e->key.addr, -1);
		tstp_buf_json_string(&b, addr, ab.len);
	}
	json_field_u64(&b, "port", e->key.port, 0);
	json_field_u64(&b, "count", s.count, 0);
	json_field_u64(&b, "exchange_records", e->exchanges, 0);
	json_field_u64(&b, "kernel_count", e->kernel_count, 0);
	json_field_u64(&b, "no_total", e->no_total, 0);
	tstp_buf_printf(&b, ",\"method\":\"%s\"", tstp_pct_method_name(s.method));
	json_field_us(&b, "min_us", s.min_ns, have);
	json_field_us(&b, "avg_us", s.avg_ns, have);
	for (unsigned p = 0; p < TSTP_NPCT; p++)
		json_field_us(&b, pct_keys[p], s.pct_ns[p], have);
	json_field_us(&b, "max_us", s.max_ns, have);
	json_field_u64(&b, "req_bytes", e->req_bytes, 0);
	json_field_u64(&b, "resp_bytes", e->resp_bytes, 0);
	tstp_buf_str(&b, ",\"log2_us\":[");
	for (unsigned i = 0; i < TSTP_HIST_BUCKETS; i++) {
		if (!e->log2[i])
			continue;
		tstp_buf_printf(&b, "%s{\"from\":%llu,", first ? "" : ",",
				i ? 1ull << (i - 1) : 0ull);
		if (i == TSTP_HIST_BUCKETS - 1)
			tstp_buf_str(&b, "\"to\":null,");
		else
			tstp_buf_printf(&b, "\"to\":%llu,", i ? (1ull << i) - 1 : 0ull);
		json_field_u64(&b, "count", e->log2[i], 1);
		tstp_buf_str(&b, "}");
		first = 0;
	}
	tstp_buf_str(&b, "]}");
	fputs(text, f);
}

static void print_json(FILE *f, const struct tstp_decoder *dec, const struct stats_ctx *ctx,
		       const struct tstp_endpoint **eps, size_t neps)
{
	const struct tstp_decode_counters *c = &dec->count;
	char text[TSTP_LINE_MAX];
	struct tstp_buf b;

	tstp_buf_init(&b, text, sizeof(text));
	tstp_buf_str(&b, "{\"input\":");
	tstp_buf_json_string(&b, tstp_input_name(ctx->opts.path), strlen(tstp_input_name(ctx->opts.path)));
	tstp_buf_str(&b, ",\"producer\":");
	if (dec->clock.have_anchor) {
		const struct tstp_anchor *a = &dec->last_anchor;

		tstp_buf_printf(&b, "{\"producer\":\"%s\"", tstp_producer_name(a->producer));
		json_field_u64(&b, "threshold_us", a->threshold_us, 0);
		json_field_u64(&b, "sample_ratio", a->sample_ratio, 0);
		json_field_u64(&b, "max_events", a->max_events, 0);
		tstp_buf_str(&b, "}");
	} else {
		tstp_buf_str(&b, "null");
	}
	tstp_buf_str(&b, ",\"endpoints\":[");
	fputs(text, f);
	for (size_t i = 0; i < neps; i++) {
		if (i)
			fputc(',', f);
		print_endpoint_json(f, eps[i]);
	}
	tstp_buf_init(&b, text, sizeof(text));
	tstp_buf_str(&b, "],\"counters\":");
	if (ctx->have_stats) {
		const struct tstp_stats *st = &ctx->last_stats;

		tstp_buf_str(&b, "{");
		json_field_u64(&b, "probe_hits", st->probe_hits, 1);
		json_field_u64(&b, "probe_ns", st->probe_ns, 0);
		tstp_buf_str(&b, ",\"probe_cost_ns\":");
		if (st->probe_hits)
			tstp_buf_u64(&b, st->probe_ns / st->probe_hits);
		else
			tstp_buf_str(&b, "null");
		json_field_u64(&b, "exchanges", st->exchanges, 0);
		json_field_u64(&b, "emitted", st->emitted, 0);
		json_field_u64(&b, "below_threshold", st->below_threshold, 0);
		json_field_u64(&b, "dropped_rate", st->dropped_rate, 0);
		json_field_u64(&b, "evicted", st->evicted, 0);
		json_field_u64(&b, "closed", st->closed, 0);
		json_field_u64(&b, "sockets", st->sockets, 0);
		json_field_u64(&b, "sampled_out", st->sampled_out, 0);
		json_field_u64(&b, "armed", st->armed, 0);
		tstp_buf_printf(&b, ",\"disarm_reason\":\"%s\"}", tstp_disarm_name(st->disarm_reason));
	} else {
		tstp_buf_str(&b, "null");
	}
	tstp_buf_str(&b, ",\"decoder\":{");
	json_field_u64(&b, "records", c->records, 1);
	json_field_u64(&b, "bytes", c->bytes_in, 0);
	json_field_u64(&b, "lost_bytes", c->lost_bytes, 0);
	json_field_u64(&b, "resyncs", c->resyncs, 0);
	json_field_u64(&b, "truncated", c->truncated, 0);
	json_field_u64(&b, "truncated_bytes", c->truncated_bytes, 0);
	json_field_u64(&b, "seq_lost", c->seq_lost, 0);
	json_field_u64(&b, "unknown", c->unknown, 0);
	json_field_u64(&b, "producer_runs", c->producer_runs, 0);
	tstp_buf_str(&b, "}");
	json_field_u64(&b, "overflow_records", ctx->table.overflow_records, 0);
	json_field_u64(&b, "unknown_role", ctx->table.unknown_role, 0);
	tstp_buf_str(&b, "}\n");
	fputs(text, f);
}

static int parse_stats_opts(int argc, char **argv, struct stats_opts *o)
{
	static const struct option longopts[] = {
		{ "json",		no_argument,		NULL, 'j' },
		{ "max-endpoints",	required_argument,	NULL, 'm' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->max_endpoints = DEFAULT_MAX_ENDPOINTS;
	while ((c = getopt_long(argc, argv, "jm:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = 1;
			break;
		case 'm':
			/* Each endpoint holds a 20 KiB histogram: 1M endpoints is 20 GiB. */
			if (tstp_parse_u64(optarg, 1, 1000000, &o->max_endpoints) != 0)
				return tstp_usage_error("stats", "--max-endpoints %s: not a count in [1, 1000000]", optarg);
			break;
		case 'h':
			stats_usage(stdout);
			return -1;
		default:
			return tstp_usage_error("stats", "invalid option");
		}
	}
	if (argc - optind > 1)
		return tstp_usage_error("stats", "one input file at most, got %d", argc - optind);
	o->path = optind < argc ? argv[optind] : "-";
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	static struct stats_ctx ctx;
	static struct tstp_decoder dec;
	const struct tstp_endpoint **eps = NULL;
	size_t neps;
	int ret, out_ret;

	ret = parse_stats_opts(argc, argv, &ctx.opts);
	if (ret)
		return ret < 0 ? TSTP_EXIT_OK : ret;
	if (tstp_stats_init(&ctx.table, ctx.opts.max_endpoints) != 0) {
		fprintf(stderr, "%s: %s\n", TSTP_PROG, strerror(ENOMEM));
		ret = TSTP_EXIT_ERROR;
		goto out;
	}
	tstp_output_begin();
	tstp_decoder_init(&dec, stats_on_record, &ctx);
	ret = tstp_decode_path(&dec, ctx.opts.path);
	if (ret != TSTP_EXIT_OK)
		goto summary;
	eps = calloc(ctx.table.used ? ctx.table.used : 1, sizeof(*eps));
	if (!eps) {
		fprintf(stderr, "%s: %s\n", TSTP_PROG, strerror(ENOMEM));
		ret = TSTP_EXIT_ERROR;
		goto summary;
	}
	neps = tstp_stats_sorted(&ctx.table, eps, ctx.table.used);
	if (ctx.opts.json)
		print_json(stdout, &dec, &ctx, eps, neps);
	else
		print_text(stdout, &dec, &ctx, eps, neps);
summary:
	out_ret = tstp_output_end();
	/* Not after a failed open: there is nothing to sum up. */
	if (dec.finished)
		tstp_print_summary(stderr, ctx.opts.path, &dec.count);
	if (ret == TSTP_EXIT_OK)
		ret = out_ret;
	if (ret == TSTP_EXIT_OK && tstp_decode_damaged(&dec.count))
		ret = TSTP_EXIT_DAMAGED;
out:
	free(eps);
	tstp_stats_free(&ctx.table);
	return ret;
}
