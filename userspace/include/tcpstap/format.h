/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Turning records into text and JSON. Pure: everything is written into
 * caller buffers; a line never exceeds TSTP_LINE_MAX bytes.
 */
#ifndef TCPSTAP_FORMAT_H
#define TCPSTAP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "tcpstap/decode.h"

#define TSTP_LINE_MAX 2048
#define TSTP_ADDR_MAX 64	/* "[ffff:...:255.255.255.255]:65535" fits */
#define TSTP_STAGES_MAX 5

/* Bounded append buffer: on overflow it stops growing and says so. */
struct tstp_buf {
	char *data;
	size_t len;
	size_t cap;
	int overflow;
};

void tstp_buf_init(struct tstp_buf *b, char *data, size_t cap);
void tstp_buf_put_slow(struct tstp_buf *b, const char *s, size_t n);
/* Inline: lines are built from many tiny pieces, a call each would dominate. */
static inline void tstp_buf_put(struct tstp_buf *b, const char *s, size_t n)
{
	if (b->len + n < b->cap) {
		for (size_t i = 0; i < n; i++)
			b->data[b->len + i] = s[i];
		b->len += n;
		b->data[b->len] = '\0';
	} else {
		tstp_buf_put_slow(b, s, n);
	}
}
void tstp_buf_str(struct tstp_buf *b, const char *s);
void tstp_buf_u64(struct tstp_buf *b, uint64_t v);
/* v / 1000 with exactly three decimals: ns as us, or us as ms. */
void tstp_buf_milli(struct tstp_buf *b, uint64_t v);
/* ns as ms with three decimals, rounded to the nearest us. */
void tstp_buf_ns_as_ms(struct tstp_buf *b, uint64_t ns);
void tstp_buf_json_string(struct tstp_buf *b, const char *s, size_t n);
void tstp_buf_printf(struct tstp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

enum tstp_stage_state {
	TSTP_STAGE_OK = 0,
	TSTP_STAGE_MISSING,	/* a timestamp is 0: not observed */
	TSTP_STAGE_NEGATIVE,	/* end before start: shown as missing, flagged */
};

struct tstp_stage {
	const char *name;	/* "queue", "app", ... */
	const char *json_key;	/* "queue_us", ... */
	enum tstp_stage_state state;
	uint64_t ns;		/* valid when state is TSTP_STAGE_OK */
};

/* The durations of one exchange, per its role. */
struct tstp_exchange_view {
	const char *role;	/* "server", "client" or "unknown" */
	unsigned nstages;
	struct tstp_stage stage[TSTP_STAGES_MAX];
	struct tstp_stage total;
	uint64_t start_ns;	/* earliest non-zero timestamp, else hdr.ts_ns */
	int negative;		/* a stage or the total ran backwards */
};

void tstp_exchange_view(const struct tstp_exchange *x, struct tstp_exchange_view *v);

/* The exchange's total per its role (see FIELDS in tcpstap(8)); 0 if known, -1 if not. */
int tstp_exchange_total_ns(const struct tstp_exchange *x, uint64_t *ns);

/* "10.0.0.1:80" or "[2001:db8::1]:80"; with port < 0 only the address (no brackets). */
void tstp_buf_addr(struct tstp_buf *b, unsigned family, const uint8_t addr[16], int port);

/* Comma-separated flag names ("pipelined,retrans"); nothing if none. */
void tstp_buf_flags(struct tstp_buf *b, unsigned flags, int negative);

enum tstp_time_style {
	TSTP_TIME_LOCAL,	/* 2026-11-23 05:48:01.123456 local time */
	TSTP_TIME_UTC,		/* 2026-11-23 05:48:01.123456 UTC */
	TSTP_TIME_ISO,		/* 2026-11-23T05:48:01.123456Z */
};

/*
 * Caches the broken-down second: converting a time is the costliest part of a
 * line and consecutive records mostly share their second.
 */
struct tstp_time_cache {
	int valid;
	enum tstp_time_style style;
	int64_t second;
	char text[32];
};

/* Wall-clock time of ts_ns, or monotonic "12345.678901" before any anchor. */
void tstp_buf_time(struct tstp_buf *b, struct tstp_time_cache *cache,
		   enum tstp_time_style style, const struct tstp_clock *clock, uint64_t ts_ns);

struct tstp_format_opts {
	enum tstp_time_style time_style;	/* text lines; JSON is always ISO UTC */
	struct tstp_time_cache cache;
};

/* One line each, ending in '\n'. */
void tstp_format_exchange_text(struct tstp_buf *b, struct tstp_format_opts *o,
			       const struct tstp_clock *clock, const struct tstp_exchange *x);
void tstp_format_exchange_json(struct tstp_buf *b, struct tstp_format_opts *o,
			       const struct tstp_clock *clock, const struct tstp_exchange *x);
/* ANCHOR, HIST, STATS, SELFTEST (for read --all). */
void tstp_format_other_text(struct tstp_buf *b, struct tstp_format_opts *o,
			    const struct tstp_clock *clock, const union tstp_record *r);
void tstp_format_other_json(struct tstp_buf *b, struct tstp_format_opts *o,
			    const struct tstp_clock *clock, const union tstp_record *r);

/* JSON pieces: ',"key":' and a value; tstp_json_ts opens the object with "ts". */
void tstp_json_key(struct tstp_buf *b, const char *key);
void tstp_json_u64(struct tstp_buf *b, const char *key, uint64_t v);
void tstp_json_str(struct tstp_buf *b, const char *key, const char *s);
void tstp_json_addr(struct tstp_buf *b, const char *key, unsigned family, const uint8_t addr[16]);
/* "laddr", "lport", "raddr", "rport" of a connection. */
void tstp_json_flow(struct tstp_buf *b, unsigned family, const uint8_t laddr[16], unsigned lport,
		    const uint8_t raddr[16], unsigned rport);
void tstp_json_ts(struct tstp_buf *b, struct tstp_format_opts *o,
		  const struct tstp_clock *clock, uint64_t ts_ns);

const char *tstp_role_name(unsigned role);
const char *tstp_producer_name(unsigned producer);
const char *tstp_disarm_name(unsigned reason);
const char *tstp_trigger_name(unsigned reason);	/* enum tstp_capture_reason */

/* Decoder summary for the end of a run, without a trailing newline. */
void tstp_buf_decode_summary(struct tstp_buf *b, const struct tstp_decode_counters *c);

#endif /* TCPSTAP_FORMAT_H */
