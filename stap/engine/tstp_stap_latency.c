// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of stap/latency.stp: the exchange core and the probe glue,
 * compiled into the SystemTap module through the %{ %} block of
 * stap/tapset/tcpstap_engine.stp (scripts/lib/stap-build.sh puts core/ and
 * userspace/include/ on the module's include path).
 *
 * Why C: SystemTap locks every script global a handler can touch, for the
 * whole handler (2.9 and 4.0) or from its first global (4.4+), with
 * trylock and udelay(10) retries, and skips the hit after 100 failures.
 * State kept here is not a script global, so the hot handlers take no
 * SystemTap lock at all (their stap -p3 lock lists are empty); the core
 * takes a per-bucket lock of its own for a few hundred instructions.
 *
 * Memory is static (a begin probe cannot sleep, so it cannot allocate a
 * table): the table at its cap, one counter line per possible CPU.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/smp.h>

#include "tstp_core.h"
#include "tstp_rules.c"
#include "tstp_table.c"
#include "tstp_summary.c"

static struct tstp_core tstp_lat_core;
static struct tstp_bucket tstp_lat_buckets[TSTP_SOCKETS_CAP / TSTP_WAYS];
static struct tstp_cpu tstp_lat_cpus[NR_CPUS];
static uint64_t tstp_lat_interval_ns;
static uint64_t tstp_lat_next_summary_ns;
static uint32_t tstp_lat_max_sockets;
static int tstp_lat_started;

#define TSTP_GLUE_CORE		(&tstp_lat_core)
#define TSTP_GLUE_CPU()		(&tstp_lat_cpus[smp_processor_id()])
#include "tstp_glue.h"

/* The runtime's print.c comes after the script's embedded C. */
static void _stp_print_binary(int num, ...);

/*
 * Records go out through SystemTap's print buffer, eight 64-bit words per
 * call (every record is a multiple of 8 bytes): _stp_print_binary is the
 * runtime's binary writer in every version this targets (2.9, 4.0, 4.8).
 */
static int tstp_lat_emit(void *ctx, const void *rec, unsigned len)
{
	const int64_t *w = rec;
	unsigned n = len / 8, i = 0;

	(void)ctx;
	for (; n - i >= 8; i += 8)
		_stp_print_binary(8, w[i], w[i + 1], w[i + 2], w[i + 3], w[i + 4], w[i + 5],
				  w[i + 6], w[i + 7]);
	switch (n - i) {
	case 7: _stp_print_binary(7, w[i], w[i + 1], w[i + 2], w[i + 3], w[i + 4], w[i + 5], w[i + 6]); break;
	case 6: _stp_print_binary(6, w[i], w[i + 1], w[i + 2], w[i + 3], w[i + 4], w[i + 5]); break;
	case 5: _stp_print_binary(5, w[i], w[i + 1], w[i + 2], w[i + 3], w[i + 4]); break;
	case 4: _stp_print_binary(4, w[i], w[i + 1], w[i + 2], w[i + 3]); break;
	case 3: _stp_print_binary(3, w[i], w[i + 1], w[i + 2]); break;
	case 2: _stp_print_binary(2, w[i], w[i + 1]); break;
	case 1: _stp_print_binary(1, w[i]); break;
	default: break;
	}
	return 0;
}

static struct tstp_config tstp_lat_cfg;

static void tstp_lat_configure(int64_t threshold_us, int64_t sample, int64_t max_events,
			       int64_t max_sockets, int64_t interval_s)
{
	memset(&tstp_lat_cfg, 0, sizeof(tstp_lat_cfg));
	tstp_lat_cfg.threshold_us = threshold_us > 0 ? (uint64_t)threshold_us : 0;
	tstp_lat_cfg.sample = sample > 1 ? (uint32_t)sample : 1;
	tstp_lat_cfg.max_events = max_events > 0 ? (uint32_t)max_events : 0;
	if (max_sockets < 1 || max_sockets > TSTP_SOCKETS_CAP)
		max_sockets = TSTP_SOCKETS_CAP;
	tstp_lat_cfg.max_sockets = (uint32_t)max_sockets;
	tstp_lat_max_sockets = (uint32_t)max_sockets;
	tstp_lat_interval_ns = (uint64_t)(interval_s < 1 ? 1 : interval_s) * 1000000000ull;
}

static void tstp_lat_totals(struct tstp_totals_view *t)
{
	tstp_core_sum(tstp_lat_cpus, nr_cpu_ids < NR_CPUS ? nr_cpu_ids : NR_CPUS, t);
}

static void tstp_lat_summary(uint64_t now)
{
	struct tstp_totals_view t;
	uint16_t cpu = (uint16_t)smp_processor_id();

	tstp_emit_anchor(&tstp_lat_core, cpu, now, tstp_real_ns());
	tstp_lat_totals(&t);
	tstp_emit_stats(&tstp_lat_core, cpu, now, &t);
}

/* begin: everything is configured; arm. */
static void tstp_lat_start(int64_t deadman_s, int64_t max_cpu_ppm, int64_t window_s)
{
	uint64_t now = tstp_mono_ns();
	uint32_t i;

	tstp_glue_clock_init();
	for (i = 0; i < NR_CPUS; i++) {
		memset(&tstp_lat_cpus[i], 0, sizeof(tstp_lat_cpus[i]));
		tstp_lat_cpus[i].id = i;
	}
	tstp_core_init(&tstp_lat_core, &tstp_lat_cfg, tstp_lat_buckets,
		       tstp_core_nbuckets(tstp_lat_max_sockets), tstp_lat_emit, NULL, now);
	tstp_guard_init(&tstp_lat_core, deadman_s > 0 ? deadman_s : 0,
			max_cpu_ppm > 0 ? max_cpu_ppm : 0, window_s > 0 ? window_s : 1, now);
	tstp_lat_next_summary_ns = now + tstp_lat_interval_ns;
	tstp_lat_summary(now);
#ifdef TSTP_BENCH_DISARMED
	/* make bench's "disarmed" mode: what a disarmed handler costs. */
	TSTP_ONCE(tstp_lat_core.armed) = 0;
#endif
	tstp_lat_started = 1;
}

/*
 * timer.ms(100): the guard, then the summary (anchor, stats) every
 * interval followed by the histogram round in steps, or at once when an
 * endpoint's counters near their limit. Returns the disarm reason (0 none)
 * and the message for it in msg.
 */
static int tstp_lat_tick(char *msg, size_t size)
{
	struct tstp_core *c = &tstp_lat_core;
	struct tstp_totals_view t;
	uint64_t now = tstp_mono_ns(), ppm, ms;
	uint16_t cpu = (uint16_t)smp_processor_id();
	uint32_t why;

	if (!tstp_lat_started)
		return 0;
	tstp_lat_totals(&t);
	why = tstp_guard_check(c, now, t.cost_ns, &ppm, &ms);
	if (why == TSTP_DISARM_HEARTBEAT)
		snprintf(msg, size, "no heartbeat for %llu s",
			 (unsigned long long)(c->guard.deadman_ns / 1000000000ull));
	else if (why == TSTP_DISARM_OVERHEAD && ms * 1000000ull < c->guard.window_ns)
		snprintf(msg, size, "handlers used %llu ppm of a CPU over %llu s (its budget spent after %llu ms), budget %llu ppm",
			 (unsigned long long)ppm, (unsigned long long)(c->guard.window_ns / 1000000000ull),
			 (unsigned long long)ms, (unsigned long long)c->guard.max_cpu_ppm);
	else if (why == TSTP_DISARM_OVERHEAD)
		snprintf(msg, size, "handlers used %llu ppm of a CPU over %llu s, budget %llu ppm",
			 (unsigned long long)ppm, (unsigned long long)(c->guard.window_ns / 1000000000ull),
			 (unsigned long long)c->guard.max_cpu_ppm);
	if (why)
		tstp_emit_stats(c, cpu, now, &t);
	if (c->hist_cursor) {
		tstp_hist_round_step(c, cpu, now);
	} else if (now >= tstp_lat_next_summary_ns) {
		tstp_lat_summary(now);
		tstp_hist_round_begin(c);
		tstp_hist_round_step(c, cpu, now);
		tstp_lat_next_summary_ns = now + tstp_lat_interval_ns;
	} else if (tstp_hist_flush_wanted(c)) {
		tstp_hist_round_begin(c);
		tstp_hist_round_step(c, cpu, now);
	}
	return (int)why;
}

/* end: exchanges still open are left unreported (they may complete later); what was counted is summarised. */
static void tstp_lat_end(void)
{
	struct tstp_core *c = &tstp_lat_core;
	struct tstp_totals_view t;
	uint64_t now = tstp_mono_ns();
	uint16_t cpu = (uint16_t)smp_processor_id();

	if (!tstp_lat_started)
		return;
	TSTP_ONCE(c->armed) = 0;
	if (!c->hist_cursor)
		tstp_hist_round_begin(c);
	while (!tstp_hist_round_step(c, cpu, now))
		;
	tstp_lat_totals(&t);
	tstp_emit_stats(c, cpu, now, &t);
}

/* The state file's line: the guard interface of every tcpstap module, plus counters. */
static void tstp_lat_state_line(char *buf, size_t size)
{
	struct tstp_core *c = &tstp_lat_core;
	struct tstp_totals_view t;
	uint64_t gone;

	tstp_lat_totals(&t);
	gone = t.closed + t.evicted;
	snprintf(buf, size,
		 "armed=%d disarm_reason=%u probe_hits=%llu probe_ns=%llu window_ppm=%llu max_cpu_ppm=%llu deadman_s=%llu"
		 " exchanges=%llu emitted=%llu dropped_rate=%llu evicted=%llu sockets=%llu outliers=%llu emit_failed=%llu\n",
		 TSTP_ONCE(c->armed), c->disarm_reason, (unsigned long long)t.hits,
		 (unsigned long long)t.cost_ns, (unsigned long long)c->guard.last_window_ppm,
		 (unsigned long long)c->guard.max_cpu_ppm,
		 (unsigned long long)(c->guard.deadman_ns / 1000000000ull),
		 (unsigned long long)t.exchanges, (unsigned long long)t.emitted,
		 (unsigned long long)t.dropped_rate, (unsigned long long)t.evicted,
		 (unsigned long long)(t.tracked > gone ? t.tracked - gone : 0),
		 (unsigned long long)t.outliers, (unsigned long long)t.emit_failed);
}
