/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Durations on the command line: a non-negative integer or decimal number
 * followed at once by a unit, ns, us, ms, s or m (minutes). Examples: 250ms,
 * 1.5s, 2m, 0s. A decimal number has digits on both sides of the point and at
 * most 9 fraction digits, and its value must be a whole number of
 * nanoseconds. Signs, spaces, exponents and upper-case units are rejected.
 */
#ifndef SNAPTRIG_DURATION_H
#define SNAPTRIG_DURATION_H

#include <stddef.h>

#include <linux/types.h>

/* Buffer size for duration_error() messages. */
#define DURATION_ERROR_LEN 128

/* Buffer size large enough for duration_format() of any __u64. */
#define DURATION_FORMAT_LEN 24

/*
 * Parses s into *ns. Returns 0, -EINVAL for a malformed string, or -ERANGE
 * when the value does not fit in a __u64 of nanoseconds. *ns is written only
 * on success.
 */
int duration_parse(const char *s, __u64 *ns);

/*
 * Writes why duration_parse() rejects s into buf and returns buf, so that a
 * caller can pass the call to printf. The reason is one of:
 *   empty value
 *   not a number
 *   negative values are not allowed
 *   spaces are not allowed
 *   missing unit (use ns, us, ms, s or m)
 *   unknown unit 'h' (use ns, us, ms, s or m)
 *   more than 9 fraction digits
 *   not a whole number of nanoseconds
 *   out of range
 * For a valid s it writes "". buf is NUL-terminated whenever len > 0.
 */
const char *duration_error(const char *s, char *buf, size_t len);

/*
 * Writes ns as an integer count of the largest unit that divides it exactly,
 * so that duration_parse() reads it back unchanged: "2m", "10s", "250ms",
 * "1500us", "7ns", and "0s" for zero. Returns 0, or -ENOSPC when buf is too
 * short.
 */
int duration_format(__u64 ns, char *buf, size_t len);

#endif /* SNAPTRIG_DURATION_H */
