// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Helpers shared by the subcommands: parsing, input loop, summary, output. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcpstap/cli.h"
#include "tcpstap/format.h"

/* Large reads amortise syscalls; 1 MiB keeps the working set in L2/L3. */
#define INPUT_CHUNK (1u << 20)
#define OUTPUT_BUFFER (1u << 20)

int tstp_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int tstp_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull accepts "-1" as a huge value: refuse any sign. */
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

const char *tstp_input_name(const char *path)
{
	return (!path || strcmp(path, "-") == 0) ? "<stdin>" : path;
}

int tstp_decode_path(struct tstp_decoder *dec, const char *path)
{
	const char *name = tstp_input_name(path);
	int use_stdin = !path || strcmp(path, "-") == 0;
	int fd = use_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	int ret = TSTP_EXIT_OK;
	uint8_t *chunk = NULL;

	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, name, strerror(errno));
		return TSTP_EXIT_USAGE;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	chunk = malloc(INPUT_CHUNK);
	if (!chunk) {
		fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, name, strerror(ENOMEM));
		ret = TSTP_EXIT_ERROR;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, INPUT_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: %s: %s\n", TSTP_PROG, name, strerror(errno));
			ret = TSTP_EXIT_USAGE;
			break;
		}
		if (n == 0)
			break;
		if (tstp_decoder_feed(dec, chunk, (size_t)n)) {
			/* The callback printed its reason. */
			ret = TSTP_EXIT_ERROR;
			break;
		}
	}
	tstp_decoder_finish(dec);
out:
	free(chunk);
	if (!use_stdin)
		close(fd);
	return ret;
}

void tstp_print_summary(FILE *f, const char *path, const struct tstp_decode_counters *c)
{
	char text[TSTP_LINE_MAX];
	struct tstp_buf b;

	tstp_buf_init(&b, text, sizeof(text));
	tstp_buf_decode_summary(&b, c);
	fprintf(f, "%s: %s: %s\n", TSTP_PROG, tstp_input_name(path), text);
}

void tstp_output_begin(void)
{
	/* Full buffering even on a terminal would delay lines: only for pipes/files. */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, OUTPUT_BUFFER);
}

int tstp_output_end(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: <stdout>: %s\n", TSTP_PROG, strerror(errno ? errno : EIO));
		return TSTP_EXIT_ERROR;
	}
	return TSTP_EXIT_OK;
}

int tstp_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", TSTP_PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s %s --help'.\n", TSTP_PROG, cmd);
	return TSTP_EXIT_USAGE;
}
