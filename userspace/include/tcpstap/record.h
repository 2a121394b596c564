/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * tcpstap binary record format: the one definition shared by every producer
 * (the stap scripts, kmod/) and every decoder (userspace/).
 *
 * Wire rules:
 *  - little-endian, every field naturally aligned, explicit padding only;
 *  - every record starts with struct tstp_hdr; hdr.length is the whole record
 *    (header included) and is a multiple of 8;
 *  - timestamps are CLOCK_MONOTONIC-like nanoseconds from the producer's
 *    kernel; a TSTP_REC_ANCHOR record ties them to wall-clock time;
 *  - hdr.seq counts every record a producer emitted, so a gap is a loss;
 *  - a decoder skips unknown types by length, so new types never break old
 *    decoders; a new field is appended and bumps TSTP_VERSION.
 *
 * The SystemTap producers write these layouts with binary printf ("%8b",
 * "%4b", ...); scripts/check-record-layout compares each printf with the
 * sizes below so that the two cannot drift.
 */
#ifndef TCPSTAP_RECORD_H
#define TCPSTAP_RECORD_H

/* Kernel producers (kmod/, the SystemTap engine's embedded C) include it too. */
#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#endif

#define TSTP_MAGIC	0x50545354u	/* bytes "TSTP" on the wire */
#define TSTP_VERSION	1
#define TSTP_MAX_RECORD	4096u	/* no record is longer: bounds resync */

enum tstp_type {
	TSTP_REC_ANCHOR		= 1,	/* wall-clock anchor + producer identity */
	TSTP_REC_EXCHANGE	= 2,	/* one request/response exchange */
	TSTP_REC_HIST		= 3,	/* log2 latency histogram of one endpoint */
	TSTP_REC_STATS		= 4,	/* producer counters and self-cost */
	TSTP_REC_SELFTEST	= 5,	/* harness self-test: one TCP segment seen */
	TSTP_REC_CAPTURE	= 6,	/* head of a triggered ring capture (tcpstap-load) */
	/* 16..31: connection health (connect, retrans, states) */
	TSTP_REC_CONNECT	= 16,	/* one connection attempt, passive or active, and how it ended */
	TSTP_REC_LISTEN		= 17,	/* listen-queue overflows of one listener */
	TSTP_REC_RETRANS	= 18,	/* one retransmission or reset */
	TSTP_REC_TOTALS		= 19,	/* a health producer's counters */
	TSTP_REC_STATE		= 20,	/* one TCP state transition */
	TSTP_REC_SNAPSHOT	= 21,	/* one socket of an on-demand snapshot (struct tstp_state) */
	TSTP_REC_SNAPSHOT_END	= 22,	/* end of a snapshot */
};

enum tstp_producer {
	TSTP_PROD_SELFTEST	= 1,
	TSTP_PROD_LATENCY	= 2,
	TSTP_PROD_CONNECT	= 3,
	TSTP_PROD_RETRANS	= 4,
	TSTP_PROD_STATES	= 5,
};

struct tstp_hdr {
	uint32_t magic;		/* TSTP_MAGIC */
	uint8_t  version;	/* TSTP_VERSION */
	uint8_t  type;		/* enum tstp_type */
	uint16_t length;	/* whole record, bytes, multiple of 8 */
	uint32_t seq;		/* per-producer record counter, from 1; wraps to 0 */
	uint16_t cpu;		/* CPU that emitted the record */
	uint16_t reserved;	/* zero */
	uint64_t ts_ns;		/* monotonic ns when emitted */
};

/* Emitted once at start and then at every stats interval. */
struct tstp_anchor {
	struct tstp_hdr hdr;
	uint64_t realtime_ns;	/* wall clock at hdr.ts_ns */
	uint32_t producer;	/* enum tstp_producer */
	uint32_t threshold_us;	/* exchanges faster than this are only counted */
	uint32_t sample_ratio;	/* 1 in N sockets traced */
	uint32_t max_events;	/* per-second event budget, 0 = unlimited */
};

enum tstp_role {
	TSTP_ROLE_SERVER	= 1,
	TSTP_ROLE_CLIENT	= 2,
};

enum tstp_exchange_flags {
	TSTP_XF_PIPELINED	= 1u << 0,	/* next request arrived before this response ended */
	TSTP_XF_INCOMPLETE	= 1u << 1,	/* connection closed mid-exchange */
	TSTP_XF_EVICTED		= 1u << 2,	/* socket state evicted by the map bound */
	TSTP_XF_PREEXISTING	= 1u << 3,	/* connection established before load */
	TSTP_XF_RETRANS		= 1u << 4,	/* at least one retransmission */
};

/*
 * Timestamps keep their meaning whatever the role; which ones a role fills:
 *   server: rx_first, rx_last (request), read, write, tx_first, tx_last (response)
 *   client: write, tx_first, tx_last (request), rx_first, rx_last, read (response)
 * Zero means "not observed".
 */
struct tstp_exchange {
	struct tstp_hdr hdr;
	uint8_t  role;		/* enum tstp_role */
	uint8_t  family;	/* AF_INET (2) or AF_INET6 (10) */
	uint16_t flags;		/* enum tstp_exchange_flags */
	uint16_t lport;		/* host byte order */
	uint16_t rport;		/* host byte order */
	uint8_t  laddr[16];	/* network byte order; IPv4 in the first 4 bytes */
	uint8_t  raddr[16];
	uint32_t req_seq;	/* TCP sequence number of the request's first byte */
	uint32_t resp_seq;	/* TCP sequence number of the response's first byte */
	uint64_t req_bytes;
	uint64_t resp_bytes;
	uint32_t retrans;	/* retransmitted segments during the exchange */
	uint32_t srtt_us;	/* smoothed RTT at the end of the exchange */
	uint32_t pid;		/* reader/writer tgid where known, else 0 */
	uint32_t reserved;
	char     comm[16];	/* space- or NUL-padded, not terminated */
	uint64_t t_rx_first;
	uint64_t t_rx_last;
	uint64_t t_read;
	uint64_t t_write;
	uint64_t t_tx_first;
	uint64_t t_tx_last;
};

#define TSTP_HIST_BUCKETS 32	/* bucket 0: 0 us; bucket i: [2^(i-1), 2^i) us */

/*
 * Exchanges of one (role, service endpoint) during one interval that were
 * NOT emitted as TSTP_REC_EXCHANGE records (faster than the threshold, or
 * over the event budget), so that a decoder adds them to what it decoded
 * without counting anything twice. Bucket 31 is open-ended.
 */
struct tstp_hist {
	struct tstp_hdr hdr;
	uint8_t  role;		/* enum tstp_role */
	uint8_t  family;
	uint16_t port;		/* service port: local for a server, remote for a client */
	uint32_t interval_ms;
	uint8_t  addr[16];	/* service address, network byte order */
	uint64_t count;
	uint64_t sum_us;
	uint64_t min_us;
	uint64_t max_us;
	uint32_t bucket[TSTP_HIST_BUCKETS];
};

enum tstp_disarm_reason {
	TSTP_DISARM_NONE	= 0,
	TSTP_DISARM_HEARTBEAT	= 1,	/* dead-man switch: no heartbeat */
	TSTP_DISARM_OVERHEAD	= 2,	/* handler CPU over budget */
};

/*
 * Cumulative since load; a decoder derives per-interval rates from deltas.
 * Every producer emits it (probe cost and guard state). The connection
 * health producers (connect, retrans, states) fill the latency-named
 * counters with their own events: exchanges = events seen (attempts,
 * retransmissions and resets, transitions), emitted = event records
 * emitted, dropped_rate = event records over max_events, evicted, closed
 * and sockets = their socket or request states; below_threshold and
 * sampled_out stay 0.
 */
struct tstp_stats {
	struct tstp_hdr hdr;
	uint64_t probe_hits;	/* handler invocations */
	uint64_t probe_ns;	/* time spent in handlers */
	uint64_t exchanges;	/* completed exchanges, emitted or not */
	uint64_t emitted;	/* exchange records emitted */
	uint64_t below_threshold; /* counted in histograms only */
	uint64_t dropped_rate;	/* over the per-second event budget */
	uint64_t evicted;	/* socket states evicted by the map bound */
	uint64_t closed;	/* socket states released on close */
	uint64_t sockets;	/* socket states held now */
	uint64_t sampled_out;	/* sockets skipped by the sampling ratio */
	uint32_t armed;		/* 1 while probes do work */
	uint32_t disarm_reason;	/* enum tstp_disarm_reason */
};

enum tstp_capture_reason {
	TSTP_TRIGGER_SLOW	= 1,	/* an exchange slower than --trigger-ms */
	TSTP_TRIGGER_SIGNAL	= 2,	/* SIGUSR1 to tcpstap-load */
	TSTP_TRIGGER_COMMAND	= 3,	/* `tcpstap trigger` (which sends SIGUSR1 + a marker) */
};

/*
 * First record of a file written by tcpstap-load --ring when a trigger fired.
 * The records that follow are a window of one producer's stream, so the
 * decoder restarts its sequence accounting here (the records before the
 * window were not lost, they were never meant to be kept) and takes its
 * wall-clock anchor from this record until the stream's own ANCHOR comes.
 * hdr.seq is 0: it is not part of the producer's numbering.
 */
struct tstp_capture {
	struct tstp_hdr hdr;	/* ts_ns: producer time of the trigger */
	uint64_t realtime_ns;	/* wall clock at hdr.ts_ns (0: unknown) */
	uint32_t reason;	/* enum tstp_capture_reason */
	uint32_t trigger_us;	/* --trigger-ms, in us (0: none) */
	uint32_t before_ms;	/* window kept before the trigger */
	uint32_t after_ms;	/* window recorded after it */
	uint64_t ring_evicted;	/* records the ring's memory bound dropped before the trigger */
	uint64_t reserved;
};

/* Harness self-test: one data segment seen by tcp_rcv_established. */
struct tstp_selftest {
	struct tstp_hdr hdr;
	uint16_t lport;
	uint16_t rport;
	uint32_t len;		/* skb->len */
};

/* ---- connection health: connect, retrans, states ---- */

/*
 * The 40 bytes that name a connection in the health records (after a
 * record's first 4 bytes): family, ports, addresses as in tstp_exchange.
 * TCP states are the kernel's numbers (1 ESTABLISHED .. 12 NEW_SYN_RECV).
 */
enum tstp_tcp_state {
	TSTP_TCP_ESTABLISHED = 1, TSTP_TCP_SYN_SENT, TSTP_TCP_SYN_RECV, TSTP_TCP_FIN_WAIT1,
	TSTP_TCP_FIN_WAIT2, TSTP_TCP_TIME_WAIT, TSTP_TCP_CLOSE, TSTP_TCP_CLOSE_WAIT,
	TSTP_TCP_LAST_ACK, TSTP_TCP_LISTEN, TSTP_TCP_CLOSING, TSTP_TCP_NEW_SYN_RECV,
};

enum tstp_connect_outcome {
	TSTP_CONN_ESTABLISHED	= 1,	/* client: SYN_SENT -> ESTABLISHED */
	TSTP_CONN_ACCEPTED	= 2,	/* server: the application accepted it */
	TSTP_CONN_REFUSED	= 3,	/* client: a RST answered the SYN */
	TSTP_CONN_TIMEOUT	= 4,	/* client: SYN retransmissions exhausted */
	TSTP_CONN_RESET		= 5,	/* reset after the handshake, before it was accepted */
	TSTP_CONN_ERROR		= 6,	/* another error (error field), e.g. ICMP unreachable */
	TSTP_CONN_ABORTED	= 7,	/* closed locally before it completed */
	TSTP_CONN_EVICTED	= 8,	/* state dropped by the map bound: outcome unknown */
};

enum tstp_connect_flags {
	TSTP_CF_MORE_RETRANS	= 1u << 0,	/* more retransmissions than retrans_us[] holds */
	TSTP_CF_NO_SYN		= 1u << 1,	/* the SYN was not seen (syncookie, or before load) */
};

#define TSTP_CONNECT_RETRANS_SLOTS 6

/*
 * One connection attempt. Client (role 2): SYN sent by connect() to
 * ESTABLISHED, or how it failed. Server (role 1): SYN received to the
 * application's accept(), or how it ended before that. Emitted when the
 * outcome is known.
 */
struct tstp_connect {
	struct tstp_hdr hdr;
	uint8_t  role;		/* enum tstp_role: 1 passive (server), 2 active (client) */
	uint8_t  family;
	uint8_t  outcome;	/* enum tstp_connect_outcome */
	uint8_t  syn_retrans;	/* SYN (client) or SYN-ACK (server) retransmissions, saturating */
	uint16_t lport;
	uint16_t rport;
	uint8_t  laddr[16];
	uint8_t  raddr[16];
	uint32_t pid;		/* connect() caller or accept() caller, 0 unknown */
	uint32_t error;		/* the socket's errno when it failed (111, 110, 113 ...), else 0 */
	uint64_t t_syn;		/* SYN sent (client) or received (server); 0 not seen */
	uint64_t t_established;	/* handshake complete; 0 never */
	uint64_t t_accepted;	/* server: accept() returned it; 0 never */
	uint64_t t_end;		/* failure: when it ended; 0 otherwise */
	uint32_t retrans_us[TSTP_CONNECT_RETRANS_SLOTS];	/* each retransmission, us after t_syn */
	uint32_t srtt_us;	/* smoothed RTT when emitted, 0 unknown */
	uint32_t flags;		/* enum tstp_connect_flags */
	char     comm[16];	/* space- or NUL-padded, not terminated */
};

/* Listen-queue overflows of one listener since its previous record. */
struct tstp_listen {
	struct tstp_hdr hdr;
	uint8_t  family;
	uint8_t  reserved0;
	uint16_t lport;
	uint32_t reserved1;
	uint8_t  laddr[16];
	uint64_t overflows;	/* connections dropped because the accept queue was full */
	uint64_t overflows_total; /* since load */
	uint32_t backlog;	/* accept-queue length at the last overflow */
	uint32_t max_backlog;	/* the listen() backlog in force */
	uint64_t t_first;	/* first and last overflow of this record */
	uint64_t t_last;
};

enum tstp_retrans_kind {
	TSTP_RT_TIMEOUT		= 1,	/* retransmission timer (RTO) or recovery after it */
	TSTP_RT_FAST		= 2,	/* fast retransmit / SACK recovery */
	TSTP_RT_TLP		= 3,	/* tail loss probe */
	TSTP_RT_SYN		= 4,	/* SYN retransmitted (connect) */
	TSTP_RT_SYNACK		= 5,	/* SYN-ACK retransmitted (half-open passive connection) */
	TSTP_RT_RST_SENT	= 6,	/* RST sent in answer to a segment */
	TSTP_RT_RST_ACTIVE	= 7,	/* RST sent by a local abort (close with unread data, linger 0) */
	TSTP_RT_RST_RECV	= 8,	/* RST received */
};

/* One retransmission (segs > 0) or reset. */
struct tstp_retrans {
	struct tstp_hdr hdr;
	uint8_t  kind;		/* enum tstp_retrans_kind */
	uint8_t  family;
	uint8_t  state;		/* TCP state of the socket, 0 if none (a RST for no socket) */
	uint8_t  ca_state;	/* congestion state: 0 open, 1 disorder, 2 cwr, 3 recovery, 4 loss */
	uint16_t lport;
	uint16_t rport;
	uint8_t  laddr[16];
	uint8_t  raddr[16];
	uint32_t seq;		/* first sequence number retransmitted, 0 for a reset */
	uint32_t segs;		/* segments retransmitted (the kernel's RetransSegs delta) */
	uint32_t rto_us;	/* retransmission timeout in force */
	uint32_t srtt_us;
	uint32_t cwnd;		/* congestion window, segments */
	uint32_t total_retrans;	/* the connection's retransmitted segments so far */
};

/* Counter indices of struct tstp_totals, per producer. */
enum tstp_connect_counter {
	TSTP_CC_ATTEMPTS_OUT, TSTP_CC_ATTEMPTS_IN, TSTP_CC_ESTABLISHED, TSTP_CC_ACCEPTED,
	TSTP_CC_REFUSED, TSTP_CC_TIMEOUT, TSTP_CC_RESET, TSTP_CC_ERROR, TSTP_CC_ABORTED,
	TSTP_CC_SYN_RETRANS, TSTP_CC_SYNACK_RETRANS, TSTP_CC_LISTEN_OVERFLOWS,
	TSTP_CC_COUNT
};
enum tstp_retrans_counter {
	TSTP_RC_TIMEOUT, TSTP_RC_FAST, TSTP_RC_TLP, TSTP_RC_SYN, TSTP_RC_SYNACK,
	TSTP_RC_RST_SENT, TSTP_RC_RST_ACTIVE, TSTP_RC_RST_RECV,
	TSTP_RC_SEGS,		/* retransmitted segments: /proc/net/snmp RetransSegs */
	TSTP_RC_FAILED,		/* retransmission attempts the kernel did not count */
	TSTP_RC_COUNT
};
enum tstp_states_counter {
	TSTP_SC_TRANSITIONS, TSTP_SC_TO_ESTABLISHED, TSTP_SC_TO_CLOSE_WAIT, TSTP_SC_TO_TIME_WAIT,
	TSTP_SC_TO_CLOSE, TSTP_SC_RESETS, TSTP_SC_TIMEOUTS, TSTP_SC_SNAPSHOTS,
	TSTP_SC_COUNT
};

#define TSTP_TOTALS_MAX 16

/*
 * A health producer's counters, cumulative since load and exact whatever
 * max_events let through as individual records: emitted at every interval.
 */
struct tstp_totals {
	struct tstp_hdr hdr;
	uint32_t producer;	/* enum tstp_producer: says which enum indexes value[] */
	uint32_t nvalues;	/* values in use */
	uint64_t value[TSTP_TOTALS_MAX];
};

enum tstp_state_flags {
	TSTP_SF_SINCE_LOAD	= 1u << 0,	/* the previous state began before tracking: duration counts from load */
	TSTP_SF_UNTIMED		= 1u << 1,	/* the previous state's start was not seen (a child created in SYN_RECV) */
	TSTP_SF_RESET		= 1u << 2,	/* closing because a RST was received */
	TSTP_SF_TIMEOUT		= 1u << 3,	/* closing on a retransmission or keepalive timeout */
	TSTP_SF_ACTIVE		= 1u << 4,	/* this side connected (SYN_SENT seen) */
	TSTP_SF_PASSIVE		= 1u << 5,	/* this side accepted (SYN_RECV seen) */
};

/*
 * TSTP_REC_STATE: a transition old_state -> new_state, in_state_ns being the
 * time spent in old_state. TSTP_REC_SNAPSHOT: a tracked socket, with
 * old_state == new_state == its state and in_state_ns how long it has been in
 * it. With TSTP_SF_SINCE_LOAD, in_state_ns is only the time since loading
 * (the state began earlier).
 */
struct tstp_state {
	struct tstp_hdr hdr;
	uint8_t  family;
	uint8_t  old_state;
	uint8_t  new_state;
	uint8_t  flags;		/* enum tstp_state_flags */
	uint16_t lport;
	uint16_t rport;
	uint8_t  laddr[16];
	uint8_t  raddr[16];
	uint64_t in_state_ns;
	uint64_t bytes_sent;	/* bytes acknowledged by the peer (from first sight on el6/el7) */
	uint64_t bytes_received;
	uint32_t total_retrans;
	uint32_t snd_wnd;	/* peer's receive window, bytes */
	uint32_t rcv_wnd;	/* our receive window, bytes */
	uint32_t cwnd;		/* congestion window, segments */
	uint32_t srtt_us;
	uint32_t snapshot;	/* snapshot number (TSTP_REC_SNAPSHOT), 0 for a transition */
};

/* The end of snapshot N: how many sockets it listed. */
struct tstp_snapshot_end {
	struct tstp_hdr hdr;
	uint32_t snapshot;
	uint32_t sockets;	/* TSTP_REC_SNAPSHOT records emitted for it */
	uint32_t tracked;	/* sockets tracked when it began */
	uint32_t reserved;
};

/*
 * Kernel C is gnu89 and el6 builds it with gcc 4.4, which has no
 * _Static_assert: a negative array size fails the build instead.
 */
#ifdef __KERNEL__
#define TSTP_SA_CAT2(a, b) a##b
#define TSTP_SA_CAT(a, b) TSTP_SA_CAT2(a, b)
#define TSTP_STATIC_ASSERT(c, m) \
	typedef char TSTP_SA_CAT(tstp_static_assert_, __LINE__)[(c) ? 1 : -1] __attribute__((unused))
#else
#define TSTP_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif
TSTP_STATIC_ASSERT(sizeof(struct tstp_hdr) == 24, "tstp_hdr size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_anchor) == 48, "tstp_anchor size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_exchange) == 168, "tstp_exchange size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_hist) == 208, "tstp_hist size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_stats) == 112, "tstp_stats size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_selftest) == 32, "tstp_selftest size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_connect) == 152, "tstp_connect size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_listen) == 88, "tstp_listen size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_retrans) == 88, "tstp_retrans size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_totals) == 160, "tstp_totals size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_state) == 112, "tstp_state size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_snapshot_end) == 40, "tstp_snapshot_end size");

#endif /* TCPSTAP_RECORD_H */
