// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Text and JSON renderings, stage splits, times, escaping. */
#include <time.h>

#include "check.h"
#include "tcpstap/format.h"

static struct tstp_decoder dec;
static struct collected got;
static char line[TSTP_LINE_MAX];

static int load_clean(void)
{
	size_t len = 0;
	uint8_t *buf = read_fixture("clean.tstp", &len);

	if (!buf)
		return -1;
	memset(&got, 0, sizeof(got));
	decode_chunked(&dec, &got, buf, len, 0);
	free(buf);
	return got.n == 10 ? 0 : -1;
}

static const char *text_of(size_t i, enum tstp_time_style style)
{
	struct tstp_format_opts o = { .time_style = style };
	struct tstp_buf b;

	tstp_buf_init(&b, line, sizeof(line));
	if (got.rec[i].hdr.type == TSTP_REC_EXCHANGE)
		tstp_format_exchange_text(&b, &o, &got.clock_at[i], &got.rec[i].exchange);
	else
		tstp_format_other_text(&b, &o, &got.clock_at[i], &got.rec[i]);
	return line;
}

static const char *json_of(size_t i)
{
	struct tstp_format_opts o = { .time_style = TSTP_TIME_UTC };
	struct tstp_buf b;

	tstp_buf_init(&b, line, sizeof(line));
	tstp_format_exchange_json(&b, &o, &got.clock_at[i], &got.rec[i].exchange);
	return line;
}

static void test_server_text(void)
{
	CHECK(load_clean() == 0);
	CHECK_STR(text_of(1, TSTP_TIME_UTC),
		  "2026-11-23 05:48:01.123456 10.0.0.1:51137 => 10.0.0.2:6379 | server | 50.312 ms"
		  " | recv 0.000 queue 0.010 app 50.250 send 0.052 xmit 0.000 | 31 B / 5 B\n");
	/* Sub-microsecond stages round to the nearest us in text. */
	CHECK_STR(text_of(2, TSTP_TIME_UTC),
		  "2026-11-23 05:48:02.500000 [2001:db8::1]:40000 => [2001:db8::2]:443 | server | 1.172 ms"
		  " | recv 0.001 queue 0.021 app 1.000 send 0.030 xmit 0.120 | 517 B / 16384 B"
		  " | pipelined,retrans\n");
}

static void test_client_text(void)
{
	CHECK(load_clean() == 0);
	CHECK_STR(text_of(3, TSTP_TIME_UTC),
		  "2026-11-23 05:48:03.000000 10.0.0.5:33000 => 10.0.0.9:5432 | client | 1.350 ms"
		  " | send 0.020 wait 1.175 recv 0.100 read 0.050 | 64 B / 2048 B\n");
	CHECK_STR(text_of(4, TSTP_TIME_UTC),
		  "2026-11-23 05:48:04.000000 [2001:db8::5]:50000 => [2001:db8::9]:8080 | client | - ms"
		  " | send 0.015 wait 0.485 recv - read - | 100 B / 0 B | incomplete\n");
}

static void test_negative_stage(void)
{
	CHECK(load_clean() == 0);
	CHECK_STR(text_of(5, TSTP_TIME_UTC),
		  "2026-11-23 05:48:05.000000 10.0.0.7:40001 => 10.0.0.2:11211 | server | 0.061 ms"
		  " | recv 0.003 queue - app 0.048 send 0.010 xmit 0.001 | 40 B / 1200 B"
		  " | preexisting,negative\n");
}

static void test_exchange_json(void)
{
	CHECK(load_clean() == 0);
	CHECK_STR(json_of(2),
		  "{\"ts\":\"2026-11-23T05:48:02.500000Z\",\"role\":\"server\",\"laddr\":\"2001:db8::2\","
		  "\"lport\":443,\"raddr\":\"2001:db8::1\",\"rport\":40000,\"req_bytes\":517,"
		  "\"resp_bytes\":16384,\"req_seq\":1000001,\"resp_seq\":2000001,\"retrans\":2,"
		  "\"srtt_us\":250,\"flags\":[\"pipelined\",\"retrans\"],\"total_us\":1172.000,"
		  "\"pid\":77,\"comm\":\"nginx\",\"recv_us\":1.499,\"queue_us\":20.500,"
		  "\"app_us\":1000.000,\"send_us\":30.000,\"xmit_us\":120.001}\n");
	/* Missing stages are null; comm bytes are escaped. */
	CHECK_STR(json_of(4),
		  "{\"ts\":\"2026-11-23T05:48:04.000000Z\",\"role\":\"client\",\"laddr\":\"2001:db8::5\","
		  "\"lport\":50000,\"raddr\":\"2001:db8::9\",\"rport\":8080,\"req_bytes\":100,"
		  "\"resp_bytes\":0,\"req_seq\":1000001,\"resp_seq\":2000001,\"retrans\":0,"
		  "\"srtt_us\":0,\"flags\":[\"incomplete\"],\"total_us\":null,\"pid\":31337,"
		  "\"comm\":\"ab\\\"c\\\\d\\u0001\",\"send_us\":15.000,\"wait_us\":485.000,"
		  "\"recv_us\":null,\"read_us\":null}\n");
}

static void test_exchange_view(void)
{
	struct tstp_exchange_view v;
	uint64_t ns = 1;

	CHECK(load_clean() == 0);
	tstp_exchange_view(&got.rec[4].exchange, &v);
	CHECK_STR(v.role, "client");
	CHECK_U64(v.nstages, 4);
	CHECK_STR(v.stage[1].name, "wait");
	CHECK_U64(v.stage[1].ns, 485000);
	CHECK_U64(v.stage[2].state, TSTP_STAGE_MISSING);
	CHECK_U64(v.total.state, TSTP_STAGE_MISSING);
	CHECK(tstp_exchange_total_ns(&got.rec[4].exchange, &ns) == -1);
	CHECK(!v.negative);
	CHECK_U64(v.start_ns, 1004000000000ull);
	tstp_exchange_view(&got.rec[5].exchange, &v);
	CHECK_U64(v.stage[1].state, TSTP_STAGE_NEGATIVE);
	CHECK(v.negative);
	CHECK(tstp_exchange_total_ns(&got.rec[5].exchange, &ns) == 0);
	CHECK_U64(ns, 61000);
}

static void test_other_records_text(void)
{
	CHECK(load_clean() == 0);
	CHECK_STR(text_of(0, TSTP_TIME_UTC),
		  "2026-11-23 05:48:00.000000 anchor | producer latency | threshold 1000 us"
		  " | sample 1/1 | budget unlimited\n");
	CHECK_STR(text_of(6, TSTP_TIME_UTC),
		  "2026-11-23 05:48:05.500000 hist | server 10.0.0.2:6379 | interval 1000 ms"
		  " | count 10 sum 790 min 4 max 700 us | 4-7:6 16-31:3 512-1023:1\n");
	CHECK_STR(text_of(9, TSTP_TIME_UTC),
		  "2026-11-23 05:48:07.000000 stats | probe hits 1000 cost 750 ns/hit | exchanges 16"
		  " emitted 6 below_threshold 10 dropped_rate 0 | sockets 4 closed 3 evicted 0"
		  " sampled_out 0 | armed yes\n");
}

static const char *time_of(const struct tstp_clock *clock, enum tstp_time_style style, uint64_t ts)
{
	struct tstp_time_cache cache = { 0 };
	struct tstp_buf b;

	tstp_buf_init(&b, line, sizeof(line));
	tstp_buf_time(&b, &cache, style, clock, ts);
	return line;
}

static void test_times(void)
{
	struct tstp_clock none = { 0 };
	struct tstp_clock anchored = { 1, 1000000000000ull, 1795412880000000000ull };

	/* Before any anchor: monotonic seconds. */
	CHECK_STR(time_of(&none, TSTP_TIME_ISO, 1001123456789ull), "1001.123456");
	CHECK_STR(time_of(&none, TSTP_TIME_LOCAL, 5000), "0.000005");
	CHECK_STR(time_of(&anchored, TSTP_TIME_ISO, 1001123456789ull), "2026-11-23T05:48:01.123456Z");
	/* A timestamp before the anchor maps backwards, across a second boundary. */
	CHECK_STR(time_of(&anchored, TSTP_TIME_UTC, 999999999000ull), "2026-11-23 05:47:59.999999");
	setenv("TZ", "UTC", 1);
	tzset();
	CHECK_STR(time_of(&anchored, TSTP_TIME_LOCAL, 1000000000000ull), "2026-11-23 05:48:00.000000");
}

static void test_numbers_and_buffers(void)
{
	struct tstp_buf b;
	char small[10];

	tstp_buf_init(&b, line, sizeof(line));
	tstp_buf_ns_as_ms(&b, 1499);
	tstp_buf_put(&b, " ", 1);
	tstp_buf_ns_as_ms(&b, 1500);
	tstp_buf_put(&b, " ", 1);
	tstp_buf_ns_as_ms(&b, 999999500);
	tstp_buf_put(&b, " ", 1);
	tstp_buf_milli(&b, 7);
	tstp_buf_put(&b, " ", 1);
	tstp_buf_u64(&b, UINT64_MAX);
	CHECK_STR(line, "0.001 0.002 1000.000 0.007 18446744073709551615");
	CHECK(!b.overflow);

	tstp_buf_init(&b, small, sizeof(small));
	tstp_buf_str(&b, "0123456789abcdef");
	CHECK(b.overflow);
	CHECK_U64(b.len, 9);
	CHECK_STR(small, "012345678");

	tstp_buf_init(&b, line, sizeof(line));
	tstp_buf_json_string(&b, "a\tb\n\x7f\xc3\xa9", 7);
	CHECK_STR(line, "\"a\\u0009b\\u000a\\u007f\\u00c3\\u00a9\"");
}

static void test_addresses_and_flags(void)
{
	static const uint8_t v4[16] = { 192, 168, 1, 254 };
	static const uint8_t v6[16] = { [15] = 1 };
	struct tstp_buf b;

	tstp_buf_init(&b, line, sizeof(line));
	tstp_buf_addr(&b, 2, v4, 65535);
	tstp_buf_put(&b, " ", 1);
	tstp_buf_addr(&b, 10, v6, 0);
	tstp_buf_put(&b, " ", 1);
	tstp_buf_addr(&b, 10, v6, -1);
	tstp_buf_put(&b, " ", 1);
	tstp_buf_addr(&b, 7, v6, 80);
	tstp_buf_put(&b, " ", 1);
	tstp_buf_flags(&b, 0x1f | 0x100, 1);
	CHECK_STR(line, "192.168.1.254:65535 [::1]:0 ::1 ?:80 "
		  "pipelined,incomplete,evicted,preexisting,retrans,0x100,negative");
}

static void test_decode_summary(void)
{
	struct tstp_decode_counters c = { 0 };
	struct tstp_buf b;

	c.records = 10;
	c.lost_bytes = 37;
	c.resyncs = 1;
	c.first_loss_offset = 384;
	c.truncated = 1;
	c.truncated_bytes = 62;
	c.truncated_expected = 112;
	c.seq_lost = 3;
	c.unknown = 2;
	tstp_buf_init(&b, line, sizeof(line));
	tstp_buf_decode_summary(&b, &c);
	CHECK_STR(line, "10 records decoded, 37 bytes lost to resync (1 resyncs, first at offset 384),"
		  " 1 truncated tail (62 of 112 bytes), 3 records lost in sequence gaps,"
		  " 2 unknown-type records skipped");
}

int main(void)
{
	RUN_TEST(test_server_text);
	RUN_TEST(test_client_text);
	RUN_TEST(test_negative_stage);
	RUN_TEST(test_exchange_json);
	RUN_TEST(test_exchange_view);
	RUN_TEST(test_other_records_text);
	RUN_TEST(test_times);
	RUN_TEST(test_numbers_and_buffers);
	RUN_TEST(test_addresses_and_flags);
	RUN_TEST(test_decode_summary);
	return CHECK_EXIT_CODE();
}
