/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel glue shared by both latency engines: each probed TCP function's
 * arguments (pt_regs) become a core event. The SystemTap engine calls these
 * from embedded C with CONTEXT->kregs, the native module from its kprobe
 * pre-handlers: one copy of the probe logic, one compat header.
 *
 * The engine defines, before including this file:
 *   TSTP_GLUE_CORE      the struct tstp_core * in use
 *   TSTP_GLUE_CPU()     the running CPU's struct tstp_cpu *
 *
 * Order in every handler: the armed flag (a disarmed probe is a load and a
 * return), the clock (the budget counts from here), the port filter from
 * two socket fields, and only then the table.
 */
#ifndef TCPSTAP_CORE_GLUE_H
#define TCPSTAP_CORE_GLUE_H

#include <linux/sched.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/tcp_states.h>

#include "tstp_compat.h"
#include "tstp_core.h"

/* Identity of a socket the core decided to track (under its bucket lock). */
static void tstp_glue_ident(const void *skp, struct tstp_ident *id)
{
	const struct sock *sk = skp;

	memset(id, 0, sizeof(*id));
	id->family = (uint8_t)tstp_sk_family(sk);
	id->state = (uint8_t)tstp_sk_state(sk);
	id->lport = tstp_sk_lport(sk);
	id->rport = tstp_sk_rport(sk);
	if (id->family == AF_INET) {
		id->laddr[0] = tstp_sk_laddr4(sk);
		id->raddr[0] = tstp_sk_raddr4(sk);
	} else {
		tstp_sk_laddr6(sk, id->laddr);
		tstp_sk_raddr6(sk, id->raddr);
	}
	id->bytes_seen = tstp_tp_bytes_seen(sk);
}

/* What every event carries. rx and tx run in softirq: no task of theirs. */
static inline void tstp_glue_ev(struct tstp_ev *ev, const struct sock *sk, int task)
{
	memset(ev, 0, sizeof(*ev));
	ev->now = tstp_mono_ns();
	ev->total_retrans = tstp_tp_total_retrans(sk);
	if (task) {
		ev->pid = current->tgid;
		ev->comm = current->comm;
	}
}

static inline int tstp_glue_traced(const struct tstp_core *c, const struct sock *sk)
{
	return tstp_port_match(c, tstp_sk_lport(sk), tstp_sk_rport(sk));
}

/* A segment with payload reached TCP on sk. */
static void tstp_glue_rx(struct tstp_core *c, struct tstp_cpu *cpu, struct sock *sk,
			 struct sk_buff *skb)
{
	struct tstp_ev ev;
	u32 len = tstp_rx_payload(skb);

	if (!len || len > 0x7fffffff)
		return;
	tstp_glue_ev(&ev, sk, 0);
	ev.seq = tstp_skb_seq(skb);
	ev.len = len;
	ev.ack = tstp_skb_ack_seq(skb);
	ev.write_seq = tstp_tp_write_seq(sk);
	tstp_core_rx(c, cpu, (u64)(unsigned long)sk, sk, tstp_glue_ident, &ev, tstp_tp_srtt_us(sk));
}

/*
 * The handler's cost clock: TSC cycles, scaled at the end. The monotonic
 * clock of the records is read only by events on traced sockets (one read
 * each), never by a disarmed or filtered hit.
 */
static u64 tstp_glue_cyc_mult;

static void tstp_glue_clock_init(void)
{
	tstp_glue_cyc_mult = tstp_cycles_mult();
}

static inline u64 tstp_glue_start(void)
{
	return tstp_glue_cyc_mult ? (u64)get_cycles() : tstp_cpu_clock_ns();
}

static inline u64 tstp_glue_elapsed_ns(u64 start)
{
	if (tstp_glue_cyc_mult)
		return (((u64)get_cycles() - start) * tstp_glue_cyc_mult) >> 20;
	return tstp_cpu_clock_ns() - start;
}

#define TSTP_GLUE_ENTER(c, t0)						\
	struct tstp_core *c = TSTP_GLUE_CORE;				\
	u64 t0;								\
	if (!TSTP_ONCE(c->armed))					\
		return;							\
	t0 = tstp_glue_start()

#define TSTP_GLUE_LEAVE(t0)						\
	tstp_core_account(TSTP_GLUE_CPU(), tstp_glue_elapsed_ns(t0))

/* tcp_rcv_established(sk, skb, ...): data on an established connection. */
static void tstp_probe_rcv_established(struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)tstp_arg(regs, 1);
	TSTP_GLUE_ENTER(c, t0);

	if (tstp_glue_traced(c, sk))
		tstp_glue_rx(c, TSTP_GLUE_CPU(), sk, (struct sk_buff *)tstp_arg(regs, 2));
	TSTP_GLUE_LEAVE(t0);
}

/*
 * tcp_rcv_state_process(sk, skb, ...): data while not ESTABLISHED, with the
 * ACK that completes the handshake or after our FIN. The handshake's last
 * ACK may carry the first request: the child is tracked as the server it
 * is about to become.
 */
static void tstp_probe_rcv_state_process(struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)tstp_arg(regs, 1);
	int st;
	TSTP_GLUE_ENTER(c, t0);

	st = tstp_sk_state(sk);
	if (st != TCP_ESTABLISHED && st != TCP_LISTEN && tstp_glue_traced(c, sk)) {
		struct tstp_cpu *cpu = TSTP_GLUE_CPU();

		if (st == TCP_SYN_RECV)
			tstp_core_established(c, cpu, (u64)(unsigned long)sk, sk, tstp_glue_ident,
					      TCP_SYN_RECV, tstp_mono_ns());
		tstp_glue_rx(c, cpu, sk, (struct sk_buff *)tstp_arg(regs, 2));
	}
	TSTP_GLUE_LEAVE(t0);
}

static void tstp_glue_read(struct tstp_core *c, struct sock *sk)
{
	struct tstp_ev ev;

	if (!tstp_glue_traced(c, sk))
		return;
	memset(&ev, 0, sizeof(ev));
	ev.now = tstp_mono_ns();
	ev.pid = current->tgid;
	ev.comm = current->comm;
	tstp_core_read(c, TSTP_GLUE_CPU(), (u64)(unsigned long)sk, &ev);
}

/* tcp_cleanup_rbuf(sk, copied): after every read that copied data (3.11+: one probe per read). */
static void tstp_probe_cleanup_rbuf(struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)tstp_arg(regs, 1);
	int copied = (int)tstp_arg(regs, 2);
	TSTP_GLUE_ENTER(c, t0);

	if (copied > 0)
		tstp_glue_read(c, sk);
	TSTP_GLUE_LEAVE(t0);
}

/*
 * el6/el7, where tcp_cleanup_rbuf may be static and inlined away:
 * tcp_rcv_space_adjust(sk), which tcp_recvmsg calls after every copy, and
 * the tcp_recvmsg entry with data already queued.
 */
static void tstp_probe_rcv_space_adjust(struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)tstp_arg(regs, 1);
	TSTP_GLUE_ENTER(c, t0);

	tstp_glue_read(c, sk);
	TSTP_GLUE_LEAVE(t0);
}

static void tstp_probe_recvmsg(struct pt_regs *regs)
{
	struct sock *sk = TSTP_RECVMSG_SK(regs);
	TSTP_GLUE_ENTER(c, t0);

	if (tstp_seq_before(tstp_tp_copied_seq(sk), tstp_tp_rcv_nxt(sk)))
		tstp_glue_read(c, sk);
	TSTP_GLUE_LEAVE(t0);
}

/* tcp_sendmsg: the application writes (write_seq is the first byte of it). */
static void tstp_probe_sendmsg(struct pt_regs *regs)
{
	struct sock *sk = TSTP_SENDMSG_SK(regs);
	struct tstp_ev ev;
	TSTP_GLUE_ENTER(c, t0);

	if (sk && tstp_glue_traced(c, sk)) {
		tstp_glue_ev(&ev, sk, 1);
		ev.write_seq = tstp_tp_write_seq(sk);
		ev.copied_seq = tstp_tp_copied_seq(sk);
		ev.rcv_nxt = tstp_tp_rcv_nxt(sk);
		tstp_core_write(c, TSTP_GLUE_CPU(), (u64)(unsigned long)sk, sk, tstp_glue_ident, &ev,
				tstp_tp_srtt_us(sk));
	}
	TSTP_GLUE_LEAVE(t0);
}

/* (__)tcp_transmit_skb(sk, skb, ...): a segment leaves. */
static void tstp_probe_transmit_skb(struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)tstp_arg(regs, 1);
	struct sk_buff *skb = (struct sk_buff *)tstp_arg(regs, 2);
	struct tstp_ev ev;
	u32 len;
	TSTP_GLUE_ENTER(c, t0);

	if (tstp_glue_traced(c, sk)) {
		len = tstp_tx_payload(skb);
		if (len && len <= 0x7fffffff) {
			memset(&ev, 0, sizeof(ev));
			ev.now = tstp_mono_ns();
			ev.seq = tstp_skb_seq(skb);
			ev.len = len;
			ev.snd_nxt = tstp_tp_snd_nxt(sk);
			tstp_core_tx(c, TSTP_GLUE_CPU(), (u64)(unsigned long)sk, &ev);
		}
	}
	TSTP_GLUE_LEAVE(t0);
}

/* tcp_set_state(sk, state): handshakes done, connections closed. */
static void tstp_probe_set_state(struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)tstp_arg(regs, 1);
	int newstate = (int)tstp_arg(regs, 2);
	struct tstp_ev ev;
	TSTP_GLUE_ENTER(c, t0);

	if ((newstate == TCP_ESTABLISHED || newstate == TCP_CLOSE) && tstp_glue_traced(c, sk)) {
		struct tstp_cpu *cpu = TSTP_GLUE_CPU();

		if (newstate == TCP_ESTABLISHED) {
			tstp_core_established(c, cpu, (u64)(unsigned long)sk, sk, tstp_glue_ident,
					      (uint8_t)tstp_sk_state(sk), tstp_mono_ns());
		} else {
			tstp_glue_ev(&ev, sk, 0);
			tstp_core_close(c, cpu, (u64)(unsigned long)sk, &ev, tstp_tp_srtt_us(sk));
		}
	}
	TSTP_GLUE_LEAVE(t0);
}

#endif /* TCPSTAP_CORE_GLUE_H */
