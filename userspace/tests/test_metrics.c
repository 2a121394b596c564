// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The Prometheus text a loader writes for the exporter: families, buckets, sums. */
#include "check.h"
#include "tcpstap/metrics.h"

static struct tstp_stats_table table;

static struct tstp_exchange server_exchange(uint64_t total_ns)
{
	struct tstp_exchange x;

	memset(&x, 0, sizeof(x));
	x.hdr.type = TSTP_REC_EXCHANGE;
	x.role = TSTP_ROLE_SERVER;
	x.family = 2;
	x.lport = 6379;
	memcpy(x.laddr, "\x0a\x00\x00\x01", 4);
	x.t_rx_first = 1000;
	x.t_tx_last = 1000 + total_ns;
	return x;
}

static char *render(const struct tstp_metrics_input *in)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (tstp_metrics_write(f, in) != 0) {
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	return text;
}

static void test_metrics_latency(void)
{
	struct tstp_exchange a = server_exchange(3000000), b = server_exchange(300000);	/* 3 ms, 300 us */
	struct tstp_stats st;
	struct tstp_hist h;
	struct tstp_metrics_input in = { .module = "tcpstap_latency", .stats = &st, .latency = &table,
					 .records_lost = 7 };
	char *text;

	memset(&st, 0, sizeof(st));
	st.armed = 1;
	st.probe_hits = 10;
	st.probe_ns = 1500000001;
	st.exchanges = 5;
	memset(&h, 0, sizeof(h));
	h.role = TSTP_ROLE_SERVER;
	h.family = 2;
	h.port = 6379;
	memcpy(h.addr, "\x0a\x00\x00\x01", 4);
	h.count = 3;
	h.sum_us = 30;
	h.bucket[4] = 3;	/* [8, 16) us */
	CHECK(tstp_stats_init(&table, 16) == 0);
	CHECK(tstp_stats_add_exchange(&table, &a) == 0);
	CHECK(tstp_stats_add_exchange(&table, &b) == 0);
	CHECK(tstp_stats_add_hist(&table, &h) == 0);
	text = render(&in);
	CHECK(text);
	if (!strstr(text, "# TYPE tcpstap_latency_exchange_seconds histogram\n") ||
	    !strstr(text, "tcpstap_module_probe_seconds_total{module=\"tcpstap_latency\"} 1.5\n") ||
	    !strstr(text, "tcpstap_reader_records_lost_total{module=\"tcpstap_latency\"} 7\n") ||
	    /* 3 below 16 us, then 300 us < 512 us, then 3 ms < 4.096 ms */
	    !strstr(text, "addr=\"10.0.0.1\",port=\"6379\",le=\"1.6e-05\"} 3\n") ||
	    !strstr(text, "addr=\"10.0.0.1\",port=\"6379\",le=\"0.000512\"} 4\n") ||
	    !strstr(text, "addr=\"10.0.0.1\",port=\"6379\",le=\"0.004096\"} 5\n") ||
	    !strstr(text, "addr=\"10.0.0.1\",port=\"6379\",le=\"+Inf\"} 5\n") ||
	    !strstr(text, "_sum{module=\"tcpstap_latency\",role=\"server\",addr=\"10.0.0.1\",port=\"6379\"} 0.00333\n") ||
	    !strstr(text, "_count{module=\"tcpstap_latency\",role=\"server\",addr=\"10.0.0.1\",port=\"6379\"} 5\n") ||
	    !strstr(text, "tcpstap_latency_exchanges_total{module=\"tcpstap_latency\"} 5\n")) {
		printf("%s", text);
		free(text);
		tstp_stats_free(&table);
		CHECK_FAIL("exposition text (above) lacks an expected line");
	}
	free(text);
	tstp_stats_free(&table);
}

static void test_metrics_without_stats(void)
{
	struct tstp_metrics_input in = { .module = "tcpstap_connect" };
	char *text = render(&in);

	CHECK(text);
	/* Only what is known: the reader's own loss counter. */
	if (strstr(text, "armed") || !strstr(text, "tcpstap_reader_records_lost_total{module=\"tcpstap_connect\"} 0\n")) {
		free(text);
		CHECK_FAIL("unexpected text without a STATS record");
	}
	free(text);
}

int main(void)
{
	RUN_TEST(test_metrics_latency);
	RUN_TEST(test_metrics_without_stats);
	return CHECK_EXIT_CODE();
}
