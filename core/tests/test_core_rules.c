// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The exchange rules, driven through the core with synthetic event
 * sequences (model.h): every stage lands where the injected delay was, for
 * both roles, IPv4 and IPv6, split, coalesced and retransmitted segments,
 * pipelining, connections found mid-stream and closes mid-exchange.
 */
#include "model.h"

static const uint16_t service[] = { 5555, 0 };

#define US(ns) ((ns) / 1000)

/* Runs n exchanges of st on a fresh pair and closes both ends. */
static struct model *run_pair(int family, int n, const struct stages *st,
			      struct msk *c, struct msk *s)
{
	struct model *m = model_new(64, service);
	int i;

	model_pair(c, s, family, 40000, 5555, 1000, 900000);
	model_established(m, c, 2);
	model_established(m, s, 3);
	for (i = 0; i < n; i++)
		model_exchange(m, c, s, st);
	model_close(m, s);
	model_close(m, c);
	model_decode(m);
	return m;
}

static void stages_land_where_injected(void)
{
	const struct stages st = { .req = 77, .resp = 131, .net_us = 1000, .queue_us = 200,
				   .app_us = 5000, .read_us = 300 };
	struct msk c, s;
	struct model *m = run_pair(2, 1, &st, &c, &s);
	const struct tstp_exchange *sx = model_exchange_rec(m, TSTP_ROLE_SERVER, 0);
	const struct tstp_exchange *cx = model_exchange_rec(m, TSTP_ROLE_CLIENT, 0);

	CHECK(sx && cx);
	CHECK_U64(model_count(m, TSTP_REC_EXCHANGE), 2);
	CHECK_U64(US(sx->t_read - sx->t_rx_last), 200);
	CHECK_U64(US(sx->t_write - sx->t_read), 5000);
	CHECK_U64(sx->t_tx_first, sx->t_write);
	CHECK_U64(US(cx->t_read - cx->t_rx_last), 300);
	/* client wait = server total + 2 x network */
	CHECK_U64(US(cx->t_rx_last - cx->t_tx_last) - US(sx->t_tx_last - sx->t_rx_first), 2000);
	CHECK_U64(sx->req_bytes, 77);
	CHECK_U64(sx->resp_bytes, 131);
	CHECK_U64(cx->req_bytes, 77);
	CHECK_U64(cx->resp_bytes, 131);
	/* The two views join by sequence numbers. */
	CHECK_U64(sx->req_seq, 1000);
	CHECK_U64(cx->req_seq, 1000);
	CHECK_U64(sx->resp_seq, 900000);
	CHECK_U64(cx->resp_seq, 900000);
	CHECK_U64(sx->pid, 77);
	CHECK_U64(cx->pid, 4242);
	CHECK(!memcmp(sx->comm, "server\0\0\0\0\0\0\0\0\0", 16));
	CHECK_U64(sx->flags, 0);
	CHECK_U64(cx->flags, 0);
	CHECK_U64(sx->lport, 5555);
	CHECK_U64(sx->rport, 40000);
	CHECK_U64(cx->lport, 40000);
	CHECK_U64(sx->srtt_us, 250);
	CHECK(!memcmp(sx->laddr, "\x0a\x4d\x00\x01", 4));
	CHECK(!memcmp(cx->laddr, "\x0a\x4d\x00\x02", 4));
	CHECK_U64(m->cpu.exchanges, 2);
	CHECK_U64(m->cpu.closed, 2);
	model_free(m);
}

static void ipv6_exchange(void)
{
	const struct stages st = { .req = 10, .resp = 20, .net_us = 100, .app_us = 700 };
	struct msk c, s;
	struct model *m = run_pair(10, 3, &st, &c, &s);
	const struct tstp_exchange *sx = model_exchange_rec(m, TSTP_ROLE_SERVER, 2);

	CHECK_U64(model_count(m, TSTP_REC_EXCHANGE), 6);
	CHECK(sx != NULL);
	CHECK_U64(sx->family, 10);
	CHECK(!memcmp(sx->laddr, "\xfd\x77\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16));
	CHECK(!memcmp(sx->raddr, "\xfd\x77\0\0\0\0\0\0\0\0\0\0\0\0\0\x02", 16));
	CHECK_U64(sx->req_seq, 1000 + 2 * 10);
	CHECK_U64(US(sx->t_write - sx->t_read), 700);
	model_free(m);
}

/* 5000 B in MSS segments; a 300 KB response in 64 KB TSO super-segments. */
static void split_segments_are_one_message(void)
{
	const struct stages st = { .req = 5000, .resp = 300000, .mss = 65536, .net_us = 50,
				   .app_us = 1000 };
	struct msk c, s;
	struct model *m = model_new(64, service);
	const struct tstp_exchange *sx, *cx;

	model_pair(&c, &s, 2, 40001, 5555, 77, 88);
	model_established(m, &c, 2);
	model_established(m, &s, 3);
	model_write(m, &c, st.req);
	model_send(m, &c, &s, st.req, 1448, st.net_us);
	model_read(m, &s);
	model_tick(m, st.app_us);
	model_write(m, &s, st.resp);
	model_send(m, &s, &c, st.resp, st.mss, st.net_us);
	model_read(m, &c);
	model_close(m, &s);
	model_close(m, &c);
	model_decode(m);
	sx = model_exchange_rec(m, TSTP_ROLE_SERVER, 0);
	cx = model_exchange_rec(m, TSTP_ROLE_CLIENT, 0);
	CHECK(sx && cx);
	CHECK_U64(sx->req_bytes, 5000);
	CHECK_U64(sx->resp_bytes, 300000);
	CHECK_U64(cx->resp_bytes, 300000);
	/* four request segments arrived 50 us apart; five response segments left */
	CHECK_U64(US(sx->t_rx_last - sx->t_rx_first), 150);
	CHECK_U64(US(sx->t_tx_last - sx->t_tx_first), 200);
	CHECK_U64(US(cx->t_rx_last - cx->t_rx_first), 200);
	model_free(m);
}

/* A retransmitted response segment: not a new transmit, but counted and flagged. */
static void retransmission_counted_not_timed(void)
{
	struct msk c, s;
	struct model *m = model_new(64, service);
	const struct tstp_exchange *sx;
	uint32_t seq;

	model_pair(&c, &s, 2, 40002, 5555, 5, 6);
	model_established(m, &c, 2);
	model_established(m, &s, 3);
	model_write(m, &c, 100);
	model_send(m, &c, &s, 100, 1448, 10);
	model_rx(m, &s, c.snd_nxt - 100, 100, s.snd_nxt);	/* duplicate request segment */
	model_read(m, &s);
	model_write(m, &s, 2000);
	seq = s.snd_nxt;
	model_xmit(m, &s, 1448);
	model_tick(m, 200000);
	model_retransmit(m, &s, seq, 1448);	/* RTO */
	model_tick(m, 10);
	model_xmit(m, &s, 552);
	model_rx(m, &c, seq, 2000, c.snd_nxt);
	model_read(m, &c);
	model_close(m, &s);
	model_decode(m);
	sx = model_exchange_rec(m, TSTP_ROLE_SERVER, 0);
	CHECK(sx != NULL);
	CHECK_U64(sx->req_bytes, 100);
	CHECK_U64(sx->resp_bytes, 2000);
	CHECK_U64(sx->retrans, 1);
	CHECK_U64(sx->flags, TSTP_XF_RETRANS);
	/* the last transmit is the new data after the RTO, not the retransmission */
	CHECK_U64(US(sx->t_tx_last - sx->t_tx_first), 200010);
	model_free(m);
}

/*
 * The client sends two requests before the first response: the second
 * request does not acknowledge the first response, so both server
 * exchanges are PIPELINED. The second response leaves in one segment with
 * the first's tail (coalesced): it still counts for the second exchange.
 */
static void server_pipelining_and_coalesced_tx(void)
{
	struct msk c, s;
	struct model *m = model_new(64, service);
	const struct tstp_exchange *x0, *x1;
	uint32_t r1, r2, tail;

	model_pair(&c, &s, 2, 40003, 5555, 1000, 2000);
	model_established(m, &c, 2);
	model_established(m, &s, 3);
	r1 = c.snd_nxt;
	model_write(m, &c, 10);
	model_xmit(m, &c, 10);
	model_write(m, &c, 10);		/* pipelined: the client did not wait */
	model_xmit(m, &c, 10);
	r2 = r1 + 10;
	model_rx(m, &s, r1, 10, s.snd_nxt);
	model_read(m, &s);
	model_tick(m, 100);
	model_write(m, &s, 500);
	model_xmit(m, &s, 300);		/* 200 bytes of response 1 still queued */
	tail = s.snd_nxt;
	model_rx(m, &s, r2, 10, s.snd_nxt - 300);	/* acks none of response 1 */
	model_read(m, &s);
	model_write(m, &s, 40);
	model_xmit(m, &s, 240);		/* tail of response 1 + all of response 2 */
	model_close(m, &s);
	model_decode(m);
	x0 = model_exchange_rec(m, TSTP_ROLE_SERVER, 0);
	x1 = model_exchange_rec(m, TSTP_ROLE_SERVER, 1);
	CHECK(x0 && x1);
	CHECK_U64(x0->flags & TSTP_XF_PIPELINED, TSTP_XF_PIPELINED);
	CHECK_U64(x1->flags & TSTP_XF_PIPELINED, TSTP_XF_PIPELINED);
	CHECK_U64(x0->req_seq, r1);
	CHECK_U64(x1->req_seq, r2);
	CHECK_U64(x0->resp_bytes, 300);
	CHECK_U64(x1->resp_seq, tail + 200);
	CHECK_U64(x1->resp_bytes, 40);
	CHECK(x1->t_tx_first != 0);
	model_free(m);
}

/* A client that writes its next request with response bytes unread. */
static void client_pipelining(void)
{
	struct msk c, s;
	struct model *m = model_new(64, service);
	const struct tstp_exchange *x0;

	model_pair(&c, &s, 2, 40004, 5555, 1, 2);
	model_established(m, &c, 2);
	model_write(m, &c, 10);
	model_xmit(m, &c, 10);
	model_rx(m, &c, s.snd_nxt, 50, c.snd_nxt);
	s.snd_nxt += 50;
	model_write(m, &c, 10);		/* 50 response bytes still unread */
	model_close(m, &c);
	model_decode(m);
	x0 = model_exchange_rec(m, TSTP_ROLE_CLIENT, 0);
	CHECK(x0 != NULL);
	CHECK_U64(x0->flags, TSTP_XF_PIPELINED);
	CHECK_U64(x0->t_read, 0);
	CHECK_U64(model_count(m, TSTP_REC_EXCHANGE), 2);
	model_free(m);
}

/* Pooled connections opened before tracing: found at their first event. */
static void connection_found_mid_stream(void)
{
	const struct stages st = { .req = 3, .resp = 4, .net_us = 10, .app_us = 20 };
	struct msk c, s, c2, s2;
	struct model *m = model_new(64, service);
	const struct tstp_exchange *x;

	model_pair(&c, &s, 2, 40005, 5555, 10, 20);
	c.id.bytes_seen = s.id.bytes_seen = 1234;	/* it carried data before */
	model_pair(&c2, &s2, 2, 40006, 5555, 30, 40);	/* idle since its handshake */
	model_exchange(m, &c, &s, &st);
	model_exchange(m, &c, &s, &st);
	model_exchange(m, &c2, &s2, &st);
	model_close(m, &s);
	model_close(m, &s2);
	model_close(m, &c);
	model_decode(m);
	x = model_exchange_rec(m, TSTP_ROLE_SERVER, 0);
	CHECK(x && x->lport == 5555);
	CHECK_U64(x->flags, TSTP_XF_PREEXISTING);
	x = model_exchange_rec(m, TSTP_ROLE_SERVER, 1);
	CHECK(x != NULL);
	CHECK_U64(x->flags, 0);		/* only the first, possibly partial, exchange */
	x = model_exchange_rec(m, TSTP_ROLE_SERVER, 2);
	CHECK(x && x->rport == 40006);
	CHECK_U64(x->flags, 0);		/* no byte before it: nothing was missed */
	/* the client socket, found by its write, is a client by the service port */
	x = model_exchange_rec(m, TSTP_ROLE_CLIENT, 0);
	CHECK(x && x->lport == 40005);
	CHECK_U64(m->cpu.tracked, 4);
	model_free(m);
}

/* Mid-stream without service ports: the lower port is the server's. */
static void role_guess_without_ports(void)
{
	CHECK_U64(tstp_rule_guess_role(80, 50000, 0, 0), TSTP_ROLE_SERVER);
	CHECK_U64(tstp_rule_guess_role(50000, 80, 0, 0), TSTP_ROLE_CLIENT);
	CHECK_U64(tstp_rule_guess_role(50000, 80, 1, 1), TSTP_ROLE_SERVER);
	CHECK_U64(tstp_rule_guess_role(80, 50000, 0, 1), TSTP_ROLE_CLIENT);
}

/* Sockets in a handshake or closing are not picked up mid-stream. */
static void midstream_skips_handshake_and_closed(void)
{
	struct msk c, s;
	struct model *m = model_new(64, service);

	model_pair(&c, &s, 2, 40007, 5555, 1, 2);
	s.id.state = 3;		/* SYN_RECV */
	model_rx(m, &s, 1, 10, 2);
	s.id.state = 7;		/* CLOSE */
	model_rx(m, &s, 11, 10, 2);
	CHECK_U64(m->cpu.tracked, 0);
	model_free(m);
}

static void close_mid_exchange_is_incomplete(void)
{
	struct msk c, s;
	struct model *m = model_new(64, service);
	const struct tstp_exchange *sx, *cx;

	model_pair(&c, &s, 2, 40008, 5555, 1, 2);
	model_established(m, &c, 2);
	model_established(m, &s, 3);
	model_write(m, &c, 10);
	model_send(m, &c, &s, 10, 1448, 100);
	model_read(m, &s);
	model_close(m, &s);		/* the server never answered */
	model_close(m, &c);
	model_decode(m);
	sx = model_exchange_rec(m, TSTP_ROLE_SERVER, 0);
	cx = model_exchange_rec(m, TSTP_ROLE_CLIENT, 0);
	CHECK(sx && cx);
	CHECK_U64(sx->flags, TSTP_XF_INCOMPLETE);
	CHECK_U64(cx->flags, TSTP_XF_INCOMPLETE);
	CHECK_U64(sx->resp_bytes, 0);
	model_free(m);
}

/* Data that no request asked for is not an exchange. */
static void unsolicited_data_is_ignored(void)
{
	struct msk c, s;
	struct model *m = model_new(64, service);

	model_pair(&c, &s, 2, 40009, 5555, 1, 2);
	model_established(m, &c, 2);
	model_established(m, &s, 3);
	model_write(m, &s, 10);		/* server push, e.g. a greeting */
	model_send(m, &s, &c, 10, 1448, 5);
	model_read(m, &c);
	model_close(m, &s);
	model_close(m, &c);
	CHECK_U64(m->cpu.exchanges, 0);
	model_free(m);
}

/* Ports outside the filter never reach the table. */
static void other_ports_untouched(void)
{
	const struct stages st = { .req = 1, .resp = 1 };
	struct msk c, s;
	struct model *m = model_new(64, service);

	model_pair(&c, &s, 2, 40010, 6379, 1, 2);
	model_exchange(m, &c, &s, &st);
	CHECK_U64(m->cpu.tracked, 0);
	CHECK_U64(m->out_len, 0);
	model_free(m);
}

int main(void)
{
	RUN_TEST(stages_land_where_injected);
	RUN_TEST(ipv6_exchange);
	RUN_TEST(split_segments_are_one_message);
	RUN_TEST(retransmission_counted_not_timed);
	RUN_TEST(server_pipelining_and_coalesced_tx);
	RUN_TEST(client_pipelining);
	RUN_TEST(connection_found_mid_stream);
	RUN_TEST(role_guess_without_ports);
	RUN_TEST(midstream_skips_handshake_and_closed);
	RUN_TEST(close_mid_exchange_is_incomplete);
	RUN_TEST(unsolicited_data_is_ignored);
	RUN_TEST(other_ports_untouched);
	return CHECK_EXIT_CODE();
}
