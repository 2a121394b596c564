// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpstap: decode and summarise the records of tcpstap's SystemTap producers.
 * This file only dispatches to a subcommand; see commands.def.
 */
#include <stdio.h>
#include <string.h>

#include "tcpstap/cli.h"

#ifndef TSTP_VERSION_STRING
#define TSTP_VERSION_STRING "0.1"
#endif

#define TSTP_COMMAND(name, summary) int cmd_##name(int argc, char **argv);
#include "commands.def"
#undef TSTP_COMMAND

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
#define TSTP_COMMAND(name, summary) { #name, cmd_##name, summary },
#include "commands.def"
#undef TSTP_COMMAND
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s COMMAND [OPTIONS] [FILE|-]\n\n"
		"Decode the binary records written by tcpstap's kernel probes, watch TCP\n"
		"socket states, and serve both as metrics.\n\n"
		"Commands:\n", TSTP_PROG);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun '%s COMMAND --help' for the options of a command.\n\n"
		"EXAMPLES:\n"
		"  %s read capture.tstp            # one line per request/response exchange\n"
		"  %s read -t 10 capture.tstp      # only exchanges of 10 ms or more\n"
		"  %s read --json - < capture.tstp # JSON lines from stdin\n"
		"  %s stats capture.tstp           # percentiles and histograms per endpoint\n",
		TSTP_PROG, TSTP_PROG, TSTP_PROG, TSTP_PROG, TSTP_PROG);
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	if (!name) {
		usage(stderr);
		return TSTP_EXIT_USAGE;
	}
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
		/* "tcpstap help read" is "tcpstap read --help". */
		if (strcmp(name, "help") == 0 && argc > 2) {
			char *help_argv[] = { argv[2], "--help", NULL };

			for (size_t i = 0; i < NCOMMANDS; i++)
				if (strcmp(argv[2], commands[i].name) == 0)
					return commands[i].run(2, help_argv);
			return tstp_usage_error("", "unknown command '%s'", argv[2]);
		}
		usage(stdout);
		return TSTP_EXIT_OK;
	}
	if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
		printf("%s %s (record format version %d)\n", TSTP_PROG, TSTP_VERSION_STRING, TSTP_VERSION);
		return TSTP_EXIT_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(name, commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", TSTP_PROG, name, TSTP_PROG);
	return TSTP_EXIT_USAGE;
}
