// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Connection-health records and the watch rules: decoding and rendering of
 * the new record types, the config file syntax, and each rule against a
 * known injected condition (and a near miss that must not alert).
 */
#include "check.h"
#include "tcpstap/format.h"
#include "tcpstap/health.h"
#include "tcpstap/rules.h"

#define S 1000000000ull

static void hdr(struct tstp_hdr *h, unsigned type, size_t len, uint64_t ts)
{
	static uint32_t seq;

	h->magic = TSTP_MAGIC;
	h->version = TSTP_VERSION;
	h->type = (uint8_t)type;
	h->length = (uint16_t)len;
	h->seq = ++seq;
	h->ts_ns = ts;
}

static void ip4(uint8_t a[16], unsigned d)
{
	memset(a, 0, 16);
	a[0] = 10;
	a[1] = 77;
	a[2] = 0;
	a[3] = (uint8_t)d;
}

static union tstp_record connect_rec(unsigned role, unsigned outcome, unsigned raddr, unsigned rport,
				     uint64_t t_syn)
{
	union tstp_record r;

	memset(&r, 0, sizeof(r));
	hdr(&r.hdr, TSTP_REC_CONNECT, sizeof(r.connect), t_syn + 2000000);
	r.connect.role = (uint8_t)role;
	r.connect.family = 2;
	r.connect.outcome = (uint8_t)outcome;
	r.connect.lport = role == TSTP_ROLE_SERVER ? 80 : (uint16_t)rport;
	r.connect.rport = role == TSTP_ROLE_SERVER ? (uint16_t)rport : 80;
	ip4(r.connect.laddr, 1);
	ip4(r.connect.raddr, raddr);
	r.connect.t_syn = t_syn;
	r.connect.t_established = t_syn + 1000000;
	r.connect.t_accepted = role == TSTP_ROLE_SERVER ? t_syn + 1500000 : 0;
	return r;
}

static union tstp_record state_rec(unsigned type, unsigned old, unsigned new, unsigned raddr,
				   unsigned rport, uint64_t ts)
{
	union tstp_record r;

	memset(&r, 0, sizeof(r));
	hdr(&r.hdr, type, sizeof(r.state), ts);
	r.state.family = 2;
	r.state.old_state = (uint8_t)old;
	r.state.new_state = (uint8_t)new;
	r.state.flags = TSTP_SF_PASSIVE;
	r.state.lport = 80;
	r.state.rport = (uint16_t)rport;
	ip4(r.state.laddr, 1);
	ip4(r.state.raddr, raddr);
	return r;
}

static union tstp_record listen_rec(unsigned lport, uint64_t dropped, uint64_t total,
				    unsigned backlog, unsigned max_backlog, uint64_t ts)
{
	union tstp_record r;

	memset(&r, 0, sizeof(r));
	hdr(&r.hdr, TSTP_REC_LISTEN, sizeof(r.listen), ts);
	r.listen.family = 2;
	r.listen.lport = (uint16_t)lport;
	r.listen.overflows = dropped;
	r.listen.overflows_total = total;
	r.listen.backlog = backlog;
	r.listen.max_backlog = max_backlog;
	return r;
}

static union tstp_record tick(uint64_t ts)
{
	union tstp_record r;

	memset(&r, 0, sizeof(r));
	hdr(&r.hdr, TSTP_REC_STATS, sizeof(r.stats), ts);
	return r;
}

/* ---- an alert collector ---- */

#define MAX_ALERTS 16
static struct tstp_alert alerts[MAX_ALERTS];
static unsigned nalerts;

static void collect(const struct tstp_alert *a, const struct tstp_clock *clock, void *ctx)
{
	(void)clock;
	(void)ctx;
	if (nalerts < MAX_ALERTS)
		alerts[nalerts] = *a;
	nalerts++;
}

static const struct tstp_clock no_clock;

static struct tstp_rules *rules_with(const char *config)
{
	struct tstp_rules_config c;
	char err[256];

	tstp_rules_config_defaults(&c);
	if (config && tstp_rules_config_parse(&c, config, strlen(config), "test", err, sizeof(err)) != 0) {
		printf("config: %s\n", err);
		return NULL;
	}
	nalerts = 0;
	return tstp_rules_new(&c, collect, NULL);
}

static void feed(struct tstp_rules *r, union tstp_record rec)
{
	tstp_rules_record(r, &rec, &no_clock);
}

static const char *field_text(const struct tstp_alert *a, const char *key)
{
	for (unsigned i = 0; i < a->nfields; i++)
		if (strcmp(a->field[i].key, key) == 0)
			return a->field[i].is_text ? a->field[i].text : "(number)";
	return "(none)";
}

static uint64_t field_num(const struct tstp_alert *a, const char *key)
{
	for (unsigned i = 0; i < a->nfields; i++)
		if (strcmp(a->field[i].key, key) == 0)
			return a->field[i].num;
	return ~0ull;
}

/* ---- tests ---- */

static void test_record_sizes_decode(void)
{
	static const unsigned types[] = { TSTP_REC_CONNECT, TSTP_REC_LISTEN, TSTP_REC_RETRANS,
					  TSTP_REC_TOTALS, TSTP_REC_STATE, TSTP_REC_SNAPSHOT,
					  TSTP_REC_SNAPSHOT_END };
	static uint8_t buf[8192];
	struct tstp_decoder dec;
	size_t pos = 0;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t len = tstp_record_min_length(types[i]);
		struct tstp_hdr h;

		CHECK(len >= sizeof(struct tstp_hdr) && len % 8 == 0);
		memset(&h, 0, sizeof(h));
		hdr(&h, types[i], len, 1000 + i);
		h.seq = (uint32_t)i + 1;
		memset(buf + pos, 0, len);
		memcpy(buf + pos, &h, sizeof(h));
		pos += len;
	}
	/* A CONNECT record too short for its type: rejected, resynced past. */
	{
		struct tstp_hdr h;

		memset(&h, 0, sizeof(h));
		hdr(&h, TSTP_REC_CONNECT, 64, 5000);
		h.seq = 8;
		memset(buf + pos, 0, 64);
		memcpy(buf + pos, &h, sizeof(h));
		pos += 64;
	}
	tstp_decoder_init(&dec, NULL, NULL);
	tstp_decoder_feed(&dec, buf, pos);
	tstp_decoder_finish(&dec);
	CHECK_U64(dec.count.records, 7);
	CHECK_U64(dec.count.by_type[TSTP_REC_CONNECT], 1);
	CHECK_U64(dec.count.by_type[TSTP_REC_SNAPSHOT_END], 1);
	CHECK_U64(dec.count.unknown, 0);
	CHECK_U64(dec.count.lost_bytes, 64);
}

static void test_connect_text(void)
{
	union tstp_record r = connect_rec(TSTP_ROLE_CLIENT, TSTP_CONN_TIMEOUT, 9, 5557, 10 * S);
	struct tstp_format_opts o = { .time_style = TSTP_TIME_UTC };
	char line[TSTP_LINE_MAX];
	struct tstp_buf b;

	r.connect.error = 110;
	r.connect.t_established = 0;
	r.connect.t_end = 17 * S + 5000000;
	r.connect.syn_retrans = 2;
	r.connect.retrans_us[0] = 1001456;
	r.connect.retrans_us[1] = 3022433;
	r.connect.pid = 42;
	memcpy(r.connect.comm, "curl", 4);
	tstp_buf_init(&b, line, sizeof(line));
	tstp_format_other_text(&b, &o, &no_clock, &r);
	CHECK_STR(line, "10.002000 connect client 10.77.0.1:5557 => 10.77.0.9:80 | timeout (errno 110) |"
		  " after 7005.000 ms | syn retrans 2 at 1.001 3.022 s | pid 42 curl\n");
	tstp_buf_init(&b, line, sizeof(line));
	tstp_format_other_json(&b, &o, &no_clock, &r);
	CHECK(strstr(line, "\"outcome\":\"timeout\",") != NULL);
	CHECK(strstr(line, "\"connect_us\":null,") != NULL);
	CHECK(strstr(line, "\"failed_after_us\":7005000.000,") != NULL);
	CHECK(strstr(line, "\"retrans_at_us\":[1001456,3022433],") != NULL);
}

static void test_server_connect_spans(void)
{
	union tstp_record r = connect_rec(TSTP_ROLE_SERVER, TSTP_CONN_ACCEPTED, 2, 40000, 10 * S);
	uint64_t ns = 0;

	CHECK(tstp_connect_latency_ns(&r.connect, &ns) == 0);
	CHECK_U64(ns, 1500000);
	CHECK(tstp_connect_handshake_ns(&r.connect, &ns) == 0);
	CHECK_U64(ns, 1000000);
	CHECK(tstp_connect_accept_wait_ns(&r.connect, &ns) == 0);
	CHECK_U64(ns, 500000);
	CHECK(tstp_connect_failed_after_ns(&r.connect, &ns) != 0);
}

static void test_state_text(void)
{
	union tstp_record r = state_rec(TSTP_REC_STATE, TSTP_TCP_ESTABLISHED, TSTP_TCP_CLOSE_WAIT, 2, 40000, 5 * S);
	struct tstp_format_opts o = { .time_style = TSTP_TIME_UTC };
	char line[TSTP_LINE_MAX];
	struct tstp_buf b;

	r.state.in_state_ns = 12345000000ull;
	r.state.flags |= TSTP_SF_SINCE_LOAD;
	r.state.bytes_sent = 10;
	r.state.bytes_received = 20;
	tstp_buf_init(&b, line, sizeof(line));
	tstp_format_other_text(&b, &o, &no_clock, &r);
	CHECK_STR(line, "5.000000 state 10.77.0.1:80 => 10.77.0.2:40000 | ESTABLISHED -> CLOSE_WAIT after"
		  " >= 12.345 s (since load) | sent 10 B received 20 B | retrans 0 | wnd 0/0 cwnd 0 srtt"
		  " 0.000 ms | passive\n");
}

static void test_config_file(void)
{
	struct tstp_rules_config c;
	char err[256];
	const char *good = "# watch settings\n\nconn-rate = 250   # per address\n  close-wait=5\r\nrepeat = 0\n";

	tstp_rules_config_defaults(&c);
	CHECK(tstp_rules_config_parse(&c, good, strlen(good), "w.conf", err, sizeof(err)) == 0);
	CHECK_U64(c.conn_rate, 250);
	CHECK_U64(c.close_wait_s, 5);
	CHECK_U64(c.repeat_s, 0);
	CHECK_U64(c.syn_sent_s, 10);
	CHECK(tstp_rules_config_parse(&c, "conn-rate = 1\nbogus = 3\n", 24, "w.conf", err, sizeof(err)) != 0);
	CHECK_STR(err, "w.conf:2: unknown setting 'bogus'");
	CHECK(tstp_rules_config_parse(&c, "close-wait = -1\n", 16, "w.conf", err, sizeof(err)) != 0);
	CHECK_STR(err, "w.conf:1: close-wait: '-1' is not a number in [0, 100000000]");
	CHECK(tstp_rules_config_parse(&c, "syn-sent 3\n", 11, "w.conf", err, sizeof(err)) != 0);
	CHECK_STR(err, "w.conf:1: expected 'setting = value'");
	CHECK(tstp_rules_config_set(&c, "max-conns", "12x", err, sizeof(err)) != 0);
}

static void test_conn_flood(void)
{
	struct tstp_rules *r = rules_with("conn-rate = 100\n");

	CHECK(r != NULL);
	/* 10.77.0.2: 151 in second 20; 10.77.0.3: 100 (the limit, not above it). */
	for (unsigned i = 0; i < 151; i++)
		feed(r, connect_rec(TSTP_ROLE_SERVER, TSTP_CONN_ACCEPTED, 2, 30000 + i, 20 * S + i * 5000000));
	for (unsigned i = 0; i < 100; i++)
		feed(r, connect_rec(TSTP_ROLE_SERVER, TSTP_CONN_ACCEPTED, 3, 30000 + i, 20 * S + i * 7000000));
	/* Clients we connect from are not "from one remote address". */
	for (unsigned i = 0; i < 200; i++)
		feed(r, connect_rec(TSTP_ROLE_CLIENT, TSTP_CONN_ESTABLISHED, 4, 30000 + i, 20 * S + i * 1000000));
	tstp_rules_finish(r, &no_clock);
	CHECK_U64(nalerts, 1);
	CHECK_STR(alerts[0].rule, "conn-flood");
	CHECK_STR(field_text(&alerts[0], "raddr"), "10.77.0.2");
	CHECK_U64(field_num(&alerts[0], "connections"), 151);
	tstp_rules_free(r);
}

static void test_close_wait(void)
{
	struct tstp_rules *r = rules_with("close-wait = 3\n");

	CHECK(r != NULL);
	feed(r, state_rec(TSTP_REC_STATE, TSTP_TCP_SYN_RECV, TSTP_TCP_ESTABLISHED, 2, 40000, 9 * S));
	feed(r, state_rec(TSTP_REC_STATE, TSTP_TCP_ESTABLISHED, TSTP_TCP_CLOSE_WAIT, 2, 40000, 10 * S));
	/* A second one that leaves CLOSE_WAIT in time. */
	feed(r, state_rec(TSTP_REC_STATE, TSTP_TCP_ESTABLISHED, TSTP_TCP_CLOSE_WAIT, 2, 40001, 10 * S));
	feed(r, tick(12 * S));
	feed(r, state_rec(TSTP_REC_STATE, TSTP_TCP_CLOSE_WAIT, TSTP_TCP_LAST_ACK, 2, 40001, 12 * S + 1));
	feed(r, state_rec(TSTP_REC_STATE, TSTP_TCP_LAST_ACK, TSTP_TCP_CLOSE, 2, 40001, 12 * S + 2));
	CHECK_U64(nalerts, 0);
	feed(r, tick(13 * S + 500000000));
	CHECK_U64(nalerts, 1);
	CHECK_STR(alerts[0].rule, "close-wait");
	CHECK_STR(field_text(&alerts[0], "local"), "10.77.0.1:80");
	CHECK_STR(field_text(&alerts[0], "remote"), "10.77.0.2:40000");
	CHECK_U64(field_num(&alerts[0], "seconds"), 3);
	CHECK(strstr(alerts[0].message, "in CLOSE_WAIT for 3.500 s (limit 3 s)") != NULL);
	/* Once per episode. */
	feed(r, tick(20 * S));
	tstp_rules_finish(r, &no_clock);
	CHECK_U64(nalerts, 1);
	tstp_rules_free(r);
}

static void test_slowloris_snapshot(void)
{
	struct tstp_rules *r = rules_with("slowloris-count = 5\nslowloris-age = 30\nslowloris-bytes = 100\n");
	union tstp_record e;

	CHECK(r != NULL);
	for (unsigned i = 0; i < 5; i++) {
		union tstp_record a = state_rec(TSTP_REC_SNAPSHOT, 1, 1, 2, 41000 + i, 100 * S);
		union tstp_record b = state_rec(TSTP_REC_SNAPSHOT, 1, 1, 3, 42000 + i, 100 * S);
		union tstp_record c = state_rec(TSTP_REC_SNAPSHOT, 1, 1, 4, 43000 + i, 100 * S);

		a.state.snapshot = b.state.snapshot = c.state.snapshot = 1;
		a.state.in_state_ns = b.state.in_state_ns = 40 * S;
		b.state.bytes_received = 1000;		/* busy: not idle */
		c.state.in_state_ns = 40 * S;
		c.state.flags = TSTP_SF_ACTIVE;		/* our own client sockets */
		feed(r, a);
		feed(r, b);
		feed(r, c);
	}
	memset(&e, 0, sizeof(e));
	hdr(&e.hdr, TSTP_REC_SNAPSHOT_END, sizeof(e.snapshot_end), 100 * S + 1);
	e.snapshot_end.snapshot = 1;
	e.snapshot_end.sockets = 15;
	feed(r, e);
	CHECK_U64(nalerts, 1);
	CHECK_STR(alerts[0].rule, "slowloris");
	CHECK_STR(field_text(&alerts[0], "raddr"), "10.77.0.2");
	CHECK_U64(field_num(&alerts[0], "connections"), 5);
	tstp_rules_finish(r, &no_clock);
	tstp_rules_free(r);
}

static void test_listen_and_retrans(void)
{
	struct tstp_rules *r = rules_with("retrans-rate = 10\nhost-retrans-rate = 50\n");
	union tstp_record t;

	CHECK(r != NULL);
	feed(r, listen_rec(5558, 8, 8, 2, 1, 5 * S));
	CHECK_U64(nalerts, 1);
	CHECK_STR(alerts[0].rule, "listen-overflow");
	CHECK_STR(field_text(&alerts[0], "listener"), "0.0.0.0:5558");
	/* 11 segments in second 6 on one flow, 10 on another (the limit). */
	for (unsigned i = 0; i < 21; i++) {
		union tstp_record x;

		memset(&x, 0, sizeof(x));
		hdr(&x.hdr, TSTP_REC_RETRANS, sizeof(x.retrans), 6 * S + i * 1000);
		x.retrans.kind = i % 2 ? TSTP_RT_FAST : TSTP_RT_TIMEOUT;
		x.retrans.family = 2;
		x.retrans.lport = i < 11 ? 1111 : 2222;
		x.retrans.rport = 80;
		x.retrans.segs = 1;
		feed(r, x);
	}
	/* Host-wide: 120 segments over 2 s = 60/s. */
	for (unsigned k = 0; k < 2; k++) {
		memset(&t, 0, sizeof(t));
		hdr(&t.hdr, TSTP_REC_TOTALS, sizeof(t.totals), (10 + 2 * k) * S);
		t.totals.producer = TSTP_PROD_RETRANS;
		t.totals.nvalues = TSTP_RC_COUNT;
		t.totals.value[TSTP_RC_SEGS] = 100 + 120 * k;
		t.totals.value[TSTP_RC_FAST] = 100 + 120 * k;
		feed(r, t);
	}
	tstp_rules_finish(r, &no_clock);
	CHECK_U64(nalerts, 3);
	CHECK_STR(alerts[1].rule, "retrans-conn");
	CHECK_STR(field_text(&alerts[1], "local"), "0.0.0.0:1111");
	CHECK_U64(field_num(&alerts[1], "segments"), 11);
	CHECK_STR(alerts[2].rule, "retrans-host");
	CHECK_U64(field_num(&alerts[2], "segments_per_s"), 60);
	tstp_rules_free(r);
}

static void test_alert_lines(void)
{
	struct tstp_rules *r = rules_with("listen-overflows = 1\n");
	struct tstp_format_opts o = { .time_style = TSTP_TIME_UTC };
	char line[TSTP_LINE_MAX];
	struct tstp_buf b;

	CHECK(r != NULL);
	feed(r, listen_rec(80, 3, 7, 129, 128, 5 * S));
	CHECK_U64(nalerts, 1);
	tstp_buf_init(&b, line, sizeof(line));
	tstp_format_alert_text(&b, &o, &no_clock, &alerts[0]);
	CHECK_STR(line, "5.000000 ALERT listen-overflow | listener 0.0.0.0:80 dropped 3 connections on a full"
		  " accept queue (129/128), 7 since load | hint: the application does not accept() fast"
		  " enough, or its listen() backlog (capped by net.core.somaxconn) is too small for its bursts\n");
	tstp_buf_init(&b, line, sizeof(line));
	tstp_format_alert_json(&b, &o, &no_clock, &alerts[0]);
	CHECK(strncmp(line, "{\"ts\":\"5.000000\",\"type\":\"alert\",\"rule\":\"listen-overflow\","
		      "\"listener\":\"0.0.0.0:80\",\"dropped\":3,", 92) == 0);
	tstp_rules_free(r);
}

int main(void)
{
	RUN_TEST(test_record_sizes_decode);
	RUN_TEST(test_connect_text);
	RUN_TEST(test_server_connect_spans);
	RUN_TEST(test_state_text);
	RUN_TEST(test_config_file);
	RUN_TEST(test_conn_flood);
	RUN_TEST(test_close_wait);
	RUN_TEST(test_slowloris_snapshot);
	RUN_TEST(test_listen_and_retrans);
	RUN_TEST(test_alert_lines);
	return CHECK_EXIT_CODE();
}
