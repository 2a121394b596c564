// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gen_capture: writes synthetic tcpstap captures, for the committed fixtures
 * (--fixture NAME: hand-written records whose values the tests assert) and
 * for benchmarks (-n N: N exchange records from a log-normal latency model,
 * with ANCHOR, HIST and STATS records around them). Test tool, not installed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstap/cli.h"
#include "tcpstap/record.h"

#define OUT_BUFFER (4u << 20)
#define NS_PER_US 1000ull
#define NS_PER_S 1000000000ull

/* Fixture clock: monotonic 1000 s is 2026-11-23 05:48:00 UTC. */
#define FIX_MONO (1000 * NS_PER_S)
#define FIX_REAL (1795412880ull * NS_PER_S)

struct writer {
	FILE *f;
	uint8_t *buf;
	size_t len;
	uint32_t seq;		/* last seq handed out */
	int failed;
};

static void flush_out(struct writer *w)
{
	if (w->len && fwrite(w->buf, 1, w->len, w->f) != w->len)
		w->failed = 1;
	w->len = 0;
}

static void put_bytes(struct writer *w, const void *p, size_t n)
{
	if (w->len + n > OUT_BUFFER)
		flush_out(w);
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void set_hdr(struct tstp_hdr *h, unsigned version, unsigned type, size_t length,
		    uint32_t seq, unsigned cpu, uint64_t ts)
{
	h->magic = TSTP_MAGIC;
	h->version = (uint8_t)version;
	h->type = (uint8_t)type;
	h->length = (uint16_t)length;
	h->seq = seq;
	h->cpu = (uint16_t)cpu;
	h->reserved = 0;
	h->ts_ns = ts;
}

/* Writes a record with the next seq (or an explicit one when seq != 0). */
static void put_record_version(struct writer *w, void *rec, unsigned version, unsigned type,
			       size_t len, uint32_t seq, unsigned cpu, uint64_t ts)
{
	w->seq = seq ? seq : w->seq + 1;
	set_hdr(rec, version, type, len, w->seq, cpu, ts);
	put_bytes(w, rec, len);
}

static void put_record(struct writer *w, void *rec, unsigned type, size_t len,
		       uint32_t seq, unsigned cpu, uint64_t ts)
{
	put_record_version(w, rec, TSTP_VERSION, type, len, seq, cpu, ts);
}

static void put_anchor(struct writer *w, uint32_t seq, uint64_t mono, uint64_t real,
		       uint32_t threshold_us)
{
	struct tstp_anchor a;

	memset(&a, 0, sizeof(a));
	a.realtime_ns = real;
	a.producer = TSTP_PROD_LATENCY;
	a.threshold_us = threshold_us;
	a.sample_ratio = 1;
	a.max_events = 0;
	put_record(w, &a, TSTP_REC_ANCHOR, sizeof(a), seq, 0, mono);
}

static void set_addr(uint8_t out[16], int family, const char *text)
{
	memset(out, 0, 16);
	if (inet_pton(family == 10 ? AF_INET6 : AF_INET, text, out) != 1) {
		fprintf(stderr, "gen_capture: bad address %s\n", text);
		exit(1);
	}
}

struct xspec {
	int role, family;
	const char *laddr, *raddr;
	unsigned lport, rport;
	uint64_t t[6];		/* rx_first rx_last read write tx_first tx_last */
	uint64_t req, resp;
	unsigned flags, retrans, srtt, pid;
	const char *comm;	/* copied with its padding, at most 16 bytes */
	size_t comm_len;
};

static void fill_exchange(struct tstp_exchange *x, const struct xspec *s)
{
	memset(x, 0, sizeof(*x));
	x->role = (uint8_t)s->role;
	x->family = (uint8_t)s->family;
	x->flags = (uint16_t)s->flags;
	x->lport = (uint16_t)s->lport;
	x->rport = (uint16_t)s->rport;
	set_addr(x->laddr, s->family, s->laddr);
	set_addr(x->raddr, s->family, s->raddr);
	x->req_seq = 1000001;
	x->resp_seq = 2000001;
	x->req_bytes = s->req;
	x->resp_bytes = s->resp;
	x->retrans = s->retrans;
	x->srtt_us = s->srtt;
	x->pid = s->pid;
	memcpy(x->comm, s->comm, s->comm_len);
	x->t_rx_first = s->t[0];
	x->t_rx_last = s->t[1];
	x->t_read = s->t[2];
	x->t_write = s->t[3];
	x->t_tx_first = s->t[4];
	x->t_tx_last = s->t[5];
}

static void put_exchange(struct writer *w, const struct xspec *s, uint32_t seq, unsigned cpu)
{
	struct tstp_exchange x;
	uint64_t last = 0;

	fill_exchange(&x, s);
	for (int i = 0; i < 6; i++)
		if (s->t[i] > last)
			last = s->t[i];
	put_record(w, &x, TSTP_REC_EXCHANGE, sizeof(x), seq, cpu, last + 1000);
}

/* The exchanges of the clean fixture; the tests assert these exact values. */
static struct xspec fixture_exchange(int which)
{
	uint64_t t0;
	struct xspec s;

	switch (which) {
	case 0:	/* the tcpkit-style example line of the man page */
		t0 = FIX_MONO + 1123456789;
		s = (struct xspec){ TSTP_ROLE_SERVER, 2, "10.0.0.2", "10.0.0.1", 6379, 51137,
			{ t0, t0, t0 + 10000, t0 + 50260000, t0 + 50312000, t0 + 50312000 },
			31, 5, 0, 0, 120, 4242, "redis-server", 12 };
		break;
	case 1:	/* IPv6 server, sub-microsecond stages, pipelined + retrans */
		t0 = FIX_MONO + 2500000000ull;
		s = (struct xspec){ TSTP_ROLE_SERVER, 10, "2001:db8::2", "2001:db8::1", 443, 40000,
			{ t0, t0 + 1499, t0 + 21999, t0 + 1021999, t0 + 1051999, t0 + 1172000 },
			517, 16384, TSTP_XF_PIPELINED | TSTP_XF_RETRANS, 2, 250, 77,
			"nginx           ", 16 };
		break;
	case 2:	/* IPv4 client, all four stages */
		t0 = FIX_MONO + 3 * NS_PER_S;
		s = (struct xspec){ TSTP_ROLE_CLIENT, 2, "10.0.0.5", "10.0.0.9", 33000, 5432,
			{ t0 + 1200000, t0 + 1300000, t0 + 1350000, t0, t0 + 20000, t0 + 25000 },
			64, 2048, 0, 0, 300, 999, "psql", 4 };
		break;
	case 3:	/* IPv6 client closed mid-response: no rx_last, no read */
		t0 = FIX_MONO + 4 * NS_PER_S;
		s = (struct xspec){ TSTP_ROLE_CLIENT, 10, "2001:db8::5", "2001:db8::9", 50000, 8080,
			{ t0 + 500000, 0, 0, t0, t0 + 15000, t0 + 15000 },
			100, 0, TSTP_XF_INCOMPLETE, 0, 0, 31337, "ab\"c\\d\001", 7 };
		break;
	case 4:	/* server whose read timestamp precedes rx_last: queue is negative */
		t0 = FIX_MONO + 5 * NS_PER_S;
		s = (struct xspec){ TSTP_ROLE_SERVER, 2, "10.0.0.2", "10.0.0.7", 11211, 40001,
			{ t0, t0 + 3000, t0 + 2000, t0 + 50000, t0 + 60000, t0 + 61000 },
			40, 1200, TSTP_XF_PREEXISTING, 0, 80, 0, "memcached", 9 };
		break;
	default: /* a second exchange on 10.0.0.2:6379, 2.5 ms */
		t0 = FIX_MONO + 6 * NS_PER_S;
		s = (struct xspec){ TSTP_ROLE_SERVER, 2, "10.0.0.2", "10.0.0.1", 6379, 51138,
			{ t0, t0 + 500, t0 + 1500, t0 + 2400000, t0 + 2450000, t0 + 2500000 },
			27, 1024, 0, 0, 110, 4242, "redis-server", 12 };
		break;
	}
	return s;
}

static void put_fixture_hist(struct writer *w)
{
	struct tstp_hist h;

	memset(&h, 0, sizeof(h));
	h.role = TSTP_ROLE_SERVER;
	h.family = 2;
	h.port = 6379;
	h.interval_ms = 1000;
	set_addr(h.addr, 2, "10.0.0.2");
	h.bucket[3] = 6;	/* 4-7 us */
	h.bucket[5] = 3;	/* 16-31 us */
	h.bucket[10] = 1;	/* 512-1023 us */
	h.count = 10;
	h.sum_us = 6 * 5 + 3 * 20 + 700;
	h.min_us = 4;
	h.max_us = 700;
	put_record(w, &h, TSTP_REC_HIST, sizeof(h), 0, 0, FIX_MONO + 5500000000ull);
}

static void put_fixture_stats(struct writer *w, uint64_t ts)
{
	struct tstp_stats st;

	memset(&st, 0, sizeof(st));
	st.probe_hits = 1000;
	st.probe_ns = 750000;
	st.exchanges = 16;
	st.emitted = 6;
	st.below_threshold = 10;
	st.closed = 3;
	st.sockets = 4;
	st.armed = 1;
	put_record(w, &st, TSTP_REC_STATS, sizeof(st), 0, 0, ts);
}

/* 37 bytes: a partial magic, a magic with version 0, a magic with a bad length. */
static const uint8_t fixture_garbage[37] = {
	0x00, 0x01, 'g', 'a', 'r', 'b', 'T', 'S', 'T',
	'T', 'S', 'T', 'P', 0x00, 0x02, 0xa8, 0x00,
	'x', 'y', 'z', 'T', 'S', 'T', 'P', 0x01, 0x02, 0x07, 0x00,
	'T', '1', '2', '3', '4', '5', '6', '7', '8',
};

static void put_fixture_exchange(struct writer *w, int which, unsigned cpu)
{
	struct xspec s = fixture_exchange(which);

	put_exchange(w, &s, 0, cpu);
}

/* The clean capture: 10 records, seq 1..10; garbage optionally after seq 3. */
static void put_clean(struct writer *w, int with_garbage)
{
	struct tstp_selftest self;

	put_anchor(w, 0, FIX_MONO, FIX_REAL, 1000);
	put_fixture_exchange(w, 0, 1);
	put_fixture_exchange(w, 1, 0);
	if (with_garbage)
		put_bytes(w, fixture_garbage, sizeof(fixture_garbage));
	put_fixture_exchange(w, 2, 1);
	put_fixture_exchange(w, 3, 1);
	put_fixture_exchange(w, 4, 0);
	put_fixture_hist(w);
	memset(&self, 0, sizeof(self));
	self.lport = 6379;
	self.rport = 51137;
	self.len = 31;
	put_record(w, &self, TSTP_REC_SELFTEST, sizeof(self), 0, 1, FIX_MONO + 5600000000ull);
	put_fixture_exchange(w, 5, 1);
	put_fixture_stats(w, FIX_MONO + 7 * NS_PER_S);
}

/* Two producer runs: run 1 misses seq 6 and 9 (4 and 5 swapped), run 2 misses seq 4. */
static void put_seqgap(struct writer *w)
{
	static const uint32_t run1[] = { 2, 3, 5, 4, 7, 8, 10 };
	static const uint32_t run2[] = { 2, 3, 5 };
	struct xspec s = fixture_exchange(0);

	put_anchor(w, 1, FIX_MONO, FIX_REAL, 1000);
	for (size_t i = 0; i < sizeof(run1) / sizeof(run1[0]); i++)
		put_exchange(w, &s, run1[i], (unsigned)i % 2);
	put_anchor(w, 1, FIX_MONO + 60 * NS_PER_S, FIX_REAL + 60 * NS_PER_S, 1000);
	for (size_t i = 0; i < sizeof(run2) / sizeof(run2[0]); i++)
		put_exchange(w, &s, run2[i], 0);
}

/* Unknown types 9 (40 bytes) and 31 (the 4096-byte maximum), then a version-2 exchange. */
static void put_unknown(struct writer *w)
{
	static uint8_t rec[TSTP_MAX_RECORD];
	struct xspec s = fixture_exchange(0);
	struct tstp_exchange x;

	put_anchor(w, 0, FIX_MONO, FIX_REAL, 1000);
	put_exchange(w, &s, 0, 0);
	memset(rec, 0xab, sizeof(rec));
	put_record(w, rec, 9, 40, 0, 0, FIX_MONO + 10);
	memset(rec, 0xcd, sizeof(rec));
	put_record(w, rec, 31, TSTP_MAX_RECORD, 0, 0, FIX_MONO + 20);
	/* A newer producer appended a field: the decoder must read the known prefix. */
	fill_exchange(&x, &s);
	memcpy(rec, &x, sizeof(x));
	memset(rec + sizeof(x), 0xee, 8);
	put_record_version(w, rec, TSTP_VERSION + 1, TSTP_REC_EXCHANGE, sizeof(x) + 8, 0, 1,
			   FIX_MONO + 2 * NS_PER_S);
	s = fixture_exchange(2);
	put_exchange(w, &s, 0, 1);
}

static int write_fixture(struct writer *w, const char *name)
{
	if (strcmp(name, "clean") == 0) {
		put_clean(w, 0);
	} else if (strcmp(name, "garbage") == 0) {
		put_clean(w, 1);
	} else if (strcmp(name, "truncated") == 0) {
		put_clean(w, 0);
		w->len -= 50;	/* cut the last record (STATS, 112 bytes) to 62 */
	} else if (strcmp(name, "seqgap") == 0) {
		put_seqgap(w);
	} else if (strcmp(name, "unknown") == 0) {
		put_unknown(w);
	} else {
		fprintf(stderr, "gen_capture: unknown fixture '%s'\n", name);
		return -1;
	}
	return 0;
}

/* Benchmark model. */
struct gen_opts {
	uint64_t records;
	uint64_t endpoints;
	uint64_t seed;
	double median_us;
	double sigma;
	uint64_t client_pct;
	uint64_t ipv6_pct;
	uint64_t threshold_us;
	uint64_t interval;	/* exchanges between HIST/STATS/ANCHOR batches */
	const char *fixture;
	const char *out;
};

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	/* splitmix64: fast, and good enough for a latency model. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(void)
{
	return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

/* Approximately standard normal: Irwin-Hall with 4 terms, no trig or log. */
static double rng_normal(void)
{
	return (rng_unit() + rng_unit() + rng_unit() + rng_unit() - 2.0) * 1.7320508075688772;
}

struct model_endpoint {
	struct xspec spec;
	char laddr[48], raddr[48];
	struct tstp_hist hist;	/* below-threshold exchanges of this interval */
};

static void model_endpoint_init(struct model_endpoint *m, uint64_t i, const struct gen_opts *o)
{
	int v6 = (i * 37 % 100) < o->ipv6_pct;
	int client = (i * 53 % 100) < o->client_pct;
	unsigned hi = (unsigned)(i / 250), lo = (unsigned)(i % 250 + 1);

	memset(m, 0, sizeof(*m));
	m->spec.family = v6 ? 10 : 2;
	m->spec.role = client ? TSTP_ROLE_CLIENT : TSTP_ROLE_SERVER;
	if (v6) {
		snprintf(m->laddr, sizeof(m->laddr), "2001:db8:%x::%x", hi, lo);
		snprintf(m->raddr, sizeof(m->raddr), "2001:db8:ffff::%x", lo);
	} else {
		snprintf(m->laddr, sizeof(m->laddr), "10.0.%u.%u", hi, lo);
		snprintf(m->raddr, sizeof(m->raddr), "10.1.%u.%u", hi, lo);
	}
	m->spec.laddr = m->laddr;
	m->spec.raddr = m->raddr;
	m->spec.lport = client ? 40000 + (unsigned)(i % 20000) : 6379 + (unsigned)(i % 1000);
	m->spec.rport = client ? 5432 + (unsigned)(i % 1000) : 50000 + (unsigned)(i % 10000);
	m->spec.comm = client ? "client" : "server";
	m->spec.comm_len = 6;
	m->spec.pid = 1000 + (unsigned)i;
	m->hist.role = (uint8_t)m->spec.role;
	m->hist.family = (uint8_t)m->spec.family;
	m->hist.port = (uint16_t)(client ? m->spec.rport : m->spec.lport);
	set_addr(m->hist.addr, m->spec.family, client ? m->raddr : m->laddr);
}

static unsigned log2_bucket(uint64_t us)
{
	unsigned i = us ? 64 - (unsigned)__builtin_clzll(us) : 0;

	return i < TSTP_HIST_BUCKETS ? i : TSTP_HIST_BUCKETS - 1;
}

static void flush_interval(struct writer *w, struct model_endpoint *eps, uint64_t n,
			   struct tstp_stats *st, uint64_t now, uint32_t interval_ms)
{
	for (uint64_t i = 0; i < n; i++) {
		struct tstp_hist *h = &eps[i].hist;

		if (!h->count)
			continue;
		h->interval_ms = interval_ms;
		put_record(w, h, TSTP_REC_HIST, sizeof(*h), 0, 0, now);
		memset(h->bucket, 0, sizeof(h->bucket));
		h->count = h->sum_us = h->min_us = h->max_us = 0;
	}
	st->sockets = n;
	put_record(w, st, TSTP_REC_STATS, sizeof(*st), 0, 0, now);
}

static int generate(struct writer *w, const struct gen_opts *o)
{
	struct model_endpoint *eps = calloc(o->endpoints, sizeof(*eps));
	struct tstp_stats st;
	uint64_t now = FIX_MONO, interval_start = FIX_MONO;
	struct tstp_exchange x;

	if (!eps)
		return -1;
	memset(&st, 0, sizeof(st));
	rng_state = o->seed;
	for (uint64_t i = 0; i < o->endpoints; i++)
		model_endpoint_init(&eps[i], i, o);
	put_anchor(w, 0, now, FIX_REAL, (uint32_t)o->threshold_us);
	for (uint64_t n = 0; n < o->records;) {
		struct model_endpoint *m = &eps[rng_next() % o->endpoints];
		double lat_ns = o->median_us * 1000.0 * exp(o->sigma * rng_normal());
		uint64_t total = lat_ns < 1000.0 ? 1000 : (uint64_t)lat_ns;

		now += 1000 + rng_next() % 20000;
		st.exchanges++;
		st.probe_hits += 6;
		st.probe_ns += 6 * (400 + rng_next() % 400);
		if (total < o->threshold_us * NS_PER_US) {
			struct tstp_hist *h = &m->hist;
			uint64_t us = total / NS_PER_US;

			if (!h->count || us < h->min_us)
				h->min_us = us;
			if (us > h->max_us)
				h->max_us = us;
			h->count++;
			h->sum_us += us;
			h->bucket[log2_bucket(us)]++;
			st.below_threshold++;
			continue;
		}
		/* Stage split: server mostly app time, client mostly waiting. */
		if (m->spec.role == TSTP_ROLE_SERVER) {
			m->spec.t[0] = now;
			m->spec.t[1] = now + total / 50;
			m->spec.t[2] = m->spec.t[1] + total / 20;
			m->spec.t[3] = m->spec.t[2] + total * 85 / 100;
			m->spec.t[4] = m->spec.t[3] + total / 20;
			m->spec.t[5] = now + total;
		} else {
			m->spec.t[3] = now;
			m->spec.t[4] = now + total / 50;
			m->spec.t[5] = m->spec.t[4];
			m->spec.t[0] = m->spec.t[5] + total * 90 / 100;
			m->spec.t[1] = m->spec.t[0] + total / 20;
			m->spec.t[2] = now + total;
		}
		m->spec.req = 20 + rng_next() % 200;
		m->spec.resp = 5 + rng_next() % 2000;
		fill_exchange(&x, &m->spec);
		put_record(w, &x, TSTP_REC_EXCHANGE, sizeof(x), 0, (unsigned)(n % 4), now + total + 1000);
		st.emitted++;
		n++;
		if (o->interval && n % o->interval == 0) {
			flush_interval(w, eps, o->endpoints, &st, now,
				       (uint32_t)((now - interval_start) / 1000000));
			interval_start = now;
		}
	}
	flush_interval(w, eps, o->endpoints, &st, now, (uint32_t)((now - interval_start) / 1000000));
	free(eps);
	return 0;
}

static void gen_usage(FILE *f)
{
	fprintf(f,
		"Usage: gen_capture [OPTIONS]\n"
		"Write a synthetic tcpstap capture (test tool).\n\n"
		"  --fixture NAME     a hand-written fixture: clean garbage truncated seqgap unknown\n"
		"  -n, --records N    exchange records to write (default 1000)\n"
		"  -e, --endpoints N  service endpoints (default 8)\n"
		"  -s, --seed N       random seed (default 1)\n"
		"  --median-us US     log-normal latency median (default 200)\n"
		"  --sigma S          log-normal sigma (default 1.0)\n"
		"  --client-pct P     share of client endpoints (default 30)\n"
		"  --ipv6-pct P       share of IPv6 endpoints (default 20)\n"
		"  --threshold-us US  below it exchanges only go to HIST records (default 0)\n"
		"  --interval N       HIST+STATS every N exchange records (default 100000)\n"
		"  -o, --output FILE  default stdout\n\n"
		"EXAMPLES:\n"
		"  gen_capture --fixture clean -o clean.tstp\n"
		"  gen_capture -n 10000000 -e 64 --threshold-us 100 -o big.tstp\n");
}

static int parse_gen_opts(int argc, char **argv, struct gen_opts *o)
{
	enum { OPT_FIXTURE = 256, OPT_MEDIAN, OPT_SIGMA, OPT_CLIENT, OPT_IPV6, OPT_THRESHOLD, OPT_INTERVAL };
	static const struct option longopts[] = {
		{ "fixture", required_argument, NULL, OPT_FIXTURE },
		{ "records", required_argument, NULL, 'n' },
		{ "endpoints", required_argument, NULL, 'e' },
		{ "seed", required_argument, NULL, 's' },
		{ "median-us", required_argument, NULL, OPT_MEDIAN },
		{ "sigma", required_argument, NULL, OPT_SIGMA },
		{ "client-pct", required_argument, NULL, OPT_CLIENT },
		{ "ipv6-pct", required_argument, NULL, OPT_IPV6 },
		{ "threshold-us", required_argument, NULL, OPT_THRESHOLD },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, bad = 0;

	*o = (struct gen_opts){ .records = 1000, .endpoints = 8, .seed = 1, .median_us = 200,
				.sigma = 1.0, .client_pct = 30, .ipv6_pct = 20, .interval = 100000 };
	while (!bad && (c = getopt_long(argc, argv, "n:e:s:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FIXTURE: o->fixture = optarg; break;
		case 'n': bad = tstp_parse_u64(optarg, 0, 1ull << 40, &o->records); break;
		case 'e': bad = tstp_parse_u64(optarg, 1, 62500, &o->endpoints); break;
		case 's': bad = tstp_parse_u64(optarg, 0, UINT64_MAX, &o->seed); break;
		case OPT_MEDIAN: bad = tstp_parse_double(optarg, 1, 1e9, &o->median_us); break;
		case OPT_SIGMA: bad = tstp_parse_double(optarg, 0, 10, &o->sigma); break;
		case OPT_CLIENT: bad = tstp_parse_u64(optarg, 0, 100, &o->client_pct); break;
		case OPT_IPV6: bad = tstp_parse_u64(optarg, 0, 100, &o->ipv6_pct); break;
		case OPT_THRESHOLD: bad = tstp_parse_u64(optarg, 0, 1u << 30, &o->threshold_us); break;
		case OPT_INTERVAL: bad = tstp_parse_u64(optarg, 0, 1ull << 40, &o->interval); break;
		case 'o': o->out = optarg; break;
		case 'h': gen_usage(stdout); return 1;
		default: bad = 1; break;
		}
		if (bad && c != '?')
			fprintf(stderr, "gen_capture: invalid value '%s'\n", optarg);
	}
	if (bad || optind != argc) {
		gen_usage(stderr);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	struct writer w = { 0 };
	int ret = parse_gen_opts(argc, argv, &o);

	if (ret)
		return ret == 1 ? 0 : 2;
	w.buf = malloc(OUT_BUFFER);
	w.f = o.out ? fopen(o.out, "wb") : stdout;
	if (!w.buf || !w.f) {
		fprintf(stderr, "gen_capture: %s: %s\n", o.out ? o.out : "<stdout>", strerror(errno));
		ret = 2;
		goto out;
	}
	ret = o.fixture ? write_fixture(&w, o.fixture) : generate(&w, &o);
	if (ret) {
		ret = 1;
		goto out;
	}
	flush_out(&w);
	if (w.failed || fflush(w.f) != 0) {
		fprintf(stderr, "gen_capture: %s: %s\n", o.out ? o.out : "<stdout>", strerror(errno));
		ret = 2;
	}
out:
	if (w.f && w.f != stdout && fclose(w.f) != 0 && ret == 0)
		ret = 2;
	free(w.buf);
	return ret;
}
