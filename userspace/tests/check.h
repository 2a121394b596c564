/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Tiny test harness: a test is a void function; the first failed CHECK prints
 * "FAIL name: file:line: what" and ends it, else "PASS name" is printed.
 * Also: reading a fixture and decoding a buffer into an array of records.
 */
#ifndef TCPSTAP_TESTS_CHECK_H
#define TCPSTAP_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstap/decode.h"

static int checks_failed_tests, checks_passed_tests;
static int check_current_failed;
static const char *check_current_name;

#define CHECK_FAIL(...)							\
	do {								\
		printf("FAIL %s: %s:%d: ", check_current_name, __FILE__, __LINE__); \
		printf(__VA_ARGS__);					\
		printf("\n");						\
		check_current_failed = 1;				\
		return;							\
	} while (0)

#define CHECK(cond)							\
	do {								\
		if (!(cond))						\
			CHECK_FAIL("%s", #cond);			\
	} while (0)

#define CHECK_U64(got, want)						\
	do {								\
		uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want); \
		if (got_ != want_)					\
			CHECK_FAIL("%s = %" PRIu64 ", want %" PRIu64, #got, got_, want_); \
	} while (0)

#define CHECK_STR(got, want)						\
	do {								\
		const char *got_ = (got), *want_ = (want);		\
		if (strcmp(got_, want_) != 0)				\
			CHECK_FAIL("%s =\n  got  [%s]\n  want [%s]", #got, got_, want_); \
	} while (0)

#define RUN_TEST(fn)							\
	do {								\
		check_current_name = #fn;				\
		check_current_failed = 0;				\
		fn();							\
		if (check_current_failed) {				\
			checks_failed_tests++;				\
		} else {						\
			checks_passed_tests++;				\
			printf("PASS %s\n", #fn);			\
		}							\
	} while (0)

#define CHECK_EXIT_CODE() (checks_failed_tests ? 1 : 0)

#define FIXTURE_DIR "tests/fixtures/"
#define MAX_TEST_RECORDS 64

/* Whole file in memory, or NULL (with a FAIL printed by the caller). */
static inline uint8_t *read_fixture(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	uint8_t *buf = NULL;
	long size;

	snprintf(path, sizeof(path), FIXTURE_DIR "%s", name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)size + 1);
		if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)size;
	}
	fclose(f);
	return buf;
}

struct collected {
	size_t n;
	union tstp_record rec[MAX_TEST_RECORDS];
	struct tstp_clock clock_at[MAX_TEST_RECORDS];	/* clock when each arrived */
	int stop_after;	/* callback returns 7 after this many, 0: never */
};

static inline int collect_record(struct tstp_decoder *dec, const union tstp_record *rec)
{
	struct collected *c = dec->ctx;

	if (c->n < MAX_TEST_RECORDS) {
		c->rec[c->n] = *rec;
		c->clock_at[c->n] = dec->clock;
	}
	c->n++;
	return (c->stop_after && c->n >= (size_t)c->stop_after) ? 7 : 0;
}

/* Decodes buf fed in chunks of chunk bytes (0: all at once). */
static inline void decode_chunked(struct tstp_decoder *dec, struct collected *c,
				  const uint8_t *buf, size_t len, size_t chunk)
{
	tstp_decoder_init(dec, collect_record, c);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk)
		if (tstp_decoder_feed(dec, buf + off, len - off < chunk ? len - off : chunk))
			break;
	tstp_decoder_finish(dec);
}

#endif /* TCPSTAP_TESTS_CHECK_H */
