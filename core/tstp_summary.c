// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * What the engines' timers do with the core: sum the per-CPU counters, emit
 * the anchor, stats and histogram records, and run the guard arithmetic
 * (dead-man switch, CPU budget). Never on a probe's hot path.
 */
#include "tstp_core.h"

#define NS_PER_SEC_S	1000000000ull
#define NS_PER_MS	1000000ull

void tstp_core_add(struct tstp_totals_view *t, const struct tstp_cpu *p)
{
	t->hits += p->hits;
	t->cost_ns += p->cost_ns;
	t->outliers += p->outliers;
	t->exchanges += p->exchanges;
	t->emitted += p->emitted;
	t->below += p->below;
	t->dropped_rate += p->dropped_rate;
	t->evicted += p->evicted;
	t->closed += p->closed;
	t->tracked += p->tracked;
	t->sampled_out += p->sampled_out;
	t->emit_failed += p->emit_failed;
}

void tstp_core_sum(const struct tstp_cpu *cpus, unsigned ncpus, struct tstp_totals_view *t)
{
	unsigned i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < ncpus; i++)
		tstp_core_add(t, &cpus[i]);
}

int tstp_emit_anchor(struct tstp_core *c, uint16_t cpu, uint64_t now, uint64_t real_ns)
{
	struct tstp_anchor a;

	memset(&a, 0, sizeof(a));
	a.realtime_ns = real_ns;
	a.producer = TSTP_PROD_LATENCY;
	a.threshold_us = (uint32_t)c->cfg.threshold_us;
	a.sample_ratio = c->cfg.sample;
	a.max_events = c->cfg.max_events;
	return tstp_emit_record(c, &a, TSTP_REC_ANCHOR, sizeof(a), cpu, now);
}

int tstp_emit_stats(struct tstp_core *c, uint16_t cpu, uint64_t now,
		    const struct tstp_totals_view *t)
{
	struct tstp_stats s;
	uint64_t gone = t->closed + t->evicted;

	memset(&s, 0, sizeof(s));
	s.probe_hits = t->hits;
	s.probe_ns = t->cost_ns;
	s.exchanges = t->exchanges;
	s.emitted = t->emitted;
	s.below_threshold = t->below;
	s.dropped_rate = t->dropped_rate;
	s.evicted = t->evicted;
	s.closed = t->closed;
	/* Per-CPU counts read while handlers run: never report a negative. */
	s.sockets = t->tracked > gone ? t->tracked - gone : 0;
	s.sampled_out = t->sampled_out;
	s.armed = (uint32_t)TSTP_ONCE(c->armed);
	s.disarm_reason = c->disarm_reason;
	return tstp_emit_record(c, &s, TSTP_REC_STATS, sizeof(s), cpu, now);
}

/* ------------------------------------------------------------ histograms */

void tstp_hist_round_begin(struct tstp_core *c)
{
	c->hist_cursor = 1;
}

int tstp_hist_flush_wanted(const struct tstp_core *c)
{
	unsigned i;

	for (i = 0; i < TSTP_MAX_ENDPOINTS; i++)
		if (tstp_atomic64_read(&c->ep[i].flush))
			return 1;
	return 0;
}

/* Takes one endpoint's counts (resetting them); 0 when it had none. */
static int take_endpoint(struct tstp_endpoint *e, struct tstp_hist *h)
{
	uint64_t count = 0, sum = 0;
	unsigned b;

	for (b = 0; b < TSTP_HIST_BUCKETS; b++) {
		uint64_t w = tstp_atomic64_read(&e->word[b]);
		uint64_t n;

		if (!w)
			continue;
		w = tstp_atomic64_xchg(&e->word[b], 0);
		n = w & TSTP_HB_COUNT_MASK;
		h->bucket[b] = (uint32_t)n;
		count += n;
		sum += w >> TSTP_HB_COUNT_BITS;
	}
	tstp_atomic64_set(&e->flush, 0);
	if (!count)
		return 0;
	/*
	 * An exchange counted after its bucket was taken can move min/max into
	 * this record while its count goes to the next: counts stay exact.
	 */
	h->min_us = tstp_atomic64_xchg(&e->min_us, TSTP_U64_MAX);
	h->max_us = tstp_atomic64_xchg(&e->max_us, 0);
	if (h->min_us == TSTP_U64_MAX)
		h->min_us = 0;
	h->count = count;
	h->sum_us = sum;
	return 1;
}

static int emit_endpoint(struct tstp_core *c, unsigned i, uint16_t cpu, uint64_t now)
{
	struct tstp_endpoint *e = &c->ep[i];
	struct tstp_hist h;

	if (tstp_atomic64_read(&e->state) != 2)
		return 0;
	memset(&h, 0, sizeof(h));
	if (!take_endpoint(e, &h))
		return 0;
	h.role = e->role;
	h.family = e->family;
	h.port = e->port;
	h.interval_ms = (uint32_t)((now - c->hist_last_ns) / NS_PER_MS);
	memcpy(h.addr, e->addr, sizeof(h.addr));
	tstp_emit_record(c, &h, TSTP_REC_HIST, sizeof(h), cpu, now);
	return 1;
}

/*
 * Endpoints 1..MAX-1 in order, then 0 (those that did not fit), at most
 * TSTP_HIST_EMIT_BATCH records a step so that no timer run is long. The
 * interval of a round is from the previous round's end to this step.
 */
int tstp_hist_round_step(struct tstp_core *c, uint16_t cpu, uint64_t now)
{
	unsigned emitted = 0;

	if (!c->hist_cursor)
		return 1;
	while (c->hist_cursor < TSTP_MAX_ENDPOINTS && emitted < TSTP_HIST_EMIT_BATCH)
		emitted += (unsigned)emit_endpoint(c, c->hist_cursor++, cpu, now);
	if (c->hist_cursor < TSTP_MAX_ENDPOINTS)
		return 0;
	emit_endpoint(c, 0, cpu, now);
	c->hist_cursor = 0;
	c->hist_last_ns = now;
	return 1;
}

/* ------------------------------------------------------------ guard */

void tstp_guard_init(struct tstp_core *c, uint64_t deadman_s, uint64_t max_cpu_ppm,
		     uint64_t window_s, uint64_t now)
{
	struct tstp_guard *g = &c->guard;

	memset(g, 0, sizeof(*g));
	g->deadman_ns = deadman_s * NS_PER_SEC_S;
	g->max_cpu_ppm = max_cpu_ppm;
	g->window_ns = (window_s ? window_s : 1) * NS_PER_SEC_S;
	g->last_heartbeat_ns = now;
	g->win_start_ns = now;
}

void tstp_guard_heartbeat(struct tstp_core *c, uint64_t now)
{
	TSTP_ONCE(c->guard.last_heartbeat_ns) = now;
}

static uint32_t disarm(struct tstp_core *c, uint32_t reason)
{
	TSTP_ONCE(c->armed) = 0;
	c->disarm_reason = reason;
	return reason;
}

uint32_t tstp_guard_check(struct tstp_core *c, uint64_t now, uint64_t cost_ns,
			  uint64_t *used_ppm, uint64_t *elapsed_ms)
{
	struct tstp_guard *g = &c->guard;
	uint64_t elapsed, spent, window_us = g->window_ns / 1000;

	*used_ppm = 0;
	*elapsed_ms = 0;
	if (!TSTP_ONCE(c->armed))
		return 0;
	if (g->deadman_ns && now - TSTP_ONCE(g->last_heartbeat_ns) > g->deadman_ns)
		return disarm(c, TSTP_DISARM_HEARTBEAT);
	elapsed = now - g->win_start_ns;
	spent = cost_ns - g->win_cost_ns;
	/*
	 * A window whose whole budget is already spent cannot end under it:
	 * disarm at once. The usage reported is then that of the whole window,
	 * whose rest costs nothing once disarmed.
	 */
	if (g->max_cpu_ppm && elapsed < g->window_ns &&
	    spent * 1000 > g->max_cpu_ppm * window_us) {
		g->last_window_ppm = spent * 1000 / window_us;
		*used_ppm = g->last_window_ppm;
		*elapsed_ms = elapsed / NS_PER_MS;
		return disarm(c, TSTP_DISARM_OVERHEAD);
	}
	if (elapsed < g->window_ns)
		return 0;
	g->last_window_ppm = elapsed ? spent * 1000000 / elapsed : 0;
	g->win_start_ns = now;
	g->win_cost_ns += spent;
	if (g->max_cpu_ppm && g->last_window_ppm > g->max_cpu_ppm) {
		*used_ppm = g->last_window_ppm;
		*elapsed_ms = elapsed / NS_PER_MS;
		return disarm(c, TSTP_DISARM_OVERHEAD);
	}
	return 0;
}
