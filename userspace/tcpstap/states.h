/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What `tcpstap states` and `tcpstap exporter` share: the options that shape
 * a socket dump, and taking one.
 */
#ifndef TCPSTAP_CMD_STATES_H
#define TCPSTAP_CMD_STATES_H

#include <stddef.h>
#include <stdint.h>

#include "tcpstap/sockdiag.h"

#define STATES_DEFAULT_TOP 10
#define STATES_MAX_TOP 100000
#define STATES_DEFAULT_MAX_REMOTES 262144
#define STATES_MAX_MAX_REMOTES (16u << 20)
#define STATES_DEFAULT_MAX_LISTENERS 65536
#define STATES_MAX_MAX_LISTENERS (1u << 20)

struct states_dump_opts {
	uint64_t top;
	uint64_t max_remotes;
	uint64_t max_listeners;
	enum tstp_diag_mode mode;
};

/* Long options of states_dump_opts, to put into a getopt_long table. */
enum {
	STATES_OPT_TOP = 'n',
	STATES_OPT_MAX_REMOTES = 300,
	STATES_OPT_MAX_LISTENERS,
	STATES_OPT_NETLINK,
};
#define STATES_DUMP_LONGOPTS \
	{ "top",		required_argument,	NULL, STATES_OPT_TOP }, \
	{ "max-remotes",	required_argument,	NULL, STATES_OPT_MAX_REMOTES }, \
	{ "max-listeners",	required_argument,	NULL, STATES_OPT_MAX_LISTENERS }, \
	{ "netlink",		required_argument,	NULL, STATES_OPT_NETLINK }
/* The help lines of those options. */
#define STATES_DUMP_HELP \
	"  -n, --top N             the N remote addresses with the most sockets (default 10, 0: none)\n" \
	"      --max-remotes N     remember at most N remote addresses (default 262144); sockets of\n" \
	"                          further addresses are counted as untracked\n" \
	"      --max-listeners N   list at most N listening endpoints (default 65536)\n" \
	"      --netlink REQ       auto (default): SOCK_DIAG_BY_FAMILY, falling back to the\n" \
	"                          2.6.32 TCPDIAG_GETSOCK request; v2 or legacy: only that one\n"

void states_dump_opts_default(struct states_dump_opts *o);
/*
 * Handles option c (one of STATES_OPT_*) for command cmd. Returns 0 when
 * handled, 1 when c is not one of them, TSTP_EXIT_USAGE on a bad value.
 */
int states_dump_opt(struct states_dump_opts *o, int c, const char *arg, const char *cmd);

#endif /* TCPSTAP_CMD_STATES_H */
