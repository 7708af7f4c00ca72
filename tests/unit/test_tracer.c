// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of the cooldown tunables that agent/tracer.c gives the hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "tracer.h"

static __u64 tick_ns(void)
{
	struct timespec tick;

	assert_int_equal(clock_getres(CLOCK_MONOTONIC_COARSE, &tick), 0);
	assert_int_equal(tick.tv_sec, 0);
	assert_true(tick.tv_nsec > 0);
	return (__u64)tick.tv_nsec;
}

/*
 * The jiffies that skip the clock, plus two ticks of lag, stay inside the
 * first fifteen sixteenths of the window, and fall short of them by less
 * than one tick.
 */
static void quiet_jiffies_stay_inside_window(void **state)
{
	static const __u64 cooldowns_ms[] = { 10, 50, 100, 300, 1000, 60000, 3600000 };
	__u64 tick = tick_ns();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cooldowns_ms) / sizeof(cooldowns_ms[0]); i++) {
		__u64 cooldown = cooldowns_ms[i] * 1000000ULL;
		__u64 bound = cooldown - cooldown / 16;
		__u64 quiet = tracer_quiet_jiffies(cooldown);

		if (bound < 3 * tick) {
			assert_int_equal(quiet, 0);
			continue;
		}
		if ((quiet + 2) * tick > bound)
			fail_msg("cooldown %llu ms: %llu quiet jiffies of %llu ns reach past %llu ns",
				 (unsigned long long)cooldowns_ms[i], (unsigned long long)quiet,
				 (unsigned long long)tick, (unsigned long long)bound);
		if ((quiet + 3) * tick <= bound)
			fail_msg("cooldown %llu ms: %llu quiet jiffies leave a tick unused",
				 (unsigned long long)cooldowns_ms[i], (unsigned long long)quiet);
	}
}

/* Windows shorter than three ticks always read the clock. */
static void short_cooldowns_read_the_clock(void **state)
{
	__u64 tick = tick_ns();

	(void)state;
	assert_int_equal(tracer_quiet_jiffies(0), 0);
	assert_int_equal(tracer_quiet_jiffies(1), 0);
	assert_int_equal(tracer_quiet_jiffies(tick), 0);
	assert_int_equal(tracer_quiet_jiffies(3 * tick), 0);
	assert_true(tracer_quiet_jiffies(4 * tick) > 0);
}

static void quiet_jiffies_grow_with_the_cooldown(void **state)
{
	__u64 tick = tick_ns(), cooldown, last = 0;

	(void)state;
	for (cooldown = 0; cooldown < 200 * tick; cooldown += tick / 3) {
		__u64 quiet = tracer_quiet_jiffies(cooldown);

		assert_true(quiet >= last);
		last = quiet;
	}
	assert_true(last > 150);
}

static void calls_wake_from_one_millisecond(void **state)
{
	(void)state;
	assert_int_equal(tracer_calls_no_wakeup(0), 1);
	assert_int_equal(tracer_calls_no_wakeup(999999), 1);
	assert_int_equal(tracer_calls_no_wakeup(1000000), 0);
	assert_int_equal(tracer_calls_no_wakeup(1000000000ULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quiet_jiffies_stay_inside_window),
		cmocka_unit_test(short_cooldowns_read_the_clock),
		cmocka_unit_test(quiet_jiffies_grow_with_the_cooldown),
		cmocka_unit_test(calls_wake_from_one_millisecond),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
