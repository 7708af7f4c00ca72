// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of the JSON reader in agent/jsonparse.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jsonparse.h"

#define ERR_LEN 160

static void init(struct json_parser *ps, const char *text, char *err)
{
	json_parser_init(ps, text, strlen(text), err, ERR_LEN);
}

/* Asserts that json_skip_value() rejects text with a message containing expected. */
static void assert_invalid(const char *text, const char *expected)
{
	struct json_parser ps;
	char err[ERR_LEN];

	init(&ps, text, err);
	if (json_skip_value(&ps) != -EINVAL)
		fail_msg("%s: accepted", text);
	if (!strstr(err, expected))
		fail_msg("%s: message '%s' lacks '%s'", text, err, expected);
}

/* Asserts that text is one valid value followed by nothing but whitespace. */
static void assert_valid(const char *text)
{
	struct json_parser ps;
	char err[ERR_LEN];

	init(&ps, text, err);
	if (json_skip_value(&ps))
		fail_msg("%s: rejected: %s", text, err);
	assert_true(json_at_end(&ps));
}

static void string_escapes_decoded(void **state)
{
	static const char expected[] = "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\x01";
	struct json_parser ps;
	char err[ERR_LEN], out[64];
	size_t len;

	init(&ps, "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0001\"", err);
	assert_int_equal(json_parse_string(&ps, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(expected) - 1);
	assert_memory_equal(out, expected, sizeof(expected) - 1);
	assert_int_equal(out[len], '\0');
}

static void string_nul_escape_kept(void **state)
{
	struct json_parser ps;
	char err[ERR_LEN], out[8];
	size_t len;

	init(&ps, "\"a\\u0000b\"", err);
	assert_int_equal(json_parse_string(&ps, out, sizeof(out), &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "a\0b", 3);
}

static void string_cut_whole_characters(void **state)
{
	struct json_parser ps;
	char err[ERR_LEN], out[5];
	size_t len;

	/* "ab" and then a 3-byte character that does not fit in 4 bytes */
	init(&ps, "\"ab\\u65e5cd\" ", err);
	assert_int_equal(json_parse_string(&ps, out, sizeof(out), &len), -ENOSPC);
	assert_int_equal(len, 2);
	assert_string_equal(out, "ab");
	assert_string_equal(err, "");
	/* the whole string was consumed */
	assert_true(json_at_end(&ps));

	init(&ps, "\"abcd\"", err);
	assert_int_equal(json_parse_string(&ps, out, sizeof(out), &len), 0);
	assert_string_equal(out, "abcd");
	init(&ps, "\"abcde\"", err);
	assert_int_equal(json_parse_string(&ps, out, sizeof(out), &len), -ENOSPC);
	assert_string_equal(out, "abcd");
}

static void string_errors(void **state)
{
	assert_invalid("\"a\tb\"", "control character");
	assert_invalid("\"\xff\"", "invalid UTF-8");
	assert_invalid("\"\xc0\xaf\"", "invalid UTF-8");
	assert_invalid("\"\xed\xa0\x80\"", "invalid UTF-8");
	assert_invalid("\"\xe6\x97\"", "invalid UTF-8");
	assert_invalid("\"\\ud83d\"", "unpaired surrogate");
	assert_invalid("\"\\ude00\"", "unpaired surrogate");
	assert_invalid("\"\\ud83d\\u0041\"", "unpaired surrogate");
	assert_invalid("\"\\u12\"", "invalid \\u escape");
	assert_invalid("\"\\u12g4\"", "invalid \\u escape");
	assert_invalid("\"\\x41\"", "invalid escape");
	assert_invalid("\"abc", "unterminated string");
	assert_invalid("\"abc\\", "unterminated string");
}

static void integer_limits(void **state)
{
	struct json_parser ps;
	char err[ERR_LEN];
	__s64 value;

	init(&ps, "9223372036854775807", err);
	assert_int_equal(json_parse_integer(&ps, &value), 0);
	assert_true(value == INT64_MAX);
	init(&ps, "-9223372036854775808", err);
	assert_int_equal(json_parse_integer(&ps, &value), 0);
	assert_true(value == INT64_MIN);
	init(&ps, "-0", err);
	assert_int_equal(json_parse_integer(&ps, &value), 0);
	assert_true(value == 0);
	init(&ps, "9223372036854775808", err);
	assert_int_equal(json_parse_integer(&ps, &value), -ERANGE);
	assert_true(json_at_end(&ps));
	init(&ps, "-9223372036854775809", err);
	assert_int_equal(json_parse_integer(&ps, &value), -ERANGE);
	init(&ps, "99999999999999999999999", err);
	assert_int_equal(json_parse_integer(&ps, &value), -ERANGE);
}

static void integer_fraction_exponent(void **state)
{
	struct json_parser ps;
	char err[ERR_LEN];
	__s64 value;

	init(&ps, "1.5", err);
	assert_int_equal(json_parse_integer(&ps, &value), -EDOM);
	assert_true(json_at_end(&ps));
	init(&ps, "1e3", err);
	assert_int_equal(json_parse_integer(&ps, &value), -EDOM);
	init(&ps, "12.0", err);
	assert_int_equal(json_parse_integer(&ps, &value), -EDOM);
	assert_string_equal(err, "");
}

static void number_grammar(void **state)
{
	assert_valid("0");
	assert_valid("-0.5");
	assert_valid("1E+2");
	assert_valid("1e-2");
	assert_valid("123.456e789");
	assert_invalid("012", "invalid number '012': leading zero");
	assert_invalid("-", "invalid number '-'");
	assert_invalid("1.", "invalid number '1.'");
	assert_invalid(".5", "expected a value");
	assert_invalid("1e", "invalid number '1e'");
	assert_invalid("1e+", "invalid number '1e+'");
	assert_invalid("+1", "expected a value");
}

static void literals(void **state)
{
	struct json_parser ps;
	char err[ERR_LEN];
	bool value = false;

	init(&ps, " true", err);
	assert_int_equal(json_parse_bool(&ps, &value), 0);
	assert_true(value);
	init(&ps, "false", err);
	assert_int_equal(json_parse_bool(&ps, &value), 0);
	assert_false(value);
	init(&ps, "tru", err);
	assert_int_equal(json_parse_bool(&ps, &value), -EINVAL);
	assert_non_null(strstr(err, "expected true or false"));
	init(&ps, "\"true\"", err);
	assert_int_equal(json_parse_bool(&ps, &value), -EINVAL);
	assert_valid("null");
	assert_invalid("nul", "expected null");
	assert_invalid("True", "expected a value");
	assert_invalid("", "missing value");
}

static void nested_values_skipped(void **state)
{
	assert_valid("{}");
	assert_valid("[]");
	assert_valid(" { \"a\" : [ 1 , -2.5e3 , \"x\" , true , false , null , { } , [ ] ] ,"
		     " \"b\" : { \"c\" : { \"d\" : \"}\" } } } ");
	assert_invalid("[1,]", "expected a value");
	assert_invalid("[1 2]", "expected ',' or ']'");
	assert_invalid("{\"a\":1,}", "expected a member name");
	assert_invalid("{\"a\" 1}", "expected ':' after member 'a'");
	assert_invalid("{\"a\":1 \"b\":2}", "expected ',' or '}' after member 'a'");
	assert_invalid("{\"a\":}", "expected a value");
	assert_invalid("{a:1}", "expected a member name in quotes");
	assert_invalid("[", "missing value");
}

static void depth_limited(void **state)
{
	char text[2 * JSON_PARSE_MAX_DEPTH + 3];
	int i;

	for (i = 0; i < JSON_PARSE_MAX_DEPTH; i++) {
		text[i] = '[';
		text[JSON_PARSE_MAX_DEPTH + i] = ']';
	}
	text[2 * JSON_PARSE_MAX_DEPTH] = '\0';
	assert_valid(text);

	memmove(text + 1, text, 2 * JSON_PARSE_MAX_DEPTH + 1);
	text[0] = '[';
	strcat(text, "]");
	assert_invalid(text, "nested deeper than 32 levels");
}

static void duplicate_names_rejected(void **state)
{
	assert_invalid("{\"a\":1,\"a\":2}", "duplicate member 'a'");
	/* compared after decoding */
	assert_invalid("{\"ok\":1,\"\\u006fk\":2}", "duplicate member 'ok'");
	assert_invalid("{\"\\u00e9\":1,\"\xc3\xa9\":2}", "duplicate member");
	/* names and values that contain ':', ',', '}' and quotes do not confuse the search */
	assert_invalid("{\"a:\\\"b\":\"x,\\\"}y\",\"c\":{\"d\":[1,{\"e\":2}]},\"a:\\\"b\":3}",
		       "duplicate member 'a:\"b'");
	assert_invalid("{\"x\":{\"y\":1,\"y\":2}}", "duplicate member 'y'");
	/* the same name in different objects is no duplicate */
	assert_valid("{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}");
	assert_valid("{\"a\":1,\"ab\":2,\"b\":3,\"a\\u0000\":4}");
	/* different names with the same FNV-1a hash */
	assert_valid("{\"glbvs\":1,\"yacxa\":2}");
	assert_invalid("{\"glbvs\":1,\"yacxa\":2,\"yacxa\":3}", "duplicate member 'yacxa'");
}

static void member_names_limited(void **state)
{
	char text[JSON_PARSE_MAX_NAMES * 12 + 16];
	size_t len = 0;
	int i;

	/* JSON_PARSE_MAX_NAMES names fit, across nested objects too */
	len += sprintf(text + len, "{\"n\":{");
	for (i = 1; i < JSON_PARSE_MAX_NAMES; i++)
		len += sprintf(text + len, "%s\"%x\":0", i > 1 ? "," : "", i);
	strcpy(text + len, "}}");
	assert_valid(text);

	strcpy(text + len, ",\"x\":0}}");
	assert_invalid(text, "more than 1024 member names in the open objects");
}

struct seen_members {
	char names[4][JSON_NAME_MAX];
	size_t lengths[4];
	int count;
};

static int record_member(struct json_parser *ps, const char *name, size_t len, void *ctx)
{
	struct seen_members *seen = ctx;

	if (seen->count < 4) {
		memcpy(seen->names[seen->count], name, len + 1);
		seen->lengths[seen->count] = len;
	}
	seen->count++;
	return json_skip_value(ps);
}

static int stop_member(struct json_parser *ps, const char *name, size_t len, void *ctx)
{
	return -ECANCELED;
}

static void member_names_in_order(void **state)
{
	char long_name[JSON_NAME_MAX + 20], text[JSON_NAME_MAX + 64];
	struct seen_members seen = { 0 };
	struct json_parser ps;
	char err[ERR_LEN];

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	snprintf(text, sizeof(text), "{\"b\":1, \"a\\u0000\":[2], \"%s\":{}}", long_name);
	init(&ps, text, err);
	assert_int_equal(json_parse_object(&ps, record_member, &seen), 0);
	assert_int_equal(seen.count, 3);
	assert_true(json_name_is(seen.names[0], seen.lengths[0], "b"));
	assert_int_equal(seen.lengths[1], 2);
	assert_memory_equal(seen.names[1], "a\0", 2);
	assert_false(json_name_is(seen.names[1], seen.lengths[1], "a"));
	/* a long name arrives cut, and so equals no name that is shorter */
	assert_int_equal(seen.lengths[2], JSON_NAME_MAX - 1);
	assert_true(json_at_end(&ps));

	init(&ps, "{\"a\":1}", err);
	assert_int_equal(json_parse_object(&ps, stop_member, NULL), -ECANCELED);
	init(&ps, "[]", err);
	assert_int_equal(json_parse_object(&ps, stop_member, NULL), -EINVAL);
	assert_string_equal(err, "expected an object");
}

static void text_not_nul_terminated(void **state)
{
	static const char buf[] = "\"abc\"\"def";
	struct json_parser ps;
	char err[ERR_LEN], out[8];
	size_t len;

	json_parser_init(&ps, buf, 5, err, sizeof(err));
	assert_int_equal(json_parse_string(&ps, out, sizeof(out), &len), 0);
	assert_true(json_at_end(&ps));
	/* the byte count ends the text even inside a token */
	json_parser_init(&ps, buf, 3, err, sizeof(err));
	assert_int_equal(json_parse_string(&ps, out, sizeof(out), &len), -EINVAL);
	assert_string_equal(err, "unterminated string");
}

static void message_fits_buffer(void **state)
{
	struct json_parser ps;
	char err[8];

	memset(err, 'x', sizeof(err));
	json_parser_init(&ps, "[1 2]", 5, err, sizeof(err));
	assert_int_equal(json_skip_value(&ps), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	json_parser_init(&ps, "[1 2]", 5, NULL, 0);
	assert_int_equal(json_skip_value(&ps), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(string_escapes_decoded),
		cmocka_unit_test(string_nul_escape_kept),
		cmocka_unit_test(string_cut_whole_characters),
		cmocka_unit_test(string_errors),
		cmocka_unit_test(integer_limits),
		cmocka_unit_test(integer_fraction_exponent),
		cmocka_unit_test(number_grammar),
		cmocka_unit_test(literals),
		cmocka_unit_test(nested_values_skipped),
		cmocka_unit_test(depth_limited),
		cmocka_unit_test(duplicate_names_rejected),
		cmocka_unit_test(member_names_limited),
		cmocka_unit_test(member_names_in_order),
		cmocka_unit_test(text_not_nul_terminated),
		cmocka_unit_test(message_fits_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
