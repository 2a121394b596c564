// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Streaming record decoder: validation, resync, carry-over of split records,
 * sequence-gap accounting and the wall-clock anchor. No I/O here.
 */
#include <string.h>

#include "tcpstap/decode.h"

#define HDR_CHECK_BYTES 8	/* magic, version, type, length: all a header check needs */

/*
 * Records from different CPUs arrive out of order by up to a buffer's worth;
 * only a backward jump larger than this means the producer restarted unseen.
 */
#define SEQ_RESTART_JUMP (1 << 24)
/* An ANCHOR seq 1 arriving after at most this many records of a run is that run's late start. */
#define SEQ_LATE_ANCHOR 1024

static const uint8_t magic_bytes[4] = { 'T', 'S', 'T', 'P' };

size_t tstp_record_min_length(unsigned type)
{
	switch (type) {
	case TSTP_REC_ANCHOR:	return sizeof(struct tstp_anchor);
	case TSTP_REC_EXCHANGE:	return sizeof(struct tstp_exchange);
	case TSTP_REC_HIST:	return sizeof(struct tstp_hist);
	case TSTP_REC_STATS:	return sizeof(struct tstp_stats);
	case TSTP_REC_SELFTEST:	return sizeof(struct tstp_selftest);
	case TSTP_REC_CAPTURE:	return sizeof(struct tstp_capture);
	case TSTP_REC_CONNECT:	return sizeof(struct tstp_connect);
	case TSTP_REC_LISTEN:	return sizeof(struct tstp_listen);
	case TSTP_REC_RETRANS:	return sizeof(struct tstp_retrans);
	case TSTP_REC_TOTALS:	return sizeof(struct tstp_totals);
	case TSTP_REC_STATE:	return sizeof(struct tstp_state);
	case TSTP_REC_SNAPSHOT:	return sizeof(struct tstp_state);
	case TSTP_REC_SNAPSHOT_END: return sizeof(struct tstp_snapshot_end);
	default:		return 0;
	}
}

uint64_t tstp_decoder_seq_lost_so_far(const struct tstp_decoder *dec)
{
	const struct tstp_seq_run *run = &dec->run;
	uint64_t lost = dec->count.seq_lost;

	if (run->active && (uint64_t)(run->max - run->min) + 1 > run->seen)
		lost += (uint64_t)(run->max - run->min) + 1 - run->seen;
	return lost;
}

int tstp_decode_damaged(const struct tstp_decode_counters *c)
{
	return c->lost_bytes || c->truncated || c->seq_lost;
}

void tstp_decoder_init(struct tstp_decoder *dec, tstp_record_fn on_record, void *ctx)
{
	memset(dec, 0, offsetof(struct tstp_decoder, carry));
	dec->on_record = on_record;
	dec->ctx = ctx;
}

enum header_verdict { HDR_INVALID = -1, HDR_NEED_MORE = 0, HDR_VALID = 1 };

/* Checks as much of a header as avail bytes allow, so garbage is rejected early. */
static enum header_verdict check_header(const uint8_t *p, size_t avail, size_t *length)
{
	size_t n = avail < sizeof(magic_bytes) ? avail : sizeof(magic_bytes);

	if (memcmp(p, magic_bytes, n) != 0)
		return HDR_INVALID;
	if (avail < HDR_CHECK_BYTES)
		return (avail > 4 && p[4] == 0) ? HDR_INVALID : HDR_NEED_MORE;

	unsigned version = p[4];
	unsigned type = p[5];
	size_t len = (size_t)p[6] | (size_t)p[7] << 8;

	/* A newer version only appends fields, so it is decoded by its known prefix. */
	if (version == 0)
		return HDR_INVALID;
	if (len < sizeof(struct tstp_hdr) || len > TSTP_MAX_RECORD || len % 8 != 0)
		return HDR_INVALID;
	if (len < tstp_record_min_length(type))
		return HDR_INVALID;
	*length = len;
	return HDR_VALID;
}

static void seq_close_run(struct tstp_decoder *dec)
{
	struct tstp_seq_run *run = &dec->run;

	if (run->active) {
		uint64_t span = (uint64_t)(run->max - run->min) + 1;

		/* Duplicates can make seen exceed the span: never report negative loss. */
		if (span > run->seen)
			dec->count.seq_lost += span - run->seen;
	}
	memset(run, 0, sizeof(*run));
}

static void seq_start_run(struct tstp_decoder *dec, uint32_t seq)
{
	dec->run.active = 1;
	dec->run.min = dec->run.max = seq;
	dec->run.seen = 1;
	dec->count.producer_runs++;
}

static void seq_account(struct tstp_decoder *dec, uint32_t seq, int is_anchor)
{
	struct tstp_seq_run *run = &dec->run;

	if (!run->active) {
		seq_start_run(dec, seq);
		return;
	}
	if (is_anchor && seq == 1 &&
	    (run->min <= 1 || run->min > SEQ_LATE_ANCHOR)) {
		seq_close_run(dec);
		seq_start_run(dec, seq);
		return;
	}
	/* Unwrap relative to the highest seen so a 32-bit wrap is not a gap. */
	int64_t delta = (int32_t)(seq - (uint32_t)run->max);
	int64_t unwrapped = run->max + delta;

	if (delta < -(int64_t)SEQ_RESTART_JUMP) {
		seq_close_run(dec);
		seq_start_run(dec, seq);
		return;
	}
	if (unwrapped < run->min)
		run->min = unwrapped;
	if (unwrapped > run->max)
		run->max = unwrapped;
	run->seen++;
}

/* Returns the callback's value; unknown types are counted and skipped. */
static int deliver(struct tstp_decoder *dec, const uint8_t *p, size_t len)
{
	struct tstp_hdr hdr;
	union tstp_record rec;

	memcpy(&hdr, p, sizeof(hdr));
	/* A capture's window starts a fresh run: what came before was not lost. */
	if (hdr.type == TSTP_REC_CAPTURE)
		seq_close_run(dec);
	else
		seq_account(dec, hdr.seq, hdr.type == TSTP_REC_ANCHOR);
	if (tstp_record_min_length(hdr.type) == 0) {
		dec->count.unknown++;
		dec->count.unknown_bytes += len;
		return 0;
	}
	/* len >= the type's size was checked, so the typed member is fully set. */
	memcpy(&rec, p, len < sizeof(rec) ? len : sizeof(rec));
	dec->count.records++;
	dec->count.record_bytes += len;
	dec->count.by_type[hdr.type]++;
	if (hdr.version > TSTP_VERSION)
		dec->count.newer_version++;
	if (hdr.type == TSTP_REC_ANCHOR) {
		dec->clock.have_anchor = 1;
		dec->clock.anchor_mono_ns = rec.hdr.ts_ns;
		dec->clock.anchor_real_ns = rec.anchor.realtime_ns;
		dec->last_anchor = rec.anchor;
	}
	if (hdr.type == TSTP_REC_CAPTURE && rec.capture.realtime_ns && !dec->clock.have_anchor) {
		dec->clock.have_anchor = 1;
		dec->clock.anchor_mono_ns = rec.hdr.ts_ns;
		dec->clock.anchor_real_ns = rec.capture.realtime_ns;
	}
	return dec->on_record ? dec->on_record(dec, &rec) : 0;
}

/*
 * Decodes whole records from buf. Returns the offset of the first byte not
 * consumed: an incomplete header or record that needs more input. *stop gets
 * the callback's non-zero value, if any.
 */
static size_t process(struct tstp_decoder *dec, const uint8_t *buf, size_t n, int *stop)
{
	size_t pos = 0;

	*stop = 0;
	while (pos < n) {
		size_t len = 0;
		enum header_verdict v = check_header(buf + pos, n - pos, &len);

		if (v == HDR_INVALID) {
			const uint8_t *next;
			size_t skip_to;

			if (!dec->in_resync) {
				dec->in_resync = 1;
				if (dec->count.resyncs++ == 0)
					dec->count.first_loss_offset =
						dec->count.bytes_in - n + pos;
			}
			next = memchr(buf + pos + 1, magic_bytes[0], n - pos - 1);
			skip_to = next ? (size_t)(next - buf) : n;
			dec->count.lost_bytes += skip_to - pos;
			pos = skip_to;
			continue;
		}
		if (v == HDR_NEED_MORE || n - pos < len)
			break;
		dec->in_resync = 0;
		*stop = deliver(dec, buf + pos, len);
		pos += len;
		if (*stop)
			break;
	}
	return pos;
}

int tstp_decoder_feed(struct tstp_decoder *dec, const void *data, size_t len)
{
	const uint8_t *in = data;
	int stop = 0;

	if (dec->finished || len == 0)
		return 0;
	/*
	 * bytes_in counts the bytes handed over; process() derives offsets from
	 * it, and the carry path below sees each new byte only once in it.
	 */
	while (dec->carry_len > 0 && len > 0) {
		size_t old = dec->carry_len;
		size_t take = sizeof(dec->carry) - old;
		size_t pos;

		if (take > len)
			take = len;
		memcpy(dec->carry + old, in, take);
		dec->carry_len += take;
		dec->count.bytes_in += take;
		pos = process(dec, dec->carry, dec->carry_len, &stop);
		if (pos >= old) {
			/* What is left came from the new chunk: continue in place. */
			size_t used_new = pos - old;

			dec->count.bytes_in -= take - used_new;
			in += used_new;
			len -= used_new;
			dec->carry_len = 0;
		} else {
			/* Still incomplete: all of the chunk is in the carry now. */
			memmove(dec->carry, dec->carry + pos, dec->carry_len - pos);
			dec->carry_len -= pos;
			len = 0;
		}
		if (stop)
			return stop;
	}
	if (len > 0) {
		size_t pos;

		dec->count.bytes_in += len;
		pos = process(dec, in, len, &stop);
		if (stop) {
			/* Keep the rest so a later feed or finish accounts it. */
			dec->count.bytes_in -= len - pos;
			return stop;
		}
		/* A leftover is shorter than one record, so it always fits. */
		memcpy(dec->carry, in + pos, len - pos);
		dec->carry_len = len - pos;
	}
	return 0;
}

void tstp_decoder_finish(struct tstp_decoder *dec)
{
	if (dec->finished)
		return;
	dec->finished = 1;
	if (dec->carry_len > 0) {
		size_t len = 0;
		enum header_verdict v = check_header(dec->carry, dec->carry_len, &len);

		/* A readable header, or a tail at a record boundary, is a cut record; else garbage. */
		if (v == HDR_VALID || (v == HDR_NEED_MORE && !dec->in_resync)) {
			dec->count.truncated = 1;
			dec->count.truncated_bytes = dec->carry_len;
			dec->count.truncated_expected = len;
		} else {
			dec->count.lost_bytes += dec->carry_len;
			if (dec->count.resyncs++ == 0)
				dec->count.first_loss_offset = dec->count.bytes_in - dec->carry_len;
		}
		dec->carry_len = 0;
	}
	seq_close_run(dec);
}
