// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpstap trigger: make every running `tcpstap-load --ring` (or the one that
 * traces MODULE) write a capture file now, as SIGUSR1 would, with the
 * trigger recorded as "command" in the capture.
 *
 * Loaders are found by their ownership lock files (/run/tcpstap/MODULE.lock)
 * whose process is alive (pid and start time match), never by process name.
 *
 * REQUIREMENTS: permission to signal the loader (root, as it runs as root).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tcpstap/cli.h"
#include "tcpstap/owner.h"
#include "tcpstap/record.h"

struct trigger_opts {
	const char *module;	/* NULL: every live loader */
	const char *lock_dir;
};

static void trigger_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s trigger [OPTIONS] [MODULE]\n\n"
		"Make running 'tcpstap-load --ring' loaders write a capture file now (the\n"
		"window before and after this moment), like SIGUSR1 but recorded as a\n"
		"command trigger. MODULE (latency or tcpstap_latency) picks one loader;\n"
		"without it every live loader is triggered.\n\n"
		"Options:\n"
		"  -l, --lock-dir DIR   ownership lock files MODULE.lock (default %s)\n"
		"  -h, --help           this help\n\n"
		"One line per loader on stdout. A loader not in --ring mode ignores the\n"
		"trigger and says so on its stderr.\n"
		"Exit status: 0 at least one loader triggered, 1 none found or none could be\n"
		"signalled, 2 usage error.\n\n"
		"EXAMPLES:\n"
		"  sudo %s trigger            # every running --ring loader\n"
		"  sudo %s trigger latency    # the loader tracing tcpstap_latency\n",
		TSTP_PROG, TSTP_LOCK_DIR, TSTP_PROG, TSTP_PROG);
}

static int parse_trigger_opts(int argc, char **argv, struct trigger_opts *o)
{
	static const struct option longopts[] = {
		{ "lock-dir",	required_argument,	NULL, 'l' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->module = NULL;
	o->lock_dir = TSTP_LOCK_DIR;
	while ((c = getopt_long(argc, argv, "l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->lock_dir = optarg;
			break;
		case 'h':
			trigger_usage(stdout);
			return -1;
		default:
			return tstp_usage_error("trigger", "invalid option");
		}
	}
	if (argc - optind > 1)
		return tstp_usage_error("trigger", "at most one MODULE");
	if (optind < argc)
		o->module = argv[optind];
	return 0;
}

/* "latency", "tcpstap_latency" and "tcpstap_latency.ko" all name tcpstap_latency. */
static int module_matches(const char *want, const char *module)
{
	size_t plen = strlen(TSTP_MODULE_PREFIX), n;

	if (strncmp(want, TSTP_MODULE_PREFIX, plen) == 0)
		want += plen;
	n = strlen(want);
	if (n > 3 && strcmp(want + n - 3, ".ko") == 0)
		n -= 3;
	return strlen(module) == plen + n && strncmp(module + plen, want, n) == 0;
}

int cmd_trigger(int argc, char **argv)
{
	struct trigger_opts o;
	struct dirent *de;
	DIR *d;
	int ret = parse_trigger_opts(argc, argv, &o), sent = 0, failed = 0;

	if (ret)
		return ret < 0 ? TSTP_EXIT_OK : ret;
	d = opendir(o.lock_dir);
	if (!d) {
		fprintf(stderr, "%s trigger: %s: %s: no tcpstap-load is running (it keeps its lock there)\n",
			TSTP_PROG, o.lock_dir, strerror(errno));
		return TSTP_EXIT_ERROR;
	}
	tstp_output_begin();
	while ((de = readdir(d))) {
		char module[TSTP_MODNAME_MAX];
		size_t n = strlen(de->d_name);
		struct tstp_lock lock;
		struct tstp_lock_error lerr;
		union sigval v = { .sival_int = TSTP_TRIGGER_COMMAND };

		if (n <= 5 || strcmp(de->d_name + n - 5, ".lock") != 0 || de->d_name[0] == '.' ||
		    n - 5 >= sizeof(module))
			continue;
		snprintf(module, sizeof(module), "%.*s", (int)(n - 5), de->d_name);
		if (!tstp_module_name_ok(module) || (o.module && !module_matches(o.module, module)))
			continue;
		if (tstp_lock_check_at(NULL, o.lock_dir, module, &lock, &lerr) != TSTP_OWNER_LIVE)
			continue;
		if (sigqueue(lock.pid, SIGUSR1, v) != 0) {
			fprintf(stderr, "%s trigger: %s: pid %d: %s\n", TSTP_PROG, module,
				(int)lock.pid, strerror(errno));
			failed++;
			continue;
		}
		printf("triggered %s (tcpstap-load pid %d)\n", module, (int)lock.pid);
		sent++;
	}
	closedir(d);
	if (!sent && !failed)
		fprintf(stderr, "%s trigger: no live tcpstap-load%s%s found in %s\n", TSTP_PROG,
			o.module ? " tracing " : "", o.module ? o.module : "", o.lock_dir);
	ret = tstp_output_end();
	return sent && ret == TSTP_EXIT_OK ? TSTP_EXIT_OK : TSTP_EXIT_ERROR;
}
