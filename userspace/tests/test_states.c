// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Unit tests of the sock_diag side of tcpstap states, with no kernel: netlink
 * replies are built byte by byte here (as the kernel lays them out) and fed
 * to the parser and the aggregation; the request fallback decision; the
 * TcpExt counters of /proc/net/netstat.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>

#include "check.h"
#include "tcpstap/sockdiag.h"

#define SEQ 4242u

struct nlbuf {
	uint8_t data[256 * 1024];
	size_t len;
};

static void put_msg(struct nlbuf *b, uint16_t type, uint16_t flags, uint32_t seq,
		    const void *payload, size_t plen)
{
	struct nlmsghdr h = {
		.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + plen),
		.nlmsg_type = type,
		.nlmsg_flags = flags,
		.nlmsg_seq = seq,
	};

	if (b->len + NLMSG_ALIGN(h.nlmsg_len) > sizeof(b->data)) {
		fprintf(stderr, "test netlink buffer too small\n");
		abort();
	}
	memcpy(b->data + b->len, &h, sizeof(h));
	memcpy(b->data + b->len + NLMSG_HDRLEN, payload, plen);
	b->len += NLMSG_ALIGN(h.nlmsg_len);
}

/* An inet_diag_msg (72 bytes) as the kernel writes it. */
static void put_sock(struct nlbuf *b, uint16_t type, uint32_t seq, uint8_t family, uint8_t state,
		     const char *laddr, uint16_t lport, const char *raddr, uint16_t rport,
		     uint32_t rq, uint32_t wq)
{
	uint8_t m[72];
	uint16_t p;
	int af = family == 10 ? AF_INET6 : AF_INET;

	memset(m, 0, sizeof(m));
	m[0] = family;
	m[1] = state;
	p = htons(lport);
	memcpy(m + 4, &p, 2);
	p = htons(rport);
	memcpy(m + 6, &p, 2);
	inet_pton(af, laddr, m + 8);
	inet_pton(af, raddr, m + 24);
	memcpy(m + 56, &rq, 4);	/* after family..retrans (4), sockid (48), expires (4) */
	memcpy(m + 60, &wq, 4);
	put_msg(b, type, NLM_F_MULTI, seq, m, sizeof(m));
}

static void put_done(struct nlbuf *b, uint32_t seq, int32_t err)
{
	put_msg(b, NLMSG_DONE, NLM_F_MULTI, seq, &err, sizeof(err));
}

static void put_error(struct nlbuf *b, uint32_t seq, int32_t err)
{
	uint8_t e[sizeof(struct nlmsghdr) + 4];

	memset(e, 0, sizeof(e));
	memcpy(e, &err, 4);
	put_msg(b, NLMSG_ERROR, 0, seq, e, sizeof(e));
}

static int parse_into(struct tstp_states *s, struct tstp_nl_parse *p, const struct nlbuf *b)
{
	tstp_nl_parse_init(p, SEQ);
	return tstp_nl_parse_buf(p, b->data, b->len, tstp_states_add_cb, s);
}

static struct nlbuf nb;

static void test_states_counts_every_state(void)
{
	struct tstp_states s;
	struct tstp_nl_parse p;
	unsigned want[TSTP_TCP_NSTATES] = { 0 };

	CHECK(tstp_states_init(&s, 100, 100) == 0);
	nb.len = 0;
	/* A prime number of sockets per state, state k gets (k+1)th prime - 1 ... distinct counts. */
	for (unsigned st = 1; st <= TSTP_TCP_CLOSING; st++) {
		unsigned n = st * 2 + 1;

		for (unsigned i = 0; i < n; i++)
			put_sock(&nb, 20, SEQ, i % 3 ? 2 : 10, (uint8_t)st, i % 3 ? "10.0.0.1" : "fd00::1",
				 (uint16_t)(st == TSTP_TCP_LISTEN ? 80 : 1000 + i),
				 i % 3 ? "10.0.0.2" : "fd00::2", st == TSTP_TCP_LISTEN ? 0 : 5000, 0, 0);
		want[st] = n;
	}
	put_done(&nb, SEQ, 0);
	CHECK(parse_into(&s, &p, &nb) == 0);
	CHECK(p.done);
	CHECK_U64(p.error, 0);
	CHECK_U64(p.malformed, 0);
	for (unsigned st = 1; st <= TSTP_TCP_CLOSING; st++)
		CHECK_U64(tstp_states_state(&s, st), want[st]);
	CHECK_U64(tstp_states_sockets(&s), 3 + 5 + 7 + 9 + 11 + 13 + 15 + 17 + 19 + 21 + 23);
	/* i % 3 == 0 are IPv6: for n sockets, ceil(n/3). */
	CHECK_U64(s.count[TSTP_FAM_IPV6][TSTP_TCP_ESTABLISHED], 1);
	CHECK_U64(s.count[TSTP_FAM_IPV4][TSTP_TCP_ESTABLISHED], 2);
	CHECK_U64(s.count[TSTP_FAM_IPV6][TSTP_TCP_CLOSING], 8);
	CHECK_U64(s.unknown_state, 0);
	tstp_states_free(&s);
}

static void test_states_new_syn_recv_and_unknown(void)
{
	struct tstp_states s;
	struct tstp_nl_parse p;

	CHECK(tstp_states_init(&s, 10, 10) == 0);
	nb.len = 0;
	put_sock(&nb, 20, SEQ, 2, TSTP_TCP_NEW_SYN_RECV, "10.0.0.1", 80, "10.0.0.9", 4000, 0, 0);
	put_sock(&nb, 20, SEQ, 2, TSTP_TCP_SYN_RECV, "10.0.0.1", 80, "10.0.0.9", 4001, 0, 0);
	put_sock(&nb, 20, SEQ, 2, 0, "10.0.0.1", 80, "10.0.0.9", 4002, 0, 0);
	put_sock(&nb, 20, SEQ, 2, 99, "10.0.0.1", 80, "10.0.0.9", 4003, 0, 0);
	put_done(&nb, SEQ, 0);
	CHECK(parse_into(&s, &p, &nb) == 0);
	CHECK_U64(tstp_states_state(&s, TSTP_TCP_SYN_RECV), 2);
	CHECK_U64(s.unknown_state, 2);
	CHECK_U64(tstp_states_sockets(&s), 4);	/* unknown states still count in the total */
	tstp_states_free(&s);
}

static void test_states_queues_and_listeners(void)
{
	struct tstp_states s;
	struct tstp_nl_parse p;

	CHECK(tstp_states_init(&s, 10, 10) == 0);
	nb.len = 0;
	/* For LISTEN, rqueue/wqueue are the accept queue and the backlog, not bytes. */
	put_sock(&nb, 20, SEQ, 2, TSTP_TCP_LISTEN, "0.0.0.0", 8080, "0.0.0.0", 0, 13, 128);
	/* SO_REUSEPORT: a second socket on the same endpoint, full (queue > backlog). */
	put_sock(&nb, 20, SEQ, 2, TSTP_TCP_LISTEN, "0.0.0.0", 8080, "0.0.0.0", 0, 5, 4);
	put_sock(&nb, 20, SEQ, 10, TSTP_TCP_LISTEN, "::", 22, "::", 0, 0, 4096);
	put_sock(&nb, 20, SEQ, 2, TSTP_TCP_ESTABLISHED, "10.0.0.1", 8080, "10.0.0.7", 40000, 100, 7);
	put_sock(&nb, 20, SEQ, 10, TSTP_TCP_CLOSE_WAIT, "fd00::1", 22, "fd00::7", 40000, 1, 3000);
	put_done(&nb, SEQ, 0);
	CHECK(parse_into(&s, &p, &nb) == 0);
	CHECK_U64(s.rx_queue[TSTP_FAM_IPV4], 100);
	CHECK_U64(s.tx_queue[TSTP_FAM_IPV4], 7);
	CHECK_U64(s.rx_queue[TSTP_FAM_IPV6], 1);
	CHECK_U64(s.tx_queue[TSTP_FAM_IPV6], 3000);
	CHECK_U64(s.nlisteners, 2);
	tstp_states_sort_listeners(&s);
	CHECK_U64(s.listeners[0].family, 2);
	CHECK_U64(s.listeners[0].port, 8080);
	CHECK_U64(s.listeners[0].sockets, 2);
	CHECK_U64(s.listeners[0].queue, 18);
	CHECK_U64(s.listeners[0].backlog, 132);
	CHECK_U64(s.listeners[0].full, 1);
	CHECK_U64(s.listeners[1].family, 10);
	CHECK_U64(s.listeners[1].backlog, 4096);
	CHECK_U64(s.listeners[1].full, 0);
	tstp_states_free(&s);
}

static void test_states_top_remotes(void)
{
	struct tstp_states s;
	struct tstp_nl_parse p;
	struct tstp_remote top[4];
	char want[16];
	size_t n;

	CHECK(tstp_states_init(&s, 10, 100000) == 0);
	nb.len = 0;
	/* 10.1.0.K has K sockets for K = 1..40; plus 7 from a v4-mapped IPv6 10.1.0.39. */
	for (unsigned k = 1; k <= 40; k++) {
		char a[16];

		snprintf(a, sizeof(a), "10.1.0.%u", k);
		for (unsigned i = 0; i < k; i++)
			put_sock(&nb, 20, SEQ, 2, TSTP_TCP_ESTABLISHED, "10.0.0.1", 80, a, (uint16_t)(1000 + i), 0, 0);
	}
	for (unsigned i = 0; i < 7; i++)
		put_sock(&nb, 20, SEQ, 10, TSTP_TCP_TIME_WAIT, "::ffff:10.0.0.1", 80, "::ffff:10.1.0.39",
			 (uint16_t)(2000 + i), 0, 0);
	/* Listeners have no remote: never counted per remote. */
	put_sock(&nb, 20, SEQ, 2, TSTP_TCP_LISTEN, "0.0.0.0", 80, "0.0.0.0", 0, 0, 10);
	put_done(&nb, SEQ, 0);
	CHECK(parse_into(&s, &p, &nb) == 0);
	CHECK_U64(s.nremotes, 40);
	n = tstp_states_top_remotes(&s, top, 4);
	CHECK_U64(n, 4);
	CHECK_U64(top[0].sockets, 46);	/* 39 + 7 mapped */
	CHECK_U64(top[0].family, 2);
	CHECK_U64(top[1].sockets, 40);
	CHECK_U64(top[2].sockets, 38);
	CHECK_U64(top[3].sockets, 37);
	inet_ntop(AF_INET, top[3].addr, want, sizeof(want));
	CHECK_STR(want, "10.1.0.37");
	tstp_states_free(&s);
}

static void test_states_top_ties_by_address(void)
{
	struct tstp_states s;
	struct tstp_sock sk;
	struct tstp_remote top[3];
	char a[16];

	CHECK(tstp_states_init(&s, 10, 100) == 0);
	memset(&sk, 0, sizeof(sk));
	sk.family = 2;
	sk.state = TSTP_TCP_ESTABLISHED;
	for (unsigned k = 9; k >= 1; k--) {	/* every address twice, inserted high to low */
		sk.raddr[0] = 10;
		sk.raddr[3] = (uint8_t)k;
		CHECK(tstp_states_add(&s, &sk) == 0);
		CHECK(tstp_states_add(&s, &sk) == 0);
	}
	CHECK_U64(tstp_states_top_remotes(&s, top, 3), 3);
	inet_ntop(AF_INET, top[0].addr, a, sizeof(a));
	CHECK_STR(a, "10.0.0.1");
	inet_ntop(AF_INET, top[2].addr, a, sizeof(a));
	CHECK_STR(a, "10.0.0.3");
	tstp_states_free(&s);
}

static void test_states_bounds_are_counted(void)
{
	struct tstp_states s;
	struct tstp_sock sk;

	/* At most 5 remotes and 2 listeners: the rest is counted, never lost from the states. */
	CHECK(tstp_states_init(&s, 2, 5) == 0);
	memset(&sk, 0, sizeof(sk));
	sk.family = 2;
	for (unsigned k = 1; k <= 3000; k++) {
		sk.state = TSTP_TCP_ESTABLISHED;
		sk.raddr[2] = (uint8_t)(k >> 8);
		sk.raddr[3] = (uint8_t)k;
		CHECK(tstp_states_add(&s, &sk) == 0);
	}
	for (unsigned k = 1; k <= 4; k++) {
		sk.state = TSTP_TCP_LISTEN;
		sk.lport = (uint16_t)k;
		CHECK(tstp_states_add(&s, &sk) == 0);
	}
	CHECK_U64(tstp_states_state(&s, TSTP_TCP_ESTABLISHED), 3000);
	CHECK_U64(tstp_states_state(&s, TSTP_TCP_LISTEN), 4);
	CHECK_U64(s.nremotes, 5);
	CHECK_U64(s.remotes_dropped, 2995);
	CHECK_U64(s.nlisteners, 2);
	CHECK_U64(s.listeners_dropped, 2);
	/* Clearing keeps memory and bounds, zeroes every count. */
	tstp_states_clear(&s);
	CHECK_U64(tstp_states_sockets(&s), 0);
	CHECK_U64(s.nremotes, 0);
	CHECK_U64(s.remotes_dropped, 0);
	CHECK(tstp_states_add(&s, &sk) == 0);
	CHECK_U64(s.nlisteners, 1);
	tstp_states_free(&s);
}

static void test_states_growth_keeps_counts(void)
{
	struct tstp_states s;
	struct tstp_sock sk;
	struct tstp_remote top[1];

	/* 20,000 distinct addresses: the table grows many times over. */
	CHECK(tstp_states_init(&s, 10, 1000000) == 0);
	memset(&sk, 0, sizeof(sk));
	sk.family = 10;
	sk.state = TSTP_TCP_TIME_WAIT;
	sk.raddr[0] = 0xfd;
	for (unsigned k = 0; k < 20000; k++) {
		sk.raddr[14] = (uint8_t)(k >> 8);
		sk.raddr[15] = (uint8_t)k;
		CHECK(tstp_states_add(&s, &sk) == 0);
		if (k == 12345)
			CHECK(tstp_states_add(&s, &sk) == 0);
	}
	CHECK_U64(s.nremotes, 20000);
	CHECK_U64(s.remotes_dropped, 0);
	CHECK_U64(tstp_states_top_remotes(&s, top, 1), 1);
	CHECK_U64(top[0].sockets, 2);
	CHECK_U64(top[0].addr[14] << 8 | top[0].addr[15], 12345);
	tstp_states_free(&s);
}

static void test_nl_errors_and_foreign(void)
{
	struct tstp_states s;
	struct tstp_nl_parse p;

	CHECK(tstp_states_init(&s, 10, 10) == 0);
	/* NLMSG_ERROR ends the dump with its errno. */
	nb.len = 0;
	put_error(&nb, SEQ, -EINVAL);
	CHECK(parse_into(&s, &p, &nb) == 0);
	CHECK(p.done);
	CHECK_U64(p.error, EINVAL);
	/* A DONE that carries an error (newer kernels). */
	nb.len = 0;
	put_sock(&nb, 20, SEQ, 2, TSTP_TCP_ESTABLISHED, "10.0.0.1", 1, "10.0.0.2", 2, 0, 0);
	put_done(&nb, SEQ, -ENOMEM);
	CHECK(parse_into(&s, &p, &nb) == 0);
	CHECK_U64(p.error, ENOMEM);
	CHECK_U64(p.messages, 1);
	/* Another request's replies, other types and DUMP_INTR are counted, not taken. */
	tstp_states_clear(&s);
	nb.len = 0;
	put_sock(&nb, 20, SEQ + 1, 2, TSTP_TCP_ESTABLISHED, "10.0.0.1", 1, "10.0.0.2", 2, 0, 0);
	put_msg(&nb, 77, 0, SEQ, "abcd", 4);
	put_sock(&nb, 18, SEQ, 2, TSTP_TCP_ESTABLISHED, "10.0.0.1", 1, "10.0.0.2", 3, 0, 0);
	{
		uint8_t m[72] = { 2, 1 };

		put_msg(&nb, 20, NLM_F_MULTI | 0x10, SEQ, m, sizeof(m));
	}
	put_done(&nb, SEQ, 0);
	CHECK(parse_into(&s, &p, &nb) == 0);
	CHECK(p.done);
	CHECK_U64(p.error, 0);
	CHECK_U64(p.foreign, 1);
	CHECK_U64(p.other, 1);
	CHECK_U64(p.interrupted, 1);
	CHECK_U64(tstp_states_state(&s, TSTP_TCP_ESTABLISHED), 2);	/* legacy type 18 and v2 type 20 */
	tstp_states_free(&s);
}

static void test_nl_malformed(void)
{
	struct tstp_states s;
	struct tstp_nl_parse p;
	uint8_t short_msg[40] = { 2, 1 };
	uint8_t bad_family[72] = { 7, 1 };

	CHECK(tstp_states_init(&s, 10, 10) == 0);
	nb.len = 0;
	put_msg(&nb, 20, NLM_F_MULTI, SEQ, short_msg, sizeof(short_msg));
	put_msg(&nb, 20, NLM_F_MULTI, SEQ, bad_family, sizeof(bad_family));
	put_sock(&nb, 20, SEQ, 2, TSTP_TCP_LISTEN, "0.0.0.0", 1, "0.0.0.0", 0, 0, 1);
	CHECK(parse_into(&s, &p, &nb) == 0);
	CHECK_U64(p.malformed, 2);
	CHECK_U64(p.messages, 1);
	CHECK(!p.done);
	/* A length running past the buffer stops parsing there. */
	nb.data[nb.len - 72 - NLMSG_HDRLEN] = 0xff;
	nb.data[nb.len - 72 - NLMSG_HDRLEN + 1] = 0xff;
	tstp_states_clear(&s);
	CHECK(parse_into(&s, &p, &nb) == 0);
	CHECK_U64(p.malformed, 3);
	CHECK_U64(p.messages, 0);
	/* A truncated tail shorter than a header is counted. */
	tstp_nl_parse_init(&p, SEQ);
	CHECK(tstp_nl_parse_buf(&p, nb.data, 7, NULL, NULL) == 0);
	CHECK_U64(p.malformed, 1);
	tstp_states_free(&s);
}

static void test_replay_two_dumps(void)
{
	struct tstp_states s;
	struct tstp_dump_info info;
	char err[256];

	CHECK(tstp_states_init(&s, 10, 10) == 0);
	/* What a v2 run records: the IPv4 dump, then the IPv6 dump. */
	nb.len = 0;
	put_sock(&nb, 20, 1, 2, TSTP_TCP_ESTABLISHED, "10.0.0.1", 1, "10.0.0.2", 2, 0, 0);
	put_done(&nb, 1, 0);
	put_sock(&nb, 20, 2, 10, TSTP_TCP_ESTABLISHED, "fd00::1", 1, "fd00::2", 2, 0, 0);
	put_sock(&nb, 20, 2, 10, TSTP_TCP_LISTEN, "::", 1, "::", 0, 0, 5);
	put_done(&nb, 2, 0);
	CHECK(tstp_sockdiag_replay(&s, nb.data, nb.len, &info, err, sizeof(err)) == 0);
	CHECK_U64(info.messages, 3);
	CHECK_U64(s.total[TSTP_FAM_IPV4], 1);
	CHECK_U64(s.total[TSTP_FAM_IPV6], 2);
	/* A recording cut short is refused, not half-counted silently. */
	CHECK(tstp_sockdiag_replay(&s, nb.data, nb.len - 20, &info, err, sizeof(err)) != 0);
	tstp_states_free(&s);
}

static void test_fallback_decision(void)
{
	/* AUTO falls back to the 2.6.32 request on the errors old kernels answer with. */
	CHECK(tstp_diag_should_fall_back(TSTP_DIAG_AUTO, EINVAL));
	CHECK(tstp_diag_should_fall_back(TSTP_DIAG_AUTO, ENOENT));
	CHECK(tstp_diag_should_fall_back(TSTP_DIAG_AUTO, EAFNOSUPPORT));
	CHECK(tstp_diag_should_fall_back(TSTP_DIAG_AUTO, EOPNOTSUPP));
	CHECK(tstp_diag_should_fall_back(TSTP_DIAG_AUTO, EPROTONOSUPPORT));
	/* Real failures are reported, not hidden behind another request. */
	CHECK(!tstp_diag_should_fall_back(TSTP_DIAG_AUTO, EPERM));
	CHECK(!tstp_diag_should_fall_back(TSTP_DIAG_AUTO, EACCES));
	CHECK(!tstp_diag_should_fall_back(TSTP_DIAG_AUTO, ENOMEM));
	CHECK(!tstp_diag_should_fall_back(TSTP_DIAG_AUTO, ENOBUFS));
	CHECK(!tstp_diag_should_fall_back(TSTP_DIAG_AUTO, ETIMEDOUT));
	CHECK(!tstp_diag_should_fall_back(TSTP_DIAG_AUTO, EMFILE));
	/* An explicit request never falls back. */
	CHECK(!tstp_diag_should_fall_back(TSTP_DIAG_ONLY_V2, EINVAL));
	CHECK(!tstp_diag_should_fall_back(TSTP_DIAG_ONLY_LEGACY, EINVAL));
}

static void test_state_names(void)
{
	CHECK_STR(tstp_tcp_state_name(TSTP_TCP_ESTABLISHED), "established");
	CHECK_STR(tstp_tcp_state_name(TSTP_TCP_FIN_WAIT1), "fin_wait1");
	CHECK_STR(tstp_tcp_state_name(TSTP_TCP_CLOSING), "closing");
	CHECK_STR(tstp_tcp_state_name(0), "unknown");
	CHECK_STR(tstp_tcp_state_name(200), "unknown");
	CHECK_STR(tstp_tcp_state_ss_name(TSTP_TCP_ESTABLISHED), "ESTAB");
	CHECK_STR(tstp_tcp_state_ss_name(TSTP_TCP_LAST_ACK), "LAST-ACK");
}

static void test_netstat_listen_counters(void)
{
	struct tstp_listen_mib m;
	const char *text =
		"TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPLostRetransmit\n"
		"TcpExt: 0 0 17 23 5\n"
		"IpExt: InNoRoutes InTruncatedPkts\n"
		"IpExt: 0 0\n";

	tstp_parse_netstat(text, &m);
	CHECK(m.valid);
	CHECK_U64(m.overflows, 17);
	CHECK_U64(m.drops, 23);
	tstp_parse_netstat("IpExt: A\nIpExt: 1\n", &m);
	CHECK(!m.valid);
	/* Names and values out of step: not trusted. */
	tstp_parse_netstat("TcpExt: ListenOverflows ListenDrops\nTcpExt: 4 x\n", &m);
	CHECK(!m.valid);
}

int main(void)
{
	RUN_TEST(test_states_counts_every_state);
	RUN_TEST(test_states_new_syn_recv_and_unknown);
	RUN_TEST(test_states_queues_and_listeners);
	RUN_TEST(test_states_top_remotes);
	RUN_TEST(test_states_top_ties_by_address);
	RUN_TEST(test_states_bounds_are_counted);
	RUN_TEST(test_states_growth_keeps_counts);
	RUN_TEST(test_nl_errors_and_foreign);
	RUN_TEST(test_nl_malformed);
	RUN_TEST(test_replay_two_dumps);
	RUN_TEST(test_fallback_decision);
	RUN_TEST(test_state_names);
	RUN_TEST(test_netstat_listen_counters);
	return CHECK_EXIT_CODE();
}
