/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The bounded in-memory ring of tcpstap-load --ring: the most recent whole
 * records of one producer, kept as the byte stream they arrived as, so that
 * a triggered capture is the ring's bytes written out in at most two pieces.
 *
 * Two bounds: time (records older than the window, by hdr.ts_ns of the
 * newest record, are expired: the normal case) and memory (the byte
 * capacity; a push that does not fit evicts the oldest records, which are
 * counted, because then the window held is shorter than asked for).
 *
 * Pure: no I/O; the only allocation is the buffer in tstp_ring_init().
 */
#ifndef TCPSTAP_RING_H
#define TCPSTAP_RING_H

#include <stddef.h>
#include <stdint.h>

#include "tcpstap/record.h"

struct tstp_ring {
	uint8_t *buf;
	size_t cap;		/* bytes */
	size_t head;		/* offset of the oldest record */
	size_t used;		/* bytes held */
	uint64_t records;	/* records held */
	uint64_t window_ns;	/* time bound */
	uint64_t newest_ns;	/* hdr.ts_ns of the newest record pushed */
	uint64_t expired;	/* records aged out of the window */
	uint64_t evicted;	/* records dropped by the memory bound */
	uint64_t evicted_since_take;	/* ... since the last tstp_ring_take_evicted() */
};

/* 0, or ENOMEM / EINVAL (cap below one maximal record). */
int tstp_ring_init(struct tstp_ring *r, size_t cap, uint64_t window_ns);
void tstp_ring_free(struct tstp_ring *r);

/*
 * Appends one whole record (len == its hdr.length, a multiple of 8, at most
 * TSTP_MAX_RECORD), expiring what fell out of the window and evicting the
 * oldest records while it does not fit. Returns 0 or EINVAL for a bad len.
 */
int tstp_ring_push(struct tstp_ring *r, const void *rec, size_t len);

/* The held bytes, oldest first, as at most two pieces (*blen may be 0). */
void tstp_ring_pieces(const struct tstp_ring *r, const uint8_t **a, size_t *alen,
		      const uint8_t **b, size_t *blen);

/* Memory-bound evictions since the last call (for a capture's header). */
uint64_t tstp_ring_take_evicted(struct tstp_ring *r);

/* Whether an exchange is slower than the trigger (ns); unknown totals never trigger. */
int tstp_trigger_slow(const struct tstp_exchange *x, uint64_t trigger_ns);

#endif /* TCPSTAP_RING_H */
