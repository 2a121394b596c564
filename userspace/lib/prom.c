// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Prometheus text exposition: writer, sample-line parser, tcpkit mapping.
 * Format reference: the Prometheus "Exposition formats" page (text 0.0.4).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstap/format.h"
#include "tcpstap/prom.h"

/* ---- writer ---- */

static void put_escaped(FILE *f, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

void tstp_prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	put_escaped(f, help, 0);
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

static void put_name_labels(FILE *f, const char *name, const char *const *labels)
{
	fputs(name, f);
	if (!labels || !labels[0])
		return;
	fputc('{', f);
	for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
		fprintf(f, "%s%s=\"", i ? "," : "", labels[i]);
		put_escaped(f, labels[i + 1], 1);
		fputc('"', f);
	}
	fputc('}', f);
}

void tstp_prom_u64(FILE *f, const char *name, const char *const *labels, uint64_t v)
{
	put_name_labels(f, name, labels);
	fprintf(f, " %llu\n", (unsigned long long)v);
}

void tstp_prom_double(FILE *f, const char *name, const char *const *labels, double v)
{
	put_name_labels(f, name, labels);
	if (isnan(v))
		fputs(" NaN\n", f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", f);
	else
		fprintf(f, " %.9g\n", v);
}

static void addr_text(char *out, size_t cap, uint8_t family, const uint8_t *addr)
{
	struct tstp_buf b;

	tstp_buf_init(&b, out, cap);
	tstp_buf_addr(&b, family, addr, -1);
}

static const char *const fam_label[TSTP_NFAM] = { "ipv4", "ipv6" };

static void per_family(FILE *f, const char *name, const char *help, const uint64_t v[TSTP_NFAM])
{
	tstp_prom_family(f, name, "gauge", help);
	for (unsigned fam = 0; fam < TSTP_NFAM; fam++) {
		const char *l[] = { "family", fam_label[fam], NULL };

		tstp_prom_u64(f, name, l, v[fam]);
	}
}

enum listener_field { L_QUEUE, L_BACKLOG, L_FULL };

/* One gauge per listening endpoint. */
static void per_listener(FILE *f, const struct tstp_states *s, const char *name, const char *help,
			 enum listener_field field)
{
	char addr[TSTP_ADDR_MAX], port[8];

	tstp_prom_family(f, name, "gauge", help);
	for (size_t i = 0; i < s->nlisteners; i++) {
		const struct tstp_listener *li = &s->listeners[i];
		const char *l[] = { "laddr", addr, "lport", port, NULL };
		uint64_t v = field == L_QUEUE ? li->queue : field == L_BACKLOG ? li->backlog : li->full;

		addr_text(addr, sizeof(addr), li->family, li->addr);
		snprintf(port, sizeof(port), "%u", li->port);
		tstp_prom_u64(f, name, l, v);
	}
}

void tstp_prom_states(FILE *f, const struct tstp_states *s, const struct tstp_listen_mib *mib,
		      size_t top)
{
	char addr[TSTP_ADDR_MAX];

	tstp_prom_family(f, "tcpstap_tcp_connections", "gauge",
			 "TCP sockets per state and address family (netlink sock_diag dump; like node_exporter's node_tcp_connection_states).");
	for (unsigned st = 1; st <= TSTP_TCP_CLOSING; st++)
		for (unsigned fam = 0; fam < TSTP_NFAM; fam++) {
			const char *l[] = { "state", tstp_tcp_state_name(st), "family", fam_label[fam], NULL };

			tstp_prom_u64(f, "tcpstap_tcp_connections", l, s->count[fam][st]);
		}
	per_family(f, "tcpstap_tcp_rx_queue_bytes",
		   "Bytes received and not yet read by the application, summed over non-listening sockets.",
		   s->rx_queue);
	per_family(f, "tcpstap_tcp_tx_queue_bytes",
		   "Bytes sent and not yet acknowledged or not yet sent, summed over non-listening sockets.",
		   s->tx_queue);
	per_listener(f, s, "tcpstap_tcp_listen_queue_length",
		     "Connections established and not yet accepted, per listening address and port.",
		     L_QUEUE);
	per_listener(f, s, "tcpstap_tcp_listen_backlog",
		     "Accept queue capacity (listen() backlog, capped by somaxconn), per listening address and port.",
		     L_BACKLOG);
	per_listener(f, s, "tcpstap_tcp_listen_queue_full",
		     "Listening sockets whose accept queue is full now (queue > backlog): new connections are dropped.",
		     L_FULL);
	if (top) {
		struct tstp_remote *r = calloc(top, sizeof(*r));
		size_t n = r ? tstp_states_top_remotes(s, r, top) : 0;

		tstp_prom_family(f, "tcpstap_tcp_connections_by_remote", "gauge",
				 "Non-listening TCP sockets per remote address, for the addresses with the most sockets (top N).");
		for (size_t i = 0; i < n; i++) {
			const char *l[] = { "raddr", addr, NULL };

			addr_text(addr, sizeof(addr), r[i].family, r[i].addr);
			tstp_prom_u64(f, "tcpstap_tcp_connections_by_remote", l, r[i].sockets);
		}
		free(r);
	}
	tstp_prom_family(f, "tcpstap_tcp_remote_addresses", "gauge",
			 "Distinct remote addresses of non-listening TCP sockets.");
	tstp_prom_u64(f, "tcpstap_tcp_remote_addresses", NULL, s->nremotes);
	tstp_prom_family(f, "tcpstap_tcp_untracked_sockets", "gauge",
			 "Sockets left out of the per-remote counts or the listener list because a memory bound was reached.");
	{
		const char *lr[] = { "table", "remotes", NULL };
		const char *ll[] = { "table", "listeners", NULL };

		tstp_prom_u64(f, "tcpstap_tcp_untracked_sockets", lr, s->remotes_dropped);
		tstp_prom_u64(f, "tcpstap_tcp_untracked_sockets", ll, s->listeners_dropped);
	}
	if (mib && mib->valid) {
		tstp_prom_family(f, "tcpstap_tcp_listen_overflows_total", "counter",
				 "Times the accept queue of a listening socket was full (TcpExt ListenOverflows).");
		tstp_prom_u64(f, "tcpstap_tcp_listen_overflows_total", NULL, mib->overflows);
		tstp_prom_family(f, "tcpstap_tcp_listen_drops_total", "counter",
				 "SYNs and handshake completions dropped at listening sockets (TcpExt ListenDrops).");
		tstp_prom_u64(f, "tcpstap_tcp_listen_drops_total", NULL, mib->drops);
	}
}

/* ---- parser ---- */

static int name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

int tstp_prom_valid_name(const char *name)
{
	if (!name_start(*name))
		return 0;
	while (*++name)
		if (!name_char(*name))
			return 0;
	return 1;
}

/* Copies a name at *p into out; returns 0, or -1 if none or too long. */
static int take_name(const char **p, const char *end, char *out, size_t cap, int colon_ok)
{
	const char *s = *p;
	size_t n = 0;

	if (s >= end || !name_start(*s) || (!colon_ok && *s == ':'))
		return -1;
	while (s + n < end && name_char(s[n]) && (colon_ok || s[n] != ':'))
		n++;
	if (n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = s + n;
	return 0;
}

static void skip_blanks(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

static int parse_value(const char *s, const char *end, double *v)
{
	char tmp[64], *e;
	size_t n = (size_t)(end - s);

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (strcmp(tmp, "+Inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcmp(tmp, "-Inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (strcmp(tmp, "NaN") == 0) {
		*v = NAN;
		return 0;
	}
	errno = 0;
	*v = strtod(tmp, &e);
	if (e == tmp || *e != '\0' || errno == ERANGE)
		return -1;
	/* strtod also takes "inf", "nan" and hex: the format does not. */
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789+-.eE", tmp[i]))
			return -1;
	return 0;
}

static int parse_labels(const char **pp, const char *end, struct tstp_prom_sample *s)
{
	const char *p = *pp + 1;	/* after '{' */

	for (;;) {
		size_t n = 0;

		skip_blanks(&p, end);
		if (p < end && *p == '}')
			break;
		if (s->nlabels >= TSTP_PROM_LABELS_MAX ||
		    take_name(&p, end, s->key[s->nlabels], TSTP_PROM_NAME_MAX, 0) != 0)
			return -1;
		skip_blanks(&p, end);
		if (p >= end || *p++ != '=')
			return -1;
		skip_blanks(&p, end);
		if (p >= end || *p++ != '"')
			return -1;
		for (;;) {
			char c;

			if (p >= end)
				return -1;
			c = *p++;
			if (c == '"')
				break;
			if (c == '\\') {
				if (p >= end)
					return -1;
				c = *p++;
				if (c == 'n')
					c = '\n';
				else if (c != '\\' && c != '"')
					return -1;
			}
			if (n + 1 >= TSTP_PROM_LABEL_MAX)
				return -1;
			s->val[s->nlabels][n++] = c;
		}
		s->val[s->nlabels][n] = '\0';
		s->nlabels++;
		skip_blanks(&p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		return -1;
	}
	*pp = p + 1;
	return 0;
}

enum tstp_prom_line tstp_prom_parse_line(const char *line, size_t len, struct tstp_prom_sample *s)
{
	const char *p = line, *end = line + len, *v;

	memset(s, 0, offsetof(struct tstp_prom_sample, key));
	if (len && line[len - 1] == '\r')
		end--;
	skip_blanks(&p, end);
	if (p == end)
		return TSTP_PROM_BLANK;
	if (*p == '#') {
		p++;
		skip_blanks(&p, end);
		if ((end - p >= 5 && (memcmp(p, "HELP ", 5) == 0 || memcmp(p, "TYPE ", 5) == 0))) {
			int type = p[0] == 'T';

			p += 5;
			skip_blanks(&p, end);
			if (take_name(&p, end, s->name, sizeof(s->name), 1) != 0)
				return TSTP_PROM_INVALID;
			if (type) {
				static const char *const types[] = { "counter", "gauge", "histogram",
								     "summary", "untyped" };
				size_t n;
				int ok = 0;

				skip_blanks(&p, end);
				n = (size_t)(end - p);
				for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
					if (n == strlen(types[i]) && memcmp(p, types[i], n) == 0)
						ok = 1;
				if (!ok)
					return TSTP_PROM_INVALID;
			}
			return TSTP_PROM_META;
		}
		return TSTP_PROM_COMMENT;
	}
	if (take_name(&p, end, s->name, sizeof(s->name), 1) != 0)
		return TSTP_PROM_INVALID;
	if (p < end && *p == '{' && parse_labels(&p, end, s) != 0)
		return TSTP_PROM_INVALID;
	if (p >= end || (*p != ' ' && *p != '\t'))
		return TSTP_PROM_INVALID;
	skip_blanks(&p, end);
	v = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	if (parse_value(v, p, &s->value) != 0)
		return TSTP_PROM_INVALID;
	skip_blanks(&p, end);
	if (p < end) {
		/* An optional timestamp: an integer in milliseconds. */
		const char *t = p;

		if (*p == '-')
			p++;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == t || p != end)
			return TSTP_PROM_INVALID;
	}
	return TSTP_PROM_SAMPLE;
}

const char *tstp_prom_label(const struct tstp_prom_sample *s, const char *key)
{
	for (unsigned i = 0; i < s->nlabels; i++)
		if (strcmp(s->key[i], key) == 0)
			return s->val[i];
	return NULL;
}

/* ---- tcpkit ---- */

/* github.com/git-hulk/tcpkit src/stats.c: a latency lands in the first bucket whose bound is >= it. */
const char *const tstp_tcpkit_bucket_name[TSTP_TCPKIT_BUCKETS] = {
	"<0.1ms", "0.1ms~0.2ms", "0.2~0.5ms", "0.5ms~1ms", "1ms~5ms", "5ms~10ms",
	"10ms~20ms", "20ms~50ms", "50ms~100ms", "100ms~200ms", "200ms~500ms",
	"0.5s~1s", "1s~2s", "2s~3s", "3s~5s", "5s~10s", "10s~20s", "+inf",
};
const uint64_t tstp_tcpkit_bucket_us[TSTP_TCPKIT_BUCKETS] = {
	100, 200, 500, 1000, 5000, 10000, 20000, 50000, 100000, 200000, 500000,
	1000000, 2000000, 3000000, 5000000, 10000000, 20000000, 0,
};

void tstp_tcpkit_init(struct tstp_tcpkit *t, size_t max_endpoints)
{
	memset(t, 0, sizeof(*t));
	t->max = max_endpoints;
}

void tstp_tcpkit_free(struct tstp_tcpkit *t)
{
	free(t->ep);
	memset(t, 0, sizeof(*t));
}

static struct tstp_tcpkit_endpoint *tcpkit_endpoint(struct tstp_tcpkit *t, const struct tstp_prom_sample *s)
{
	const char *role = tstp_prom_label(s, "role");
	const char *addr = tstp_prom_label(s, "addr");
	const char *port = tstp_prom_label(s, "port");
	char key[sizeof(t->ep[0].key)];
	int server;

	if (!role || !addr || !port || strlen(addr) > 64 || strlen(port) > 5)
		return NULL;
	server = strcmp(role, "server") == 0;
	if (!server && strcmp(role, "client") != 0)
		return NULL;
	snprintf(key, sizeof(key), strchr(addr, ':') ? "[%s]:%s" : "%s:%s", addr, port);
	for (size_t i = 0; i < t->n; i++) {
		struct tstp_tcpkit_endpoint *e = &t->ep[i];

		if (strcmp(e->key, key) != 0)
			continue;
		if (e->role_server == server)
			return e;
		if (server) {	/* a server entry replaces the client one */
			memset(e, 0, sizeof(*e));
			snprintf(e->key, sizeof(e->key), "%s", key);
			e->role_server = 1;
			return e;
		}
		return NULL;	/* client data for a key a server has */
	}
	if (t->n >= t->max) {
		t->dropped++;
		return NULL;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct tstp_tcpkit_endpoint *ep = realloc(t->ep, cap * sizeof(*ep));

		if (!ep)
			return NULL;
		t->ep = ep;
		t->cap = cap;
	}
	memset(&t->ep[t->n], 0, sizeof(t->ep[t->n]));
	snprintf(t->ep[t->n].key, sizeof(t->ep[t->n].key), "%s", key);
	t->ep[t->n].role_server = server;
	return &t->ep[t->n++];
}

static uint64_t count_value(double v)
{
	return (isfinite(v) && v > 0) ? (uint64_t)llround(v) : 0;
}

int tstp_tcpkit_add(struct tstp_tcpkit *t, const struct tstp_prom_sample *s)
{
	static const char hist[] = TSTP_PROM_LATENCY_HIST;
	size_t hl = sizeof(hist) - 1;
	struct tstp_tcpkit_endpoint *e;

	if (strncmp(s->name, "tcpstap_latency_", 16) != 0)
		return 0;
	e = tcpkit_endpoint(t, s);
	if (!e)
		return 0;
	if (strcmp(s->name, TSTP_PROM_LATENCY_REQ_BYTES) == 0) {
		e->request_bytes = count_value(s->value);
	} else if (strcmp(s->name, TSTP_PROM_LATENCY_RESP_BYTES) == 0) {
		e->response_bytes = count_value(s->value);
	} else if (strncmp(s->name, hist, hl) == 0 && strcmp(s->name + hl, "_count") == 0) {
		e->requests = e->responses = count_value(s->value);
	} else if (strncmp(s->name, hist, hl) == 0 && strcmp(s->name + hl, "_bucket") == 0) {
		const char *le = tstp_prom_label(s, "le");
		double v;

		if (!le || parse_value(le, le + strlen(le), &v) != 0 || isnan(v) || v < 0)
			return 0;
		if (e->nle >= sizeof(e->le_us) / sizeof(e->le_us[0]))
			return 0;
		e->le_us[e->nle] = isinf(v) ? UINT64_MAX : (uint64_t)llround(v * 1e6);
		e->le_count[e->nle] = count_value(s->value);
		e->nle++;
	}
	return 0;
}

static unsigned tcpkit_bucket_of(uint64_t us)
{
	for (unsigned j = 0; j < TSTP_TCPKIT_BUCKETS - 1; j++)
		if (tstp_tcpkit_bucket_us[j] >= us)
			return j;
	return TSTP_TCPKIT_BUCKETS - 1;
}

void tstp_tcpkit_finish(struct tstp_tcpkit *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tstp_tcpkit_endpoint *e = &t->ep[i];
		uint64_t prev_us = 0, prev_count = 0;
		int approx = 0;

		/* Sort by le (insertion: a histogram has tens of buckets). */
		for (size_t a = 1; a < e->nle; a++)
			for (size_t b = a; b > 0 && e->le_us[b - 1] > e->le_us[b]; b--) {
				uint64_t u = e->le_us[b], c = e->le_count[b];

				e->le_us[b] = e->le_us[b - 1];
				e->le_count[b] = e->le_count[b - 1];
				e->le_us[b - 1] = u;
				e->le_count[b - 1] = c;
			}
		memset(e->buckets, 0, sizeof(e->buckets));
		for (size_t k = 0; k < e->nle; k++) {
			uint64_t c = e->le_count[k] >= prev_count ? e->le_count[k] - prev_count : 0;
			unsigned j = tcpkit_bucket_of(e->le_us[k]);

			/* Exact only if no tcpkit bound lies strictly inside (prev, le]. */
			if (c && j != tcpkit_bucket_of(prev_us + 1))
				approx = 1;
			e->buckets[j] += c;
			prev_count = e->le_count[k] > prev_count ? e->le_count[k] : prev_count;
			prev_us = e->le_us[k];
		}
		if (approx)
			t->approximate++;
	}
}

void tstp_tcpkit_json(FILE *f, const struct tstp_tcpkit *t)
{
	/* tcpkit prints with cJSON_Print (tabs, newlines); any JSON reader takes this. */
	fputc('{', f);
	for (size_t i = 0; i < t->n; i++) {
		const struct tstp_tcpkit_endpoint *e = &t->ep[i];
		int first = 1;

		fprintf(f, "%s\n\t\"%s\":\t{\n\t\t\"requests\":\t%llu,\n\t\t\"request_bytes\":\t%llu,\n"
			"\t\t\"responses\":\t%llu,\n\t\t\"response_bytes\":\t%llu,\n\t\t\"latency\":\t[",
			i ? "," : "", e->key, (unsigned long long)e->requests,
			(unsigned long long)e->request_bytes, (unsigned long long)e->responses,
			(unsigned long long)e->response_bytes);
		for (unsigned j = 0; j < TSTP_TCPKIT_BUCKETS; j++) {
			if (!e->buckets[j])
				continue;
			fprintf(f, "%s{\n\t\t\t\t\"%s\":\t%llu\n\t\t\t}", first ? "" : ", ",
				tstp_tcpkit_bucket_name[j], (unsigned long long)e->buckets[j]);
			first = 0;
		}
		fputs("]\n\t}", f);
	}
	fputs(t->n ? "\n}\n" : "}\n", f);
}
