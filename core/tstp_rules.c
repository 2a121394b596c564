// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The exchange rules: pure functions of (socket state, event). No table, no
 * clock, no I/O, so every rule is unit-tested with synthetic events.
 *
 * An exchange follows the data direction, request in then response out for
 * a server, the reverse for a client, and is kept exact by sequence
 * numbers: bytes count from the highest sequence seen, so split, coalesced
 * or retransmitted segments do not disturb them. No payload is parsed.
 */
#include "tstp_core.h"

/* TCP sequence arithmetic, modulo 2^32 (RFC 1982 style). */
int tstp_seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* Bucket 0: 0 us; bucket i: [2^(i-1), 2^i) us; bucket 31 is open-ended. */
unsigned tstp_log2_bucket(uint64_t us)
{
	unsigned b = 0;

	while (us > 0 && b < TSTP_HIST_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

uint8_t tstp_rule_guess_role(uint16_t lport, uint16_t rport, int lport_is_service,
			     int have_service_ports)
{
	/* The service port decides when ports are given; else the ephemeral (higher) port is the client's. */
	if (have_service_ports)
		return lport_is_service ? TSTP_ROLE_SERVER : TSTP_ROLE_CLIENT;
	return lport < rport ? TSTP_ROLE_SERVER : TSTP_ROLE_CLIENT;
}

static void clear_exchange(struct tstp_sock *s)
{
	s->t_rx_first = s->t_rx_last = s->t_read = 0;
	s->t_write = s->t_tx_first = s->t_tx_last = 0;
	s->in_first = s->in_end = s->out_first = s->out_end = 0;
	s->have = 0;
}

void tstp_rule_track(struct tstp_sock *s, uint8_t role, uint16_t flags,
		     const struct tstp_ident *id, uint16_t ep, uint64_t now)
{
	memset(s, 0, sizeof(*s));
	s->role = role;
	s->phase = TSTP_PH_IDLE;
	s->flags = flags;
	s->family = id->family;
	s->lport = id->lport;
	s->rport = id->rport;
	memcpy(s->laddr, id->laddr, sizeof(s->laddr));
	memcpy(s->raddr, id->raddr, sizeof(s->raddr));
	s->ep = ep;
	s->t_active = now;
}

/*
 * A new exchange whose first event is now. PREEXISTING survives only into
 * the first, possibly partial, exchange of a socket found mid-connection.
 */
static void begin_exchange(struct tstp_sock *s, uint8_t phase, uint16_t flags,
			   const struct tstp_ev *ev)
{
	clear_exchange(s);
	s->retrans0 = ev->total_retrans;
	s->flags = (uint16_t)((s->flags & TSTP_XF_PREEXISTING) | flags);
	s->phase = phase;
}

/* pid/comm once per exchange: the first reader or writer of it. */
static void take_task(struct tstp_sock *s, const struct tstp_ev *ev)
{
	size_t n;

	if ((s->have & TSTP_HAVE_PID) || !ev->comm)
		return;
	s->pid = ev->pid;
	/* comm is NUL-terminated in the task; what follows the NUL may be stale. */
	for (n = 0; n < sizeof(s->comm) && ev->comm[n]; n++)
		s->comm[n] = ev->comm[n];
	for (; n < sizeof(s->comm); n++)
		s->comm[n] = 0;
	s->have |= TSTP_HAVE_PID;
}

static void start_in(struct tstp_sock *s, const struct tstp_ev *ev, uint32_t end)
{
	s->t_rx_first = ev->now;
	s->in_first = ev->seq;
	s->in_end = end;
	s->have |= TSTP_HAVE_IN;
}

static void start_out(struct tstp_sock *s, const struct tstp_ev *ev)
{
	s->t_write = ev->now;
	s->out_first = s->out_end = ev->write_seq;
	s->have |= TSTP_HAVE_OUT;
	take_task(s, ev);
}

int tstp_rule_finish(struct tstp_sock *s, uint8_t why, uint32_t total_retrans,
		     struct tstp_finished *fin)
{
	struct tstp_exchange *x = &fin->rec;
	uint64_t start, end;
	uint32_t in_bytes, out_bytes, retrans;
	uint16_t flags = s->flags;

	if (s->phase == TSTP_PH_IDLE)
		return 0;
	if (why == TSTP_FIN_EVICT)
		flags |= TSTP_XF_EVICTED;
	if (s->role == TSTP_ROLE_SERVER) {
		start = s->t_rx_first;
		end = s->t_tx_last;
		if (why != TSTP_FIN_NEXT && !s->t_tx_first)
			flags |= TSTP_XF_INCOMPLETE;
	} else {
		start = s->t_write;
		end = s->t_read;
		if (why != TSTP_FIN_NEXT && !s->t_rx_first)
			flags |= TSTP_XF_INCOMPLETE;
	}
	retrans = total_retrans - s->retrans0;
	if (retrans)
		flags |= TSTP_XF_RETRANS;
	in_bytes = (s->have & TSTP_HAVE_IN) ? s->in_end - s->in_first : 0;
	out_bytes = (s->have & TSTP_HAVE_OUT) ? s->out_end - s->out_first : 0;

	memset(x, 0, sizeof(*x));
	x->role = s->role;
	x->family = s->family;
	x->flags = flags;
	x->lport = s->lport;
	x->rport = s->rport;
	memcpy(x->laddr, s->laddr, sizeof(x->laddr));
	memcpy(x->raddr, s->raddr, sizeof(x->raddr));
	if (s->role == TSTP_ROLE_SERVER) {
		x->req_seq = (s->have & TSTP_HAVE_IN) ? s->in_first : 0;
		x->resp_seq = (s->have & TSTP_HAVE_OUT) ? s->out_first : 0;
		x->req_bytes = in_bytes;
		x->resp_bytes = out_bytes;
	} else {
		x->req_seq = (s->have & TSTP_HAVE_OUT) ? s->out_first : 0;
		x->resp_seq = (s->have & TSTP_HAVE_IN) ? s->in_first : 0;
		x->req_bytes = out_bytes;
		x->resp_bytes = in_bytes;
	}
	x->retrans = retrans;
	x->pid = s->pid;
	memcpy(x->comm, s->comm, sizeof(x->comm));
	x->t_rx_first = s->t_rx_first;
	x->t_rx_last = s->t_rx_last;
	x->t_read = s->t_read;
	x->t_write = s->t_write;
	x->t_tx_first = s->t_tx_first;
	x->t_tx_last = s->t_tx_last;
	fin->total_us = (start && end > start) ? (end - start) / 1000 : 0;
	fin->ep = s->ep;
	fin->why = why;

	s->phase = TSTP_PH_IDLE;
	s->flags = 0;
	return 1;
}

/* A segment with payload (ev->len > 0) reached TCP. */
int tstp_rule_rx(struct tstp_sock *s, const struct tstp_ev *ev, struct tstp_finished *fin)
{
	uint32_t end = ev->seq + ev->len;
	int ended = 0;

	s->t_active = ev->now;
	s->retrans_last = ev->total_retrans;
	if (s->role == TSTP_ROLE_SERVER) {
		int pipelined = 0;

		if (s->phase == TSTP_PH_OUT) {
			/*
			 * A new request. If it does not acknowledge all of the
			 * response written so far (sent or still queued), the
			 * client sent it before it had that response:
			 * pipelined, and both exchanges say so.
			 */
			pipelined = tstp_seq_before(ev->ack, ev->write_seq);
			if (pipelined)
				s->flags |= TSTP_XF_PIPELINED;
			ended = tstp_rule_finish(s, TSTP_FIN_NEXT, ev->total_retrans, fin);
		}
		if (s->phase == TSTP_PH_IDLE) {
			begin_exchange(s, TSTP_PH_IN, pipelined ? TSTP_XF_PIPELINED : 0, ev);
			start_in(s, ev, end);
		}
	} else {
		if (s->phase == TSTP_PH_IDLE)
			return 0;	/* data with no request: unsolicited */
		if (s->phase == TSTP_PH_OUT) {
			s->phase = TSTP_PH_IN;
			start_in(s, ev, end);
		}
	}
	/* Retransmitted or overlapping segments add nothing. */
	if (tstp_seq_before(s->in_end, end))
		s->in_end = end;
	s->t_rx_last = ev->now;
	s->t_read = 0;	/* "read" is the first read after the latest arrival */
	return ended;
}

/* The application consumed data (copied_seq moved). */
void tstp_rule_read(struct tstp_sock *s, const struct tstp_ev *ev)
{
	if (s->phase != TSTP_PH_IN || s->t_read)
		return;
	s->t_read = ev->now;
	s->t_active = ev->now;
	take_task(s, ev);
}

/* The application wrote (tcp_sendmsg entry: ev->write_seq is its first byte). */
int tstp_rule_write(struct tstp_sock *s, const struct tstp_ev *ev, struct tstp_finished *fin)
{
	int pipelined = 0, ended = 0;

	s->t_active = ev->now;
	s->retrans_last = ev->total_retrans;
	if (s->role == TSTP_ROLE_SERVER) {
		if (s->phase == TSTP_PH_IN) {
			s->phase = TSTP_PH_OUT;
			start_out(s, ev);
		}
		return 0;	/* IDLE: data with no request, unsolicited; OUT: more of it */
	}
	if (s->phase == TSTP_PH_IN) {
		/* A new request while response bytes are still unread: the application did not wait. */
		pipelined = tstp_seq_before(ev->copied_seq, ev->rcv_nxt);
		if (pipelined)
			s->flags |= TSTP_XF_PIPELINED;
		ended = tstp_rule_finish(s, TSTP_FIN_NEXT, ev->total_retrans, fin);
	}
	if (s->phase == TSTP_PH_IDLE) {
		begin_exchange(s, TSTP_PH_OUT, pipelined ? TSTP_XF_PIPELINED : 0, ev);
		start_out(s, ev);
	}
	return ended;
}

/*
 * A segment leaves. New data only: a retransmission (seq before snd_nxt) is
 * counted through tp->total_retrans instead.
 */
void tstp_rule_tx(struct tstp_sock *s, const struct tstp_ev *ev)
{
	uint32_t end;

	if (s->phase != TSTP_PH_OUT || ev->len == 0)
		return;
	if (tstp_seq_before(ev->seq, ev->snd_nxt))
		return;
	end = ev->seq + ev->len;
	/* A segment may start with the tail of an earlier message (coalesced by TSO). */
	if (!tstp_seq_before(s->out_first, end))
		return;
	s->t_active = ev->now;
	if (!s->t_tx_first)
		s->t_tx_first = ev->now;
	s->t_tx_last = ev->now;
	if (tstp_seq_before(s->out_end, end))
		s->out_end = end;
}
