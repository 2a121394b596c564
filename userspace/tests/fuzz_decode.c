// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target: arbitrary bytes through the decoder in arbitrary chunks,
 * every record through every formatter and the aggregator. Beyond "no crash"
 * it checks that every input byte is accounted for exactly once.
 */
#include <stdlib.h>
#include <string.h>

#include "tcpstap/decode.h"
#include "tcpstap/format.h"
#include "tcpstap/stats.h"

struct fuzz_ctx {
	struct tstp_stats_table table;
	struct tstp_format_opts fmt;
	char line[TSTP_LINE_MAX];
};

static int fuzz_on_record(struct tstp_decoder *dec, const union tstp_record *rec)
{
	struct fuzz_ctx *ctx = dec->ctx;
	struct tstp_buf b;

	tstp_buf_init(&b, ctx->line, sizeof(ctx->line));
	if (rec->hdr.type == TSTP_REC_EXCHANGE) {
		tstp_format_exchange_text(&b, &ctx->fmt, &dec->clock, &rec->exchange);
		tstp_format_exchange_json(&b, &ctx->fmt, &dec->clock, &rec->exchange);
		tstp_stats_add_exchange(&ctx->table, &rec->exchange);
	} else {
		tstp_format_other_text(&b, &ctx->fmt, &dec->clock, rec);
		tstp_format_other_json(&b, &ctx->fmt, &dec->clock, rec);
		if (rec->hdr.type == TSTP_REC_HIST)
			tstp_stats_add_hist(&ctx->table, &rec->hist);
	}
	if (b.len >= b.cap)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tstp_decoder dec;
	static struct fuzz_ctx ctx;
	const struct tstp_endpoint *eps[8];
	size_t chunk, off, n;

	if (size < 1)
		return 0;
	/* The first byte picks the chunk size, so splits land everywhere. */
	chunk = (size_t)data[0] * 7 + 1;
	data++;
	size--;
	ctx.fmt.time_style = TSTP_TIME_UTC;
	if (tstp_stats_init(&ctx.table, 8) != 0)
		abort();
	tstp_decoder_init(&dec, fuzz_on_record, &ctx);
	for (off = 0; off < size; off += chunk)
		tstp_decoder_feed(&dec, data + off, size - off < chunk ? size - off : chunk);
	tstp_decoder_finish(&dec);

	if (dec.count.bytes_in != size ||
	    dec.count.record_bytes + dec.count.unknown_bytes + dec.count.lost_bytes +
	    dec.count.truncated_bytes != size)
		abort();
	n = tstp_stats_sorted(&ctx.table, eps, 8);
	for (size_t i = 0; i < n; i++) {
		struct tstp_summary s;

		tstp_endpoint_summary(eps[i], &s);
		for (unsigned p = 0; p < TSTP_NPCT; p++)
			if (s.method != TSTP_PCT_NONE && s.pct_ns[p] > s.max_ns)
				abort();
	}
	tstp_stats_free(&ctx.table);
	return 0;
}
