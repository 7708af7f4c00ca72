// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of snapshot_parse_reply(), the check of request socket replies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "snapshot.h"

/* The size the agent passes: 500 bytes of error text and the NUL. */
#define MESSAGE_CAP 501

static int parse(const char *reply, bool *ok, char *message, size_t *len)
{
	return snapshot_parse_reply(reply, strlen(reply), ok, message, MESSAGE_CAP, len);
}

/* Asserts that reply is invalid with the message "invalid reply: REASON: REPLY". */
static void assert_invalid(const char *reply, const char *reason)
{
	char message[MESSAGE_CAP], expected[MESSAGE_CAP];
	bool ok = true;
	size_t len;

	snprintf(expected, sizeof(expected), "invalid reply: %s: %s", reason, reply);
	if (parse(reply, &ok, message, &len) != -EINVAL)
		fail_msg("reply %s: accepted", reply);
	assert_string_equal(message, expected);
	assert_int_equal(len, strlen(expected));
}

static void reply_ok_and_failed(void **state)
{
	char message[MESSAGE_CAP];
	bool ok = false;
	size_t len = 99;

	assert_int_equal(parse("{\"ok\":true}", &ok, message, &len), 0);
	assert_true(ok);
	assert_string_equal(message, "");
	assert_int_equal(len, 0);

	assert_int_equal(parse(" {\"status\":{\"ok\":false},\"ok\" : true }\r\t ", &ok, message, &len),
			 0);
	assert_true(ok);

	assert_int_equal(parse("{\"ok\":false,\"error\":\"disk full\"}", &ok, message, &len), 0);
	assert_false(ok);
	assert_string_equal(message, "disk full");
	assert_int_equal(len, 9);

	assert_int_equal(parse("{\"ok\":false}", &ok, message, &len), 0);
	assert_false(ok);
	assert_int_equal(len, 0);
}

static void reply_error_escapes_decoded(void **state)
{
	static const char expected[] = "e\xc3\xa9 smile\xf0\x9f\x98\x80 ctl\x01 slash/ nul\0.";
	char message[MESSAGE_CAP];
	bool ok = true;
	size_t len;

	assert_int_equal(parse("{\"ok\":false,\"error\":\"e\\u00e9 smile\\ud83d\\ude00 ctl\\u0001 "
			       "slash\\/ nul\\u0000.\"}", &ok, message, &len), 0);
	assert_false(ok);
	assert_int_equal(len, sizeof(expected) - 1);
	assert_memory_equal(message, expected, sizeof(expected) - 1);
}

static void reply_error_cut_to_500_bytes(void **state)
{
	char reply[700], message[MESSAGE_CAP];
	bool ok = true;
	size_t len;
	int n;

	/* 498 bytes, then a 3-byte character that does not fit */
	n = snprintf(reply, sizeof(reply), "{\"ok\":false,\"error\":\"%0498d\\u65e5xyz\"}", 0);
	assert_true(n > 0 && (size_t)n < sizeof(reply));
	assert_int_equal(parse(reply, &ok, message, &len), 0);
	assert_false(ok);
	assert_int_equal(len, 498);
	assert_int_equal(strlen(message), 498);
}

static void reply_invalid(void **state)
{
	assert_invalid("{\"ok\":\"true\"}", "member 'ok' is not a boolean");
	assert_invalid("{\"ok\":1}", "member 'ok' is not a boolean");
	assert_invalid("{\"ok\":null}", "member 'ok' is not a boolean");
	assert_invalid("{\"ok\":true,\"ok\":false}", "duplicate member 'ok'");
	assert_invalid("{\"ok\":true,\"\\u006fk\":true}", "duplicate member 'ok'");
	assert_invalid("{\"ok\":true,\"x\":1,\"x\":1}", "duplicate member 'x'");
	assert_invalid("{\"ok\":true} junk", "unexpected characters after the object");
	assert_invalid("{\"ok\":true}{}", "unexpected characters after the object");
	assert_invalid("{\"ok\":true,\"error\":7}", "member 'error' is not a string");
	assert_invalid("{\"status\":\"ok\"}", "missing member 'ok'");
	assert_invalid("{}", "missing member 'ok'");
	assert_invalid("[true]", "not a JSON object");
	assert_invalid("ok", "not a JSON object");
	assert_invalid("", "not a JSON object");
	assert_invalid("{\"ok\":true", "expected ',' or '}' after member 'ok'");
	assert_invalid("{\"ok\":true,\"error\":\"\\x\"}", "invalid escape in string");
	assert_invalid("{\"ok\":tru}", "expected true or false");
}

static void reply_nul_byte_invalid(void **state)
{
	static const char reply[] = "{\"ok\":true}\0x";
	char message[MESSAGE_CAP];
	bool ok = false;
	size_t len;

	assert_int_equal(snapshot_parse_reply(reply, sizeof(reply) - 1, &ok, message, MESSAGE_CAP,
					      &len), -EINVAL);
	assert_string_equal(message, "invalid reply: unexpected characters after the object: "
			    "{\"ok\":true}\\x00x");
}

static void reply_invalid_shows_200_bytes(void **state)
{
	char reply[400], message[MESSAGE_CAP];
	bool ok = true;
	size_t len;

	memset(reply, ' ', sizeof(reply) - 2);
	reply[0] = '[';
	reply[sizeof(reply) - 2] = ']';
	reply[sizeof(reply) - 1] = '\0';
	assert_int_equal(parse(reply, &ok, message, &len), -EINVAL);
	assert_int_equal(len, strlen("invalid reply: not a JSON object: ") + 200);
	assert_int_equal(strlen(message), len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reply_ok_and_failed),
		cmocka_unit_test(reply_error_escapes_decoded),
		cmocka_unit_test(reply_error_cut_to_500_bytes),
		cmocka_unit_test(reply_invalid),
		cmocka_unit_test(reply_nul_byte_invalid),
		cmocka_unit_test(reply_invalid_shows_200_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
