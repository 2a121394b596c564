/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * tcpstap exchange core: the request/response rules and the bounded,
 * per-bucket-locked socket table that both latency engines run on (the
 * SystemTap engine through embedded C, the native module in kmod/).
 *
 * It is plain C over this file, record.h and tstp_platform.h, so that the
 * same source compiles into a kernel module and into a userspace unit test.
 * Nothing here sleeps, allocates, or takes a lock shared by all CPUs:
 *  - sockets live in a preallocated table of buckets of TSTP_WAYS slots,
 *    each bucket with its own lock; a full bucket evicts its least recently
 *    active socket, and every eviction is counted;
 *  - counters are per CPU (the caller passes its CPU's struct tstp_cpu);
 *  - histograms take one atomic add per exchange (count and sum packed);
 *  - emitted records take one atomic increment for their sequence number.
 *
 * Layers:
 *  tstp_rules.c  pure rules: (socket state, event) -> new state and maybe a
 *                finished exchange; no table, no time source, no I/O;
 *  tstp_table.c  the socket table, service endpoints and their histograms,
 *                counters, the guard arithmetic, record emission.
 * The engines add how events are read from the kernel (tstp_glue.h).
 */
#ifndef TCPSTAP_CORE_H
#define TCPSTAP_CORE_H

#include "tstp_platform.h"
#include "tcpstap/record.h"

/* ------------------------------------------------------------ constants */

#define TSTP_WAYS		8	/* slots per table bucket */
#define TSTP_SOCKETS_CAP	16384	/* largest table (max_sockets is clamped to it) */
#define TSTP_MAX_ENDPOINTS	128	/* service endpoints with their own histogram */
#define TSTP_MAX_PORTS		64	/* service ports in the filter */
#define TSTP_HIST_EMIT_BATCH	16	/* histogram records per summary step */

/* Histogram bucket words: count in the low bits, sum of us in the high bits. */
#define TSTP_HB_COUNT_BITS	24
#define TSTP_HB_COUNT_MASK	((1ull << TSTP_HB_COUNT_BITS) - 1)
/* An endpoint is flushed early when a word gets this close to overflowing. */
#define TSTP_HB_COUNT_FLUSH	(1ull << (TSTP_HB_COUNT_BITS - 1))
#define TSTP_HB_SUM_FLUSH	(1ull << (63 - TSTP_HB_COUNT_BITS))

/* Phases of a socket's current exchange. */
enum tstp_phase {
	TSTP_PH_IDLE	= 0,
	TSTP_PH_IN	= 1,	/* receiving: the request (server), the response (client) */
	TSTP_PH_OUT	= 2,	/* sending: the response (server), the request (client) */
};

/* Why an exchange ends (tstp_rule_finish). */
enum tstp_fin {
	TSTP_FIN_NEXT	= 0,	/* the next exchange began */
	TSTP_FIN_CLOSE	= 1,	/* the connection closed */
	TSTP_FIN_EVICT	= 2,	/* the socket's state was evicted */
};

/* Internal bits of tstp_sock.have. */
#define TSTP_HAVE_IN	1u	/* in_first/in_end are set */
#define TSTP_HAVE_OUT	2u	/* out_first/out_end are set */
#define TSTP_HAVE_PID	4u	/* pid/comm taken for this exchange */

/* ------------------------------------------------------------ socket state */

/* What names a connection; read from the socket once, when it is tracked. */
struct tstp_ident {
	uint8_t  family;	/* 2 AF_INET, 10 AF_INET6 */
	uint8_t  state;		/* TCP state when first seen */
	uint16_t lport, rport;	/* host order */
	uint16_t reserved;
	uint32_t laddr[4], raddr[4];	/* as in memory (network order); IPv4 in [0] */
	int64_t  bytes_seen;	/* payload bytes the connection carried so far, -1 unknown */
};

/* One tracked socket: its identity and its current exchange. */
struct tstp_sock {
	uint8_t  role;		/* enum tstp_role */
	uint8_t  phase;		/* enum tstp_phase */
	uint8_t  have;		/* TSTP_HAVE_* */
	uint8_t  family;
	uint16_t flags;		/* enum tstp_exchange_flags of the current exchange */
	uint16_t ep;		/* service endpoint (histograms) */
	uint16_t lport, rport;
	uint32_t retrans0;	/* tp->total_retrans when the exchange began */
	uint32_t laddr[4], raddr[4];
	uint32_t in_first, in_end;	/* inbound message: first seq, highest end seq */
	uint32_t out_first, out_end;	/* outbound message */
	uint32_t pid;
	uint32_t retrans_last;	/* total_retrans at the latest event (eviction) */
	char     comm[16];
	uint64_t t_rx_first, t_rx_last, t_read, t_write, t_tx_first, t_tx_last;
	uint64_t t_active;	/* latest event: eviction picks the least recent */
};

/*
 * One probed event on a socket. The glue fills what the event's kind needs
 * (see each rule); now is monotonic ns.
 */
struct tstp_ev {
	uint64_t now;
	uint32_t seq, len;	/* rx, tx: the segment's first seq and payload */
	uint32_t ack;		/* rx: the segment's ack_seq */
	uint32_t write_seq;	/* rx (server), write: tp->write_seq */
	uint32_t snd_nxt;	/* tx */
	uint32_t copied_seq;	/* write (client): tp->copied_seq */
	uint32_t rcv_nxt;	/* write (client): tp->rcv_nxt */
	uint32_t total_retrans;	/* rx, write, close */
	uint32_t pid;		/* current task's tgid */
	const char *comm;	/* current task's comm (16 bytes), may be NULL */
};

/* An exchange that ended: the record body, before the engine fills srtt. */
struct tstp_finished {
	struct tstp_exchange rec;	/* hdr not yet stamped */
	uint64_t total_us;
	uint16_t ep;
	uint8_t  why;		/* enum tstp_fin */
};

/* ------------------------------------------------------------ pure rules */
/* tstp_rules.c. Each returns 1 when *fin holds an exchange that ended. */

void tstp_rule_track(struct tstp_sock *s, uint8_t role, uint16_t flags,
		     const struct tstp_ident *id, uint16_t ep, uint64_t now);
int tstp_rule_rx(struct tstp_sock *s, const struct tstp_ev *ev, struct tstp_finished *fin);
void tstp_rule_read(struct tstp_sock *s, const struct tstp_ev *ev);
int tstp_rule_write(struct tstp_sock *s, const struct tstp_ev *ev, struct tstp_finished *fin);
void tstp_rule_tx(struct tstp_sock *s, const struct tstp_ev *ev);
int tstp_rule_finish(struct tstp_sock *s, uint8_t why, uint32_t total_retrans,
		     struct tstp_finished *fin);
/* Role of a connection first seen mid-stream (a pooled connection). */
uint8_t tstp_rule_guess_role(uint16_t lport, uint16_t rport, int lport_is_service,
			     int have_service_ports);
int tstp_seq_before(uint32_t a, uint32_t b);
unsigned tstp_log2_bucket(uint64_t us);

/* ------------------------------------------------------------ the core */

struct tstp_config {
	uint64_t threshold_us;	/* slower exchanges are emitted, others only counted */
	uint32_t sample;	/* trace 1 socket in N */
	uint32_t max_events;	/* exchange records per second, 0 unlimited */
	uint32_t max_sockets;	/* table slots wanted (rounded up to a power of two) */
	uint32_t have_ports;	/* 0: every port is a service port */
	uint32_t addr4;		/* IPv4 filter as in memory, 0 none */
	uint32_t addr6_set;
	uint32_t addr6[4];
	uint8_t  port_map[65536 / 8];	/* service ports */
};

/*
 * Per-CPU counters; an engine keeps one per possible CPU and passes the
 * current CPU's to every call. Cache-line sized so CPUs never share one.
 */
struct tstp_cpu {
	uint64_t hits;		/* handler runs */
	uint64_t cost_ns;	/* their time, outliers charged at cost_avg_ns */
	uint64_t outliers;	/* runs longer than the clip (interrupted, preempted) */
	uint64_t cost_avg_ns;	/* running average of a normal run */
	uint64_t exchanges, emitted, below, dropped_rate;
	uint64_t evicted, closed, tracked, sampled_out;
	uint64_t emit_failed;	/* records the engine could not write */
	uint64_t id;		/* the CPU's number (hdr.cpu) */
	uint64_t pad[2];
} __attribute__((aligned(64)));

struct tstp_bucket {
	uint64_t key[TSTP_WAYS];	/* the socket's address, 0: free slot */
	tstp_lock_t lock;
	struct tstp_sock slot[TSTP_WAYS];
};

/* A service endpoint: (role, family, addr, port) and its histogram. */
struct tstp_endpoint {
	tstp_atomic64_t state;		/* 0 free, 1 being filled, 2 ready */
	uint8_t  role, family;
	uint16_t port;
	uint32_t addr[4];
	tstp_atomic64_t flush;		/* a word neared overflow: emit early */
	tstp_atomic64_t word[TSTP_HIST_BUCKETS];	/* count | sum_us << 24 */
	tstp_atomic64_t min_us, max_us;
};

/* Dead-man switch and CPU budget: pure arithmetic over what the engine measures. */
struct tstp_guard {
	uint64_t deadman_ns;		/* 0: off */
	uint64_t max_cpu_ppm;		/* 0: off */
	uint64_t window_ns;
	uint64_t last_heartbeat_ns;
	uint64_t win_start_ns, win_cost_ns;
	uint64_t last_window_ppm;
};

typedef int (*tstp_emit_fn)(void *ctx, const void *rec, unsigned len);

struct tstp_core {
	struct tstp_config cfg;
	struct tstp_bucket *buckets;	/* nbuckets, a power of two */
	uint32_t nbuckets;
	int armed;			/* handlers do nothing when 0 */
	uint32_t disarm_reason;		/* enum tstp_disarm_reason */
	tstp_atomic64_t rec_seq;	/* records emitted: hdr.seq */
	tstp_atomic64_t rate;		/* second << 32 | records in it */
	tstp_emit_fn emit;
	void *emit_ctx;
	struct tstp_guard guard;
	uint32_t hist_cursor;		/* next endpoint of a summary round, 0 idle */
	uint64_t hist_last_ns;		/* start of the interval being summarised */
	struct tstp_endpoint ep[TSTP_MAX_ENDPOINTS];
};

/* Table memory an engine provides for up to max_sockets. */
uint32_t tstp_core_nbuckets(uint32_t max_sockets);

/*
 * Set up c over caller-provided buckets (tstp_core_nbuckets(cfg->max_sockets)
 * of them); c itself need not be zeroed. Returns 0 or -1 on a bad config.
 */
int tstp_core_init(struct tstp_core *c, const struct tstp_config *cfg,
		   struct tstp_bucket *buckets, uint32_t nbuckets,
		   tstp_emit_fn emit, void *emit_ctx, uint64_t now);

/* Filters: cheap enough for every event. */
static inline int tstp_port_match(const struct tstp_core *c, uint16_t lport, uint16_t rport)
{
	if (!c->cfg.have_ports)
		return 1;
	return (c->cfg.port_map[lport >> 3] >> (lport & 7) & 1) |
	       (c->cfg.port_map[rport >> 3] >> (rport & 7) & 1);
}
static inline int tstp_port_is_service(const struct tstp_core *c, uint16_t port)
{
	return c->cfg.port_map[port >> 3] >> (port & 7) & 1;
}
int tstp_addr_match(const struct tstp_core *c, const struct tstp_ident *id);
int tstp_sampled_in(const struct tstp_core *c, uint64_t key);
void tstp_config_add_port(struct tstp_config *cfg, uint16_t port);

/*
 * Reads a socket's identity for the core when it decides to track one; the
 * glue's function, called under the bucket lock (so it must not block).
 */
typedef void (*tstp_ident_fn)(const void *sk, struct tstp_ident *id);

/*
 * Event entry points. key is the socket's address; sk is handed back to
 * ident() only. Up to two exchanges can end in one event (an evicted
 * neighbour and the socket's own); they are emitted or counted before the
 * call returns. Return: exchanges that ended.
 */
int tstp_core_rx(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		 const void *sk, tstp_ident_fn ident, const struct tstp_ev *ev,
		 uint32_t srtt_us);
int tstp_core_read(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		   const struct tstp_ev *ev);
int tstp_core_write(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		    const void *sk, tstp_ident_fn ident, const struct tstp_ev *ev,
		    uint32_t srtt_us);
int tstp_core_tx(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		 const struct tstp_ev *ev);
/*
 * A handshake completed: old_state was SYN_RECV (server) or SYN_SENT
 * (client). Tracks the socket if the filters let it.
 */
int tstp_core_established(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
			  const void *sk, tstp_ident_fn ident, uint8_t old_state,
			  uint64_t now);
/* The socket reached TCP_CLOSE: its exchange ends, its state is dropped. */
int tstp_core_close(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		    const struct tstp_ev *ev, uint32_t srtt_us);

/*
 * A handler's run took ns (from its entry): account it. Runs far longer than
 * the average were interrupted or preempted (the handlers never wait for
 * long): they are charged at the average and counted as outliers.
 */
void tstp_core_account(struct tstp_cpu *cpu, uint64_t ns);
#define TSTP_OUTLIER_FACTOR	16	/* a run over 16x the average is an outlier ... */
#define TSTP_OUTLIER_FLOOR_NS	20000	/* ... and over 20 us */

/* ------------------------------------------------------------ summaries */

struct tstp_totals_view {	/* per-CPU counters summed */
	uint64_t hits, cost_ns, outliers;
	uint64_t exchanges, emitted, below, dropped_rate;
	uint64_t evicted, closed, tracked, sampled_out, emit_failed;
};
void tstp_core_sum(const struct tstp_cpu *cpus, unsigned ncpus, struct tstp_totals_view *t);
/* Adds one CPU's counters to t (for per-CPU memory that is not an array). */
void tstp_core_add(struct tstp_totals_view *t, const struct tstp_cpu *p);

/* Record emitters, for the engine's timer and its begin/end. */
int tstp_emit_anchor(struct tstp_core *c, uint16_t cpu, uint64_t now, uint64_t real_ns);
int tstp_emit_stats(struct tstp_core *c, uint16_t cpu, uint64_t now,
		    const struct tstp_totals_view *t);
/*
 * One step of a histogram round: emits up to TSTP_HIST_EMIT_BATCH endpoint
 * records (those with counts) and returns 1 when the round is complete.
 * Start a round with tstp_hist_round_begin().
 */
void tstp_hist_round_begin(struct tstp_core *c);
int tstp_hist_round_step(struct tstp_core *c, uint16_t cpu, uint64_t now);
/* Some endpoint neared a counter's limit: its round should start now. */
int tstp_hist_flush_wanted(const struct tstp_core *c);

/* Stamps hdr (magic, version, seq, cpu, ts) and hands the record to emit(). */
int tstp_emit_record(struct tstp_core *c, void *rec, uint8_t type, uint16_t len,
		     uint16_t cpu, uint64_t ts);

/* ------------------------------------------------------------ guard */

void tstp_guard_init(struct tstp_core *c, uint64_t deadman_s, uint64_t max_cpu_ppm,
		     uint64_t window_s, uint64_t now);
void tstp_guard_heartbeat(struct tstp_core *c, uint64_t now);
/*
 * Every ~100 ms with the handlers' total cost so far. Returns the reason to
 * disarm (enum tstp_disarm_reason) or 0; the core is then disarmed and
 * *used_ppm / *elapsed_ms say why, for the engine's message.
 */
uint32_t tstp_guard_check(struct tstp_core *c, uint64_t now, uint64_t cost_ns,
			  uint64_t *used_ppm, uint64_t *elapsed_ms);

#endif /* TCPSTAP_CORE_H */
