/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tstp_compat.h - kernel API differences shared by tcpstap's two kernel
 * producers (the SystemTap engine's embedded C and kmod/) on:
 *   el6  2.6.32-xxx.el6 (gcc 4.4, gnu89), el7 3.10.0-xxx.el7,
 *   Debian 5.10 and 6.1.
 *
 * Trees cited below ([tag] = where an entry was read):
 *   [el6.8] functor/linux-2.6.32-642.6.2.el6 (RHEL 6.8; also carries
 *           vserver/web100 patches, RHEL parts told apart by __GENKSYMS__)
 *   [el6.6] ziozzang/rhel6-kernel-src (2.6.32-503, Makefile RHEL_MINOR 6);
 *           seyko2/openvz_rhel6_kernel_mirror (2.6.32-504, 042stab111)
 *   [el6.3] csg109/kernel-2.6.32 (2.6.32-279 based, annotated)
 *   [el7.0] OpenVZ/vzkernel, early vz7 tree (RHEL 7.0/7.1 base). The
 *           requested tremb1e/linux-3.10.0-1160.el7 holds only 34 files
 *           in the index (Module.symvers, ecryptfs), no header used here:
 *           entries marked "el7.9 UNVERIFIED" were not checked on 1160.
 *   [5.10] [6.1] /usr/src/linux-headers-{5.10.0-32,6.1.0-57}-* (Debian)
 *
 * Knobs a build may set from a grep of the target's headers (kmod/Kbuild,
 * stap -D): TSTP_HAVE_SRTT_US, TSTP_HAVE_BYTES_ACKED, TSTP_HAVE_CB_TCP_FLAGS,
 *   e.g. ccflags-y += -DTSTP_HAVE_SRTT_US=$(if $(shell grep -s srtt_us \
 *        $(srctree)/include/linux/tcp.h),1,0)
 * gnu89 for gcc 4.4 (el6): no _Static_assert, no for() declarations.
 */
#ifndef TSTP_COMPAT_H
#define TSTP_COMPAT_H

#ifdef __KERNEL__

#include <linux/version.h>
#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/compiler.h>
#include <linux/err.h>
#include <linux/string.h>
#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/percpu.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/ktime.h>
#include <linux/kprobes.h>
#include <linux/relay.h>
#include <linux/debugfs.h>
#include <linux/skbuff.h>
#include <linux/in6.h>
#include <linux/tcp.h>
#include <linux/ipv6.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/tcp.h>
#include <asm/ptrace.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(3, 1, 0)
#include <linux/atomic.h>
#else
#include <asm/atomic.h>	/* linux/atomic.h is 3.1+ */
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 11, 0)
#include <linux/sched/clock.h>	/* local_clock() moved here in 4.11 */
#endif

/* RHEL_MAJOR/MINOR, RHEL_RELEASE_VERSION(a,b), RHEL_RELEASE_CODE are
 * written into include/linux/version.h by the top Makefile on el6
 * ([el6.6] Makefile filechk_version.h) and el7; Debian has none ([5.10]
 * [6.1] version.h).  -Wundef: never test them directly. */
#ifdef RHEL_RELEASE_CODE
#define TSTP_RHEL_CODE		RHEL_RELEASE_CODE
#else
#define TSTP_RHEL_CODE		0
#endif
#define TSTP_RHEL_GE(maj, min)	(TSTP_RHEL_CODE >= (((maj) << 8) + (min)))
#define TSTP_KV_GE(a, b, c)	(LINUX_VERSION_CODE >= KERNEL_VERSION(a, b, c))
#define TSTP_EL6		(!TSTP_KV_GE(2, 6, 33) && TSTP_RHEL_CODE != 0)

#if defined(CONFIG_IPV6) || defined(CONFIG_IPV6_MODULE)
#define TSTP_IPV6		1	/* IS_ENABLED() is 3.1+, not on el6 */
#else
#define TSTP_IPV6		0
#endif

/* ---- 1. socket identity ------------------------------------------- */

/* skc_family/skc_state: sock_common on every tree ([el6.8] [el7.0]
 * include/net/sock.h, [5.10] [6.1]). */
static inline unsigned int tstp_sk_family(const struct sock *sk)
{
	return sk->__sk_common.skc_family;
}

static inline unsigned int tstp_sk_state(const struct sock *sk)
{
	return sk->__sk_common.skc_state;
}

/* el6: inet_sock num/dport/rcv_saddr/daddr, no skc_num/skc_daddr
 * ([el6.3] include/net/inet_sock.h, [el6.8] include/net/sock.h).  el7
 * on: sock_common skc_num/skc_dport/skc_rcv_saddr/skc_daddr ([el7.0]
 * include/net/sock.h, [5.10] [6.1] sk_num.. aliases). */
#if TSTP_KV_GE(3, 0, 0)
#define TSTP_SKC(sk, f)		((sk)->__sk_common.skc_##f)
#define TSTP_SK_NUM(sk)		TSTP_SKC(sk, num)
#define TSTP_SK_DPORT(sk)	TSTP_SKC(sk, dport)
#define TSTP_SK_SADDR(sk)	TSTP_SKC(sk, rcv_saddr)
#define TSTP_SK_DADDR(sk)	TSTP_SKC(sk, daddr)
#else
#define TSTP_SK_NUM(sk)		(inet_sk(sk)->num)
#define TSTP_SK_DPORT(sk)	(inet_sk(sk)->dport)
#define TSTP_SK_SADDR(sk)	(inet_sk(sk)->rcv_saddr)
#define TSTP_SK_DADDR(sk)	(inet_sk(sk)->daddr)
#endif

/* Ports in host order: num is host order already, dport is __be16. */
static inline u16 tstp_sk_lport(const struct sock *sk)
{
	return TSTP_SK_NUM(sk);
}

static inline u16 tstp_sk_rport(const struct sock *sk)
{
	return ntohs(TSTP_SK_DPORT(sk));
}

/* IPv4 addresses as stored (network byte order), like "%4b" in stap. */
static inline u32 tstp_sk_laddr4(const struct sock *sk)
{
	return (__force u32)TSTP_SK_SADDR(sk);
}

static inline u32 tstp_sk_raddr4(const struct sock *sk)
{
	return (__force u32)TSTP_SK_DADDR(sk);
}

static inline void tstp_in6_copy(u32 out[4], const struct in6_addr *a)
{
	memcpy(out, a->s6_addr32, 4 * sizeof(u32));	/* network order */
}

/* IPv6: skc_v6_daddr/skc_v6_rcv_saddr + sk_v6_* macros from 3.13,
 * backported to el7 ([el7.0] include/net/sock.h; [5.10] [6.1]).  el6:
 * inet6_sk(sk)->daddr/rcv_saddr, pinet6 NULL on IPv4 sockets ([el6.6]
 * include/linux/ipv6.h).  The macro is the test.  Full sockets only. */
static inline void tstp_sk_laddr6(const struct sock *sk, u32 out[4])
{
	memset(out, 0, 4 * sizeof(u32));
#if TSTP_IPV6
#ifdef sk_v6_rcv_saddr
	tstp_in6_copy(out, &sk->sk_v6_rcv_saddr);
#else
	if (inet6_sk(sk))
		tstp_in6_copy(out, &inet6_sk(sk)->rcv_saddr);
#endif
#endif
}

static inline void tstp_sk_raddr6(const struct sock *sk, u32 out[4])
{
	memset(out, 0, 4 * sizeof(u32));
#if TSTP_IPV6
#ifdef sk_v6_daddr
	tstp_in6_copy(out, &sk->sk_v6_daddr);
#else
	if (inet6_sk(sk))
		tstp_in6_copy(out, &inet6_sk(sk)->daddr);
#endif
#endif
}

/* ---- 2. tcp_sock -------------------------------------------------- */

/* Same names everywhere ([el6.8] [el7.0] include/linux/tcp.h, [5.10]
 * [6.1]).  Lockless reads: a value may be one update stale. */
#define TSTP_TP_GET(field)						\
static inline u32 tstp_tp_##field(const struct sock *sk)		\
{									\
	return tcp_sk(sk)->field;					\
}
TSTP_TP_GET(snd_nxt)
TSTP_TP_GET(write_seq)
TSTP_TP_GET(rcv_nxt)
TSTP_TP_GET(copied_seq)
TSTP_TP_GET(total_retrans)

/* jiffies<<3 "srtt" on el6 ([el6.8] include/linux/tcp.h) and el7.0/7.1
 * ([el7.0] tcp.h; kindling issue #80: 3.10.0-123/-229 lack srtt_us);
 * usec<<3 "srtt_us" from 3.15 ([5.10] [6.1]).  el7.2+ => srtt_us is a
 * guess, el7.9 UNVERIFIED: -DTSTP_HAVE_SRTT_US=0/1 (wrong = build error). */
#ifndef TSTP_HAVE_SRTT_US
#if TSTP_KV_GE(3, 15, 0) || (TSTP_KV_GE(3, 10, 0) && TSTP_RHEL_GE(7, 2))
#define TSTP_HAVE_SRTT_US	1
#else
#define TSTP_HAVE_SRTT_US	0
#endif
#endif

static inline u32 tstp_tp_srtt_us(const struct sock *sk)
{
#if TSTP_HAVE_SRTT_US
	return tcp_sk(sk)->srtt_us >> 3;
#else
	return jiffies_to_usecs(tcp_sk(sk)->srtt >> 3);
#endif
}

/* RFC 4898 counters: u64 bytes_received + bytes_acked from 4.1 ([5.10]
 * [6.1] tcp.h).  el6.8: u64 bytes_received + u64 tcpi_acked, while its
 * u32 "bytes_acked" is RFC 3465 ABC state ([el6.8] include/linux/tcp.h);
 * el6.6 and el7.0 have neither ([el6.6] seyko2, [el7.0] tcp.h); later
 * el7 UNVERIFIED, default unknown (-1).  1 = bytes_acked, 2 = tcpi_acked.
 * An active opener's first acked byte is its SYN: not counted. */
#ifndef TSTP_HAVE_BYTES_ACKED
#if TSTP_KV_GE(4, 1, 0)
#define TSTP_HAVE_BYTES_ACKED	1
#elif TSTP_EL6 && TSTP_RHEL_GE(6, 8)
#define TSTP_HAVE_BYTES_ACKED	2
#else
#define TSTP_HAVE_BYTES_ACKED	0
#endif
#endif

static inline s64 tstp_tp_bytes_seen(const struct sock *sk)
{
#if TSTP_HAVE_BYTES_ACKED
	const struct tcp_sock *tp = tcp_sk(sk);
#if TSTP_HAVE_BYTES_ACKED == 2
	u64 acked = tp->tcpi_acked;
#else
	u64 acked = tp->bytes_acked;
#endif
	return (s64)(tp->bytes_received + (acked ? acked - 1 : 0));
#else
	return -1;
#endif
}

/* ---- 3. segments (sk_buff) ---------------------------------------- */

/* TCP_SKB_CB(skb)->seq/end_seq/ack_seq: every tree.  Valid from
 * tcp_rcv_established()/tcp_v4_do_rcv() on receive, and on transmit. */
#define TSTP_SKB_GET(field)						\
static inline u32 tstp_skb_##field(struct sk_buff *skb)			\
{									\
	return TCP_SKB_CB(skb)->field;					\
}
TSTP_SKB_GET(seq)
TSTP_SKB_GET(end_seq)
TSTP_SKB_GET(ack_seq)

/* tcp_skb_cb flags byte: "flags" on el6.6 ([el6.6] include/net/tcp.h),
 * "tcp_flags" on el6.8 ([el6.8] tcp.h) and from 3.2: el7 ([el7.0]
 * tcp.h), [5.10] [6.1].  el6.7 unseen: -DTSTP_HAVE_CB_TCP_FLAGS=0/1. */
#ifndef TSTP_HAVE_CB_TCP_FLAGS
#if TSTP_KV_GE(3, 2, 0) || TSTP_RHEL_GE(6, 8)
#define TSTP_HAVE_CB_TCP_FLAGS	1
#else
#define TSTP_HAVE_CB_TCP_FLAGS	0
#endif
#endif
#if TSTP_HAVE_CB_TCP_FLAGS
#define TSTP_CB_FLAGS(skb)	(TCP_SKB_CB(skb)->tcp_flags)
#else
#define TSTP_CB_FLAGS(skb)	(TCP_SKB_CB(skb)->flags)
#endif

#define TSTP_TH_FIN		0x01	/* byte 13 of the TCP header */
#define TSTP_TH_SYN		0x02

/* Payload bytes: the sequence span less one for SYN and one for FIN. */
static inline u32 tstp_seg_payload(u32 seq, u32 end_seq, u8 flags)
{
	u32 span = end_seq - seq;
	u32 ctl = !!(flags & TSTP_TH_SYN) + !!(flags & TSTP_TH_FIN);

	return span > ctl ? span - ctl : 0;
}

/* Receive: flags from the TCP header itself (tcp_hdr() is valid from
 * tcp_v4_rcv on): vanilla 3.10's receive path leaves the cb flags byte
 * unset (tcpstap_sock.stp); el6/el7 tcp_v4_rcv not re-read here. */
static inline u32 tstp_rx_payload(struct sk_buff *skb)
{
	const u8 *th = (const u8 *)tcp_hdr(skb);

	return tstp_seg_payload(tstp_skb_seq(skb), tstp_skb_end_seq(skb),
				th[13]);
}

/* Transmit, at (__)tcp_transmit_skb entry: the sender set the cb flags.
 * skb->len there should equal the payload (the header is pushed onto
 * the clone inside the function; tcp_output.c of 2.6.32-6.1 not re-read
 * here): tstp_tx_len() is a fallback and a run-time cross-check. */
static inline u32 tstp_tx_payload(struct sk_buff *skb)
{
	return tstp_seg_payload(tstp_skb_seq(skb), tstp_skb_end_seq(skb),
				TSTP_CB_FLAGS(skb));
}

static inline u32 tstp_tx_len(const struct sk_buff *skb)
{
	return skb->len;
}

/* ---- 4. probe arguments (x86_64 pt_regs) -------------------------- */

/* di, si, dx, cx carry args 1..4: same names on el6 ([el6.3]
 * arch/x86/include/asm/ptrace.h, __KERNEL__ branch) and [5.10] [6.1]. */
static inline unsigned long tstp_arg(const struct pt_regs *regs, int n)
{
	return n == 1 ? regs->di : n == 2 ? regs->si :
	       n == 3 ? regs->dx : n == 4 ? regs->cx : 0;
}

/* tcp_sendmsg: (iocb, struct socket *, msg, size) on el6 ([el6.6]
 * include/net/tcp.h); (iocb, sk, ...) 2.6.36-4.0, el7 (kernel-vm.md);
 * (sk, msg, size) from 4.1 ([5.10] [6.1]).  tcp_recvmsg: (iocb, sk, ..)
 * on el6 ([el6.6]) and el7 ([el7.0] tcp.h); (sk, ..) from 4.1. */
static inline struct sock *tstp_sendmsg_sk(const struct pt_regs *regs)
{
#if !TSTP_KV_GE(2, 6, 36)
	struct socket *sock = (struct socket *)tstp_arg(regs, 2);

	return sock ? sock->sk : NULL;
#elif !TSTP_KV_GE(4, 1, 0)
	return (struct sock *)tstp_arg(regs, 2);
#else
	return (struct sock *)tstp_arg(regs, 1);
#endif
}
#define TSTP_SENDMSG_SK(regs)	tstp_sendmsg_sk(regs)

#if TSTP_KV_GE(4, 1, 0)
#define TSTP_RECVMSG_SK(regs)	((struct sock *)tstp_arg((regs), 1))
#else
#define TSTP_RECVMSG_SK(regs)	((struct sock *)tstp_arg((regs), 2))
#endif

/* Transmit: static tcp_transmit_skb(sk, skb, clone_it, gfp) to 4.17
 * (undeclared in [el6.6] [el7.0] tcp.h); from 4.18 (upstream b3d051477cf9,
 * a fix also in stable trees) __tcp_transmit_skb(.., rcv_nxt), wrapper
 * inlined on 6.1 (kernel-vm.md).  RHEL may backport it: register
 * TSTP_XMIT_SYM, then TSTP_XMIT_SYM_ALT.  sk = arg 1, skb = arg 2. */
#if TSTP_KV_GE(4, 18, 0)
#define TSTP_XMIT_SYM		"__tcp_transmit_skb"
#define TSTP_XMIT_SYM_ALT	"tcp_transmit_skb"
#else
#define TSTP_XMIT_SYM		"tcp_transmit_skb"
#define TSTP_XMIT_SYM_ALT	"__tcp_transmit_skb"
#endif

/* tcp_cleanup_rbuf(sk, copied): extern on el6 ([el6.6] include/net/
 * tcp.h) and [5.10] [6.1] tcp.h; static and maybe inlined on 3.x, el7
 * included (kernel-vm.md table).  Confirm in the target's kallsyms. */
#if TSTP_KV_GE(3, 0, 0) && !TSTP_KV_GE(4, 0, 0)
#define TSTP_CLEANUP_RBUF_GLOBAL	0
#else
#define TSTP_CLEANUP_RBUF_GLOBAL	1
#endif

/* inet_csk_accept: (sk, flags, err) on el6/el7, (sk, flags, err, kern)
 * from 4.11 ([5.10] [6.1] include/net/inet_connection_sock.h). */
#if TSTP_KV_GE(4, 11, 0)
#define TSTP_CSK_ACCEPT_NARGS	4
#else
#define TSTP_CSK_ACCEPT_NARGS	3
#endif

/* ---- 5. time ------------------------------------------------------ */

/* Monotonic ns, one clock for all CPUs: ktime_get_ns() from 3.17 ([5.10]
 * [6.1] timekeeping.h), ktime_to_ns(ktime_get()) before.  A seqcount
 * read: safe with IRQs off unless the probe sits inside a timekeeping
 * update (no tcp_* does); not NMI-safe.  ktime_get is GPL-exported. */
static inline u64 tstp_mono_ns(void)
{
#if TSTP_KV_GE(3, 17, 0)
	return ktime_get_ns();
#else
	return ktime_to_ns(ktime_get());
#endif
}

static inline u64 tstp_real_ns(void)
{
#if TSTP_KV_GE(3, 17, 0)
	return ktime_get_real_ns();
#else
	return ktime_to_ns(ktime_get_real());
#endif
}

/* Per-CPU clock for a handler's own cost: local_clock() from 2.6.37
 * (inline over GPL sched_clock_cpu() in [5.10] [6.1] sched/clock.h).
 * el6.8 declares it ([el6.8] sched.h), older el6 unchecked: cpu_clock(),
 * declared there too. */
static inline u64 tstp_cpu_clock_ns(void)
{
#if TSTP_KV_GE(2, 6, 37)
	return local_clock();
#else
	return cpu_clock(raw_smp_processor_id());
#endif
}

/*
 * A handler's own duration, cheaply: the TSC (get_cycles() is rdtsc on
 * x86_64, arch/x86/include/asm/tsc.h on [el6.3] [el7.0] [5.10] [6.1]),
 * converted with tsc_khz (EXPORT_SYMBOL in arch/x86/kernel/tsc.c on every
 * tree). A handler runs with preemption off, so both reads are on one CPU.
 * Why not ktime: where the clocksource is HPET or ACPI PM (old or emulated
 * hosts; QEMU without KVM) each ktime_get() is an I/O read, measured at
 * ~230 ns under TCG against 12 ns for rdtsc. 0 when the TSC is unusable:
 * the caller falls back to tstp_cpu_clock_ns().
 */
#include <asm/timex.h>
static inline u64 tstp_cycles_mult(void)	/* ns per cycle << 20 */
{
	return tsc_khz ? (1000000ull << 20) / tsc_khz : 0;
}

/* ---- 6. module infrastructure ------------------------------------- */

/*
 * kprobes: pre_handler int (*)(struct kprobe *, struct pt_regs *),
 * register_kprobes/unregister_kprobes, nmissed, symbol_name on every
 * tree ([el6.3] include/linux/kprobes.h, [5.10] [6.1]).
 * - unregister_kprobes() waits a grace period (synchronize_sched() in
 *   2.6.x-4.x kernel/kprobes.c; synchronize_rcu() once the RCU flavours
 *   merged, 5.x UNVERIFIED here) and handlers run with preemption off:
 *   none is running when it returns.  Unregister before freeing.
 * - symbol_name resolves through kallsyms, static symbols included,
 *   unless inlined.  .isra/.part clones need the exact suffixed name and
 *   may have dropped or reordered arguments: no tstp_arg() on them.
 * - Jump-optimized: CONFIG_OPTPROBES ([el6.3] kprobes.h; [5.10] [6.1]
 *   .config).  ftrace-based: CONFIG_KPROBES_ON_FTRACE (3.7+; [5.10]
 *   [6.1] .config; not el6).  kallsyms_lookup_name: not exported on
 *   [5.10] [6.1] (Module.symvers): do not use it.
 */
#define TSTP_KPROBE_PRE(fn) \
	static int fn(struct kprobe *tstp_kp, struct pt_regs *tstp_regs)

static inline unsigned long tstp_kprobe_missed(const struct kprobe *kp)
{
	return kp->nmissed;
}

/* NOKPROBE_SYMBOL is 3.16+; el6/el7.0 use the __kprobes section. */
#ifdef NOKPROBE_SYMBOL
#define TSTP_NOKPROBE(fn)	NOKPROBE_SYMBOL(fn)
#else
#define TSTP_NOKPROBE(fn)
#endif

/* relay create_buf_file mode: int before 3.3, umode_t after ([5.10]
 * [6.1] include/linux/relay.h; el6 int, UNVERIFIED in an el6 tree). */
#if TSTP_KV_GE(3, 3, 0)
typedef umode_t tstp_mode_t;
#else
typedef int tstp_mode_t;
#endif

/* relay_open(name, parent, subbuf_size, n_subbufs, cb, private): same
 * arguments everywhere, NULL on failure; cb is const from 5.11 ([6.1]
 * relay.h, [5.10] not), where create/remove_buf_file are mandatory and
 * buf_mapped/unmapped are gone.  relay_flush/close/file_operations are
 * GPL exports ([5.10] [6.1] symvers).  __relay_write() suits kprobe
 * handlers: a probe hit while one runs on that CPU is skipped (nmissed),
 * never nested; relay_write() (irqsave) from any other context. */
#if TSTP_KV_GE(5, 11, 0)
#define TSTP_RELAY_CB_CONST	const
#else
#define TSTP_RELAY_CB_CONST
#endif

static inline struct dentry *
tstp_relay_create_file(const char *name, struct dentry *parent,
		       tstp_mode_t mode, struct rchan_buf *buf, int *is_global)
{
	*is_global = 0;
	return debugfs_create_file(name, mode, parent, buf,
				   &relay_file_operations);
}

static inline int tstp_relay_remove_file(struct dentry *d)
{
	debugfs_remove(d);
	return 0;
}

/* debugfs_create_*: NULL on failure up to 4.x, ERR_PTR() from 5.0;
 * ERR_PTR(-ENODEV) stubs without CONFIG_DEBUG_FS ([5.10] debugfs.h).
 * IS_ERR_OR_NULL() is 2.6.33+, so open-coded for el6. */
static inline int tstp_debugfs_failed(const struct dentry *d)
{
	return !d || IS_ERR(d);
}

/* Delayed work: INIT_DELAYED_WORK, schedule_delayed_work (system_wq
 * exists only from 2.6.36: do not name it), cancel_delayed_work_sync
 * need no wrapper (plain EXPORT_SYMBOL, [5.10] [6.1] symvers). */

/* this_cpu_ptr is a macro from 2.6.33 ([5.10] [6.1] percpu-defs.h);
 * per_cpu_ptr(p, smp_processor_id()) otherwise (preemption off). */
#ifdef this_cpu_ptr
#define tstp_this_cpu_ptr(p)	this_cpu_ptr(p)
#else
#define tstp_this_cpu_ptr(p)	per_cpu_ptr((p), smp_processor_id())
#endif

/* vzalloc from 2.6.37 (EXPORT_SYMBOL in [5.10] [6.1]); el6 falls back
 * to vmalloc + memset, correct whether or not RHEL backported it. */
static inline void *tstp_vzalloc(unsigned long size)
{
#if TSTP_KV_GE(2, 6, 37)
	return vzalloc(size);
#else
	void *p = vmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
#endif
}

/* READ_ONCE/WRITE_ONCE are macros from 3.19 (asm-generic/rwonce.h in
 * [5.10] [6.1]); ACCESS_ONCE (2.6.25-4.15) before.  Macro = test. */
#ifdef READ_ONCE
#define TSTP_READ_ONCE(x)	READ_ONCE(x)
#define TSTP_WRITE_ONCE(x, v)	WRITE_ONCE(x, v)
#else
#define TSTP_READ_ONCE(x)	ACCESS_ONCE(x)
#define TSTP_WRITE_ONCE(x, v)	(ACCESS_ONCE(x) = (v))
#endif

/* atomic64 add_return/xchg/cmpxchg: long on 2.6.32/3.10 x86_64, s64 in
 * [5.10] [6.1] arch/x86/include/asm/atomic64_64.h; same width. */
static inline void tstp_atomic64_max(atomic64_t *v, s64 val)
{
	s64 cur = atomic64_read(v);

	while (cur < val) {
		s64 old = atomic64_cmpxchg(v, cur, val);

		if (old == cur)
			break;
		cur = old;
	}
}

/* module_param(x, bool, ...): the variable must be bool from 3.3
 * ([5.10] [6.1] param_check_bool); int is what 2.6.32 checks for. */
#if TSTP_KV_GE(3, 3, 0)
typedef bool tstp_param_bool_t;
#else
typedef int tstp_param_bool_t;
#endif

/* current->tgid/comm: same fields everywhere.  get_task_comm() takes
 * task_lock: not from a probe.  In softirq, current is whoever ran. */
static inline pid_t tstp_current_tgid(void)
{
	return current->tgid;
}

static inline void tstp_current_comm(char out[TASK_COMM_LEN])
{
	memcpy(out, current->comm, TASK_COMM_LEN);
	out[TASK_COMM_LEN - 1] = '\0';
}

#endif /* __KERNEL__ */
#endif /* TSTP_COMPAT_H */
