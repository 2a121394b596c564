// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The alert rules of `tcpstap watch` (see rules.h). State lives in libc
 * search trees (tsearch/tfind/tdelete/twalk) keyed by connection, remote
 * address, flow or listener, each bounded; time is the records' own.
 */
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstap/health.h"
#include "tcpstap/rules.h"

#define NS_PER_S 1000000000ull
#define ADDRS_MAX 65536u	/* remote addresses and flows kept for the rate rules */
#define FLOWS_MAX 65536u
#define LISTENERS_MAX 4096u
#define SCAN_EVERY_NS NS_PER_S	/* time-based rules: once a second of record time */

enum rule_id {
	R_CONN_FLOOD, R_RETRANS_CONN, R_RETRANS_HOST, R_CLOSE_WAIT, R_SYN_SENT, R_SYN_RECV,
	R_CONN_COUNT, R_CONN_COUNT_ADDR, R_SLOWLORIS, R_LISTEN_OVERFLOW,
};

const char *const tstp_rule_names[10] = {
	"conn-flood", "retrans-conn", "retrans-host", "close-wait", "syn-sent", "syn-recv",
	"conn-count", "conn-count-addr", "slowloris", "listen-overflow",
};

static const char *const hints[10] = {
	"a client opening connections without pooling, a retry storm, or a connection flood "
	"attack; consider per-client rate limits",
	"packet loss on this path: a congested link or switch, a faulty NIC or cable, or a "
	"receiver too slow to keep its window open",
	"a retransmission storm: network congestion (a switch dropping packets), link errors, "
	"or overloaded receivers; per-connection alerts show whether one peer dominates",
	"the application does not close sockets after the peer closed: a leak in its code "
	"(a missing close() on an EOF or error path)",
	"connects to a dead or filtered backend: wrong address, a firewall dropping SYNs, or "
	"the backend's listen queue overflowing",
	"handshakes that do not complete: clients that never send the final ACK (SYN flood, "
	"spoofed sources) or ACKs lost on the way",
	"too many connections: clients not closing (connection leak), missing pooling, or a "
	"flood; check file-descriptor and memory limits",
	"one client holds too many connections: an oversized client pool, a connection leak "
	"in that client, or an attack",
	"many long idle connections from one address: a slowloris-style attack holding server "
	"slots, or an oversized idle pool; consider per-client limits and idle timeouts",
	"the application does not accept() fast enough, or its listen() backlog (capped by "
	"net.core.somaxconn) is too small for its bursts",
};

/* ---- configuration ---- */

struct setting {
	const char *name;
	size_t offset;
	uint64_t max;
};

#define SET(name, field, max) { name, offsetof(struct tstp_rules_config, field), max }
static const struct setting settings[] = {
	SET("conn-rate", conn_rate, 100000000),
	SET("retrans-rate", retrans_rate, 100000000),
	SET("host-retrans-rate", host_retrans_rate, 100000000),
	SET("close-wait", close_wait_s, 100000000),
	SET("syn-sent", syn_sent_s, 100000000),
	SET("syn-recv", syn_recv_s, 100000000),
	SET("max-conns", max_conns, 100000000),
	SET("max-conns-per-addr", max_conns_per_addr, 100000000),
	SET("slowloris-count", slowloris_count, 100000000),
	SET("slowloris-age", slowloris_age_s, 100000000),
	SET("slowloris-bytes", slowloris_bytes, 1ull << 40),
	SET("listen-overflows", listen_overflows, 100000000),
	SET("repeat", repeat_s, 100000000),
	SET("table-max", table_max, 10000000),
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

const char *const tstp_rules_setting_names[NSETTINGS + 1] = {
	"conn-rate", "retrans-rate", "host-retrans-rate", "close-wait", "syn-sent", "syn-recv",
	"max-conns", "max-conns-per-addr", "slowloris-count", "slowloris-age",
	"slowloris-bytes", "listen-overflows", "repeat", "table-max", NULL,
};

void tstp_rules_config_defaults(struct tstp_rules_config *c)
{
	memset(c, 0, sizeof(*c));
	c->conn_rate = 100;
	c->retrans_rate = 100;
	c->host_retrans_rate = 1000;
	c->close_wait_s = 60;
	c->syn_sent_s = 10;
	c->syn_recv_s = 10;
	c->max_conns = 50000;
	c->max_conns_per_addr = 1000;
	c->slowloris_count = 100;
	c->slowloris_age_s = 30;
	c->slowloris_bytes = 100;
	c->listen_overflows = 1;
	c->repeat_s = 60;
	c->table_max = 1000000;
}

int tstp_rules_config_set(struct tstp_rules_config *c, const char *key, const char *value,
			  char *err, size_t err_size)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		const char *p = value;
		char *end;
		unsigned long long v;

		if (strcmp(key, settings[i].name) != 0)
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (*p == '-' || *p == '+' || end == p || *end || errno || v > settings[i].max) {
			snprintf(err, err_size, "%s: '%s' is not a number in [0, %llu]", key, value,
				 (unsigned long long)settings[i].max);
			return -1;
		}
		*(uint64_t *)((char *)c + settings[i].offset) = v;
		return 0;
	}
	snprintf(err, err_size, "unknown setting '%s'", key);
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int tstp_rules_config_parse(struct tstp_rules_config *c, const char *text, size_t len,
			    const char *name, char *err, size_t err_size)
{
	size_t pos = 0;
	unsigned lineno = 0;

	while (pos < len) {
		char line[512], msg[256], *eq, *key, *hash;
		size_t n = 0;

		lineno++;
		while (pos < len && text[pos] != '\n') {
			if (n + 1 >= sizeof(line)) {
				snprintf(err, err_size, "%s:%u: line too long", name, lineno);
				return -1;
			}
			line[n++] = text[pos++];
		}
		pos++;
		line[n] = '\0';
		if (memchr(line, '\0', n)) {
			snprintf(err, err_size, "%s:%u: NUL byte in a line", name, lineno);
			return -1;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		key = trim(line);
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			snprintf(err, err_size, "%s:%u: expected 'setting = value'", name, lineno);
			return -1;
		}
		*eq = '\0';
		if (tstp_rules_config_set(c, trim(key), trim(eq + 1), msg, sizeof(msg)) != 0) {
			snprintf(err, err_size, "%s:%u: %s", name, lineno, msg);
			return -1;
		}
	}
	return 0;
}

/* ---- state ---- */

struct conn_key {
	uint8_t family;
	uint8_t pad;
	uint16_t lport;
	uint16_t rport;
	uint16_t pad2;
	uint8_t laddr[16];
	uint8_t raddr[16];
};

struct addr_key {
	uint8_t family;
	uint8_t pad[3];
	uint8_t addr[16];
};

struct conn {
	struct conn_key key;
	uint8_t state;
	uint8_t since_load;
	uint8_t alerted;
	uint8_t passive;	/* accepted here: the remote address is a client */
	uint32_t snapshot;	/* the last snapshot that listed it */
	uint64_t since_ns;
	uint64_t bytes;
	uint64_t updated_ns;
};

struct addr_stat {
	struct addr_key key;
	uint64_t sec;		/* conn-flood: the second counted, and its count */
	uint64_t count;
	uint16_t lport;		/* the service port of its last connection */
	uint64_t last_flood_ns, last_count_ns, last_slow_ns;
	uint64_t n, n_slow, slow_min_age_ns, slow_max_bytes;	/* scratch counts of a scan */
	int alerted_flood, alerted_count, alerted_slow;
};

struct flow_stat {
	struct conn_key key;
	uint64_t sec, segs;
	uint64_t kinds[3];	/* timeout, fast, tlp */
	uint32_t rto_us, srtt_us;
	uint64_t last_alert_ns;
	int alerted;
};

struct listener {
	struct addr_key key;	/* family, local address */
	uint16_t lport;
	uint64_t last_alert_ns;
	int alerted;
};

struct tstp_rules {
	struct tstp_rules_config cfg;
	tstp_alert_fn fn;
	void *ctx;
	const struct tstp_clock *clock;	/* of the record being handled */
	void *conns, *addrs, *flows, *listeners;
	uint64_t nconns, naddrs, nflows, nlisteners;
	uint64_t now_ns, last_scan_ns;
	uint64_t total_last_alert_ns;
	int total_alerted;
	uint64_t host_prev_ts, host_prev_segs, host_prev_kinds[3], host_last_alert_ns;
	int host_have_prev, host_alerted;
	uint32_t snap_id;
	uint64_t snap_first_ns;
	struct tstp_rules_counts count;
};

static int cmp_conn(const void *a, const void *b) { return memcmp(a, b, sizeof(struct conn_key)); }
static int cmp_addr(const void *a, const void *b) { return memcmp(a, b, sizeof(struct addr_key)); }

static int cmp_listener(const void *a, const void *b)
{
	const struct listener *x = a, *y = b;
	int d = memcmp(&x->key, &y->key, sizeof(x->key));

	return d ? d : (int)x->lport - (int)y->lport;
}

/* Find or insert (zeroed, key set) an entry of size bytes; NULL when full or out of memory. */
static void *upsert(void **root, const void *key, size_t key_size, size_t size,
		    int (*cmp)(const void *, const void *), uint64_t *n, uint64_t max, int *created)
{
	void **found = tfind(key, root, cmp);
	void *e;

	*created = 0;
	if (found)
		return *found;
	if (*n >= max || !(e = calloc(1, size)))
		return NULL;
	memcpy(e, key, key_size);
	if (!tsearch(e, root, cmp)) {
		free(e);
		return NULL;
	}
	(*n)++;
	*created = 1;
	return e;
}

static void conn_key_of(struct conn_key *k, unsigned family, const uint8_t laddr[16], unsigned lport,
			const uint8_t raddr[16], unsigned rport)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)family;
	k->lport = (uint16_t)lport;
	k->rport = (uint16_t)rport;
	memcpy(k->laddr, laddr, 16);
	memcpy(k->raddr, raddr, 16);
}

static void addr_key_of(struct addr_key *k, unsigned family, const uint8_t addr[16])
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)family;
	memcpy(k->addr, addr, 16);
}

/* ---- alerts ---- */

static void alert_begin(struct tstp_alert *a, enum rule_id id, uint64_t ts)
{
	memset(a, 0, sizeof(*a));
	a->rule = tstp_rule_names[id];
	a->hint = hints[id];
	a->ts_ns = ts;
}

static void alert_num(struct tstp_alert *a, const char *key, uint64_t v)
{
	if (a->nfields >= TSTP_ALERT_FIELDS)
		return;
	a->field[a->nfields].key = key;
	a->field[a->nfields].num = v;
	a->nfields++;
}

static void alert_text(struct tstp_alert *a, const char *key, const char *s)
{
	if (a->nfields >= TSTP_ALERT_FIELDS)
		return;
	a->field[a->nfields].key = key;
	a->field[a->nfields].is_text = 1;
	snprintf(a->field[a->nfields].text, sizeof(a->field[0].text), "%s", s);
	a->nfields++;
}

static void alert_addr(struct tstp_alert *a, const char *key, unsigned family, const uint8_t addr[16],
		       int port, char *out, size_t out_size)
{
	struct tstp_buf b;

	tstp_buf_init(&b, out, out_size);
	tstp_buf_addr(&b, family, addr, port);
	alert_text(a, key, out);
}

static void alert_fire(struct tstp_rules *r, enum rule_id id, struct tstp_alert *a)
{
	r->count.alerts++;
	r->count.alerts_by_rule[id]++;
	r->fn(a, r->clock, r->ctx);
}

/* Is an alert for this key due: never given, or given >= repeat ago? */
static int due(const struct tstp_rules *r, int alerted, uint64_t last_ns, uint64_t ts)
{
	return !alerted || (r->cfg.repeat_s && ts >= last_ns + r->cfg.repeat_s * NS_PER_S);
}

/* ---- conn-flood ---- */

static void flood_close_second(struct tstp_rules *r, struct addr_stat *s)
{
	struct tstp_alert a;
	char addr[TSTP_ADDR_MAX];
	uint64_t ts = (s->sec + 1) * NS_PER_S;

	if (!r->cfg.conn_rate || s->count <= r->cfg.conn_rate || !due(r, s->alerted_flood, s->last_flood_ns, ts))
		return;
	alert_begin(&a, R_CONN_FLOOD, ts);
	alert_addr(&a, "raddr", s->key.family, s->key.addr, -1, addr, sizeof(addr));
	alert_num(&a, "connections", s->count);
	alert_num(&a, "seconds", 1);
	alert_num(&a, "limit", r->cfg.conn_rate);
	alert_num(&a, "lport", s->lport);
	snprintf(a.message, sizeof(a.message),
		 "%s opened %llu new connections in one second (limit %llu), last to port %u",
		 addr, (unsigned long long)s->count, (unsigned long long)r->cfg.conn_rate, s->lport);
	s->alerted_flood = 1;
	s->last_flood_ns = ts;
	alert_fire(r, R_CONN_FLOOD, &a);
}

static struct addr_stat *addr_stat_of(struct tstp_rules *r, unsigned family, const uint8_t addr[16])
{
	struct addr_key k;
	int created;

	addr_key_of(&k, family, addr);
	return upsert(&r->addrs, &k, sizeof(k), sizeof(struct addr_stat), cmp_addr,
		      &r->naddrs, ADDRS_MAX, &created);
}

static void on_connect(struct tstp_rules *r, const struct tstp_connect *c)
{
	struct addr_stat *s;
	uint64_t sec;

	/* Passive connections only: "from one remote address". */
	if (c->role != TSTP_ROLE_SERVER || !(s = addr_stat_of(r, c->family, c->raddr)))
		return;
	sec = (c->t_syn ? c->t_syn : c->hdr.ts_ns) / NS_PER_S;
	if (sec > s->sec) {
		flood_close_second(r, s);
		s->sec = sec;
		s->count = 0;
	}
	/* A late record of an earlier second (another CPU's buffer) counts in the current one. */
	s->count++;
	s->lport = c->lport;
}

/* ---- retrans-conn, retrans-host ---- */

static void flow_close_second(struct tstp_rules *r, struct flow_stat *f)
{
	struct tstp_alert a;
	char src[TSTP_ADDR_MAX], dst[TSTP_ADDR_MAX];
	uint64_t ts = (f->sec + 1) * NS_PER_S;

	if (!r->cfg.retrans_rate || f->segs <= r->cfg.retrans_rate || !due(r, f->alerted, f->last_alert_ns, ts))
		return;
	alert_begin(&a, R_RETRANS_CONN, ts);
	alert_addr(&a, "local", f->key.family, f->key.laddr, f->key.lport, src, sizeof(src));
	alert_addr(&a, "remote", f->key.family, f->key.raddr, f->key.rport, dst, sizeof(dst));
	alert_num(&a, "segments", f->segs);
	alert_num(&a, "seconds", 1);
	alert_num(&a, "limit", r->cfg.retrans_rate);
	alert_num(&a, "timeout", f->kinds[0]);
	alert_num(&a, "fast", f->kinds[1]);
	alert_num(&a, "tlp", f->kinds[2]);
	alert_num(&a, "rto_us", f->rto_us);
	alert_num(&a, "srtt_us", f->srtt_us);
	snprintf(a.message, sizeof(a.message),
		 "%s => %s retransmitted %llu segments in one second (limit %llu): %llu on timeout, "
		 "%llu fast, %llu loss probes; rto %u ms, srtt %u us",
		 src, dst, (unsigned long long)f->segs, (unsigned long long)r->cfg.retrans_rate,
		 (unsigned long long)f->kinds[0], (unsigned long long)f->kinds[1],
		 (unsigned long long)f->kinds[2], f->rto_us / 1000, f->srtt_us);
	f->alerted = 1;
	f->last_alert_ns = ts;
	alert_fire(r, R_RETRANS_CONN, &a);
}

static void on_retrans(struct tstp_rules *r, const struct tstp_retrans *x)
{
	struct conn_key k;
	struct flow_stat *f;
	uint64_t sec = x->hdr.ts_ns / NS_PER_S;
	int created;

	if (!x->segs || x->kind < TSTP_RT_TIMEOUT || x->kind > TSTP_RT_TLP)
		return;
	conn_key_of(&k, x->family, x->laddr, x->lport, x->raddr, x->rport);
	f = upsert(&r->flows, &k, sizeof(k), sizeof(*f), cmp_conn, &r->nflows, FLOWS_MAX, &created);
	if (!f)
		return;
	if (sec > f->sec) {
		flow_close_second(r, f);
		f->sec = sec;
		f->segs = 0;
		memset(f->kinds, 0, sizeof(f->kinds));
	}
	f->segs += x->segs;
	f->kinds[x->kind - TSTP_RT_TIMEOUT] += x->segs;
	f->rto_us = x->rto_us;
	f->srtt_us = x->srtt_us;
}

static void on_retrans_totals(struct tstp_rules *r, const struct tstp_totals *t)
{
	uint64_t segs = t->value[TSTP_RC_SEGS], ts = t->hdr.ts_ns;
	uint64_t kinds[3] = { t->value[TSTP_RC_TIMEOUT], t->value[TSTP_RC_FAST], t->value[TSTP_RC_TLP] };

	if (tstp_totals_count(t) <= TSTP_RC_SEGS)
		return;
	if (r->host_have_prev && ts > r->host_prev_ts && segs >= r->host_prev_segs) {
		uint64_t d = segs - r->host_prev_segs, span = ts - r->host_prev_ts;
		uint64_t rate = d * NS_PER_S / span;

		if (r->cfg.host_retrans_rate && rate > r->cfg.host_retrans_rate &&
		    due(r, r->host_alerted, r->host_last_alert_ns, ts)) {
			struct tstp_alert a;

			alert_begin(&a, R_RETRANS_HOST, ts);
			alert_num(&a, "segments_per_s", rate);
			alert_num(&a, "segments", d);
			alert_num(&a, "interval_ms", span / 1000000);
			alert_num(&a, "limit", r->cfg.host_retrans_rate);
			alert_num(&a, "timeout", kinds[0] - r->host_prev_kinds[0]);
			alert_num(&a, "fast", kinds[1] - r->host_prev_kinds[1]);
			alert_num(&a, "tlp", kinds[2] - r->host_prev_kinds[2]);
			snprintf(a.message, sizeof(a.message),
				 "the host retransmitted %llu segments a second over %llu ms (limit %llu): "
				 "%llu timeouts, %llu fast retransmits, %llu loss probes",
				 (unsigned long long)rate, (unsigned long long)(span / 1000000),
				 (unsigned long long)r->cfg.host_retrans_rate,
				 (unsigned long long)(kinds[0] - r->host_prev_kinds[0]),
				 (unsigned long long)(kinds[1] - r->host_prev_kinds[1]),
				 (unsigned long long)(kinds[2] - r->host_prev_kinds[2]));
			r->host_alerted = 1;
			r->host_last_alert_ns = ts;
			alert_fire(r, R_RETRANS_HOST, &a);
		}
	}
	/* A producer restart (counters back to 0) starts over. */
	r->host_have_prev = 1;
	r->host_prev_ts = ts;
	r->host_prev_segs = segs;
	memcpy(r->host_prev_kinds, kinds, sizeof(kinds));
}

/* ---- the connection table: states ---- */

static struct conn *conn_of(struct tstp_rules *r, const struct tstp_state *s, int *created)
{
	struct conn_key k;
	struct conn *c;

	conn_key_of(&k, s->family, s->laddr, s->lport, s->raddr, s->rport);
	c = upsert(&r->conns, &k, sizeof(k), sizeof(*c), cmp_conn, &r->nconns, r->cfg.table_max, created);
	if (!c)
		r->count.conns_dropped++;
	return c;
}

static void conn_forget(struct tstp_rules *r, struct conn *c)
{
	if (tdelete(c, &r->conns, cmp_conn)) {
		r->nconns--;
		free(c);
	}
}

/*
 * Whether the remote end is a client of ours: the module says so when it saw
 * the handshake; for a connection older than that, the lower port is taken
 * as the service.
 */
static int is_passive(const struct tstp_state *s)
{
	if (s->flags & TSTP_SF_PASSIVE)
		return 1;
	return !(s->flags & TSTP_SF_ACTIVE) && s->lport < s->rport;
}

static void on_state(struct tstp_rules *r, const struct tstp_state *s)
{
	struct conn_key k;
	struct conn *c;
	void **found;
	int created;

	if (s->new_state == TSTP_TCP_CLOSE || s->new_state == TSTP_TCP_TIME_WAIT) {
		conn_key_of(&k, s->family, s->laddr, s->lport, s->raddr, s->rport);
		found = tfind(&k, &r->conns, cmp_conn);
		if (found)
			conn_forget(r, *found);
		return;
	}
	if (!(c = conn_of(r, s, &created)))
		return;
	c->state = s->new_state;
	c->since_ns = s->hdr.ts_ns;
	c->since_load = 0;
	c->alerted = 0;
	c->passive = (uint8_t)is_passive(s);
	c->bytes = s->bytes_sent + s->bytes_received;
	c->updated_ns = s->hdr.ts_ns;
}

static void on_snapshot(struct tstp_rules *r, const struct tstp_state *s)
{
	struct conn *c;
	int created;
	uint64_t since = s->hdr.ts_ns > s->in_state_ns ? s->hdr.ts_ns - s->in_state_ns : 0;

	if (s->snapshot != r->snap_id) {
		r->snap_id = s->snapshot;
		r->snap_first_ns = s->hdr.ts_ns;
	}
	if (!(c = conn_of(r, s, &created)))
		return;
	if (created || c->state != s->new_state) {
		c->state = s->new_state;
		c->alerted = 0;
	}
	c->since_ns = since;
	c->since_load = !!(s->flags & TSTP_SF_SINCE_LOAD);
	c->passive = (uint8_t)is_passive(s);
	c->bytes = s->bytes_sent + s->bytes_received;
	c->updated_ns = s->hdr.ts_ns;
	c->snapshot = s->snapshot;
}

/*
 * twalk() has no context argument: the walk in progress keeps its state
 * here. The engine is not used from several threads.
 */
static struct walk {
	struct tstp_rules *r;
	uint32_t snapshot;		/* slowloris: the snapshot being judged */
	uint64_t snap_first_ns;
	struct conn **stale;		/* connections to forget after the walk */
	size_t nstale, stale_cap;
} w;

static void walk_reset_addr(const void *node, VISIT v, int depth)
{
	struct addr_stat *s = *(struct addr_stat *const *)node;

	(void)depth;
	if (v == postorder || v == leaf)
		s->n = s->n_slow = s->slow_min_age_ns = s->slow_max_bytes = 0;
}

static uint64_t stuck_limit_s(const struct tstp_rules *r, unsigned state, enum rule_id *id)
{
	switch (state) {
	case TSTP_TCP_CLOSE_WAIT: *id = R_CLOSE_WAIT; return r->cfg.close_wait_s;
	case TSTP_TCP_SYN_SENT: *id = R_SYN_SENT; return r->cfg.syn_sent_s;
	case TSTP_TCP_SYN_RECV: *id = R_SYN_RECV; return r->cfg.syn_recv_s;
	default: return 0;
	}
}

static void stuck_alert(struct tstp_rules *r, struct conn *c, enum rule_id id, uint64_t limit_s)
{
	struct tstp_alert a;
	char src[TSTP_ADDR_MAX], dst[TSTP_ADDR_MAX];
	uint64_t dur = r->now_ns - c->since_ns;

	alert_begin(&a, id, r->now_ns);
	alert_addr(&a, "local", c->key.family, c->key.laddr, c->key.lport, src, sizeof(src));
	alert_addr(&a, "remote", c->key.family, c->key.raddr, c->key.rport, dst, sizeof(dst));
	alert_text(&a, "state", tstp_tcp_state_kname(c->state));
	alert_num(&a, "seconds", dur / NS_PER_S);
	alert_num(&a, "since_load", c->since_load);
	alert_num(&a, "limit", limit_s);
	snprintf(a.message, sizeof(a.message), "%s => %s in %s for %s%llu.%03llu s%s (limit %llu s)",
		 src, dst, tstp_tcp_state_kname(c->state), c->since_load ? "at least " : "",
		 (unsigned long long)(dur / NS_PER_S), (unsigned long long)(dur % NS_PER_S / 1000000),
		 c->since_load ? " (since load)" : "", (unsigned long long)limit_s);
	c->alerted = 1;
	alert_fire(r, id, &a);
}

static void walk_conns(const void *node, VISIT v, int depth)
{
	struct conn *c = *(struct conn *const *)node;
	struct tstp_rules *r = w.r;
	struct addr_stat *s;
	enum rule_id id;
	uint64_t limit;

	(void)depth;
	if (v != postorder && v != leaf)
		return;
	if (w.snapshot) {
		/* Judging a complete snapshot: what it did not list is gone. */
		if (c->snapshot != w.snapshot && c->updated_ns < w.snap_first_ns) {
			if (w.nstale == w.stale_cap) {
				size_t cap = w.stale_cap ? 2 * w.stale_cap : 256;
				struct conn **p = realloc(w.stale, cap * sizeof(*p));

				if (!p)
					return;
				w.stale = p;
				w.stale_cap = cap;
			}
			w.stale[w.nstale++] = c;
			return;
		}
		if (c->snapshot == w.snapshot && c->passive && c->state == TSTP_TCP_ESTABLISHED &&
		    r->now_ns - c->since_ns >= r->cfg.slowloris_age_s * NS_PER_S &&
		    c->bytes <= r->cfg.slowloris_bytes &&
		    (s = addr_stat_of(r, c->key.family, c->key.raddr)) != NULL) {
			uint64_t age = r->now_ns - c->since_ns;

			if (!s->n_slow || age < s->slow_min_age_ns)
				s->slow_min_age_ns = age;
			if (c->bytes > s->slow_max_bytes)
				s->slow_max_bytes = c->bytes;
			s->n_slow++;
		}
		return;
	}
	limit = stuck_limit_s(r, c->state, &id);
	if (limit && !c->alerted && r->now_ns >= c->since_ns + limit * NS_PER_S)
		stuck_alert(r, c, id, limit);
	if (c->passive && (s = addr_stat_of(r, c->key.family, c->key.raddr)) != NULL) {
		s->n++;
		s->lport = c->key.lport;
	}
}

static void walk_addrs(const void *node, VISIT v, int depth)
{
	struct addr_stat *s = *(struct addr_stat *const *)node;
	struct tstp_rules *r = w.r;
	struct tstp_alert a;
	char addr[TSTP_ADDR_MAX];

	(void)depth;
	if (v != postorder && v != leaf)
		return;
	if (w.snapshot) {
		if (!r->cfg.slowloris_count || s->n_slow < r->cfg.slowloris_count ||
		    !due(r, s->alerted_slow, s->last_slow_ns, r->now_ns))
			return;
		alert_begin(&a, R_SLOWLORIS, r->now_ns);
		alert_addr(&a, "raddr", s->key.family, s->key.addr, -1, addr, sizeof(addr));
		alert_num(&a, "connections", s->n_slow);
		alert_num(&a, "min_age_s", s->slow_min_age_ns / NS_PER_S);
		alert_num(&a, "max_bytes", s->slow_max_bytes);
		alert_num(&a, "limit", r->cfg.slowloris_count);
		snprintf(a.message, sizeof(a.message),
			 "%s holds %llu established connections older than %llu s that carried at "
			 "most %llu bytes each (limit %llu connections of >= %llu s, <= %llu bytes)",
			 addr, (unsigned long long)s->n_slow,
			 (unsigned long long)(s->slow_min_age_ns / NS_PER_S),
			 (unsigned long long)s->slow_max_bytes, (unsigned long long)r->cfg.slowloris_count,
			 (unsigned long long)r->cfg.slowloris_age_s, (unsigned long long)r->cfg.slowloris_bytes);
		s->alerted_slow = 1;
		s->last_slow_ns = r->now_ns;
		alert_fire(r, R_SLOWLORIS, &a);
		return;
	}
	/* The flood count of a second that is over. */
	if (s->count && (s->sec + 1) * NS_PER_S <= r->now_ns) {
		flood_close_second(r, s);
		s->count = 0;
	}
	if (!r->cfg.max_conns_per_addr || s->n <= r->cfg.max_conns_per_addr ||
	    !due(r, s->alerted_count, s->last_count_ns, r->now_ns))
		return;
	alert_begin(&a, R_CONN_COUNT_ADDR, r->now_ns);
	alert_addr(&a, "raddr", s->key.family, s->key.addr, -1, addr, sizeof(addr));
	alert_num(&a, "connections", s->n);
	alert_num(&a, "limit", r->cfg.max_conns_per_addr);
	snprintf(a.message, sizeof(a.message), "%s has %llu connections open (limit %llu), e.g. to port %u",
		 addr, (unsigned long long)s->n, (unsigned long long)r->cfg.max_conns_per_addr, s->lport);
	s->alerted_count = 1;
	s->last_count_ns = r->now_ns;
	alert_fire(r, R_CONN_COUNT_ADDR, &a);
}

static void walk_flows(const void *node, VISIT v, int depth)
{
	struct flow_stat *f = *(struct flow_stat *const *)node;

	(void)depth;
	if ((v == postorder || v == leaf) && f->segs && (f->sec + 1) * NS_PER_S <= w.r->now_ns) {
		flow_close_second(w.r, f);
		f->segs = 0;
	}
}

static void forget_stale(struct tstp_rules *r)
{
	for (size_t i = 0; i < w.nstale; i++)
		conn_forget(r, w.stale[i]);
	w.nstale = 0;
}

/* The time-based rules at r->now_ns. */
static void scan(struct tstp_rules *r)
{
	memset(&w, 0, offsetof(struct walk, stale));
	w.r = r;
	twalk(r->addrs, walk_reset_addr);
	twalk(r->conns, walk_conns);
	twalk(r->addrs, walk_addrs);
	twalk(r->flows, walk_flows);
	if (r->cfg.max_conns && r->nconns > r->cfg.max_conns &&
	    due(r, r->total_alerted, r->total_last_alert_ns, r->now_ns)) {
		struct tstp_alert a;

		alert_begin(&a, R_CONN_COUNT, r->now_ns);
		alert_num(&a, "connections", r->nconns);
		alert_num(&a, "limit", r->cfg.max_conns);
		snprintf(a.message, sizeof(a.message), "%llu connections open (limit %llu)",
			 (unsigned long long)r->nconns, (unsigned long long)r->cfg.max_conns);
		r->total_alerted = 1;
		r->total_last_alert_ns = r->now_ns;
		alert_fire(r, R_CONN_COUNT, &a);
	}
	r->last_scan_ns = r->now_ns;
}

static void on_snapshot_end(struct tstp_rules *r, const struct tstp_snapshot_end *e)
{
	if (e->snapshot != r->snap_id) {
		/* An empty snapshot: everything it did not list is gone. */
		r->snap_id = e->snapshot;
		r->snap_first_ns = e->hdr.ts_ns;
	}
	memset(&w, 0, offsetof(struct walk, stale));
	w.r = r;
	w.snapshot = e->snapshot;
	w.snap_first_ns = r->snap_first_ns;
	twalk(r->addrs, walk_reset_addr);
	twalk(r->conns, walk_conns);
	forget_stale(r);
	twalk(r->addrs, walk_addrs);
}

/* ---- listen-overflow ---- */

static void on_listen(struct tstp_rules *r, const struct tstp_listen *l)
{
	struct listener key, *e;
	struct tstp_alert a;
	char addr[TSTP_ADDR_MAX];
	int created;

	if (!r->cfg.listen_overflows || l->overflows < r->cfg.listen_overflows)
		return;
	memset(&key, 0, sizeof(key));
	addr_key_of(&key.key, l->family, l->laddr);
	key.lport = l->lport;
	e = upsert(&r->listeners, &key, sizeof(key), sizeof(key), cmp_listener, &r->nlisteners,
		   LISTENERS_MAX, &created);
	if (e && !due(r, e->alerted, e->last_alert_ns, l->hdr.ts_ns))
		return;
	alert_begin(&a, R_LISTEN_OVERFLOW, l->hdr.ts_ns);
	alert_addr(&a, "listener", l->family, l->laddr, l->lport, addr, sizeof(addr));
	alert_num(&a, "dropped", l->overflows);
	alert_num(&a, "dropped_total", l->overflows_total);
	alert_num(&a, "backlog", l->backlog);
	alert_num(&a, "max_backlog", l->max_backlog);
	alert_num(&a, "limit", r->cfg.listen_overflows);
	snprintf(a.message, sizeof(a.message),
		 "listener %s dropped %llu connections on a full accept queue (%u/%u), %llu since load",
		 addr, (unsigned long long)l->overflows, l->backlog, l->max_backlog,
		 (unsigned long long)l->overflows_total);
	if (e) {
		e->alerted = 1;
		e->last_alert_ns = l->hdr.ts_ns;
	}
	alert_fire(r, R_LISTEN_OVERFLOW, &a);
}

/* ---- the engine ---- */

struct tstp_rules *tstp_rules_new(const struct tstp_rules_config *c, tstp_alert_fn fn, void *ctx)
{
	struct tstp_rules *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cfg = *c;
	r->fn = fn;
	r->ctx = ctx;
	return r;
}

static void free_node(void *p) { free(p); }

void tstp_rules_free(struct tstp_rules *r)
{
	if (!r)
		return;
	tdestroy(r->conns, free_node);
	tdestroy(r->addrs, free_node);
	tdestroy(r->flows, free_node);
	tdestroy(r->listeners, free_node);
	free(w.stale);
	memset(&w, 0, sizeof(w));
	free(r);
}

void tstp_rules_record(struct tstp_rules *r, const union tstp_record *rec, const struct tstp_clock *clock)
{
	uint64_t ts = rec->hdr.ts_ns;

	r->clock = clock;
	if (ts > r->now_ns)
		r->now_ns = ts;
	switch (rec->hdr.type) {
	case TSTP_REC_CONNECT:	on_connect(r, &rec->connect); break;
	case TSTP_REC_LISTEN:	on_listen(r, &rec->listen); break;
	case TSTP_REC_RETRANS:	on_retrans(r, &rec->retrans); break;
	case TSTP_REC_STATE:	on_state(r, &rec->state); break;
	case TSTP_REC_SNAPSHOT:	on_snapshot(r, &rec->state); break;
	case TSTP_REC_SNAPSHOT_END: on_snapshot_end(r, &rec->snapshot_end); break;
	case TSTP_REC_TOTALS:
		if (rec->totals.producer == TSTP_PROD_RETRANS)
			on_retrans_totals(r, &rec->totals);
		break;
	default:
		/* Not a health record: time still moves on. */
		break;
	}
	if (tstp_health_is_event(rec->hdr.type) || rec->hdr.type == TSTP_REC_TOTALS)
		r->count.records_used++;
	if (r->now_ns >= r->last_scan_ns + SCAN_EVERY_NS)
		scan(r);
}

void tstp_rules_finish(struct tstp_rules *r, const struct tstp_clock *clock)
{
	r->clock = clock;
	/* Every open second is over. */
	r->now_ns += NS_PER_S;
	scan(r);
}

void tstp_rules_counts(const struct tstp_rules *r, struct tstp_rules_counts *out)
{
	*out = r->count;
	out->conns_tracked = r->nconns;
}

/* ---- output ---- */

void tstp_format_alert_text(struct tstp_buf *b, struct tstp_format_opts *o,
			    const struct tstp_clock *clock, const struct tstp_alert *a)
{
	tstp_buf_time(b, &o->cache, o->time_style, clock, a->ts_ns);
	tstp_buf_str(b, " ALERT ");
	tstp_buf_str(b, a->rule);
	tstp_buf_str(b, " | ");
	tstp_buf_str(b, a->message);
	tstp_buf_str(b, " | hint: ");
	tstp_buf_str(b, a->hint);
	tstp_buf_put(b, "\n", 1);
}

void tstp_format_alert_json(struct tstp_buf *b, struct tstp_format_opts *o,
			    const struct tstp_clock *clock, const struct tstp_alert *a)
{
	tstp_json_ts(b, o, clock, a->ts_ns);
	tstp_json_str(b, "type", "alert");
	tstp_json_str(b, "rule", a->rule);
	for (unsigned i = 0; i < a->nfields; i++) {
		if (a->field[i].is_text)
			tstp_json_str(b, a->field[i].key, a->field[i].text);
		else
			tstp_json_u64(b, a->field[i].key, a->field[i].num);
	}
	tstp_json_str(b, "message", a->message);
	tstp_json_str(b, "hint", a->hint);
	tstp_buf_put(b, "}\n", 2);
}
