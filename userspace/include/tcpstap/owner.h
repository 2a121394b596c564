/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Who owns a loaded tcpstap module: /proc/modules and /proc/PID/stat parsing,
 * the ownership lock file (one per module, in a lock directory) and the
 * cleanup verdict. The parsers, the lock-file format and the decisions are
 * pure functions over buffers; a small I/O layer (tstp_lock_*, *_read) uses
 * them. The loader (tcpstap-load) and `tcpstap cleanup` share this code.
 *
 * Lock file DIR/MODULE.lock, one line:
 *     pid=<pid> start=<starttime> module=<MODULE>
 * where starttime is field 22 of /proc/<pid>/stat (clock ticks since boot).
 * The owner is alive when /proc/<pid>/stat exists, is not a zombie, and has
 * the same starttime (a reused pid has another one). Locks are created whole
 * (temp file + link) under a flock on DIR/.guard, so a crash never leaves a
 * half-written lock and two processes never both steal the same stale one.
 */
#ifndef TCPSTAP_OWNER_H
#define TCPSTAP_OWNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TSTP_MODULE_PREFIX	"tcpstap_"
#define TSTP_LOCK_DIR		"/run/tcpstap"
#define TSTP_PROC_ROOT		"/proc"
#define TSTP_DEBUGFS_ROOT	"/sys/kernel/debug"
/* The kernel's MODULE_NAME_LEN is 64 - sizeof(unsigned long): 56 with the NUL. */
#define TSTP_MODNAME_MAX	56
#define TSTP_COMM_MAX		64	/* TASK_COMM_LEN is 16; room for longer kernels */
#define TSTP_LOCK_LINE_MAX	(32 + 32 + TSTP_MODNAME_MAX + 32)

/* ---- /proc/modules (pure) ---- */

enum tstp_mod_state {
	TSTP_MOD_LIVE,
	TSTP_MOD_LOADING,
	TSTP_MOD_UNLOADING,
	TSTP_MOD_UNKNOWN,
};

struct tstp_module {
	char name[TSTP_MODNAME_MAX];
	uint64_t size;
	int refcount;		/* -1: unknown ("-": kernel without module unloading) */
	enum tstp_mod_state state;
};

const char *tstp_mod_state_name(enum tstp_mod_state s);

/*
 * One line of /proc/modules (without its newline):
 *   name size refcount deps state address [(taint)]
 * Returns 0, or -1 when the line is malformed (m is then unspecified).
 */
int tstp_modules_parse_line(const char *line, size_t len, struct tstp_module *m);

/*
 * Every line of buf whose module name starts with prefix (NULL: all). The
 * first max go to out; returns how many matched (may exceed max). Malformed
 * lines are skipped and counted in *malformed (if not NULL).
 */
size_t tstp_modules_parse(const char *buf, size_t len, const char *prefix,
			  struct tstp_module *out, size_t max, size_t *malformed);

/* Letters, digits and '_', 1..55 chars: safe as a file name, as the kernel shows it. */
int tstp_module_name_ok(const char *name);

/* ---- /proc/PID/stat (pure) ---- */

struct tstp_proc_stat {
	char comm[TSTP_COMM_MAX];	/* truncated if longer */
	char state;			/* field 3: R, S, D, Z, X, ... */
	uint64_t starttime;		/* field 22 */
};

/* comm runs from the first '(' to the LAST ')': it may hold spaces and ')'. */
int tstp_proc_stat_parse(const char *buf, size_t len, struct tstp_proc_stat *st);

/* ---- lock file (pure) ---- */

struct tstp_lock {
	pid_t pid;
	uint64_t start;
	char module[TSTP_MODNAME_MAX];
};

/* "pid=%d start=%llu module=%s\n"; returns its length, or -1 (bad module name, no room). */
int tstp_lock_format(char *buf, size_t size, const struct tstp_lock *l);
/* Strict inverse of tstp_lock_format (the final newline is optional). 0 or -1. */
int tstp_lock_parse(const char *buf, size_t len, struct tstp_lock *l);

enum tstp_owner {
	TSTP_OWNER_NONE,	/* no lock file */
	TSTP_OWNER_LIVE,	/* its process runs: hands off */
	TSTP_OWNER_STALE,	/* its process is gone (or the pid was reused) */
	TSTP_OWNER_UNKNOWN,	/* cannot tell: unreadable or malformed lock, /proc error */
};

/*
 * The liveness decision. stat_err: 0 when /proc/<lock->pid>/stat was read and
 * parsed into st, else the errno of reading it (ENOENT/ESRCH: no such process).
 */
enum tstp_owner tstp_owner_decide(const struct tstp_lock *lock, int stat_err,
				  const struct tstp_proc_stat *st);

/* ---- cleanup verdict (pure) ---- */

enum tstp_verdict {
	TSTP_VERDICT_IGNORE,	/* not a tcpstap_ module: never touched */
	TSTP_VERDICT_KEEP,	/* owned by a live process */
	TSTP_VERDICT_REFUSE,	/* unowned but not provably detached: why says so */
	TSTP_VERDICT_REMOVE,	/* detached SystemTap module of ours */
};

/*
 * has_ctl_dir: /proc/systemtap/<name>/ (or debugfs' systemtap/<name>/) exists.
 * A reason goes to why (a few words, no module name) for REFUSE.
 */
enum tstp_verdict tstp_cleanup_verdict(const struct tstp_module *m, enum tstp_owner owner,
				       int has_ctl_dir, char *why, size_t why_size);

/* ---- I/O layer ---- */

struct tstp_lock_error {
	int errnum;		/* EBUSY: a live owner holds it; else an errno */
	pid_t owner_pid;	/* EBUSY: the owner, and its comm */
	char owner_comm[TSTP_COMM_MAX];
	pid_t stale_pid;	/* acquire: the dead owner whose stale lock was removed, or 0 */
	char msg[256];		/* "what: reason" for a message */
};

/* Reads PROC/<pid>/stat (/proc/self/stat for this process). 0, or an errno (ENOENT: no such process). */
int tstp_proc_stat_read(const char *proc, pid_t pid, struct tstp_proc_stat *st);

/*
 * Looks at DIR/MODULE.lock without changing anything. Fills *lock when one
 * was parsed, the owner's comm into err->owner_comm when LIVE, and err->msg
 * for UNKNOWN. proc: the /proc to look processes up in (NULL: /proc).
 */
enum tstp_owner tstp_lock_check_at(const char *proc, const char *dir, const char *module,
				   struct tstp_lock *lock, struct tstp_lock_error *err);

/*
 * Takes DIR/MODULE.lock for this process (creating DIR 0755 if missing).
 * A stale lock is removed first (err->stale_pid says whose); a live owner's
 * lock is refused (-1, errnum EBUSY, owner_pid/owner_comm set); an unreadable
 * or malformed lock is refused too (-1, the errno or EINVAL). A lock already
 * held by this process is success. Returns 0 or -1 with *err filled.
 */
int tstp_lock_acquire_at(const char *proc, const char *dir, const char *module,
			 struct tstp_lock_error *err);
int tstp_lock_acquire(const char *dir, const char *module, struct tstp_lock_error *err);

/* Removes DIR/MODULE.lock if this process holds it; 0, or -1 with *err filled. */
int tstp_lock_release_at(const char *proc, const char *dir, const char *module,
			 struct tstp_lock_error *err);
int tstp_lock_release(const char *dir, const char *module, struct tstp_lock_error *err);

/* Whole small file (e.g. /proc/modules, whose size reads as 0) into a malloc'd NUL-terminated buffer. */
/*
 * Remove a loaded module the safe way: delete_module(name, O_NONBLOCK),
 * never forced, retried up to RETRIES times TSTP_REMOVE_RETRY_MS apart while
 * it is busy (EAGAIN, EWOULDBLOCK, EBUSY). Returns 0 or the errno of the last
 * attempt (ENOENT: somebody else removed it); *tries gets the attempts made.
 */
#define TSTP_REMOVE_RETRY_MS 200
int tstp_module_remove(const char *name, unsigned retries, unsigned *tries);

int tstp_read_small_file(const char *path, size_t max, char **out, size_t *len);

/* PROC/systemtap/MODULE/ or DEBUGFS/systemtap/MODULE/ is a directory (NULL roots: defaults). */
int tstp_stap_ctl_dir_exists(const char *proc, const char *debugfs, const char *module);

#endif /* TCPSTAP_OWNER_H */
