/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * TCP socket counts from a netlink sock_diag (inet_diag) dump, never from
 * /proc/net/tcp (which is known to take seconds, even hang, with many sockets).
 *
 * Two layers:
 *  - pure: parsing the bytes of netlink replies into struct tstp_sock,
 *    aggregating them (states, queues, listeners, remote addresses) and the
 *    request fallback decision. No I/O; unit-tested on synthetic dumps.
 *  - I/O: tstp_sockdiag_dump() sends the request and feeds every reply to
 *    the parser.
 *
 * Requests: SOCK_DIAG_BY_FAMILY with struct inet_diag_req_v2 (Linux 3.3+; one
 * dump per family), else the older TCPDIAG_GETSOCK with struct inet_diag_req
 * (2.6.32 / RHEL 6; one dump returns both families). Dumps need no privilege.
 */
#ifndef TCPSTAP_SOCKDIAG_H
#define TCPSTAP_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

#include "tcpstap/record.h"

/* Kernel TCP state numbers: enum tstp_tcp_state of record.h (stable since 2.6). */
#define TSTP_TCP_NSTATES 12	/* indexes 1..11 used; 0 unused */

/* node_exporter's tcpstat label values: "established", "syn_sent", ... */
const char *tstp_tcp_state_name(unsigned state);
/* ss(8)'s names: "ESTAB", "SYN-SENT", ...; for text output. */
const char *tstp_tcp_state_ss_name(unsigned state);

enum { TSTP_FAM_IPV4, TSTP_FAM_IPV6, TSTP_NFAM };

/* One socket as the dump reports it, in host byte order. */
struct tstp_sock {
	uint8_t family;		/* AF_INET or AF_INET6 (Linux values 2, 10) */
	uint8_t state;		/* kernel TCP state number */
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];	/* IPv4 in the first 4 bytes */
	uint32_t rqueue;	/* LISTEN: accept queue length; else bytes unread */
	uint32_t wqueue;	/* LISTEN: backlog; else bytes unacknowledged/unsent */
};

/* Request kinds, and what the caller asked for. */
enum tstp_diag_req { TSTP_DIAG_V2, TSTP_DIAG_LEGACY };
enum tstp_diag_mode { TSTP_DIAG_AUTO, TSTP_DIAG_ONLY_V2, TSTP_DIAG_ONLY_LEGACY };
const char *tstp_diag_req_name(enum tstp_diag_req r);

/*
 * The fallback decision, pure: the v2 request (in AUTO mode) failed with err
 * (a positive errno, from socket(), the kernel's NLMSG_ERROR or NLMSG_DONE).
 * Returns 1 if the legacy request should be tried instead, 0 if err is a
 * real failure to report. 2.6.32 answers a v2 request with EINVAL (too short
 * for its struct inet_diag_req); early 3.3 with EAFNOSUPPORT for dumps;
 * kernels without a handler for the family with ENOENT.
 */
int tstp_diag_should_fall_back(enum tstp_diag_mode mode, int err);

/* Parser state for the replies to one request. */
struct tstp_nl_parse {
	uint32_t seq;		/* the request's sequence number */
	int done;		/* NLMSG_DONE (or an error) seen */
	int ends_done;		/* the last message parsed was NLMSG_DONE */
	int error;		/* positive errno from NLMSG_ERROR/NLMSG_DONE, or 0 */
	uint64_t messages;	/* socket messages parsed */
	uint64_t foreign;	/* messages with another sequence number, skipped */
	uint64_t malformed;	/* too short for an inet_diag_msg, bad family */
	uint64_t other;		/* other message types, skipped */
	uint64_t interrupted;	/* NLM_F_DUMP_INTR seen: dump may be inconsistent */
};

typedef int (*tstp_sock_cb)(void *ctx, const struct tstp_sock *sk);

void tstp_nl_parse_init(struct tstp_nl_parse *p, uint32_t seq);
/*
 * Parses one received datagram (a run of netlink messages). Calls cb for each
 * socket; a non-zero return from cb stops and is returned. A message whose
 * length runs past the buffer ends parsing and counts as malformed. Returns 0
 * otherwise; check p->done and p->error afterwards.
 */
int tstp_nl_parse_buf(struct tstp_nl_parse *p, const void *buf, size_t len,
		      tstp_sock_cb cb, void *ctx);

/* A remote address and how many sockets have it. */
struct tstp_remote {
	uint8_t family;
	uint8_t addr[16];
	uint64_t sockets;
};

/* A listening endpoint (sockets with the same address and port summed). */
struct tstp_listener {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
	uint32_t sockets;	/* > 1 with SO_REUSEPORT */
	uint64_t queue;		/* accept queue: established, not yet accepted */
	uint64_t backlog;	/* listen() backlog (capped by somaxconn) */
	uint32_t full;		/* sockets whose queue exceeded their backlog */
};

struct tstp_remote_slot;

/* Everything tcpstap states reports, aggregated from tstp_sock records. */
struct tstp_states {
	uint64_t count[TSTP_NFAM][TSTP_TCP_NSTATES];
	uint64_t total[TSTP_NFAM];
	uint64_t rx_queue[TSTP_NFAM];	/* non-listening sockets, bytes */
	uint64_t tx_queue[TSTP_NFAM];
	uint64_t unknown_state;		/* state numbers the kernel should not send */

	struct tstp_listener *listeners;
	size_t nlisteners, listeners_cap, max_listeners;
	uint64_t listeners_dropped;	/* listening sockets beyond max_listeners */

	struct tstp_remote_slot *slots;	/* open addressing, power of two */
	size_t nslots, nremotes, max_remotes;
	uint64_t remotes_dropped;	/* sockets whose address did not fit */
};

/* 0, or -1 out of memory. max_* bound the memory (see tcpstap-states(8)). */
int tstp_states_init(struct tstp_states *s, size_t max_listeners, size_t max_remotes);
/* 0, or -1 out of memory (the socket is then counted in the state only). */
int tstp_states_add(struct tstp_states *s, const struct tstp_sock *sk);
/* Adapter for tstp_nl_parse_buf: ctx is a struct tstp_states. */
int tstp_states_add_cb(void *ctx, const struct tstp_sock *sk);
void tstp_states_clear(struct tstp_states *s);	/* counts to zero, memory kept */
void tstp_states_free(struct tstp_states *s);
/* Counts of one state over both families. */
uint64_t tstp_states_state(const struct tstp_states *s, unsigned state);
uint64_t tstp_states_sockets(const struct tstp_states *s);

/* The n remote addresses with the most sockets, most first (ties: by address). */
size_t tstp_states_top_remotes(const struct tstp_states *s, struct tstp_remote *out, size_t n);
/* Listeners sorted by family, address, port. */
void tstp_states_sort_listeners(struct tstp_states *s);

/* What a dump did, for reports. */
struct tstp_dump_info {
	enum tstp_diag_req req;	/* the request that produced the counts */
	int fallback_err;	/* errno that made AUTO fall back, or 0 */
	uint64_t messages, bytes, datagrams, malformed, foreign, other, interrupted;
};

/*
 * Dumps every TCP socket of the caller's network namespace into s (cleared
 * first). Returns 0, or a positive errno with a message in err.
 * If raw_out is not NULL, every received datagram is also passed to it (for
 * recording dumps to replay).
 */
typedef int (*tstp_raw_cb)(void *ctx, const void *buf, size_t len);
int tstp_sockdiag_dump(struct tstp_states *s, enum tstp_diag_mode mode,
		       struct tstp_dump_info *info, char *err, size_t errlen,
		       tstp_raw_cb raw_out, void *raw_ctx);

/*
 * Replays a recorded dump (the datagrams as received, concatenated) into s:
 * the same parser without the kernel. Sequence numbers are not checked.
 * Returns 0, or -1 with a message in err.
 */
int tstp_sockdiag_replay(struct tstp_states *s, const void *buf, size_t len,
			 struct tstp_dump_info *info, char *err, size_t errlen);

/* TcpExt ListenOverflows and ListenDrops from the text of /proc/net/netstat. */
struct tstp_listen_mib {
	int valid;
	uint64_t overflows, drops;
};
void tstp_parse_netstat(const char *text, struct tstp_listen_mib *m);
/* Reads /proc/net/netstat (the caller's network namespace); m->valid 0 if it cannot. */
void tstp_read_netstat(struct tstp_listen_mib *m);

#endif /* TCPSTAP_SOCKDIAG_H */
