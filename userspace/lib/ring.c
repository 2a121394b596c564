// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The bounded record ring of tcpstap-load --ring (see tcpstap/ring.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstap/format.h"
#include "tcpstap/ring.h"

int tstp_ring_init(struct tstp_ring *r, size_t cap, uint64_t window_ns)
{
	memset(r, 0, sizeof(*r));
	if (cap < TSTP_MAX_RECORD)
		return EINVAL;
	r->buf = malloc(cap);
	if (!r->buf)
		return ENOMEM;
	r->cap = cap;
	r->window_ns = window_ns;
	return 0;
}

void tstp_ring_free(struct tstp_ring *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* Copies n bytes starting at ring offset off (which may wrap). */
static void ring_read(const struct tstp_ring *r, size_t off, void *dst, size_t n)
{
	size_t first = r->cap - off < n ? r->cap - off : n;

	memcpy(dst, r->buf + off, first);
	memcpy((uint8_t *)dst + first, r->buf, n - first);
}

static void ring_pop(struct tstp_ring *r)
{
	struct tstp_hdr h;

	ring_read(r, r->head, &h, sizeof(h));
	r->head = (r->head + h.length) % r->cap;
	r->used -= h.length;
	r->records--;
}

static uint64_t oldest_ts(const struct tstp_ring *r)
{
	struct tstp_hdr h;

	ring_read(r, r->head, &h, sizeof(h));
	return h.ts_ns;
}

int tstp_ring_push(struct tstp_ring *r, const void *rec, size_t len)
{
	struct tstp_hdr h;
	size_t tail, first;

	if (len < sizeof(h) || len > TSTP_MAX_RECORD || len % 8 || len > r->cap)
		return EINVAL;
	memcpy(&h, rec, sizeof(h));
	if (h.length != len)
		return EINVAL;
	if (h.ts_ns > r->newest_ns)
		r->newest_ns = h.ts_ns;
	/* Records arrive roughly in time order (per-CPU buffers merge late). */
	while (r->records && r->newest_ns - oldest_ts(r) > r->window_ns && oldest_ts(r) < r->newest_ns) {
		ring_pop(r);
		r->expired++;
	}
	while (r->cap - r->used < len) {
		ring_pop(r);
		r->evicted++;
		r->evicted_since_take++;
	}
	tail = (r->head + r->used) % r->cap;
	first = r->cap - tail < len ? r->cap - tail : len;
	memcpy(r->buf + tail, rec, first);
	memcpy(r->buf, (const uint8_t *)rec + first, len - first);
	r->used += len;
	r->records++;
	return 0;
}

void tstp_ring_pieces(const struct tstp_ring *r, const uint8_t **a, size_t *alen,
		      const uint8_t **b, size_t *blen)
{
	size_t first = r->cap - r->head < r->used ? r->cap - r->head : r->used;

	*a = r->buf + r->head;
	*alen = first;
	*b = r->buf;
	*blen = r->used - first;
}

uint64_t tstp_ring_take_evicted(struct tstp_ring *r)
{
	uint64_t n = r->evicted_since_take;

	r->evicted_since_take = 0;
	return n;
}

int tstp_trigger_slow(const struct tstp_exchange *x, uint64_t trigger_ns)
{
	uint64_t total;

	return tstp_exchange_total_ns(x, &total) == 0 && total >= trigger_ns;
}
