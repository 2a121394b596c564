// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Unit tests of tcpstap-load's pure parts: filter translation, MODULE resolution, parsers. */
#include "check.h"
#include "tcpstap/filter.h"

/* The filter's params joined by spaces, or "ERR: <message>". */
static const char *params_of(const char *expr)
{
	static char out[4096];
	char buf[1024], err[TSTP_ERR_MAX], p[TSTP_FILTER_PARAMS_MAX][TSTP_PARAM_MAX];
	char *words[1] = { buf };
	struct tstp_filter f;
	size_t n, len = 0;

	snprintf(buf, sizeof(buf), "%s", expr);
	if (tstp_filter_parse(*expr ? 1 : 0, words, &f, err, sizeof(err)) != 0) {
		snprintf(out, sizeof(out), "ERR: %s", err);
		return out;
	}
	out[0] = '\0';
	n = tstp_filter_params(&f, p, TSTP_FILTER_PARAMS_MAX);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? " " : "", p[i]);
	return out;
}

#define SUP "; supported: " TSTP_FILTER_SUPPORTED

static void test_filter_accepted(void)
{
	CHECK_STR(params_of(""), "");
	CHECK_STR(params_of("tcp"), "");
	CHECK_STR(params_of("port 6379"), "ports=6379");
	CHECK_STR(params_of("tcp port 6379"), "ports=6379");
	CHECK_STR(params_of("tcp and port 6379"), "ports=6379");
	CHECK_STR(params_of("port 80 or port 443 or port 80"), "ports=80,443");
	CHECK_STR(params_of("port 80 || port 443"), "ports=80,443");
	CHECK_STR(params_of("host 10.0.0.2"), "addr=10.0.0.2");
	CHECK_STR(params_of("host ::ffff:10.0.0.2"), "addr=10.0.0.2");
	CHECK_STR(params_of("host 10.0.0.2 and port 3306"), "ports=3306 addr=10.0.0.2");
	CHECK_STR(params_of("tcp host 10.0.0.2 && port 3306 or port 3307"), "ports=3306,3307 addr=10.0.0.2");
	CHECK_STR(params_of("port 3306 and host 10.0.0.2"), "ports=3306 addr=10.0.0.2");
	CHECK_STR(params_of("port 1 or port 2 and host 10.0.0.2"), "ports=1,2 addr=10.0.0.2");
	CHECK_STR(params_of("port 65535"), "ports=65535");
}

static void test_filter_words_split(void)
{
	char a[] = "tcp", b[] = "port 80 or", c[] = "port 81";
	char *words[] = { a, b, c };
	char err[TSTP_ERR_MAX];
	struct tstp_filter f;

	CHECK(tstp_filter_parse(3, words, &f, err, sizeof(err)) == 0);
	CHECK_U64(f.nports, 2);
	CHECK_U64(f.ports[1], 81);
}

static void test_filter_ipv6_words(void)
{
	CHECK_STR(params_of("host fd77::1"),
		  "addr6_0=0x000077fd addr6_1=0x00000000 addr6_2=0x00000000 addr6_3=0x01000000 addr6_set=1");
	CHECK_STR(params_of("host 2001:db8::a:b and port 80"),
		  "ports=80 addr6_0=0xb80d0120 addr6_1=0x00000000 addr6_2=0x00000000 addr6_3=0x0b000a00 addr6_set=1");
}

static void test_filter_rejected(void)
{
	CHECK_STR(params_of("udp port 53"), "ERR: filter: 'udp': only TCP is traced" SUP);
	CHECK_STR(params_of("net 10.0.0.0/8"), "ERR: filter: 'net': networks are not supported, only one host address" SUP);
	CHECK_STR(params_of("portrange 1-5"), "ERR: filter: 'portrange': port ranges are not supported, list the ports with 'or'" SUP);
	CHECK_STR(params_of("not port 80"), "ERR: filter: 'not': negation is not supported" SUP);
	CHECK_STR(params_of("(port 80)"), "ERR: filter: '(': parentheses are not supported" SUP);
	CHECK_STR(params_of("host 1.2.3.4 and (port 80 or port 81)"), "ERR: filter: '(': parentheses are not supported" SUP);
	CHECK_STR(params_of("dst port 80"), "ERR: filter: 'dst': the module matches a port or address at either end: 'src' and 'dst' are not supported" SUP);
	CHECK_STR(params_of("src port 80"), "ERR: filter: 'src': the module matches a port or address at either end: 'src' and 'dst' are not supported" SUP);
	CHECK_STR(params_of("host 1.2.3.4 and host 5.6.7.8"), "ERR: filter: host '5.6.7.8': only one host is supported" SUP);
	CHECK_STR(params_of("port 80 or host 1.2.3.4"), "ERR: filter: 'or' with a host: a host is combined with ports by 'and' only" SUP);
	CHECK_STR(params_of("host 1.2.3.4 or port 80"), "ERR: filter: 'or' with a host: a host is combined with ports by 'and' only" SUP);
	CHECK_STR(params_of("port 80 and port 81"), "ERR: filter: 'port N and port M': a connection has one service port: join ports with 'or'" SUP);
	CHECK_STR(params_of("port 1 and host 1.2.3.4 and port 2"), "ERR: filter: a host between ports: write 'host ADDR and port N or port M'" SUP);
	CHECK_STR(params_of("port 1 or host 1.2.3.4 and port 2"), "ERR: filter: 'or' with a host: a host is combined with ports by 'and' only" SUP);
	CHECK_STR(params_of("port http"), "ERR: filter: port 'http': not a port number in 1..65535 (service names are not resolved)");
	CHECK_STR(params_of("port 0"), "ERR: filter: port '0': not a port number in 1..65535 (service names are not resolved)");
	CHECK_STR(params_of("port 65536"), "ERR: filter: port '65536': not a port number in 1..65535 (service names are not resolved)");
	CHECK_STR(params_of("host db.example"), "ERR: filter: host 'db.example': not an IPv4 or IPv6 address (host names are not resolved)");
	CHECK_STR(params_of("port"), "ERR: filter: 'port' at the end: a port number must follow" SUP);
	CHECK_STR(params_of("port 80 or"), "ERR: filter: 'or' at the end: a term must follow" SUP);
	CHECK_STR(params_of("port 80 port 81"), "ERR: filter: 'port': expected 'and' or 'or' between terms" SUP);
	CHECK_STR(params_of("port 80 or tcp port 81"), "ERR: filter: 'tcp': allowed only at the start" SUP);
	CHECK_STR(params_of("ip host 1.2.3.4"), "ERR: filter: 'ip': protocol qualifiers other than 'tcp' are not supported" SUP);
}

static void test_filter_port_limit(void)
{
	char buf[2048];
	size_t len = 0;

	for (int p = 1; p <= 65; p++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%sport %d", p > 1 ? " or " : "", p);
	CHECK_STR(params_of(buf), "ERR: filter: more than 64 ports (the module's limit)");
}

static void test_repo_from_exe(void)
{
	char out[256];

	CHECK(tstp_repo_from_exe("/work/main/userspace/build/tcpstap-load", out, sizeof(out)) == 0);
	CHECK_STR(out, "/work/main");
	CHECK(tstp_repo_from_exe("/usr/sbin/tcpstap-load", out, sizeof(out)) == -1);
	CHECK(tstp_repo_from_exe("/userspace/build/tcpstap-load", out, sizeof(out)) == -1);
	CHECK(tstp_repo_from_exe("tcpstap-load", out, sizeof(out)) == -1);
}

static void test_module_resolve(void)
{
	static char paths[TSTP_MODULE_SEARCH_MAX][TSTP_PATH_MAX];
	char name[64], err[TSTP_ERR_MAX];
	const char *forms[] = { "latency", "latency.ko", "tcpstap_latency", "tcpstap_latency.ko" };

	for (size_t i = 0; i < 4; i++) {
		CHECK(tstp_module_resolve(forms[i], "6.1.0-56-amd64", "/repo", paths, name, sizeof(name), err, sizeof(err)) == 2);
		CHECK_STR(name, "tcpstap_latency");
		CHECK_STR(paths[0], "/repo/prebuilt/6.1.0-56-amd64/tcpstap_latency.ko");
		CHECK_STR(paths[1], "/usr/lib/tcpstap/6.1.0-56-amd64/tcpstap_latency.ko");
	}
	CHECK(tstp_module_resolve("selftest", "5.10.0-32-amd64", NULL, paths, name, sizeof(name), err, sizeof(err)) == 1);
	CHECK_STR(paths[0], "/usr/lib/tcpstap/5.10.0-32-amd64/tcpstap_selftest.ko");
	CHECK(tstp_module_resolve("./x/my_mod.ko", "r", "/repo", paths, name, sizeof(name), err, sizeof(err)) == 1);
	CHECK_STR(name, "my_mod");
	CHECK_STR(paths[0], "./x/my_mod.ko");
	CHECK(tstp_module_resolve("./x/my_mod", "r", "/repo", paths, name, sizeof(name), err, sizeof(err)) == -1);
	CHECK_STR(err, "module ./x/my_mod: a module path must name a .ko file");
	CHECK(tstp_module_resolve("lat-ency", "r", "/repo", paths, name, sizeof(name), err, sizeof(err)) == -1);
	CHECK(tstp_module_resolve("", "r", "/repo", paths, name, sizeof(name), err, sizeof(err)) == -1);
	CHECK(tstp_module_resolve("tcpstap_", "r", "/repo", paths, name, sizeof(name), err, sizeof(err)) == -1);
}

static void test_staprun_version(void)
{
	const char *v = "Systemtap module loader/runner (version 4.8/0.188, Debian version 4.8-2)\n";
	char out[32];

	CHECK(tstp_staprun_version_parse(v, strlen(v), out, sizeof(out)) == 0);
	CHECK_STR(out, "4.8");
	v = "Systemtap module loader/runner (version 4.0/0.176, rpm 4.0-16.el7)";
	CHECK(tstp_staprun_version_parse(v, strlen(v), out, sizeof(out)) == 0);
	CHECK_STR(out, "4.0");
	v = "staprun: command not found";
	CHECK(tstp_staprun_version_parse(v, strlen(v), out, sizeof(out)) == -1);
}

static void test_manifest(void)
{
	const char *m = "# tcpstap prebuilt modules\nkernel_release=6.1.0-56-amd64\nsystemtap_version=4.8\n"
			"module=tcpstap_latency.ko\n  vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions \n";
	char out[128];

	CHECK(tstp_manifest_get(m, strlen(m), "systemtap_version", out, sizeof(out)) == 0);
	CHECK_STR(out, "4.8");
	CHECK(tstp_manifest_get(m, strlen(m), "kernel_release", out, sizeof(out)) == 0);
	CHECK_STR(out, "6.1.0-56-amd64");
	CHECK(tstp_manifest_get(m, strlen(m), "vermagic", out, sizeof(out)) == -1);	/* indented: per module */
	CHECK(tstp_manifest_get(m, strlen(m), "systemtap", out, sizeof(out)) == -1);
}

static void test_vermagic(void)
{
	uint8_t *img;
	size_t len = 0;
	char vm[256];
	FILE *f = fopen("../prebuilt/6.1.0-56-amd64/tcpstap_latency.ko", "rb");

	CHECK(tstp_vermagic_matches("6.1.0-56-amd64 SMP preempt", "6.1.0-56-amd64"));
	CHECK(tstp_vermagic_matches("6.1.0-56-amd64", "6.1.0-56-amd64"));
	CHECK(!tstp_vermagic_matches("6.1.0-56-amd64 SMP", "6.1.0-5"));
	CHECK(!tstp_vermagic_matches("5.10.0-32-amd64 SMP", "6.1.0-56-amd64"));
	CHECK(tstp_elf_modinfo_get("not an elf file at all, not at all, not at all, no", 52, "vermagic", vm, sizeof(vm)) == -1);
	if (!f)
		return;		/* no prebuilt module in this checkout: the pure checks above suffice */
	img = malloc(64u << 20);
	CHECK(img);
	len = fread(img, 1, 64u << 20, f);
	fclose(f);
	if (tstp_elf_modinfo_get(img, len, "vermagic", vm, sizeof(vm)) != 0) {
		free(img);
		CHECK_FAIL("no vermagic in the prebuilt 6.1 module");
	}
	/* Parameters: what tcpstap-load passes only when the module declares them. */
	if (!tstp_elf_modinfo_has_param(img, len, "deadman_s") || !tstp_elf_modinfo_has_param(img, len, "ports") ||
	    tstp_elf_modinfo_has_param(img, len, "port") || tstp_elf_modinfo_has_param(img, len, "no_such_param")) {
		free(img);
		CHECK_FAIL("parameter lookup in the prebuilt 6.1 module");
	}
	free(img);
	CHECK_STR(vm, "6.1.0-56-amd64 SMP preempt mod_unload modversions ");
}

static void test_modstate(void)
{
	const char *s = "armed=0 disarm_reason=2 probe_hits=100 probe_ns=5000 window_ppm=12345 max_cpu_ppm=10000 "
			"deadman_s=10 exchanges=1 emitted=1 dropped_rate=0 evicted=0 sockets=1\n";
	struct tstp_modstate st;
	char msg[512];

	CHECK(tstp_modstate_parse(s, strlen(s), &st) == 0);
	CHECK_U64(st.armed, 0);
	CHECK_U64(st.disarm_reason, 2);
	CHECK_U64(st.window_ppm, 12345);
	tstp_disarm_message(msg, sizeof(msg), &st, 5, "1");
	CHECK_STR(msg, "its handlers used 1.2345% of one CPU (12345 ppm) over 5 s, above the budget of "
		  "--max-cpu 1% (10000 ppm)");
	st.disarm_reason = 1;
	tstp_disarm_message(msg, sizeof(msg), &st, 5, "1");
	CHECK_STR(msg, "no heartbeat from the loader for 10 s (--deadman 10): the loader was stopped, starved or hung");
	CHECK(tstp_modstate_parse("armed=1", 7, &st) == -1);
	CHECK(tstp_modstate_parse("armed=x disarm_reason=0", 23, &st) == -1);
	CHECK(tstp_modstate_parse("xarmed=1 disarm_reason=0", 24, &st) == -1);
}

int main(void)
{
	RUN_TEST(test_filter_accepted);
	RUN_TEST(test_filter_words_split);
	RUN_TEST(test_filter_ipv6_words);
	RUN_TEST(test_filter_rejected);
	RUN_TEST(test_filter_port_limit);
	RUN_TEST(test_repo_from_exe);
	RUN_TEST(test_module_resolve);
	RUN_TEST(test_staprun_version);
	RUN_TEST(test_manifest);
	RUN_TEST(test_vermagic);
	RUN_TEST(test_modstate);
	return CHECK_EXIT_CODE();
}
