// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of agent/prior.c: the once bits of a scan and those the kernel claimed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "prior.h"
#include "triggers.h"

#define LISTEN_BIT ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN)
#define STDIN_BIT ST_TRIG_BIT(ST_TRIG_FIRST_STDIN)
#define ENVIRON_BIT ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON)
#define SIGINT_BIT ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT)
#define ONCE_BITS (LISTEN_BIT | STDIN_BIT | ENVIRON_BIT | SIGINT_BIT)

static void scan_with_both(struct prior_state *p)
{
	memset(p, 0, sizeof(*p));
	p->listening = 1;
	p->listen.fd = 3;
	p->stdin_read = 1;
	p->stdin_pos = 4;
}

static void once_bits_of_scan(void **state)
{
	struct prior_state p;

	scan_with_both(&p);
	assert_int_equal(prior_once_bits(&p), LISTEN_BIT | STDIN_BIT);
	assert_int_equal(prior_unknown_bits(&p, TRIGGERS_ALL), ENVIRON_BIT | SIGINT_BIT);
}

static void drop_listen_claimed_by_kernel(void **state)
{
	struct prior_state p;

	scan_with_both(&p);
	prior_drop(&p, LISTEN_BIT);
	assert_false(p.listening);
	assert_true(p.stdin_read);
	assert_int_equal(prior_once_bits(&p), STDIN_BIT);
	/* the kernel's line of the dropped trigger is marked as seen since the attach */
	assert_int_equal(prior_unknown_bits(&p, TRIGGERS_ALL), LISTEN_BIT | ENVIRON_BIT | SIGINT_BIT);
}

static void drop_both_claimed_by_kernel(void **state)
{
	struct prior_state p;

	scan_with_both(&p);
	prior_drop(&p, LISTEN_BIT | STDIN_BIT);
	assert_int_equal(prior_once_bits(&p), 0);
	assert_int_equal(prior_unknown_bits(&p, TRIGGERS_ALL), ONCE_BITS);
}

static void drop_nothing_claimed(void **state)
{
	struct prior_state p;

	scan_with_both(&p);
	prior_drop(&p, 0);
	assert_int_equal(prior_once_bits(&p), LISTEN_BIT | STDIN_BIT);
	assert_int_equal(p.listen.fd, 3);
	assert_int_equal(p.stdin_pos, 4);
}

static void unknown_bits_of_selected_triggers(void **state)
{
	struct prior_state p;

	scan_with_both(&p);
	prior_drop(&p, STDIN_BIT);
	assert_int_equal(prior_unknown_bits(&p, LISTEN_BIT | STDIN_BIT), STDIN_BIT);
	assert_int_equal(prior_unknown_bits(&p, LISTEN_BIT), 0);
	assert_int_equal(prior_unknown_bits(&p, ST_TRIG_BIT(ST_TRIG_IDLE)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(once_bits_of_scan),
		cmocka_unit_test(drop_listen_claimed_by_kernel),
		cmocka_unit_test(drop_both_claimed_by_kernel),
		cmocka_unit_test(drop_nothing_claimed),
		cmocka_unit_test(unknown_bits_of_selected_triggers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
