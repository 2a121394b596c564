// SPDX-License-Identifier: GPL-2.0
/*
 * tstp_compat_test - compile test for core/tstp_compat.h.
 *
 * Uses every helper of the header the way kmod/ will: kprobe
 * pre-handlers reading sockets and segments, a relay channel in debugfs,
 * per-CPU counters, a delayed work timer and module parameters.  The
 * build is the test; loading it is harmless but not needed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/init.h>
#include "tstp_compat.h"

static char *dir = "tstp_compat_test";
module_param(dir, charp, 0444);
MODULE_PARM_DESC(dir, "debugfs directory name");

static unsigned int subbuf_size = 16384;
module_param(subbuf_size, uint, 0444);
MODULE_PARM_DESC(subbuf_size, "relay sub-buffer size");

static unsigned long period_ms = 1000;
module_param(period_ms, ulong, 0444);
MODULE_PARM_DESC(period_ms, "timer period");

static tstp_param_bool_t armed = 1;
module_param(armed, bool, 0644);
MODULE_PARM_DESC(armed, "handlers do work");

struct tstp_pcpu {
	u64 hits;
	u64 cost_ns;
};

struct tstp_rec {
	u64 mono_ns;
	u32 laddr6[4];
	u32 raddr6[4];
	u32 laddr4, raddr4;
	u32 seq, end_seq, ack_seq, payload, len;
	u32 snd_nxt, write_seq, rcv_nxt, copied_seq, retrans, srtt_us;
	s64 bytes_seen;
	u16 lport, rport;
	u16 family, state;
	u32 tgid;
	char comm[TASK_COMM_LEN];
};

static struct tstp_pcpu __percpu *pcpu;
static struct rchan *chan;
static struct dentry *dbg_dir;
static struct delayed_work tick;
static atomic64_t max_cost = ATOMIC64_INIT(0);
static atomic64_t drops = ATOMIC64_INIT(0);
static int stopping;

static void emit(struct sock *sk, struct sk_buff *skb, int rx, u64 t0)
{
	struct tstp_rec r;
	struct tstp_pcpu *c;
	u64 cost;

	memset(&r, 0, sizeof(r));
	r.mono_ns = tstp_mono_ns();
	r.family = tstp_sk_family(sk);
	r.state = tstp_sk_state(sk);
	r.lport = tstp_sk_lport(sk);
	r.rport = tstp_sk_rport(sk);
	r.laddr4 = tstp_sk_laddr4(sk);
	r.raddr4 = tstp_sk_raddr4(sk);
	tstp_sk_laddr6(sk, r.laddr6);
	tstp_sk_raddr6(sk, r.raddr6);
	r.snd_nxt = tstp_tp_snd_nxt(sk);
	r.write_seq = tstp_tp_write_seq(sk);
	r.rcv_nxt = tstp_tp_rcv_nxt(sk);
	r.copied_seq = tstp_tp_copied_seq(sk);
	r.retrans = tstp_tp_total_retrans(sk);
	r.srtt_us = tstp_tp_srtt_us(sk);
	r.bytes_seen = tstp_tp_bytes_seen(sk);
	if (skb) {
		r.seq = tstp_skb_seq(skb);
		r.end_seq = tstp_skb_end_seq(skb);
		r.ack_seq = tstp_skb_ack_seq(skb);
		r.payload = rx ? tstp_rx_payload(skb) : tstp_tx_payload(skb);
		r.len = tstp_tx_len(skb);
	}
	r.tgid = tstp_current_tgid();
	tstp_current_comm(r.comm);
	if (chan)
		__relay_write(chan, &r, sizeof(r));

	c = tstp_this_cpu_ptr(pcpu);
	cost = tstp_cpu_clock_ns() - t0;
	c->hits++;
	c->cost_ns += cost;
	tstp_atomic64_max(&max_cost, cost);
}

TSTP_KPROBE_PRE(on_sendmsg)
{
	struct sock *sk = TSTP_SENDMSG_SK(tstp_regs);

	if (TSTP_READ_ONCE(armed) && sk)
		emit(sk, NULL, 0, tstp_cpu_clock_ns());
	return 0;
}

TSTP_KPROBE_PRE(on_recvmsg)
{
	struct sock *sk = TSTP_RECVMSG_SK(tstp_regs);

	if (TSTP_READ_ONCE(armed) && sk)
		emit(sk, NULL, 0, tstp_cpu_clock_ns());
	return 0;
}

TSTP_KPROBE_PRE(on_rcv_established)
{
	if (TSTP_READ_ONCE(armed))
		emit((struct sock *)tstp_arg(tstp_regs, 1),
		     (struct sk_buff *)tstp_arg(tstp_regs, 2), 1,
		     tstp_cpu_clock_ns());
	return 0;
}

TSTP_KPROBE_PRE(on_xmit)
{
	if (TSTP_READ_ONCE(armed))
		emit((struct sock *)tstp_arg(tstp_regs, 1),
		     (struct sk_buff *)tstp_arg(tstp_regs, 2), 0,
		     tstp_cpu_clock_ns());
	return 0;
}

TSTP_KPROBE_PRE(on_cleanup_rbuf)
{
	/* (sk, copied); arg 3 and 4 read only to use tstp_arg fully. */
	if (TSTP_READ_ONCE(armed) && TSTP_CLEANUP_RBUF_GLOBAL &&
	    tstp_arg(tstp_regs, 3) != ~0UL && tstp_arg(tstp_regs, 4) != ~0UL)
		emit((struct sock *)tstp_arg(tstp_regs, 1), NULL, 0,
		     tstp_cpu_clock_ns());
	return 0;
}
TSTP_NOKPROBE(emit);

static struct kprobe kp_send = { .symbol_name = "tcp_sendmsg",
				 .pre_handler = on_sendmsg };
static struct kprobe kp_recv = { .symbol_name = "tcp_recvmsg",
				 .pre_handler = on_recvmsg };
static struct kprobe kp_rcv = { .symbol_name = "tcp_rcv_established",
				.pre_handler = on_rcv_established };
static struct kprobe kp_xmit = { .symbol_name = TSTP_XMIT_SYM,
				 .pre_handler = on_xmit };
static struct kprobe kp_rbuf = { .symbol_name = "tcp_cleanup_rbuf",
				 .pre_handler = on_cleanup_rbuf };
static struct kprobe *probes[] = { &kp_send, &kp_recv, &kp_rcv, &kp_rbuf };

static int subbuf_start(struct rchan_buf *buf, void *subbuf, void *prev,
			size_t prev_padding)
{
	if (relay_buf_full(buf)) {
		atomic64_add_return(1, &drops);
		return 0;
	}
	return 1;
}

static TSTP_RELAY_CB_CONST struct rchan_callbacks relay_cb = {
	.subbuf_start		= subbuf_start,
	.create_buf_file	= tstp_relay_create_file,
	.remove_buf_file	= tstp_relay_remove_file,
};

static void tick_fn(struct work_struct *w)
{
	u64 hits = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		hits += per_cpu_ptr(pcpu, cpu)->hits;
	pr_debug("hits %llu missed %lu max %lld drops %lld real %llu\n",
		 (unsigned long long)hits, tstp_kprobe_missed(&kp_rcv),
		 (long long)atomic64_xchg(&max_cost, 0),
		 (long long)atomic64_read(&drops),
		 (unsigned long long)tstp_real_ns());
	if (chan)
		relay_flush(chan);
	if (!TSTP_READ_ONCE(stopping))
		schedule_delayed_work(&tick, msecs_to_jiffies(period_ms));
}

static int __init tstp_compat_test_init(void)
{
	void *scratch;
	int err;

	if (!subbuf_size || !period_ms)
		return -EINVAL;
	scratch = tstp_vzalloc(PAGE_SIZE);
	if (!scratch)
		return -ENOMEM;
	vfree(scratch);

	pcpu = alloc_percpu(struct tstp_pcpu);
	if (!pcpu)
		return -ENOMEM;

	dbg_dir = debugfs_create_dir(dir, NULL);
	if (tstp_debugfs_failed(dbg_dir)) {
		err = -ENODEV;
		goto free_pcpu;
	}
	chan = relay_open("trace", dbg_dir, subbuf_size, 8, &relay_cb, NULL);
	if (!chan) {
		err = -ENOMEM;
		goto remove_dir;
	}

	err = register_kprobe(&kp_xmit);
	if (err) {
		kp_xmit.symbol_name = TSTP_XMIT_SYM_ALT;
		kp_xmit.addr = NULL;
		err = register_kprobe(&kp_xmit);
		if (err)
			goto close_relay;
	}
	err = register_kprobes(probes, ARRAY_SIZE(probes));
	if (err)
		goto unregister_xmit;

	INIT_DELAYED_WORK(&tick, tick_fn);
	schedule_delayed_work(&tick, msecs_to_jiffies(period_ms));
	pr_info("loaded: inet_csk_accept takes %d args here\n",
		TSTP_CSK_ACCEPT_NARGS);
	return 0;

unregister_xmit:
	unregister_kprobe(&kp_xmit);
close_relay:
	relay_close(chan);
remove_dir:
	debugfs_remove_recursive(dbg_dir);
free_pcpu:
	free_percpu(pcpu);
	return err;
}

static void __exit tstp_compat_test_exit(void)
{
	TSTP_WRITE_ONCE(stopping, 1);
	cancel_delayed_work_sync(&tick);
	unregister_kprobes(probes, ARRAY_SIZE(probes));
	unregister_kprobe(&kp_xmit);
	relay_close(chan);
	debugfs_remove_recursive(dbg_dir);
	free_percpu(pcpu);
}

module_init(tstp_compat_test_init);
module_exit(tstp_compat_test_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tcpstap compile test for core/tstp_compat.h");
