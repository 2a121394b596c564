// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Multi-threaded hammer of the core, built under ThreadSanitizer and under
 * AddressSanitizer (core/Makefile): worker threads stand for CPUs firing
 * random events on a shared set of socket keys (the same socket can be hit
 * from two CPUs at once, as receive softirq and a writer can), against a
 * table small enough to evict all the time, while a timer thread runs
 * histogram rounds. At the end every exchange is accounted for exactly
 * once (emitted, or in a histogram) and the table holds what the counters
 * say it holds.
 *
 * Usage: hammer_core [SECONDS]   (default 2); exit 0 when the books balance.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../tstp_core.h"

#define WORKERS		4
#define KEYS		96	/* socket keys, shared by all workers */
#define SLOTS		32	/* table slots: far fewer than keys */

struct worker {
	pthread_t thread;
	unsigned id;
	uint64_t rng;
	struct tstp_cpu cpu;
	struct tstp_ident ident[KEYS];
	uint32_t seq[KEYS];
	uint64_t now;
};

static struct tstp_core core;
static struct tstp_bucket *buckets;
static struct worker workers[WORKERS];
static _Atomic int stop;
static _Atomic uint64_t emitted_exchanges, emitted_other, bad_records;
static _Atomic uint64_t hist_counted;
static pthread_mutex_t emit_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t last_seq;

static int emit(void *ctx, const void *rec, unsigned len)
{
	const struct tstp_hdr *h = rec;

	(void)ctx;
	if (h->magic != TSTP_MAGIC || h->length != len || len % 8)
		bad_records++;
	if (h->type == TSTP_REC_EXCHANGE) {
		const struct tstp_exchange *x = rec;

		if (x->role != TSTP_ROLE_SERVER && x->role != TSTP_ROLE_CLIENT)
			bad_records++;
		emitted_exchanges++;
	} else {
		if (h->type == TSTP_REC_HIST)
			hist_counted += ((const struct tstp_hist *)rec)->count;
		emitted_other++;
	}
	pthread_mutex_lock(&emit_lock);
	if (h->seq > last_seq)
		last_seq = h->seq;
	pthread_mutex_unlock(&emit_lock);
	return 0;
}

static void ident_of(const void *sk, struct tstp_ident *id)
{
	*id = *(const struct tstp_ident *)sk;
}

static uint64_t rnd(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static void one_event(struct worker *w)
{
	unsigned k = (unsigned)(rnd(w) % KEYS);
	uint64_t key = 0xffff888100000000ull + (uint64_t)k * 2304;
	struct tstp_ident *id = &w->ident[k];
	struct tstp_ev ev;

	memset(&ev, 0, sizeof(ev));
	w->now += rnd(w) % 50000;
	ev.now = w->now;
	ev.seq = w->seq[k];
	ev.len = (uint32_t)(rnd(w) % 3000);
	ev.write_seq = w->seq[k] + (uint32_t)(rnd(w) % 100);
	ev.snd_nxt = w->seq[k];
	ev.ack = w->seq[k] - (uint32_t)(rnd(w) % 4);
	ev.copied_seq = w->seq[k];
	ev.rcv_nxt = w->seq[k] + (uint32_t)(rnd(w) % 2);
	ev.total_retrans = (uint32_t)(rnd(w) % 3);
	ev.pid = w->id;
	ev.comm = "hammer";
	w->seq[k] += ev.len;
	switch (rnd(w) % 8) {
	case 0:
		tstp_core_established(&core, &w->cpu, key, id, ident_of, 2 + (rnd(w) & 1), ev.now);
		break;
	case 1:
		tstp_core_write(&core, &w->cpu, key, id, ident_of, &ev, 100);
		break;
	case 2:
		tstp_core_tx(&core, &w->cpu, key, &ev);
		break;
	case 3:
	case 4:
		if (ev.len)
			tstp_core_rx(&core, &w->cpu, key, id, ident_of, &ev, 100);
		break;
	case 5:
		tstp_core_read(&core, &w->cpu, key, &ev);
		break;
	case 6:
		if (rnd(w) % 8 == 0)
			tstp_core_close(&core, &w->cpu, key, &ev, 100);
		break;
	default:
		tstp_core_account(&w->cpu, rnd(w) % 10000);
		break;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned k;

	for (k = 0; k < KEYS; k++) {
		/* Workers disagree on some identities: stale-entry replacement runs too. */
		w->ident[k].family = (k % 5) ? 2 : 10;
		w->ident[k].state = 1;
		w->ident[k].lport = (uint16_t)(k % 3 ? 5555 : 40000 + k + (w->id & 1));
		w->ident[k].rport = (uint16_t)(k % 3 ? 40000 + k : 5555);
		w->ident[k].laddr[0] = 0x0100000a + k;
		w->ident[k].raddr[0] = 0x0200000a;
		w->ident[k].bytes_seen = k & 1 ? 100 : 0;
		w->seq[k] = (uint32_t)rnd(w);
	}
	while (!stop)
		one_event(w);
	return NULL;
}

static void *timer_main(void *arg)
{
	struct timespec ts = { 0, 2000000 };
	uint64_t now = 0;

	(void)arg;
	while (!stop) {
		now += 100000000;
		tstp_hist_round_begin(&core);
		while (!tstp_hist_round_step(&core, 99, now))
			;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct tstp_config cfg;
	struct tstp_cpu cpus[WORKERS];
	struct tstp_totals_view t;
	pthread_t timer;
	uint32_t nb = tstp_core_nbuckets(SLOTS), i, w, live = 0;
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	struct timespec run = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };

	memset(&cfg, 0, sizeof(cfg));
	cfg.sample = 1;
	cfg.max_sockets = SLOTS;
	cfg.threshold_us = 20;		/* about half are emitted */
	cfg.max_events = 200000;
	tstp_config_add_port(&cfg, 5555);
	buckets = calloc(nb, sizeof(*buckets));
	if (!buckets || tstp_core_init(&core, &cfg, buckets, nb, emit, NULL, 0)) {
		fprintf(stderr, "hammer_core: init failed\n");
		return 2;
	}
	for (w = 0; w < WORKERS; w++) {
		workers[w].id = w + 1;
		workers[w].rng = 0x9E3779B97F4A7C15ull * (w + 1);
		workers[w].cpu.id = w;
		pthread_create(&workers[w].thread, NULL, worker_main, &workers[w]);
	}
	pthread_create(&timer, NULL, timer_main, NULL);
	nanosleep(&run, NULL);
	stop = 1;
	for (w = 0; w < WORKERS; w++)
		pthread_join(workers[w].thread, NULL);
	pthread_join(timer, NULL);

	/* Whatever the last round left in the words. */
	tstp_hist_round_begin(&core);
	while (!tstp_hist_round_step(&core, 99, ~0ull >> 1))
		;
	for (w = 0; w < WORKERS; w++)
		cpus[w] = workers[w].cpu;
	tstp_core_sum(cpus, WORKERS, &t);
	for (i = 0; i < nb; i++)
		for (w = 0; w < TSTP_WAYS; w++)
			live += buckets[i].key[w] != 0;
	printf("hammer_core: %llu events, %llu exchanges (%llu emitted, %llu in histograms, "
	       "%llu over budget), %llu evicted, %u live, %llu records other\n",
	       (unsigned long long)t.hits, (unsigned long long)t.exchanges,
	       (unsigned long long)emitted_exchanges, (unsigned long long)hist_counted,
	       (unsigned long long)t.dropped_rate, (unsigned long long)t.evicted, live,
	       (unsigned long long)emitted_other);
	if (bad_records) {
		printf("FAIL hammer_core: %llu malformed records\n", (unsigned long long)bad_records);
		return 1;
	}
	if (t.exchanges != emitted_exchanges + hist_counted || t.emitted != emitted_exchanges) {
		printf("FAIL hammer_core: exchanges %llu != emitted %llu + histograms %llu\n",
		       (unsigned long long)t.exchanges, (unsigned long long)emitted_exchanges,
		       (unsigned long long)hist_counted);
		return 1;
	}
	if (t.tracked - t.closed - t.evicted != live || live > nb * TSTP_WAYS) {
		printf("FAIL hammer_core: table holds %u, counters say %llu\n", live,
		       (unsigned long long)(t.tracked - t.closed - t.evicted));
		return 1;
	}
	if (t.exchanges < 1000 || t.evicted < 100) {
		printf("FAIL hammer_core: too little happened to prove anything\n");
		return 1;
	}
	printf("PASS hammer_core\n");
	free(buckets);
	return 0;
}
