// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of agent/idle.c: reading a thread's state from /proc stat text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "idle.h"

struct state_case {
	const char *stat;
	int state;
};

static int parse(const char *stat)
{
	return idle_thread_state_parse(stat, strlen(stat));
}

static void state_every_letter(void **state)
{
	static const struct state_case cases[] = {
		{ "12 (cat) R 1 12 12 0 -1", IDLE_THREAD_RUNNABLE },
		{ "12 (cat) S 1 12 12 0 -1", IDLE_THREAD_BLOCKED },
		{ "12 (cat) D 1 12 12 0 -1", IDLE_THREAD_BLOCKED },
		{ "12 (cat) T 1 12 12 0 -1", IDLE_THREAD_BLOCKED },
		{ "12 (cat) t 1 12 12 0 -1", IDLE_THREAD_BLOCKED },
		{ "12 (cat) I 1 12 12 0 -1", IDLE_THREAD_BLOCKED },
		{ "12 (cat) P 1 12 12 0 -1", IDLE_THREAD_BLOCKED },
		{ "12 (cat) Z 1 12 12 0 -1", IDLE_THREAD_GONE },
		{ "12 (cat) X 1 12 12 0 -1", IDLE_THREAD_GONE },
		{ "12 (cat) x 1 12 12 0 -1", IDLE_THREAD_GONE },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(cases[i].stat) != cases[i].state)
			fail_msg("'%s' gave %d, expected %d", cases[i].stat, parse(cases[i].stat),
				 cases[i].state);
	}
}

static void state_after_last_paren(void **state)
{
	/* a command name can contain ')', spaces and state letters */
	assert_int_equal(parse("7 (a) R (b) S 1 7"), IDLE_THREAD_BLOCKED);
	assert_int_equal(parse("7 (x) S) R 1 7"), IDLE_THREAD_RUNNABLE);
	assert_int_equal(parse("7 ( ) Z 1 7"), IDLE_THREAD_GONE);
	assert_int_equal(parse("7 ()) D 1 7"), IDLE_THREAD_BLOCKED);
}

static void state_honours_length(void **state)
{
	const char *stat = "9 (sh) R 1 9";

	/* the file is read without a terminating NUL: only len bytes count */
	assert_int_equal(idle_thread_state_parse(stat, 8), IDLE_THREAD_RUNNABLE);
	assert_int_equal(idle_thread_state_parse(stat, 7), -EINVAL);
	assert_int_equal(idle_thread_state_parse(stat, 5), -EINVAL);
}

static void state_malformed(void **state)
{
	assert_int_equal(parse(""), -EINVAL);
	assert_int_equal(parse("12 cat R 1"), -EINVAL);
	assert_int_equal(parse("12 (cat)"), -EINVAL);
	assert_int_equal(parse("12 (cat) "), -EINVAL);
	assert_int_equal(parse("12 (cat)R 1"), -EINVAL);
	assert_int_equal(parse("12 (cat)  R"), -EINVAL);
	assert_int_equal(parse("12 (cat) \n"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_every_letter),
		cmocka_unit_test(state_after_last_paren),
		cmocka_unit_test(state_honours_length),
		cmocka_unit_test(state_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
