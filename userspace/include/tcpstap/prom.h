/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Prometheus text exposition format (version 0.0.4): a writer, a parser of
 * sample lines, and the conversion of tcpstap's latency histograms into
 * tcpkit's JSON stats. Pure except for the FILE * the writer is given.
 */
#ifndef TCPSTAP_PROM_H
#define TCPSTAP_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tcpstap/sockdiag.h"

#define TSTP_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * What tcpstap-load writes for the latency module (textfile contract), per
 * service endpoint: role="server"|"client", addr (no brackets), port.
 *   tcpstap_latency_exchange_seconds  histogram of exchange totals
 *   tcpstap_latency_request_bytes_total, tcpstap_latency_response_bytes_total
 * The exporter serves these as they are and maps them to tcpkit's JSON.
 */
#define TSTP_PROM_LATENCY_HIST "tcpstap_latency_exchange_seconds"
#define TSTP_PROM_LATENCY_REQ_BYTES "tcpstap_latency_request_bytes_total"
#define TSTP_PROM_LATENCY_RESP_BYTES "tcpstap_latency_response_bytes_total"

/* "# HELP name help" and "# TYPE name type" (help escaped). */
void tstp_prom_family(FILE *f, const char *name, const char *type, const char *help);
/*
 * name{k="v",...} value: labels is a NULL-terminated list of key, value
 * pairs (NULL: no labels); values are escaped (\\, \", \n).
 */
void tstp_prom_u64(FILE *f, const char *name, const char *const *labels, uint64_t v);
void tstp_prom_double(FILE *f, const char *name, const char *const *labels, double v);

/* The metrics of tcpstap states (node_exporter tcpstat-like). top: at most that many remotes. */
struct tstp_listen_mib;
void tstp_prom_states(FILE *f, const struct tstp_states *s, const struct tstp_listen_mib *mib,
		      size_t top);

/* ---- parsing ---- */

#define TSTP_PROM_NAME_MAX 200
#define TSTP_PROM_LABELS_MAX 16
#define TSTP_PROM_LABEL_MAX 256

struct tstp_prom_sample {
	char name[TSTP_PROM_NAME_MAX];
	unsigned nlabels;
	char key[TSTP_PROM_LABELS_MAX][TSTP_PROM_NAME_MAX];
	char val[TSTP_PROM_LABELS_MAX][TSTP_PROM_LABEL_MAX];	/* unescaped */
	double value;
};

enum tstp_prom_line {
	TSTP_PROM_SAMPLE,	/* s is filled */
	TSTP_PROM_BLANK,	/* empty line */
	TSTP_PROM_COMMENT,	/* "# ..." other than HELP/TYPE */
	TSTP_PROM_META,		/* "# HELP name ..." or "# TYPE name type": s->name is filled */
	TSTP_PROM_INVALID,
};

/* One line without its newline. */
enum tstp_prom_line tstp_prom_parse_line(const char *line, size_t len, struct tstp_prom_sample *s);
/* The value of label key, or NULL. */
const char *tstp_prom_label(const struct tstp_prom_sample *s, const char *key);
/* [a-zA-Z_:][a-zA-Z0-9_:]* */
int tstp_prom_valid_name(const char *name);

/* ---- tcpkit ---- */

#define TSTP_TCPKIT_BUCKETS 18
/* tcpkit's bucket names and inclusive upper bounds in microseconds (last: +inf, 0). */
extern const char *const tstp_tcpkit_bucket_name[TSTP_TCPKIT_BUCKETS];
extern const uint64_t tstp_tcpkit_bucket_us[TSTP_TCPKIT_BUCKETS];

struct tstp_tcpkit_endpoint {
	char key[80];		/* "ip:port" as tcpkit prints it */
	int role_server;	/* 1 server, 0 client (servers win on the same key) */
	uint64_t requests, responses, request_bytes, response_bytes;
	uint64_t buckets[TSTP_TCPKIT_BUCKETS];
	/* the cumulative histogram as read, le in us (UINT64_MAX: +Inf) */
	size_t nle;
	uint64_t le_us[64];
	uint64_t le_count[64];
};

struct tstp_tcpkit {
	struct tstp_tcpkit_endpoint *ep;
	size_t n, cap, max;
	uint64_t dropped;	/* endpoints beyond max */
	uint64_t approximate;	/* histograms whose bounds are not tcpkit's */
};

void tstp_tcpkit_init(struct tstp_tcpkit *t, size_t max_endpoints);
/* Takes one parsed sample; ignores everything but the latency contract above. */
int tstp_tcpkit_add(struct tstp_tcpkit *t, const struct tstp_prom_sample *s);
/* Turns the histograms into tcpkit buckets (call once, after the last add). */
void tstp_tcpkit_finish(struct tstp_tcpkit *t);
/* tcpkit's JSON object (keys "ip:port"), written to f. */
void tstp_tcpkit_json(FILE *f, const struct tstp_tcpkit *t);
void tstp_tcpkit_free(struct tstp_tcpkit *t);

#endif /* TCPSTAP_PROM_H */
