// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of agent/json.c. Each test compares the exact bytes written and
 * also runs every document through the strict RFC 8259 checker below, which
 * rejects invalid UTF-8, raw control characters and lone surrogate escapes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "names.h"
#include "triggers.h"

#define U_FFFD "\xef\xbf\xbd"
#define CHECKER_MAX_DEPTH 64

/* A strict JSON checker, independent of the writer under test. */
struct checker {
	const unsigned char *p;
	const unsigned char *end;
	unsigned int depth;
};

static bool check_value(struct checker *c);

static void skip_whitespace(struct checker *c)
{
	while (c->p < c->end &&
	       (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool consume(struct checker *c, char ch)
{
	if (c->p < c->end && *c->p == (unsigned char)ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool consume_word(struct checker *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return false;
	c->p += n;
	return true;
}

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Reads the 4 hex digits after "\u" into *unit. */
static bool read_hex4(struct checker *c, unsigned int *unit)
{
	int i;

	if (c->end - c->p < 4)
		return false;
	*unit = 0;
	for (i = 0; i < 4; i++) {
		int v = hex_value(c->p[i]);

		if (v < 0)
			return false;
		*unit = *unit * 16 + (unsigned int)v;
	}
	c->p += 4;
	return true;
}

/* Checks the escape after a backslash. Surrogate escapes must pair up. */
static bool check_escape(struct checker *c)
{
	unsigned int unit, low;

	if (c->p == c->end)
		return false;
	if (*c->p != '\0' && strchr("\"\\/bfnrt", *c->p)) {
		c->p++;
		return true;
	}
	if (!consume(c, 'u') || !read_hex4(c, &unit))
		return false;
	if (unit >= 0xdc00 && unit <= 0xdfff)
		return false;
	if (unit < 0xd800 || unit > 0xdbff)
		return true;
	if (!consume(c, '\\') || !consume(c, 'u') || !read_hex4(c, &low))
		return false;
	return low >= 0xdc00 && low <= 0xdfff;
}

/* Decodes one UTF-8 character by its bit pattern and checks its code point. */
static bool check_utf8(struct checker *c)
{
	unsigned char lead = *c->p;
	unsigned int cp, min;
	int extra, i;

	if ((lead & 0xe0) == 0xc0) {
		extra = 1;
		cp = lead & 0x1f;
		min = 0x80;
	} else if ((lead & 0xf0) == 0xe0) {
		extra = 2;
		cp = lead & 0x0f;
		min = 0x800;
	} else if ((lead & 0xf8) == 0xf0) {
		extra = 3;
		cp = lead & 0x07;
		min = 0x10000;
	} else {
		return false;
	}

	if (c->end - c->p <= extra)
		return false;
	for (i = 1; i <= extra; i++) {
		if ((c->p[i] & 0xc0) != 0x80)
			return false;
		cp = (cp << 6) | (c->p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	c->p += extra + 1;
	return true;
}

static bool check_string(struct checker *c)
{
	if (!consume(c, '"'))
		return false;
	while (c->p < c->end) {
		unsigned char ch = *c->p;

		if (ch == '"') {
			c->p++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch == '\\') {
			c->p++;
			if (!check_escape(c))
				return false;
		} else if (ch >= 0x80) {
			if (!check_utf8(c))
				return false;
		} else {
			c->p++;
		}
	}
	return false;
}

static bool consume_digits(struct checker *c)
{
	const unsigned char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > start;
}

static bool check_number(struct checker *c)
{
	consume(c, '-');
	if (consume(c, '0')) {
		if (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			return false;
	} else if (!consume_digits(c)) {
		return false;
	}
	if (consume(c, '.') && !consume_digits(c))
		return false;
	if (consume(c, 'e') || consume(c, 'E')) {
		if (!consume(c, '+'))
			consume(c, '-');
		if (!consume_digits(c))
			return false;
	}
	return true;
}

static bool check_members(struct checker *c, bool object)
{
	char close = object ? '}' : ']';

	if (++c->depth > CHECKER_MAX_DEPTH)
		return false;
	skip_whitespace(c);
	if (consume(c, close)) {
		c->depth--;
		return true;
	}
	for (;;) {
		skip_whitespace(c);
		if (object) {
			if (!check_string(c))
				return false;
			skip_whitespace(c);
			if (!consume(c, ':'))
				return false;
		}
		if (!check_value(c))
			return false;
		skip_whitespace(c);
		if (consume(c, close))
			break;
		if (!consume(c, ','))
			return false;
	}
	c->depth--;
	return true;
}

static bool check_value(struct checker *c)
{
	skip_whitespace(c);
	if (c->p == c->end)
		return false;

	switch (*c->p) {
	case '{':
		c->p++;
		return check_members(c, true);
	case '[':
		c->p++;
		return check_members(c, false);
	case '"':
		return check_string(c);
	case 't':
		return consume_word(c, "true");
	case 'f':
		return consume_word(c, "false");
	case 'n':
		return consume_word(c, "null");
	default:
		return check_number(c);
	}
}

/* Returns whether doc[0..len) is exactly one JSON value. */
static bool json_valid(const char *doc, size_t len)
{
	struct checker c = {
		.p = (const unsigned char *)doc,
		.end = (const unsigned char *)doc + len,
	};

	if (!check_value(&c))
		return false;
	skip_whitespace(&c);
	return c.p == c.end;
}

static bool json_valid_str(const char *doc)
{
	return json_valid(doc, strlen(doc));
}

/* Checks the writer's output: no error, exact bytes, valid JSON. */
static void assert_output(struct json_writer *w, const char *expected, size_t expected_len)
{
	assert_int_equal(w->error, 0);
	assert_non_null(w->buf);
	assert_int_equal(w->len, expected_len);
	assert_memory_equal(w->buf, expected, expected_len);
	assert_int_equal(w->buf[w->len], '\0');
	assert_true(json_valid(w->buf, w->len));
}

/* Writes s[0..len) as one top-level string and compares the result. */
static void assert_string_output(const char *s, size_t len, const char *expected)
{
	struct json_writer w;

	json_writer_init(&w);
	json_string_len(&w, s, len);
	assert_output(&w, expected, strlen(expected));
	json_writer_free(&w);
}

#define ASSERT_OUTPUT(w, expected) assert_output(w, expected, sizeof(expected) - 1)
#define ASSERT_STRING(in, expected) assert_string_output(in, sizeof(in) - 1, expected)

static void checker_accepts_valid(void **state)
{
	static const char *const docs[] = {
		"{}", "[]", "0", "-0", "1.5e+3", "-12.25E-2", "true", "false", "null",
		"\"\"", " { \"a\" : [ 1 , 2 ] , \"b\" : { } }\n", "\"\\ud83d\\ude00\"",
		"\"\\u0000\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
	};
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (!json_valid_str(docs[i]))
			fail_msg("checker rejects valid JSON: %s", docs[i]);
	}
}

static void checker_rejects_invalid(void **state)
{
	static const char *const docs[] = {
		"", "{", "[1,]", "{\"a\":1,}", "{\"a\"}", "{1:2}", "01", "1.", ".5", "-",
		"1e", "+1", "tru", "nul", "\"abc", "\"a\nb\"", "\"\\x\"", "\"\\u12\"",
		"\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\xff\"", "\"\xc0\x80\"",
		"\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "\"\x80\"",
		"{} {}", "[1 2]", "'a'", "\"\x7f\x01\"",
	};
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (json_valid_str(docs[i]))
			fail_msg("checker accepts invalid JSON: %s", docs[i]);
	}
}

static void string_plain_ascii(void **state)
{
	ASSERT_STRING("", "\"\"");
	ASSERT_STRING("hello, world", "\"hello, world\"");
	ASSERT_STRING("/usr/bin/env ~!@#$%^&*()_+{}|:<>?[];',./`",
		      "\"/usr/bin/env ~!@#$%^&*()_+{}|:<>?[];',./`\"");
}

static void string_quotes_backslashes(void **state)
{
	ASSERT_STRING("\"", "\"\\\"\"");
	ASSERT_STRING("\\", "\"\\\\\"");
	ASSERT_STRING("a\"b\\c\"\"\\\\", "\"a\\\"b\\\\c\\\"\\\"\\\\\\\\\"");
}

static void string_every_control_byte(void **state)
{
	size_t c;

	for (c = 0; c < 0x20; c++) {
		char in[3] = { 'x', (char)c, 'y' };
		char expected[16];

		switch (c) {
		case '\b':
			strcpy(expected, "\"x\\by\"");
			break;
		case '\t':
			strcpy(expected, "\"x\\ty\"");
			break;
		case '\n':
			strcpy(expected, "\"x\\ny\"");
			break;
		case '\f':
			strcpy(expected, "\"x\\fy\"");
			break;
		case '\r':
			strcpy(expected, "\"x\\ry\"");
			break;
		default:
			snprintf(expected, sizeof(expected), "\"x\\u%04zxy\"", c);
			break;
		}
		assert_string_output(in, sizeof(in), expected);
	}
	ASSERT_STRING("\x7f", "\"\\u007f\"");
	ASSERT_STRING("\x1b[31m", "\"\\u001b[31m\"");
}

static void string_embedded_nul(void **state)
{
	ASSERT_STRING("a\0b", "\"a\\u0000b\"");
	ASSERT_STRING("\0\0", "\"\\u0000\\u0000\"");
}

static void string_nul_terminated(void **state)
{
	struct json_writer w;

	json_writer_init(&w);
	json_array_begin(&w);
	json_string(&w, "a\tb");
	json_string(&w, NULL);
	json_string(&w, "");
	json_array_end(&w);
	ASSERT_OUTPUT(&w, "[\"a\\tb\",null,\"\"]");
	json_writer_free(&w);
}

static void string_valid_utf8(void **state)
{
	ASSERT_STRING("\xc3\xa9", "\"\xc3\xa9\"");			/* U+00E9 */
	ASSERT_STRING("\xe2\x82\xac", "\"\xe2\x82\xac\"");		/* U+20AC */
	ASSERT_STRING("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");	/* U+1F600 */
	ASSERT_STRING("\xc2\x80", "\"\xc2\x80\"");			/* U+0080 */
	ASSERT_STRING("\xc2\x9f", "\"\xc2\x9f\"");			/* U+009F */
	ASSERT_STRING("\xdf\xbf", "\"\xdf\xbf\"");			/* U+07FF */
	ASSERT_STRING("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");		/* U+0800 */
	ASSERT_STRING("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");		/* U+D7FF */
	ASSERT_STRING("\xee\x80\x80", "\"\xee\x80\x80\"");		/* U+E000 */
	ASSERT_STRING("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");		/* U+FFFF */
	ASSERT_STRING("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\"");	/* U+10000 */
	ASSERT_STRING("\xf3\xbf\xbf\xbf", "\"\xf3\xbf\xbf\xbf\"");	/* U+FFFFF */
	ASSERT_STRING("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");	/* U+10FFFF */
	ASSERT_STRING("\xe2\x80\xa8", "\"\xe2\x80\xa8\"");		/* U+2028 */
	ASSERT_STRING(U_FFFD, "\"" U_FFFD "\"");
	ASSERT_STRING("na\xc3\xafve caf\xc3\xa9", "\"na\xc3\xafve caf\xc3\xa9\"");
}

static void string_overlong_forms(void **state)
{
	ASSERT_STRING("\xc0\x80", "\"" U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xc0\xaf", "\"" U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xc1\xbf", "\"" U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xe0\x80\x80", "\"" U_FFFD U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xe0\x9f\xbf", "\"" U_FFFD U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xf0\x80\x80\x80", "\"" U_FFFD U_FFFD U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xf0\x8f\xbf\xbf", "\"" U_FFFD U_FFFD U_FFFD U_FFFD "\"");
}

static void string_surrogates(void **state)
{
	ASSERT_STRING("\xed\xa0\x80", "\"" U_FFFD U_FFFD U_FFFD "\"");	/* U+D800 */
	ASSERT_STRING("\xed\xbf\xbf", "\"" U_FFFD U_FFFD U_FFFD "\"");	/* U+DFFF */
	/* CESU-8 form of U+1F600: a high and a low surrogate */
	ASSERT_STRING("\xed\xa0\xbd\xed\xb8\x80",
		      "\"" U_FFFD U_FFFD U_FFFD U_FFFD U_FFFD U_FFFD "\"");
}

static void string_above_max_code_point(void **state)
{
	ASSERT_STRING("\xf4\x90\x80\x80", "\"" U_FFFD U_FFFD U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xf5\x80\x80\x80", "\"" U_FFFD U_FFFD U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xf7\xbf\xbf\xbf", "\"" U_FFFD U_FFFD U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xf8\x88\x80\x80\x80", "\"" U_FFFD U_FFFD U_FFFD U_FFFD U_FFFD "\"");
}

static void string_truncated_sequences(void **state)
{
	ASSERT_STRING("\xc3", "\"" U_FFFD "\"");
	ASSERT_STRING("\xe2\x82", "\"" U_FFFD U_FFFD "\"");
	ASSERT_STRING("\xf0\x9f\x98", "\"" U_FFFD U_FFFD U_FFFD "\"");
	ASSERT_STRING("a\xe2\x82" "b", "\"a" U_FFFD U_FFFD "b\"");
	ASSERT_STRING("\xf0\x9f\x98\"", "\"" U_FFFD U_FFFD U_FFFD "\\\"\"");
	/* a lead byte cut short, followed by a complete sequence */
	ASSERT_STRING("\xe2\xe2\x82\xac", "\"" U_FFFD "\xe2\x82\xac\"");
	ASSERT_STRING("\xc3\xc3\xa9", "\"" U_FFFD "\xc3\xa9\"");
}

static void string_truncated_by_length(void **state)
{
	/* the length, not the NUL, ends the input: a cut U+20AC */
	assert_string_output("\xe2\x82\xac", 2, "\"" U_FFFD U_FFFD "\"");
	assert_string_output("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");
}

static void string_lone_continuations(void **state)
{
	ASSERT_STRING("\x80", "\"" U_FFFD "\"");
	ASSERT_STRING("\xbf", "\"" U_FFFD "\"");
	ASSERT_STRING("a\x80\x80" "b", "\"a" U_FFFD U_FFFD "b\"");
	ASSERT_STRING("\xc3\xa9\xa9", "\"\xc3\xa9" U_FFFD "\"");
}

static void string_invalid_lead_bytes(void **state)
{
	ASSERT_STRING("\xff", "\"" U_FFFD "\"");
	ASSERT_STRING("\xfe\xff", "\"" U_FFFD U_FFFD "\"");
	ASSERT_STRING("x\xffy", "\"x" U_FFFD "y\"");
}

static void string_every_byte_value(void **state)
{
	struct json_writer w;
	char in[256 * 4];
	size_t i;

	/* every byte, alone and after every lead byte */
	for (i = 0; i < 256; i++) {
		in[4 * i] = (char)i;
		in[4 * i + 1] = (char)(255 - i);
		in[4 * i + 2] = (char)(i ^ 0x80);
		in[4 * i + 3] = (char)0x80;
	}
	json_writer_init(&w);
	json_string_len(&w, in, sizeof(in));
	assert_int_equal(w.error, 0);
	assert_true(json_valid(w.buf, w.len));
	json_writer_free(&w);
}

static void string_key_escaped(void **state)
{
	struct json_writer w;

	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "a\"b\n");
	json_u64(&w, 1);
	json_object_end(&w);
	ASSERT_OUTPUT(&w, "{\"a\\\"b\\n\":1}");
	json_writer_free(&w);
}

/* Keys of 31 to 34 bytes, around the length that the writer copies while it scans. */
static void key_lengths_around_copy_limit(void **state)
{
	static const char *const tails[] = { "", "\"" };
	char key[40], expected[128];
	size_t len, t;

	(void)state;
	for (len = 31; len <= 34; len++) {
		for (t = 0; t < 2; t++) {
			struct json_writer w;
			int n;

			memset(key, 'k', len);
			strcpy(key + len, tails[t]);
			n = snprintf(expected, sizeof(expected), "{\"%.*s%s\":7}", (int)len, key,
				     t ? "\\\"" : "");
			assert_true(n > 0 && (size_t)n < sizeof(expected));

			json_writer_init(&w);
			json_object_begin(&w);
			json_key(&w, key);
			json_u64(&w, 7);
			json_object_end(&w);
			assert_output(&w, expected, (size_t)n);
			json_writer_free(&w);
		}
	}
}

static void numbers_and_literals(void **state)
{
	static const char expected[] =
		"[0,18446744073709551615,0,-1,1,-9223372036854775808,"
		"9223372036854775807,true,false,null]";
	struct json_writer w;

	json_writer_init(&w);
	json_array_begin(&w);
	json_u64(&w, 0);
	json_u64(&w, UINT64_MAX);
	json_i64(&w, 0);
	json_i64(&w, -1);
	json_i64(&w, 1);
	json_i64(&w, INT64_MIN);
	json_i64(&w, INT64_MAX);
	json_bool(&w, true);
	json_bool(&w, false);
	json_null(&w);
	json_array_end(&w);
	ASSERT_OUTPUT(&w, expected);
	json_writer_free(&w);
}

/* Checks that json_u64() writes value as printf() does. */
static void assert_u64_as_printf(__u64 value)
{
	struct json_writer w;
	char expected[32];
	int n = snprintf(expected, sizeof(expected), "%llu", (unsigned long long)value);

	json_writer_init(&w);
	json_u64(&w, value);
	assert_output(&w, expected, (size_t)n);
	json_writer_free(&w);
}

/* Every digit count, at each power of ten and next to it, against printf. */
static void numbers_every_length(void **state)
{
	__u64 p = 1;
	int i;

	(void)state;
	for (i = 0; i < 20; i++, p *= 10) {
		assert_u64_as_printf(p - 1);
		assert_u64_as_printf(p);
		assert_u64_as_printf(p + 1);
	}
}

/* Each bit length, where the digit count estimate changes, against printf. */
static void numbers_every_bit_length(void **state)
{
	int bit;

	(void)state;
	for (bit = 0; bit < 64; bit++) {
		assert_u64_as_printf((1ULL << bit) - 1);
		assert_u64_as_printf(1ULL << bit);
		assert_u64_as_printf((1ULL << bit) | ((1ULL << bit) - 1));
	}
}

static void literal_keys_and_plain_strings(void **state)
{
	static const char expected[] =
		"{\"type\":\"trigger\",\"seq\":12,\"made\":\"a-b_c:d\",\"detail\":"
		"{\"empty\":\"\",\"n\":[\"x\",1]}}";
	struct json_writer w;

	(void)state;
	json_writer_init(&w);
	json_object_begin(&w);
	json_key_lit(&w, "type");
	json_string_plain(&w, "trigger", 7);
	json_key_lit(&w, "seq");
	json_u64(&w, 12);
	json_key(&w, "made");
	json_string_plain(&w, "a-b_c:d", 7);
	json_key_lit(&w, "detail");
	json_object_begin(&w);
	json_key_lit(&w, "empty");
	json_string_plain(&w, "", 0);
	json_key_lit(&w, "n");
	json_array_begin(&w);
	json_string_plain(&w, "x", 1);
	json_u64(&w, 1);
	json_array_end(&w);
	json_object_end(&w);
	json_object_end(&w);
	ASSERT_OUTPUT(&w, expected);
	json_writer_free(&w);
}

static void literal_key_misuse(void **state)
{
	struct json_writer w;

	(void)state;
	/* a key at the top level */
	json_writer_init(&w);
	json_key_lit(&w, "a");
	assert_int_equal(w.error, -EINVAL);
	json_writer_free(&w);

	/* a key in an array */
	json_writer_init(&w);
	json_array_begin(&w);
	json_key_lit(&w, "a");
	assert_int_equal(w.error, -EINVAL);
	json_writer_free(&w);

	/* two keys in a row */
	json_writer_init(&w);
	json_object_begin(&w);
	json_key_lit(&w, "a");
	json_key_lit(&w, "b");
	assert_int_equal(w.error, -EINVAL);
	json_writer_free(&w);

	/* a plain string in an object without a key */
	json_writer_init(&w);
	json_object_begin(&w);
	json_string_plain(&w, "a", 1);
	assert_int_equal(w.error, -EINVAL);
	json_writer_free(&w);
}

/* Checks that a name, which json_string_plain() copies as it is, needs no escaping. */
static void assert_plain_name(const char *name)
{
	const char *p;

	if (!name)
		return;
	for (p = name; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			fail_msg("name '%s' needs escaping", name);
}

static void agent_names_are_plain(void **state)
{
	char when[JSON_TIME_LEN];
	__u32 i;
	int sig;

	(void)state;
	for (i = 0; i < ST_TRIG_COUNT; i++)
		assert_plain_name(trigger_name((enum st_trigger)i));
	for (i = 0; i < ST_CALL_COUNT; i++)
		assert_plain_name(call_name(i));
	for (i = 0; i < ST_VIA_COUNT + 1; i++)
		assert_plain_name(via_name(i));
	for (i = 0; i < ST_REC_KIND_COUNT; i++)
		assert_plain_name(record_kind_name(i));
	for (i = 0; i < 8; i++)
		assert_plain_name(signal_result_name(i));
	for (sig = 0; sig <= 65; sig++)
		assert_plain_name(signal_name(sig));
	assert_int_equal(json_time_rfc3339(UINT64_C(1733390000123456789), when, sizeof(when)), 0);
	assert_plain_name(when);
}

static void nested_commas(void **state)
{
	static const char expected[] =
		"{\"a\":1,\"b\":[1,[],{},[2,3],{\"c\":null,\"d\":[{\"e\":\"f\"}]}],"
		"\"g\":{},\"h\":[],\"i\":{\"j\":{\"k\":true}}}";
	struct json_writer w;

	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "a");
	json_u64(&w, 1);
	json_key(&w, "b");
	json_array_begin(&w);
	json_u64(&w, 1);
	json_array_begin(&w);
	json_array_end(&w);
	json_object_begin(&w);
	json_object_end(&w);
	json_array_begin(&w);
	json_u64(&w, 2);
	json_u64(&w, 3);
	json_array_end(&w);
	json_object_begin(&w);
	json_key(&w, "c");
	json_null(&w);
	json_key(&w, "d");
	json_array_begin(&w);
	json_object_begin(&w);
	json_key(&w, "e");
	json_string(&w, "f");
	json_object_end(&w);
	json_array_end(&w);
	json_object_end(&w);
	json_array_end(&w);
	json_key(&w, "g");
	json_object_begin(&w);
	json_object_end(&w);
	json_key(&w, "h");
	json_array_begin(&w);
	json_array_end(&w);
	json_key(&w, "i");
	json_object_begin(&w);
	json_key(&w, "j");
	json_object_begin(&w);
	json_key(&w, "k");
	json_bool(&w, true);
	json_object_end(&w);
	json_object_end(&w);
	json_object_end(&w);
	ASSERT_OUTPUT(&w, expected);
	json_writer_free(&w);
}

static void max_depth(void **state)
{
	struct json_writer w;
	int i;

	json_writer_init(&w);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		json_array_begin(&w);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		json_array_end(&w);
	assert_int_equal(w.error, 0);
	assert_int_equal(w.len, 2 * JSON_MAX_DEPTH);
	assert_true(json_valid(w.buf, w.len));

	json_writer_reset(&w);
	for (i = 0; i <= JSON_MAX_DEPTH; i++)
		json_array_begin(&w);
	assert_int_equal(w.error, -EINVAL);
	assert_int_equal(w.len, JSON_MAX_DEPTH);
	json_writer_free(&w);
}

static void finish_line_newline(void **state)
{
	struct json_writer w;

	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "type");
	json_string(&w, "stats");
	json_object_end(&w);
	assert_int_equal(json_finish_line(&w), 0);
	ASSERT_OUTPUT(&w, "{\"type\":\"stats\"}\n");

	/* a finished line takes no more values and no second newline */
	assert_int_equal(json_finish_line(&w), -EINVAL);
	json_writer_reset(&w);
	json_object_begin(&w);
	json_object_end(&w);
	assert_int_equal(json_finish_line(&w), 0);
	json_null(&w);
	assert_int_equal(w.error, -EINVAL);
	assert_memory_equal(w.buf, "{}\n", 4);
	json_writer_free(&w);
}

/* Runs one misuse sequence and checks -EINVAL and that nothing more was written. */
static void assert_misuse(void (*steps)(struct json_writer *), const char *written)
{
	struct json_writer w;

	json_writer_init(&w);
	steps(&w);
	assert_int_equal(w.error, -EINVAL);
	assert_int_equal(w.len, strlen(written));
	if (w.len)
		assert_memory_equal(w.buf, written, w.len);
	json_writer_free(&w);
}

static void value_without_key(struct json_writer *w)
{
	json_object_begin(w);
	json_u64(w, 1);
	json_string(w, "later calls write nothing");
}

static void key_in_array(struct json_writer *w)
{
	json_array_begin(w);
	json_key(w, "a");
}

static void key_at_top(struct json_writer *w)
{
	json_key(w, "a");
}

static void key_after_key(struct json_writer *w)
{
	json_object_begin(w);
	json_key(w, "a");
	json_key(w, "b");
}

static void end_after_key(struct json_writer *w)
{
	json_object_begin(w);
	json_key(w, "a");
	json_object_end(w);
}

static void mismatched_end(struct json_writer *w)
{
	json_object_begin(w);
	json_array_end(w);
}

static void end_at_top(struct json_writer *w)
{
	json_array_end(w);
}

static void second_top_value(struct json_writer *w)
{
	json_u64(w, 1);
	json_u64(w, 2);
}

static void finish_unclosed(struct json_writer *w)
{
	json_array_begin(w);
	json_finish_line(w);
}

static void finish_empty(struct json_writer *w)
{
	json_finish_line(w);
}

static void misuse_sets_einval(void **state)
{
	assert_misuse(value_without_key, "{");
	assert_misuse(key_in_array, "[");
	assert_misuse(key_at_top, "");
	assert_misuse(key_after_key, "{\"a\":");
	assert_misuse(end_after_key, "{\"a\":");
	assert_misuse(mismatched_end, "{");
	assert_misuse(end_at_top, "");
	assert_misuse(second_top_value, "1");
	assert_misuse(finish_unclosed, "[");
	assert_misuse(finish_empty, "");
}

static void error_is_sticky(void **state)
{
	struct json_writer w;
	size_t len;

	json_writer_init(&w);
	json_array_begin(&w);
	json_u64(&w, 1);
	/* a length whose escaped size cannot be computed fails before any read */
	json_string_len(&w, "unused", SIZE_MAX / 4);
	assert_int_equal(w.error, -ENOMEM);
	len = w.len;
	json_u64(&w, 2);
	json_array_end(&w);
	assert_int_equal(w.error, -ENOMEM);
	assert_int_equal(json_finish_line(&w), -ENOMEM);
	assert_int_equal(w.len, len);
	assert_int_equal(w.buf[len], '\0');
	assert_memory_equal(w.buf, "[1", 2);

	json_writer_reset(&w);
	assert_int_equal(w.error, 0);
	json_u64(&w, 3);
	ASSERT_OUTPUT(&w, "3");
	json_writer_free(&w);
}

static void reset_reuses_buffer(void **state)
{
	struct json_writer w;
	char *buf;
	size_t cap;
	int i;

	json_writer_init(&w);
	assert_null(w.buf);
	json_string(&w, "first line, long enough to allocate the buffer once");
	buf = w.buf;
	cap = w.cap;
	assert_non_null(buf);

	for (i = 0; i < 100; i++) {
		json_writer_reset(&w);
		assert_int_equal(w.len, 0);
		assert_string_equal(w.buf, "");
		json_array_begin(&w);
		json_u64(&w, (__u64)i);
		json_array_end(&w);
		assert_int_equal(json_finish_line(&w), 0);
	}
	assert_ptr_equal(w.buf, buf);
	assert_int_equal(w.cap, cap);
	assert_string_equal(w.buf, "[99]\n");
	json_writer_free(&w);
	assert_null(w.buf);
	json_writer_free(NULL);
}

static void buffer_grows(void **state)
{
	static char in[100000];
	struct json_writer w;
	size_t i, expected_len = 2;

	for (i = 0; i < sizeof(in); i++) {
		if (i % 7 == 0) {
			in[i] = '\n';
			expected_len += 2;
		} else if (i % 5 == 0) {
			in[i] = '\xff';
			expected_len += 3;
		} else {
			in[i] = (char)('a' + i % 26);
			expected_len += 1;
		}
	}

	json_writer_init(&w);
	json_string_len(&w, in, sizeof(in));
	assert_int_equal(w.error, 0);
	assert_int_equal(w.len, expected_len);
	assert_true(w.cap > w.len);
	assert_true(json_valid(w.buf, w.len));
	json_writer_free(&w);
}

struct time_case {
	__u64 ns;
	const char *text;
};

static void time_known_instants(void **state)
{
	static const struct time_case cases[] = {
		{ 0, "1970-01-01T00:00:00.000000000Z" },
		{ 1, "1970-01-01T00:00:00.000000001Z" },
		{ 1709210096000000001ull, "2024-02-29T12:34:56.000000001Z" },
		{ 951782400999999999ull, "2000-02-29T00:00:00.999999999Z" },
		{ 1483228799000000000ull, "2016-12-31T23:59:59.000000000Z" },
		{ 1483228800000000000ull, "2017-01-01T00:00:00.000000000Z" },
		{ 1796395260123456789ull, "2026-12-04T14:41:00.123456789Z" },
		{ UINT64_MAX, "2554-07-21T23:34:33.709551615Z" },
	};
	char buf[JSON_TIME_LEN];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(json_time_rfc3339(cases[i].ns, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].text);
		memset(buf, 0, sizeof(buf));
		assert_int_equal(json_time_format(cases[i].ns, buf, sizeof(buf)),
				 strlen(cases[i].text));
		assert_string_equal(buf, cases[i].text);
	}
}

static void time_same_second_twice(void **state)
{
	/* the formatted second is kept between calls, and each call must still name its own */
	static const struct time_case cases[] = {
		{ 1483228799000000000ull, "2016-12-31T23:59:59.000000000Z" },
		{ 1483228799999999999ull, "2016-12-31T23:59:59.999999999Z" },
		{ 1483228800000000000ull, "2017-01-01T00:00:00.000000000Z" },
		{ 1483228799000000005ull, "2016-12-31T23:59:59.000000005Z" },
		{ 1483228799000000005ull, "2016-12-31T23:59:59.000000005Z" },
	};
	char buf[JSON_TIME_LEN];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(json_time_rfc3339(cases[i].ns, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].text);
	}
	assert_int_equal(json_time_rfc3339(1483228799000000005ull, buf, 30), -ENOSPC);
}

static void time_buffer_size(void **state)
{
	char buf[JSON_TIME_LEN];

	assert_int_equal(json_time_rfc3339(0, buf, 31), 0);
	assert_int_equal(strlen(buf), 30);
	assert_int_equal(json_time_rfc3339(0, buf, 30), -ENOSPC);
	assert_int_equal(json_time_rfc3339(0, buf, 0), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(checker_accepts_valid),
		cmocka_unit_test(checker_rejects_invalid),
		cmocka_unit_test(string_plain_ascii),
		cmocka_unit_test(string_quotes_backslashes),
		cmocka_unit_test(string_every_control_byte),
		cmocka_unit_test(string_embedded_nul),
		cmocka_unit_test(string_nul_terminated),
		cmocka_unit_test(string_valid_utf8),
		cmocka_unit_test(string_overlong_forms),
		cmocka_unit_test(string_surrogates),
		cmocka_unit_test(string_above_max_code_point),
		cmocka_unit_test(string_truncated_sequences),
		cmocka_unit_test(string_truncated_by_length),
		cmocka_unit_test(string_lone_continuations),
		cmocka_unit_test(string_invalid_lead_bytes),
		cmocka_unit_test(string_every_byte_value),
		cmocka_unit_test(string_key_escaped),
		cmocka_unit_test(key_lengths_around_copy_limit),
		cmocka_unit_test(numbers_and_literals),
		cmocka_unit_test(numbers_every_length),
		cmocka_unit_test(numbers_every_bit_length),
		cmocka_unit_test(literal_keys_and_plain_strings),
		cmocka_unit_test(literal_key_misuse),
		cmocka_unit_test(agent_names_are_plain),
		cmocka_unit_test(nested_commas),
		cmocka_unit_test(max_depth),
		cmocka_unit_test(finish_line_newline),
		cmocka_unit_test(misuse_sets_einval),
		cmocka_unit_test(error_is_sticky),
		cmocka_unit_test(reset_reuses_buffer),
		cmocka_unit_test(buffer_grows),
		cmocka_unit_test(time_known_instants),
		cmocka_unit_test(time_same_second_twice),
		cmocka_unit_test(time_buffer_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
