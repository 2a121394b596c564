// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpstap cleanup: remove tcpstap_* modules left loaded (probes armed) by a
 * loader that died, as staprun removes its "zombie" modules.
 *
 * A module is removed only when all of these hold: its name starts with
 * tcpstap_, no live process owns its lock (we take the lock ourselves while
 * removing), it is Live with refcount 0, and its SystemTap control directory
 * exists. Removal is delete_module(O_NONBLOCK) with bounded retries, never forced.
 *
 * REQUIREMENTS: root (CAP_SYS_MODULE) unless --dry-run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tcpstap/cli.h"
#include "tcpstap/owner.h"

#define CLEANUP_RETRY_MS	TSTP_REMOVE_RETRY_MS
#define CLEANUP_MAX_RETRIES	100
#define MODULES_MAX_BYTES	(16u << 20)

struct cleanup_opts {
	int dry_run;
	unsigned retries;
	const char *lock_dir;
	const char *proc;	/* for tests: a fake /proc tree */
};

enum outcome { OUT_DONE, OUT_KEPT, OUT_FAILED };

static void cleanup_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s cleanup [OPTIONS]\n\n"
		"Remove tcpstap_* kernel modules whose loader died: SystemTap leaves such a\n"
		"module loaded with its probes armed. A module is removed only if no live\n"
		"process owns its lock file, it is Live with refcount 0, and its SystemTap\n"
		"control directory (/proc/systemtap/MODULE/) exists. Stale lock files of\n"
		"dead owners are removed too. Other modules are never touched.\n\n"
		"Options:\n"
		"  -n, --dry-run        print what would be done, change nothing (no root needed)\n"
		"  -l, --lock-dir DIR   ownership lock files MODULE.lock (default %s)\n"
		"  -r, --retries N      retries of a busy delete_module, %d ms apart (default 5, max %d)\n"
		"      --proc DIR       read modules and processes from DIR instead of /proc (tests)\n"
		"  -h, --help           this help\n\n"
		"One line per module on stdout: removed, kept (owned), or could not remove (why).\n"
		"Exit status: 0 all removed or owned, 1 something could not be removed, 2 usage error.\n\n"
		"EXAMPLES:\n"
		"  %s cleanup --dry-run           # what would be removed, and why not\n"
		"  sudo %s cleanup                # remove detached tcpstap modules\n"
		"  sudo %s cleanup --retries 20   # a module still busy for a few seconds\n",
		TSTP_PROG, TSTP_LOCK_DIR, CLEANUP_RETRY_MS, CLEANUP_MAX_RETRIES,
		TSTP_PROG, TSTP_PROG, TSTP_PROG);
}

static int parse_cleanup_opts(int argc, char **argv, struct cleanup_opts *o)
{
	enum { OPT_PROC = 256 };
	static const struct option longopts[] = {
		{ "dry-run",	no_argument,		NULL, 'n' },
		{ "lock-dir",	required_argument,	NULL, 'l' },
		{ "retries",	required_argument,	NULL, 'r' },
		{ "proc",	required_argument,	NULL, OPT_PROC },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->retries = 5;
	o->lock_dir = TSTP_LOCK_DIR;
	o->proc = TSTP_PROC_ROOT;
	while ((c = getopt_long(argc, argv, "nl:r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->dry_run = 1;
			break;
		case 'l':
			if (!*optarg)
				return tstp_usage_error("cleanup", "--lock-dir: empty directory name");
			o->lock_dir = optarg;
			break;
		case 'r':
			if (tstp_parse_u64(optarg, 0, CLEANUP_MAX_RETRIES, &v) != 0)
				return tstp_usage_error("cleanup", "--retries %s: not a count in [0, %d]",
							optarg, CLEANUP_MAX_RETRIES);
			o->retries = (unsigned)v;
			break;
		case OPT_PROC:
			if (!*optarg)
				return tstp_usage_error("cleanup", "--proc: empty directory name");
			o->proc = optarg;
			break;
		case 'h':
			cleanup_usage(stdout);
			return -1;
		default:
			return tstp_usage_error("cleanup", "invalid option");
		}
	}
	if (optind < argc)
		return tstp_usage_error("cleanup", "unexpected argument '%s'", argv[optind]);
	return 0;
}

static void note_stale(const struct cleanup_opts *o, const char *module, pid_t pid)
{
	fprintf(stderr, "%s: cleanup: %s/%s.lock: %s stale lock of pid %d (no longer running)\n",
		TSTP_PROG, o->lock_dir, module, o->dry_run ? "would remove" : "removed", (int)pid);
}

static enum outcome cleanup_one(const struct cleanup_opts *o, const struct tstp_module *m)
{
	struct tstp_lock_error lerr;
	struct tstp_lock lock;
	enum tstp_owner owner;
	enum tstp_verdict verdict;
	enum outcome out;
	char why[128];
	unsigned tries;
	int e;

	if (o->dry_run) {
		owner = tstp_lock_check_at(o->proc, o->lock_dir, m->name, &lock, &lerr);
		if (owner == TSTP_OWNER_STALE)
			note_stale(o, m->name, lock.pid);
	} else {
		/* Holding the lock keeps a loader from adopting the module meanwhile. */
		owner = tstp_lock_acquire_at(o->proc, o->lock_dir, m->name, &lerr) == 0 ? TSTP_OWNER_NONE
			: lerr.errnum == EBUSY ? TSTP_OWNER_LIVE : TSTP_OWNER_UNKNOWN;
		if (owner == TSTP_OWNER_NONE && lerr.stale_pid)
			note_stale(o, m->name, lerr.stale_pid);
	}
	if (owner == TSTP_OWNER_LIVE) {
		printf("kept %s: owned by pid %d (%s)\n", m->name, (int)lerr.owner_pid, lerr.owner_comm);
		return OUT_KEPT;
	}
	if (owner == TSTP_OWNER_UNKNOWN) {
		printf("could not remove %s: %s\n", m->name, lerr.msg);
		return OUT_FAILED;
	}

	verdict = tstp_cleanup_verdict(m, owner, tstp_stap_ctl_dir_exists(o->proc, NULL, m->name),
				       why, sizeof(why));
	if (verdict == TSTP_VERDICT_REFUSE) {
		printf("could not remove %s: %s\n", m->name, why);
		out = OUT_FAILED;
	} else if (verdict != TSTP_VERDICT_REMOVE) {
		out = OUT_KEPT;		/* not ours: never reached with the prefix filter */
	} else if (o->dry_run) {
		printf("would remove %s (detached: no live owner, refcount 0)\n", m->name);
		out = OUT_DONE;
	} else if ((e = tstp_module_remove(m->name, o->retries, &tries)) == 0) {
		printf("removed %s (detached: no live owner, refcount 0)\n", m->name);
		out = OUT_DONE;
	} else if (e == ENOENT) {
		printf("removed %s (already unloaded by someone else)\n", m->name);
		out = OUT_DONE;
	} else {
		printf("could not remove %s: delete_module: %s", m->name, strerror(e));
		if (tries > 1)
			printf(" (after %u attempts)", tries);
		printf("\n");
		out = OUT_FAILED;
	}

	if (!o->dry_run && tstp_lock_release_at(o->proc, o->lock_dir, m->name, &lerr) != 0)
		fprintf(stderr, "%s: cleanup: release: %s\n", TSTP_PROG, lerr.msg);
	return out;
}

int cmd_cleanup(int argc, char **argv)
{
	struct cleanup_opts opts;
	struct tstp_module *mods = NULL;
	char path[4096], *buf = NULL;
	size_t len, n, malformed;
	int ret, e, failed = 0;

	ret = parse_cleanup_opts(argc, argv, &opts);
	if (ret)
		return ret < 0 ? TSTP_EXIT_OK : ret;
	if (!opts.dry_run && geteuid() != 0) {
		fprintf(stderr, "%s: cleanup: removing kernel modules: needs root (CAP_SYS_MODULE): "
			"run as root (sudo %s cleanup), or use --dry-run to only look\n", TSTP_PROG, TSTP_PROG);
		return TSTP_EXIT_ERROR;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/modules", opts.proc) >= sizeof(path))
		return tstp_usage_error("cleanup", "--proc: path too long");
	e = tstp_read_small_file(path, MODULES_MAX_BYTES, &buf, &len);
	if (e == ENOENT) {
		printf("no %s: kernel without module support, nothing to clean\n", path);
		goto out;
	}
	if (e) {
		fprintf(stderr, "%s: cleanup: %s: %s\n", TSTP_PROG, path, strerror(e));
		ret = TSTP_EXIT_ERROR;
		goto out;
	}
	n = tstp_modules_parse(buf, len, TSTP_MODULE_PREFIX, NULL, 0, &malformed);
	if (malformed)
		fprintf(stderr, "%s: cleanup: %s: %zu malformed lines skipped\n", TSTP_PROG, path, malformed);
	if (n == 0) {
		printf("no %s* modules loaded, nothing to clean\n", TSTP_MODULE_PREFIX);
		goto out;
	}
	mods = calloc(n, sizeof(*mods));
	if (!mods) {
		fprintf(stderr, "%s: cleanup: %s\n", TSTP_PROG, strerror(ENOMEM));
		ret = TSTP_EXIT_ERROR;
		goto out;
	}
	n = tstp_modules_parse(buf, len, TSTP_MODULE_PREFIX, mods, n, NULL);
	for (size_t i = 0; i < n; i++) {
		if (cleanup_one(&opts, &mods[i]) == OUT_FAILED)
			failed = 1;
		fflush(stdout);	/* keep the order with the notes on stderr */
	}
	if (failed)
		ret = TSTP_EXIT_ERROR;
out:
	free(mods);
	free(buf);
	e = tstp_output_end();
	return ret ? ret : e;
}
