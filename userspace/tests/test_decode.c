// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Decoder: validation, resync, carry-over, truncation, sequence gaps. */
#include "check.h"

static struct tstp_decoder dec;
static struct collected got;

static const char *const fixtures[] = {
	"clean.tstp", "garbage.tstp", "truncated.tstp", "seqgap.tstp", "unknown.tstp",
};

/* Decodes a fixture at once; returns its size or 0 if unreadable. */
static size_t decode_fixture(const char *name, size_t chunk)
{
	size_t len = 0;
	uint8_t *buf = read_fixture(name, &len);

	if (!buf)
		return 0;
	memset(&got, 0, sizeof(got));
	decode_chunked(&dec, &got, buf, len, chunk);
	free(buf);
	return len;
}

static void test_clean_counts(void)
{
	CHECK_U64(decode_fixture("clean.tstp", 0), 1408);
	CHECK_U64(dec.count.records, 10);
	CHECK_U64(got.n, 10);
	CHECK_U64(dec.count.by_type[TSTP_REC_ANCHOR], 1);
	CHECK_U64(dec.count.by_type[TSTP_REC_EXCHANGE], 6);
	CHECK_U64(dec.count.by_type[TSTP_REC_HIST], 1);
	CHECK_U64(dec.count.by_type[TSTP_REC_STATS], 1);
	CHECK_U64(dec.count.by_type[TSTP_REC_SELFTEST], 1);
	CHECK_U64(dec.count.bytes_in, 1408);
	CHECK_U64(dec.count.record_bytes, 1408);
	CHECK_U64(dec.count.lost_bytes, 0);
	CHECK_U64(dec.count.resyncs, 0);
	CHECK_U64(dec.count.truncated, 0);
	CHECK_U64(dec.count.seq_lost, 0);
	CHECK_U64(dec.count.unknown, 0);
	CHECK_U64(dec.count.producer_runs, 1);
	CHECK(!tstp_decode_damaged(&dec.count));
}

static void test_clean_fields(void)
{
	static const uint8_t laddr[4] = { 10, 0, 0, 2 }, raddr[4] = { 10, 0, 0, 1 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	const struct tstp_exchange *x;

	CHECK(decode_fixture("clean.tstp", 0));
	CHECK_U64(got.rec[0].hdr.type, TSTP_REC_ANCHOR);
	CHECK_U64(got.rec[0].hdr.seq, 1);
	CHECK_U64(got.rec[0].anchor.realtime_ns, 1795412880000000000ull);
	CHECK_U64(got.rec[0].anchor.threshold_us, 1000);
	CHECK(got.clock_at[1].have_anchor);
	CHECK_U64(got.clock_at[1].anchor_mono_ns, 1000000000000ull);

	x = &got.rec[1].exchange;
	CHECK_U64(x->hdr.type, TSTP_REC_EXCHANGE);
	CHECK_U64(x->hdr.seq, 2);
	CHECK_U64(x->hdr.cpu, 1);
	CHECK_U64(x->role, TSTP_ROLE_SERVER);
	CHECK_U64(x->family, 2);
	CHECK_U64(x->lport, 6379);
	CHECK_U64(x->rport, 51137);
	CHECK(memcmp(x->laddr, laddr, 4) == 0);
	CHECK(memcmp(x->raddr, raddr, 4) == 0);
	CHECK_U64(x->t_rx_first, 1001123456789ull);
	CHECK_U64(x->t_tx_last - x->t_rx_first, 50312000);
	CHECK_U64(x->req_bytes, 31);
	CHECK_U64(x->resp_bytes, 5);
	CHECK_U64(x->pid, 4242);
	CHECK(memcmp(x->comm, "redis-server\0", 13) == 0);

	x = &got.rec[2].exchange;
	CHECK_U64(x->family, 10);
	CHECK(memcmp(x->laddr, v6, 16) == 0);
	CHECK_U64(x->flags, TSTP_XF_PIPELINED | TSTP_XF_RETRANS);
	CHECK_U64(got.rec[6].hdr.type, TSTP_REC_HIST);
	CHECK_U64(got.rec[6].hist.bucket[10], 1);
	CHECK_U64(got.rec[9].hdr.type, TSTP_REC_STATS);
	CHECK_U64(got.rec[9].stats.probe_ns, 750000);
}

/* Splitting the input anywhere must not change what is decoded or counted. */
static void test_chunking_invariant(void)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 8, 23, 24, 25, 167, 168, 169, 1000, 4095, 4096, 4097 };

	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		static struct collected whole;
		struct tstp_decode_counters whole_count;

		CHECK(decode_fixture(fixtures[f], 0));
		whole = got;
		whole_count = dec.count;
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			CHECK(decode_fixture(fixtures[f], chunks[c]));
			if (memcmp(&dec.count, &whole_count, sizeof(whole_count)) != 0)
				CHECK_FAIL("%s in %zu-byte chunks: counters differ", fixtures[f], chunks[c]);
			CHECK_U64(got.n, whole.n);
			for (size_t i = 0; i < got.n && i < MAX_TEST_RECORDS; i++)
				if (memcmp(&got.rec[i], &whole.rec[i], tstp_record_min_length(got.rec[i].hdr.type)))
					CHECK_FAIL("%s in %zu-byte chunks: record %zu differs",
						   fixtures[f], chunks[c], i);
		}
	}
}

/* Every input byte is in exactly one bucket. */
static void test_byte_accounting(void)
{
	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		size_t len = decode_fixture(fixtures[f], 5);
		const struct tstp_decode_counters *c = &dec.count;

		CHECK(len);
		CHECK_U64(c->bytes_in, len);
		CHECK_U64(c->record_bytes + c->unknown_bytes + c->lost_bytes + c->truncated_bytes, len);
	}
}

static void test_garbage_resync(void)
{
	CHECK_U64(decode_fixture("garbage.tstp", 0), 1408 + 37);
	CHECK_U64(dec.count.records, 10);
	CHECK_U64(dec.count.lost_bytes, 37);
	CHECK_U64(dec.count.resyncs, 1);
	CHECK_U64(dec.count.first_loss_offset, 48 + 168 + 168);
	CHECK_U64(dec.count.seq_lost, 0);
	CHECK_U64(got.rec[3].exchange.lport, 33000);
	CHECK(tstp_decode_damaged(&dec.count));
}

static void test_truncated_tail(void)
{
	CHECK_U64(decode_fixture("truncated.tstp", 0), 1358);
	CHECK_U64(dec.count.records, 9);
	CHECK_U64(dec.count.truncated, 1);
	CHECK_U64(dec.count.truncated_bytes, 62);
	CHECK_U64(dec.count.truncated_expected, 112);
	CHECK_U64(dec.count.lost_bytes, 0);
	CHECK(tstp_decode_damaged(&dec.count));
}

static void test_seq_gaps(void)
{
	CHECK(decode_fixture("seqgap.tstp", 0));
	CHECK_U64(dec.count.records, 12);
	/* Run 1 lacks 6 and 9 (4 after 5 is reordering), run 2 lacks 4. */
	CHECK_U64(dec.count.seq_lost, 3);
	CHECK_U64(dec.count.producer_runs, 2);
	CHECK(tstp_decode_damaged(&dec.count));
}

static void test_unknown_types(void)
{
	CHECK(decode_fixture("unknown.tstp", 0));
	CHECK_U64(dec.count.unknown, 2);
	CHECK_U64(dec.count.unknown_bytes, 40 + 4096);
	CHECK_U64(dec.count.records, 4);
	CHECK_U64(dec.count.by_type[TSTP_REC_EXCHANGE], 3);
	CHECK_U64(dec.count.newer_version, 1);
	CHECK_U64(dec.count.seq_lost, 0);
	CHECK_U64(dec.count.lost_bytes, 0);
	/* The version-2 exchange (176 bytes) is read by its known prefix. */
	CHECK_U64(got.rec[2].hdr.version, 2);
	CHECK_U64(got.rec[2].hdr.length, 176);
	CHECK_U64(got.rec[2].exchange.lport, 6379);
	CHECK_U64(got.rec[2].exchange.t_tx_last - got.rec[2].exchange.t_rx_first, 50312000);
	CHECK_U64(got.rec[3].exchange.rport, 5432);
	CHECK(!tstp_decode_damaged(&dec.count));
}

/* A SELFTEST record with the given header fields. */
static size_t make_record(uint8_t *out, unsigned version, unsigned type, unsigned length, uint32_t seq)
{
	struct tstp_hdr h = { TSTP_MAGIC, (uint8_t)version, (uint8_t)type, (uint16_t)length, seq, 0, 0, 42 };
	size_t n = length >= 24 && length <= 64 ? length : 32;

	memset(out, 0, n);
	memcpy(out, &h, sizeof(h));
	return n;
}

static void decode_buf(const uint8_t *buf, size_t len)
{
	memset(&got, 0, sizeof(got));
	decode_chunked(&dec, &got, buf, len, 0);
}

static void test_invalid_headers(void)
{
	/* version, type, length: each must be rejected and skipped byte by byte. */
	static const unsigned bad[][3] = {
		{ 0, TSTP_REC_SELFTEST, 32 },	/* version 0 */
		{ 1, TSTP_REC_SELFTEST, 36 },	/* not a multiple of 8 */
		{ 1, TSTP_REC_SELFTEST, 16 },	/* shorter than a header */
		{ 1, TSTP_REC_SELFTEST, 4104 },	/* over TSTP_MAX_RECORD */
		{ 1, TSTP_REC_EXCHANGE, 48 },	/* shorter than an exchange */
		{ 1, TSTP_REC_ANCHOR, 40 },	/* shorter than an anchor */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t buf[128];
		size_t n = make_record(buf, bad[i][0], bad[i][1], bad[i][2], 1);

		n += make_record(buf + n, 1, TSTP_REC_SELFTEST, 32, 2);
		decode_buf(buf, n);
		if (dec.count.records != 1 || dec.count.lost_bytes != n - 32)
			CHECK_FAIL("case %zu: %" PRIu64 " records, %" PRIu64 " lost, want 1 and %zu",
				   i, dec.count.records, dec.count.lost_bytes, n - 32);
		CHECK_U64(got.rec[0].hdr.seq, 2);
	}
}

static void test_garbage_only_and_empty(void)
{
	decode_buf((const uint8_t *)"hello, world", 12);
	CHECK_U64(dec.count.lost_bytes, 12);
	CHECK_U64(dec.count.resyncs, 1);
	CHECK_U64(dec.count.truncated, 0);
	CHECK_U64(dec.count.records, 0);
	decode_buf((const uint8_t *)"", 0);
	CHECK_U64(dec.count.bytes_in, 0);
	CHECK(!tstp_decode_damaged(&dec.count));
	/* Garbage ending in a partial magic: still garbage, not a cut record. */
	decode_buf((const uint8_t *)"xxTST", 5);
	CHECK_U64(dec.count.lost_bytes, 5);
	CHECK_U64(dec.count.truncated, 0);
}

static void test_partial_tail_after_record(void)
{
	uint8_t buf[64];
	size_t n = make_record(buf, 1, TSTP_REC_SELFTEST, 32, 1);

	memcpy(buf + n, "TS", 2);
	decode_buf(buf, n + 2);
	CHECK_U64(dec.count.records, 1);
	CHECK_U64(dec.count.truncated, 1);
	CHECK_U64(dec.count.truncated_bytes, 2);
	CHECK_U64(dec.count.truncated_expected, 0);
	CHECK_U64(dec.count.lost_bytes, 0);
}

static void decode_seqs(const uint32_t *seqs, const int *anchor, size_t n)
{
	static uint8_t buf[64 * 48];
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (anchor && anchor[i]) {
			struct tstp_anchor a;

			memset(&a, 0, sizeof(a));
			a.hdr = (struct tstp_hdr){ TSTP_MAGIC, 1, TSTP_REC_ANCHOR, sizeof(a), seqs[i], 0, 0, 1 };
			memcpy(buf + len, &a, sizeof(a));
			len += sizeof(a);
		} else {
			len += make_record(buf + len, 1, TSTP_REC_SELFTEST, 32, seqs[i]);
		}
	}
	decode_buf(buf, len);
}

static void test_seq_wrap_and_restarts(void)
{
	static const uint32_t wrap[] = { 0xfffffffe, 0xffffffff, 0, 1, 2 };
	static const uint32_t wrap_gap[] = { 0xfffffffe, 1 };
	static const uint32_t late_anchor[] = { 2, 1, 3 };
	static const int late_anchor_is[] = { 0, 1, 0 };
	static const uint32_t restart[] = { 100000000, 100000001, 5, 6 };
	static const uint32_t dup[] = { 1, 2, 2, 3 };

	decode_seqs(wrap, NULL, 5);
	CHECK_U64(dec.count.seq_lost, 0);
	CHECK_U64(dec.count.producer_runs, 1);
	decode_seqs(wrap_gap, NULL, 2);
	CHECK_U64(dec.count.seq_lost, 2);
	decode_seqs(late_anchor, late_anchor_is, 3);
	CHECK_U64(dec.count.seq_lost, 0);
	CHECK_U64(dec.count.producer_runs, 1);
	decode_seqs(restart, NULL, 4);
	CHECK_U64(dec.count.seq_lost, 0);
	CHECK_U64(dec.count.producer_runs, 2);
	decode_seqs(dup, NULL, 4);
	CHECK_U64(dec.count.seq_lost, 0);
}

static void test_callback_stop(void)
{
	size_t len = 0;
	uint8_t *buf = read_fixture("clean.tstp", &len);
	int ret;

	CHECK(buf);
	memset(&got, 0, sizeof(got));
	got.stop_after = 2;
	tstp_decoder_init(&dec, collect_record, &got);
	ret = tstp_decoder_feed(&dec, buf, len);
	free(buf);
	CHECK_U64(ret, 7);
	CHECK_U64(got.n, 2);
	CHECK_U64(dec.count.records, 2);
}

int main(void)
{
	RUN_TEST(test_clean_counts);
	RUN_TEST(test_clean_fields);
	RUN_TEST(test_chunking_invariant);
	RUN_TEST(test_byte_accounting);
	RUN_TEST(test_garbage_resync);
	RUN_TEST(test_truncated_tail);
	RUN_TEST(test_seq_gaps);
	RUN_TEST(test_unknown_types);
	RUN_TEST(test_invalid_headers);
	RUN_TEST(test_garbage_only_and_empty);
	RUN_TEST(test_partial_tail_after_record);
	RUN_TEST(test_seq_wrap_and_restarts);
	RUN_TEST(test_callback_stop);
	return CHECK_EXIT_CODE();
}
