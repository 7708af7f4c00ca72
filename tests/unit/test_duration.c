// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of agent/duration.c: parsing, error reasons and formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "duration.h"

#define UNIT_HINT "(use ns, us, ms, s or m)"

struct parse_case {
	const char *text;
	__u64 ns;
};

struct error_case {
	const char *text;
	int err;
	const char *reason;
};

static void assert_parses(const char *text, __u64 expected)
{
	__u64 ns = 12345;
	char reason[DURATION_ERROR_LEN];

	if (duration_parse(text, &ns) != 0)
		fail_msg("'%s' rejected: %s", text, duration_error(text, reason, sizeof(reason)));
	assert_int_equal(ns, expected);
	assert_string_equal(duration_error(text, reason, sizeof(reason)), "");
}

static void assert_rejected(const struct error_case *c)
{
	__u64 ns = 12345;
	char reason[DURATION_ERROR_LEN];

	assert_int_equal(duration_parse(c->text, &ns), c->err);
	assert_int_equal(ns, 12345);
	assert_string_equal(duration_error(c->text, reason, sizeof(reason)), c->reason);
}

static void parse_every_unit(void **state)
{
	static const struct parse_case cases[] = {
		{ "7ns", 7ull },
		{ "7us", 7000ull },
		{ "7ms", 7000000ull },
		{ "7s", 7000000000ull },
		{ "7m", 420000000000ull },
		{ "250ms", 250000000ull },
		{ "10s", 10000000000ull },
		{ "1500us", 1500000ull },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_parses(cases[i].text, cases[i].ns);
}

static void parse_decimals(void **state)
{
	static const struct parse_case cases[] = {
		{ "1.5s", 1500000000ull },
		{ "0.25s", 250000000ull },
		{ "2.5m", 150000000000ull },
		{ "0.000000001s", 1ull },
		{ "1.000000001s", 1000000001ull },
		{ "0.5ms", 500000ull },
		{ "1.234567ms", 1234567ull },
		{ "0.001us", 1ull },
		{ "3.0ns", 3ull },
		{ "1.000000000ns", 1ull },
		{ "0.016666666m", 999999960ull },
		{ "007.50s", 7500000000ull },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_parses(cases[i].text, cases[i].ns);
}

static void parse_zero(void **state)
{
	assert_parses("0s", 0);
	assert_parses("0ns", 0);
	assert_parses("0m", 0);
	assert_parses("0.0ms", 0);
	assert_parses("000us", 0);
}

static void parse_maximum(void **state)
{
	assert_parses("18446744073709551615ns", UINT64_MAX);
	assert_parses("18446744073709551.615us", UINT64_MAX);
	assert_parses("18446744073.709551615s", UINT64_MAX);
	assert_parses("307445734m", 307445734ull * 60000000000ull);
	assert_parses("0000000000000000000000018446744073709551615ns", UINT64_MAX);
}

static void parse_overflow(void **state)
{
	static const struct error_case cases[] = {
		{ "18446744073709551616ns", -ERANGE, "out of range" },
		{ "18446744073709551.616us", -ERANGE, "out of range" },
		{ "18446744073.709551616s", -ERANGE, "out of range" },
		{ "18446744074s", -ERANGE, "out of range" },
		{ "307445735m", -ERANGE, "out of range" },
		{ "99999999999999999999999999ns", -ERANGE, "out of range" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejected(&cases[i]);
}

static void parse_empty(void **state)
{
	static const struct error_case empty = { "", -EINVAL, "empty value" };
	char reason[DURATION_ERROR_LEN];
	__u64 ns = 1;

	assert_rejected(&empty);
	assert_int_equal(duration_parse(NULL, &ns), -EINVAL);
	assert_string_equal(duration_error(NULL, reason, sizeof(reason)), "empty value");
}

static void parse_negative(void **state)
{
	static const struct error_case cases[] = {
		{ "-1s", -EINVAL, "negative values are not allowed" },
		{ "-0s", -EINVAL, "negative values are not allowed" },
		{ "-.5s", -EINVAL, "negative values are not allowed" },
		{ "-s", -EINVAL, "not a number" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejected(&cases[i]);
}

static void parse_missing_unit(void **state)
{
	static const struct error_case cases[] = {
		{ "5", -EINVAL, "missing unit " UNIT_HINT },
		{ "0", -EINVAL, "missing unit " UNIT_HINT },
		{ "1.5", -EINVAL, "missing unit " UNIT_HINT },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejected(&cases[i]);
}

static void parse_unknown_unit(void **state)
{
	static const struct error_case cases[] = {
		{ "5h", -EINVAL, "unknown unit 'h' " UNIT_HINT },
		{ "5S", -EINVAL, "unknown unit 'S' " UNIT_HINT },
		{ "5sec", -EINVAL, "unknown unit 'sec' " UNIT_HINT },
		{ "1.5min", -EINVAL, "unknown unit 'min' " UNIT_HINT },
		{ "1e3s", -EINVAL, "unknown unit 'e3s' " UNIT_HINT },
		{ "5s5", -EINVAL, "unknown unit 's5' " UNIT_HINT },
		{ "5ss", -EINVAL, "unknown unit 'ss' " UNIT_HINT },
		{ "10µs", -EINVAL, "unknown unit 'µs' " UNIT_HINT },
		{ "1,5s", -EINVAL, "unknown unit ',5s' " UNIT_HINT },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejected(&cases[i]);
}

static void parse_spaces(void **state)
{
	static const struct error_case cases[] = {
		{ "5 s", -EINVAL, "spaces are not allowed" },
		{ " 5s", -EINVAL, "spaces are not allowed" },
		{ "5s ", -EINVAL, "spaces are not allowed" },
		{ "5\ts", -EINVAL, "spaces are not allowed" },
		{ "5s\n", -EINVAL, "spaces are not allowed" },
		{ " ", -EINVAL, "spaces are not allowed" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejected(&cases[i]);
}

static void parse_not_a_number(void **state)
{
	static const struct error_case cases[] = {
		{ "s", -EINVAL, "not a number" },
		{ "abc", -EINVAL, "not a number" },
		{ "+5s", -EINVAL, "not a number" },
		{ ".5s", -EINVAL, "not a number" },
		{ "5.s", -EINVAL, "not a number" },
		{ "5.", -EINVAL, "not a number" },
		{ "1.5.5s", -EINVAL, "not a number" },
		{ "0x10s", -EINVAL, "unknown unit 'x10s' " UNIT_HINT },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejected(&cases[i]);
}

static void parse_fraction_limits(void **state)
{
	static const struct error_case cases[] = {
		{ "1.0000000001s", -EINVAL, "more than 9 fraction digits" },
		{ "0.0000000000ns", -EINVAL, "more than 9 fraction digits" },
		{ "1.5ns", -EINVAL, "not a whole number of nanoseconds" },
		{ "0.0001us", -EINVAL, "not a whole number of nanoseconds" },
		{ "1.0000001ms", -EINVAL, "not a whole number of nanoseconds" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejected(&cases[i]);
}

static void error_message_cut(void **state)
{
	char reason[8];

	assert_string_equal(duration_error("5", reason, sizeof(reason)), "missing");
	assert_string_equal(duration_error("5hours", reason, sizeof(reason)), "unknown");
}

static void format_units(void **state)
{
	static const struct parse_case cases[] = {
		{ "0s", 0 },
		{ "1ns", 1 },
		{ "999ns", 999 },
		{ "1us", 1000 },
		{ "1500us", 1500000 },
		{ "250ms", 250000000 },
		{ "1s", 1000000000 },
		{ "10s", 10000000000ull },
		{ "90s", 90000000000ull },
		{ "1m", 60000000000ull },
		{ "2m", 120000000000ull },
		{ "1000000001ns", 1000000001 },
		{ "18446744073709551615ns", UINT64_MAX },
	};
	char buf[DURATION_FORMAT_LEN];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(duration_format(cases[i].ns, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].text);
	}
}

static void format_too_short(void **state)
{
	char buf[DURATION_FORMAT_LEN];

	assert_int_equal(duration_format(250000000, buf, 6), 0);
	assert_string_equal(buf, "250ms");
	assert_int_equal(duration_format(250000000, buf, 5), -ENOSPC);
	assert_int_equal(duration_format(0, buf, 2), -ENOSPC);
	assert_int_equal(duration_format(0, buf, 0), -ENOSPC);
	/* "18446744073709551615ns" is 22 characters */
	assert_int_equal(duration_format(UINT64_MAX, buf, 23), 0);
	assert_int_equal(duration_format(UINT64_MAX, buf, 22), -ENOSPC);
}

static void format_parse_round_trip(void **state)
{
	static const __u64 values[] = {
		0, 1, 999, 1000, 1001, 60000000000ull, 61000000000ull, 3600000000000ull,
		123456789012345ull, UINT64_MAX - 1, UINT64_MAX,
		18446744040000000000ull, /* 307445734m */
	};
	char buf[DURATION_FORMAT_LEN];
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		__u64 ns = 0;

		assert_int_equal(duration_format(values[i], buf, sizeof(buf)), 0);
		assert_int_equal(duration_parse(buf, &ns), 0);
		assert_int_equal(ns, values[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_every_unit),
		cmocka_unit_test(parse_decimals),
		cmocka_unit_test(parse_zero),
		cmocka_unit_test(parse_maximum),
		cmocka_unit_test(parse_overflow),
		cmocka_unit_test(parse_empty),
		cmocka_unit_test(parse_negative),
		cmocka_unit_test(parse_missing_unit),
		cmocka_unit_test(parse_unknown_unit),
		cmocka_unit_test(parse_spaces),
		cmocka_unit_test(parse_not_a_number),
		cmocka_unit_test(parse_fraction_limits),
		cmocka_unit_test(error_message_cut),
		cmocka_unit_test(format_units),
		cmocka_unit_test(format_too_short),
		cmocka_unit_test(format_parse_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
