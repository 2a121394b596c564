// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Prometheus text exposition of a module's counters and histograms (see
 * tcpstap/metrics.h), in the names and labels `tcpstap exporter` expects
 * (tcpstap/prom.h): base units (seconds), _total for counters, one HELP and
 * one TYPE line per family.
 */
#include <stddef.h>
#include <string.h>

#include "tcpstap/format.h"
#include "tcpstap/metrics.h"
#include "tcpstap/prom.h"

struct family {
	const char *name;
	const char *type;
	const char *help;
	size_t stats_offset;	/* of the u64 field in struct tstp_stats */
};

#define STATS_FIELD(f) offsetof(struct tstp_stats, f)

static const struct family module_families[] = {
	{ "tcpstap_module_armed", "gauge",
	  "1 while the module's probes do work, 0 once it disarmed itself", STATS_FIELD(armed) },
	{ "tcpstap_module_disarm_reason", "gauge",
	  "why the module disarmed: 0 it did not, 1 no heartbeat, 2 CPU budget", STATS_FIELD(disarm_reason) },
	{ "tcpstap_module_probe_hits_total", "counter", "probe handler invocations", STATS_FIELD(probe_hits) },
};

static const struct family latency_families[] = {
	{ "tcpstap_latency_exchanges_total", "counter",
	  "request/response exchanges completed, emitted or not", STATS_FIELD(exchanges) },
	{ "tcpstap_latency_records_emitted_total", "counter",
	  "exchange records emitted individually", STATS_FIELD(emitted) },
	{ "tcpstap_latency_records_dropped_total", "counter",
	  "exchange records over the per-second event budget (still in the histograms)",
	  STATS_FIELD(dropped_rate) },
	{ "tcpstap_latency_sockets_evicted_total", "counter",
	  "socket states evicted by the module's map bound", STATS_FIELD(evicted) },
	{ "tcpstap_latency_sockets", "gauge", "socket states the module holds", STATS_FIELD(sockets) },
};

static uint64_t stats_value(const struct tstp_stats *s, size_t offset)
{
	/* armed and disarm_reason are 32-bit, the counters 64-bit */
	if (offset == STATS_FIELD(armed))
		return s->armed;
	if (offset == STATS_FIELD(disarm_reason))
		return s->disarm_reason;
	return *(const uint64_t *)((const char *)s + offset);
}

static void stats_families(FILE *f, const char *module, const struct tstp_stats *s,
			   const struct family *fam, size_t n)
{
	const char *labels[] = { "module", module, NULL };

	for (size_t i = 0; i < n; i++) {
		tstp_prom_family(f, fam[i].name, fam[i].type, fam[i].help);
		tstp_prom_u64(f, fam[i].name, labels, stats_value(s, fam[i].stats_offset));
	}
}

static void module_counters(FILE *f, const struct tstp_metrics_input *in)
{
	const char *labels[] = { "module", in->module, NULL };

	tstp_prom_family(f, "tcpstap_reader_records_lost_total", "counter",
			 "records missing by sequence number: the reader fell behind the kernel's buffer");
	tstp_prom_u64(f, "tcpstap_reader_records_lost_total", labels, in->records_lost);
	if (!in->stats)
		return;
	stats_families(f, in->module, in->stats, module_families,
		       sizeof(module_families) / sizeof(module_families[0]));
	tstp_prom_family(f, "tcpstap_module_probe_seconds_total", "counter",
			 "time spent in the module's probe handlers");
	tstp_prom_double(f, "tcpstap_module_probe_seconds_total", labels, in->stats->probe_ns / 1e9);
}

/* le of log2 bucket j, which counts [2^(j-1), 2^j) us: "< 2^j us"; the last is open-ended. */
static void bucket_bound(char *out, size_t size, unsigned j)
{
	if (j < TSTP_HIST_BUCKETS - 1)
		snprintf(out, size, "%.6g", (double)(1ull << j) / 1e6);
	else
		snprintf(out, size, "+Inf");
}

static void latency_endpoints(FILE *f, const struct tstp_metrics_input *in)
{
	const struct tstp_stats_table *t = in->latency;
	int pass;

	/* One family at a time: Prometheus wants a family's samples together. */
	for (pass = 0; pass < 3; pass++) {
		static const char *const names[] = { TSTP_PROM_LATENCY_HIST, TSTP_PROM_LATENCY_REQ_BYTES,
						     TSTP_PROM_LATENCY_RESP_BYTES };
		static const char *const helps[] = {
			"request/response exchange time per service endpoint and role (emitted and "
			"below-threshold exchanges)",
			"request bytes of the exchanges emitted individually",
			"response bytes of the exchanges emitted individually",
		};
		int headed = 0;

		for (size_t i = 0; i <= t->mask; i++) {
			const struct tstp_endpoint *e = &t->slots[i];
			char addr[TSTP_ADDR_MAX], port[8], le[16], name[TSTP_PROM_NAME_MAX];
			const char *labels[] = { "module", in->module, "role",
						 e->key.role == TSTP_ROLE_SERVER ? "server" : "client",
						 "addr", addr, "port", port, "le", le, NULL };
			struct tstp_buf b;
			uint64_t cum = 0;

			if (!e->used)
				continue;
			if (!headed++)
				tstp_prom_family(f, names[pass], pass ? "counter" : "histogram", helps[pass]);
			tstp_buf_init(&b, addr, sizeof(addr));
			tstp_buf_addr(&b, e->key.family, e->key.addr, -1);
			snprintf(port, sizeof(port), "%u", e->key.port);
			if (pass) {
				labels[8] = NULL;	/* no le */
				tstp_prom_u64(f, names[pass], labels, pass == 1 ? e->req_bytes : e->resp_bytes);
				continue;
			}
			snprintf(name, sizeof(name), "%s_bucket", names[0]);
			for (unsigned j = 0; j < TSTP_HIST_BUCKETS; j++) {
				cum += e->log2[j];
				bucket_bound(le, sizeof(le), j);
				tstp_prom_u64(f, name, labels, cum);
			}
			labels[8] = NULL;
			snprintf(name, sizeof(name), "%s_sum", names[0]);
			tstp_prom_double(f, name, labels, e->exchange_sum_ns / 1e9 + e->kernel_sum_us / 1e6);
			snprintf(name, sizeof(name), "%s_count", names[0]);
			tstp_prom_u64(f, name, labels, cum);
		}
	}
}

int tstp_metrics_write(FILE *f, const struct tstp_metrics_input *in)
{
	module_counters(f, in);
	if (in->stats && in->latency) {
		stats_families(f, in->module, in->stats, latency_families,
			       sizeof(latency_families) / sizeof(latency_families[0]));
		latency_endpoints(f, in);
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
