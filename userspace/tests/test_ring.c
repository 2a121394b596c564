// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The --ring record ring: time window, memory bound, wrap, and a capture that decodes. */
#include "check.h"
#include "tcpstap/format.h"
#include "tcpstap/ring.h"

#define MS 1000000ull

static struct tstp_exchange exchange_at(uint32_t seq, uint64_t ts, uint64_t total_ns)
{
	struct tstp_exchange x;

	memset(&x, 0, sizeof(x));
	x.hdr.magic = TSTP_MAGIC;
	x.hdr.version = TSTP_VERSION;
	x.hdr.type = TSTP_REC_EXCHANGE;
	x.hdr.length = sizeof(x);
	x.hdr.seq = seq;
	x.hdr.ts_ns = ts;
	x.role = TSTP_ROLE_SERVER;
	x.family = 2;
	x.t_rx_first = ts - total_ns;
	x.t_tx_last = ts;
	return x;
}

/* Concatenates the ring's pieces into out; returns the byte count. */
static size_t ring_bytes(const struct tstp_ring *r, uint8_t *out)
{
	const uint8_t *a, *b;
	size_t alen, blen;

	tstp_ring_pieces(r, &a, &alen, &b, &blen);
	memcpy(out, a, alen);
	memcpy(out + alen, b, blen);
	return alen + blen;
}

static uint8_t bytes[64 * 1024];
static struct collected got;

static void test_ring_time_window(void)
{
	struct tstp_ring r;
	struct tstp_decoder dec;

	CHECK(tstp_ring_init(&r, 1 << 20, 1000 * MS) == 0);
	/* One record every 100 ms for 3 s: only the last 1 s (11 records) stays. */
	for (uint32_t i = 1; i <= 31; i++) {
		struct tstp_exchange x = exchange_at(i, 10000 * MS + i * 100 * MS, MS);

		CHECK(tstp_ring_push(&r, &x, sizeof(x)) == 0);
	}
	CHECK_U64(r.records, 11);
	CHECK_U64(r.expired, 20);
	CHECK_U64(r.evicted, 0);
	memset(&got, 0, sizeof(got));
	decode_chunked(&dec, &got, bytes, ring_bytes(&r, bytes), 0);
	tstp_decoder_finish(&dec);
	CHECK_U64(got.n, 11);
	CHECK_U64(got.rec[0].hdr.seq, 21);
	CHECK_U64(got.rec[10].hdr.seq, 31);
	CHECK_U64(dec.count.seq_lost, 0);
	tstp_ring_free(&r);
}

static void test_ring_memory_bound_and_wrap(void)
{
	struct tstp_ring r;
	struct tstp_decoder dec;
	size_t rec = sizeof(struct tstp_exchange);

	/* Room for 27 records and a bit: pushes wrap around the end many times. */
	CHECK(tstp_ring_init(&r, 27 * rec + 40, 3600000 * MS) == 0);
	for (uint32_t i = 1; i <= 1000; i++) {
		struct tstp_exchange x = exchange_at(i, 1000 * MS + i * MS, MS);

		CHECK(tstp_ring_push(&r, &x, sizeof(x)) == 0);
		CHECK(r.used <= r.cap);
	}
	CHECK_U64(r.records, 27);
	CHECK_U64(r.evicted, 1000 - 27);
	CHECK_U64(tstp_ring_take_evicted(&r), 1000 - 27);
	CHECK_U64(tstp_ring_take_evicted(&r), 0);
	memset(&got, 0, sizeof(got));
	decode_chunked(&dec, &got, bytes, ring_bytes(&r, bytes), 7);
	tstp_decoder_finish(&dec);
	CHECK_U64(got.n, 27);
	for (size_t i = 0; i < got.n; i++)
		CHECK_U64(got.rec[i].hdr.seq, 1000 - 27 + 1 + i);
	CHECK_U64(dec.count.lost_bytes, 0);
	tstp_ring_free(&r);
}

static void test_ring_rejects_bad_records(void)
{
	struct tstp_ring r;
	struct tstp_exchange x = exchange_at(1, 5 * MS, MS);

	CHECK(tstp_ring_init(&r, 100, MS) != 0);
	CHECK(tstp_ring_init(&r, 1 << 16, MS) == 0);
	CHECK(tstp_ring_push(&r, &x, sizeof(x) - 8) != 0);	/* length field disagrees */
	CHECK(tstp_ring_push(&r, &x, 12) != 0);
	CHECK_U64(r.records, 0);
	tstp_ring_free(&r);
}

/* A capture file: CAPTURE record, then a window starting mid-stream; no loss reported. */
static void test_capture_restarts_sequence(void)
{
	struct tstp_capture c;
	struct tstp_exchange x;
	struct tstp_decoder dec;
	size_t len = 0;

	memset(&c, 0, sizeof(c));
	c.hdr.magic = TSTP_MAGIC;
	c.hdr.version = TSTP_VERSION;
	c.hdr.type = TSTP_REC_CAPTURE;
	c.hdr.length = sizeof(c);
	c.hdr.ts_ns = 2000 * MS;
	c.realtime_ns = 1700000000000 * MS;
	c.reason = TSTP_TRIGGER_SLOW;
	c.trigger_us = 50000;
	memcpy(bytes, &c, sizeof(c));
	len += sizeof(c);
	for (uint32_t seq = 500; seq < 505; seq++) {
		x = exchange_at(seq, 1990 * MS + seq, MS);
		memcpy(bytes + len, &x, sizeof(x));
		len += sizeof(x);
	}
	memset(&got, 0, sizeof(got));
	decode_chunked(&dec, &got, bytes, len, 0);
	tstp_decoder_finish(&dec);
	CHECK_U64(got.n, 6);
	CHECK_U64(got.rec[0].hdr.type, TSTP_REC_CAPTURE);
	CHECK_U64(dec.count.seq_lost, 0);
	CHECK(got.clock_at[1].have_anchor);
	CHECK_U64(got.clock_at[1].anchor_real_ns, c.realtime_ns);
	CHECK(!tstp_decode_damaged(&dec.count));
}

static void test_trigger_slow(void)
{
	struct tstp_exchange x = exchange_at(1, 100 * MS, 80 * MS);

	CHECK(tstp_trigger_slow(&x, 50 * MS));
	CHECK(tstp_trigger_slow(&x, 80 * MS));
	CHECK(!tstp_trigger_slow(&x, 81 * MS));
	x.t_rx_first = 0;	/* total unknown: never a trigger */
	CHECK(!tstp_trigger_slow(&x, 1));
}

int main(void)
{
	RUN_TEST(test_ring_time_window);
	RUN_TEST(test_ring_memory_bound_and_wrap);
	RUN_TEST(test_ring_rejects_bad_records);
	RUN_TEST(test_capture_restarts_sequence);
	RUN_TEST(test_trigger_slow);
	return CHECK_EXIT_CODE();
}
