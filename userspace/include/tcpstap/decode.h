/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Streaming decoder for tcpstap records.
 *
 * Pure: it only looks at the buffers it is given. Feed it chunks of any size
 * (a record may straddle chunks), call tstp_decoder_finish() at end of input,
 * and read the counters. Every input byte ends up in exactly one of
 * record_bytes, unknown_bytes, lost_bytes or truncated_bytes.
 */
#ifndef TCPSTAP_DECODE_H
#define TCPSTAP_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "tcpstap/record.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tcpstap decodes little-endian records in place: port to a big-endian host needs byte swaps"
#endif

/* One decoded record, copied to aligned memory; read the member hdr.type names. */
union tstp_record {
	struct tstp_hdr hdr;
	struct tstp_anchor anchor;
	struct tstp_exchange exchange;
	struct tstp_hist hist;
	struct tstp_stats stats;
	struct tstp_selftest selftest;
	struct tstp_capture capture;
	struct tstp_connect connect;
	struct tstp_listen listen;
	struct tstp_retrans retrans;
	struct tstp_totals totals;
	struct tstp_state state;	/* TSTP_REC_STATE and TSTP_REC_SNAPSHOT */
	struct tstp_snapshot_end snapshot_end;
};

#define TSTP_TYPE_SLOTS 32	/* by_type[] index = known type number */

struct tstp_decode_counters {
	uint64_t bytes_in;
	uint64_t records;		/* known-type records delivered */
	uint64_t record_bytes;
	uint64_t by_type[TSTP_TYPE_SLOTS];
	uint64_t newer_version;		/* records with version > TSTP_VERSION (decoded by prefix) */
	uint64_t unknown;		/* unknown types, skipped by length */
	uint64_t unknown_bytes;
	uint64_t lost_bytes;		/* skipped while searching for the next magic */
	uint64_t resyncs;		/* times sync was lost */
	uint64_t first_loss_offset;	/* input offset where sync was first lost */
	uint64_t truncated;		/* incomplete record at end of input: 0 or 1 */
	uint64_t truncated_bytes;
	uint64_t truncated_expected;	/* its length field, 0 if not yet readable */
	uint64_t seq_lost;		/* records missing according to hdr.seq */
	uint64_t producer_runs;		/* runs seen (ANCHOR seq 1 or a big backward jump) */
};

/* Ties producer monotonic time to wall-clock time (from the last ANCHOR). */
struct tstp_clock {
	int have_anchor;
	uint64_t anchor_mono_ns;
	uint64_t anchor_real_ns;
};

struct tstp_decoder;

/* Called once per valid known-type record; a non-zero return stops feeding. */
typedef int (*tstp_record_fn)(struct tstp_decoder *dec, const union tstp_record *rec);

/* Sequence numbers of one producer run, unwrapped to 64 bits. */
struct tstp_seq_run {
	int active;
	int64_t min;
	int64_t max;
	uint64_t seen;
};

struct tstp_decoder {
	tstp_record_fn on_record;
	void *ctx;			/* for the callback */
	struct tstp_decode_counters count;
	struct tstp_clock clock;
	struct tstp_anchor last_anchor;	/* valid when clock.have_anchor */
	struct tstp_seq_run run;
	int in_resync;
	int finished;
	size_t carry_len;
	/* Twice the largest record: an old partial record plus enough new bytes always completes it. */
	uint8_t carry[2 * TSTP_MAX_RECORD];
};

void tstp_decoder_init(struct tstp_decoder *dec, tstp_record_fn on_record, void *ctx);

/*
 * Returns 0, or the callback's non-zero value: decoding stopped mid-chunk and
 * the rest of that chunk is dropped; only tstp_decoder_finish() may follow.
 */
int tstp_decoder_feed(struct tstp_decoder *dec, const void *data, size_t len);

/* End of input: accounts the carried tail and closes sequence tracking. */
void tstp_decoder_finish(struct tstp_decoder *dec);

/* Smallest valid length of a known type, 0 for unknown types. */
size_t tstp_record_min_length(unsigned type);

/*
 * Records missing by sequence number so far, the open run included: a live
 * reader's running loss count (records still in flight from another CPU's
 * buffer count as missing until they arrive).
 */
uint64_t tstp_decoder_seq_lost_so_far(const struct tstp_decoder *dec);

/* Anything lost or damaged (not counting unknown types, which are expected from newer producers). */
int tstp_decode_damaged(const struct tstp_decode_counters *c);

#endif /* TCPSTAP_DECODE_H */
