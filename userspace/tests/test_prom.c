// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Unit tests of the Prometheus side: the exposition writer (escaping, the
 * states metrics), the sample-line parser, and the mapping of tcpstap's
 * latency histograms to tcpkit's JSON buckets.
 */
#include <math.h>

#include "check.h"
#include "tcpstap/prom.h"

static char out[65536];

static FILE *mem(void)
{
	memset(out, 0, sizeof(out));
	return fmemopen(out, sizeof(out) - 1, "w");
}

static void test_prom_writer_escapes(void)
{
	FILE *f = mem();
	const char *l[] = { "path", "a\\b\"c\nd", "x", "1", NULL };

	CHECK(f);
	tstp_prom_family(f, "t_total", "counter", "Help with \\ and\nnewline.");
	tstp_prom_u64(f, "t_total", l, 18446744073709551615ull);
	tstp_prom_u64(f, "t_total", NULL, 0);
	tstp_prom_double(f, "t_total", NULL, 0.25);
	tstp_prom_double(f, "t_total", NULL, INFINITY);
	fclose(f);
	CHECK_STR(out, "# HELP t_total Help with \\\\ and\\nnewline.\n"
		  "# TYPE t_total counter\n"
		  "t_total{path=\"a\\\\b\\\"c\\nd\",x=\"1\"} 18446744073709551615\n"
		  "t_total 0\n"
		  "t_total 0.25\n"
		  "t_total +Inf\n");
}

static void test_prom_parser_roundtrip(void)
{
	struct tstp_prom_sample s;
	const char *l[] = { "path", "a\\b\"c\nd", NULL };
	FILE *f = mem();

	CHECK(f);
	tstp_prom_u64(f, "m", l, 7);
	fclose(f);
	CHECK(tstp_prom_parse_line(out, strlen(out) - 1, &s) == TSTP_PROM_SAMPLE);
	CHECK_STR(s.name, "m");
	CHECK_U64(s.nlabels, 1);
	CHECK_STR(tstp_prom_label(&s, "path"), "a\\b\"c\nd");
	CHECK(s.value == 7);
}

static void test_prom_parser_lines(void)
{
	static const struct {
		const char *line;
		enum tstp_prom_line kind;
		double value;
	} cases[] = {
		{ "a 1", TSTP_PROM_SAMPLE, 1 },
		{ "a:b_c{x=\"1\",y=\"\"} -2.5e3 1700000000000", TSTP_PROM_SAMPLE, -2500 },
		{ "a{x=\"1\",} 3", TSTP_PROM_SAMPLE, 3 },
		{ "a +Inf", TSTP_PROM_SAMPLE, INFINITY },
		{ "a 1\r", TSTP_PROM_SAMPLE, 1 },
		{ "", TSTP_PROM_BLANK, 0 },
		{ "   ", TSTP_PROM_BLANK, 0 },
		{ "# a comment", TSTP_PROM_COMMENT, 0 },
		{ "# HELP a some help", TSTP_PROM_META, 0 },
		{ "# TYPE a histogram", TSTP_PROM_META, 0 },
		{ "# TYPE a hist", TSTP_PROM_INVALID, 0 },
		{ "a", TSTP_PROM_INVALID, 0 },
		{ "a inf", TSTP_PROM_INVALID, 0 },
		{ "a 0x10", TSTP_PROM_INVALID, 0 },
		{ "a 1 2.5", TSTP_PROM_INVALID, 0 },
		{ "1a 1", TSTP_PROM_INVALID, 0 },
		{ "a{x=1} 1", TSTP_PROM_INVALID, 0 },
		{ "a{x=\"1\" 1", TSTP_PROM_INVALID, 0 },
		{ "a{x=\"\\q\"} 1", TSTP_PROM_INVALID, 0 },
		{ "a{:x=\"1\"} 1", TSTP_PROM_INVALID, 0 },
		{ "a {x=\"1\"} 1", TSTP_PROM_INVALID, 0 },
	};
	struct tstp_prom_sample s;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tstp_prom_line k = tstp_prom_parse_line(cases[i].line, strlen(cases[i].line), &s);

		if (k != cases[i].kind)
			CHECK_FAIL("[%s]: kind %d, want %d", cases[i].line, k, cases[i].kind);
		if (k == TSTP_PROM_SAMPLE && s.value != cases[i].value)
			CHECK_FAIL("[%s]: value %g, want %g", cases[i].line, s.value, cases[i].value);
	}
	CHECK(tstp_prom_parse_line("# TYPE x_y gauge", 16, &s) == TSTP_PROM_META);
	CHECK_STR(s.name, "x_y");
	CHECK(tstp_prom_valid_name("a_b:c9"));
	CHECK(!tstp_prom_valid_name("9a"));
	CHECK(!tstp_prom_valid_name("a-b"));
}

static void test_prom_states_output(void)
{
	struct tstp_states s;
	struct tstp_sock sk;
	struct tstp_listen_mib mib = { 1, 5, 6 };
	struct tstp_prom_sample ps;
	FILE *f;
	size_t off = 0, samples = 0, established_v4 = 0, listen_q = 0, remotes = 0;

	CHECK(tstp_states_init(&s, 10, 10) == 0);
	memset(&sk, 0, sizeof(sk));
	sk.family = 2;
	sk.state = TSTP_TCP_ESTABLISHED;
	sk.raddr[0] = 192;
	sk.raddr[3] = 1;
	for (int i = 0; i < 3; i++)
		CHECK(tstp_states_add(&s, &sk) == 0);
	sk.state = TSTP_TCP_LISTEN;
	sk.lport = 443;
	sk.rqueue = 2;
	sk.wqueue = 511;
	CHECK(tstp_states_add(&s, &sk) == 0);
	f = mem();
	CHECK(f);
	tstp_prom_states(f, &s, &mib, 5);
	fclose(f);
	/* Every line parses; every sample follows its family's TYPE. */
	while (out[off]) {
		char *nl = strchr(out + off, '\n');
		size_t l = (size_t)(nl - out - off);
		enum tstp_prom_line k;

		CHECK(nl);
		k = tstp_prom_parse_line(out + off, l, &ps);
		if (k == TSTP_PROM_INVALID)
			CHECK_FAIL("invalid line: %.*s", (int)l, out + off);
		if (k == TSTP_PROM_SAMPLE) {
			samples++;
			if (strcmp(ps.name, "tcpstap_tcp_connections") == 0 &&
			    strcmp(tstp_prom_label(&ps, "state"), "established") == 0 &&
			    strcmp(tstp_prom_label(&ps, "family"), "ipv4") == 0)
				established_v4 = (size_t)ps.value;
			if (strcmp(ps.name, "tcpstap_tcp_listen_queue_length") == 0) {
				CHECK_STR(tstp_prom_label(&ps, "laddr"), "0.0.0.0");
				CHECK_STR(tstp_prom_label(&ps, "lport"), "443");
				listen_q = (size_t)ps.value;
			}
			if (strcmp(ps.name, "tcpstap_tcp_connections_by_remote") == 0) {
				CHECK_STR(tstp_prom_label(&ps, "raddr"), "192.0.0.1");
				remotes = (size_t)ps.value;
			}
		}
		off += l + 1;
	}
	CHECK_U64(established_v4, 3);
	CHECK_U64(listen_q, 2);
	CHECK_U64(remotes, 3);
	/* 22 state series, 2+2 queues, 3 listener, 1 remote, 1 addresses, 2 untracked, 2 mib */
	CHECK_U64(samples, 22 + 4 + 3 + 1 + 1 + 2 + 2);
	CHECK(strstr(out, "# TYPE tcpstap_tcp_listen_overflows_total counter\ntcpstap_tcp_listen_overflows_total 5\n"));
	tstp_states_free(&s);
}

static void feed(struct tstp_tcpkit *t, const char *text)
{
	struct tstp_prom_sample s;
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (tstp_prom_parse_line(p, l, &s) == TSTP_PROM_SAMPLE)
			tstp_tcpkit_add(t, &s);
		p += l + (nl ? 1 : 0);
	}
}

#define EP "role=\"server\",addr=\"10.0.0.1\",port=\"6379\""

static void test_tcpkit_exact_buckets(void)
{
	struct tstp_tcpkit t;
	FILE *f;

	/* The bucket bounds tcpkit uses: an exact mapping. 29 exchanges. */
	tstp_tcpkit_init(&t, 10);
	feed(&t,
	     "tcpstap_latency_exchange_seconds_bucket{" EP ",le=\"0.0001\"} 2\n"
	     "tcpstap_latency_exchange_seconds_bucket{" EP ",le=\"0.0002\"} 3\n"
	     "tcpstap_latency_exchange_seconds_bucket{" EP ",le=\"0.0005\"} 3\n"
	     "tcpstap_latency_exchange_seconds_bucket{" EP ",le=\"0.001\"} 10\n"
	     "tcpstap_latency_exchange_seconds_bucket{" EP ",le=\"0.005\"} 17\n"
	     "tcpstap_latency_exchange_seconds_bucket{" EP ",le=\"20\"} 23\n"
	     "tcpstap_latency_exchange_seconds_bucket{" EP ",le=\"+Inf\"} 29\n"
	     "tcpstap_latency_exchange_seconds_count{" EP "} 29\n"
	     "tcpstap_latency_request_bytes_total{" EP "} 1000\n"
	     "tcpstap_latency_response_bytes_total{" EP "} 5000\n"
	     "other_metric{" EP "} 1\n");
	tstp_tcpkit_finish(&t);
	CHECK_U64(t.n, 1);
	CHECK_STR(t.ep[0].key, "10.0.0.1:6379");
	CHECK_U64(t.ep[0].requests, 29);
	CHECK_U64(t.ep[0].responses, 29);
	CHECK_U64(t.ep[0].request_bytes, 1000);
	CHECK_U64(t.ep[0].response_bytes, 5000);
	CHECK_U64(t.ep[0].buckets[0], 2);	/* <0.1ms */
	CHECK_U64(t.ep[0].buckets[1], 1);	/* 0.1ms~0.2ms */
	CHECK_U64(t.ep[0].buckets[2], 0);
	CHECK_U64(t.ep[0].buckets[3], 7);	/* 0.5ms~1ms */
	CHECK_U64(t.ep[0].buckets[4], 7);	/* 1ms~5ms */
	/* (5 ms, 20 s] straddles tcpkit bounds: all 6 go to the upper one, 10s~20s. */
	CHECK_U64(t.ep[0].buckets[16], 6);
	CHECK_U64(t.ep[0].buckets[17], 6);	/* +inf */
	CHECK_U64(t.approximate, 1);
	f = mem();
	CHECK(f);
	tstp_tcpkit_json(f, &t);
	fclose(f);
	CHECK(strstr(out, "\"10.0.0.1:6379\":\t{\n\t\t\"requests\":\t29,\n\t\t\"request_bytes\":\t1000,"));
	CHECK(strstr(out, "\"latency\":\t[{\n\t\t\t\t\"<0.1ms\":\t2\n\t\t\t}, {\n\t\t\t\t\"0.1ms~0.2ms\":\t1\n"));
	CHECK(!strstr(out, "0.2~0.5ms"));	/* empty buckets are left out, as tcpkit does */
	tstp_tcpkit_free(&t);
}

static void test_tcpkit_roles_and_ipv6(void)
{
	struct tstp_tcpkit t;

	tstp_tcpkit_init(&t, 2);
	feed(&t,
	     "tcpstap_latency_exchange_seconds_count{role=\"client\",addr=\"10.0.0.1\",port=\"80\"} 5\n"
	     "tcpstap_latency_exchange_seconds_count{role=\"server\",addr=\"10.0.0.1\",port=\"80\"} 7\n"
	     "tcpstap_latency_exchange_seconds_count{role=\"client\",addr=\"10.0.0.1\",port=\"80\"} 9\n"
	     "tcpstap_latency_exchange_seconds_count{role=\"server\",addr=\"fd00::1\",port=\"6379\"} 3\n"
	     "tcpstap_latency_exchange_seconds_count{role=\"server\",addr=\"10.9.9.9\",port=\"1\"} 1\n"
	     "tcpstap_latency_exchange_seconds_count{role=\"other\",addr=\"10.0.0.1\",port=\"81\"} 1\n");
	tstp_tcpkit_finish(&t);
	CHECK_U64(t.n, 2);
	CHECK_STR(t.ep[0].key, "10.0.0.1:80");
	CHECK_U64(t.ep[0].requests, 7);		/* the server's, not the client's */
	CHECK_STR(t.ep[1].key, "[fd00::1]:6379");
	CHECK_U64(t.dropped, 1);		/* beyond the bound of 2 */
	tstp_tcpkit_free(&t);
}

int main(void)
{
	RUN_TEST(test_prom_writer_escapes);
	RUN_TEST(test_prom_parser_roundtrip);
	RUN_TEST(test_prom_parser_lines);
	RUN_TEST(test_prom_states_output);
	RUN_TEST(test_tcpkit_exact_buckets);
	RUN_TEST(test_tcpkit_roles_and_ipv6);
	return CHECK_EXIT_CODE();
}
