// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Connection-health records: names, derived durations, text and JSON. */
#include <stdio.h>
#include <string.h>

#include "tcpstap/health.h"

#define NS_PER_MS 1000000ull

static const char *const tcp_states[] = {
	"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
};

static const char *const outcomes[] = {
	"?", "established", "accepted", "refused", "timeout", "reset", "error", "aborted", "evicted",
};

static const char *const kinds[] = {
	"?", "timeout", "fast", "tlp", "syn", "synack", "rst-sent", "rst-active", "rst-recv",
};

static const char *const ca_states[] = { "open", "disorder", "cwr", "recovery", "loss" };

static const char *const connect_counters[TSTP_CC_COUNT] = {
	"attempts_out", "attempts_in", "established", "accepted", "refused", "timeout",
	"reset", "error", "aborted", "syn_retrans", "synack_retrans", "listen_overflows",
};

static const char *const retrans_counters[TSTP_RC_COUNT] = {
	"timeout", "fast", "tlp", "syn", "synack", "rst_sent", "rst_active", "rst_recv",
	"segs", "failed",
};

static const char *const states_counters[TSTP_SC_COUNT] = {
	"transitions", "to_established", "to_close_wait", "to_time_wait", "to_close",
	"resets", "timeouts", "snapshots",
};

#define NAME(table, i) ((i) < sizeof(table) / sizeof((table)[0]) ? (table)[i] : (table)[0])

const char *tstp_tcp_state_kname(unsigned state) { return NAME(tcp_states, state); }
const char *tstp_outcome_name(unsigned outcome) { return NAME(outcomes, outcome); }
const char *tstp_retrans_kind_name(unsigned kind) { return NAME(kinds, kind); }

const char *tstp_ca_state_name(unsigned ca_state)
{
	return ca_state < sizeof(ca_states) / sizeof(ca_states[0]) ? ca_states[ca_state] : "?";
}

const char *tstp_totals_name(unsigned producer, unsigned i)
{
	switch (producer) {
	case TSTP_PROD_CONNECT:	return i < TSTP_CC_COUNT ? connect_counters[i] : NULL;
	case TSTP_PROD_RETRANS:	return i < TSTP_RC_COUNT ? retrans_counters[i] : NULL;
	case TSTP_PROD_STATES:	return i < TSTP_SC_COUNT ? states_counters[i] : NULL;
	default:		return NULL;
	}
}

unsigned tstp_totals_count(const struct tstp_totals *t)
{
	return t->nvalues < TSTP_TOTALS_MAX ? t->nvalues : TSTP_TOTALS_MAX;
}

int tstp_health_is_event(unsigned type)
{
	switch (type) {
	case TSTP_REC_CONNECT:
	case TSTP_REC_LISTEN:
	case TSTP_REC_RETRANS:
	case TSTP_REC_STATE:
	case TSTP_REC_SNAPSHOT:
	case TSTP_REC_SNAPSHOT_END:
		return 1;
	default:
		return 0;
	}
}

static int span(uint64_t from, uint64_t to, uint64_t *ns)
{
	if (!from || !to || to < from)
		return -1;
	*ns = to - from;
	return 0;
}

int tstp_connect_latency_ns(const struct tstp_connect *c, uint64_t *ns)
{
	if (c->outcome == TSTP_CONN_ACCEPTED)
		return span(c->t_syn, c->t_accepted, ns);
	if (c->outcome == TSTP_CONN_ESTABLISHED)
		return span(c->t_syn, c->t_established, ns);
	return -1;
}

int tstp_connect_handshake_ns(const struct tstp_connect *c, uint64_t *ns)
{
	return span(c->t_syn, c->t_established, ns);
}

int tstp_connect_accept_wait_ns(const struct tstp_connect *c, uint64_t *ns)
{
	return span(c->t_established, c->t_accepted, ns);
}

int tstp_connect_failed_after_ns(const struct tstp_connect *c, uint64_t *ns)
{
	return span(c->t_syn, c->t_end, ns);
}

int tstp_connect_failed(unsigned outcome)
{
	return outcome >= TSTP_CONN_REFUSED && outcome <= TSTP_CONN_ABORTED;
}

void tstp_buf_flow(struct tstp_buf *b, unsigned family, const uint8_t src[16], unsigned sport,
		   const uint8_t dst[16], unsigned dport)
{
	tstp_buf_addr(b, family, src, (int)sport);
	tstp_buf_put(b, " => ", 4);
	tstp_buf_addr(b, family, dst, (int)dport);
}

static size_t comm_length(const char comm[16])
{
	size_t n = 0;

	while (n < 16 && comm[n])
		n++;
	while (n > 0 && comm[n - 1] == ' ')
		n--;
	return n;
}

typedef int (*connect_span_fn)(const struct tstp_connect *c, uint64_t *ns);

/* " name 1.234 ms" or nothing when unknown. */
static void text_ms(struct tstp_buf *b, const char *name, connect_span_fn span_of,
		    const struct tstp_connect *c)
{
	uint64_t ns = 0;

	if (span_of(c, &ns) != 0)
		return;
	tstp_buf_put(b, " ", 1);
	tstp_buf_str(b, name);
	tstp_buf_put(b, " ", 1);
	tstp_buf_ns_as_ms(b, ns);
	tstp_buf_put(b, " ms", 3);
}

static unsigned connect_retrans_known(const struct tstp_connect *c)
{
	return c->syn_retrans < TSTP_CONNECT_RETRANS_SLOTS ? c->syn_retrans : TSTP_CONNECT_RETRANS_SLOTS;
}

static void connect_text(struct tstp_buf *b, const struct tstp_connect *c)
{
	int server = c->role == TSTP_ROLE_SERVER;
	size_t comm = comm_length(c->comm);

	tstp_buf_str(b, " connect ");
	tstp_buf_str(b, tstp_role_name(c->role));
	tstp_buf_put(b, " ", 1);
	/* Like exchanges: the arrow points at the service. */
	if (server)
		tstp_buf_flow(b, c->family, c->raddr, c->rport, c->laddr, c->lport);
	else
		tstp_buf_flow(b, c->family, c->laddr, c->lport, c->raddr, c->rport);
	tstp_buf_put(b, " | ", 3);
	tstp_buf_str(b, tstp_outcome_name(c->outcome));
	if (c->error)
		tstp_buf_printf(b, " (errno %u)", c->error);
	tstp_buf_put(b, " |", 2);
	text_ms(b, "connect", tstp_connect_latency_ns, c);
	if (server) {
		text_ms(b, "handshake", tstp_connect_handshake_ns, c);
		text_ms(b, "accept-wait", tstp_connect_accept_wait_ns, c);
	}
	if (tstp_connect_failed(c->outcome) || c->outcome == TSTP_CONN_EVICTED)
		text_ms(b, "after", tstp_connect_failed_after_ns, c);
	tstp_buf_printf(b, " | %s retrans %u", server ? "syn-ack" : "syn", c->syn_retrans);
	if (c->syn_retrans) {
		tstp_buf_str(b, " at");
		for (unsigned i = 0; i < connect_retrans_known(c); i++) {
			tstp_buf_put(b, " ", 1);
			tstp_buf_milli(b, c->retrans_us[i] / 1000);
		}
		if (c->flags & TSTP_CF_MORE_RETRANS)
			tstp_buf_str(b, " ...");
		tstp_buf_str(b, " s");
	}
	if (c->pid || comm) {
		tstp_buf_printf(b, " | pid %u ", c->pid);
		tstp_buf_put(b, c->comm, comm);
	}
	if (c->flags & TSTP_CF_NO_SYN)
		tstp_buf_str(b, " | syn not seen");
}

static void json_ns_as_us(struct tstp_buf *b, const char *key, int known, uint64_t ns)
{
	tstp_json_key(b, key);
	if (known == 0)
		tstp_buf_milli(b, ns);
	else
		tstp_buf_put(b, "null", 4);
}

/* A span in us, or null when unknown. */
static void json_span(struct tstp_buf *b, const char *key, connect_span_fn span_of,
		      const struct tstp_connect *c)
{
	uint64_t ns = 0;
	int known = span_of(c, &ns);

	json_ns_as_us(b, key, known, ns);
}

static int no_span(const struct tstp_connect *c, uint64_t *ns)
{
	(void)c;
	(void)ns;
	return -1;
}

static void connect_json(struct tstp_buf *b, const struct tstp_connect *c)
{
	tstp_json_str(b, "type", "connect");
	tstp_json_str(b, "role", tstp_role_name(c->role));
	tstp_json_str(b, "outcome", tstp_outcome_name(c->outcome));
	tstp_json_flow(b, c->family, c->laddr, c->lport, c->raddr, c->rport);
	tstp_json_u64(b, "error", c->error);
	json_span(b, "connect_us", tstp_connect_latency_ns, c);
	json_span(b, "handshake_us", tstp_connect_handshake_ns, c);
	json_span(b, "accept_wait_us", tstp_connect_accept_wait_ns, c);
	json_span(b, "failed_after_us", tstp_connect_failed(c->outcome) ?
		  tstp_connect_failed_after_ns : no_span, c);
	tstp_json_u64(b, "syn_retrans", c->syn_retrans);
	tstp_json_key(b, "retrans_at_us");
	tstp_buf_put(b, "[", 1);
	for (unsigned i = 0; i < connect_retrans_known(c); i++) {
		if (i)
			tstp_buf_put(b, ",", 1);
		tstp_buf_u64(b, c->retrans_us[i]);
	}
	tstp_buf_put(b, "]", 1);
	tstp_json_u64(b, "more_retrans", !!(c->flags & TSTP_CF_MORE_RETRANS));
	tstp_json_u64(b, "syn_seen", !(c->flags & TSTP_CF_NO_SYN));
	tstp_json_u64(b, "srtt_us", c->srtt_us);
	tstp_json_u64(b, "pid", c->pid);
	tstp_json_key(b, "comm");
	tstp_buf_json_string(b, c->comm, comm_length(c->comm));
	tstp_json_u64(b, "t_syn_ns", c->t_syn);
	tstp_json_u64(b, "t_established_ns", c->t_established);
	tstp_json_u64(b, "t_accepted_ns", c->t_accepted);
	tstp_json_u64(b, "t_end_ns", c->t_end);
}

static void listen_text(struct tstp_buf *b, const struct tstp_listen *l)
{
	tstp_buf_str(b, " listen-overflow ");
	tstp_buf_addr(b, l->family, l->laddr, l->lport);
	tstp_buf_printf(b, " | %llu dropped, %llu since load | accept queue %u/%u",
			(unsigned long long)l->overflows, (unsigned long long)l->overflows_total,
			l->backlog, l->max_backlog);
}

static void listen_json(struct tstp_buf *b, const struct tstp_listen *l)
{
	tstp_json_str(b, "type", "listen_overflow");
	tstp_json_addr(b, "laddr", l->family, l->laddr);
	tstp_json_u64(b, "lport", l->lport);
	tstp_json_u64(b, "overflows", l->overflows);
	tstp_json_u64(b, "overflows_total", l->overflows_total);
	tstp_json_u64(b, "backlog", l->backlog);
	tstp_json_u64(b, "max_backlog", l->max_backlog);
	tstp_json_u64(b, "t_first_ns", l->t_first);
	tstp_json_u64(b, "t_last_ns", l->t_last);
}

static int is_reset(unsigned kind)
{
	return kind >= TSTP_RT_RST_SENT && kind <= TSTP_RT_RST_RECV;
}

static void retrans_text(struct tstp_buf *b, const struct tstp_retrans *r)
{
	tstp_buf_put(b, " ", 1);
	tstp_buf_str(b, is_reset(r->kind) ? "" : "retrans ");
	tstp_buf_str(b, tstp_retrans_kind_name(r->kind));
	tstp_buf_put(b, " ", 1);
	tstp_buf_flow(b, r->family, r->laddr, r->lport, r->raddr, r->rport);
	tstp_buf_put(b, " | ", 3);
	tstp_buf_str(b, r->state ? tstp_tcp_state_kname(r->state) : "no socket");
	if (is_reset(r->kind))
		return;
	tstp_buf_printf(b, " %s | seq %u segs %u | rto ", tstp_ca_state_name(r->ca_state),
			r->seq, r->segs);
	tstp_buf_milli(b, r->rto_us);
	tstp_buf_str(b, " ms srtt ");
	tstp_buf_milli(b, r->srtt_us);
	tstp_buf_printf(b, " ms cwnd %u | total %u", r->cwnd, r->total_retrans);
}

static void retrans_json(struct tstp_buf *b, const struct tstp_retrans *r)
{
	tstp_json_str(b, "type", is_reset(r->kind) ? "reset" : "retrans");
	tstp_json_str(b, "kind", tstp_retrans_kind_name(r->kind));
	tstp_json_str(b, "state", r->state ? tstp_tcp_state_kname(r->state) : "");
	tstp_json_str(b, "ca_state", tstp_ca_state_name(r->ca_state));
	tstp_json_flow(b, r->family, r->laddr, r->lport, r->raddr, r->rport);
	tstp_json_u64(b, "seq", r->seq);
	tstp_json_u64(b, "segs", r->segs);
	tstp_json_u64(b, "rto_us", r->rto_us);
	tstp_json_u64(b, "srtt_us", r->srtt_us);
	tstp_json_u64(b, "cwnd", r->cwnd);
	tstp_json_u64(b, "total_retrans", r->total_retrans);
}

static void totals_text(struct tstp_buf *b, const struct tstp_totals *t)
{
	tstp_buf_printf(b, " totals %s |", tstp_producer_name(t->producer));
	for (unsigned i = 0; i < tstp_totals_count(t); i++) {
		const char *name = tstp_totals_name(t->producer, i);

		if (name)
			tstp_buf_printf(b, " %s %llu", name, (unsigned long long)t->value[i]);
		else
			tstp_buf_printf(b, " v%u %llu", i, (unsigned long long)t->value[i]);
	}
}

static void totals_json(struct tstp_buf *b, const struct tstp_totals *t)
{
	tstp_json_str(b, "type", "totals");
	tstp_json_str(b, "producer", tstp_producer_name(t->producer));
	for (unsigned i = 0; i < tstp_totals_count(t); i++) {
		const char *name = tstp_totals_name(t->producer, i);
		char key[16];

		if (!name) {
			/* A newer producer's counter: kept, by position. */
			snprintf(key, sizeof(key), "v%u", i);
			name = key;
		}
		tstp_json_u64(b, name, t->value[i]);
	}
}

static const char *const state_flag_names[] = {
	"since-load", "untimed", "reset", "timeout", "active", "passive",
};
#define NSTATE_FLAGS (sizeof(state_flag_names) / sizeof(state_flag_names[0]))

static void state_text(struct tstp_buf *b, const struct tstp_state *s, int snapshot)
{
	if (snapshot)
		tstp_buf_printf(b, " snapshot %u ", s->snapshot);
	else
		tstp_buf_str(b, " state ");
	tstp_buf_flow(b, s->family, s->laddr, s->lport, s->raddr, s->rport);
	tstp_buf_put(b, " | ", 3);
	if (snapshot) {
		tstp_buf_str(b, tstp_tcp_state_kname(s->new_state));
		tstp_buf_str(b, " for ");
	} else {
		tstp_buf_printf(b, "%s -> %s after ", tstp_tcp_state_kname(s->old_state),
				tstp_tcp_state_kname(s->new_state));
	}
	if (s->flags & TSTP_SF_UNTIMED) {
		tstp_buf_put(b, "?", 1);
	} else {
		if (s->flags & TSTP_SF_SINCE_LOAD)
			tstp_buf_str(b, ">= ");
		tstp_buf_milli(b, s->in_state_ns / NS_PER_MS);
		tstp_buf_str(b, " s");
		if (s->flags & TSTP_SF_SINCE_LOAD)
			tstp_buf_str(b, " (since load)");
	}
	tstp_buf_printf(b, " | sent %llu B received %llu B | retrans %u | wnd %u/%u cwnd %u srtt ",
			(unsigned long long)s->bytes_sent, (unsigned long long)s->bytes_received,
			s->total_retrans, s->snd_wnd, s->rcv_wnd, s->cwnd);
	tstp_buf_milli(b, s->srtt_us);
	tstp_buf_str(b, " ms");
	for (unsigned i = 2, first = 1; i < NSTATE_FLAGS; i++) {
		if (!(s->flags & (1u << i)))
			continue;
		tstp_buf_str(b, first ? " | " : ",");
		tstp_buf_str(b, state_flag_names[i]);
		first = 0;
	}
}

static void state_json(struct tstp_buf *b, const struct tstp_state *s, int snapshot)
{
	tstp_json_str(b, "type", snapshot ? "snapshot" : "state");
	if (snapshot)
		tstp_json_u64(b, "snapshot", s->snapshot);
	tstp_json_flow(b, s->family, s->laddr, s->lport, s->raddr, s->rport);
	if (!snapshot)
		tstp_json_str(b, "old_state", tstp_tcp_state_kname(s->old_state));
	tstp_json_str(b, snapshot ? "state" : "new_state", tstp_tcp_state_kname(s->new_state));
	json_ns_as_us(b, "in_state_us", (s->flags & TSTP_SF_UNTIMED) ? -1 : 0, s->in_state_ns);
	tstp_json_u64(b, "since_load", !!(s->flags & TSTP_SF_SINCE_LOAD));
	tstp_json_u64(b, "bytes_sent", s->bytes_sent);
	tstp_json_u64(b, "bytes_received", s->bytes_received);
	tstp_json_u64(b, "total_retrans", s->total_retrans);
	tstp_json_u64(b, "snd_wnd", s->snd_wnd);
	tstp_json_u64(b, "rcv_wnd", s->rcv_wnd);
	tstp_json_u64(b, "cwnd", s->cwnd);
	tstp_json_u64(b, "srtt_us", s->srtt_us);
	tstp_json_key(b, "flags");
	tstp_buf_put(b, "[", 1);
	for (unsigned i = 0, first = 1; i < NSTATE_FLAGS; i++) {
		if (!(s->flags & (1u << i)))
			continue;
		if (!first)
			tstp_buf_put(b, ",", 1);
		tstp_buf_json_string(b, state_flag_names[i], strlen(state_flag_names[i]));
		first = 0;
	}
	tstp_buf_put(b, "]", 1);
}

int tstp_health_text(struct tstp_buf *b, const union tstp_record *r)
{
	switch (r->hdr.type) {
	case TSTP_REC_CONNECT:	connect_text(b, &r->connect); return 1;
	case TSTP_REC_LISTEN:	listen_text(b, &r->listen); return 1;
	case TSTP_REC_RETRANS:	retrans_text(b, &r->retrans); return 1;
	case TSTP_REC_TOTALS:	totals_text(b, &r->totals); return 1;
	case TSTP_REC_STATE:	state_text(b, &r->state, 0); return 1;
	case TSTP_REC_SNAPSHOT:	state_text(b, &r->state, 1); return 1;
	case TSTP_REC_SNAPSHOT_END:
		tstp_buf_printf(b, " snapshot %u end | %u sockets listed, %u tracked at its start",
				r->snapshot_end.snapshot, r->snapshot_end.sockets, r->snapshot_end.tracked);
		return 1;
	default:
		return 0;
	}
}

int tstp_health_json(struct tstp_buf *b, const union tstp_record *r)
{
	switch (r->hdr.type) {
	case TSTP_REC_CONNECT:	connect_json(b, &r->connect); return 1;
	case TSTP_REC_LISTEN:	listen_json(b, &r->listen); return 1;
	case TSTP_REC_RETRANS:	retrans_json(b, &r->retrans); return 1;
	case TSTP_REC_TOTALS:	totals_json(b, &r->totals); return 1;
	case TSTP_REC_STATE:	state_json(b, &r->state, 0); return 1;
	case TSTP_REC_SNAPSHOT:	state_json(b, &r->state, 1); return 1;
	case TSTP_REC_SNAPSHOT_END:
		tstp_json_str(b, "type", "snapshot_end");
		tstp_json_u64(b, "snapshot", r->snapshot_end.snapshot);
		tstp_json_u64(b, "sockets", r->snapshot_end.sockets);
		tstp_json_u64(b, "tracked", r->snapshot_end.tracked);
		return 1;
	default:
		return 0;
	}
}
