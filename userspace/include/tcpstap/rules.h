/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The alert rules of `tcpstap watch`: a pure engine fed with decoded
 * connection-health records (connect, retrans, states producers), calling
 * back with one alert per condition found. No I/O: the configuration is
 * parsed from a buffer, time is the records' own (monotonic ns of the
 * producing kernel), so a capture replays exactly like the live stream.
 *
 * Rules (name: condition -- records it needs):
 *   conn-flood         new connections per second from one remote address > conn-rate  -- connect
 *   retrans-conn       retransmitted segments per second on one connection > retrans-rate  -- retrans
 *   retrans-host       retransmitted segments per second, host-wide > host-retrans-rate  -- retrans (totals)
 *   close-wait         a connection in CLOSE_WAIT for longer than close-wait s  -- states
 *   syn-sent           a connection in SYN_SENT for longer than syn-sent s  -- states
 *   syn-recv           a connection in SYN_RECV for longer than syn-recv s  -- states
 *   conn-count         tracked connections > max-conns  -- states
 *   conn-count-addr    connections from one client address > max-conns-per-addr  -- states
 *   slowloris          >= slowloris-count ESTABLISHED connections from one client address, each
 *                      older than slowloris-age s and carrying at most slowloris-bytes  -- states
 *                      snapshots
 * "From a client" means accepted here (the states module saw SYN_RECV), or,
 * for a connection older than the module, the local port is the lower one.
 *   listen-overflow    a listener dropped >= listen-overflows connections (full accept queue)  -- connect
 * A threshold of 0 turns its rule off.
 */
#ifndef TCPSTAP_RULES_H
#define TCPSTAP_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "tcpstap/decode.h"
#include "tcpstap/format.h"

struct tstp_rules_config {
	uint64_t conn_rate;		/* conn-rate, connections/s */
	uint64_t retrans_rate;		/* retrans-rate, segments/s on one connection */
	uint64_t host_retrans_rate;	/* host-retrans-rate, segments/s */
	uint64_t close_wait_s;		/* close-wait */
	uint64_t syn_sent_s;		/* syn-sent */
	uint64_t syn_recv_s;		/* syn-recv */
	uint64_t max_conns;		/* max-conns */
	uint64_t max_conns_per_addr;	/* max-conns-per-addr */
	uint64_t slowloris_count;	/* slowloris-count */
	uint64_t slowloris_age_s;	/* slowloris-age */
	uint64_t slowloris_bytes;	/* slowloris-bytes */
	uint64_t listen_overflows;	/* listen-overflows */
	uint64_t repeat_s;		/* repeat: an ongoing condition is alerted again after this long */
	uint64_t table_max;		/* table-max: connections tracked at most */
};

void tstp_rules_config_defaults(struct tstp_rules_config *c);

/* One setting by its name (the long option without "--"); 0, or -1 with a message in err. */
int tstp_rules_config_set(struct tstp_rules_config *c, const char *key, const char *value,
			  char *err, size_t err_size);

/*
 * A config file's text: "key = value" lines, '#' comments, blank lines.
 * name is for messages ("FILE:LINE: ..."). 0, or -1 with a message in err.
 */
int tstp_rules_config_parse(struct tstp_rules_config *c, const char *text, size_t len,
			    const char *name, char *err, size_t err_size);

/* The names of the settings, in order, NULL-terminated (for --help and the man page). */
extern const char *const tstp_rules_setting_names[];

#define TSTP_ALERT_FIELDS 12

/* One alert: the rule, its evidence as named fields and a sentence, a hint. */
struct tstp_alert {
	const char *rule;
	uint64_t ts_ns;			/* producer time of the evidence */
	unsigned nfields;
	struct {
		const char *key;
		int is_text;
		uint64_t num;
		char text[64];
	} field[TSTP_ALERT_FIELDS];
	char message[384];		/* the evidence in words */
	const char *hint;		/* the likely cause */
};

typedef void (*tstp_alert_fn)(const struct tstp_alert *a, const struct tstp_clock *clock, void *ctx);

struct tstp_rules;

struct tstp_rules_counts {
	uint64_t records_used;		/* health records the rules looked at */
	uint64_t alerts;
	uint64_t alerts_by_rule[10];	/* in the order of tstp_rule_names */
	uint64_t conns_tracked;		/* now */
	uint64_t conns_dropped;		/* not tracked: table-max reached */
};

extern const char *const tstp_rule_names[10];

/* NULL when out of memory. */
struct tstp_rules *tstp_rules_new(const struct tstp_rules_config *c, tstp_alert_fn fn, void *ctx);
void tstp_rules_free(struct tstp_rules *r);

/* A decoded record and the clock of its input (for the alert's time). */
void tstp_rules_record(struct tstp_rules *r, const union tstp_record *rec,
		       const struct tstp_clock *clock);

/* End of input: evaluates the time-based rules once more at the last time seen. */
void tstp_rules_finish(struct tstp_rules *r, const struct tstp_clock *clock);

void tstp_rules_counts(const struct tstp_rules *r, struct tstp_rules_counts *out);

/* "TIME ALERT rule | message | hint: ..." and its JSON object, one line each. */
void tstp_format_alert_text(struct tstp_buf *b, struct tstp_format_opts *o,
			    const struct tstp_clock *clock, const struct tstp_alert *a);
void tstp_format_alert_json(struct tstp_buf *b, struct tstp_format_opts *o,
			    const struct tstp_clock *clock, const struct tstp_alert *a);

#endif /* TCPSTAP_RULES_H */
