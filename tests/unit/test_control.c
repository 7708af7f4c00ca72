// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of control_parse_request(), the parser of control socket lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"

static int parse(const char *line, struct control_request *req, char *err)
{
	return control_parse_request(line, strlen(line), req, err, CONTROL_ERROR_LEN);
}

/* Asserts that line is rejected with a message that contains expected. */
static void assert_rejected(const char *line, const char *expected)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(parse(line, &req, err), -EINVAL);
	if (!strstr(err, expected))
		fail_msg("line %s: message '%s' lacks '%s'", line, err, expected);
}

static void snapshot_with_pid(void **state)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(parse("{\"request\":\"snapshot\",\"pid\":1234}", &req, err), 0);
	assert_int_equal(req.kind, CONTROL_REQ_SNAPSHOT);
	assert_int_equal(req.pid, 1234);
	assert_int_equal(req.id_kind, CONTROL_ID_ABSENT);
	assert_string_equal(err, "");
}

static void members_any_order_spaces(void **state)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(parse(" \t{ \"pid\" : 7 ,\r\"id\":-42, \"request\" :\"snapshot\" }  ",
			       &req, err), 0);
	assert_int_equal(req.kind, CONTROL_REQ_SNAPSHOT);
	assert_int_equal(req.pid, 7);
	assert_int_equal(req.id_kind, CONTROL_ID_INTEGER);
	assert_int_equal(req.id_number, -42);
}

static void stats_and_list(void **state)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(parse("{\"request\":\"stats\"}", &req, err), 0);
	assert_int_equal(req.kind, CONTROL_REQ_STATS);
	assert_int_equal(req.pid, 0);
	assert_int_equal(parse("{\"request\":\"list\",\"id\":\"x\"}", &req, err), 0);
	assert_int_equal(req.kind, CONTROL_REQ_LIST);
	assert_int_equal(req.id_kind, CONTROL_ID_STRING);
	assert_string_equal(req.id, "x");
}

static void id_string_escapes(void **state)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];
	static const char expected[] = "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80";

	assert_int_equal(parse("{\"request\":\"list\",\"id\":"
			       "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}", &req, err), 0);
	assert_int_equal(req.id_len, sizeof(expected) - 1);
	assert_memory_equal(req.id, expected, sizeof(expected) - 1);
}

static void id_string_nul_escape(void **state)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(parse("{\"request\":\"list\",\"id\":\"a\\u0000b\"}", &req, err), 0);
	assert_int_equal(req.id_len, 3);
	assert_memory_equal(req.id, "a\0b", 3);
}

static void id_string_raw_utf8(void **state)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(parse("{\"request\":\"list\",\"id\":\"\xe6\x97\xa5\"}", &req, err), 0);
	assert_string_equal(req.id, "\xe6\x97\xa5");
}

static void id_integer_limits(void **state)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(parse("{\"request\":\"list\",\"id\":9223372036854775807}", &req, err), 0);
	assert_true(req.id_number == INT64_MAX);
	assert_int_equal(parse("{\"request\":\"list\",\"id\":-9223372036854775808}", &req, err), 0);
	assert_true(req.id_number == INT64_MIN);
	assert_rejected("{\"request\":\"list\",\"id\":9223372036854775808}", "out of range");
	assert_rejected("{\"request\":\"list\",\"id\":99999999999999999999999}", "out of range");
}

static void id_longest_accepted(void **state)
{
	char line[CONTROL_ID_MAX + 64], id[CONTROL_ID_MAX + 2];
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	memset(id, 'i', CONTROL_ID_MAX);
	id[CONTROL_ID_MAX] = '\0';
	snprintf(line, sizeof(line), "{\"request\":\"list\",\"id\":\"%s\"}", id);
	assert_int_equal(parse(line, &req, err), 0);
	assert_int_equal(req.id_len, CONTROL_ID_MAX);

	id[CONTROL_ID_MAX] = 'i';
	id[CONTROL_ID_MAX + 1] = '\0';
	snprintf(line, sizeof(line), "{\"request\":\"list\",\"id\":\"%s\"}", id);
	assert_rejected(line, "longer than 128 bytes");
}

static void line_not_nul_terminated(void **state)
{
	static const char buf[] = "{\"request\":\"snapshot\",\"pid\":12}GARBAGE";
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(control_parse_request(buf, strlen(buf) - 7, &req, err, sizeof(err)), 0);
	assert_int_equal(req.pid, 12);
	/* the byte count ends the line even inside a token */
	assert_int_equal(control_parse_request(buf, 28, &req, err, sizeof(err)), -EINVAL);
}

static void nul_byte_in_line(void **state)
{
	static const char buf[] = "{\"request\":\"list\"}\0";
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(control_parse_request(buf, sizeof(buf) - 1, &req, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "unexpected characters"));
}

/* Asserts that line is rejected and that its id is the integer id. */
static void assert_rejected_with_id(const char *line, __s64 id)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(parse(line, &req, err), -EINVAL);
	if (req.id_kind != CONTROL_ID_INTEGER)
		fail_msg("line %s (%s): no id", line, err);
	assert_true(req.id_number == id);
}

/* Asserts that line is rejected and has no id to echo. */
static void assert_rejected_without_id(const char *line)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_int_equal(parse(line, &req, err), -EINVAL);
	if (req.id_kind != CONTROL_ID_ABSENT)
		fail_msg("line %s (%s): id kind %d", line, err, req.id_kind);
}

static void error_keeps_id(void **state)
{
	struct control_request req;
	char err[CONTROL_ERROR_LEN];

	assert_rejected_with_id("{\"id\":5,\"request\":\"jump\"}", 5);
	assert_rejected_with_id("{\"request\":\"jump\",\"id\":5}", 5);
	assert_rejected_with_id("{\"request\":7,\"id\":5}", 5);
	assert_rejected_with_id("{\"request\":\"snapshot\",\"pid\":\"1\",\"id\":5}", 5);
	assert_rejected_with_id("{\"request\":\"snapshot\",\"pid\":1.5,\"id\":5}", 5);
	assert_rejected_with_id("{\"request\":\"snapshot\",\"pid\":0,\"id\":5}", 5);
	assert_rejected_with_id("{\"force\":{\"a\":[1]},\"request\":\"list\",\"id\":5}", 5);
	assert_rejected_with_id("{\"request\":\"snapshot\",\"id\":5}", 5);
	assert_rejected_with_id("{\"request\":\"list\",\"pid\":1,\"id\":5}", 5);
	assert_rejected_with_id("{\"id\":5}", 5);
	assert_rejected_with_id("{\"request\":\"list\",\"id\":5} x", 5);

	/* the first error in the line is the one reported */
	assert_int_equal(parse("{\"request\":\"jump\",\"pid\":0,\"id\":5}", &req, err), -EINVAL);
	assert_non_null(strstr(err, "unknown request 'jump'"));
	assert_int_equal(parse("{\"pid\":0,\"request\":\"jump\",\"id\":5}", &req, err), -EINVAL);
	assert_non_null(strstr(err, "member 'pid' 0 out of range"));

	/* a string id is echoed as well */
	assert_int_equal(parse("{\"request\":\"jump\",\"id\":\"a\\u0000b\"}", &req, err), -EINVAL);
	assert_int_equal(req.id_kind, CONTROL_ID_STRING);
	assert_int_equal(req.id_len, 3);
	assert_memory_equal(req.id, "a\0b", 3);
}

static void error_without_valid_id(void **state)
{
	char line[CONTROL_ID_MAX + 64], id[CONTROL_ID_MAX + 2];

	/* not a complete JSON object, even with the id read before the error */
	assert_rejected_without_id("{\"id\":5,\"request\":\"jump\"");
	assert_rejected_without_id("{\"id\":5,\"request\":\"list\",}");
	assert_rejected_without_id("{\"id\":5,\"request\":\"snapshot\",\"pid\":012}");
	assert_rejected_without_id("{\"id\":5,\"id\":5,\"request\":\"list\"}");
	assert_rejected_without_id("{\"id\":5,\"request\":\"list\",\"request\":\"list\"}");
	/* an id of the wrong type or size */
	assert_rejected_without_id("{\"request\":\"jump\",\"id\":1.5}");
	assert_rejected_without_id("{\"request\":\"jump\",\"id\":9223372036854775808}");
	assert_rejected_without_id("{\"request\":\"jump\",\"id\":null}");
	assert_rejected_without_id("{\"request\":\"jump\",\"id\":[5]}");
	memset(id, 'i', CONTROL_ID_MAX + 1);
	id[CONTROL_ID_MAX + 1] = '\0';
	snprintf(line, sizeof(line), "{\"request\":\"list\",\"id\":\"%s\"}", id);
	assert_rejected_without_id(line);
}

static void rejects_structure(void **state)
{
	assert_rejected("", "empty request line");
	assert_rejected("   ", "empty request line");
	assert_rejected("[]", "must be a JSON object");
	assert_rejected("\"snapshot\"", "must be a JSON object");
	assert_rejected("{", "expected a member name");
	assert_rejected("{\"request\":\"list\"", "expected ',' or '}'");
	assert_rejected("{\"request\":\"list\",}", "expected a member name");
	assert_rejected("{\"request\" \"list\"}", "expected ':'");
	assert_rejected("{\"request\":}", "must be a string");
	assert_rejected("{\"request\":\"list\"} {}", "unexpected characters");
	assert_rejected("{\"request\":\"list\"}x", "unexpected characters");
	assert_rejected("{request:\"list\"}", "expected a member name");
	assert_rejected("{'request':'list'}", "expected a member name");
	assert_rejected("{}", "missing member 'request'");
}

static void rejects_fields(void **state)
{
	assert_rejected("{\"request\":\"reboot\"}", "unknown request 'reboot'");
	assert_rejected("{\"request\":\"Snapshot\",\"pid\":1}", "unknown request");
	assert_rejected("{\"request\":\"list\",\"force\":true}", "unknown member 'force'");
	assert_rejected("{\"request\":\"list\",\"request\":\"list\"}", "duplicate member 'request'");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":1,\"pid\":2}", "duplicate member 'pid'");
	assert_rejected("{\"request\":\"snapshot\"}", "needs member 'pid'");
	assert_rejected("{\"request\":\"stats\",\"pid\":1}", "only with request snapshot");
	assert_rejected("{\"request\":7}", "must be a string");
	assert_rejected("{\"req\\u0000uest\":\"list\"}", "NUL");
	assert_rejected("{\"request\":\"list\",\"id\":true}", "string or an integer");
	assert_rejected("{\"request\":\"list\",\"id\":1.5}", "must be an integer");
	assert_rejected("{\"request\":\"list\",\"id\":null}", "string or an integer");
}

static void rejects_pids(void **state)
{
	assert_rejected("{\"request\":\"snapshot\",\"pid\":\"12\"}", "must be an integer");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":12.0}", "must be an integer");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":1e3}", "must be an integer");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":0}", "out of range");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":-1}", "out of range");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":-0}", "out of range");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":2147483648}", "out of range");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":012}", "leading zero");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":-}", "invalid number '-'");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":null}", "must be an integer");
	assert_rejected("{\"request\":\"snapshot\",\"pid\":}", "must be an integer");
}

static void rejects_bad_strings(void **state)
{
	assert_rejected("{\"request\":\"list\",\"id\":\"a\tb\"}", "control character");
	assert_rejected("{\"request\":\"list\",\"id\":\"\xff\"}", "invalid UTF-8");
	assert_rejected("{\"request\":\"list\",\"id\":\"\xc0\xaf\"}", "invalid UTF-8");
	assert_rejected("{\"request\":\"list\",\"id\":\"\xed\xa0\x80\"}", "invalid UTF-8");
	assert_rejected("{\"request\":\"list\",\"id\":\"\xe6\x97\"}", "invalid UTF-8");
	assert_rejected("{\"request\":\"list\",\"id\":\"\\ud83d\"}", "unpaired surrogate");
	assert_rejected("{\"request\":\"list\",\"id\":\"\\ude00\"}", "unpaired surrogate");
	assert_rejected("{\"request\":\"list\",\"id\":\"\\ud83d\\u0041\"}", "unpaired surrogate");
	assert_rejected("{\"request\":\"list\",\"id\":\"\\u12\"}", "invalid \\u escape");
	assert_rejected("{\"request\":\"list\",\"id\":\"\\x41\"}", "invalid escape");
	assert_rejected("{\"request\":\"list\",\"id\":\"abc", "unterminated string");
	assert_rejected("{\"request\":\"list\",\"id\":\"abc\\", "unterminated string");
}

static void message_fits_buffer(void **state)
{
	struct control_request req;
	char err[8];

	memset(err, 'x', sizeof(err));
	assert_int_equal(control_parse_request("{}", 2, &req, err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(control_parse_request("{}", 2, &req, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(snapshot_with_pid),
		cmocka_unit_test(members_any_order_spaces),
		cmocka_unit_test(stats_and_list),
		cmocka_unit_test(id_string_escapes),
		cmocka_unit_test(id_string_nul_escape),
		cmocka_unit_test(id_string_raw_utf8),
		cmocka_unit_test(id_integer_limits),
		cmocka_unit_test(id_longest_accepted),
		cmocka_unit_test(line_not_nul_terminated),
		cmocka_unit_test(nul_byte_in_line),
		cmocka_unit_test(error_keeps_id),
		cmocka_unit_test(error_without_valid_id),
		cmocka_unit_test(rejects_structure),
		cmocka_unit_test(rejects_fields),
		cmocka_unit_test(rejects_pids),
		cmocka_unit_test(rejects_bad_strings),
		cmocka_unit_test(message_fits_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
