// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The table, its bounds and what the timers emit: eviction at the bound,
 * stale entries, threshold and histograms, the event budget, sampling, the
 * address filter, the guard's arithmetic and the handler-cost accounting.
 */
#include "model.h"

static const uint16_t service[] = { 5555, 0 };

/* A request seen from the server alone, answered after app_us (the socket stays open). */
static void server_only_request(struct model *m, struct msk *s, uint64_t app_us)
{
	model_rx(m, s, s->rcv_nxt, 5, s->snd_nxt);
	model_read(m, s);
	model_tick(m, app_us);
	model_write(m, s, 7);
	model_xmit(m, s, 7);
	model_tick(m, 10);
}

/* One exchange seen from the server alone, then its close. */
static void server_only_exchange(struct model *m, struct msk *s)
{
	model_established(m, s, 3);
	server_only_request(m, s, 100);
	model_close(m, s);
}

static void decode_fresh(struct model *m)
{
	struct tstp_decoder dec;

	memset(&m->got, 0, sizeof(m->got));
	decode_chunked(&dec, &m->got, m->out, m->out_len, 0);
}

/* Eight slots (one bucket): the ninth connection evicts the least recently active. */
static void eviction_at_the_bound(void)
{
	struct model *m = model_new(8, service);
	struct msk c[9], s[9];
	const struct tstp_exchange *x;
	struct tstp_totals_view t;
	int i;

	CHECK_U64(m->core.nbuckets, 1);
	for (i = 0; i < 8; i++) {
		model_pair(&c[i], &s[i], 2, (uint16_t)(41000 + i), 5555, 1, 2);
		model_established(m, &s[i], 3);
		model_tick(m, 10);
	}
	/* Server 0 is mid-exchange and the least recently active. */
	model_rx(m, &s[0], 1, 5, 2);
	model_tick(m, 10);
	for (i = 1; i < 8; i++) {
		model_rx(m, &s[i], 1, 5, 2);
		model_tick(m, 10);
	}
	model_pair(&c[8], &s[8], 2, 41008, 5555, 1, 2);
	model_established(m, &s[8], 3);
	model_decode(m);
	x = model_exchange_rec(m, TSTP_ROLE_SERVER, 0);
	CHECK(x != NULL);
	CHECK_U64(x->rport, 41000);
	CHECK_U64(x->flags, TSTP_XF_EVICTED | TSTP_XF_INCOMPLETE);
	CHECK_U64(x->srtt_us, 0);	/* the victim's socket is never read */
	CHECK_U64(m->cpu.evicted, 1);
	tstp_core_sum(&m->cpu, 1, &t);
	CHECK_U64(t.tracked - t.closed - t.evicted, 8);
	/* The evicted socket comes back as a mid-stream one on its next event. */
	model_rx(m, &s[0], 6, 5, 2);
	CHECK_U64(m->cpu.evicted, 2);
	model_free(m);
}

static void table_size_rounds_up(void)
{
	CHECK_U64(tstp_core_nbuckets(1), 1);
	CHECK_U64(tstp_core_nbuckets(8), 1);
	CHECK_U64(tstp_core_nbuckets(9), 2);
	CHECK_U64(tstp_core_nbuckets(8192), 1024);
	CHECK_U64(tstp_core_nbuckets(100000), TSTP_SOCKETS_CAP / TSTP_WAYS);
}

/* A freed socket whose close was missed, reused at the same address by another connection. */
static void stale_entry_replaced(void)
{
	struct model *m = model_new(64, service);
	struct msk c, s, c2, s2;

	model_pair(&c, &s, 2, 42000, 5555, 1, 2);
	model_established(m, &s, 3);
	model_rx(m, &s, 1, 5, 2);
	model_pair(&c2, &s2, 2, 42001, 5555, 1, 2);
	s2.key = s.key;
	model_established(m, &s2, 3);
	CHECK_U64(m->cpu.evicted, 1);
	model_established(m, &s2, 3);	/* the same connection again: kept */
	CHECK_U64(m->cpu.evicted, 1);
	CHECK_U64(m->cpu.tracked, 2);
	model_decode(m);
	CHECK_U64(model_count(m, TSTP_REC_EXCHANGE), 1);
	model_free(m);
}

/* Below the threshold: counted in the endpoint's histogram, not emitted. */
static void threshold_and_histogram(void)
{
	struct model *m = model_new(64, service);
	struct msk c, s;
	const union tstp_record *h = NULL;
	struct tstp_totals_view t;
	size_t k;
	int i;

	m->core.cfg.threshold_us = 10000;
	model_pair(&c, &s, 2, 43000, 5555, 1, 2);
	model_established(m, &s, 3);
	for (i = 0; i < 5; i++)
		server_only_request(m, &s, 100);
	server_only_request(m, &s, 20000);
	model_close(m, &s);
	tstp_hist_round_begin(&m->core);
	CHECK_U64(tstp_hist_round_step(&m->core, 0, m->now), 1);
	tstp_core_sum(&m->cpu, 1, &t);
	tstp_emit_stats(&m->core, 0, m->now, &t);
	model_decode(m);
	CHECK_U64(model_count(m, TSTP_REC_EXCHANGE), 1);
	CHECK_U64(model_count(m, TSTP_REC_HIST), 1);
	for (k = 0; k < m->got.n; k++)
		if (m->got.rec[k].hdr.type == TSTP_REC_HIST)
			h = &m->got.rec[k];
	CHECK(h != NULL);
	CHECK_U64(h->hist.role, TSTP_ROLE_SERVER);
	CHECK_U64(h->hist.port, 5555);
	CHECK(!memcmp(h->hist.addr, "\x0a\x4d\x00\x01", 4));
	CHECK_U64(h->hist.count, 5);
	/* each quick exchange: request arrival to response sent = 100 us app + 0 */
	CHECK_U64(h->hist.min_us, 100);
	CHECK_U64(h->hist.max_us, 100);
	CHECK_U64(h->hist.sum_us, 500);
	CHECK_U64(h->hist.bucket[tstp_log2_bucket(100)], 5);
	CHECK_U64(t.below, 5);
	CHECK_U64(t.emitted, 1);
	CHECK_U64(t.exchanges, 6);
	/* the next round has nothing to say */
	tstp_hist_round_begin(&m->core);
	tstp_hist_round_step(&m->core, 0, m->now);
	model_decode(m);
	CHECK_U64(model_count(m, TSTP_REC_HIST), 1);
	CHECK_U64(model_count(m, TSTP_REC_STATS), 1);
	CHECK_U64(m->got.rec[m->got.n - 1].stats.exchanges, 6);
	CHECK_U64(m->got.rec[m->got.n - 1].stats.below_threshold, 5);
	CHECK_U64(m->got.rec[m->got.n - 1].stats.sockets, 0);
	model_free(m);
}

/* max_events: three records a second, the rest counted and kept in the histogram. */
static void event_budget(void)
{
	struct model *m = model_new(64, service);
	struct msk c, s;
	int i;

	m->core.cfg.max_events = 3;
	model_pair(&c, &s, 2, 44000, 5555, 1, 2);
	model_established(m, &s, 3);
	for (i = 0; i < 6; i++)
		server_only_request(m, &s, 100);
	CHECK_U64(m->cpu.exchanges, 5);
	CHECK_U64(m->cpu.emitted, 3);
	CHECK_U64(m->cpu.dropped_rate, 2);
	model_tick(m, 1000000);		/* the next second has a fresh budget */
	server_only_request(m, &s, 100);
	CHECK_U64(m->cpu.emitted, 4);
	tstp_hist_round_begin(&m->core);
	tstp_hist_round_step(&m->core, 0, m->now);
	model_decode(m);
	CHECK_U64(model_count(m, TSTP_REC_HIST), 1);
	model_free(m);
}

static void sampling_counts_what_it_skips(void)
{
	struct model *m = model_new(64, service);
	struct msk c, s;
	int i, traced = 0;

	m->core.cfg.sample = 4;
	for (i = 0; i < 64; i++) {
		model_pair(&c, &s, 2, (uint16_t)(45000 + i), 5555, 1, 2);
		s.key += (uint64_t)i << 8;
		traced += tstp_sampled_in(&m->core, s.key);
		model_established(m, &s, 3);
	}
	CHECK_U64(traced, 16);
	CHECK_U64(m->cpu.tracked, 16);
	CHECK_U64(m->cpu.sampled_out, 48);
	model_free(m);
}

static void address_filter(void)
{
	struct model *m = model_new(64, NULL);
	struct msk c, s;

	model_pair(&c, &s, 2, 46000, 5555, 1, 2);
	m->core.cfg.addr4 = 0x02004d0a;		/* 10.77.0.2: the client */
	CHECK(tstp_addr_match(&m->core, &s.id));
	m->core.cfg.addr4 = 0x09004d0a;
	CHECK(!tstp_addr_match(&m->core, &s.id));
	/* an IPv4 filter matches the IPv4-mapped address of a dual-stack socket */
	s.id.family = 10;
	memset(s.id.raddr, 0, sizeof(s.id.raddr));
	s.id.raddr[2] = 0xffff0000u;
	s.id.raddr[3] = 0x09004d0a;
	CHECK(tstp_addr_match(&m->core, &s.id));
	m->core.cfg.addr4 = 0;
	m->core.cfg.addr6_set = 1;
	model_pair(&c, &s, 10, 46001, 5555, 1, 2);
	memcpy(m->core.cfg.addr6, s.id.raddr, sizeof(m->core.cfg.addr6));
	CHECK(tstp_addr_match(&m->core, &s.id));
	m->core.cfg.addr6[3] ^= 1;
	CHECK(!tstp_addr_match(&m->core, &s.id));
	/* no port filter: every port matches */
	CHECK(tstp_port_match(&m->core, 1, 2));
	model_free(m);
}

/* More service endpoints than slots: the rest share endpoint 0. */
static void endpoints_overflow_to_zero(void)
{
	struct model *m = model_new(4096, NULL);
	struct msk c, s;
	uint64_t count = 0;
	size_t k;
	int i;

	m->core.cfg.threshold_us = 1000000;	/* everything goes to the histograms */
	for (i = 0; i < TSTP_MAX_ENDPOINTS + 10; i++) {
		model_pair(&c, &s, 2, 50000, (uint16_t)(1000 + i), 1, 2);
		server_only_exchange(m, &s);
	}
	tstp_hist_round_begin(&m->core);
	for (i = 0; i < 20 && !tstp_hist_round_step(&m->core, 0, m->now); i++)
		;
	CHECK(i < 20);
	decode_fresh(m);
	CHECK_U64(m->got.n, TSTP_MAX_ENDPOINTS);	/* 127 endpoints + endpoint 0 */
	for (k = 0; k < MAX_TEST_RECORDS && k < m->got.n; k++)
		count += m->got.rec[k].hist.count;
	/* the last record is endpoint 0 with the 10 that did not fit */
	CHECK_U64(m->cpu.exchanges, TSTP_MAX_ENDPOINTS + 10);
	CHECK(m->got.n > MAX_TEST_RECORDS || m->got.rec[m->got.n - 1].hist.count == 10);
	model_free(m);
}

/* A histogram word near its count limit asks for an early summary. */
static void histogram_flush_before_overflow(void)
{
	struct model *m = model_new(64, service);
	struct msk c, s;
	unsigned e, ep = 0;

	m->core.cfg.threshold_us = 1000000;
	model_pair(&c, &s, 2, 47000, 5555, 1, 2);
	server_only_exchange(m, &s);
	CHECK(!tstp_hist_flush_wanted(&m->core));
	for (e = 1; e < TSTP_MAX_ENDPOINTS; e++)
		if (tstp_atomic64_read(&m->core.ep[e].word[tstp_log2_bucket(100)]))
			ep = e;
	CHECK(ep != 0);
	tstp_atomic64_set(&m->core.ep[ep].word[tstp_log2_bucket(100)], TSTP_HB_COUNT_FLUSH - 1);
	server_only_exchange(m, &s);
	CHECK(tstp_hist_flush_wanted(&m->core));
	tstp_hist_round_begin(&m->core);
	CHECK_U64(tstp_hist_round_step(&m->core, 0, m->now), 1);
	CHECK(!tstp_hist_flush_wanted(&m->core));
	decode_fresh(m);
	CHECK_U64(m->got.rec[0].hist.count, TSTP_HB_COUNT_FLUSH);
	model_free(m);
}

static void guard_deadman_and_budget(void)
{
	struct model *m = model_new(64, service);
	struct tstp_core *c = &m->core;
	uint64_t t0 = 1000000000ull, ppm, ms;

	tstp_guard_init(c, 2, 10000, 5, t0);	/* dead-man 2 s, 1% over 5 s */
	CHECK_U64(tstp_guard_check(c, t0 + 1000000000ull, 0, &ppm, &ms), 0);
	tstp_guard_heartbeat(c, t0 + 1500000000ull);
	CHECK_U64(tstp_guard_check(c, t0 + 3000000000ull, 0, &ppm, &ms), 0);
	CHECK_U64(tstp_guard_check(c, t0 + 3600000000ull, 0, &ppm, &ms), TSTP_DISARM_HEARTBEAT);
	CHECK_U64(c->armed, 0);
	CHECK_U64(tstp_guard_check(c, t0 + 9000000000ull, 0, &ppm, &ms), 0);	/* once */

	c->armed = 1;
	tstp_guard_init(c, 0, 10000, 5, t0);
	/* 40 ms of handler time in 5 s: 0.8%, under the 1% budget */
	CHECK_U64(tstp_guard_check(c, t0 + 5000000000ull, 40000000ull, &ppm, &ms), 0);
	CHECK_U64(c->guard.last_window_ppm, 8000);
	/* the next window's whole 50 ms budget spent after 1 s: disarm at once */
	CHECK_U64(tstp_guard_check(c, t0 + 6000000000ull, 40000000ull + 50000001ull, &ppm, &ms),
		  TSTP_DISARM_OVERHEAD);
	CHECK_U64(ppm, 10000);
	CHECK_U64(ms, 1000);
	CHECK_U64(c->disarm_reason, TSTP_DISARM_OVERHEAD);
	model_free(m);
}

/* Interrupted runs are charged at the average, and counted. */
static void cost_outliers_clipped(void)
{
	struct tstp_cpu cpu;
	int i;

	memset(&cpu, 0, sizeof(cpu));
	for (i = 0; i < 200; i++)
		tstp_core_account(&cpu, 3000);
	CHECK(cpu.cost_avg_ns > 2900 && cpu.cost_avg_ns <= 3000);
	tstp_core_account(&cpu, 5000000);	/* 5 ms: the host preempted the vCPU */
	CHECK_U64(cpu.outliers, 1);
	CHECK(cpu.cost_ns < 202 * 3000);
	tstp_core_account(&cpu, 30000);		/* 10x: slow, not an outlier */
	CHECK_U64(cpu.outliers, 1);
	CHECK_U64(cpu.hits, 202);
	/* the first hits of a run are clipped by the floor */
	memset(&cpu, 0, sizeof(cpu));
	tstp_core_account(&cpu, 170000);
	CHECK_U64(cpu.outliers, 1);
	CHECK(cpu.cost_ns < 170000);
}

static void emit_failure_counted(void)
{
	struct model *m = model_new(64, service);
	struct msk c, s;

	model_pair(&c, &s, 2, 48000, 5555, 1, 2);
	model_established(m, &s, 3);
	server_only_request(m, &s, 100);
	m->fail_emit = 1;
	model_close(m, &s);
	CHECK_U64(m->cpu.emit_failed, 1);
	CHECK_U64(m->cpu.emitted, 0);
	model_free(m);
}

/* Records carry one sequence each, from 1: the decoder sees no gap. */
static void record_sequence_has_no_gaps(void)
{
	struct model *m = model_new(64, service);
	struct msk c, s;
	struct tstp_totals_view t;
	int i;

	tstp_emit_anchor(&m->core, 0, m->now, 1700000000000000000ull);
	model_pair(&c, &s, 2, 49000, 5555, 1, 2);
	model_established(m, &s, 3);
	for (i = 0; i < 11; i++)
		server_only_request(m, &s, 100);
	tstp_core_sum(&m->cpu, 1, &t);
	tstp_emit_stats(&m->core, 0, m->now, &t);
	{
		struct tstp_decoder dec;

		decode_chunked(&dec, &m->got, m->out, m->out_len, 7);
		CHECK_U64(dec.count.seq_lost, 0);
		CHECK_U64(dec.count.lost_bytes, 0);
		CHECK_U64(dec.count.records, 12);	/* anchor, 10 exchanges, stats */
	}
	CHECK_U64(m->got.rec[0].hdr.seq, 1);
	CHECK_U64(m->got.rec[0].anchor.producer, TSTP_PROD_LATENCY);
	model_free(m);
}

int main(void)
{
	RUN_TEST(eviction_at_the_bound);
	RUN_TEST(table_size_rounds_up);
	RUN_TEST(stale_entry_replaced);
	RUN_TEST(threshold_and_histogram);
	RUN_TEST(event_budget);
	RUN_TEST(sampling_counts_what_it_skips);
	RUN_TEST(address_filter);
	RUN_TEST(endpoints_overflow_to_zero);
	RUN_TEST(histogram_flush_before_overflow);
	RUN_TEST(guard_deadman_and_budget);
	RUN_TEST(cost_outliers_clipped);
	RUN_TEST(emit_failure_counted);
	RUN_TEST(record_sequence_has_no_gaps);
	return CHECK_EXIT_CODE();
}
