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

#include <stdint.h>

#define TSTP_MAGIC	0x50545354u	/* bytes "TSTP" on the wire */
#define TSTP_VERSION	1
#define TSTP_MAX_RECORD	4096u	/* no record is longer: bounds resync */

enum tstp_type {
	TSTP_REC_ANCHOR		= 1,	/* wall-clock anchor + producer identity */
	TSTP_REC_EXCHANGE	= 2,	/* one request/response exchange */
	TSTP_REC_HIST		= 3,	/* log2 latency histogram of one endpoint */
	TSTP_REC_STATS		= 4,	/* producer counters and self-cost */
	TSTP_REC_SELFTEST	= 5,	/* harness self-test: one TCP segment seen */
	/* 16..31 reserved for connection health (connect, retrans, states) */
};

enum tstp_producer {
	TSTP_PROD_SELFTEST	= 1,
	TSTP_PROD_LATENCY	= 2,
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

/* Cumulative since load; a decoder derives per-interval rates from deltas. */
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

/* Harness self-test: one data segment seen by tcp_rcv_established. */
struct tstp_selftest {
	struct tstp_hdr hdr;
	uint16_t lport;
	uint16_t rport;
	uint32_t len;		/* skb->len */
};

#define TSTP_STATIC_ASSERT(c, m) _Static_assert(c, m)
TSTP_STATIC_ASSERT(sizeof(struct tstp_hdr) == 24, "tstp_hdr size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_anchor) == 48, "tstp_anchor size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_exchange) == 168, "tstp_exchange size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_hist) == 208, "tstp_hist size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_stats) == 112, "tstp_stats size");
TSTP_STATIC_ASSERT(sizeof(struct tstp_selftest) == 32, "tstp_selftest size");

#endif /* TCPSTAP_RECORD_H */
