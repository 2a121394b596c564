// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Ownership of loaded tcpstap modules: pure parsers and decisions first, then
 * the small I/O layer (lock files, /proc reads). See tcpstap/owner.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tcpstap/owner.h"

/* ---- pure helpers ---- */

/* Next run of non-space bytes in [*p, end); 0 when none is left. */
static int next_token(const char **p, const char *end, const char **tok, size_t *len)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end)
		return 0;
	*tok = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*len = (size_t)(s - *tok);
	*p = s;
	return 1;
}

/* Decimal digits only, whole token, no overflow. */
static int parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= TSTP_MODNAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

int tstp_module_name_ok(const char *name)
{
	return name && name_ok(name, strnlen(name, TSTP_MODNAME_MAX));
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- /proc/modules ---- */

const char *tstp_mod_state_name(enum tstp_mod_state s)
{
	switch (s) {
	case TSTP_MOD_LIVE:		return "Live";
	case TSTP_MOD_LOADING:		return "Loading";
	case TSTP_MOD_UNLOADING:	return "Unloading";
	default:			return "unknown";
	}
}

static int tok_is(const char *tok, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(tok, word, len) == 0;
}

int tstp_modules_parse_line(const char *line, size_t len, struct tstp_module *m)
{
	const char *p = line, *end = line + len, *tok;
	size_t tlen;
	uint64_t v;

	memset(m, 0, sizeof(*m));
	/* name */
	if (!next_token(&p, end, &tok, &tlen) || !name_ok(tok, tlen))
		return -1;
	memcpy(m->name, tok, tlen);
	m->name[tlen] = '\0';
	/* size */
	if (!next_token(&p, end, &tok, &tlen) || parse_dec(tok, tlen, UINT64_MAX, &m->size) != 0)
		return -1;
	/* refcount: "-" without CONFIG_MODULE_UNLOAD */
	if (!next_token(&p, end, &tok, &tlen))
		return -1;
	if (tok_is(tok, tlen, "-"))
		m->refcount = -1;
	else if (parse_dec(tok, tlen, INT32_MAX, &v) == 0)
		m->refcount = (int)v;
	else
		return -1;
	/* dependants: "-" or "a,b,[permanent]," */
	if (!next_token(&p, end, &tok, &tlen))
		return -1;
	/* state */
	if (!next_token(&p, end, &tok, &tlen))
		return -1;
	if (tok_is(tok, tlen, "Live"))
		m->state = TSTP_MOD_LIVE;
	else if (tok_is(tok, tlen, "Loading"))
		m->state = TSTP_MOD_LOADING;
	else if (tok_is(tok, tlen, "Unloading"))
		m->state = TSTP_MOD_UNLOADING;
	else
		m->state = TSTP_MOD_UNKNOWN;
	/* address and taint flags: not needed */
	return 0;
}

size_t tstp_modules_parse(const char *buf, size_t len, const char *prefix,
			  struct tstp_module *out, size_t max, size_t *malformed)
{
	size_t found = 0, bad = 0;
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		struct tstp_module m;

		if (eol > p) {
			if (tstp_modules_parse_line(p, (size_t)(eol - p), &m) != 0)
				bad++;
			else if (!prefix || has_prefix(m.name, prefix)) {
				if (found < max)
					out[found] = m;
				found++;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (malformed)
		*malformed = bad;
	return found;
}

/* ---- /proc/PID/stat ---- */

int tstp_proc_stat_parse(const char *buf, size_t len, struct tstp_proc_stat *st)
{
	const char *open = memchr(buf, '(', len), *close = NULL, *p, *end = buf + len, *tok;
	size_t clen, tlen;

	memset(st, 0, sizeof(*st));
	if (!open)
		return -1;
	for (const char *q = end; q > open + 1; q--)
		if (q[-1] == ')') {
			close = q - 1;
			break;
		}
	if (!close)
		return -1;
	clen = (size_t)(close - open - 1);
	if (clen >= sizeof(st->comm))
		clen = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, clen);
	st->comm[clen] = '\0';
	p = close + 1;
	/* field 3: state, one character */
	if (!next_token(&p, end, &tok, &tlen) || tlen != 1)
		return -1;
	st->state = tok[0];
	/* fields 4..21, then 22: starttime */
	for (int field = 4; field <= 22; field++)
		if (!next_token(&p, end, &tok, &tlen))
			return -1;
	/* the line ends in '\n': strip it from the last token read */
	while (tlen && (tok[tlen - 1] == '\n' || tok[tlen - 1] == '\r'))
		tlen--;
	return parse_dec(tok, tlen, UINT64_MAX, &st->starttime);
}

/* ---- lock file ---- */

int tstp_lock_format(char *buf, size_t size, const struct tstp_lock *l)
{
	int n;

	if (l->pid <= 0 || !tstp_module_name_ok(l->module))
		return -1;
	n = snprintf(buf, size, "pid=%d start=%" PRIu64 " module=%s\n", (int)l->pid, l->start, l->module);
	return (n < 0 || (size_t)n >= size) ? -1 : n;
}

/* Expects exactly "key" at *p, then a value up to the next ' ' or the end. */
static int lock_field(const char **p, const char *end, const char *key, const char **val, size_t *vlen)
{
	size_t klen = strlen(key);
	const char *s = *p, *e;

	if ((size_t)(end - s) < klen || memcmp(s, key, klen) != 0)
		return -1;
	s += klen;
	e = memchr(s, ' ', (size_t)(end - s));
	if (!e)
		e = end;
	*val = s;
	*vlen = (size_t)(e - s);
	*p = e < end ? e + 1 : end;
	return 0;
}

int tstp_lock_parse(const char *buf, size_t len, struct tstp_lock *l)
{
	const char *p = buf, *end = buf + len, *v;
	size_t vlen;
	uint64_t pid;

	memset(l, 0, sizeof(*l));
	if (len && buf[len - 1] == '\n')
		end--;
	if (memchr(buf, '\n', (size_t)(end - buf)) || memchr(buf, '\0', (size_t)(end - buf)))
		return -1;
	if (lock_field(&p, end, "pid=", &v, &vlen) != 0 || parse_dec(v, vlen, INT32_MAX, &pid) != 0 || pid == 0)
		return -1;
	if (lock_field(&p, end, "start=", &v, &vlen) != 0 || parse_dec(v, vlen, UINT64_MAX, &l->start) != 0)
		return -1;
	if (lock_field(&p, end, "module=", &v, &vlen) != 0 || !name_ok(v, vlen) || v + vlen != end)
		return -1;
	l->pid = (pid_t)pid;
	memcpy(l->module, v, vlen);
	l->module[vlen] = '\0';
	return 0;
}

enum tstp_owner tstp_owner_decide(const struct tstp_lock *lock, int stat_err,
				  const struct tstp_proc_stat *st)
{
	if (stat_err == ENOENT || stat_err == ESRCH)
		return TSTP_OWNER_STALE;		/* no such process */
	if (stat_err)
		return TSTP_OWNER_UNKNOWN;		/* e.g. hidepid: cannot tell */
	if (st->state == 'Z' || st->state == 'X' || st->state == 'x')
		return TSTP_OWNER_STALE;		/* exited, not yet reaped */
	if (st->starttime != lock->start)
		return TSTP_OWNER_STALE;		/* the pid was reused */
	return TSTP_OWNER_LIVE;
}

/* ---- cleanup verdict ---- */

enum tstp_verdict tstp_cleanup_verdict(const struct tstp_module *m, enum tstp_owner owner,
				       int has_ctl_dir, char *why, size_t why_size)
{
	if (why_size)
		why[0] = '\0';
	if (!has_prefix(m->name, TSTP_MODULE_PREFIX))
		return TSTP_VERDICT_IGNORE;
	if (owner == TSTP_OWNER_LIVE)
		return TSTP_VERDICT_KEEP;
	if (owner == TSTP_OWNER_UNKNOWN) {
		snprintf(why, why_size, "owner unknown");
		return TSTP_VERDICT_REFUSE;
	}
	if (m->state != TSTP_MOD_LIVE) {
		snprintf(why, why_size, "state %s, not Live", tstp_mod_state_name(m->state));
		return TSTP_VERDICT_REFUSE;
	}
	if (m->refcount < 0) {
		snprintf(why, why_size, "refcount unknown (kernel without module unloading)");
		return TSTP_VERDICT_REFUSE;
	}
	if (m->refcount > 0) {
		snprintf(why, why_size, "in use (refcount %d)", m->refcount);
		return TSTP_VERDICT_REFUSE;
	}
	if (!has_ctl_dir) {
		snprintf(why, why_size, "no SystemTap control directory: not a detached stap module");
		return TSTP_VERDICT_REFUSE;
	}
	return TSTP_VERDICT_REMOVE;
}

/* ---- I/O layer ---- */

int tstp_read_small_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf = NULL;
	int err = 0;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return errno;
	for (;;) {
		ssize_t r;

		if (!buf || n + 1 >= cap) {
			char *nb;

			if (buf)
				cap *= 2;
			if (cap > max + 1)
				cap = max + 1;
			if (buf && n + 1 >= cap) {
				err = EFBIG;
				break;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				err = ENOMEM;
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int tstp_proc_stat_read(const char *proc, pid_t pid, struct tstp_proc_stat *st)
{
	char path[4096], *buf;
	size_t len;
	int err;

	if (pid <= 0)
		return ESRCH;
	/* This process is always in the real /proc, whatever tree a test points at. */
	if (pid == getpid())
		snprintf(path, sizeof(path), "%s/self/stat", TSTP_PROC_ROOT);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%d/stat", proc ? proc : TSTP_PROC_ROOT, (int)pid) >= sizeof(path))
		return ENAMETOOLONG;
	err = tstp_read_small_file(path, 65536, &buf, &len);
	if (err)
		return err;
	/* A process that exited between open and read yields an empty file. */
	err = len == 0 ? ESRCH : tstp_proc_stat_parse(buf, len, st) != 0 ? EINVAL : 0;
	free(buf);
	return err;
}

static int lock_path(char *path, size_t size, const char *dir, const char *prefix,
		     const char *module, const char *suffix)
{
	int n = snprintf(path, size, "%s/%s%s%s", dir, prefix, module, suffix);

	return (n < 0 || (size_t)n >= size) ? ENAMETOOLONG : 0;
}

static void set_msg(struct tstp_lock_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(struct tstp_lock_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	err->errnum = errnum;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* tstp_lock_check_at without clearing *err. */
static enum tstp_owner lock_check(const char *proc, const char *dir, const char *module,
				  struct tstp_lock *lock, struct tstp_lock_error *err)
{
	char path[4096], *buf;
	struct tstp_proc_stat st;
	enum tstp_owner owner;
	size_t len;
	int e;

	memset(lock, 0, sizeof(*lock));
	if (!tstp_module_name_ok(module)) {
		set_msg(err, EINVAL, "%s: not a module name", module);
		return TSTP_OWNER_UNKNOWN;
	}
	if ((e = lock_path(path, sizeof(path), dir, "", module, ".lock")) != 0) {
		set_msg(err, e, "%s/%s.lock: %s", dir, module, strerror(e));
		return TSTP_OWNER_UNKNOWN;
	}
	e = tstp_read_small_file(path, TSTP_LOCK_LINE_MAX, &buf, &len);
	if (e == ENOENT)
		return TSTP_OWNER_NONE;
	if (e) {
		set_msg(err, e, "lock %s: %s", path, strerror(e));
		return TSTP_OWNER_UNKNOWN;
	}
	e = tstp_lock_parse(buf, len, lock);
	free(buf);
	if (e != 0 || strcmp(lock->module, module) != 0) {
		set_msg(err, EINVAL, "lock %s: malformed (remove it by hand if no tcpstap process owns %s)",
			path, module);
		return TSTP_OWNER_UNKNOWN;
	}
	e = tstp_proc_stat_read(proc, lock->pid, &st);
	owner = tstp_owner_decide(lock, e, &st);
	if (owner == TSTP_OWNER_UNKNOWN)
		set_msg(err, e, "lock %s: owner pid %d: %s/%d/stat: %s", path, (int)lock->pid,
			proc ? proc : TSTP_PROC_ROOT, (int)lock->pid, strerror(e));
	if (owner == TSTP_OWNER_LIVE) {
		err->errnum = EBUSY;
		err->owner_pid = lock->pid;
		snprintf(err->owner_comm, sizeof(err->owner_comm), "%s", st.comm);
		set_msg(err, EBUSY, "lock %s: owned by pid %d (%s)", path, (int)lock->pid, st.comm);
	}
	return owner;
}

enum tstp_owner tstp_lock_check_at(const char *proc, const char *dir, const char *module,
				   struct tstp_lock *lock, struct tstp_lock_error *err)
{
	memset(err, 0, sizeof(*err));
	return lock_check(proc, dir, module, lock, err);
}

/* Serialises every lock change in dir among tcpstap processes; fd or -1. */
static int guard_open(const char *dir, struct tstp_lock_error *err)
{
	char path[4096];
	int fd;

	if (lock_path(path, sizeof(path), dir, "", ".guard", "") != 0) {
		set_msg(err, ENAMETOOLONG, "%s: %s", dir, strerror(ENAMETOOLONG));
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		set_msg(err, errno, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		set_msg(err, errno, "%s: flock: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes our lock line to a temp file and links it into place: never half-written. */
static int lock_create(const char *dir, const char *module, const char *line, size_t len,
		       struct tstp_lock_error *err)
{
	char path[4096], tmp[4096 + 32];
	ssize_t w;
	int fd, e = 0;

	if (lock_path(path, sizeof(path), dir, "", module, ".lock") != 0 ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.lock.%d", dir, module, (int)getpid()) >= (int)sizeof(tmp)) {
		set_msg(err, ENAMETOOLONG, "%s: %s", dir, strerror(ENAMETOOLONG));
		return -1;
	}
	(void)unlink(tmp);	/* a leftover of an earlier process with our pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_msg(err, errno, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	w = write(fd, line, len);
	if (w != (ssize_t)len)
		e = w < 0 ? errno : EIO;
	if (close(fd) != 0 && !e)
		e = errno;
	if (!e && link(tmp, path) != 0)
		e = errno;
	(void)unlink(tmp);
	if (e == EEXIST)
		return 1;	/* someone outside the guard was faster: look again */
	if (e) {
		set_msg(err, e, "%s: %s", path, strerror(e));
		return -1;
	}
	return 0;
}

int tstp_lock_acquire_at(const char *proc, const char *dir, const char *module,
			 struct tstp_lock_error *err)
{
	struct tstp_proc_stat self;
	struct tstp_lock mine = { .pid = getpid() }, held;
	char line[TSTP_LOCK_LINE_MAX], path[4096];
	int guard, ret = -1, n, e;

	memset(err, 0, sizeof(*err));
	if (!tstp_module_name_ok(module)) {
		set_msg(err, EINVAL, "%s: not a module name", module);
		return -1;
	}
	e = tstp_proc_stat_read(proc, mine.pid, &self);
	if (e) {
		set_msg(err, e, "%s/%d/stat: %s", proc ? proc : TSTP_PROC_ROOT, (int)mine.pid, strerror(e));
		return -1;
	}
	mine.start = self.starttime;
	snprintf(mine.module, sizeof(mine.module), "%s", module);
	n = tstp_lock_format(line, sizeof(line), &mine);
	if (n < 0 || lock_path(path, sizeof(path), dir, "", module, ".lock") != 0) {
		set_msg(err, ENAMETOOLONG, "%s/%s.lock: %s", dir, module, strerror(ENAMETOOLONG));
		return -1;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		set_msg(err, errno, "%s: %s", dir, strerror(errno));
		return -1;
	}
	guard = guard_open(dir, err);
	if (guard < 0)
		return -1;
	for (int attempt = 0; attempt < 3; attempt++) {
		enum tstp_owner owner = lock_check(proc, dir, module, &held, err);

		if (owner == TSTP_OWNER_LIVE) {
			if (held.pid == mine.pid && held.start == mine.start) {
				err->errnum = 0;	/* ours already */
				err->owner_pid = 0;
				err->msg[0] = '\0';
				ret = 0;
			}
			goto out;
		}
		if (owner == TSTP_OWNER_UNKNOWN)
			goto out;
		if (owner == TSTP_OWNER_STALE) {
			if (unlink(path) != 0 && errno != ENOENT) {
				set_msg(err, errno, "stale lock %s: %s", path, strerror(errno));
				goto out;
			}
			err->stale_pid = held.pid;
		}
		e = lock_create(dir, module, line, (size_t)n, err);
		if (e <= 0) {
			ret = e;
			goto out;
		}
	}
	set_msg(err, EAGAIN, "lock %s: keeps being replaced by another process", path);
out:
	close(guard);	/* releases the flock */
	return ret;
}

int tstp_lock_acquire(const char *dir, const char *module, struct tstp_lock_error *err)
{
	return tstp_lock_acquire_at(NULL, dir, module, err);
}

int tstp_lock_release_at(const char *proc, const char *dir, const char *module,
			 struct tstp_lock_error *err)
{
	struct tstp_proc_stat self;
	struct tstp_lock held;
	char path[4096];
	enum tstp_owner owner;
	int guard, ret = -1, e;

	memset(err, 0, sizeof(*err));
	if (!tstp_module_name_ok(module) || lock_path(path, sizeof(path), dir, "", module, ".lock") != 0) {
		set_msg(err, EINVAL, "%s: not a module name", module);
		return -1;
	}
	e = tstp_proc_stat_read(proc, getpid(), &self);
	if (e) {
		set_msg(err, e, "%s/%d/stat: %s", proc ? proc : TSTP_PROC_ROOT, (int)getpid(), strerror(e));
		return -1;
	}
	guard = guard_open(dir, err);
	if (guard < 0 && err->errnum == ENOENT) {
		memset(err, 0, sizeof(*err));	/* no dir: nothing held */
		return 0;
	}
	if (guard < 0)
		return -1;
	owner = lock_check(proc, dir, module, &held, err);
	if (owner == TSTP_OWNER_NONE) {
		ret = 0;
	} else if (owner == TSTP_OWNER_LIVE && held.pid == getpid() && held.start == self.starttime) {
		if (unlink(path) == 0 || errno == ENOENT) {
			memset(err, 0, sizeof(*err));
			ret = 0;
		} else {
			set_msg(err, errno, "%s: %s", path, strerror(errno));
		}
	} else if (owner != TSTP_OWNER_UNKNOWN) {
		set_msg(err, EPERM, "lock %s: held by pid %d, not by this process", path, (int)held.pid);
	}
	close(guard);
	return ret;
}

int tstp_lock_release(const char *dir, const char *module, struct tstp_lock_error *err)
{
	return tstp_lock_release_at(NULL, dir, module, err);
}

int tstp_stap_ctl_dir_exists(const char *proc, const char *debugfs, const char *module)
{
	char path[4096];
	struct stat sb;

	if (!tstp_module_name_ok(module))
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/systemtap/%s", proc ? proc : TSTP_PROC_ROOT, module) < sizeof(path) &&
	    stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 1;
	if ((size_t)snprintf(path, sizeof(path), "%s/systemtap/%s", debugfs ? debugfs : TSTP_DEBUGFS_ROOT, module) < sizeof(path) &&
	    stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 1;
	return 0;
}

int tstp_module_remove(const char *name, unsigned retries, unsigned *tries)
{
	for (*tries = 1;; (*tries)++) {
		struct timespec pause = { .tv_sec = 0, .tv_nsec = TSTP_REMOVE_RETRY_MS * 1000000L };
		int e;

		if (syscall(SYS_delete_module, name, O_NONBLOCK) == 0)
			return 0;
		e = errno;
		if ((e != EAGAIN && e != EWOULDBLOCK && e != EBUSY) || *tries > retries)
			return e;
		while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
			;
	}
}
