// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

#define NS_PER_SEC 1000000000ull
#define MAX_FRACTION_DIGITS 9
#define UNIT_HINT "(use ns, us, ms, s or m)"

enum duration_status {
	DURATION_OK,
	DURATION_EMPTY,
	DURATION_NOT_A_NUMBER,
	DURATION_NEGATIVE,
	DURATION_SPACE,
	DURATION_MISSING_UNIT,
	DURATION_UNKNOWN_UNIT,
	DURATION_FRACTION_DIGITS,
	DURATION_NOT_WHOLE_NS,
	DURATION_OUT_OF_RANGE,
};

struct duration_unit {
	const char *name;
	__u64 ns;
};

/* Largest first: duration_format() picks the first unit that divides. */
static const struct duration_unit units[] = {
	{ "m", 60 * NS_PER_SEC },
	{ "s", NS_PER_SEC },
	{ "ms", 1000000 },
	{ "us", 1000 },
	{ "ns", 1 },
};

#define UNIT_COUNT (sizeof(units) / sizeof(units[0]))

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const struct duration_unit *find_unit(const char *name)
{
	size_t i;

	for (i = 0; i < UNIT_COUNT; i++) {
		if (strcmp(name, units[i].name) == 0)
			return &units[i];
	}
	return NULL;
}

/* Checks the form of s. On success, sets the digit spans and the unit. */
static enum duration_status scan_syntax(const char *s, const char **int_digits,
					size_t *int_len, const char **frac_digits,
					size_t *frac_len, const struct duration_unit **unit)
{
	const char *p = s;

	if (!s || *s == '\0')
		return DURATION_EMPTY;
	if (strpbrk(s, " \t\n\v\f\r"))
		return DURATION_SPACE;
	if (s[0] == '-' && (is_digit(s[1]) || s[1] == '.'))
		return DURATION_NEGATIVE;

	*int_digits = p;
	while (is_digit(*p))
		p++;
	*int_len = (size_t)(p - *int_digits);
	if (*int_len == 0)
		return DURATION_NOT_A_NUMBER;

	*frac_digits = p;
	*frac_len = 0;
	if (*p == '.') {
		*frac_digits = ++p;
		while (is_digit(*p))
			p++;
		*frac_len = (size_t)(p - *frac_digits);
		if (*frac_len == 0 || *p == '.')
			return DURATION_NOT_A_NUMBER;
	}

	if (*p == '\0')
		return DURATION_MISSING_UNIT;
	*unit = find_unit(p);
	if (!*unit)
		return DURATION_UNKNOWN_UNIT;
	if (*frac_len > MAX_FRACTION_DIGITS)
		return DURATION_FRACTION_DIGITS;
	return DURATION_OK;
}

/* Converts the fraction digits to the nanoseconds they add in unit. */
static enum duration_status fraction_ns(const char *digits, size_t len,
					const struct duration_unit *unit, __u64 *ns)
{
	__u64 billionths = 0;
	size_t i;

	/* The fraction is billionths / 10^9 of a unit, billionths < 10^9. */
	for (i = 0; i < MAX_FRACTION_DIGITS; i++)
		billionths = billionths * 10 + (i < len ? (__u64)(digits[i] - '0') : 0);

	/* Every unit is either a multiple or a divisor of 10^9 ns. */
	if (unit->ns >= NS_PER_SEC) {
		*ns = billionths * (unit->ns / NS_PER_SEC);
		return DURATION_OK;
	}
	if (billionths % (NS_PER_SEC / unit->ns) != 0)
		return DURATION_NOT_WHOLE_NS;
	*ns = billionths / (NS_PER_SEC / unit->ns);
	return DURATION_OK;
}

static enum duration_status duration_scan(const char *s, __u64 *ns)
{
	const struct duration_unit *unit = NULL;
	const char *int_digits = NULL, *frac_digits = NULL;
	size_t int_len = 0, frac_len = 0;
	enum duration_status status;
	__u64 whole = 0, frac = 0;
	size_t i;

	status = scan_syntax(s, &int_digits, &int_len, &frac_digits, &frac_len, &unit);
	if (status != DURATION_OK)
		return status;

	status = fraction_ns(frac_digits, frac_len, unit, &frac);
	if (status != DURATION_OK)
		return status;

	for (i = 0; i < int_len; i++) {
		__u64 digit = (__u64)(int_digits[i] - '0');

		if (whole > (UINT64_MAX - digit) / 10)
			return DURATION_OUT_OF_RANGE;
		whole = whole * 10 + digit;
	}

	if (whole > (UINT64_MAX - frac) / unit->ns)
		return DURATION_OUT_OF_RANGE;
	*ns = whole * unit->ns + frac;
	return DURATION_OK;
}

int duration_parse(const char *s, __u64 *ns)
{
	__u64 value = 0;

	switch (duration_scan(s, &value)) {
	case DURATION_OK:
		*ns = value;
		return 0;
	case DURATION_OUT_OF_RANGE:
		return -ERANGE;
	default:
		return -EINVAL;
	}
}

const char *duration_error(const char *s, char *buf, size_t len)
{
	static const char *const reasons[] = {
		[DURATION_OK] = "",
		[DURATION_EMPTY] = "empty value",
		[DURATION_NOT_A_NUMBER] = "not a number",
		[DURATION_NEGATIVE] = "negative values are not allowed",
		[DURATION_SPACE] = "spaces are not allowed",
		[DURATION_MISSING_UNIT] = "missing unit " UNIT_HINT,
		[DURATION_FRACTION_DIGITS] = "more than 9 fraction digits",
		[DURATION_NOT_WHOLE_NS] = "not a whole number of nanoseconds",
		[DURATION_OUT_OF_RANGE] = "out of range",
	};
	enum duration_status status;
	__u64 ignored;

	status = duration_scan(s, &ignored);
	if (status == DURATION_UNKNOWN_UNIT) {
		const char *unit = s;

		/* scan_syntax accepted a number, so the unit starts after it */
		while (is_digit(*unit) || *unit == '.')
			unit++;
		snprintf(buf, len, "unknown unit '%s' " UNIT_HINT, unit);
	} else {
		snprintf(buf, len, "%s", reasons[status]);
	}
	return buf;
}

int duration_format(__u64 ns, char *buf, size_t len)
{
	const struct duration_unit *unit = &units[UNIT_COUNT - 1];
	size_t i;
	int n;

	if (ns == 0) {
		n = snprintf(buf, len, "0s");
	} else {
		for (i = 0; i < UNIT_COUNT; i++) {
			if (ns % units[i].ns == 0) {
				unit = &units[i];
				break;
			}
		}
		n = snprintf(buf, len, "%llu%s", (unsigned long long)(ns / unit->ns),
			     unit->name);
	}

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}
