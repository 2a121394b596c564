/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The pure decisions of tcpstap-load, kept apart from its I/O so they can be
 * unit-tested: translating a tcpdump-style filter into module parameters,
 * resolving a MODULE argument to candidate .ko paths, and parsing what the
 * loader reads (staprun -V, a prebuilt MANIFEST, a .ko's .modinfo section,
 * the module's /proc/systemtap/MODULE/state line). No function here touches
 * the file system, the environment or global state.
 */
#ifndef TCPSTAP_FILTER_H
#define TCPSTAP_FILTER_H

#include <stddef.h>
#include <stdint.h>

#define TSTP_FILTER_PORTS_MAX	64	/* the module's ports map */
#define TSTP_PARAM_MAX		512	/* one name=value module parameter */
#define TSTP_FILTER_PARAMS_MAX	6	/* ports, addr or addr6_0..3 + addr6_set */
#define TSTP_ERR_MAX		512

/* What the filter expression accepts, for error messages and --help. */
#define TSTP_FILTER_SUPPORTED \
	"[tcp] port N [or port M ...] | [tcp] host ADDR | " \
	"[tcp] host ADDR and port N [or port M ...] (ADDR: one IPv4 or IPv6 address)"

struct tstp_filter {
	unsigned nports;
	uint16_t ports[TSTP_FILTER_PORTS_MAX];	/* in the order given, no duplicates */
	int family;				/* 0: no host, 4 or 6 */
	char addr4[16];				/* family 4: dotted quad */
	uint32_t addr6[4];			/* family 6: little-endian loads of the address bytes */
};

/*
 * Parses the filter words (each may hold several space-separated tokens, as
 * a quoted tcpdump expression does). nwords == 0 or only "tcp": no filter.
 * Returns 0, or -1 with a message ("what: reason; supported: ...") in err.
 */
int tstp_filter_parse(int nwords, char *const words[], struct tstp_filter *f,
		      char *err, size_t err_size);

/* The module parameters of f ("ports=80,443", "addr=...", "addr6_0=0x..."); returns how many. */
size_t tstp_filter_params(const struct tstp_filter *f, char out[][TSTP_PARAM_MAX], size_t max);

/* ---- MODULE resolution ---- */

#define TSTP_MODULE_SEARCH_MAX	2
#define TSTP_PATH_MAX		4096
#define TSTP_SYSTEM_MODULE_DIR	"/usr/lib/tcpstap"

/*
 * The repository holding an executable at <repo>/userspace/build/<name>:
 * writes <repo> to out and returns 0, or -1 when exe is not laid out so.
 */
int tstp_repo_from_exe(const char *exe, char *out, size_t size);

/*
 * MODULE argument to the paths to try, in order, and the kernel module name.
 * A path (any '/') is taken as is and must end in ".ko". A bare name
 * (latency, latency.ko, tcpstap_latency, tcpstap_latency.ko) is looked up as
 * <repo>/prebuilt/<release>/tcpstap_NAME.ko (when repo is not NULL), then
 * /usr/lib/tcpstap/<release>/tcpstap_NAME.ko. Returns the number of paths,
 * or -1 with err filled.
 */
int tstp_module_resolve(const char *arg, const char *release, const char *repo,
			char paths[][TSTP_PATH_MAX], char *name, size_t name_size,
			char *err, size_t err_size);

/* ---- what the loader reads ---- */

/* "Systemtap module loader/runner (version 4.8/0.188, ...)" -> "4.8". 0 or -1. */
int tstp_staprun_version_parse(const char *buf, size_t len, char *out, size_t size);

/* A top-level KEY=value line of a prebuilt MANIFEST (not the indented per-module ones). 0 or -1. */
int tstp_manifest_get(const char *buf, size_t len, const char *key, char *out, size_t size);

/* The value of KEY in the .modinfo section of an ELF (32/64-bit, little-endian) module image. 0 or -1. */
int tstp_elf_modinfo_get(const void *image, size_t len, const char *key, char *out, size_t size);
/* Whether the module image declares parameter NAME (a parm= or parmtype= entry). */
int tstp_elf_modinfo_has_param(const void *image, size_t len, const char *name);

/* vermagic starts with release followed by a space or its end. */
int tstp_vermagic_matches(const char *vermagic, const char *release);

/* /proc/systemtap/MODULE/state: "armed=1 disarm_reason=0 probe_hits=.. window_ppm=.. max_cpu_ppm=.. deadman_s=.. ..." */
struct tstp_modstate {
	int armed;
	unsigned disarm_reason;	/* enum tstp_disarm_reason */
	uint64_t window_ppm;
	uint64_t max_cpu_ppm;
	uint64_t deadman_s;
};

/* armed= and disarm_reason= are required; the others default to 0. 0 or -1. */
int tstp_modstate_parse(const char *buf, size_t len, struct tstp_modstate *st);

/*
 * Why the module disarmed itself, for "tcpstap-load: module disarmed itself: <msg>".
 * budget_window_s: the window in force; max_cpu_arg: the --max-cpu text ("1").
 */
void tstp_disarm_message(char *buf, size_t size, const struct tstp_modstate *st,
			 unsigned budget_window_s, const char *max_cpu_arg);

#endif /* TCPSTAP_FILTER_H */
