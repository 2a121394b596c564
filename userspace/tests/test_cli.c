// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Option parsing helpers: whole string, range, no silent wrap. */
#include "check.h"
#include "tcpstap/cli.h"

static void test_parse_double(void)
{
	double v = -1;

	CHECK(tstp_parse_double("0.5", 0, 1e9, &v) == 0);
	CHECK(v == 0.5);
	CHECK(tstp_parse_double("10", 0, 1e9, &v) == 0);
	CHECK(v == 10.0);
	CHECK(tstp_parse_double("", 0, 1e9, &v) == -1);
	CHECK(tstp_parse_double("abc", 0, 1e9, &v) == -1);
	CHECK(tstp_parse_double("5ms", 0, 1e9, &v) == -1);
	CHECK(tstp_parse_double("-1", 0, 1e9, &v) == -1);
	CHECK(tstp_parse_double("1e10", 0, 1e9, &v) == -1);
	CHECK(tstp_parse_double("nan", 0, 1e9, &v) == -1);
	CHECK(tstp_parse_double("inf", 0, 1e9, &v) == -1);
	CHECK(tstp_parse_double("1e999", 0, 1e9, &v) == -1);
	CHECK(v == 10.0);	/* untouched on error */
}

static void test_parse_u64(void)
{
	uint64_t v = 0;

	CHECK(tstp_parse_u64("42", 1, 100, &v) == 0);
	CHECK_U64(v, 42);
	CHECK(tstp_parse_u64("18446744073709551615", 0, UINT64_MAX, &v) == 0);
	CHECK_U64(v, UINT64_MAX);
	CHECK(tstp_parse_u64("18446744073709551616", 0, UINT64_MAX, &v) == -1);
	CHECK(tstp_parse_u64("-1", 0, UINT64_MAX, &v) == -1);
	CHECK(tstp_parse_u64("+1", 0, UINT64_MAX, &v) == -1);
	CHECK(tstp_parse_u64("0", 1, 100, &v) == -1);
	CHECK(tstp_parse_u64("101", 1, 100, &v) == -1);
	CHECK(tstp_parse_u64("12x", 1, 100, &v) == -1);
	CHECK(tstp_parse_u64("", 1, 100, &v) == -1);
	CHECK_U64(v, UINT64_MAX);
}

int main(void)
{
	RUN_TEST(test_parse_double);
	RUN_TEST(test_parse_u64);
	return CHECK_EXIT_CODE();
}
