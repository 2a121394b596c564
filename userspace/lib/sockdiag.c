// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * TCP socket counts from a netlink inet_diag dump: parsing and aggregation
 * (pure), and the dump itself (the only I/O here). See tcpstap/sockdiag.h.
 *
 * Plain netlink, no libmnl: one request and one reply loop, with the wire
 * structures below defined here (with size checks) so that the code builds
 * against 2.6.32 headers too, which have no <linux/sock_diag.h>.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "tcpstap/sockdiag.h"

#define TSTP_NETLINK_INET_DIAG	4	/* == NETLINK_SOCK_DIAG */
#define TSTP_TCPDIAG_GETSOCK	18	/* 2.6.x request and reply type */
#define TSTP_SOCK_DIAG_BY_FAMILY 20	/* 3.3+ request and reply type */
#ifndef NLM_F_DUMP_INTR
#define NLM_F_DUMP_INTR 0x10
#endif
#define LINUX_AF_INET	2
#define LINUX_AF_INET6	10
#define TSTP_IPPROTO_TCP 6

/* Receive buffer: the kernel fills at most 32 KiB per dump datagram. */
#define RECV_BUF (64u * 1024)
/* A dump that stalls this long is an error, not a hang. */
#define RECV_TIMEOUT_S 10
/* Every state bit: the kernel ignores bits it does not know. */
#define ALL_STATES 0xffffffffu

struct diag_sockid {
	uint16_t sport, dport;	/* network order */
	uint32_t src[4], dst[4];
	uint32_t ifindex;
	uint32_t cookie[2];
};

/* struct inet_diag_msg, unchanged since 2.6.x. */
struct diag_msg {
	uint8_t family, state, timer, retrans;
	struct diag_sockid id;
	uint32_t expires, rqueue, wqueue, uid, inode;
};

/* struct inet_diag_req (TCPDIAG_GETSOCK), 2.6.32 and still accepted today. */
struct diag_req_legacy {
	uint8_t family, src_len, dst_len, ext;
	struct diag_sockid id;
	uint32_t states, dbs;
};

/* struct inet_diag_req_v2 (SOCK_DIAG_BY_FAMILY), 3.3+. */
struct diag_req_v2 {
	uint8_t family, protocol, ext, pad;
	uint32_t states;
	struct diag_sockid id;
};

_Static_assert(sizeof(struct diag_sockid) == 48, "inet_diag_sockid is 48 bytes");
_Static_assert(sizeof(struct diag_msg) == 72, "inet_diag_msg is 72 bytes");
_Static_assert(sizeof(struct diag_req_legacy) == 60, "inet_diag_req is 60 bytes");
_Static_assert(sizeof(struct diag_req_v2) == 56, "inet_diag_req_v2 is 56 bytes");

static const char *const state_names[TSTP_TCP_NSTATES] = {
	[TSTP_TCP_ESTABLISHED] = "established",
	[TSTP_TCP_SYN_SENT] = "syn_sent",
	[TSTP_TCP_SYN_RECV] = "syn_recv",
	[TSTP_TCP_FIN_WAIT1] = "fin_wait1",
	[TSTP_TCP_FIN_WAIT2] = "fin_wait2",
	[TSTP_TCP_TIME_WAIT] = "time_wait",
	[TSTP_TCP_CLOSE] = "close",
	[TSTP_TCP_CLOSE_WAIT] = "close_wait",
	[TSTP_TCP_LAST_ACK] = "last_ack",
	[TSTP_TCP_LISTEN] = "listen",
	[TSTP_TCP_CLOSING] = "closing",
};

static const char *const ss_names[TSTP_TCP_NSTATES] = {
	[TSTP_TCP_ESTABLISHED] = "ESTAB",
	[TSTP_TCP_SYN_SENT] = "SYN-SENT",
	[TSTP_TCP_SYN_RECV] = "SYN-RECV",
	[TSTP_TCP_FIN_WAIT1] = "FIN-WAIT-1",
	[TSTP_TCP_FIN_WAIT2] = "FIN-WAIT-2",
	[TSTP_TCP_TIME_WAIT] = "TIME-WAIT",
	[TSTP_TCP_CLOSE] = "CLOSE",
	[TSTP_TCP_CLOSE_WAIT] = "CLOSE-WAIT",
	[TSTP_TCP_LAST_ACK] = "LAST-ACK",
	[TSTP_TCP_LISTEN] = "LISTEN",
	[TSTP_TCP_CLOSING] = "CLOSING",
};

const char *tstp_tcp_state_name(unsigned state)
{
	return state < TSTP_TCP_NSTATES && state_names[state] ? state_names[state] : "unknown";
}

const char *tstp_tcp_state_ss_name(unsigned state)
{
	return state < TSTP_TCP_NSTATES && ss_names[state] ? ss_names[state] : "UNKNOWN";
}

const char *tstp_diag_req_name(enum tstp_diag_req r)
{
	return r == TSTP_DIAG_V2 ? "sock_diag_v2" : "inet_diag_legacy";
}

int tstp_diag_should_fall_back(enum tstp_diag_mode mode, int err)
{
	if (mode != TSTP_DIAG_AUTO)
		return 0;
	switch (err) {
	case EINVAL:		/* 2.6.32: request shorter than struct inet_diag_req */
	case ENOENT:		/* no sock_diag handler for the family */
	case EAFNOSUPPORT:	/* early 3.3: v2 dumps not supported yet */
	case EOPNOTSUPP:
	case EPROTONOSUPPORT:	/* socket(): no NETLINK_SOCK_DIAG under that name */
		return 1;
	default:
		return 0;	/* EPERM, ENOMEM, ENOBUFS, ...: a real failure */
	}
}

/* ---- parsing ---- */

void tstp_nl_parse_init(struct tstp_nl_parse *p, uint32_t seq)
{
	memset(p, 0, sizeof(*p));
	p->seq = seq;
}

static int parse_diag_msg(struct tstp_nl_parse *p, const uint8_t *data, size_t len,
			  tstp_sock_cb cb, void *ctx)
{
	struct diag_msg m;
	struct tstp_sock sk;

	if (len < sizeof(m)) {
		p->malformed++;
		return 0;
	}
	memcpy(&m, data, sizeof(m));
	if (m.family != LINUX_AF_INET && m.family != LINUX_AF_INET6) {
		p->malformed++;
		return 0;
	}
	memset(&sk, 0, sizeof(sk));
	sk.family = m.family;
	sk.state = m.state;
	sk.lport = (uint16_t)(((const uint8_t *)&m.id.sport)[0] << 8 | ((const uint8_t *)&m.id.sport)[1]);
	sk.rport = (uint16_t)(((const uint8_t *)&m.id.dport)[0] << 8 | ((const uint8_t *)&m.id.dport)[1]);
	memcpy(sk.laddr, m.id.src, m.family == LINUX_AF_INET ? 4 : 16);
	memcpy(sk.raddr, m.id.dst, m.family == LINUX_AF_INET ? 4 : 16);
	sk.rqueue = m.rqueue;
	sk.wqueue = m.wqueue;
	p->messages++;
	return cb ? cb(ctx, &sk) : 0;
}

/* The error of NLMSG_ERROR, or of NLMSG_DONE when it carries one (newer kernels). */
static int msg_error(const uint8_t *data, size_t len)
{
	int32_t e;

	if (len < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	return e < 0 ? -e : 0;
}

int tstp_nl_parse_buf(struct tstp_nl_parse *p, const void *buf, size_t len,
		      tstp_sock_cb cb, void *ctx)
{
	const uint8_t *b = buf;
	size_t off = 0;

	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		size_t mlen, step;
		const uint8_t *data;
		int ret;

		memcpy(&h, b + off, sizeof(h));
		mlen = h.nlmsg_len;
		if (mlen < sizeof(h) || mlen > len - off) {
			p->malformed++;
			return 0;
		}
		step = NLMSG_ALIGN(mlen);
		data = b + off + NLMSG_HDRLEN;
		off += step > len - off ? len - off : step;
		if (p->seq && h.nlmsg_seq != p->seq) {
			p->foreign++;
			continue;
		}
		if (h.nlmsg_flags & NLM_F_DUMP_INTR)
			p->interrupted++;
		p->ends_done = h.nlmsg_type == NLMSG_DONE;
		switch (h.nlmsg_type) {
		case NLMSG_DONE:
			p->done = 1;
			if (!p->error)
				p->error = msg_error(data, mlen - NLMSG_HDRLEN);
			break;
		case NLMSG_ERROR:
			/* An ACK (error 0) is not expected for a dump; any error ends it. */
			p->error = msg_error(data, mlen - NLMSG_HDRLEN);
			if (p->error)
				p->done = 1;
			break;
		case NLMSG_NOOP:
			break;
		case TSTP_SOCK_DIAG_BY_FAMILY:
		case TSTP_TCPDIAG_GETSOCK:
			ret = parse_diag_msg(p, data, mlen - NLMSG_HDRLEN, cb, ctx);
			if (ret)
				return ret;
			break;
		default:
			p->other++;
			break;
		}
	}
	if (off != len)
		p->malformed++;	/* trailing bytes shorter than a header */
	return 0;
}

/* ---- aggregation ---- */

struct tstp_remote_slot {
	uint8_t used;
	uint8_t family;
	uint8_t addr[16];
	uint64_t sockets;
};

#define INITIAL_SLOTS 1024

int tstp_states_init(struct tstp_states *s, size_t max_listeners, size_t max_remotes)
{
	memset(s, 0, sizeof(*s));
	s->max_listeners = max_listeners;
	s->max_remotes = max_remotes;
	if (max_remotes) {
		s->slots = calloc(INITIAL_SLOTS, sizeof(*s->slots));
		if (!s->slots)
			return -1;
		s->nslots = INITIAL_SLOTS;
	}
	return 0;
}

void tstp_states_clear(struct tstp_states *s)
{
	memset(s->count, 0, sizeof(s->count));
	memset(s->total, 0, sizeof(s->total));
	memset(s->rx_queue, 0, sizeof(s->rx_queue));
	memset(s->tx_queue, 0, sizeof(s->tx_queue));
	s->unknown_state = 0;
	s->nlisteners = 0;
	s->listeners_dropped = 0;
	if (s->slots)
		memset(s->slots, 0, s->nslots * sizeof(*s->slots));
	s->nremotes = 0;
	s->remotes_dropped = 0;
}

void tstp_states_free(struct tstp_states *s)
{
	free(s->listeners);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static size_t addr_len(uint8_t family)
{
	return family == LINUX_AF_INET ? 4 : 16;
}

/* FNV-1a over family and address. */
static uint64_t addr_hash(uint8_t family, const uint8_t *addr)
{
	uint64_t h = 1469598103934665603ull;

	h = (h ^ family) * 1099511628211ull;
	for (size_t i = 0; i < addr_len(family); i++)
		h = (h ^ addr[i]) * 1099511628211ull;
	return h;
}

static struct tstp_remote_slot *slot_find(struct tstp_remote_slot *slots, size_t nslots,
					  uint8_t family, const uint8_t *addr)
{
	size_t mask = nslots - 1, i = (size_t)addr_hash(family, addr) & mask;

	/* The table is kept at most half full: this ends at a free slot. */
	for (;;) {
		struct tstp_remote_slot *e = &slots[i];

		if (!e->used || (e->family == family && memcmp(e->addr, addr, addr_len(family)) == 0))
			return e;
		i = (i + 1) & mask;
	}
}

static int slots_grow(struct tstp_states *s)
{
	size_t n = s->nslots * 2;
	struct tstp_remote_slot *t = calloc(n, sizeof(*t));

	if (!t)
		return -1;
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].used)
			*slot_find(t, n, s->slots[i].family, s->slots[i].addr) = s->slots[i];
	free(s->slots);
	s->slots = t;
	s->nslots = n;
	return 0;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is counted as the IPv4 address. */
static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static int remote_add(struct tstp_states *s, uint8_t family, const uint8_t *addr)
{
	uint8_t key[16] = { 0 };
	struct tstp_remote_slot *e;

	if (family == LINUX_AF_INET6 && memcmp(addr, v4mapped_prefix, 12) == 0) {
		family = LINUX_AF_INET;
		memcpy(key, addr + 12, 4);
	} else {
		memcpy(key, addr, addr_len(family));
	}
	e = slot_find(s->slots, s->nslots, family, key);
	if (e->used) {
		e->sockets++;
		return 0;
	}
	if (s->nremotes >= s->max_remotes) {
		s->remotes_dropped++;
		return 0;
	}
	if ((s->nremotes + 1) * 2 > s->nslots) {
		if (slots_grow(s) != 0) {
			s->remotes_dropped++;
			return -1;
		}
		e = slot_find(s->slots, s->nslots, family, key);
	}
	e->used = 1;
	e->family = family;
	memcpy(e->addr, key, sizeof(key));
	e->sockets = 1;
	s->nremotes++;
	return 0;
}

static int listener_add(struct tstp_states *s, const struct tstp_sock *sk)
{
	struct tstp_listener *l = NULL;

	/* Linear: listeners are few (a server has tens, not thousands). */
	for (size_t i = 0; i < s->nlisteners; i++) {
		struct tstp_listener *c = &s->listeners[i];

		if (c->family == sk->family && c->port == sk->lport &&
		    memcmp(c->addr, sk->laddr, addr_len(sk->family)) == 0) {
			l = c;
			break;
		}
	}
	if (!l) {
		if (s->nlisteners >= s->max_listeners) {
			s->listeners_dropped++;
			return 0;
		}
		if (s->nlisteners == s->listeners_cap) {
			size_t cap = s->listeners_cap ? s->listeners_cap * 2 : 64;
			struct tstp_listener *t = realloc(s->listeners, cap * sizeof(*t));

			if (!t) {
				s->listeners_dropped++;
				return -1;
			}
			s->listeners = t;
			s->listeners_cap = cap;
		}
		l = &s->listeners[s->nlisteners++];
		memset(l, 0, sizeof(*l));
		l->family = sk->family;
		memcpy(l->addr, sk->laddr, sizeof(l->addr));
		l->port = sk->lport;
	}
	l->sockets++;
	l->queue += sk->rqueue;
	l->backlog += sk->wqueue;
	/* sk_acceptq_is_full(): the kernel drops when queue > backlog. */
	if (sk->rqueue > sk->wqueue)
		l->full++;
	return 0;
}

int tstp_states_add(struct tstp_states *s, const struct tstp_sock *sk)
{
	unsigned fam = sk->family == LINUX_AF_INET6 ? TSTP_FAM_IPV6 : TSTP_FAM_IPV4;
	unsigned state = sk->state == TSTP_TCP_NEW_SYN_RECV ? TSTP_TCP_SYN_RECV : sk->state;

	s->total[fam]++;
	if (state == 0 || state >= TSTP_TCP_NSTATES || state == TSTP_TCP_NEW_SYN_RECV) {
		s->unknown_state++;
		return 0;
	}
	s->count[fam][state]++;
	if (state == TSTP_TCP_LISTEN)
		return listener_add(s, sk);
	s->rx_queue[fam] += sk->rqueue;
	s->tx_queue[fam] += sk->wqueue;
	return s->max_remotes ? remote_add(s, sk->family, sk->raddr) : 0;
}

int tstp_states_add_cb(void *ctx, const struct tstp_sock *sk)
{
	/* Out of memory loses detail (counted), never the state counts: go on. */
	(void)tstp_states_add(ctx, sk);
	return 0;
}

uint64_t tstp_states_state(const struct tstp_states *s, unsigned state)
{
	return state < TSTP_TCP_NSTATES ? s->count[TSTP_FAM_IPV4][state] + s->count[TSTP_FAM_IPV6][state] : 0;
}

uint64_t tstp_states_sockets(const struct tstp_states *s)
{
	return s->total[TSTP_FAM_IPV4] + s->total[TSTP_FAM_IPV6];
}

static int addr_cmp(uint8_t fa, const uint8_t *a, uint8_t fb, const uint8_t *b)
{
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return memcmp(a, b, addr_len(fa));
}

static int remote_better(const struct tstp_remote *a, const struct tstp_remote_slot *b)
{
	if (a->sockets != b->sockets)
		return a->sockets > b->sockets;
	return addr_cmp(a->family, a->addr, b->family, b->addr) < 0;
}

size_t tstp_states_top_remotes(const struct tstp_states *s, struct tstp_remote *out, size_t n)
{
	size_t k = 0;

	if (!n || !s->slots)
		return 0;
	/* Insertion into a sorted array of n: n is small (top 10, at most thousands). */
	for (size_t i = 0; i < s->nslots; i++) {
		const struct tstp_remote_slot *e = &s->slots[i];
		size_t pos;

		if (!e->used)
			continue;
		if (k == n && remote_better(&out[k - 1], e))
			continue;
		pos = k < n ? k : n - 1;
		while (pos > 0 && !remote_better(&out[pos - 1], e)) {
			out[pos] = out[pos - 1];
			pos--;
		}
		out[pos].family = e->family;
		memcpy(out[pos].addr, e->addr, sizeof(out[pos].addr));
		out[pos].sockets = e->sockets;
		if (k < n)
			k++;
	}
	return k;
}

static int listener_cmp(const void *pa, const void *pb)
{
	const struct tstp_listener *a = pa, *b = pb;
	int c = addr_cmp(a->family, a->addr, b->family, b->addr);

	if (c)
		return c;
	return a->port < b->port ? -1 : a->port > b->port;
}

void tstp_states_sort_listeners(struct tstp_states *s)
{
	if (s->nlisteners > 1)
		qsort(s->listeners, s->nlisteners, sizeof(*s->listeners), listener_cmp);
}

/* ---- /proc/net/netstat ---- */

void tstp_parse_netstat(const char *text, struct tstp_listen_mib *m)
{
	/* Two lines per group: "TcpExt: Name1 Name2 ..." then "TcpExt: v1 v2 ...". */
	const char *names = strstr(text, "TcpExt:");
	const char *values;
	int have_o = 0, have_d = 0;

	memset(m, 0, sizeof(*m));
	if (!names)
		return;
	values = strchr(names, '\n');
	if (!values || strncmp(values + 1, "TcpExt:", 7) != 0)
		return;
	names += 7;
	values += 8;
	for (;;) {
		size_t nl, vl;
		char *end;
		unsigned long long v;

		while (*names == ' ')
			names++;
		while (*values == ' ')
			values++;
		nl = strcspn(names, " \n");
		vl = strcspn(values, " \n");
		if (!nl || !vl)
			break;
		errno = 0;
		v = strtoull(values, &end, 10);
		if (end != values + vl || errno)
			break;
		if (nl == 15 && strncmp(names, "ListenOverflows", 15) == 0) {
			m->overflows = v;
			have_o = 1;
		} else if (nl == 11 && strncmp(names, "ListenDrops", 11) == 0) {
			m->drops = v;
			have_d = 1;
		}
		names += nl;
		values += vl;
	}
	m->valid = have_o && have_d;
}

/* ---- I/O ---- */

void tstp_read_netstat(struct tstp_listen_mib *m)
{
	/* About 4 KiB today; a bounded read, not a whole-file slurp. */
	char text[64 * 1024];
	FILE *f = fopen("/proc/net/netstat", "re");
	size_t n;

	memset(m, 0, sizeof(*m));
	if (!f)
		return;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	tstp_parse_netstat(text, m);
}

static int set_err(char *err, size_t errlen, int e, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return e;
}

/* One request and its replies into s. Returns 0 or a positive errno. */
static int dump_one(int fd, enum tstp_diag_req req, uint8_t family, uint32_t seq,
		    struct tstp_states *s, struct tstp_dump_info *info, uint8_t *buf,
		    char *err, size_t errlen, tstp_raw_cb raw_out, void *raw_ctx)
{
	struct {
		struct nlmsghdr h;
		union {
			struct diag_req_v2 v2;
			struct diag_req_legacy legacy;
		} r;
	} msg;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct tstp_nl_parse p;
	size_t rlen = req == TSTP_DIAG_V2 ? sizeof(msg.r.v2) : sizeof(msg.r.legacy);

	memset(&msg, 0, sizeof(msg));
	msg.h.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + rlen);
	msg.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.h.nlmsg_seq = seq;
	if (req == TSTP_DIAG_V2) {
		msg.h.nlmsg_type = TSTP_SOCK_DIAG_BY_FAMILY;
		msg.r.v2.family = family;
		msg.r.v2.protocol = TSTP_IPPROTO_TCP;
		msg.r.v2.states = ALL_STATES;
	} else {
		/* One dump answers for both families (the family is not filtered on). */
		msg.h.nlmsg_type = TSTP_TCPDIAG_GETSOCK;
		msg.r.legacy.family = family;
		msg.r.legacy.states = ALL_STATES;
	}
	if (sendto(fd, &msg, msg.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return set_err(err, errlen, errno, "netlink send");
	tstp_nl_parse_init(&p, seq);
	while (!p.done) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = buf, .iov_len = RECV_BUF };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &mh, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return set_err(err, errlen, errno == EAGAIN ? ETIMEDOUT : errno, "netlink receive");
		if (mh.msg_flags & MSG_TRUNC)
			return set_err(err, errlen, EMSGSIZE, "netlink receive (datagram truncated)");
		if (n == 0)
			return set_err(err, errlen, EPROTO, "netlink receive (end of stream)");
		if (from.nl_pid != 0)
			continue;	/* not from the kernel */
		info->datagrams++;
		info->bytes += (uint64_t)n;
		if (raw_out && raw_out(raw_ctx, buf, (size_t)n) != 0)
			return set_err(err, errlen, EIO, "recording the dump");
		tstp_nl_parse_buf(&p, buf, (size_t)n, tstp_states_add_cb, s);
	}
	info->messages += p.messages;
	info->malformed += p.malformed;
	info->foreign += p.foreign;
	info->other += p.other;
	info->interrupted += p.interrupted;
	if (p.error)
		return set_err(err, errlen, p.error, req == TSTP_DIAG_V2 ?
			       "sock_diag request (SOCK_DIAG_BY_FAMILY)" :
			       "inet_diag request (TCPDIAG_GETSOCK)");
	return 0;
}

static int open_diag(char *err, size_t errlen)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, TSTP_NETLINK_INET_DIAG);
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };

	if (fd < 0) {
		set_err(err, errlen, errno, "netlink socket (NETLINK_INET_DIAG)");
		return -errno;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int tstp_sockdiag_dump(struct tstp_states *s, enum tstp_diag_mode mode,
		       struct tstp_dump_info *info, char *err, size_t errlen,
		       tstp_raw_cb raw_out, void *raw_ctx)
{
	static const uint8_t families[] = { LINUX_AF_INET, LINUX_AF_INET6 };
	uint8_t *buf = malloc(RECV_BUF);
	uint32_t seq = (uint32_t)getpid() << 8;
	int fd = -1, ret = 0;

	memset(info, 0, sizeof(*info));
	tstp_states_clear(s);
	if (!buf)
		return set_err(err, errlen, ENOMEM, "netlink buffer");
	fd = open_diag(err, errlen);
	if (fd < 0) {
		ret = -fd;
		goto out;
	}
	if (mode != TSTP_DIAG_ONLY_LEGACY) {
		info->req = TSTP_DIAG_V2;
		for (size_t i = 0; i < sizeof(families) && !ret; i++)
			ret = dump_one(fd, TSTP_DIAG_V2, families[i], ++seq, s, info, buf, err,
				       errlen, raw_out, raw_ctx);
		if (!ret || !tstp_diag_should_fall_back(mode, ret))
			goto out;
		/* Start over: the IPv4 dump may have succeeded before IPv6 failed. */
		info->fallback_err = ret;
		tstp_states_clear(s);
		if (raw_out)
			raw_out(raw_ctx, NULL, 0);	/* discard what was recorded */
		memset(info, 0, sizeof(*info));
		info->fallback_err = ret;
		/* A fresh socket: the kernel may still hold the failed dump's state. */
		close(fd);
		fd = open_diag(err, errlen);
		if (fd < 0) {
			ret = -fd;
			goto out;
		}
	}
	info->req = TSTP_DIAG_LEGACY;
	ret = dump_one(fd, TSTP_DIAG_LEGACY, LINUX_AF_INET, ++seq, s, info, buf, err, errlen,
		       raw_out, raw_ctx);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

int tstp_sockdiag_replay(struct tstp_states *s, const void *buf, size_t len,
			 struct tstp_dump_info *info, char *err, size_t errlen)
{
	struct tstp_nl_parse p;

	memset(info, 0, sizeof(*info));
	tstp_states_clear(s);
	tstp_nl_parse_init(&p, 0);	/* 0: any sequence number */
	tstp_nl_parse_buf(&p, buf, len, tstp_states_add_cb, s);
	info->req = TSTP_DIAG_V2;
	info->messages = p.messages;
	info->bytes = len;
	info->malformed = p.malformed;
	info->other = p.other;
	info->interrupted = p.interrupted;
	if (p.error) {
		snprintf(err, errlen, "recorded dump ends in an error: %s", strerror(p.error));
		return -1;
	}
	if (!p.ends_done || p.malformed) {
		snprintf(err, errlen, "recorded dump is damaged: %s, %llu malformed messages",
			 p.ends_done ? "complete" : "does not end in NLMSG_DONE",
			 (unsigned long long)p.malformed);
		return -1;
	}
	return 0;
}
