/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Fixed-memory latency aggregation per (role, service endpoint): a log-linear
 * histogram of EXCHANGE totals (<= 1/64 relative error) and the kernel's log2
 * histogram (HIST records) side by side, so both can be merged. Pure.
 */
#ifndef TCPSTAP_STATS_H
#define TCPSTAP_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "tcpstap/record.h"

/* Log-linear buckets over ns: 2^SUB_BITS per power of two, values up to 2^44 ns (~4.9 h). */
#define TSTP_LL_SUB_BITS	6
#define TSTP_LL_MAX_BITS	44
#define TSTP_LL_BUCKETS		((TSTP_LL_MAX_BITS - TSTP_LL_SUB_BITS + 1) << TSTP_LL_SUB_BITS)

unsigned tstp_ll_index(uint64_t ns);
/* Highest value that maps to the bucket (what HdrHistogram reports). */
uint64_t tstp_ll_upper(unsigned index);
/* Kernel log2 bucket of a duration in us (see TSTP_HIST_BUCKETS). */
unsigned tstp_log2_index(uint64_t us);

/* role, family, port and address of the service; zero-padded for hashing. */
struct tstp_endpoint_key {
	uint8_t role;
	uint8_t family;
	uint16_t port;
	uint8_t addr[16];
};

struct tstp_endpoint {
	struct tstp_endpoint_key key;
	int used;
	uint64_t exchanges;	/* EXCHANGE records with a total */
	uint64_t no_total;	/* EXCHANGE records whose total is unknown */
	uint64_t exchange_sum_ns;
	uint64_t exchange_min_ns;
	uint64_t exchange_max_ns;
	uint64_t req_bytes;
	uint64_t resp_bytes;
	uint64_t kernel_count;	/* from HIST records: exchanges below the threshold */
	uint64_t kernel_sum_us;
	uint64_t kernel_min_us;
	uint64_t kernel_max_us;
	uint64_t log2[TSTP_HIST_BUCKETS];	/* exchanges and HIST counts together */
	uint64_t *fine;		/* TSTP_LL_BUCKETS counts of exchanges only */
};

struct tstp_stats_table {
	size_t mask;		/* slots - 1; slots is a power of two */
	size_t used;
	size_t max_used;	/* beyond this, records go to overflow_records */
	struct tstp_endpoint *slots;
	struct tstp_endpoint *last;	/* consecutive records mostly share an endpoint */
	uint64_t overflow_records;
	uint64_t unknown_role;
};

/* Returns 0, or -1 if memory is short. */
int tstp_stats_init(struct tstp_stats_table *t, size_t max_endpoints);
void tstp_stats_free(struct tstp_stats_table *t);
/* Return 0, or -1 if memory is short (the record is counted as overflow). */
int tstp_stats_add_exchange(struct tstp_stats_table *t, const struct tstp_exchange *x);
int tstp_stats_add_hist(struct tstp_stats_table *t, const struct tstp_hist *h);

/* Endpoints in a stable order (role, family, address, port); returns the count. */
size_t tstp_stats_sorted(const struct tstp_stats_table *t, const struct tstp_endpoint **out, size_t max);

enum tstp_pct_method {
	TSTP_PCT_NONE,		/* nothing to compute from */
	TSTP_PCT_LOGLINEAR,	/* exchange records only: log-linear histogram */
	TSTP_PCT_MERGED_LOG2,	/* kernel HIST counts too: merged log2 histogram */
};

#define TSTP_NPCT 4
extern const double tstp_pct_points[TSTP_NPCT];	/* 50, 90, 99, 99.9 */
extern const char *const tstp_pct_names[TSTP_NPCT];	/* "p50", ... */

struct tstp_summary {
	enum tstp_pct_method method;
	uint64_t count;		/* exchanges + kernel_count */
	uint64_t min_ns;
	uint64_t max_ns;
	uint64_t avg_ns;
	uint64_t pct_ns[TSTP_NPCT];
};

void tstp_endpoint_summary(const struct tstp_endpoint *e, struct tstp_summary *s);
const char *tstp_pct_method_name(enum tstp_pct_method m);

#endif /* TCPSTAP_STATS_H */
