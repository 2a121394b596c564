// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Per-endpoint latency aggregation. Memory is fixed per endpoint (one
 * histogram allocated when the endpoint first appears), never per record.
 */
#include <stdlib.h>
#include <string.h>

#include "tcpstap/format.h"
#include "tcpstap/stats.h"

#define LL_SUB (1u << TSTP_LL_SUB_BITS)

const double tstp_pct_points[TSTP_NPCT] = { 50.0, 90.0, 99.0, 99.9 };
const char *const tstp_pct_names[TSTP_NPCT] = { "p50", "p90", "p99", "p99.9" };
/* The same points in per mille, so ranks are exact integers. */
static const uint64_t pct_per_mille[TSTP_NPCT] = { 500, 900, 990, 999 };

unsigned tstp_ll_index(uint64_t ns)
{
	unsigned exp, shift;

	if (ns >= 1ull << TSTP_LL_MAX_BITS)
		ns = (1ull << TSTP_LL_MAX_BITS) - 1;
	if (ns < 2 * LL_SUB)
		return (unsigned)ns;
	exp = 63 - (unsigned)__builtin_clzll(ns);
	shift = exp - TSTP_LL_SUB_BITS;
	return (shift << TSTP_LL_SUB_BITS) + (unsigned)(ns >> shift);
}

uint64_t tstp_ll_upper(unsigned index)
{
	unsigned shift;
	uint64_t sub;

	if (index < 2 * LL_SUB)
		return index;
	shift = (index >> TSTP_LL_SUB_BITS) - 1;
	sub = (index & (LL_SUB - 1)) + LL_SUB;
	return ((sub + 1) << shift) - 1;
}

unsigned tstp_log2_index(uint64_t us)
{
	unsigned i;

	if (us == 0)
		return 0;
	i = 64 - (unsigned)__builtin_clzll(us);
	return i < TSTP_HIST_BUCKETS ? i : TSTP_HIST_BUCKETS - 1;
}

int tstp_stats_init(struct tstp_stats_table *t, size_t max_endpoints)
{
	size_t slots = 16;

	memset(t, 0, sizeof(*t));
	/* Half-full at most, so probe chains stay short. */
	while (slots < 2 * max_endpoints)
		slots *= 2;
	t->slots = calloc(slots, sizeof(*t->slots));
	if (!t->slots)
		return -1;
	t->mask = slots - 1;
	t->max_used = max_endpoints;
	return 0;
}

void tstp_stats_free(struct tstp_stats_table *t)
{
	if (t->slots)
		for (size_t i = 0; i <= t->mask; i++)
			free(t->slots[i].fine);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static size_t key_hash(const struct tstp_endpoint_key *k)
{
	uint64_t a, b;
	uint32_t c;
	uint64_t h;

	memcpy(&a, k, 8);
	memcpy(&b, (const uint8_t *)k + 8, 8);
	memcpy(&c, (const uint8_t *)k + 16, 4);
	h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)c << 29)) * 0xff51afd7ed558ccdull;
	return (size_t)(h ^ (h >> 32));
}

/* Returns NULL when the endpoint bound is reached or memory is short. */
static struct tstp_endpoint *lookup(struct tstp_stats_table *t, const struct tstp_endpoint_key *key)
{
	size_t i;

	if (t->last && memcmp(&t->last->key, key, sizeof(*key)) == 0)
		return t->last;
	for (i = key_hash(key) & t->mask;; i = (i + 1) & t->mask) {
		struct tstp_endpoint *e = &t->slots[i];

		if (!e->used) {
			if (t->used >= t->max_used)
				return NULL;
			e->fine = calloc(TSTP_LL_BUCKETS, sizeof(*e->fine));
			if (!e->fine)
				return NULL;
			e->used = 1;
			e->key = *key;
			t->used++;
			t->last = e;
			return e;
		}
		if (memcmp(&e->key, key, sizeof(*key)) == 0) {
			t->last = e;
			return e;
		}
	}
}

static void make_key(struct tstp_endpoint_key *k, unsigned role, unsigned family,
		     unsigned port, const uint8_t addr[16])
{
	memset(k, 0, sizeof(*k));
	k->role = (uint8_t)role;
	k->family = (uint8_t)family;
	k->port = (uint16_t)port;
	/* Bytes past an IPv4 address carry no meaning: keep them out of the key. */
	memcpy(k->addr, addr, family == 2 ? 4 : 16);
}

int tstp_stats_add_exchange(struct tstp_stats_table *t, const struct tstp_exchange *x)
{
	struct tstp_endpoint_key key;
	struct tstp_endpoint *e;
	uint64_t ns;

	/* The service endpoint: our side for a server, the peer for a client. */
	if (x->role == TSTP_ROLE_SERVER) {
		make_key(&key, x->role, x->family, x->lport, x->laddr);
	} else if (x->role == TSTP_ROLE_CLIENT) {
		make_key(&key, x->role, x->family, x->rport, x->raddr);
	} else {
		t->unknown_role++;
		return 0;
	}
	e = lookup(t, &key);
	if (!e) {
		t->overflow_records++;
		return t->used >= t->max_used ? 0 : -1;
	}
	e->req_bytes += x->req_bytes;
	e->resp_bytes += x->resp_bytes;
	if (tstp_exchange_total_ns(x, &ns) != 0) {
		e->no_total++;
		return 0;
	}
	if (e->exchanges == 0 || ns < e->exchange_min_ns)
		e->exchange_min_ns = ns;
	if (ns > e->exchange_max_ns)
		e->exchange_max_ns = ns;
	e->exchanges++;
	e->exchange_sum_ns += ns;
	e->fine[tstp_ll_index(ns)]++;
	e->log2[tstp_log2_index(ns / 1000)]++;
	return 0;
}

int tstp_stats_add_hist(struct tstp_stats_table *t, const struct tstp_hist *h)
{
	struct tstp_endpoint_key key;
	struct tstp_endpoint *e;

	if (h->role != TSTP_ROLE_SERVER && h->role != TSTP_ROLE_CLIENT) {
		t->unknown_role++;
		return 0;
	}
	make_key(&key, h->role, h->family, h->port, h->addr);
	e = lookup(t, &key);
	if (!e) {
		t->overflow_records++;
		return t->used >= t->max_used ? 0 : -1;
	}
	if (h->count == 0)
		return 0;
	if (e->kernel_count == 0 || h->min_us < e->kernel_min_us)
		e->kernel_min_us = h->min_us;
	if (h->max_us > e->kernel_max_us)
		e->kernel_max_us = h->max_us;
	e->kernel_count += h->count;
	e->kernel_sum_us += h->sum_us;
	for (unsigned i = 0; i < TSTP_HIST_BUCKETS; i++)
		e->log2[i] += h->bucket[i];
	return 0;
}

static int key_order(const void *pa, const void *pb)
{
	const struct tstp_endpoint_key *a = &(*(const struct tstp_endpoint *const *)pa)->key;
	const struct tstp_endpoint_key *b = &(*(const struct tstp_endpoint *const *)pb)->key;
	int c;

	if (a->role != b->role)
		return a->role - b->role;
	if (a->family != b->family)
		return a->family - b->family;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c;
	return (int)a->port - (int)b->port;
}

size_t tstp_stats_sorted(const struct tstp_stats_table *t, const struct tstp_endpoint **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; t->slots && i <= t->mask && n < max; i++)
		if (t->slots[i].used)
			out[n++] = &t->slots[i];
	qsort(out, n, sizeof(*out), key_order);
	return n;
}

const char *tstp_pct_method_name(enum tstp_pct_method m)
{
	switch (m) {
	case TSTP_PCT_LOGLINEAR:	return "exchange-loglinear";
	case TSTP_PCT_MERGED_LOG2:	return "merged-log2";
	default:			return "none";
	}
}

/* 1-based rank of the sample at a per-mille point: ceil(count * pm / 1000). */
static uint64_t pct_rank(uint64_t count, uint64_t per_mille)
{
	uint64_t rank = (count * per_mille + 999) / 1000;

	return rank ? rank : 1;
}

void tstp_endpoint_summary(const struct tstp_endpoint *e, struct tstp_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->count = e->exchanges + e->kernel_count;
	if (s->count == 0) {
		s->method = TSTP_PCT_NONE;
		return;
	}
	if (e->kernel_count == 0) {
		s->method = TSTP_PCT_LOGLINEAR;
		s->min_ns = e->exchange_min_ns;
		s->max_ns = e->exchange_max_ns;
		s->avg_ns = e->exchange_sum_ns / e->exchanges;
		for (unsigned p = 0; p < TSTP_NPCT; p++) {
			uint64_t rank = pct_rank(s->count, pct_per_mille[p]), seen = 0;
			unsigned i = 0;

			while (i < TSTP_LL_BUCKETS - 1 && seen + e->fine[i] < rank)
				seen += e->fine[i++];
			s->pct_ns[p] = tstp_ll_upper(i) < s->max_ns ? tstp_ll_upper(i) : s->max_ns;
		}
		return;
	}
	/* Below-threshold exchanges exist only as log2 counts: merge into those. */
	s->method = TSTP_PCT_MERGED_LOG2;
	s->min_ns = e->kernel_min_us * 1000;
	s->max_ns = e->kernel_max_us * 1000;
	if (e->exchanges) {
		if (e->exchange_min_ns < s->min_ns)
			s->min_ns = e->exchange_min_ns;
		if (e->exchange_max_ns > s->max_ns)
			s->max_ns = e->exchange_max_ns;
	}
	s->avg_ns = (e->exchange_sum_ns + e->kernel_sum_us * 1000) / s->count;
	for (unsigned p = 0; p < TSTP_NPCT; p++) {
		uint64_t rank = pct_rank(s->count, pct_per_mille[p]), seen = 0, edge_ns;
		unsigned i = 0;

		while (i < TSTP_HIST_BUCKETS - 1 && seen + e->log2[i] < rank)
			seen += e->log2[i++];
		/* Upper edge of bucket i is 2^i us; the top bucket is open, so use max. */
		edge_ns = i < TSTP_HIST_BUCKETS - 1 ? (1ull << i) * 1000 : s->max_ns;
		s->pct_ns[p] = edge_ns < s->max_ns ? edge_ns : s->max_ns;
	}
}
