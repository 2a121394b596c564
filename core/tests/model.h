/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A userspace model of what the kernel glue feeds the core: sockets with the
 * tcp_sock fields the rules read, and helpers that turn "the client writes
 * 77 bytes", "a segment reaches the server" into the events the probes would
 * see, with controlled clocks. Emitted records are collected and decoded
 * with the real decoder, so a test checks what a user would read.
 */
#ifndef TCPSTAP_CORE_TESTS_MODEL_H
#define TCPSTAP_CORE_TESTS_MODEL_H

#include <stdlib.h>

#include "../tstp_core.h"
#include "check.h"

struct msk {			/* one socket */
	uint64_t key;
	struct tstp_ident id;
	uint32_t snd_nxt, write_seq, rcv_nxt, copied_seq, total_retrans, srtt_us;
	uint32_t pid;
	char comm[16];
};

struct model {
	struct tstp_core core;
	struct tstp_bucket *buckets;
	struct tstp_cpu cpu;
	uint8_t out[1 << 16];	/* emitted records */
	size_t out_len;
	int fail_emit;		/* emit() reports failure */
	uint64_t now;		/* ns */
	struct collected got;	/* decoded records (model_decode) */
};

static inline int model_emit(void *ctx, const void *rec, unsigned len)
{
	struct model *m = ctx;

	if (m->fail_emit || m->out_len + len > sizeof(m->out))
		return -1;
	memcpy(m->out + m->out_len, rec, len);
	m->out_len += len;
	return 0;
}

static inline void model_ident(const void *sk, struct tstp_ident *id)
{
	*id = ((const struct msk *)sk)->id;
}

/* A core with max_sockets slots, service ports ports[] (0-terminated), threshold 0. */
static inline struct model *model_new(uint32_t max_sockets, const uint16_t *ports)
{
	struct model *m = calloc(1, sizeof(*m));
	struct tstp_config cfg;
	uint32_t nb = tstp_core_nbuckets(max_sockets);

	memset(&cfg, 0, sizeof(cfg));
	cfg.sample = 1;
	cfg.max_sockets = max_sockets;
	for (; ports && *ports; ports++)
		tstp_config_add_port(&cfg, *ports);
	m->buckets = calloc(nb, sizeof(*m->buckets));
	m->now = 1000000000ull;
	if (tstp_core_init(&m->core, &cfg, m->buckets, nb, model_emit, m, m->now)) {
		free(m->buckets);
		free(m);
		return NULL;
	}
	return m;
}

static inline void model_free(struct model *m)
{
	free(m->buckets);
	free(m);
}

/* A connected pair: client c (ephemeral port) to server s (service port). */
static inline void model_pair(struct msk *c, struct msk *s, int family, uint16_t cport,
			      uint16_t sport, uint32_t c_isn, uint32_t s_isn)
{
	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	c->key = 0xffff888000100000ull + ((uint64_t)cport << 12);
	s->key = 0xffff888000900000ull + ((uint64_t)sport << 12) + cport;
	c->id.family = s->id.family = (uint8_t)family;
	c->id.state = s->id.state = 1;
	c->id.lport = s->id.rport = cport;
	c->id.rport = s->id.lport = sport;
	if (family == 2) {
		c->id.laddr[0] = s->id.raddr[0] = 0x02004d0a;	/* 10.77.0.2 */
		c->id.raddr[0] = s->id.laddr[0] = 0x01004d0a;	/* 10.77.0.1 */
	} else {
		c->id.laddr[0] = s->id.raddr[0] = 0x000077fd;	/* fd77::2 */
		c->id.laddr[3] = s->id.raddr[3] = 0x02000000;
		c->id.raddr[0] = s->id.laddr[0] = 0x000077fd;	/* fd77::1 */
		c->id.raddr[3] = s->id.laddr[3] = 0x01000000;
	}
	c->snd_nxt = c->write_seq = s->rcv_nxt = s->copied_seq = c_isn;
	s->snd_nxt = s->write_seq = c->rcv_nxt = c->copied_seq = s_isn;
	c->srtt_us = s->srtt_us = 250;
	c->pid = 4242;
	s->pid = 77;
	memcpy(c->comm, "client", 7);
	memcpy(s->comm, "server", 7);
}

static inline struct tstp_ev model_ev(struct model *m, const struct msk *k)
{
	struct tstp_ev ev;

	memset(&ev, 0, sizeof(ev));
	ev.now = m->now;
	ev.write_seq = k->write_seq;
	ev.snd_nxt = k->snd_nxt;
	ev.copied_seq = k->copied_seq;
	ev.rcv_nxt = k->rcv_nxt;
	ev.total_retrans = k->total_retrans;
	ev.pid = k->pid;
	ev.comm = k->comm;
	return ev;
}

static inline void model_tick(struct model *m, uint64_t us) { m->now += us * 1000; }

/* The handshake completed on k (2: SYN_SENT for a client, 3: SYN_RECV for a server). */
static inline int model_established(struct model *m, struct msk *k, uint8_t old_state)
{
	return tstp_core_established(&m->core, &m->cpu, k->key, k, model_ident, old_state, m->now);
}

/* The application writes n bytes on k (tcp_sendmsg entry). */
static inline int model_write(struct model *m, struct msk *k, uint32_t n)
{
	struct tstp_ev ev = model_ev(m, k);
	int r = 0;

	if (tstp_port_match(&m->core, k->id.lport, k->id.rport))
		r = tstp_core_write(&m->core, &m->cpu, k->key, k, model_ident, &ev, k->srtt_us);
	k->write_seq += n;
	return r;
}

/* k transmits len new bytes from snd_nxt (one segment, possibly TSO-sized). */
static inline void model_xmit(struct model *m, struct msk *k, uint32_t len)
{
	struct tstp_ev ev = model_ev(m, k);

	ev.seq = k->snd_nxt;
	ev.len = len;
	if (tstp_port_match(&m->core, k->id.lport, k->id.rport))
		tstp_core_tx(&m->core, &m->cpu, k->key, &ev);
	k->snd_nxt += len;
}

/* k retransmits [seq, seq+len): the probe sees it, the rules ignore it, retrans counts. */
static inline void model_retransmit(struct model *m, struct msk *k, uint32_t seq, uint32_t len)
{
	struct tstp_ev ev = model_ev(m, k);

	ev.seq = seq;
	ev.len = len;
	k->total_retrans++;
	if (tstp_port_match(&m->core, k->id.lport, k->id.rport))
		tstp_core_tx(&m->core, &m->cpu, k->key, &ev);
}

/* A segment [seq, seq+len) acknowledging ack reaches k (tcp_rcv_established). */
static inline int model_rx(struct model *m, struct msk *k, uint32_t seq, uint32_t len, uint32_t ack)
{
	struct tstp_ev ev = model_ev(m, k);
	int r = 0;

	ev.seq = seq;
	ev.len = len;
	ev.ack = ack;
	if (len && tstp_port_match(&m->core, k->id.lport, k->id.rport))
		r = tstp_core_rx(&m->core, &m->cpu, k->key, k, model_ident, &ev, k->srtt_us);
	if (!tstp_seq_before(seq + len, k->rcv_nxt))
		k->rcv_nxt = seq + len;
	return r;
}

/* The application reads everything queued on k (tcp_cleanup_rbuf). */
static inline void model_read(struct model *m, struct msk *k)
{
	struct tstp_ev ev = model_ev(m, k);

	k->copied_seq = k->rcv_nxt;
	if (tstp_port_match(&m->core, k->id.lport, k->id.rport))
		tstp_core_read(&m->core, &m->cpu, k->key, &ev);
}

static inline int model_close(struct model *m, struct msk *k)
{
	struct tstp_ev ev = model_ev(m, k);

	return tstp_core_close(&m->core, &m->cpu, k->key, &ev, k->srtt_us);
}

/* from sends len bytes (already written) to to, in segments of at most mss. */
static inline void model_send(struct model *m, struct msk *from, struct msk *to, uint32_t len,
			      uint32_t mss, uint64_t wire_us)
{
	while (len) {
		uint32_t seg = len < mss ? len : mss, seq = from->snd_nxt;

		model_xmit(m, from, seg);
		model_tick(m, wire_us);
		model_rx(m, to, seq, seg, to->snd_nxt);
		len -= seg;
	}
}

/*
 * One request/response exchange with known stage times (us): the client
 * writes req bytes, the network takes net_us, the server reads after
 * queue_us, answers after app_us, the response crosses, the client reads
 * after read_us.
 */
struct stages { uint32_t req, resp, mss; uint64_t net_us, queue_us, app_us, read_us; };

static inline void model_exchange(struct model *m, struct msk *c, struct msk *s, const struct stages *st)
{
	model_write(m, c, st->req);
	model_send(m, c, s, st->req, st->mss ? st->mss : 1448, st->net_us);
	model_tick(m, st->queue_us);
	model_read(m, s);
	model_tick(m, st->app_us);
	model_write(m, s, st->resp);
	model_send(m, s, c, st->resp, st->mss ? st->mss : 1448, st->net_us);
	model_tick(m, st->read_us);
	model_read(m, c);
	model_tick(m, 10);
}

/* Decodes everything emitted so far into m->got (the records, in order). */
static inline void model_decode(struct model *m)
{
	struct tstp_decoder dec;

	memset(&m->got, 0, sizeof(m->got));
	decode_chunked(&dec, &m->got, m->out, m->out_len, 0);
}

/* The i-th exchange record of a role among what was emitted, or NULL. */
static inline const struct tstp_exchange *model_exchange_rec(struct model *m, uint8_t role, int i)
{
	size_t k;

	for (k = 0; k < m->got.n && k < MAX_TEST_RECORDS; k++) {
		const union tstp_record *r = &m->got.rec[k];

		if (r->hdr.type == TSTP_REC_EXCHANGE && r->exchange.role == role && i-- == 0)
			return &r->exchange;
	}
	return NULL;
}

static inline size_t model_count(struct model *m, uint8_t type)
{
	size_t k, n = 0;

	for (k = 0; k < m->got.n && k < MAX_TEST_RECORDS; k++)
		n += m->got.rec[k].hdr.type == type;
	return n;
}

#endif /* TCPSTAP_CORE_TESTS_MODEL_H */
