/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The few primitives the exchange core needs from its host: fixed-width
 * types, a per-bucket spinlock, 64-bit atomics and a compiler barrier.
 * In the kernel (the SystemTap engine's embedded C, kmod/) they are the
 * kernel's own; in userspace (the unit tests and the ThreadSanitizer
 * hammer) they are C11 atomics, which the sanitizers understand.
 */
#ifndef TCPSTAP_CORE_PLATFORM_H
#define TCPSTAP_CORE_PLATFORM_H

#define TSTP_U64_MAX	(~0ull)	/* U64_MAX is 3.14+ */

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/compiler.h>
#include <asm/atomic.h>

typedef spinlock_t tstp_lock_t;
typedef atomic64_t tstp_atomic64_t;

#define tstp_lock_init(l)		spin_lock_init(l)
/* IRQs off: the same bucket is used from softirq (receive) and process context. */
#define tstp_lock(l, flags)		spin_lock_irqsave(l, flags)
#define tstp_unlock(l, flags)		spin_unlock_irqrestore(l, flags)
#define tstp_irqflags_t			unsigned long

#define tstp_atomic64_set(a, v)		atomic64_set(a, v)
#define tstp_atomic64_read(a)		((uint64_t)atomic64_read(a))
#define tstp_atomic64_add_return(v, a)	((uint64_t)atomic64_add_return((s64)(v), a))
#define tstp_atomic64_xchg(a, v)	((uint64_t)atomic64_xchg(a, (s64)(v)))
#define tstp_atomic64_cmpxchg(a, o, n)	((uint64_t)atomic64_cmpxchg(a, (s64)(o), (s64)(n)))

/* ACCESS_ONCE works on every target kernel for scalars (READ_ONCE is 3.19+). */
#define TSTP_ONCE(x)			(*(volatile __typeof__(x) *)&(x))
#define tstp_likely(x)			likely(x)
#define tstp_unlikely(x)		unlikely(x)
#define tstp_cpu_relax()		cpu_relax()
#define tstp_smp_wmb()			smp_wmb()
#define tstp_smp_rmb()			smp_rmb()

#else /* userspace: unit tests */

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

typedef atomic_flag tstp_lock_t;
typedef _Atomic uint64_t tstp_atomic64_t;
typedef int tstp_irqflags_t;

#define tstp_lock_init(l)		atomic_flag_clear(l)
#define tstp_lock(l, flags)							\
	do {									\
		(void)(flags);							\
		while (atomic_flag_test_and_set_explicit(l, memory_order_acquire)) \
			;							\
	} while (0)
#define tstp_unlock(l, flags)							\
	do {									\
		(void)(flags);							\
		atomic_flag_clear_explicit(l, memory_order_release);		\
	} while (0)

#define tstp_atomic64_set(a, v)		atomic_store(a, (uint64_t)(v))
#define tstp_atomic64_read(a)		atomic_load(a)
#define tstp_atomic64_add_return(v, a)	(atomic_fetch_add(a, (uint64_t)(v)) + (uint64_t)(v))
#define tstp_atomic64_xchg(a, v)	atomic_exchange(a, (uint64_t)(v))
static inline uint64_t tstp_atomic64_cmpxchg_user(tstp_atomic64_t *a, uint64_t o, uint64_t n)
{
	atomic_compare_exchange_strong(a, &o, n);
	return o;	/* the value found: == old on success */
}
#define tstp_atomic64_cmpxchg(a, o, n)	tstp_atomic64_cmpxchg_user(a, o, n)

/*
 * Plain fields that one thread writes under no lock while others read them
 * (the armed flag, configuration): relaxed atomics in the tests, so that
 * ThreadSanitizer sees the intended race as one.
 */
#define TSTP_ONCE(x)			(*(volatile __typeof__(x) *)&(x))
#define tstp_likely(x)			__builtin_expect(!!(x), 1)
#define tstp_unlikely(x)		__builtin_expect(!!(x), 0)
#define tstp_cpu_relax()		do { } while (0)
/* The atomics above are sequentially consistent: they order the plain accesses around them. */
#define tstp_smp_wmb()			do { } while (0)
#define tstp_smp_rmb()			do { } while (0)

#endif /* __KERNEL__ */

#endif /* TCPSTAP_CORE_PLATFORM_H */
