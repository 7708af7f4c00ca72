// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of agent/triggers.c: names, aliases and --trigger lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "triggers.h"

#define VALID_NAMES								\
	"first-listen, first-stdin, first-environ, first-sigint, idle, "	\
	"periodic-interval, sigint, sigalrm, sigtstp, sigstop, "		\
	"non-deterministic-call, bootstrap, transaction, explicit, default, all"

static const char *const expected_names[ST_TRIG_COUNT] = {
	"first-listen", "first-stdin", "first-environ", "first-sigint", "idle",
	"periodic-interval", "sigint", "sigalrm", "sigtstp", "sigstop",
	"non-deterministic-call", "bootstrap", "transaction", "explicit",
};

struct alias_case {
	const char *alias;
	enum st_trigger trigger;
};

static const struct alias_case alias_cases[] = {
	{ "first-intr", ST_TRIG_FIRST_SIGINT },
	{ "first-ctrlc", ST_TRIG_FIRST_SIGINT },
	{ "first-ctrl-c", ST_TRIG_FIRST_SIGINT },
	{ "intr", ST_TRIG_SIGINT },
	{ "ctrlc", ST_TRIG_SIGINT },
	{ "ctrl-c", ST_TRIG_SIGINT },
	{ "alarm", ST_TRIG_SIGALRM },
	{ "timer", ST_TRIG_SIGALRM },
	{ "ctrlz", ST_TRIG_SIGTSTP },
	{ "ctrl-z", ST_TRIG_SIGTSTP },
	{ "stop", ST_TRIG_SIGSTOP },
};

#define ALIAS_COUNT (sizeof(alias_cases) / sizeof(alias_cases[0]))

/* Parses list with every trigger available and returns the error code. */
static int parse_all_available(const char *list, __u32 *mask, char *err)
{
	return trigger_list_parse(list, TRIGGERS_ALL, mask, err, TRIGGER_ERROR_LEN);
}

static void name_canonical_order(void **state)
{
	size_t i;

	for (i = 0; i < ST_TRIG_COUNT; i++)
		assert_string_equal(trigger_name((enum st_trigger)i), expected_names[i]);
}

static void name_out_of_range(void **state)
{
	assert_null(trigger_name(ST_TRIG_COUNT));
	assert_null(trigger_name((enum st_trigger)-1));
	assert_null(trigger_name((enum st_trigger)1000));
}

static void lookup_canonical_names(void **state)
{
	size_t i;

	for (i = 0; i < ST_TRIG_COUNT; i++) {
		enum st_trigger t = ST_TRIG_COUNT;

		assert_int_equal(trigger_lookup(expected_names[i], &t), 0);
		assert_int_equal(t, i);
	}
}

static void lookup_aliases(void **state)
{
	size_t i;

	for (i = 0; i < ALIAS_COUNT; i++) {
		enum st_trigger t = ST_TRIG_COUNT;

		assert_int_equal(trigger_lookup(alias_cases[i].alias, &t), 0);
		assert_int_equal(t, alias_cases[i].trigger);
	}
}

static void lookup_ignores_case(void **state)
{
	enum st_trigger t = ST_TRIG_COUNT;

	assert_int_equal(trigger_lookup("FIRST-LISTEN", &t), 0);
	assert_int_equal(t, ST_TRIG_FIRST_LISTEN);
	assert_int_equal(trigger_lookup("Non-Deterministic-Call", &t), 0);
	assert_int_equal(t, ST_TRIG_NON_DETERMINISTIC_CALL);
	assert_int_equal(trigger_lookup("CTRL-C", &t), 0);
	assert_int_equal(t, ST_TRIG_SIGINT);
	assert_int_equal(trigger_lookup("First-CtrlC", &t), 0);
	assert_int_equal(t, ST_TRIG_FIRST_SIGINT);
}

static void lookup_ignores_blanks(void **state)
{
	enum st_trigger t = ST_TRIG_COUNT;

	assert_int_equal(trigger_lookup("  idle", &t), 0);
	assert_int_equal(t, ST_TRIG_IDLE);
	assert_int_equal(trigger_lookup("sigstop \t", &t), 0);
	assert_int_equal(t, ST_TRIG_SIGSTOP);
	assert_int_equal(trigger_lookup("\t Timer \t", &t), 0);
	assert_int_equal(t, ST_TRIG_SIGALRM);
}

static void lookup_rejects_unknown(void **state)
{
	static const char *const bad[] = {
		"", " ", "foo", "default", "all", "idle-", "idl", "idlex",
		"first listen", "first_listen", "sig int", "sigint,idle", "\nidle",
	};
	enum st_trigger t = ST_TRIG_EXPLICIT;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(trigger_lookup(bad[i], &t), -EINVAL);
	assert_int_equal(trigger_lookup(NULL, &t), -EINVAL);
	assert_int_equal(t, ST_TRIG_EXPLICIT);
}

static void default_set_members(void **state)
{
	__u32 expected = ST_TRIG_BIT(ST_TRIG_IDLE) | ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON) |
			 ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) |
			 ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) | ST_TRIG_BIT(ST_TRIG_EXPLICIT);

	assert_int_equal(TRIGGERS_DEFAULT, expected);
	assert_int_equal(TRIGGERS_ALL, (1u << 14) - 1);
}

static void list_single_names(void **state)
{
	char err[TRIGGER_ERROR_LEN];
	size_t i;

	for (i = 0; i < ST_TRIG_COUNT; i++) {
		__u32 mask = 0;

		assert_int_equal(parse_all_available(expected_names[i], &mask, err), 0);
		assert_int_equal(mask, ST_TRIG_BIT(i));
	}
	for (i = 0; i < ALIAS_COUNT; i++) {
		__u32 mask = 0;

		assert_int_equal(parse_all_available(alias_cases[i].alias, &mask, err), 0);
		assert_int_equal(mask, ST_TRIG_BIT(alias_cases[i].trigger));
	}
}

static void list_several_names(void **state)
{
	char err[TRIGGER_ERROR_LEN];
	__u32 mask = 0;

	assert_int_equal(parse_all_available("sigint, Alarm ,\tbootstrap", &mask, err), 0);
	assert_int_equal(mask, ST_TRIG_BIT(ST_TRIG_SIGINT) | ST_TRIG_BIT(ST_TRIG_SIGALRM) |
			       ST_TRIG_BIT(ST_TRIG_BOOTSTRAP));
}

static void list_ors_into_mask(void **state)
{
	char err[TRIGGER_ERROR_LEN];
	__u32 mask = ST_TRIG_BIT(ST_TRIG_IDLE);

	assert_int_equal(parse_all_available("stop", &mask, err), 0);
	assert_int_equal(mask, ST_TRIG_BIT(ST_TRIG_IDLE) | ST_TRIG_BIT(ST_TRIG_SIGSTOP));

	/* a repeated name or alias selects the trigger once */
	assert_int_equal(parse_all_available("intr,ctrl-c,SIGINT", &mask, err), 0);
	assert_int_equal(mask, ST_TRIG_BIT(ST_TRIG_IDLE) | ST_TRIG_BIT(ST_TRIG_SIGSTOP) |
			       ST_TRIG_BIT(ST_TRIG_SIGINT));
}

static void list_default_and_all(void **state)
{
	char err[TRIGGER_ERROR_LEN];
	__u32 mask = 0;

	assert_int_equal(parse_all_available("default", &mask, err), 0);
	assert_int_equal(mask, TRIGGERS_DEFAULT);

	mask = 0;
	assert_int_equal(parse_all_available(" DEFAULT ,sigint", &mask, err), 0);
	assert_int_equal(mask, TRIGGERS_DEFAULT | ST_TRIG_BIT(ST_TRIG_SIGINT));

	mask = 0;
	assert_int_equal(parse_all_available("All", &mask, err), 0);
	assert_int_equal(mask, TRIGGERS_ALL);
}

static void list_default_limited(void **state)
{
	__u32 available = TRIGGERS_ALL & ~ST_TRIG_BIT(ST_TRIG_IDLE) &
			  ~ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON);
	char err[TRIGGER_ERROR_LEN];
	__u32 mask = 0;

	assert_int_equal(trigger_list_parse("default", available, &mask, err, sizeof(err)), 0);
	assert_int_equal(mask, TRIGGERS_DEFAULT & available);

	mask = 0;
	assert_int_equal(trigger_list_parse("all", available, &mask, err, sizeof(err)), 0);
	assert_int_equal(mask, available);

	mask = 0;
	assert_int_equal(trigger_list_parse("all", 0, &mask, err, sizeof(err)), 0);
	assert_int_equal(mask, 0);
}

static void list_unavailable_name(void **state)
{
	__u32 available = TRIGGERS_ALL & ~ST_TRIG_BIT(ST_TRIG_IDLE) &
			  ~ST_TRIG_BIT(ST_TRIG_SIGALRM);
	char err[TRIGGER_ERROR_LEN] = "";
	__u32 mask = ST_TRIG_BIT(ST_TRIG_EXPLICIT);

	assert_int_equal(trigger_list_parse("sigint,idle", available, &mask, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "trigger 'idle' is not available in this build");
	assert_int_equal(mask, ST_TRIG_BIT(ST_TRIG_EXPLICIT));

	/* an alias is reported by its canonical name */
	assert_int_equal(trigger_list_parse(" Timer", available, &mask, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "trigger 'sigalrm' is not available in this build");
	assert_int_equal(mask, ST_TRIG_BIT(ST_TRIG_EXPLICIT));
}

static void list_unknown_name(void **state)
{
	char err[TRIGGER_ERROR_LEN] = "";
	__u32 mask = 0;

	assert_int_equal(parse_all_available("foo", &mask, err), -EINVAL);
	assert_string_equal(err, "invalid trigger 'foo': valid names are " VALID_NAMES);
	assert_int_equal(mask, 0);

	/* the name is quoted as given, without the blanks around it */
	assert_int_equal(parse_all_available("idle, Bogus-Name ,sigint", &mask, err), -EINVAL);
	assert_string_equal(err, "invalid trigger 'Bogus-Name': valid names are " VALID_NAMES);
	assert_int_equal(mask, 0);
}

static void list_empty_items(void **state)
{
	static const char *const lists[] = {
		"", " ", "\t", "idle,,sigint", ",idle", "idle,", "idle, ,sigint", ",",
	};
	char err[TRIGGER_ERROR_LEN];
	char expected[TRIGGER_ERROR_LEN];
	size_t i;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		__u32 mask = 0;

		err[0] = '\0';
		snprintf(expected, sizeof(expected), "empty trigger name in list '%s'", lists[i]);
		assert_int_equal(parse_all_available(lists[i], &mask, err), -EINVAL);
		assert_string_equal(err, expected);
		assert_int_equal(mask, 0);
	}
}

static void list_null_is_empty(void **state)
{
	char err[TRIGGER_ERROR_LEN] = "";
	__u32 mask = 0;

	assert_int_equal(parse_all_available(NULL, &mask, err), -EINVAL);
	assert_string_equal(err, "empty trigger name in list ''");
}

static void list_error_buffer_cut(void **state)
{
	char err[16];
	__u32 mask = 0;

	memset(err, 'x', sizeof(err));
	assert_int_equal(trigger_list_parse("foo", TRIGGERS_ALL, &mask, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "invalid trigger");

	/* no buffer at all is allowed */
	assert_int_equal(trigger_list_parse("foo", TRIGGERS_ALL, &mask, NULL, 0), -EINVAL);
	assert_int_equal(mask, 0);
}

static void format_all_names(void **state)
{
	char buf[TRIGGER_MASK_FORMAT_LEN];

	assert_int_equal(trigger_mask_format(TRIGGERS_ALL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "first-listen,first-stdin,first-environ,first-sigint,idle,"
			    "periodic-interval,sigint,sigalrm,sigtstp,sigstop,"
			    "non-deterministic-call,bootstrap,transaction,explicit");
}

static void format_default_order(void **state)
{
	char buf[TRIGGER_MASK_FORMAT_LEN];

	assert_int_equal(trigger_mask_format(TRIGGERS_DEFAULT, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "first-listen,first-stdin,first-environ,idle,explicit");
}

static void format_empty_and_extra_bits(void **state)
{
	char buf[TRIGGER_MASK_FORMAT_LEN] = "junk";

	assert_int_equal(trigger_mask_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	assert_int_equal(trigger_mask_format(ST_TRIG_BIT(ST_TRIG_SIGSTOP) | 0x80000000u, buf,
					     sizeof(buf)), 0);
	assert_string_equal(buf, "sigstop");
}

static void format_too_short(void **state)
{
	char buf[12];

	assert_int_equal(trigger_mask_format(ST_TRIG_BIT(ST_TRIG_IDLE), buf, 5), 0);
	assert_string_equal(buf, "idle");
	assert_int_equal(trigger_mask_format(ST_TRIG_BIT(ST_TRIG_IDLE), buf, 4), -ENOSPC);
	assert_int_equal(trigger_mask_format(TRIGGERS_DEFAULT, buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_int_equal(trigger_mask_format(0, buf, 0), -ENOSPC);
}

static void format_parse_round_trip(void **state)
{
	char buf[TRIGGER_MASK_FORMAT_LEN];
	char err[TRIGGER_ERROR_LEN];
	__u32 masks[] = { TRIGGERS_DEFAULT, TRIGGERS_ALL, ST_TRIG_BIT(ST_TRIG_TRANSACTION),
			  0x1555, 0x2aaa };
	size_t i;

	for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		__u32 parsed = 0;

		assert_int_equal(trigger_mask_format(masks[i], buf, sizeof(buf)), 0);
		assert_int_equal(parse_all_available(buf, &parsed, err), 0);
		assert_int_equal(parsed, masks[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(name_canonical_order),
		cmocka_unit_test(name_out_of_range),
		cmocka_unit_test(lookup_canonical_names),
		cmocka_unit_test(lookup_aliases),
		cmocka_unit_test(lookup_ignores_case),
		cmocka_unit_test(lookup_ignores_blanks),
		cmocka_unit_test(lookup_rejects_unknown),
		cmocka_unit_test(default_set_members),
		cmocka_unit_test(list_single_names),
		cmocka_unit_test(list_several_names),
		cmocka_unit_test(list_ors_into_mask),
		cmocka_unit_test(list_default_and_all),
		cmocka_unit_test(list_default_limited),
		cmocka_unit_test(list_unavailable_name),
		cmocka_unit_test(list_unknown_name),
		cmocka_unit_test(list_empty_items),
		cmocka_unit_test(list_null_is_empty),
		cmocka_unit_test(list_error_buffer_cut),
		cmocka_unit_test(format_all_names),
		cmocka_unit_test(format_default_order),
		cmocka_unit_test(format_empty_and_extra_bits),
		cmocka_unit_test(format_too_short),
		cmocka_unit_test(format_parse_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
