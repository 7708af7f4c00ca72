// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of agent/template.c: shell-like word splitting of the --exec
 * template, placeholder checks and expansion.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "template.h"

#define PLACEHOLDER_HINT "(use {pid}, {tid}, {trigger}, {seq}, {time}, or {{ for a brace)"
#define BRACE_HINT                                                                 \
	"without a closing '}' in its word (a placeholder such as {pid} has no spaces; " \
	"write {{ for a literal brace)"

static const struct template_values sample_values = {
	.pid = "4242",
	.tid = "4243",
	.trigger = "first-listen",
	.seq = "17",
	.time = "2026-12-04T14:41:00.123456789Z",
};

/* Parses text and asserts that it splits into the count words of expected. */
static void assert_words(const char *text, const char *const *expected, size_t count)
{
	struct template t;
	char err[TEMPLATE_ERROR_LEN];
	size_t i;

	if (template_parse(text, &t, err, sizeof(err)) != 0)
		fail_msg("template [%s] rejected: %s", text, err);
	assert_string_equal(err, "");
	assert_int_equal(t.count, count);
	for (i = 0; i < count; i++)
		assert_string_equal(t.words[i], expected[i]);
	assert_null(t.words[count]);
	template_free(&t);
}

#define ASSERT_WORDS(text, ...)						\
	do {								\
		static const char *const words_[] = { __VA_ARGS__ };	\
		assert_words(text, words_, sizeof(words_) / sizeof(words_[0])); \
	} while (0)

/* Parses text and asserts the rejection with exactly the message expected. */
static void assert_rejected(const char *text, const char *expected)
{
	struct template t;
	char err[TEMPLATE_ERROR_LEN];

	memset(err, 'x', sizeof(err) - 1);
	err[sizeof(err) - 1] = '\0';
	assert_int_equal(template_parse(text, &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, expected);
	assert_null(t.words);
	assert_int_equal(t.count, 0);
	template_free(&t);
}

/* Parses and expands text with values; asserts the count words of expected. */
static void assert_expands(const char *text, const struct template_values *values,
			   const char *const *expected, size_t count)
{
	struct template t;
	char err[TEMPLATE_ERROR_LEN];
	char **argv = NULL;
	size_t i;

	if (template_parse(text, &t, err, sizeof(err)) != 0)
		fail_msg("template [%s] rejected: %s", text, err);
	assert_int_equal(template_expand(&t, values, &argv), 0);
	assert_non_null(argv);
	for (i = 0; i < count; i++) {
		assert_non_null(argv[i]);
		assert_string_equal(argv[i], expected[i]);
	}
	assert_null(argv[count]);
	template_argv_free(argv);
	template_free(&t);
}

#define ASSERT_EXPANDS(text, values, ...)				\
	do {								\
		static const char *const words_[] = { __VA_ARGS__ };	\
		assert_expands(text, values, words_,			\
			       sizeof(words_) / sizeof(words_[0]));	\
	} while (0)

static void split_blanks(void **state)
{
	(void)state;
	ASSERT_WORDS("gcore", "gcore");
	ASSERT_WORDS("gcore -o /tmp/core", "gcore", "-o", "/tmp/core");
	ASSERT_WORDS("  a   b  ", "a", "b");
	ASSERT_WORDS("a\tb\nc", "a", "b", "c");
	ASSERT_WORDS("\t\n a \t\n", "a");
}

static void split_single_quotes(void **state)
{
	(void)state;
	ASSERT_WORDS("'a b'", "a b");
	ASSERT_WORDS("'a  b' c", "a  b", "c");
	/* nothing is special inside single quotes */
	ASSERT_WORDS("'a\\b'", "a\\b");
	ASSERT_WORDS("'\\'", "\\");
	ASSERT_WORDS("'say \"hi\"'", "say \"hi\"");
	ASSERT_WORDS("'$x `y`'", "$x `y`");
	ASSERT_WORDS("'\t\n'", "\t\n");
}

static void split_double_quotes(void **state)
{
	(void)state;
	ASSERT_WORDS("\"a b\"", "a b");
	ASSERT_WORDS("\"it's\"", "it's");
	ASSERT_WORDS("\"a\\\"b\"", "a\"b");
	ASSERT_WORDS("\"a\\\\b\"", "a\\b");
	ASSERT_WORDS("\"\\$HOME\"", "$HOME");
	ASSERT_WORDS("\"\\`id\\`\"", "`id`");
	/* a backslash before any other character stays */
	ASSERT_WORDS("\"a\\nb\"", "a\\nb");
	ASSERT_WORDS("\"\\'\"", "\\'");
	ASSERT_WORDS("\"$HOME\"", "$HOME");
}

static void split_backslash_outside_quotes(void **state)
{
	(void)state;
	ASSERT_WORDS("a\\ b", "a b");
	ASSERT_WORDS("\\'", "'");
	ASSERT_WORDS("\\\"", "\"");
	ASSERT_WORDS("\\\\", "\\");
	ASSERT_WORDS("\\n", "n");
	ASSERT_WORDS("a\\\tb", "a\tb");
}

/* POSIX: a backslash before a newline, unquoted or in double quotes, joins the lines. */
static void split_backslash_newline(void **state)
{
	(void)state;
	ASSERT_WORDS("a\\\nb", "ab");
	ASSERT_WORDS("\"a\\\nb\"", "ab");
	ASSERT_WORDS("'a\\\nb'", "a\\\nb");
}

static void split_empty_quoted_words(void **state)
{
	(void)state;
	ASSERT_WORDS("''", "");
	ASSERT_WORDS("\"\"", "");
	ASSERT_WORDS("a '' b", "a", "", "b");
	ASSERT_WORDS("a \"\" b", "a", "", "b");
	ASSERT_WORDS("cmd ''", "cmd", "");
	ASSERT_WORDS("'' cmd", "", "cmd");
}

static void split_adjacent_parts_joined(void **state)
{
	(void)state;
	ASSERT_WORDS("a'b c'\"d e\"f", "ab cd ef");
	ASSERT_WORDS("''a", "a");
	ASSERT_WORDS("a\"\"", "a");
	ASSERT_WORDS("--name='x y'", "--name=x y");
	ASSERT_WORDS("'a'\\ 'b'", "a b");
	ASSERT_WORDS("'a'\"b\" c", "ab", "c");
}

static void placeholders_inside_words(void **state)
{
	(void)state;
	ASSERT_WORDS("gcore -o /tmp/core.{pid} {pid}", "gcore", "-o", "/tmp/core.{pid}", "{pid}");
	ASSERT_WORDS("x{pid}{tid}{trigger}{seq}{time}y", "x{pid}{tid}{trigger}{seq}{time}y");
	ASSERT_WORDS("'{pid} {tid}'", "{pid} {tid}");
	ASSERT_WORDS("{{ }} {{pid}}", "{{", "}}", "{{pid}}");
	ASSERT_WORDS("a}b", "a}b");
}

static void placeholder_unknown(void **state)
{
	(void)state;
	assert_rejected("gcore {host}", "unknown placeholder '{host}' " PLACEHOLDER_HINT);
	assert_rejected("x{PID}", "unknown placeholder '{PID}' " PLACEHOLDER_HINT);
	assert_rejected("{pidx}", "unknown placeholder '{pidx}' " PLACEHOLDER_HINT);
	assert_rejected("'{ pid}'", "unknown placeholder '{ pid}' " PLACEHOLDER_HINT);
	assert_rejected("{}", "unknown placeholder '{}' " PLACEHOLDER_HINT);
	assert_rejected("{pid}{x}", "unknown placeholder '{x}' " PLACEHOLDER_HINT);
	assert_rejected("{{{x}", "unknown placeholder '{x}' " PLACEHOLDER_HINT);
	assert_rejected("ok 'a {b}'", "unknown placeholder '{b}' " PLACEHOLDER_HINT);
}

/* A long word is cut to its first 40 characters, so the hint is never lost. */
static void rejected_word_is_cut(void **state)
{
	char text[512], first[41], expected[TEMPLATE_ERROR_LEN];

	(void)state;
	memset(text, 'a', sizeof(text) - 1);
	text[0] = '{';
	text[sizeof(text) - 2] = '}';
	text[sizeof(text) - 1] = '\0';
	memcpy(first, text, 40);
	first[40] = '\0';
	snprintf(expected, sizeof(expected), "unknown placeholder '%s...' " PLACEHOLDER_HINT, first);
	assert_rejected(text, expected);
	text[sizeof(text) - 2] = 'a';
	snprintf(expected, sizeof(expected), "unbalanced brace '%s...' " BRACE_HINT, first);
	assert_rejected(text, expected);
	/* exactly 40 characters are quoted whole */
	text[39] = '}';
	text[40] = '\0';
	assert_rejected(text, "unknown placeholder '{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}' "
		        PLACEHOLDER_HINT);
}

static void unbalanced_brace(void **state)
{
	(void)state;
	assert_rejected("{", "unbalanced brace '{' " BRACE_HINT);
	assert_rejected("sh -c 'echo {'", "unbalanced brace '{' " BRACE_HINT);
	assert_rejected("a {pid", "unbalanced brace '{pid' " BRACE_HINT);
	assert_rejected("{pid}{", "unbalanced brace '{' " BRACE_HINT);
	assert_rejected("x{{{", "unbalanced brace '{' " BRACE_HINT);
	/* a second '{' before any '}' leaves the first one open */
	assert_rejected("'{x {pid}'", "unbalanced brace '{x ' " BRACE_HINT);
}

static void unbalanced_quotes(void **state)
{
	(void)state;
	assert_rejected("'abc", "unbalanced single quote");
	assert_rejected("a 'b c", "unbalanced single quote");
	assert_rejected("\"abc", "unbalanced double quote");
	assert_rejected("a \"b\\\"", "unbalanced double quote");
	assert_rejected("\"it's", "unbalanced double quote");
	assert_rejected("'say \"hi'\"", "unbalanced double quote");
	/* in double quotes a backslash at the end is kept, the quote stays open */
	assert_rejected("\"abc\\", "unbalanced double quote");
}

static void trailing_backslash(void **state)
{
	(void)state;
	assert_rejected("abc\\", "trailing backslash");
	assert_rejected("\\", "trailing backslash");
	assert_rejected("a b \\", "trailing backslash");
}

static void empty_template(void **state)
{
	(void)state;
	assert_rejected("", "no command in the template");
	assert_rejected("   ", "no command in the template");
	assert_rejected("\t\n", "no command in the template");
}

static void error_message_truncated(void **state)
{
	struct template t;
	char err[8];

	(void)state;
	assert_int_equal(template_parse("'abc", &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unbalan");
	assert_int_equal(template_parse("{host}", &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown");
}

/* A template longer than TEMPLATE_QUOTE_MAX is quoted cut, with "..." at the end. */
static void quote_cuts_long_template(void **state)
{
	char text[TEMPLATE_QUOTE_MAX + 2], quoted[TEMPLATE_QUOTE_LEN], expected[TEMPLATE_QUOTE_LEN];

	(void)state;
	memset(text, 'a', TEMPLATE_QUOTE_MAX);
	text[TEMPLATE_QUOTE_MAX] = '\0';
	template_quote(text, quoted);
	assert_string_equal(quoted, text);
	text[TEMPLATE_QUOTE_MAX] = 'b';
	text[TEMPLATE_QUOTE_MAX + 1] = '\0';
	template_quote(text, quoted);
	memset(expected, 'a', TEMPLATE_QUOTE_MAX);
	strcpy(expected + TEMPLATE_QUOTE_MAX, "...");
	assert_string_equal(quoted, expected);
	template_quote("gcore {pid}", quoted);
	assert_string_equal(quoted, "gcore {pid}");
}

static void free_accepts_failed_parse(void **state)
{
	struct template t;
	char err[TEMPLATE_ERROR_LEN];

	(void)state;
	assert_int_equal(template_parse("a 'b", &t, err, sizeof(err)), -EINVAL);
	template_free(&t);
	template_free(&t);
	assert_null(t.words);
	assert_int_equal(t.count, 0);
}

static void expand_every_placeholder(void **state)
{
	(void)state;
	ASSERT_EXPANDS("{pid}", &sample_values, "4242");
	ASSERT_EXPANDS("{tid}", &sample_values, "4243");
	ASSERT_EXPANDS("{trigger}", &sample_values, "first-listen");
	ASSERT_EXPANDS("{seq}", &sample_values, "17");
	ASSERT_EXPANDS("{time}", &sample_values, "2026-12-04T14:41:00.123456789Z");
}

static void expand_inside_words(void **state)
{
	(void)state;
	ASSERT_EXPANDS("gcore -o /tmp/core-{seq} {pid}", &sample_values,
		       "gcore", "-o", "/tmp/core-17", "4242");
	ASSERT_EXPANDS("--what={trigger}@{time}", &sample_values,
		       "--what=first-listen@2026-12-04T14:41:00.123456789Z");
	ASSERT_EXPANDS("{pid}{tid}{pid}", &sample_values, "424242434242");
	ASSERT_EXPANDS("'p={pid} t={tid}'", &sample_values, "p=4242 t=4243");
	ASSERT_EXPANDS("\"{trigger}\"", &sample_values, "first-listen");
}

static void expand_doubled_braces(void **state)
{
	(void)state;
	ASSERT_EXPANDS("{{", &sample_values, "{");
	ASSERT_EXPANDS("}}", &sample_values, "}");
	ASSERT_EXPANDS("{{pid}}", &sample_values, "{pid}");
	ASSERT_EXPANDS("{{{pid}}}", &sample_values, "{4242}");
	ASSERT_EXPANDS("{{}}", &sample_values, "{}");
	ASSERT_EXPANDS("a}b {pid}}", &sample_values, "a}b", "4242}");
	ASSERT_EXPANDS("{{{{", &sample_values, "{{");
}

static void expand_plain_words_unchanged(void **state)
{
	(void)state;
	ASSERT_EXPANDS("/usr/bin/gcore -o '/tmp/a b' ''", &sample_values,
		       "/usr/bin/gcore", "-o", "/tmp/a b", "");
}

static void expand_missing_values_empty(void **state)
{
	static const struct template_values only_pid = { .pid = "7" };

	(void)state;
	ASSERT_EXPANDS("a{tid}b {pid} {trigger}{seq}{time}", &only_pid, "ab", "7", "");
}

static void expand_keeps_template(void **state)
{
	static const struct template_values other = {
		.pid = "1", .tid = "2", .trigger = "idle", .seq = "3", .time = "t",
	};
	struct template t;
	char err[TEMPLATE_ERROR_LEN];
	char **first = NULL, **second = NULL;

	(void)state;
	assert_int_equal(template_parse("x-{pid}-{trigger}", &t, err, sizeof(err)), 0);
	assert_int_equal(template_expand(&t, &sample_values, &first), 0);
	assert_int_equal(template_expand(&t, &other, &second), 0);
	assert_string_equal(first[0], "x-4242-first-listen");
	assert_string_equal(second[0], "x-1-idle");
	assert_string_equal(t.words[0], "x-{pid}-{trigger}");
	template_argv_free(first);
	template_argv_free(second);
	template_argv_free(NULL);
	template_free(&t);
}

static void expand_long_value(void **state)
{
	static char long_value[5000];
	struct template_values values = { .pid = long_value };
	struct template t;
	char err[TEMPLATE_ERROR_LEN];
	char **argv = NULL;

	(void)state;
	memset(long_value, 'p', sizeof(long_value) - 1);
	assert_int_equal(template_parse("<{pid}>", &t, err, sizeof(err)), 0);
	assert_int_equal(template_expand(&t, &values, &argv), 0);
	assert_int_equal(strlen(argv[0]), sizeof(long_value) + 1);
	assert_int_equal(argv[0][0], '<');
	assert_int_equal(argv[0][sizeof(long_value)], '>');
	assert_null(argv[1]);
	template_argv_free(argv);
	template_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_blanks),
		cmocka_unit_test(split_single_quotes),
		cmocka_unit_test(split_double_quotes),
		cmocka_unit_test(split_backslash_outside_quotes),
		cmocka_unit_test(split_backslash_newline),
		cmocka_unit_test(split_empty_quoted_words),
		cmocka_unit_test(split_adjacent_parts_joined),
		cmocka_unit_test(placeholders_inside_words),
		cmocka_unit_test(placeholder_unknown),
		cmocka_unit_test(rejected_word_is_cut),
		cmocka_unit_test(unbalanced_brace),
		cmocka_unit_test(unbalanced_quotes),
		cmocka_unit_test(trailing_backslash),
		cmocka_unit_test(empty_template),
		cmocka_unit_test(error_message_truncated),
		cmocka_unit_test(quote_cuts_long_template),
		cmocka_unit_test(free_accepts_failed_parse),
		cmocka_unit_test(expand_every_placeholder),
		cmocka_unit_test(expand_inside_words),
		cmocka_unit_test(expand_doubled_braces),
		cmocka_unit_test(expand_plain_words_unchanged),
		cmocka_unit_test(expand_missing_values_empty),
		cmocka_unit_test(expand_keeps_template),
		cmocka_unit_test(expand_long_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
