// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Module ownership: /proc/modules and /proc/PID/stat parsing, the lock file
 * format, the liveness and cleanup decisions, lock acquire/refuse/steal in a
 * temp dir, and `tcpstap cleanup --dry-run` over a fake /proc tree.
 */
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tcpstap/owner.h"

#define DEAD_PID 0x7ffffffe	/* above any pid_max (2^22) */

static const char *tcpstap_bin;	/* build/tcpstap, next to build/tests/ */

static const char modules_sample[] =
	"nf_conntrack 172032 3 nf_nat,xt_conntrack,nf_conntrack_netlink, Live 0xffffffffc0a00000\n"
	"tcpstap_latency 409600 0 - Live 0x0000000000000000 (OE)\n"
	"tcpstap_busy 8192 2 - Live 0x0000000000000000 (OE)\n"
	"tcpstap_loading 8192 0 - Loading 0x0000000000000000 (OE)\n"
	"tcpstap_going 12288 1 tcpstap_dep,[permanent], Unloading 0xffffffffc0b00000 (POE)\n"
	"this line is broken\n"
	"\n"
	"tcpstap_nounload 4096 - - Live 0x0\n"
	"tcpstapx 100 0 - Live 0x0\n"
	"my_tcpstap_thing 100 0 - Live 0x0\n"
	"tcpstap_last 1 0 - Live 0x0 (O)";	/* no final newline */

static void test_modules_parse(void)
{
	struct tstp_module m[8];
	size_t bad = 99, n;

	n = tstp_modules_parse(modules_sample, strlen(modules_sample), TSTP_MODULE_PREFIX, m, 8, &bad);
	CHECK_U64(n, 6);
	CHECK_U64(bad, 1);
	CHECK_STR(m[0].name, "tcpstap_latency");
	CHECK_U64(m[0].size, 409600);
	CHECK(m[0].refcount == 0);
	CHECK(m[0].state == TSTP_MOD_LIVE);
	CHECK_STR(m[1].name, "tcpstap_busy");
	CHECK(m[1].refcount == 2);
	CHECK(m[2].state == TSTP_MOD_LOADING);
	CHECK_STR(m[3].name, "tcpstap_going");
	CHECK(m[3].refcount == 1);
	CHECK(m[3].state == TSTP_MOD_UNLOADING);
	CHECK_STR(m[4].name, "tcpstap_nounload");
	CHECK(m[4].refcount == -1);
	CHECK_STR(m[5].name, "tcpstap_last");
	CHECK_U64(m[5].size, 1);

	/* No prefix: every well-formed line; max bounds what is stored, not the count. */
	n = tstp_modules_parse(modules_sample, strlen(modules_sample), NULL, m, 2, NULL);
	CHECK_U64(n, 9);
	CHECK_STR(m[0].name, "nf_conntrack");
	CHECK(m[0].refcount == 3);
	CHECK_STR(m[1].name, "tcpstap_latency");
	CHECK_U64(tstp_modules_parse("", 0, NULL, m, 8, &bad), 0);
	CHECK_U64(bad, 0);
}

static void test_modules_parse_line_rejects(void)
{
	struct tstp_module m;
	const char *bad[] = {
		"",
		"tcpstap_x 4096 0 -",				/* no state */
		"tcpstap_x 4k 0 - Live 0x0",			/* size */
		"tcpstap_x 4096 x - Live 0x0",			/* refcount */
		"tcpstap_x 4096 -1 - Live 0x0",
		"tcpstap_x 4096 99999999999 - Live 0x0",	/* refcount overflow */
		"tcpstap/x 4096 0 - Live 0x0",			/* not a module name */
		"tcpstap_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1 0 - Live 0x0", /* 56 chars */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tstp_modules_parse_line(bad[i], strlen(bad[i]), &m) == 0)
			CHECK_FAIL("accepted [%s]", bad[i]);
	CHECK(tstp_modules_parse_line("a 1 0 - Weird 0x0", 17, &m) == 0);
	CHECK(m.state == TSTP_MOD_UNKNOWN);
	CHECK(tstp_module_name_ok("tcpstap_latency"));
	CHECK(!tstp_module_name_ok("../etc"));
	CHECK(!tstp_module_name_ok(""));
}

/* A stat line whose comm is COMM, state S and starttime START (field 22). */
static void make_stat(char *buf, size_t size, const char *comm, char state, unsigned long long start)
{
	snprintf(buf, size, "4242 (%s) %c 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %llu "
		 "1234567 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n", comm, state, start);
}

static void test_proc_stat_parse(void)
{
	struct tstp_proc_stat st;
	char line[512], *buf;
	size_t len;

	make_stat(line, sizeof(line), "tcpstap-load", 'S', 123456789ULL);
	CHECK(tstp_proc_stat_parse(line, strlen(line), &st) == 0);
	CHECK_STR(st.comm, "tcpstap-load");
	CHECK(st.state == 'S');
	CHECK_U64(st.starttime, 123456789);

	/* Spaces, ')' and digits inside comm: only the LAST ')' ends it. */
	make_stat(line, sizeof(line), "a b) R 1 2 3 (x)", 'Z', 77);
	CHECK(tstp_proc_stat_parse(line, strlen(line), &st) == 0);
	CHECK_STR(st.comm, "a b) R 1 2 3 (x)");
	CHECK(st.state == 'Z');
	CHECK_U64(st.starttime, 77);
	make_stat(line, sizeof(line), ")", 'S', 5);
	CHECK(tstp_proc_stat_parse(line, strlen(line), &st) == 0);
	CHECK_STR(st.comm, ")");
	CHECK_U64(st.starttime, 5);

	/* Starttime as the very last field, no newline. */
	strcpy(line, "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42");
	CHECK(tstp_proc_stat_parse(line, strlen(line), &st) == 0);
	CHECK_U64(st.starttime, 42);
	/* Too short, no parentheses, non-numeric starttime. */
	strcpy(line, "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0");
	CHECK(tstp_proc_stat_parse(line, strlen(line), &st) == -1);
	strcpy(line, "1 x S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42");
	CHECK(tstp_proc_stat_parse(line, strlen(line), &st) == -1);
	strcpy(line, "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4x2");
	CHECK(tstp_proc_stat_parse(line, strlen(line), &st) == -1);

	/* The real thing. */
	CHECK(tstp_read_small_file("/proc/self/stat", 65536, &buf, &len) == 0);
	CHECK(tstp_proc_stat_parse(buf, len, &st) == 0);
	free(buf);
	CHECK_STR(st.comm, "test_owner");
	CHECK(st.state == 'R');
}

static void test_lock_format_roundtrip(void)
{
	struct tstp_lock in = { .pid = 1234, .start = 18446744073709551615ULL, .module = "tcpstap_latency" };
	struct tstp_lock out;
	char buf[TSTP_LOCK_LINE_MAX];
	int n;

	n = tstp_lock_format(buf, sizeof(buf), &in);
	CHECK(n > 0);
	CHECK_STR(buf, "pid=1234 start=18446744073709551615 module=tcpstap_latency\n");
	CHECK(tstp_lock_parse(buf, (size_t)n, &out) == 0);
	CHECK(out.pid == in.pid);
	CHECK_U64(out.start, in.start);
	CHECK_STR(out.module, in.module);
	/* The newline is optional. */
	CHECK(tstp_lock_parse(buf, (size_t)n - 1, &out) == 0);
	CHECK_U64(out.start, in.start);

	CHECK(tstp_lock_format(buf, 20, &in) == -1);	/* no room */
	in.pid = 0;
	CHECK(tstp_lock_format(buf, sizeof(buf), &in) == -1);
	in.pid = 1;
	strcpy(in.module, "../x");
	CHECK(tstp_lock_format(buf, sizeof(buf), &in) == -1);
}

static void test_lock_parse_rejects(void)
{
	struct tstp_lock l;
	const char *bad[] = {
		"",
		"\n",
		"pid=0 start=1 module=tcpstap_x\n",
		"pid=-1 start=1 module=tcpstap_x\n",
		"pid=2147483648 start=1 module=tcpstap_x\n",
		"pid=12 start=x module=tcpstap_x\n",
		"pid=12 start=18446744073709551616 module=tcpstap_x\n",
		"pid=12 start= module=tcpstap_x\n",
		"pid=12  start=1 module=tcpstap_x\n",
		"pid=12 start=1 module=tcpstap_x extra\n",
		"pid=12 start=1 module=../tcpstap_x\n",
		"pid=12 start=1 module=\n",
		"pid=12 start=1\n",
		"start=1 pid=12 module=tcpstap_x\n",
		"pid=12 start=1 module=tcpstap_x\n\n",
		"pid=12 start=1 module=tcpstap_x\npid=13 start=1 module=tcpstap_x\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tstp_lock_parse(bad[i], strlen(bad[i]), &l) == 0)
			CHECK_FAIL("accepted [%s]", bad[i]);
	CHECK(tstp_lock_parse("pid=12 start=0 module=tcpstap_x", 31, &l) == 0);
	CHECK(l.pid == 12);
}

static void test_owner_decide(void)
{
	struct tstp_lock lock = { .pid = 4242, .start = 1000, .module = "tcpstap_x" };
	struct tstp_proc_stat st = { .comm = "tcpstap-load", .state = 'S', .starttime = 1000 };

	CHECK(tstp_owner_decide(&lock, 0, &st) == TSTP_OWNER_LIVE);	/* alive, same start */
	st.starttime = 1001;
	CHECK(tstp_owner_decide(&lock, 0, &st) == TSTP_OWNER_STALE);	/* pid reused */
	CHECK(tstp_owner_decide(&lock, ENOENT, &st) == TSTP_OWNER_STALE);	/* dead */
	CHECK(tstp_owner_decide(&lock, ESRCH, &st) == TSTP_OWNER_STALE);
	st.starttime = 1000;
	st.state = 'Z';
	CHECK(tstp_owner_decide(&lock, 0, &st) == TSTP_OWNER_STALE);	/* exited, unreaped */
	st.state = 'D';
	CHECK(tstp_owner_decide(&lock, 0, &st) == TSTP_OWNER_LIVE);
	CHECK(tstp_owner_decide(&lock, EACCES, &st) == TSTP_OWNER_UNKNOWN);	/* cannot tell */
	CHECK(tstp_owner_decide(&lock, EINVAL, &st) == TSTP_OWNER_UNKNOWN);
}

static void test_cleanup_verdict(void)
{
	struct tstp_module m = { .name = "tcpstap_x", .refcount = 0, .state = TSTP_MOD_LIVE };
	char why[128];

	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_NONE, 1, why, sizeof(why)) == TSTP_VERDICT_REMOVE);
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_STALE, 1, why, sizeof(why)) == TSTP_VERDICT_REMOVE);
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_LIVE, 1, why, sizeof(why)) == TSTP_VERDICT_KEEP);
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_UNKNOWN, 1, why, sizeof(why)) == TSTP_VERDICT_REFUSE);
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_NONE, 0, why, sizeof(why)) == TSTP_VERDICT_REFUSE);
	CHECK_STR(why, "no SystemTap control directory: not a detached stap module");
	m.refcount = 2;
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_NONE, 1, why, sizeof(why)) == TSTP_VERDICT_REFUSE);
	CHECK_STR(why, "in use (refcount 2)");
	m.refcount = -1;
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_NONE, 1, why, sizeof(why)) == TSTP_VERDICT_REFUSE);
	m.refcount = 0;
	m.state = TSTP_MOD_LOADING;
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_NONE, 1, why, sizeof(why)) == TSTP_VERDICT_REFUSE);
	CHECK_STR(why, "state Loading, not Live");
	m.state = TSTP_MOD_UNLOADING;
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_NONE, 1, why, sizeof(why)) == TSTP_VERDICT_REFUSE);
	/* Without the prefix nothing else matters. */
	m.state = TSTP_MOD_LIVE;
	strcpy(m.name, "nf_tables");
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_NONE, 1, why, sizeof(why)) == TSTP_VERDICT_IGNORE);
	strcpy(m.name, "tcpstapx");
	CHECK(tstp_cleanup_verdict(&m, TSTP_OWNER_STALE, 1, why, sizeof(why)) == TSTP_VERDICT_IGNORE);
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ok = fputs(text, f) >= 0;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int file_exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static int read_lock_file(const char *dir, const char *module, struct tstp_lock *l)
{
	char path[512], *buf;
	size_t len;
	int ret;

	snprintf(path, sizeof(path), "%s/%s.lock", dir, module);
	if (tstp_read_small_file(path, 4096, &buf, &len) != 0)
		return -1;
	ret = tstp_lock_parse(buf, len, l);
	free(buf);
	return ret;
}

static void rm_rf(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
}

static void lock_acquire_body(const char *dir)
{
	struct tstp_proc_stat self, parent;
	struct tstp_lock_error err;
	struct tstp_lock l;
	char text[TSTP_LOCK_LINE_MAX];

	CHECK(tstp_proc_stat_read(NULL, getpid(), &self) == 0);
	CHECK(tstp_proc_stat_read(NULL, getppid(), &parent) == 0);

	/* Fresh: the directory is created, the lock names us. */
	CHECK(tstp_lock_acquire(dir, "tcpstap_a", &err) == 0);
	CHECK(read_lock_file(dir, "tcpstap_a", &l) == 0);
	CHECK(l.pid == getpid());
	CHECK_U64(l.start, self.starttime);
	CHECK_STR(l.module, "tcpstap_a");
	CHECK(err.stale_pid == 0);
	/* Ours already: success, and check_at sees a live owner: us. */
	CHECK(tstp_lock_acquire(dir, "tcpstap_a", &err) == 0);
	CHECK(tstp_lock_check_at(NULL, dir, "tcpstap_a", &l, &err) == TSTP_OWNER_LIVE);
	CHECK(err.owner_pid == getpid());
	CHECK_STR(err.owner_comm, "test_owner");

	/* A live owner other than us (the parent, with its real start): refused, untouched. */
	snprintf(text, sizeof(text), "pid=%d start=%llu module=tcpstap_b\n",
		 (int)getppid(), (unsigned long long)parent.starttime);
	CHECK(write_file(dir, "tcpstap_b.lock", text) == 0);
	CHECK(tstp_lock_acquire(dir, "tcpstap_b", &err) == -1);
	CHECK(err.errnum == EBUSY);
	CHECK(err.owner_pid == getppid());
	CHECK(read_lock_file(dir, "tcpstap_b", &l) == 0);
	CHECK(l.pid == getppid());
	CHECK(tstp_lock_release(dir, "tcpstap_b", &err) == -1);	/* not ours to release */
	CHECK(err.errnum == EPERM);
	CHECK(file_exists(dir, "tcpstap_b.lock"));

	/* Dead owner: stolen. */
	snprintf(text, sizeof(text), "pid=%d start=5 module=tcpstap_c\n", DEAD_PID);
	CHECK(write_file(dir, "tcpstap_c.lock", text) == 0);
	CHECK(tstp_lock_check_at(NULL, dir, "tcpstap_c", &l, &err) == TSTP_OWNER_STALE);
	CHECK(tstp_lock_acquire(dir, "tcpstap_c", &err) == 0);
	CHECK(err.stale_pid == DEAD_PID);
	CHECK(read_lock_file(dir, "tcpstap_c", &l) == 0);
	CHECK(l.pid == getpid());

	/* Our pid with another start (a reused pid): stale too. */
	snprintf(text, sizeof(text), "pid=%d start=%llu module=tcpstap_d\n",
		 (int)getpid(), (unsigned long long)self.starttime + 1);
	CHECK(write_file(dir, "tcpstap_d.lock", text) == 0);
	CHECK(tstp_lock_acquire(dir, "tcpstap_d", &err) == 0);
	CHECK(err.stale_pid == getpid());
	CHECK(read_lock_file(dir, "tcpstap_d", &l) == 0);
	CHECK_U64(l.start, self.starttime);

	/* Malformed, or naming another module: refused, left for a human. */
	CHECK(write_file(dir, "tcpstap_e.lock", "garbage\n") == 0);
	CHECK(tstp_lock_acquire(dir, "tcpstap_e", &err) == -1);
	CHECK(err.errnum == EINVAL);
	CHECK(file_exists(dir, "tcpstap_e.lock"));
	snprintf(text, sizeof(text), "pid=%d start=5 module=tcpstap_other\n", DEAD_PID);
	CHECK(write_file(dir, "tcpstap_f.lock", text) == 0);
	CHECK(tstp_lock_acquire(dir, "tcpstap_f", &err) == -1);
	CHECK(err.errnum == EINVAL);

	/* Not a module name: no path games. */
	CHECK(tstp_lock_acquire(dir, "../tcpstap_a", &err) == -1);
	CHECK(err.errnum == EINVAL);

	/* Release removes only our own; releasing nothing is fine. */
	CHECK(tstp_lock_release(dir, "tcpstap_a", &err) == 0);
	CHECK(!file_exists(dir, "tcpstap_a.lock"));
	CHECK(tstp_lock_release(dir, "tcpstap_a", &err) == 0);
	/* No temp files left behind. */
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -q '^\\.tcpstap_'", dir);
		CHECK(system(cmd) != 0);
	}
}

static void test_lock_acquire(void)
{
	char tmpl[] = "/tmp/tcpstap-test-owner.XXXXXX", dir[600];

	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s/locks", tmpl);	/* does not exist yet */
	lock_acquire_body(dir);
	rm_rf(tmpl);
}

/* Runs tcpstap ARGS with stdout into out; returns the exit status or -1. */
static int run_tcpstap(const char *args, const char *errfile, char *out, size_t size)
{
	char cmd[2048];
	size_t n;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>'%s'", tcpstap_bin, args, errfile);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void cleanup_dry_run_body(const char *root)
{
	char proc[600], locks[600], path[700], out[4096], err[4096], args[2048], errfile[700], line[1024];
	struct stat sb;
	size_t len;
	char *buf;
	int rc;

	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(locks, sizeof(locks), "%s/run", root);
	snprintf(errfile, sizeof(errfile), "%s/stderr", root);
	CHECK(mkdir(proc, 0755) == 0 && mkdir(locks, 0755) == 0);
	snprintf(path, sizeof(path), "%s/systemtap", proc);
	CHECK(mkdir(path, 0755) == 0);
	/* Control directories: every candidate but tcpstap_noctl; also a foreign module. */
	for (const char *const *m = (const char *const[]){ "tcpstap_stale", "tcpstap_fresh", "tcpstap_owned",
							   "tcpstap_busy", "nf_tables", NULL }; *m; m++) {
		snprintf(path, sizeof(path), "%s/systemtap/%s", proc, *m);
		CHECK(mkdir(path, 0755) == 0);
	}
	CHECK(write_file(proc, "modules",
			 "nf_tables 290816 0 - Live 0xffffffffc0a00000\n"
			 "tcpstap_stale 409600 0 - Live 0x0000000000000000 (OE)\n"
			 "tcpstap_fresh 8192 0 - Live 0x0000000000000000 (OE)\n"
			 "tcpstap_owned 8192 0 - Live 0x0000000000000000 (OE)\n"
			 "tcpstap_busy 8192 2 - Live 0x0000000000000000 (OE)\n"
			 "tcpstap_noctl 8192 0 - Live 0x0000000000000000 (OE)\n") == 0);
	/* A live owner in the fake tree: pid 4242, comm with a space and a ')'. */
	snprintf(path, sizeof(path), "%s/4242", proc);
	CHECK(mkdir(path, 0755) == 0);
	make_stat(line, sizeof(line), "tcpstap-load) x", 'S', 9000);
	CHECK(write_file(path, "stat", line) == 0);
	CHECK(write_file(locks, "tcpstap_owned.lock", "pid=4242 start=9000 module=tcpstap_owned\n") == 0);
	snprintf(line, sizeof(line), "pid=%d start=1 module=tcpstap_stale\n", DEAD_PID);
	CHECK(write_file(locks, "tcpstap_stale.lock", line) == 0);

	snprintf(args, sizeof(args), "cleanup --dry-run --proc '%s' --lock-dir '%s'", proc, locks);
	rc = run_tcpstap(args, errfile, out, sizeof(out));
	CHECK_STR(out,
		  "would remove tcpstap_stale (detached: no live owner, refcount 0)\n"
		  "would remove tcpstap_fresh (detached: no live owner, refcount 0)\n"
		  "kept tcpstap_owned: owned by pid 4242 (tcpstap-load) x)\n"
		  "could not remove tcpstap_busy: in use (refcount 2)\n"
		  "could not remove tcpstap_noctl: no SystemTap control directory: not a detached stap module\n");
	CHECK(rc == 1);
	CHECK(tstp_read_small_file(errfile, sizeof(err), &buf, &len) == 0);
	snprintf(err, sizeof(err), "%s", buf);
	free(buf);
	snprintf(line, sizeof(line), "tcpstap: cleanup: %s/tcpstap_stale.lock: would remove stale lock of pid %d (no longer running)\n",
		 locks, DEAD_PID);
	CHECK_STR(err, line);
	/* --dry-run changed nothing. */
	CHECK(file_exists(locks, "tcpstap_stale.lock"));
	CHECK(!file_exists(locks, "tcpstap_fresh.lock"));
	CHECK(!file_exists(locks, ".guard"));

	/* Only removable or owned modules: exit 0. */
	CHECK(write_file(proc, "modules",
			 "tcpstap_fresh 8192 0 - Live 0x0 (OE)\ntcpstap_owned 8192 0 - Live 0x0 (OE)\n") == 0);
	rc = run_tcpstap(args, errfile, out, sizeof(out));
	CHECK(rc == 0);
	/* The owner died and its pid was reused: no longer owned. */
	make_stat(line, sizeof(line), "bash", 'S', 9001);
	snprintf(path, sizeof(path), "%s/4242", proc);
	CHECK(write_file(path, "stat", line) == 0);
	rc = run_tcpstap(args, errfile, out, sizeof(out));
	CHECK(rc == 0);
	CHECK_STR(out,
		  "would remove tcpstap_fresh (detached: no live owner, refcount 0)\n"
		  "would remove tcpstap_owned (detached: no live owner, refcount 0)\n");

	/* No modules of ours; no /proc/modules at all. */
	CHECK(write_file(proc, "modules", "nf_tables 290816 0 - Live 0x0\n") == 0);
	rc = run_tcpstap(args, errfile, out, sizeof(out));
	CHECK(rc == 0);
	CHECK_STR(out, "no tcpstap_* modules loaded, nothing to clean\n");
	snprintf(path, sizeof(path), "%s/modules", proc);
	CHECK(unlink(path) == 0);
	rc = run_tcpstap(args, errfile, out, sizeof(out));
	CHECK(rc == 0);
	CHECK(strstr(out, "nothing to clean") != NULL);

	/* Usage errors. */
	CHECK(run_tcpstap("cleanup --retries 5x", errfile, out, sizeof(out)) == 2);
	CHECK(run_tcpstap("cleanup --retries 101", errfile, out, sizeof(out)) == 2);
	CHECK(run_tcpstap("cleanup extra", errfile, out, sizeof(out)) == 2);
	CHECK(run_tcpstap("cleanup --help", errfile, out, sizeof(out)) == 0);
	CHECK(strstr(out, "\nEXAMPLES:\n") != NULL);
	CHECK(stat(tcpstap_bin, &sb) == 0);
}

static void test_cleanup_dry_run_fake_proc(void)
{
	char tmpl[] = "/tmp/tcpstap-test-cleanup.XXXXXX";

	if (access(tcpstap_bin, X_OK) != 0)
		CHECK_FAIL("%s: not built (make -C userspace)", tcpstap_bin);
	CHECK(mkdtemp(tmpl) != NULL);
	cleanup_dry_run_body(tmpl);
	rm_rf(tmpl);
}

int main(int argc, char **argv)
{
	/* argv[0] is BUILD/tests/test_owner: the command is BUILD/tcpstap. */
	static char bin[4096];
	const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
	size_t dirlen = slash ? (size_t)(slash - argv[0]) : 0;

	snprintf(bin, sizeof(bin), "%.*s/../tcpstap", (int)dirlen, slash ? argv[0] : ".");
	tcpstap_bin = bin;

	RUN_TEST(test_modules_parse);
	RUN_TEST(test_modules_parse_line_rejects);
	RUN_TEST(test_proc_stat_parse);
	RUN_TEST(test_lock_format_roundtrip);
	RUN_TEST(test_lock_parse_rejects);
	RUN_TEST(test_owner_decide);
	RUN_TEST(test_cleanup_verdict);
	RUN_TEST(test_lock_acquire);
	RUN_TEST(test_cleanup_dry_run_fake_proc);
	return CHECK_EXIT_CODE();
}
