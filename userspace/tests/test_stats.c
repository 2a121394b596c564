// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Aggregation: histogram maths, endpoint keys, percentiles of both methods. */
#include "check.h"
#include "tcpstap/stats.h"

static struct tstp_stats_table table;

static void test_loglinear_buckets(void)
{
	unsigned prev = 0;

	for (uint64_t v = 0; v < (1ull << 40); v = v < 4096 ? v + 1 : v + v / 7 + 1) {
		unsigned i = tstp_ll_index(v);
		uint64_t up = tstp_ll_upper(i);

		if (i < prev || up < v || up - v > v / 64)
			CHECK_FAIL("value %" PRIu64 ": index %u (prev %u), upper %" PRIu64, v, i, prev, up);
		/* The upper bound maps to the same bucket, one more to the next. */
		CHECK_U64(tstp_ll_index(up), i);
		CHECK_U64(tstp_ll_index(up + 1), i + 1);
		prev = i;
	}
	CHECK_U64(tstp_ll_index(127), 127);
	CHECK_U64(tstp_ll_index(128), 128);
	CHECK_U64(tstp_ll_index(129), 128);
	CHECK_U64(tstp_ll_upper(128), 129);
	CHECK_U64(tstp_ll_index(UINT64_MAX), TSTP_LL_BUCKETS - 1);
}

static void test_log2_buckets(void)
{
	CHECK_U64(tstp_log2_index(0), 0);
	CHECK_U64(tstp_log2_index(1), 1);
	CHECK_U64(tstp_log2_index(2), 2);
	CHECK_U64(tstp_log2_index(3), 2);
	CHECK_U64(tstp_log2_index(4), 3);
	CHECK_U64(tstp_log2_index(1023), 10);
	CHECK_U64(tstp_log2_index(1024), 11);
	CHECK_U64(tstp_log2_index(1ull << 40), TSTP_HIST_BUCKETS - 1);
}

static struct tstp_exchange server_exchange(const char *port_addr_tag, uint16_t lport, uint64_t total_ns)
{
	struct tstp_exchange x;

	memset(&x, 0, sizeof(x));
	x.hdr.type = TSTP_REC_EXCHANGE;
	x.role = TSTP_ROLE_SERVER;
	x.family = 2;
	x.lport = lport;
	x.rport = 40000;
	memcpy(x.laddr, port_addr_tag, 4);
	x.t_rx_first = 1000000;
	x.t_tx_last = x.t_rx_first + total_ns;
	x.req_bytes = 10;
	return x;
}

static void test_loglinear_percentiles(void)
{
	const struct tstp_endpoint *e;
	struct tstp_summary s;

	CHECK(tstp_stats_init(&table, 16) == 0);
	/* 1..1000 us: p50 is the 500th sample, 500 us, reported as its bucket's top. */
	for (uint64_t us = 1000; us >= 1; us--) {
		struct tstp_exchange x = server_exchange("\x0a\x00\x00\x02", 80, us * 1000);

		CHECK(tstp_stats_add_exchange(&table, &x) == 0);
	}
	CHECK_U64(table.used, 1);
	CHECK(tstp_stats_sorted(&table, &e, 1) == 1);
	tstp_endpoint_summary(e, &s);
	CHECK_U64(s.method, TSTP_PCT_LOGLINEAR);
	CHECK_U64(s.count, 1000);
	CHECK_U64(s.min_ns, 1000);
	CHECK_U64(s.max_ns, 1000000);
	CHECK_U64(s.avg_ns, 500500);
	CHECK_U64(s.pct_ns[0], 503807);	/* 500000 in [122 << 12, 123 << 12) */
	CHECK_U64(s.pct_ns[1], 901119);	/* 900000 in [109 << 13, 110 << 13) */
	CHECK_U64(s.pct_ns[2], 991231);	/* 990000 in [120 << 13, 121 << 13) */
	CHECK_U64(s.pct_ns[3], 999423);	/* 999000 in [121 << 13, 122 << 13) */
	CHECK_U64(e->req_bytes, 10000);
	tstp_stats_free(&table);
}

static void test_merged_with_kernel_hist(void)
{
	size_t len = 0;
	uint8_t *buf = read_fixture("clean.tstp", &len);
	struct tstp_decoder dec;
	static struct collected got;
	const struct tstp_endpoint *eps[8];
	struct tstp_summary s;
	size_t n;

	CHECK(buf);
	decode_chunked(&dec, &got, buf, len, 0);
	free(buf);
	CHECK(tstp_stats_init(&table, 16) == 0);
	for (size_t i = 0; i < got.n; i++) {
		if (got.rec[i].hdr.type == TSTP_REC_EXCHANGE)
			CHECK(tstp_stats_add_exchange(&table, &got.rec[i].exchange) == 0);
		if (got.rec[i].hdr.type == TSTP_REC_HIST)
			CHECK(tstp_stats_add_hist(&table, &got.rec[i].hist) == 0);
	}
	n = tstp_stats_sorted(&table, eps, 8);
	CHECK_U64(n, 5);
	/* Sorted by role, family, address, port; a client is keyed by its remote service. */
	CHECK_U64(eps[0]->key.port, 6379);
	CHECK_U64(eps[1]->key.port, 11211);
	CHECK_U64(eps[2]->key.port, 443);
	CHECK_U64(eps[2]->key.family, 10);
	CHECK_U64(eps[3]->key.role, TSTP_ROLE_CLIENT);
	CHECK_U64(eps[3]->key.port, 5432);
	CHECK(memcmp(eps[3]->key.addr, "\x0a\x00\x00\x09", 4) == 0);
	CHECK_U64(eps[4]->key.port, 8080);
	CHECK_U64(eps[4]->no_total, 1);
	CHECK_U64(eps[4]->exchanges, 0);

	tstp_endpoint_summary(eps[0], &s);
	CHECK_U64(s.method, TSTP_PCT_MERGED_LOG2);
	CHECK_U64(s.count, 12);	/* 2 exchange records + 10 kernel counts */
	CHECK_U64(s.min_ns, 4000);
	CHECK_U64(s.max_ns, 50312000);
	CHECK_U64(s.avg_ns, (50312000 + 2500000 + 790000) / 12);
	CHECK_U64(s.pct_ns[0], 8000);		/* rank 6 ends bucket 4-7 us */
	CHECK_U64(s.pct_ns[1], 4096000);	/* rank 11: the 2.5 ms exchange */
	CHECK_U64(s.pct_ns[2], 50312000);	/* rank 12: 65.536 ms edge clamped to max */
	CHECK_U64(s.pct_ns[3], 50312000);
	CHECK_U64(eps[0]->log2[12], 1);
	CHECK_U64(eps[0]->log2[16], 1);

	tstp_endpoint_summary(eps[4], &s);
	CHECK_U64(s.method, TSTP_PCT_NONE);
	tstp_stats_free(&table);
}

static void test_endpoint_bound_and_ipv4_key(void)
{
	struct tstp_exchange a = server_exchange("\x0a\x00\x00\x01", 80, 1000);
	struct tstp_exchange b = server_exchange("\x0a\x00\x00\x01", 80, 2000);
	struct tstp_exchange c = server_exchange("\x0a\x00\x00\x02", 80, 3000);
	struct tstp_exchange d = server_exchange("\x0a\x00\x00\x03", 80, 4000);

	/* Bytes past an IPv4 address are not part of the key. */
	memset(b.laddr + 4, 0x55, 12);
	CHECK(tstp_stats_init(&table, 2) == 0);
	CHECK(tstp_stats_add_exchange(&table, &a) == 0);
	CHECK(tstp_stats_add_exchange(&table, &b) == 0);
	CHECK_U64(table.used, 1);
	CHECK(tstp_stats_add_exchange(&table, &c) == 0);
	CHECK(tstp_stats_add_exchange(&table, &d) == 0);
	CHECK_U64(table.used, 2);
	CHECK_U64(table.overflow_records, 1);
	a.role = 9;
	CHECK(tstp_stats_add_exchange(&table, &a) == 0);
	CHECK_U64(table.unknown_role, 1);
	tstp_stats_free(&table);
}

int main(void)
{
	RUN_TEST(test_loglinear_buckets);
	RUN_TEST(test_log2_buckets);
	RUN_TEST(test_loglinear_percentiles);
	RUN_TEST(test_merged_with_kernel_hist);
	RUN_TEST(test_endpoint_bound_and_ipv4_key);
	return CHECK_EXIT_CODE();
}
