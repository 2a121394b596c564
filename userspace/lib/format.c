// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Text and JSON renderings of records. Numbers are formatted by hand: at
 * millions of lines per second snprintf would dominate the cost of `read`.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tcpstap/format.h"
#include "tcpstap/health.h"

#define NS_PER_S 1000000000ull

void tstp_buf_init(struct tstp_buf *b, char *data, size_t cap)
{
	b->data = data;
	b->len = 0;
	b->cap = cap;
	b->overflow = 0;
	if (cap > 0)
		data[0] = '\0';
}

void tstp_buf_put_slow(struct tstp_buf *b, const char *s, size_t n)
{
	/* One byte stays free for the terminating NUL. */
	if (b->len + n + 1 > b->cap) {
		b->overflow = 1;
		n = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	if (b->cap > 0)
		b->data[b->len] = '\0';
}

void tstp_buf_str(struct tstp_buf *b, const char *s)
{
	tstp_buf_put(b, s, strlen(s));
}

void tstp_buf_printf(struct tstp_buf *b, const char *fmt, ...)
{
	char tmp[TSTP_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(tmp)) {
		b->overflow = 1;
		n = sizeof(tmp) - 1;
	}
	tstp_buf_put(b, tmp, (size_t)n);
}

void tstp_buf_u64(struct tstp_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	tstp_buf_put(b, tmp + i, sizeof(tmp) - i);
}

void tstp_buf_milli(struct tstp_buf *b, uint64_t v)
{
	uint64_t frac = v % 1000;
	char tmp[4] = { '.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
			(char)('0' + frac % 10) };

	tstp_buf_u64(b, v / 1000);
	tstp_buf_put(b, tmp, sizeof(tmp));
}

void tstp_buf_ns_as_ms(struct tstp_buf *b, uint64_t ns)
{
	tstp_buf_milli(b, ns / 1000 + (ns % 1000 >= 500));
}

void tstp_buf_json_string(struct tstp_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	tstp_buf_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			tstp_buf_put(b, esc, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			/* Bytes >= 0x80 are escaped too: comm is not guaranteed UTF-8. */
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			tstp_buf_put(b, esc, sizeof(esc));
		} else {
			tstp_buf_put(b, (const char *)&c, 1);
		}
	}
	tstp_buf_put(b, "\"", 1);
}

const char *tstp_role_name(unsigned role)
{
	switch (role) {
	case TSTP_ROLE_SERVER:	return "server";
	case TSTP_ROLE_CLIENT:	return "client";
	default:		return "unknown";
	}
}

const char *tstp_producer_name(unsigned producer)
{
	switch (producer) {
	case TSTP_PROD_SELFTEST:	return "selftest";
	case TSTP_PROD_LATENCY:		return "latency";
	case TSTP_PROD_CONNECT:		return "connect";
	case TSTP_PROD_RETRANS:		return "retrans";
	case TSTP_PROD_STATES:		return "states";
	default:			return "unknown";
	}
}

const char *tstp_disarm_name(unsigned reason)
{
	switch (reason) {
	case TSTP_DISARM_NONE:		return "none";
	case TSTP_DISARM_HEARTBEAT:	return "heartbeat";
	case TSTP_DISARM_OVERHEAD:	return "overhead";
	default:			return "unknown";
	}
}

const char *tstp_trigger_name(unsigned reason)
{
	switch (reason) {
	case TSTP_TRIGGER_SLOW:		return "slow-exchange";
	case TSTP_TRIGGER_SIGNAL:	return "signal";
	case TSTP_TRIGGER_COMMAND:	return "command";
	default:			return "unknown";
	}
}

static struct tstp_stage make_stage(const char *name, const char *json_key,
				    uint64_t from, uint64_t to)
{
	struct tstp_stage s = { .name = name, .json_key = json_key, .state = TSTP_STAGE_OK };

	if (from == 0 || to == 0)
		s.state = TSTP_STAGE_MISSING;
	else if (to < from)
		s.state = TSTP_STAGE_NEGATIVE;
	else
		s.ns = to - from;
	return s;
}

static struct tstp_stage total_stage(const struct tstp_exchange *x)
{
	if (x->role == TSTP_ROLE_SERVER)
		return make_stage("total", "total_us", x->t_rx_first, x->t_tx_last);
	if (x->role == TSTP_ROLE_CLIENT)
		return make_stage("total", "total_us", x->t_write, x->t_read);
	return make_stage("total", "total_us", 0, 0);
}

int tstp_exchange_total_ns(const struct tstp_exchange *x, uint64_t *ns)
{
	struct tstp_stage total = total_stage(x);

	*ns = total.ns;
	return total.state == TSTP_STAGE_OK ? 0 : -1;
}

void tstp_exchange_view(const struct tstp_exchange *x, struct tstp_exchange_view *v)
{
	const uint64_t ts[] = { x->t_rx_first, x->t_rx_last, x->t_read,
				x->t_write, x->t_tx_first, x->t_tx_last };
	unsigned i;

	memset(v, 0, sizeof(*v));
	v->role = tstp_role_name(x->role);
	v->total = total_stage(x);
	if (x->role == TSTP_ROLE_SERVER) {
		v->stage[0] = make_stage("recv", "recv_us", x->t_rx_first, x->t_rx_last);
		v->stage[1] = make_stage("queue", "queue_us", x->t_rx_last, x->t_read);
		v->stage[2] = make_stage("app", "app_us", x->t_read, x->t_write);
		v->stage[3] = make_stage("send", "send_us", x->t_write, x->t_tx_first);
		v->stage[4] = make_stage("xmit", "xmit_us", x->t_tx_first, x->t_tx_last);
		v->nstages = 5;
	} else if (x->role == TSTP_ROLE_CLIENT) {
		v->stage[0] = make_stage("send", "send_us", x->t_write, x->t_tx_first);
		v->stage[1] = make_stage("wait", "wait_us", x->t_tx_last, x->t_rx_first);
		v->stage[2] = make_stage("recv", "recv_us", x->t_rx_first, x->t_rx_last);
		v->stage[3] = make_stage("read", "read_us", x->t_rx_last, x->t_read);
		v->nstages = 4;
	}
	for (i = 0; i < v->nstages; i++)
		v->negative |= v->stage[i].state == TSTP_STAGE_NEGATIVE;
	v->negative |= v->total.state == TSTP_STAGE_NEGATIVE;

	v->start_ns = 0;
	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
		if (ts[i] && (v->start_ns == 0 || ts[i] < v->start_ns))
			v->start_ns = ts[i];
	if (v->start_ns == 0)
		v->start_ns = x->hdr.ts_ns;
}

void tstp_buf_addr(struct tstp_buf *b, unsigned family, const uint8_t addr[16], int port)
{
	char text[INET6_ADDRSTRLEN];
	int af = family == 10 ? AF_INET6 : family == 2 ? AF_INET : -1;

	/* The wire says 2 and 10 (Linux values); map them so other hosts decode too. */
	if (af < 0 || !inet_ntop(af, addr, text, sizeof(text)))
		strcpy(text, "?");
	if (port < 0) {
		tstp_buf_str(b, text);
		return;
	}
	if (af == AF_INET6) {
		tstp_buf_put(b, "[", 1);
		tstp_buf_str(b, text);
		tstp_buf_put(b, "]", 1);
	} else {
		tstp_buf_str(b, text);
	}
	tstp_buf_put(b, ":", 1);
	tstp_buf_u64(b, (uint64_t)port);
}

static const char *const flag_names[] = {
	"pipelined", "incomplete", "evicted", "preexisting", "retrans",
};
#define NFLAG_NAMES (sizeof(flag_names) / sizeof(flag_names[0]))

/* Names of the set flags in bit order, then "negative" (derived by the decoder). */
static unsigned flag_list(unsigned flags, int negative, const char *out[], char *unknown, size_t usize)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NFLAG_NAMES; i++)
		if (flags & (1u << i))
			out[n++] = flag_names[i];
	if (flags >> NFLAG_NAMES) {
		/* Newer producers may add flags: show them rather than drop them. */
		snprintf(unknown, usize, "0x%x", flags & ~((1u << NFLAG_NAMES) - 1));
		out[n++] = unknown;
	}
	if (negative)
		out[n++] = "negative";
	return n;
}

void tstp_buf_flags(struct tstp_buf *b, unsigned flags, int negative)
{
	const char *names[NFLAG_NAMES + 2];
	char unknown[16];
	unsigned n = flag_list(flags, negative, names, unknown, sizeof(unknown));

	for (unsigned i = 0; i < n; i++) {
		if (i)
			tstp_buf_put(b, ",", 1);
		tstp_buf_str(b, names[i]);
	}
}

static void buf_pad(struct tstp_buf *b, uint64_t v, unsigned digits)
{
	char tmp[20];

	for (unsigned i = digits; i-- > 0; v /= 10)
		tmp[i] = (char)('0' + v % 10);
	tstp_buf_put(b, tmp, digits);
}

void tstp_buf_time(struct tstp_buf *b, struct tstp_time_cache *cache,
		   enum tstp_time_style style, const struct tstp_clock *clock, uint64_t ts_ns)
{
	int64_t real_ns, second, rem_ns;
	uint64_t usec;

	if (!clock->have_anchor) {
		tstp_buf_u64(b, ts_ns / NS_PER_S);
		tstp_buf_put(b, ".", 1);
		buf_pad(b, ts_ns % NS_PER_S / 1000, 6);
		return;
	}
	/* Wrapping unsigned sum: damaged input must not overflow a signed type. */
	real_ns = (int64_t)(clock->anchor_real_ns + (ts_ns - clock->anchor_mono_ns));
	second = real_ns / (int64_t)NS_PER_S;
	rem_ns = real_ns % (int64_t)NS_PER_S;
	if (rem_ns < 0) {
		/* Before 1970: floor the second, keep the fraction positive. */
		second--;
		rem_ns += (int64_t)NS_PER_S;
	}
	usec = (uint64_t)rem_ns / 1000;

	if (!cache->valid || cache->second != second || cache->style != style) {
		time_t t = (time_t)second;
		struct tm tm;
		struct tm *ok = style == TSTP_TIME_LOCAL ? localtime_r(&t, &tm) : gmtime_r(&t, &tm);

		if (!ok || !strftime(cache->text, sizeof(cache->text),
				     style == TSTP_TIME_ISO ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S",
				     &tm))
			snprintf(cache->text, sizeof(cache->text), "@%lld", (long long)second);
		cache->valid = 1;
		cache->second = second;
		cache->style = style;
	}
	tstp_buf_str(b, cache->text);
	tstp_buf_put(b, ".", 1);
	buf_pad(b, usec, 6);
	if (style == TSTP_TIME_ISO)
		tstp_buf_put(b, "Z", 1);
}

static void buf_stage_ms(struct tstp_buf *b, const struct tstp_stage *s)
{
	if (s->state == TSTP_STAGE_OK)
		tstp_buf_ns_as_ms(b, s->ns);
	else
		tstp_buf_put(b, "-", 1);
}

void tstp_format_exchange_text(struct tstp_buf *b, struct tstp_format_opts *o,
			       const struct tstp_clock *clock, const struct tstp_exchange *x)
{
	struct tstp_exchange_view v;
	int server = x->role == TSTP_ROLE_SERVER;

	tstp_exchange_view(x, &v);
	tstp_buf_time(b, &o->cache, o->time_style, clock, v.start_ns);
	tstp_buf_put(b, " ", 1);
	/* The arrow points at the service: a server's left side is its client. */
	tstp_buf_addr(b, x->family, server ? x->raddr : x->laddr, server ? x->rport : x->lport);
	tstp_buf_put(b, " => ", 4);
	tstp_buf_addr(b, x->family, server ? x->laddr : x->raddr, server ? x->lport : x->rport);
	tstp_buf_put(b, " | ", 3);
	tstp_buf_str(b, v.role);
	tstp_buf_put(b, " | ", 3);
	buf_stage_ms(b, &v.total);
	tstp_buf_put(b, " ms | ", 6);
	if (v.nstages == 0)
		tstp_buf_put(b, "-", 1);
	for (unsigned i = 0; i < v.nstages; i++) {
		if (i)
			tstp_buf_put(b, " ", 1);
		tstp_buf_str(b, v.stage[i].name);
		tstp_buf_put(b, " ", 1);
		buf_stage_ms(b, &v.stage[i]);
	}
	tstp_buf_put(b, " | ", 3);
	tstp_buf_u64(b, x->req_bytes);
	tstp_buf_put(b, " B / ", 5);
	tstp_buf_u64(b, x->resp_bytes);
	tstp_buf_put(b, " B", 2);
	if (x->flags || v.negative) {
		tstp_buf_put(b, " | ", 3);
		tstp_buf_flags(b, x->flags, v.negative);
	}
	tstp_buf_put(b, "\n", 1);
}

void tstp_json_key(struct tstp_buf *b, const char *key)
{
	tstp_buf_put(b, ",\"", 2);
	tstp_buf_str(b, key);
	tstp_buf_put(b, "\":", 2);
}

void tstp_json_u64(struct tstp_buf *b, const char *key, uint64_t v)
{
	tstp_json_key(b, key);
	tstp_buf_u64(b, v);
}

void tstp_json_str(struct tstp_buf *b, const char *key, const char *s)
{
	tstp_json_key(b, key);
	tstp_buf_json_string(b, s, strlen(s));
}

static void json_stage_us(struct tstp_buf *b, const char *key, const struct tstp_stage *s)
{
	tstp_json_key(b, key);
	if (s->state == TSTP_STAGE_OK)
		tstp_buf_milli(b, s->ns);
	else
		tstp_buf_put(b, "null", 4);
}

void tstp_json_addr(struct tstp_buf *b, const char *key, unsigned family, const uint8_t addr[16])
{
	char text[TSTP_ADDR_MAX];
	struct tstp_buf tmp;

	tstp_buf_init(&tmp, text, sizeof(text));
	tstp_buf_addr(&tmp, family, addr, -1);
	tstp_json_str(b, key, text);
}

void tstp_json_flow(struct tstp_buf *b, unsigned family, const uint8_t laddr[16], unsigned lport,
		    const uint8_t raddr[16], unsigned rport)
{
	tstp_json_addr(b, "laddr", family, laddr);
	tstp_json_u64(b, "lport", lport);
	tstp_json_addr(b, "raddr", family, raddr);
	tstp_json_u64(b, "rport", rport);
}

void tstp_json_ts(struct tstp_buf *b, struct tstp_format_opts *o,
		    const struct tstp_clock *clock, uint64_t ts_ns)
{
	tstp_buf_put(b, "{\"ts\":\"", 7);
	tstp_buf_time(b, &o->cache, TSTP_TIME_ISO, clock, ts_ns);
	tstp_buf_put(b, "\"", 1);
}

void tstp_format_exchange_json(struct tstp_buf *b, struct tstp_format_opts *o,
			       const struct tstp_clock *clock, const struct tstp_exchange *x)
{
	struct tstp_exchange_view v;
	const char *names[NFLAG_NAMES + 2];
	char unknown[16];
	unsigned nflags;
	size_t comm_len = 0;

	tstp_exchange_view(x, &v);
	tstp_json_ts(b, o, clock, v.start_ns);
	tstp_json_str(b, "role", v.role);
	tstp_json_flow(b, x->family, x->laddr, x->lport, x->raddr, x->rport);
	tstp_json_u64(b, "req_bytes", x->req_bytes);
	tstp_json_u64(b, "resp_bytes", x->resp_bytes);
	tstp_json_u64(b, "req_seq", x->req_seq);
	tstp_json_u64(b, "resp_seq", x->resp_seq);
	tstp_json_u64(b, "retrans", x->retrans);
	tstp_json_u64(b, "srtt_us", x->srtt_us);
	tstp_json_key(b, "flags");
	tstp_buf_put(b, "[", 1);
	nflags = flag_list(x->flags, v.negative, names, unknown, sizeof(unknown));
	for (unsigned i = 0; i < nflags; i++) {
		if (i)
			tstp_buf_put(b, ",", 1);
		tstp_buf_json_string(b, names[i], strlen(names[i]));
	}
	tstp_buf_put(b, "]", 1);
	json_stage_us(b, "total_us", &v.total);
	tstp_json_u64(b, "pid", x->pid);
	/* comm is NUL- or space-padded and not terminated. */
	while (comm_len < sizeof(x->comm) && x->comm[comm_len])
		comm_len++;
	while (comm_len > 0 && x->comm[comm_len - 1] == ' ')
		comm_len--;
	tstp_json_key(b, "comm");
	tstp_buf_json_string(b, x->comm, comm_len);
	for (unsigned i = 0; i < v.nstages; i++)
		json_stage_us(b, v.stage[i].json_key, &v.stage[i]);
	tstp_buf_put(b, "}\n", 2);
}

/* Label of kernel log2 bucket i: 0, 1, 2-3, 4-7, ... (us). */
static void buf_bucket_label(struct tstp_buf *b, unsigned i)
{
	if (i <= 1) {
		tstp_buf_u64(b, i);
		return;
	}
	tstp_buf_u64(b, 1ull << (i - 1));
	tstp_buf_put(b, "-", 1);
	tstp_buf_u64(b, (1ull << i) - 1);
}

static void hist_service(struct tstp_buf *b, const struct tstp_hist *h)
{
	tstp_buf_addr(b, h->family, h->addr, h->port);
}

void tstp_format_other_text(struct tstp_buf *b, struct tstp_format_opts *o,
			    const struct tstp_clock *clock, const union tstp_record *r)
{
	tstp_buf_time(b, &o->cache, o->time_style, clock, r->hdr.ts_ns);
	switch (r->hdr.type) {
	case TSTP_REC_ANCHOR: {
		const struct tstp_anchor *a = &r->anchor;

		tstp_buf_printf(b, " anchor | producer %s | threshold %u us | sample 1/%u | budget ",
				tstp_producer_name(a->producer), a->threshold_us, a->sample_ratio);
		if (a->max_events)
			tstp_buf_printf(b, "%u/s", a->max_events);
		else
			tstp_buf_str(b, "unlimited");
		break;
	}
	case TSTP_REC_HIST: {
		const struct tstp_hist *h = &r->hist;

		tstp_buf_printf(b, " hist | %s ", tstp_role_name(h->role));
		hist_service(b, h);
		tstp_buf_printf(b, " | interval %u ms | count %llu sum %llu min %llu max %llu us |",
				h->interval_ms, (unsigned long long)h->count,
				(unsigned long long)h->sum_us, (unsigned long long)h->min_us,
				(unsigned long long)h->max_us);
		for (unsigned i = 0; i < TSTP_HIST_BUCKETS; i++) {
			if (!h->bucket[i])
				continue;
			tstp_buf_put(b, " ", 1);
			buf_bucket_label(b, i);
			tstp_buf_put(b, ":", 1);
			tstp_buf_u64(b, h->bucket[i]);
		}
		break;
	}
	case TSTP_REC_STATS: {
		const struct tstp_stats *s = &r->stats;

		tstp_buf_printf(b, " stats | probe hits %llu cost ", (unsigned long long)s->probe_hits);
		if (s->probe_hits)
			tstp_buf_u64(b, s->probe_ns / s->probe_hits);
		else
			tstp_buf_put(b, "-", 1);
		tstp_buf_printf(b, " ns/hit | exchanges %llu emitted %llu below_threshold %llu "
				"dropped_rate %llu | sockets %llu closed %llu evicted %llu "
				"sampled_out %llu | armed %s",
				(unsigned long long)s->exchanges, (unsigned long long)s->emitted,
				(unsigned long long)s->below_threshold,
				(unsigned long long)s->dropped_rate, (unsigned long long)s->sockets,
				(unsigned long long)s->closed, (unsigned long long)s->evicted,
				(unsigned long long)s->sampled_out, s->armed ? "yes" : "no");
		if (s->disarm_reason != TSTP_DISARM_NONE)
			tstp_buf_printf(b, " (disarmed: %s)", tstp_disarm_name(s->disarm_reason));
		break;
	}
	case TSTP_REC_SELFTEST:
		tstp_buf_printf(b, " selftest | lport %u rport %u | len %u",
				r->selftest.lport, r->selftest.rport, r->selftest.len);
		break;
	case TSTP_REC_CAPTURE: {
		const struct tstp_capture *c = &r->capture;

		tstp_buf_printf(b, " capture | trigger %s", tstp_trigger_name(c->reason));
		if (c->trigger_us)
			tstp_buf_printf(b, " (slower than %u.%03u ms)", c->trigger_us / 1000, c->trigger_us % 1000);
		tstp_buf_printf(b, " | window %u.%03u s before, %u.%03u s after | ring evicted %llu",
				c->before_ms / 1000, c->before_ms % 1000, c->after_ms / 1000,
				c->after_ms % 1000, (unsigned long long)c->ring_evicted);
		break;
	}
	default:
		if (!tstp_health_text(b, r))
			tstp_buf_printf(b, " type %u", r->hdr.type);
		break;
	}
	tstp_buf_put(b, "\n", 1);
}

void tstp_format_other_json(struct tstp_buf *b, struct tstp_format_opts *o,
			    const struct tstp_clock *clock, const union tstp_record *r)
{
	tstp_json_ts(b, o, clock, r->hdr.ts_ns);
	switch (r->hdr.type) {
	case TSTP_REC_ANCHOR: {
		const struct tstp_anchor *a = &r->anchor;

		tstp_json_str(b, "type", "anchor");
		tstp_json_u64(b, "realtime_ns", a->realtime_ns);
		tstp_json_str(b, "producer", tstp_producer_name(a->producer));
		tstp_json_u64(b, "threshold_us", a->threshold_us);
		tstp_json_u64(b, "sample_ratio", a->sample_ratio);
		tstp_json_u64(b, "max_events", a->max_events);
		break;
	}
	case TSTP_REC_HIST: {
		const struct tstp_hist *h = &r->hist;

		tstp_json_str(b, "type", "hist");
		tstp_json_str(b, "role", tstp_role_name(h->role));
		tstp_json_addr(b, "addr", h->family, h->addr);
		tstp_json_u64(b, "port", h->port);
		tstp_json_u64(b, "interval_ms", h->interval_ms);
		tstp_json_u64(b, "count", h->count);
		tstp_json_u64(b, "sum_us", h->sum_us);
		tstp_json_u64(b, "min_us", h->min_us);
		tstp_json_u64(b, "max_us", h->max_us);
		tstp_json_key(b, "buckets");
		tstp_buf_put(b, "[", 1);
		for (unsigned i = 0; i < TSTP_HIST_BUCKETS; i++) {
			if (i)
				tstp_buf_put(b, ",", 1);
			tstp_buf_u64(b, h->bucket[i]);
		}
		tstp_buf_put(b, "]", 1);
		break;
	}
	case TSTP_REC_STATS: {
		const struct tstp_stats *s = &r->stats;

		tstp_json_str(b, "type", "stats");
		tstp_json_u64(b, "probe_hits", s->probe_hits);
		tstp_json_u64(b, "probe_ns", s->probe_ns);
		tstp_json_u64(b, "exchanges", s->exchanges);
		tstp_json_u64(b, "emitted", s->emitted);
		tstp_json_u64(b, "below_threshold", s->below_threshold);
		tstp_json_u64(b, "dropped_rate", s->dropped_rate);
		tstp_json_u64(b, "evicted", s->evicted);
		tstp_json_u64(b, "closed", s->closed);
		tstp_json_u64(b, "sockets", s->sockets);
		tstp_json_u64(b, "sampled_out", s->sampled_out);
		tstp_json_u64(b, "armed", s->armed);
		tstp_json_str(b, "disarm_reason", tstp_disarm_name(s->disarm_reason));
		break;
	}
	case TSTP_REC_SELFTEST:
		tstp_json_str(b, "type", "selftest");
		tstp_json_u64(b, "lport", r->selftest.lport);
		tstp_json_u64(b, "rport", r->selftest.rport);
		tstp_json_u64(b, "len", r->selftest.len);
		break;
	case TSTP_REC_CAPTURE:
		tstp_json_str(b, "type", "capture");
		tstp_json_str(b, "trigger", tstp_trigger_name(r->capture.reason));
		tstp_json_u64(b, "trigger_us", r->capture.trigger_us);
		tstp_json_u64(b, "before_ms", r->capture.before_ms);
		tstp_json_u64(b, "after_ms", r->capture.after_ms);
		tstp_json_u64(b, "ring_evicted", r->capture.ring_evicted);
		break;
	default:
		if (!tstp_health_json(b, r))
			tstp_json_u64(b, "type", r->hdr.type);
		break;
	}
	tstp_buf_put(b, "}\n", 2);
}

void tstp_buf_decode_summary(struct tstp_buf *b, const struct tstp_decode_counters *c)
{
	tstp_buf_printf(b, "%llu records decoded, %llu bytes lost to resync",
			(unsigned long long)c->records, (unsigned long long)c->lost_bytes);
	if (c->resyncs)
		tstp_buf_printf(b, " (%llu resyncs, first at offset %llu)",
				(unsigned long long)c->resyncs,
				(unsigned long long)c->first_loss_offset);
	tstp_buf_printf(b, ", %llu truncated tail", (unsigned long long)c->truncated);
	if (c->truncated) {
		if (c->truncated_expected)
			tstp_buf_printf(b, " (%llu of %llu bytes)",
					(unsigned long long)c->truncated_bytes,
					(unsigned long long)c->truncated_expected);
		else
			tstp_buf_printf(b, " (%llu bytes)", (unsigned long long)c->truncated_bytes);
	}
	tstp_buf_printf(b, ", %llu records lost in sequence gaps, %llu unknown-type records skipped",
			(unsigned long long)c->seq_lost, (unsigned long long)c->unknown);
}
