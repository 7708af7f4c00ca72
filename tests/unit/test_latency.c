// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of agent/latency.c: bucket bounds, percentiles and the JSON member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "latency.h"

static void exact_below_sixteen(void **state)
{
	__u64 ns;

	(void)state;
	for (ns = 0; ns < 16; ns++) {
		assert_int_equal(latency_bucket(ns), ns);
		assert_int_equal(latency_bucket_top(latency_bucket(ns)), ns);
	}
	assert_int_equal(latency_bucket(16), 16);
	assert_int_equal(latency_bucket(31), 31);
	assert_int_equal(latency_bucket(32), 32);
	assert_int_equal(latency_bucket(33), 32);
	assert_int_equal(latency_bucket(34), 33);
}

/* 1000 = 0b1111101000: top bit 9, so buckets 32 ns wide, this one 992 to 1023. */
static void bucket_of_a_microsecond(void **state)
{
	(void)state;
	assert_int_equal(latency_bucket_top(latency_bucket(1000)), 1023);
	assert_int_equal(latency_bucket(992), latency_bucket(1023));
	assert_int_not_equal(latency_bucket(991), latency_bucket(992));
	assert_int_not_equal(latency_bucket(1023), latency_bucket(1024));
}

/* Every value lies in its bucket, and the bucket is less than 1/16 of it wide. */
static void buckets_hold_their_values(void **state)
{
	__u64 ns;

	(void)state;
	for (ns = 1; ns < (1ULL << 42); ns = ns * 3 + 7) {
		unsigned int b = latency_bucket(ns);
		__u64 top = latency_bucket_top(b);

		assert_true(top >= ns);
		assert_true(top - ns <= ns / 16);
		assert_int_equal(latency_bucket(top), b);
		assert_int_equal(latency_bucket(top + 1), b + 1);
	}
}

static void past_the_top_bit_one_bucket(void **state)
{
	(void)state;
	assert_int_equal(latency_bucket(1ULL << 43), LATENCY_BUCKETS - 1);
	assert_int_equal(latency_bucket(UINT64_MAX), LATENCY_BUCKETS - 1);
	assert_int_equal(latency_bucket((1ULL << 43) - 1), LATENCY_BUCKETS - 2);
}

static void percentiles_and_maximum(void **state)
{
	struct latency_set set = { 0 };
	const struct latency_hist *h;
	int i;

	(void)state;
	for (i = 0; i < 98; i++)
		latency_add(&set, ST_TRIG_SIGALRM, 1000);
	latency_add(&set, ST_TRIG_SIGALRM, 1000000);
	latency_add(&set, ST_TRIG_SIGALRM, 1000000);
	h = set.kinds[ST_TRIG_SIGALRM];
	assert_non_null(h);
	assert_int_equal(h->count, 100);
	assert_int_equal(h->max_ns, 1000000);
	assert_int_equal(latency_percentile(h, 50), 1023);
	assert_int_equal(latency_percentile(h, 98), 1023);
	/* the bucket of 1000000 reaches 1015807: the maximum is the better bound */
	assert_int_equal(latency_percentile(h, 99), 1000000);
	assert_int_equal(latency_percentile(h, 100), 1000000);
	assert_null(set.kinds[ST_TRIG_SIGINT]);
	latency_free(&set);
	assert_null(set.kinds[ST_TRIG_SIGALRM]);
}

static void percentile_of_one_delay(void **state)
{
	struct latency_set set = { 0 };

	(void)state;
	latency_add(&set, LATENCY_EXIT, 70000);
	assert_int_equal(latency_percentile(set.kinds[LATENCY_EXIT], 50), 70000);
	assert_int_equal(latency_percentile(set.kinds[LATENCY_EXIT], 99), 70000);
	assert_int_equal(latency_percentile(NULL, 99), 0);
	latency_free(&set);
}

static void json_names_each_kind_with_delays(void **state)
{
	struct latency_set set = { 0 };
	struct json_writer w;

	(void)state;
	json_writer_init(&w);
	latency_write_json(&set, &w);
	assert_int_equal(w.error, 0);
	assert_string_equal(w.buf, "{}");

	latency_add(&set, ST_TRIG_FIRST_LISTEN, 5);
	latency_add(&set, LATENCY_EXEC, 1000);
	latency_add(&set, LATENCY_EXEC, 3000);
	json_writer_reset(&w);
	latency_write_json(&set, &w);
	assert_int_equal(w.error, 0);
	/* 3000 = 0b101110111000: top bit 11, buckets 128 ns wide, this one 2944 to 3071 */
	assert_string_equal(w.buf,
			    "{\"first-listen\":{\"lines\":1,\"p50_ns\":5,\"p99_ns\":5,\"max_ns\":5},"
			    "\"exec\":{\"lines\":2,\"p50_ns\":1023,\"p99_ns\":3000,\"max_ns\":3000}}");
	json_writer_free(&w);
	latency_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_below_sixteen),
		cmocka_unit_test(bucket_of_a_microsecond),
		cmocka_unit_test(buckets_hold_their_values),
		cmocka_unit_test(past_the_top_bit_one_bucket),
		cmocka_unit_test(percentiles_and_maximum),
		cmocka_unit_test(percentile_of_one_delay),
		cmocka_unit_test(json_names_each_kind_with_delays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
