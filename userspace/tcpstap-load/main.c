// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpstap-load: load a tcpstap module with staprun, supervise it, and print
 * its records as `tcpstap read` does (or write the raw capture to a file).
 *
 * USAGE: tcpstap-load [OPTIONS] MODULE [FILTER EXPRESSION...] [-- name=value ...]
 *        tcpstap-load --help    (options, filter syntax, examples)
 *
 * REQUIREMENTS: root (CAP_SYS_MODULE), staprun of the SystemTap version the
 * module was built with, a module built for the running kernel (vermagic),
 * kprobes, procfs. --dry-run needs none of these.
 *
 * OVERHEAD: the module's handlers; the module disarms itself above --max-cpu
 * of one CPU (default 1%). This process wakes once a second (state poll and
 * heartbeat) plus once per chunk of trace data.
 *
 * SAFETY: stale tcpstap modules of dead loaders are removed first (as by
 * `tcpstap cleanup`); a lock file names this process as the module's owner;
 * a watchdog child removes the module if this process dies in any way
 * (it sees EOF on a pipe only this process holds); the module's dead-man
 * switch disarms its probes when heartbeats stop (--deadman). Every exit
 * path runs the same stop: SIGTERM to staprun, SIGKILL after 5 s, then
 * delete_module(O_NONBLOCK) with bounded retries if it is still loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tcpstap/cli.h"
#include "tcpstap/filter.h"
#include "tcpstap/format.h"
#include "tcpstap/metrics.h"
#include "tcpstap/owner.h"
#include "tcpstap/ring.h"

#define PROG			"tcpstap-load"
#define EXIT_CHECK		1
#define EXIT_USAGE		2
#define EXIT_DISARMED		3
#define EXIT_LOAD_FAILED	4

#define PARAMS_MAX		64
#define STOP_WAIT_MS		5000	/* staprun's clean stop */
#define WATCHDOG_WAIT_MS	2000	/* staprun's exit after we died */
#define WATCHDOG_KILL_WAIT_MS	5000	/* its end after SIGKILL (init_module) */
#define DELETE_RETRIES		25
#define READ_CHUNK		(1u << 16)
#define MODULE_MAX_BYTES	(64u << 20)
#define STDERR_TAIL		4096
#define LOSS_REPORT_SLACK	64	/* records: see on_record() */
#define METRICS_MAX_ENDPOINTS	1024	/* the module holds 128 per role */

int cmd_cleanup(int argc, char **argv);	/* tcpstap/cmd_cleanup.c */

struct load_opts {
	double threshold_ms;	/* -t, < 0: not set */
	double duration_s;	/* -d, 0: until stopped */
	uint64_t count;		/* -c, 0: unlimited */
	const char *write_path;	/* -w, "-": raw records to stdout */
	double ring_s;		/* --ring, 0: off */
	double ring_after_s;	/* --ring-after, < 0: default */
	double trigger_ms;	/* --trigger-ms, 0: no slow-exchange trigger */
	uint64_t ring_mem_mb;	/* --ring-mem */
	const char *capture_dir;	/* --capture-dir */
	const char *metrics_dir;	/* --metrics-dir, NULL: --no-metrics */
	uint64_t max_captures;	/* --max-captures */
	int json;
	int utc;
	int quiet;
	int dry_run;
	uint64_t stats_interval;	/* 0: module default */
	const char *max_cpu_arg;	/* as given, for messages */
	uint64_t max_cpu_ppm;
	int have_max_events;
	uint64_t max_events;
	uint64_t sample;		/* 0: module default */
	uint64_t deadman_s;
	const char *release;	/* --kernel-release: lookup only */
	const char *module_arg;
	int nfilter;
	char **filter;
	int npass;
	char **pass;
};

/* Everything the one cleanup path may have to undo. */
struct loader {
	struct load_opts o;
	char name[TSTP_MODNAME_MAX];
	char ko[TSTP_PATH_MAX];
	char searched[4200];	/* where a bare MODULE name was looked for */
	char *image;		/* the .ko, for its vermagic and parameters; NULL if unreadable */
	size_t image_len;
	int image_errno;
	char params[PARAMS_MAX][TSTP_PARAM_MAX];
	size_t nparams;
	unsigned budget_window_s;
	char uname_release[256];
	int locked;
	pid_t watchdog;
	int wd_fd;		/* write end of the watchdog pipe */
	pid_t staprun;
	int staprun_status;	/* valid when staprun_reaped */
	int staprun_reaped;
	int out_fd, err_fd;	/* staprun's stdout and stderr pipes */
	int sig_fd;
	int write_fd;		/* -w FILE */
	int module_up;
	int stop_requested;
	const char *stop_why;
	int have_stats;
	struct tstp_stats last_stats;
	struct tstp_format_opts fmt;
	char line[TSTP_LINE_MAX];
	uint64_t exchanges_seen;
	int output_failed;
	struct tstp_decoder dec;
	/* --ring */
	struct tstp_ring ring;
	int capture_fd;		/* a capture being written, else -1 */
	char capture_path[TSTP_PATH_MAX];
	int64_t capture_end_ms;
	uint64_t capture_before, capture_after;	/* records written */
	uint64_t captures;		/* files written */
	uint64_t triggers_merged;	/* fired while a capture was being written */
	uint64_t triggers_over_max;	/* fired after --max-captures files */
	uint64_t ring_write_errors;
	uint64_t capture_merged;	/* triggers inside the capture being written */
	uint64_t lost_reported;		/* records lost by sequence, as last reported */
	char err_line[512];		/* staprun's stderr, the line being assembled */
	size_t err_line_len;
	long long stap_skipped, stap_transport_failures;	/* -1: not reported */
	/* metrics for `tcpstap exporter` */
	struct tstp_stats_table latency;
	int latency_ok;			/* the table could be allocated */
	char metrics_path[TSTP_PATH_MAX];
	int metrics_written;
	int metrics_failed;		/* warned once */
};

static void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return EXIT_USAGE;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [OPTIONS] MODULE [FILTER EXPRESSION...] [-- name=value ...]\n\n"
		"Load a tcpstap SystemTap module with staprun, keep it supervised, and print\n"
		"each request/response exchange as 'tcpstap read' does. MODULE is a .ko path\n"
		"or a name (latency, tcpstap_latency) looked up in <repo>/prebuilt/$(uname -r)/\n"
		"and " TSTP_SYSTEM_MODULE_DIR "/$(uname -r)/.\n\n"
		"Options:\n"
		"  -t, --threshold MS      emit exchanges of at least MS ms; faster ones only go\n"
		"                          to the in-kernel histograms (threshold_us)\n"
		"  -d, --duration S        stop S seconds after the module is up\n"
		"  -c, --count N           stop after N exchange records\n"
		"  -w, --write FILE        write the raw capture to FILE instead of printing\n"
		"                          (read it later with tcpstap read FILE; - is stdout)\n"
		"  -j, --json              JSON lines instead of text\n"
		"  -u, --utc               text times in UTC\n"
		"      --stats-interval S  summary records every S seconds (interval_s)\n"
		"      --max-cpu PCT       disarm the probes above PCT%% of one CPU (default 1)\n"
		"      --max-events N      at most N exchange records per second (0: no limit)\n"
		"      --sample N          trace one socket in N\n"
		"      --deadman S         probes disarm when no heartbeat came for S s\n"
		"                          (default 10; 0 turns the dead-man switch off)\n"
		"      --kernel-release R  look MODULE up for release R (with --dry-run)\n\n"
		"On-demand jitter capture (nothing is printed until a trigger fires):\n"
		"      --ring S            keep the last S seconds of records in memory\n"
		"      --trigger-ms MS     trigger on an exchange of at least MS ms\n"
		"                          (SIGUSR1 and 'tcpstap trigger' always trigger)\n"
		"      --ring-after S      keep recording S s after the trigger (default:\n"
		"                          the smaller of --ring and 5)\n"
		"      --capture-dir DIR   where capture files go (default: .)\n"
		"      --ring-mem MB       memory bound of the ring (default 64)\n"
		"      --max-captures N    files written at most (default 20); later\n"
		"                          triggers are counted\n\n"
		"Metrics for 'tcpstap exporter' (Prometheus text, rewritten every interval):\n"
		"      --metrics-dir DIR   write DIR/MODULE.prom (default " TSTP_METRICS_DIR ")\n"
		"      --no-metrics        do not write it\n\n"
		"  -q, --quiet             no notes on stderr (errors and warnings stay)\n"
		"  -n, --dry-run           print the staprun command and exit; no root needed\n"
		"  -h, --help              this help\n\n"
		"FILTER (a tcpdump subset):\n"
		"  " TSTP_FILTER_SUPPORTED "\n"
		"  'host A and port 1 or port 2' means host A and (port 1 or port 2).\n"
		"  Ports and addresses match at either end of a connection.\n\n"
		"Parameters after -- are passed to the module as given (see tcpstap_latency(8)).\n"
		"Exit status: 0 clean stop, 1 a check failed, 2 usage or filter error,\n"
		"3 the module disarmed itself, 4 staprun could not load the module.\n\n"
		"EXAMPLES:\n"
		"  " PROG " --dry-run latency tcp port 6379          # what would be run\n"
		"  sudo " PROG " latency port 6379                   # every Redis exchange\n"
		"  sudo " PROG " -t 10 latency host 10.0.0.2 and port 3306   # 10 ms or slower\n"
		"  sudo " PROG " -d 60 -w redis.tstp latency port 6379       # one minute to a file\n"
		"  sudo " PROG " --json -c 100 latency port 80 or port 443   # 100 records, JSON\n"
		"  sudo " PROG " --max-cpu 0.5 latency port 6379 -- max_sockets=4096\n"
		"  sudo " PROG " --ring 30 --trigger-ms 80 latency port 6379  # catch a rare stall\n"
		"  sudo " PROG " -w - connect | tcpstap watch                 # raw records to a pipe\n");
}

static int parse_opts(int argc, char **argv, struct load_opts *o)
{
	enum { OPT_STATS = 256, OPT_MAXCPU, OPT_MAXEV, OPT_SAMPLE, OPT_DEADMAN, OPT_RELEASE,
	       OPT_RING, OPT_RING_AFTER, OPT_TRIGGER, OPT_CAPDIR, OPT_RINGMEM, OPT_MAXCAP,
	       OPT_METRICS_DIR, OPT_NO_METRICS };
	static const struct option longopts[] = {
		{ "threshold",		required_argument,	NULL, 't' },
		{ "duration",		required_argument,	NULL, 'd' },
		{ "count",		required_argument,	NULL, 'c' },
		{ "write",		required_argument,	NULL, 'w' },
		{ "json",		no_argument,		NULL, 'j' },
		{ "utc",		no_argument,		NULL, 'u' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "dry-run",		no_argument,		NULL, 'n' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "stats-interval",	required_argument,	NULL, OPT_STATS },
		{ "max-cpu",		required_argument,	NULL, OPT_MAXCPU },
		{ "max-events",		required_argument,	NULL, OPT_MAXEV },
		{ "sample",		required_argument,	NULL, OPT_SAMPLE },
		{ "deadman",		required_argument,	NULL, OPT_DEADMAN },
		{ "kernel-release",	required_argument,	NULL, OPT_RELEASE },
		{ "ring",		required_argument,	NULL, OPT_RING },
		{ "ring-after",		required_argument,	NULL, OPT_RING_AFTER },
		{ "trigger-ms",		required_argument,	NULL, OPT_TRIGGER },
		{ "capture-dir",	required_argument,	NULL, OPT_CAPDIR },
		{ "ring-mem",		required_argument,	NULL, OPT_RINGMEM },
		{ "max-captures",	required_argument,	NULL, OPT_MAXCAP },
		{ "metrics-dir",	required_argument,	NULL, OPT_METRICS_DIR },
		{ "no-metrics",		no_argument,		NULL, OPT_NO_METRICS },
		{ NULL, 0, NULL, 0 },
	};
	int dd = argc, c;
	double d;

	memset(o, 0, sizeof(*o));
	o->threshold_ms = -1;
	o->max_cpu_arg = "1";
	o->max_cpu_ppm = 10000;
	o->deadman_s = 10;
	o->ring_after_s = -1;
	o->ring_mem_mb = 64;
	o->capture_dir = ".";
	o->max_captures = 20;
	o->metrics_dir = TSTP_METRICS_DIR;
	/* Everything after the first "--" is module parameters. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	o->pass = argv + (dd < argc ? dd + 1 : argc);
	o->npass = dd < argc ? argc - dd - 1 : 0;
	while ((c = getopt_long(dd, argv, "t:d:c:w:juqnh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (tstp_parse_double(optarg, 0, 1e6, &o->threshold_ms) != 0)
				return usage_error("-t %s: not a number of milliseconds in [0, 1e6]", optarg);
			break;
		case 'd':
			if (tstp_parse_double(optarg, 0.001, 1e7, &o->duration_s) != 0)
				return usage_error("-d %s: not a number of seconds in [0.001, 1e7]", optarg);
			break;
		case 'c':
			if (tstp_parse_u64(optarg, 1, UINT64_MAX, &o->count) != 0)
				return usage_error("-c %s: not a count of at least 1", optarg);
			break;
		case 'w':
			if (!*optarg)
				return usage_error("-w: empty file name");
			o->write_path = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'u':
			o->utc = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'n':
			o->dry_run = 1;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case OPT_STATS:
			if (tstp_parse_u64(optarg, 1, 86400, &o->stats_interval) != 0)
				return usage_error("--stats-interval %s: not a number of seconds in [1, 86400]", optarg);
			break;
		case OPT_MAXCPU:
			if (tstp_parse_double(optarg, 0.0001, 100, &d) != 0)
				return usage_error("--max-cpu %s: not a percentage of one CPU in [0.0001, 100]", optarg);
			o->max_cpu_arg = optarg;
			o->max_cpu_ppm = (uint64_t)llround(d * 10000);
			break;
		case OPT_MAXEV:
			if (tstp_parse_u64(optarg, 0, 1000000000, &o->max_events) != 0)
				return usage_error("--max-events %s: not a count in [0, 1000000000]", optarg);
			o->have_max_events = 1;
			break;
		case OPT_SAMPLE:
			if (tstp_parse_u64(optarg, 1, 1000000, &o->sample) != 0)
				return usage_error("--sample %s: not a ratio in [1, 1000000]", optarg);
			break;
		case OPT_DEADMAN:
			if (tstp_parse_u64(optarg, 0, 86400, &o->deadman_s) != 0 || o->deadman_s == 1)
				return usage_error("--deadman %s: not 0 (off) or a number of seconds in [2, 86400]", optarg);
			break;
		case OPT_RELEASE:
			if (!*optarg || strchr(optarg, '/'))
				return usage_error("--kernel-release %s: not a kernel release", optarg);
			o->release = optarg;
			break;
		case OPT_RING:
			if (tstp_parse_double(optarg, 0.1, 3600, &o->ring_s) != 0)
				return usage_error("--ring %s: not a number of seconds in [0.1, 3600]", optarg);
			break;
		case OPT_RING_AFTER:
			if (tstp_parse_double(optarg, 0, 3600, &o->ring_after_s) != 0)
				return usage_error("--ring-after %s: not a number of seconds in [0, 3600]", optarg);
			break;
		case OPT_TRIGGER:
			if (tstp_parse_double(optarg, 0.001, 1e6, &o->trigger_ms) != 0)
				return usage_error("--trigger-ms %s: not a number of milliseconds in [0.001, 1e6]", optarg);
			break;
		case OPT_CAPDIR:
			if (!*optarg)
				return usage_error("--capture-dir: empty directory name");
			o->capture_dir = optarg;
			break;
		case OPT_RINGMEM:
			if (tstp_parse_u64(optarg, 1, 65536, &o->ring_mem_mb) != 0)
				return usage_error("--ring-mem %s: not a number of MB in [1, 65536]", optarg);
			break;
		case OPT_MAXCAP:
			if (tstp_parse_u64(optarg, 1, 100000, &o->max_captures) != 0)
				return usage_error("--max-captures %s: not a count in [1, 100000]", optarg);
			break;
		case OPT_METRICS_DIR:
			if (!*optarg)
				return usage_error("--metrics-dir: empty directory name");
			o->metrics_dir = optarg;
			break;
		case OPT_NO_METRICS:
			o->metrics_dir = NULL;
			break;
		default:
			return usage_error("invalid option");
		}
	}
	if (!o->ring_s && (o->trigger_ms || o->ring_after_s >= 0))
		return usage_error("--trigger-ms and --ring-after need --ring SECONDS");
	if (o->ring_s && o->threshold_ms >= 0)
		return usage_error("--ring keeps every exchange as context for a trigger: use "
				   "--trigger-ms instead of -t");
	if (o->ring_s && o->ring_after_s < 0)
		o->ring_after_s = o->ring_s < 5 ? o->ring_s : 5;
	if (optind >= dd)
		return usage_error("no MODULE given");
	o->module_arg = argv[optind];
	o->filter = argv + optind + 1;
	o->nfilter = dd - optind - 1;
	for (int i = 0; i < o->npass; i++) {
		const char *eq = strchr(o->pass[i], '=');
		size_t n = eq ? (size_t)(eq - o->pass[i]) : 0;

		if (!eq || n == 0 || strspn(o->pass[i], "abcdefghijklmnopqrstuvwxyz0123456789_") != n ||
		    strlen(o->pass[i]) >= TSTP_PARAM_MAX)
			return usage_error("module parameter '%s': not name=value", o->pass[i]);
	}
	return 0;
}

/* Sets name=value, replacing an earlier value of the same name. */
static int set_param(struct loader *l, const char *nv)
{
	size_t n = strcspn(nv, "=");

	for (size_t i = 0; i < l->nparams; i++)
		if (strncmp(l->params[i], nv, n) == 0 && l->params[i][n] == '=') {
			snprintf(l->params[i], TSTP_PARAM_MAX, "%s", nv);
			return 0;
		}
	if (l->nparams == PARAMS_MAX)
		return -1;
	snprintf(l->params[l->nparams++], TSTP_PARAM_MAX, "%s", nv);
	return 0;
}

static int set_param_u64(struct loader *l, const char *name, uint64_t v)
{
	char p[TSTP_PARAM_MAX];

	snprintf(p, sizeof(p), "%s=%llu", name, (unsigned long long)v);
	return set_param(l, p);
}

/* Whether the module declares NAME; a module we could not read is not asked. */
static int module_has_param(const struct loader *l, const char *name)
{
	return !l->image || tstp_elf_modinfo_has_param(l->image, l->image_len, name);
}

/*
 * A parameter for an option the user gave (NULL: given after --): a module
 * without it cannot do what was asked, so that is a usage error naming both.
 */
static int set_option_param(struct loader *l, const char *option, const char *nv)
{
	char name[TSTP_PARAM_MAX];

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(nv, "="), nv);
	if (!module_has_param(l, name)) {
		if (option)
			err_msg("%s: %s has no '%s' parameter, so it cannot do what %s asks: "
				"leave %s out for this module (its parameters: modinfo -p %s)",
				option, l->name, name, option, option, l->ko);
		else
			err_msg("module parameter '%s': %s has no parameter '%s' (its parameters: "
				"modinfo -p %s)", nv, l->name, name, l->ko);
		return EXIT_USAGE;
	}
	return set_param(l, nv) ? EXIT_USAGE : 0;
}

static int set_option_u64(struct loader *l, const char *option, const char *name, uint64_t v)
{
	char p[TSTP_PARAM_MAX];

	snprintf(p, sizeof(p), "%s=%llu", name, (unsigned long long)v);
	return set_option_param(l, option, p);
}

static int build_params(struct loader *l)
{
	char fparams[TSTP_FILTER_PARAMS_MAX][TSTP_PARAM_MAX], err[TSTP_ERR_MAX];
	struct tstp_filter f;
	size_t n;
	int ret = 0;

	if (tstp_filter_parse(l->o.nfilter, l->o.filter, &f, err, sizeof(err)) != 0) {
		err_msg("%s", err);
		return EXIT_USAGE;
	}
	/* The guards are what make a module safe to leave to this loader. */
	if (!module_has_param(l, "deadman_s") || !module_has_param(l, "max_cpu_ppm")) {
		err_msg("%s: %s has no dead-man switch or CPU budget (no deadman_s/max_cpu_ppm "
			"parameter): " PROG " only loads modules with tcpstap's guards; use a module "
			"from stap/ built by 'make prebuilt'", l->name, l->ko);
		return EXIT_CHECK;
	}
	n = tstp_filter_params(&f, fparams, TSTP_FILTER_PARAMS_MAX);
	for (size_t i = 0; i < n && !ret; i++)
		ret = set_option_param(l, "the filter expression", fparams[i]);
	if (!ret && l->o.threshold_ms >= 0)
		ret = set_option_u64(l, "-t", "threshold_us", (uint64_t)llround(l->o.threshold_ms * 1000));
	if (!ret && l->o.ring_s && module_has_param(l, "threshold_us"))
		ret = set_param_u64(l, "threshold_us", 0) ? EXIT_USAGE : 0;
	if (!ret && l->o.sample)
		ret = set_option_u64(l, "--sample", "sample", l->o.sample);
	if (!ret && l->o.have_max_events)
		ret = set_option_u64(l, "--max-events", "max_events", l->o.max_events);
	if (!ret && l->o.stats_interval)
		ret = set_option_u64(l, "--stats-interval", "interval_s", l->o.stats_interval);
	if (!ret && (set_param_u64(l, "deadman_s", l->o.deadman_s) ||
		     set_param_u64(l, "max_cpu_ppm", l->o.max_cpu_ppm)))
		ret = EXIT_USAGE;
	l->budget_window_s = 5;
	for (int i = 0; i < l->o.npass && !ret; i++) {
		uint64_t v;

		ret = set_option_param(l, NULL, l->o.pass[i]);
		if (strncmp(l->o.pass[i], "budget_window_s=", 16) == 0 &&
		    tstp_parse_u64(l->o.pass[i] + 16, 1, 86400, &v) == 0)
			l->budget_window_s = (unsigned)v;
		if (strncmp(l->o.pass[i], "deadman_s=", 10) == 0 && !l->o.quiet)
			err_msg("note: %s given after --: the dead-man switch follows it, "
				"heartbeats are still sent", l->o.pass[i]);
	}
	if (ret == EXIT_USAGE && l->nparams == PARAMS_MAX)
		err_msg("module parameters: more than %d", PARAMS_MAX);
	return ret;
}

/* ---- checks ---- */

static int file_contains_line_word(const char *path, const char *word)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, wl = strlen(word);
	ssize_t n;
	int found = 0;

	if (!f)
		return -1;
	/* kallsyms: "addr type name [module]" */
	while (!found && (n = getline(&line, &cap, f)) > 0) {
		char *p = strrchr(line, ' ');

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		p = strchr(line, ' ');
		p = p ? strchr(p + 1, ' ') : NULL;
		if (p && strncmp(p + 1, word, wl) == 0 && (p[1 + wl] == '\0' || p[1 + wl] == '\t' || p[1 + wl] == ' '))
			found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

static int is_mountpoint(const char *path)
{
	struct stat a, b;
	char parent[TSTP_PATH_MAX];

	if (stat(path, &a) != 0 || !S_ISDIR(a.st_mode))
		return 0;
	snprintf(parent, sizeof(parent), "%s/..", path);
	if (stat(parent, &b) != 0)
		return 0;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

/* Runs argv, returns its stdout+stderr (at most size-1 bytes) in buf; exit status or -1. */
static int run_capture(char *const argv[], char *buf, size_t size)
{
	int p[2], status;
	size_t len = 0;
	pid_t pid;

	buf[0] = '\0';
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = len + 1 < size ? read(p[0], buf + len, size - 1 - len) : 0;
		char sink[512];

		if (len + 1 >= size)
			n = read(p[0], sink, sizeof(sink));	/* drain, keep the head */
		else if (n > 0)
			len += (size_t)n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
	}
	buf[len] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[TSTP_PATH_MAX];

	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n && (size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog) < sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/*
 * Some staprun builds (Debian's 4.8) print no version for -V: ask the
 * package manager which systemtap-runtime is installed ("4.8-2" -> "4.8").
 */
static void staprun_package_version(char *ver, size_t size)
{
	char *dpkg[] = { "dpkg-query", "-W", "-f", "${Version}", "systemtap-runtime", NULL };
	char *rpm[] = { "rpm", "-q", "--qf", "%{VERSION}", "systemtap-runtime", NULL };
	char out[256];
	size_t n;

	*ver = '\0';
	if (!(in_path("dpkg-query") && run_capture(dpkg, out, sizeof(out)) == 0 && *out) &&
	    !(in_path("rpm") && run_capture(rpm, out, sizeof(out)) == 0 && *out))
		return;
	n = strcspn(out, "-+~ \n");
	if (n == 0 || n >= size || strchr("0123456789", out[0]) == NULL)
		return;
	memcpy(ver, out, n);
	ver[n] = '\0';
}

/* MANIFEST next to the module: its systemtap_version, or "" when none. */
static void manifest_version(const char *ko, char *out, size_t size)
{
	char path[TSTP_PATH_MAX], *buf = NULL;
	const char *slash = strrchr(ko, '/');
	size_t len;

	out[0] = '\0';
	if (slash)
		snprintf(path, sizeof(path), "%.*s/MANIFEST", (int)(slash - ko), ko);
	else
		snprintf(path, sizeof(path), "MANIFEST");
	if (tstp_read_small_file(path, 1u << 20, &buf, &len) == 0 &&
	    tstp_manifest_get(buf, len, "systemtap_version", out, size) != 0)
		out[0] = '\0';
	free(buf);
}

/*
 * The checks before loading. In a dry run they are notes and the result is 0;
 * otherwise the first failure is printed and EXIT_CHECK returned.
 */
static int run_checks(struct loader *l)
{
	char vermagic[256], mver[64], sver[64] = "", out[1024];
	int dry = l->o.dry_run, failed = 0;

#define CHECK_FAIL(...)							\
	do {								\
		if (dry) {						\
			fprintf(stderr, PROG ": dry run: would fail: ");	\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			failed = 1;					\
		} else {						\
			err_msg(__VA_ARGS__);				\
			return EXIT_CHECK;				\
		}							\
	} while (0)

	if (!dry && geteuid() != 0)
		CHECK_FAIL("loading kernel modules: needs root (CAP_SYS_MODULE), running as uid %d: "
			   "run as root (sudo " PROG " ...), or use --dry-run to see the command",
			   (int)geteuid());
	if (access("/proc/self", F_OK) != 0)
		CHECK_FAIL("/proc: procfs is not mounted: mount it (mount -t proc proc /proc); "
			   "SystemTap's control files live there");
	if (access("/proc/modules", F_OK) != 0)
		CHECK_FAIL("/proc/modules: missing: this kernel cannot load modules "
			   "(CONFIG_MODULES off or no procfs): trace on a kernel with module support");
	if (!l->image) {
		CHECK_FAIL("module %s: %s%s: build it with 'make prebuilt KVERS=%s' on a build host "
			   "with that kernel's headers and the same SystemTap, or give the path of a .ko",
			   l->ko, strerror(l->image_errno), l->searched,
			   l->o.release ? l->o.release : l->uname_release);
	} else if (tstp_elf_modinfo_get(l->image, l->image_len, "vermagic", vermagic, sizeof(vermagic)) != 0) {
		CHECK_FAIL("module %s: no vermagic in its .modinfo section: not a kernel module; "
			   "rebuild it with 'make prebuilt KVERS=%s'", l->ko, l->uname_release);
	} else if (!tstp_vermagic_matches(vermagic, l->uname_release)) {
		CHECK_FAIL("module %s: built for kernel %.*s, this kernel is %s: build it with "
			   "'make prebuilt KVERS=%s' on a build host with that kernel's headers and the "
			   "same SystemTap version", l->ko, (int)strcspn(vermagic, " "), vermagic,
			   l->uname_release, l->uname_release);
	}
	manifest_version(l->ko, mver, sizeof(mver));
	if (!in_path("staprun")) {
		CHECK_FAIL("staprun: not found in PATH: install systemtap-runtime%s%s (it provides staprun)",
			   *mver ? " of version " : "", mver);
	} else if (*mver) {
		char *argv[] = { "staprun", "-V", NULL };

		(void)run_capture(argv, out, sizeof(out));
		if (tstp_staprun_version_parse(out, strlen(out), sver, sizeof(sver)) != 0)
			staprun_package_version(sver, sizeof(sver));
		if (!*sver)
			err_msg("warning: staprun -V: version not found in its output: "
				"cannot check it against SystemTap %s of the module's MANIFEST", mver);
		else if (strcmp(sver, mver) != 0)
			CHECK_FAIL("staprun is SystemTap %s, the module was built with SystemTap %s "
				   "(MANIFEST): install systemtap-runtime of version %s, or rebuild the "
				   "module with SystemTap %s", sver, mver, mver, sver);
	}
	if (access(TSTP_DEBUGFS_ROOT "/kprobes", F_OK) != 0 &&
	    file_contains_line_word("/proc/kallsyms", "register_kprobe") != 1)
		CHECK_FAIL("kprobes: not available (no " TSTP_DEBUGFS_ROOT "/kprobes and no "
			   "register_kprobe in /proc/kallsyms): use a kernel built with CONFIG_KPROBES=y");
	if (l->o.ring_s && access(l->o.capture_dir, W_OK | X_OK) != 0)
		CHECK_FAIL("--capture-dir %s: %s: triggered captures could not be written; create it "
			   "or choose another directory", l->o.capture_dir, strerror(errno));
	if (!is_mountpoint(TSTP_DEBUGFS_ROOT) && !l->o.quiet)
		err_msg("warning: %s: debugfs is not mounted (SystemTap 4.8 uses procfs, older "
			"ones need it: mount -t debugfs none %s)", TSTP_DEBUGFS_ROOT, TSTP_DEBUGFS_ROOT);
	{
		struct tstp_lock_error lerr;
		struct tstp_lock lock;
		enum tstp_owner owner = tstp_lock_check_at(NULL, TSTP_LOCK_DIR, l->name, &lock, &lerr);

		if (owner == TSTP_OWNER_LIVE)
			CHECK_FAIL("%s: already traced by pid %d (%s): stop that one first "
				   "(kill %d), one loader per module", l->name, (int)lock.pid,
				   lerr.owner_comm, (int)lock.pid);
		else if (owner == TSTP_OWNER_UNKNOWN)
			CHECK_FAIL("%s: %s: remove the lock file if no loader runs", l->name, lerr.msg);
	}
#undef CHECK_FAIL
	(void)failed;
	return 0;
}

/* ---- stale cleanup: `tcpstap cleanup` in a child, its lines on our stderr ---- */

static void stale_cleanup(const struct loader *l)
{
	int p[2], status;
	pid_t pid;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	fflush(NULL);
	if (pipe2(p, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
		err_msg("cleanup: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		char *argv[] = { "cleanup", NULL };

		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		optind = 0;
		_exit(cmd_cleanup(1, argv));
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	if (!f) {
		close(p[0]);
	} else {
		while ((n = getline(&line, &cap, f)) > 0)
			if (!l->o.quiet || strncmp(line, "no ", 3) != 0)
				fprintf(stderr, PROG ": cleanup: %s%s", line, line[n - 1] == '\n' ? "" : "\n");
		fclose(f);
	}
	free(line);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* ---- module removal, shared by the watchdog and the stop path ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int module_loaded(const char *name)
{
	static struct tstp_module m[64];	/* modules whose name starts with ours */
	char *buf = NULL;
	size_t len, n;
	int found = 0;

	if (tstp_read_small_file("/proc/modules", 16u << 20, &buf, &len) != 0)
		return 0;
	n = tstp_modules_parse(buf, len, name, m, 64, NULL);
	for (size_t i = 0; i < n && i < 64; i++)
		found |= strcmp(m[i].name, name) == 0;
	free(buf);
	return found;
}

/* delete_module(O_NONBLOCK), bounded retries, never forced: 0 or an errno. */
static int remove_module(const char *name)
{
	unsigned tries;
	int e = tstp_module_remove(name, DELETE_RETRIES, &tries);

	return e == ENOENT ? 0 : e;
}

/* ---- watchdog ---- */

/* Same pid and start time, not a zombie: still the staprun we started. */
static int staprun_alive(pid_t pid, unsigned long long starttime)
{
	struct tstp_proc_stat st;

	return tstp_proc_stat_read(NULL, pid, &st) == 0 && st.state != 'Z' &&
	       (starttime == 0 || st.starttime == starttime);
}

/*
 * Messages from the loader, one line each: "S <pid> <starttime>" when staprun
 * was started, "D" when the loader cleaned up itself. EOF without "D": the
 * loader died; stop staprun, remove the module it loaded, remove the lock.
 */
static void watchdog_main(const char *name, int rfd)
{
	char buf[256];
	size_t len = 0;
	int done = 0;
	pid_t sp = 0;
	unsigned long long sp_start = 0;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	setsid();
	for (;;) {
		ssize_t n = read(rfd, buf + len, sizeof(buf) - 1 - len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			if (buf[0] == 'D')
				done = 1;
			else if (buf[0] == 'S' && sscanf(buf, "S %d %llu", &sp, &sp_start) != 2)
				sp = 0;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			len = 0;
	}
	if (done)
		_exit(0);
	if (sp > 0) {
		int waited = 0;

		/* staprun unloads the module itself on SIGTERM: give it a moment. */
		kill(sp, SIGTERM);
		while (staprun_alive(sp, sp_start) && waited < WATCHDOG_WAIT_MS) {
			sleep_ms(100);
			waited += 100;
		}
		/*
		 * A staprun killed inside init_module() lives on until the
		 * module's init returns, and the module is loaded after that:
		 * wait (bounded) until it is gone before looking for the module.
		 */
		if (staprun_alive(sp, sp_start))
			kill(sp, SIGKILL);
		for (waited = 0; staprun_alive(sp, sp_start) && waited < WATCHDOG_KILL_WAIT_MS; waited += 50)
			sleep_ms(50);
		if (module_loaded(name)) {
			int e = remove_module(name);

			fprintf(stderr, PROG ": watchdog: loader died: %s %s%s%s\n",
				e ? "could not remove" : "removed", name, e ? ": " : "", e ? strerror(e) : "");
		}
	}
	{
		struct tstp_lock_error lerr;

		/* The dead loader's lock is stale: take it over, then drop it. */
		if (tstp_lock_acquire(TSTP_LOCK_DIR, name, &lerr) == 0)
			(void)tstp_lock_release(TSTP_LOCK_DIR, name, &lerr);
	}
	_exit(0);
}

static int start_watchdog(struct loader *l, const sigset_t *old_mask)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		err_msg("watchdog: pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err_msg("watchdog: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		if (l->sig_fd >= 0)
			close(l->sig_fd);
		sigprocmask(SIG_SETMASK, old_mask, NULL);
		watchdog_main(l->name, p[0]);
	}
	close(p[0]);
	l->watchdog = pid;
	l->wd_fd = p[1];
	return 0;
}

static void watchdog_say(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void watchdog_say(struct loader *l, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	if (l->wd_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(l->wd_fd, buf, (size_t)n) != n)
		err_msg("watchdog: %s", strerror(errno));
}

/* ---- staprun ---- */

static int start_staprun(struct loader *l, const sigset_t *old_mask)
{
	int out[2], err[2];
	char *argv[PARAMS_MAX + 4];
	struct tstp_proc_stat st;
	size_t a = 0;
	pid_t parent = getpid(), pid;

	if (pipe2(out, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) != 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	argv[a++] = "staprun";
	argv[a++] = l->ko;
	for (size_t i = 0; i < l->nparams; i++)
		argv[a++] = l->params[i];
	argv[a] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(out[0]); close(out[1]); close(err[0]); close(err[1]);
		return -1;
	}
	if (pid == 0) {
		/* staprun stops cleanly (and unloads) when we die. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		sigprocmask(SIG_SETMASK, old_mask, NULL);
		execvp("staprun", argv);
		fprintf(stderr, PROG ": staprun: %s\n", strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	l->staprun = pid;
	l->out_fd = out[0];
	l->err_fd = err[0];
	if (tstp_proc_stat_read(NULL, pid, &st) == 0)
		watchdog_say(l, "S %d %llu\n", (int)pid, (unsigned long long)st.starttime);
	else
		watchdog_say(l, "S %d 0\n", (int)pid);
	return 0;
}

/* ---- --ring: triggered captures ---- */

static int64_t now_ms(void);

static int write_all(int fd, const void *data, size_t n)
{
	const uint8_t *p = data;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A record's bytes as kept: a newer producer's longer record is cut to the fields we know. */
static size_t record_kept(const union tstp_record *rec, union tstp_record *out)
{
	*out = *rec;
	if (out->hdr.length > sizeof(*out))
		out->hdr.length = (uint16_t)(sizeof(*out) & ~(size_t)7);
	return out->hdr.length;
}

static void capture_abandon(struct loader *l, int e)
{
	err_msg("capture: %s: %s: capture abandoned (%llu records were written)", l->capture_path,
		strerror(e), (unsigned long long)(l->capture_before + l->capture_after));
	l->ring_write_errors++;
	close(l->capture_fd);
	l->capture_fd = -1;
}

static void capture_finish(struct loader *l, const char *why)
{
	if (l->capture_fd < 0)
		return;
	if (close(l->capture_fd) != 0) {
		err_msg("capture: %s: %s", l->capture_path, strerror(errno));
		l->ring_write_errors++;
	} else {
		err_msg("capture: wrote %s: %llu records before the trigger, %llu after, %llu more "
			"triggers inside it%s; read it with: tcpstap read %s", l->capture_path,
			(unsigned long long)l->capture_before, (unsigned long long)l->capture_after,
			(unsigned long long)l->capture_merged, why, l->capture_path);
	}
	l->capture_fd = -1;
	l->captures++;
}

/* Starts a capture file: CAPTURE record, then the ring (the window before). */
static void trigger(struct loader *l, unsigned reason, uint64_t ts_ns)
{
	struct tstp_capture c;
	const uint8_t *a, *b;
	size_t alen, blen;
	char stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	int e;

	if (l->capture_fd >= 0) {
		l->triggers_merged++;
		l->capture_merged++;
		return;
	}
	if (l->captures >= l->o.max_captures) {
		if (l->triggers_over_max++ == 0)
			err_msg("trigger (%s): --max-captures %llu files written already: later "
				"triggers are only counted", tstp_trigger_name(reason),
				(unsigned long long)l->o.max_captures);
		return;
	}
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
	snprintf(l->capture_path, sizeof(l->capture_path), "%s/%s-%s-%llu.tstp", l->o.capture_dir,
		 l->name, stamp, (unsigned long long)l->captures + 1);
	l->capture_fd = open(l->capture_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (l->capture_fd < 0) {
		err_msg("capture: %s: %s: trigger (%s) lost", l->capture_path, strerror(errno),
			tstp_trigger_name(reason));
		l->ring_write_errors++;
		return;
	}
	memset(&c, 0, sizeof(c));
	c.hdr = (struct tstp_hdr){ .magic = TSTP_MAGIC, .version = TSTP_VERSION,
				   .type = TSTP_REC_CAPTURE, .length = sizeof(c), .ts_ns = ts_ns };
	if (l->dec.clock.have_anchor)
		c.realtime_ns = l->dec.clock.anchor_real_ns + (ts_ns - l->dec.clock.anchor_mono_ns);
	c.reason = reason;
	c.trigger_us = (uint32_t)llround(l->o.trigger_ms * 1000);
	c.before_ms = (uint32_t)llround(l->o.ring_s * 1000);
	c.after_ms = (uint32_t)llround(l->o.ring_after_s * 1000);
	c.ring_evicted = tstp_ring_take_evicted(&l->ring);
	tstp_ring_pieces(&l->ring, &a, &alen, &b, &blen);
	l->capture_before = l->ring.records;
	l->capture_after = 0;
	l->capture_merged = 0;
	if ((e = write_all(l->capture_fd, &c, sizeof(c))) != 0 ||
	    (e = write_all(l->capture_fd, a, alen)) != 0 || (e = write_all(l->capture_fd, b, blen)) != 0) {
		capture_abandon(l, e);
		return;
	}
	l->capture_end_ms = now_ms() + (int64_t)llround(l->o.ring_after_s * 1000);
	if (!l->o.quiet)
		err_msg("trigger (%s): %llu records of the last %g s kept; recording %g s more into %s%s",
			tstp_trigger_name(reason), (unsigned long long)l->capture_before, l->o.ring_s,
			l->o.ring_after_s, l->capture_path,
			c.ring_evicted ? " (the ring's memory bound dropped older records: raise --ring-mem)" : "");
}

/* Every record in --ring mode: into the ring, and into a capture being written. */
static void ring_record(struct loader *l, const union tstp_record *rec)
{
	union tstp_record kept;
	size_t len = record_kept(rec, &kept);
	int e;

	(void)tstp_ring_push(&l->ring, &kept, len);
	if (l->capture_fd < 0)
		return;
	if ((e = write_all(l->capture_fd, &kept, len)) != 0)
		capture_abandon(l, e);
	else
		l->capture_after++;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- metrics for `tcpstap exporter` ---- */

/* Rewrites DIR/MODULE.prom atomically (temporary file, rename); failures warn once. */
static void write_metrics(struct loader *l)
{
	char tmp[TSTP_PATH_MAX + 32];
	struct tstp_metrics_input in = {
		.module = l->name,
		.stats = l->have_stats ? &l->last_stats : NULL,
		.latency = l->latency_ok && l->dec.last_anchor.producer == TSTP_PROD_LATENCY ? &l->latency : NULL,
		.records_lost = tstp_decoder_seq_lost_so_far(&l->dec),
	};
	const char *what;
	FILE *f;
	int e;

	if (!l->o.metrics_dir)
		return;
	snprintf(l->metrics_path, sizeof(l->metrics_path), "%s/%s.prom", l->o.metrics_dir, l->name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.prom.%d", l->o.metrics_dir, l->name, (int)getpid());
	what = "mkdir";
	if (mkdir(l->o.metrics_dir, 0755) != 0 && errno != EEXIST)
		goto fail;
	what = "create";
	f = fopen(tmp, "we");
	if (!f)
		goto fail;
	what = "write";
	e = tstp_metrics_write(f, &in);
	if (fclose(f) != 0 || e != 0)
		goto fail_unlink;
	what = "rename";
	if (rename(tmp, l->metrics_path) != 0)
		goto fail_unlink;
	l->metrics_written = 1;
	return;

fail_unlink:
	e = errno ? errno : EIO;
	unlink(tmp);
	errno = e;
fail:
	if (!l->metrics_failed++)
		err_msg("warning: metrics for tcpstap exporter: %s %s: %s (tracing goes on; "
			"--no-metrics silences this)", what, tmp, strerror(errno));
}

/* The module is gone: its metrics must not look current. */
static void remove_metrics(struct loader *l)
{
	if (l->metrics_written && unlink(l->metrics_path) != 0 && errno != ENOENT)
		err_msg("%s: %s", l->metrics_path, strerror(errno));
}

/* ---- decoding ---- */

static int print_exchange(struct loader *l, const struct tstp_decoder *dec, const struct tstp_exchange *x)
{
	struct tstp_buf b;

	tstp_buf_init(&b, l->line, sizeof(l->line));
	if (l->o.json)
		tstp_format_exchange_json(&b, &l->fmt, &dec->clock, x);
	else
		tstp_format_exchange_text(&b, &l->fmt, &dec->clock, x);
	if (fwrite(b.data, 1, b.len, stdout) != b.len) {
		err_msg("<stdout>: %s", strerror(errno));
		l->output_failed = 1;
		return 1;
	}
	return 0;
}

static int on_record(struct tstp_decoder *dec, const union tstp_record *rec)
{
	struct loader *l = dec->ctx;

	if (l->o.ring_s)
		ring_record(l, rec);
	if (rec->hdr.type == TSTP_REC_STATS) {
		uint64_t lost = tstp_decoder_seq_lost_so_far(dec);

		l->last_stats = rec->stats;
		l->have_stats = 1;
		write_metrics(l);
		/* Said as soon as it is known, not only at exit; the slack absorbs
		 * records still in flight from another CPU's buffer. */
		if (lost > l->lost_reported + LOSS_REPORT_SLACK) {
			err_msg("warning: %llu records lost so far (%llu since the last report): "
				"this reader fell behind and the kernel's trace buffer overflowed; "
				"SystemTap counts them as transport failures",
				(unsigned long long)lost, (unsigned long long)(lost - l->lost_reported));
			l->lost_reported = lost;
		}
		return 0;
	}
	if (rec->hdr.type == TSTP_REC_HIST && l->latency_ok)
		(void)tstp_stats_add_hist(&l->latency, &rec->hist);	/* overflow is counted there */
	if (rec->hdr.type != TSTP_REC_EXCHANGE)
		return 0;
	l->exchanges_seen++;
	if (l->latency_ok)
		(void)tstp_stats_add_exchange(&l->latency, &rec->exchange);
	if (l->o.ring_s) {
		/* Only the exchange that fires the trigger is printed. */
		if (l->o.trigger_ms &&
		    tstp_trigger_slow(&rec->exchange, (uint64_t)llround(l->o.trigger_ms * 1e6))) {
			if (print_exchange(l, dec, &rec->exchange))
				return 1;
			trigger(l, TSTP_TRIGGER_SLOW, rec->hdr.ts_ns);
		}
	} else if (!l->o.write_path && print_exchange(l, dec, &rec->exchange)) {
		return 1;
	}
	if (l->o.count && l->exchanges_seen >= l->o.count) {
		if (!l->stop_requested) {
			l->stop_requested = 1;
			l->stop_why = "record count reached";
		}
		return 1;
	}
	return 0;
}

/* One read of staprun's stdout; 0 at EOF, 1 when more may come. */
static int pump_output(struct loader *l)
{
	static uint8_t chunk[READ_CHUNK];
	ssize_t n = read(l->out_fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	if (l->write_fd >= 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(l->write_fd, chunk + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				err_msg("%s: %s", l->o.write_path, strerror(errno));
				l->output_failed = 1;
				l->stop_requested = 1;
				l->stop_why = "write error";
				return 1;
			}
			off += w;
		}
	}
	/* After -c was reached the rest is still written with -w, not decoded. */
	if (!(l->o.count && l->exchanges_seen >= l->o.count))
		(void)tstp_decoder_feed(&l->dec, chunk, (size_t)n);
	fflush(stdout);
	return 1;
}

/* SystemTap's own loss counters, from the report staprun prints at exit. */
static void stap_report_line(struct loader *l, const char *line)
{
	const char *p;

	if ((p = strstr(line, "skipped probes: ")))
		l->stap_skipped = strtoll(p + 16, NULL, 10);
	if ((p = strstr(line, "There were ")) && strstr(p, " transport failures"))
		l->stap_transport_failures = strtoll(p + 11, NULL, 10);
}

static int pump_stderr(struct loader *l)
{
	char buf[4096];
	ssize_t n = read(l->err_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	fflush(stdout);
	if (write(STDERR_FILENO, buf, (size_t)n) != n)
		return 1;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n' && l->err_line_len < sizeof(l->err_line) - 1) {
			l->err_line[l->err_line_len++] = buf[i];
		} else if (buf[i] == '\n') {
			l->err_line[l->err_line_len] = '\0';
			stap_report_line(l, l->err_line);
			l->err_line_len = 0;
		}
	}
	return 1;
}

/* ---- supervision ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reap_staprun(struct loader *l, int block)
{
	int status;
	pid_t r;

	if (l->staprun <= 0 || l->staprun_reaped)
		return;
	r = waitpid(l->staprun, &status, block ? 0 : WNOHANG);
	if (r == l->staprun) {
		l->staprun_reaped = 1;
		l->staprun_status = status;
	}
}

static void heartbeat(struct loader *l)
{
	char path[TSTP_PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/systemtap/%s/heartbeat", TSTP_PROC_ROOT, l->name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1\n", 2) != 2 && !l->o.quiet)
		err_msg("%s: %s", path, strerror(errno));
	close(fd);
}

/* 1 when the module disarmed itself (message printed), else 0. */
static int check_state(struct loader *l)
{
	char path[TSTP_PATH_MAX], msg[512], *buf = NULL;
	struct tstp_modstate st;
	size_t len;
	int disarmed = 0;

	snprintf(path, sizeof(path), "%s/systemtap/%s/state", TSTP_PROC_ROOT, l->name);
	if (tstp_read_small_file(path, 4096, &buf, &len) != 0)
		return 0;
	if (tstp_modstate_parse(buf, len, &st) == 0 && !st.armed) {
		tstp_disarm_message(msg, sizeof(msg), &st, l->budget_window_s, l->o.max_cpu_arg);
		err_msg("module disarmed itself: %s", msg);
		disarmed = 1;
	}
	free(buf);
	return disarmed;
}

static int module_up(const struct loader *l)
{
	char path[TSTP_PATH_MAX];

	snprintf(path, sizeof(path), "%s/systemtap/%s/heartbeat", TSTP_PROC_ROOT, l->name);
	return access(path, F_OK) == 0;
}

/* Runs until a stop condition; returns the exit code it implies. */
static int supervise(struct loader *l)
{
	int64_t start = now_ms(), next_tick = start, next_beat = start;
	int64_t deadline = -1;	/* -d counts from the moment the module is up */
	int64_t beat_ms = (int64_t)(l->o.deadman_s / 4 ? l->o.deadman_s / 4 : 1) * 1000;
	int out_open = 1, err_open = 1;

	while (!l->stop_requested) {
		struct pollfd pf[3];
		int64_t now = now_ms(), wake = next_tick < next_beat ? next_tick : next_beat;
		int nfds = 0, timeout;

		if (deadline >= 0 && wake > deadline)
			wake = deadline;
		if (l->capture_fd >= 0 && wake > l->capture_end_ms)
			wake = l->capture_end_ms;
		timeout = wake > now ? (int)(wake - now) : 0;
		pf[nfds++] = (struct pollfd){ .fd = l->sig_fd, .events = POLLIN };
		pf[nfds++] = (struct pollfd){ .fd = out_open ? l->out_fd : -1, .events = POLLIN };
		pf[nfds++] = (struct pollfd){ .fd = err_open ? l->err_fd : -1, .events = POLLIN };
		if (poll(pf, (nfds_t)nfds, timeout) < 0 && errno != EINTR) {
			err_msg("poll: %s", strerror(errno));
			l->stop_why = "internal error";
			return EXIT_CHECK;
		}
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(l->sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si) || si.ssi_signo == SIGCHLD) {
				/* nothing: staprun is reaped below */
			} else if (si.ssi_signo == SIGUSR1 && l->o.ring_s) {
				/* `tcpstap trigger` queues the signal with its reason as the value. */
				trigger(l, si.ssi_code == SI_QUEUE && si.ssi_int == TSTP_TRIGGER_COMMAND ?
					TSTP_TRIGGER_COMMAND : TSTP_TRIGGER_SIGNAL,
					l->ring.newest_ns ? l->ring.newest_ns : monotonic_ns());
			} else if (si.ssi_signo == SIGUSR1) {
				err_msg("SIGUSR1 from pid %u ignored: a trigger needs --ring mode",
					si.ssi_pid);
			} else {
				l->stop_requested = 1;
				l->stop_why = strsignal((int)si.ssi_signo);
			}
		}
		if (out_open && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
			out_open = pump_output(l);
		if (err_open && (pf[2].revents & (POLLIN | POLLHUP | POLLERR)))
			err_open = pump_stderr(l);
		if (l->output_failed)
			return EXIT_CHECK;
		reap_staprun(l, 0);
		if (l->staprun_reaped && !out_open && !err_open) {
			int st = l->staprun_status;

			if (!l->module_up) {
				err_msg("staprun could not load %s (%s %d): its messages are above", l->ko,
					WIFEXITED(st) ? "exit status" : "signal",
					WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
				l->stop_why = "load failed";
				return EXIT_LOAD_FAILED;
			}
			l->stop_why = "staprun exited";
			if (check_state(l))
				return EXIT_DISARMED;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				err_msg("staprun ended with %s %d", WIFEXITED(st) ? "exit status" : "signal",
					WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
				return EXIT_CHECK;
			}
			return 0;
		}
		now = now_ms();
		if (!l->module_up && module_up(l)) {
			l->module_up = 1;
			if (l->o.duration_s > 0)
				deadline = now + (int64_t)llround(l->o.duration_s * 1000);
			heartbeat(l);
			next_beat = now + beat_ms;
			if (!l->o.quiet)
				err_msg("tracing with %s (%zu parameters); Ctrl-C to stop", l->name, l->nparams);
		}
		if (l->module_up && now >= next_beat) {
			heartbeat(l);
			next_beat = now + beat_ms;
		}
		if (!l->module_up)
			next_beat = now + 1000;
		if (now >= next_tick) {
			if (l->module_up && check_state(l)) {
				l->stop_why = "disarmed";
				return EXIT_DISARMED;
			}
			next_tick = now + 1000;
		}
		if (l->capture_fd >= 0 && now >= l->capture_end_ms)
			capture_finish(l, "");
		if (deadline >= 0 && now >= deadline && !l->stop_requested) {
			l->stop_requested = 1;
			l->stop_why = "duration reached";
		}
	}
	return 0;
}

/* SIGTERM, drain for up to 5 s, SIGKILL; then the module if still there. */
static void stop_staprun(struct loader *l)
{
	int64_t until;
	int out_open = l->out_fd >= 0, err_open = l->err_fd >= 0;

	if (l->staprun <= 0)
		return;
	reap_staprun(l, 0);
	if (!l->staprun_reaped)
		kill(l->staprun, SIGTERM);
	until = now_ms() + STOP_WAIT_MS;
	while ((out_open || err_open || !l->staprun_reaped) && now_ms() < until) {
		struct pollfd pf[2] = {
			{ .fd = out_open ? l->out_fd : -1, .events = POLLIN },
			{ .fd = err_open ? l->err_fd : -1, .events = POLLIN },
		};
		int64_t left = until - now_ms();

		(void)poll(pf, 2, left > 100 ? 100 : (int)(left > 0 ? left : 0));
		if (out_open && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			out_open = pump_output(l);
		if (err_open && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
			err_open = pump_stderr(l);
		reap_staprun(l, 0);
	}
	if (!l->staprun_reaped) {
		err_msg("staprun did not stop within %d s: killing it", STOP_WAIT_MS / 1000);
		kill(l->staprun, SIGKILL);
		reap_staprun(l, 1);
	}
	if (module_loaded(l->name)) {
		int e = remove_module(l->name);

		if (e)
			err_msg("%s: still loaded, delete_module: %s: run 'sudo tcpstap cleanup' to retry",
				l->name, strerror(e));
		else if (!l->o.quiet)
			err_msg("%s: removed (staprun had left it loaded)", l->name);
	}
}

static void print_summary(struct loader *l)
{
	char text[TSTP_LINE_MAX];
	struct tstp_buf b;

	tstp_buf_init(&b, text, sizeof(text));
	tstp_buf_decode_summary(&b, &l->dec.count);
	if (l->have_stats)
		tstp_buf_printf(&b, "; kernel: %llu exchanges, %llu emitted, %llu below threshold, "
				"%llu dropped over --max-events, %llu sockets evicted",
				(unsigned long long)l->last_stats.exchanges,
				(unsigned long long)l->last_stats.emitted,
				(unsigned long long)l->last_stats.below_threshold,
				(unsigned long long)l->last_stats.dropped_rate,
				(unsigned long long)l->last_stats.evicted);
	else
		tstp_buf_str(&b, "; no STATS record received");
	if (l->stap_skipped >= 0 || l->stap_transport_failures >= 0)
		tstp_buf_printf(&b, "; SystemTap: %lld skipped probes, %lld transport failures",
				l->stap_skipped > 0 ? l->stap_skipped : 0,
				l->stap_transport_failures > 0 ? l->stap_transport_failures : 0);
	if (l->o.ring_s)
		tstp_buf_printf(&b, "; ring: %llu captures written, %llu triggers inside a capture, "
				"%llu over --max-captures, %llu write errors, %llu records dropped by "
				"--ring-mem", (unsigned long long)l->captures,
				(unsigned long long)l->triggers_merged,
				(unsigned long long)l->triggers_over_max,
				(unsigned long long)l->ring_write_errors,
				(unsigned long long)l->ring.evicted);
	err_msg("%s: %s", l->stop_why ? l->stop_why : "stopped", text);
}

static void print_dry_run(const struct loader *l)
{
	printf("staprun %s", l->ko);
	for (size_t i = 0; i < l->nparams; i++) {
		const char *p = l->params[i];

		if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_=.,:/+-") == strlen(p)) {
			printf(" %s", p);
		} else {
			printf(" '");
			for (; *p; p++)
				if (*p == '\'')
					printf("'\\''");
				else
					putchar(*p);
			putchar('\'');
		}
	}
	printf("\n");
}

static int resolve_module(struct loader *l)
{
	char paths[TSTP_MODULE_SEARCH_MAX][TSTP_PATH_MAX], exe[TSTP_PATH_MAX], repo[TSTP_PATH_MAX];
	char err[TSTP_ERR_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int have_repo = 0, np;

	if (n > 0) {
		exe[n] = '\0';
		have_repo = tstp_repo_from_exe(exe, repo, sizeof(repo)) == 0;
	}
	np = tstp_module_resolve(l->o.module_arg, l->o.release ? l->o.release : l->uname_release,
				 have_repo ? repo : NULL, paths, l->name, sizeof(l->name), err, sizeof(err));
	if (np < 0) {
		err_msg("%s", err);
		return EXIT_USAGE;
	}
	/* paths[] are NUL-terminated within TSTP_PATH_MAX, the size of l->ko */
	memcpy(l->ko, paths[0], sizeof(l->ko));
	for (int i = 0; i < np; i++)
		if (access(paths[i], F_OK) == 0) {
			memcpy(l->ko, paths[i], sizeof(l->ko));
			return 0;
		}
	if (np > 1)
		snprintf(l->searched, sizeof(l->searched), " (searched %.2000s and %.2000s)", paths[0], paths[1]);
	return 0;	/* the missing file is a check failure, reported by run_checks */
}

int main(int argc, char **argv)
{
	static struct loader l;
	struct utsname u;
	sigset_t mask, old_mask;
	struct tstp_lock_error lerr;
	int ret;

	l.wd_fd = l.out_fd = l.err_fd = l.sig_fd = l.write_fd = l.capture_fd = -1;
	l.stap_skipped = l.stap_transport_failures = -1;
	ret = parse_opts(argc, argv, &l.o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (uname(&u) != 0) {
		err_msg("uname: %s", strerror(errno));
		return EXIT_CHECK;
	}
	snprintf(l.uname_release, sizeof(l.uname_release), "%s", u.release);
	if (l.o.count && l.o.write_path && !l.o.quiet)
		err_msg("note: -c counts the exchange records written to %s", l.o.write_path);
	ret = resolve_module(&l);
	if (ret)
		goto out;
	l.image_errno = tstp_read_small_file(l.ko, MODULE_MAX_BYTES, &l.image, &l.image_len);
	ret = build_params(&l);
	if (ret)
		goto out;
	if (l.o.dry_run) {
		(void)run_checks(&l);
		print_dry_run(&l);
		ret = tstp_output_end() == TSTP_EXIT_OK ? 0 : EXIT_CHECK;
		goto out;
	}
	if (l.o.release && strcmp(l.o.release, l.uname_release) != 0) {
		ret = usage_error("--kernel-release %s: this kernel is %s; only --dry-run may look up "
				  "another release", l.o.release, l.uname_release);
		goto out;
	}
	ret = run_checks(&l);
	if (ret)
		goto out;
	if (l.o.ring_s) {
		int e = tstp_ring_init(&l.ring, (size_t)l.o.ring_mem_mb << 20,
				       (uint64_t)llround(l.o.ring_s * 1e9));

		if (e) {
			err_msg("--ring-mem %llu: %s", (unsigned long long)l.o.ring_mem_mb, strerror(e));
			ret = EXIT_CHECK;
			goto out;
		}
	}
	if (l.o.metrics_dir)
		l.latency_ok = tstp_stats_init(&l.latency, METRICS_MAX_ENDPOINTS) == 0;
	stale_cleanup(&l);

	/* From here on every exit goes through out: */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	sigaddset(&mask, SIGUSR1);	/* a trigger in --ring mode; never fatal */
	sigprocmask(SIG_BLOCK, &mask, &old_mask);
	sigdelset(&mask, SIGPIPE);	/* blocked: a closed stdout is an EPIPE error */
	l.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (l.sig_fd < 0) {
		err_msg("signalfd: %s", strerror(errno));
		ret = EXIT_CHECK;
		goto out;
	}
	if (tstp_lock_acquire(TSTP_LOCK_DIR, l.name, &lerr) != 0) {
		if (lerr.errnum == EBUSY)
			err_msg("%s: already traced by pid %d (%s): stop that one first", l.name,
				(int)lerr.owner_pid, lerr.owner_comm);
		else
			err_msg("lock: %s", lerr.msg);
		ret = EXIT_CHECK;
		goto out;
	}
	l.locked = 1;
	if (lerr.stale_pid && !l.o.quiet)
		err_msg("removed the stale lock of pid %d (no longer running)", (int)lerr.stale_pid);
	if (start_watchdog(&l, &old_mask) != 0) {
		ret = EXIT_CHECK;
		goto out;
	}
	if (l.o.write_path && strcmp(l.o.write_path, "-") == 0) {
		l.write_fd = STDOUT_FILENO;
	} else if (l.o.write_path) {
		l.write_fd = open(l.o.write_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (l.write_fd < 0) {
			err_msg("%s: %s", l.o.write_path, strerror(errno));
			ret = EXIT_CHECK;
			goto out;
		}
	}
	l.fmt.time_style = l.o.utc ? TSTP_TIME_UTC : TSTP_TIME_LOCAL;
	tstp_decoder_init(&l.dec, on_record, &l);
	if (start_staprun(&l, &old_mask) != 0) {
		err_msg("staprun: %s", strerror(errno));
		ret = EXIT_LOAD_FAILED;
		goto out;
	}
	ret = supervise(&l);
out:
	stop_staprun(&l);
	capture_finish(&l, " (cut short: tracing stopped)");
	if (l.staprun > 0) {
		tstp_decoder_finish(&l.dec);
		if (!l.o.quiet || ret)
			print_summary(&l);
	}
	if (l.write_fd >= 0 && l.write_fd != STDOUT_FILENO && close(l.write_fd) != 0) {
		err_msg("%s: %s", l.o.write_path, strerror(errno));
		if (!ret)
			ret = EXIT_CHECK;
	}
	if (l.locked && tstp_lock_release(TSTP_LOCK_DIR, l.name, &lerr) != 0)
		err_msg("lock: %s", lerr.msg);
	if (l.wd_fd >= 0) {
		watchdog_say(&l, "D\n");
		close(l.wd_fd);
		while (waitpid(l.watchdog, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (l.out_fd >= 0)
		close(l.out_fd);
	if (l.err_fd >= 0)
		close(l.err_fd);
	if (l.sig_fd >= 0)
		close(l.sig_fd);
	remove_metrics(&l);
	if (l.latency_ok)
		tstp_stats_free(&l.latency);
	tstp_ring_free(&l.ring);
	free(l.image);
	if (fflush(stdout) != 0 && !ret)
		ret = EXIT_CHECK;
	return ret;
}
