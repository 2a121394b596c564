/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What every tcpstap subcommand shares: option parsing, reading input through
 * the decoder, the end-of-run summary and exit codes. This is the I/O side;
 * the decoder itself stays pure.
 */
#ifndef TCPSTAP_CLI_H
#define TCPSTAP_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "tcpstap/decode.h"

#define TSTP_PROG "tcpstap"

enum tstp_exit {
	TSTP_EXIT_OK = 0,	/* clean input */
	TSTP_EXIT_ERROR = 1,	/* anything else: out of memory, output failure */
	TSTP_EXIT_USAGE = 2,	/* bad options, input cannot be opened or read */
	TSTP_EXIT_DAMAGED = 3,	/* decoded, but bytes or records were lost */
};

/* Whole string must parse and lie in [min, max]; returns 0 or -1. */
int tstp_parse_double(const char *s, double min, double max, double *out);
int tstp_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Decodes PATH ("-" or NULL: stdin) to its end, then finishes the decoder. */
int tstp_decode_path(struct tstp_decoder *dec, const char *path);

/* "tcpstap: PATH: <summary>" on f. */
void tstp_print_summary(FILE *f, const char *path, const struct tstp_decode_counters *c);

/* Large stdout buffer; call before the first output. */
void tstp_output_begin(void);
/* Flushes stdout; returns TSTP_EXIT_OK or TSTP_EXIT_ERROR (message printed). */
int tstp_output_end(void);

/* A usage error: "tcpstap: msg" plus a pointer to --help; returns TSTP_EXIT_USAGE. */
int tstp_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Display name of an input path. */
const char *tstp_input_name(const char *path);

#endif /* TCPSTAP_CLI_H */
