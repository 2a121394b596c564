/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A running module's counters and latency histograms in the Prometheus text
 * exposition format, for `tcpstap exporter` to serve: tcpstap-load writes
 * them to /run/tcpstap/metrics/MODULE.prom (node_exporter's textfile
 * collector pattern: write a temporary file, then rename it).
 */
#ifndef TCPSTAP_METRICS_H
#define TCPSTAP_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "tcpstap/record.h"
#include "tcpstap/stats.h"

#define TSTP_METRICS_DIR "/run/tcpstap/metrics"

struct tstp_metrics_input {
	const char *module;		/* "tcpstap_latency" */
	const struct tstp_stats *stats;	/* the last STATS record, or NULL */
	const struct tstp_stats_table *latency;	/* per-endpoint histograms, or NULL */
	uint64_t records_lost;		/* by sequence number, as the reader saw */
};

/* Writes the exposition to f; returns 0, or -1 when writing failed. */
int tstp_metrics_write(FILE *f, const struct tstp_metrics_input *in);

#endif /* TCPSTAP_METRICS_H */
