/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The connection-health records (connect, retrans, states producers): names
 * of their enums, derived durations, and their text and JSON renderings.
 * Pure, like format.h: everything goes into caller buffers.
 */
#ifndef TCPSTAP_HEALTH_H
#define TCPSTAP_HEALTH_H

#include <stdint.h>

#include "tcpstap/format.h"

/* "ESTABLISHED", "CLOSE_WAIT", ...; "?" for an unknown number. */
const char *tstp_tcp_state_kname(unsigned state);
/* "established", "refused", ... */
const char *tstp_outcome_name(unsigned outcome);
/* "timeout", "fast", "tlp", "syn", "synack", "rst-sent", "rst-active", "rst-recv" */
const char *tstp_retrans_kind_name(unsigned kind);
/* "open", "disorder", "cwr", "recovery", "loss" */
const char *tstp_ca_state_name(unsigned ca_state);
/* Name of counter i of a TOTALS record of producer; NULL past the known ones. */
const char *tstp_totals_name(unsigned producer, unsigned i);
/* Number of counters a TOTALS record really carries (nvalues, bounded). */
unsigned tstp_totals_count(const struct tstp_totals *t);

/* Records printed by default by `tcpstap read` (events, not summaries). */
int tstp_health_is_event(unsigned type);

/*
 * Durations of a connect record, 0 when known, -1 when not:
 * connect: client SYN -> ESTABLISHED, server SYN -> accept();
 * handshake: SYN -> ESTABLISHED; accept_wait: ESTABLISHED -> accept();
 * failed_after: SYN -> the end of a failed attempt.
 */
int tstp_connect_latency_ns(const struct tstp_connect *c, uint64_t *ns);
int tstp_connect_handshake_ns(const struct tstp_connect *c, uint64_t *ns);
int tstp_connect_accept_wait_ns(const struct tstp_connect *c, uint64_t *ns);
int tstp_connect_failed_after_ns(const struct tstp_connect *c, uint64_t *ns);

/* Is this outcome a failure (refused, timeout, reset, error, aborted)? */
int tstp_connect_failed(unsigned outcome);

/*
 * The part of a line after the timestamp (" connect ... | ..."), no newline;
 * returns 0 (nothing written) when r is not a health record.
 */
int tstp_health_text(struct tstp_buf *b, const union tstp_record *r);
/* The JSON members after "ts" (",\"type\":...,..."); 0 when not a health record. */
int tstp_health_json(struct tstp_buf *b, const union tstp_record *r);

/* "A:P => B:P": a connection, from src to dst. */
void tstp_buf_flow(struct tstp_buf *b, unsigned family, const uint8_t src[16], unsigned sport,
		   const uint8_t dst[16], unsigned dport);

#endif /* TCPSTAP_HEALTH_H */
