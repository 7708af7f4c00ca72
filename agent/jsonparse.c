// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The strict JSON reader described in jsonparse.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "jsonparse.h"

/* Bytes of a number shown in a message about it. */
#define NUMBER_SHOWN_MAX 32

void json_parser_init(struct json_parser *ps, const char *text, size_t len, char *err,
		      size_t err_len)
{
	ps->text = text;
	ps->p = text;
	ps->end = text + len;
	ps->err = err;
	ps->err_len = err_len;
	ps->depth = 0;
	ps->name_count = 0;
	if (err_len)
		err[0] = '\0';
}

int json_parse_fail(struct json_parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->err_len) {
		va_start(ap, fmt);
		vsnprintf(ps->err, ps->err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void skip_space(struct json_parser *ps)
{
	while (ps->p < ps->end && is_space(*ps->p))
		ps->p++;
}

enum json_type json_next_type(struct json_parser *ps)
{
	skip_space(ps);
	if (ps->p == ps->end)
		return JSON_NONE;
	switch (*ps->p) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	case 't':
	case 'f':
		return JSON_BOOL;
	case 'n':
		return JSON_NULL;
	default:
		return *ps->p == '-' || is_digit(*ps->p) ? JSON_NUMBER : JSON_NONE;
	}
}

bool json_at_end(struct json_parser *ps)
{
	skip_space(ps);
	return ps->p == ps->end;
}

bool json_name_is(const char *name, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(name, s, len) == 0;
}

/* Strings */

/* Length of the valid UTF-8 sequence at s (RFC 3629), or 0. */
static size_t utf8_length(const unsigned char *s, size_t avail)
{
	unsigned int cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (avail < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static size_t utf8_encode(unsigned int cp, char *out)
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | (cp >> 6);
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | (cp >> 12);
		out[1] = 0x80 | ((cp >> 6) & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | (cp >> 18);
	out[1] = 0x80 | ((cp >> 12) & 0x3f);
	out[2] = 0x80 | ((cp >> 6) & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

static int parse_hex4(struct json_parser *ps, unsigned int *value)
{
	int i;

	*value = 0;
	if (ps->end - ps->p < 4)
		return json_parse_fail(ps, "invalid \\u escape in string");
	for (i = 0; i < 4; i++) {
		char c = *ps->p++;
		unsigned int digit;

		if (c >= '0' && c <= '9')
			digit = c - '0';
		else if (c >= 'a' && c <= 'f')
			digit = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			digit = c - 'A' + 10;
		else
			return json_parse_fail(ps, "invalid \\u escape in string");
		*value = *value << 4 | digit;
	}
	return 0;
}

/* Decodes a \u escape (after the "\u"), joining a surrogate pair. */
static int parse_unicode_escape(struct json_parser *ps, unsigned int *cp)
{
	unsigned int low;

	if (parse_hex4(ps, cp))
		return -EINVAL;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return json_parse_fail(ps, "unpaired surrogate escape in string");
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
		return json_parse_fail(ps, "unpaired surrogate escape in string");
	ps->p += 2;
	if (parse_hex4(ps, &low))
		return -EINVAL;
	if (low < 0xdc00 || low > 0xdfff)
		return json_parse_fail(ps, "unpaired surrogate escape in string");
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (low - 0xdc00);
	return 0;
}

/* Decodes one escape after the backslash into out. Returns its length or -EINVAL. */
static int parse_escape(struct json_parser *ps, char *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned int cp;

	if (ps->p == ps->end)
		return json_parse_fail(ps, "unterminated string");
	hit = strchr(from, *ps->p);
	if (*ps->p && hit) {
		ps->p++;
		out[0] = to[hit - from];
		return 1;
	}
	if (*ps->p++ != 'u')
		return json_parse_fail(ps, "invalid escape in string");
	if (parse_unicode_escape(ps, &cp))
		return -EINVAL;
	return utf8_encode(cp, out);
}

/*
 * Decodes the next character of a string into out (4 bytes at most). Returns
 * its length, 0 after consuming the closing quote, or -EINVAL.
 */
static int next_char(struct json_parser *ps, char *out)
{
	size_t n;

	if (ps->p == ps->end)
		return json_parse_fail(ps, "unterminated string");
	if (*ps->p == '"') {
		ps->p++;
		return 0;
	}
	if ((unsigned char)*ps->p < 0x20)
		return json_parse_fail(ps, "control character in string; escape it");
	if (*ps->p == '\\') {
		ps->p++;
		return parse_escape(ps, out);
	}
	n = utf8_length((const unsigned char *)ps->p, ps->end - ps->p);
	if (!n)
		return json_parse_fail(ps, "invalid UTF-8 in string");
	memcpy(out, ps->p, n);
	ps->p += n;
	return n;
}

/* json_parse_string(), which also computes the FNV-1a hash of the whole decoded string. */
static int parse_string_hashed(struct json_parser *ps, char *out, size_t cap, size_t *len,
			       __u32 *hash)
{
	bool cut = false;
	size_t used = 0;
	char piece[4];
	int n, i;

	skip_space(ps);
	if (ps->p == ps->end || *ps->p != '"')
		return json_parse_fail(ps, "expected a string");
	ps->p++;
	*hash = 2166136261u;
	while ((n = next_char(ps, piece)) > 0) {
		for (i = 0; i < n; i++)
			*hash = (*hash ^ (unsigned char)piece[i]) * 16777619u;
		/* a character that does not fit ends the copy, so no character is split */
		if (cut || used + n >= cap) {
			cut = true;
			continue;
		}
		memcpy(out + used, piece, n);
		used += n;
	}
	if (n < 0)
		return n;
	out[used] = '\0';
	*len = used;
	return cut ? -ENOSPC : 0;
}

int json_parse_string(struct json_parser *ps, char *out, size_t cap, size_t *len)
{
	__u32 hash;

	return parse_string_hashed(ps, out, cap, len, &hash);
}

/* Numbers and literals */

/* Moves past a run of decimal digits. Returns whether there was one. */
static bool take_digits(struct json_parser *ps)
{
	const char *digits = ps->p;

	while (ps->p < ps->end && is_digit(*ps->p))
		ps->p++;
	return ps->p > digits;
}

/*
 * Moves past a number, checking the grammar of RFC 8259, and sets *integer
 * when it has neither a fraction nor an exponent.
 */
static int scan_number(struct json_parser *ps, bool *integer)
{
	const char *start = ps->p, *digits;
	const char *detail = "";
	int shown_len;

	*integer = true;
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	digits = ps->p;
	if (!take_digits(ps))
		goto invalid;
	if (*digits == '0' && ps->p - digits > 1) {
		detail = ": leading zero";
		goto invalid;
	}
	if (ps->p < ps->end && *ps->p == '.') {
		*integer = false;
		ps->p++;
		if (!take_digits(ps))
			goto invalid;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		*integer = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!take_digits(ps))
			goto invalid;
	}
	return 0;

invalid:
	shown_len = ps->p - start < NUMBER_SHOWN_MAX ? ps->p - start : NUMBER_SHOWN_MAX;
	return json_parse_fail(ps, "invalid number '%.*s'%s", shown_len, start, detail);
}

int json_parse_integer(struct json_parser *ps, __s64 *value)
{
	__u64 magnitude = 0;
	const char *start, *q;
	bool negative, integer;
	int err;

	skip_space(ps);
	start = ps->p;
	err = scan_number(ps, &integer);
	if (err)
		return err;
	if (!integer)
		return -EDOM;
	negative = *start == '-';
	for (q = start + negative; q < ps->p; q++) {
		unsigned int digit = *q - '0';

		if (magnitude > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		magnitude = magnitude * 10 + digit;
	}
	if (negative ? magnitude > (__u64)INT64_MAX + 1 : magnitude > (__u64)INT64_MAX)
		return -ERANGE;
	*value = negative ? (__s64)(0 - magnitude) : (__s64)magnitude;
	return 0;
}

/* Moves past the literal word (true, false or null) when it is next. */
static bool take_literal(struct json_parser *ps, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len))
		return false;
	ps->p += len;
	return true;
}

int json_parse_bool(struct json_parser *ps, bool *value)
{
	skip_space(ps);
	if (take_literal(ps, "true"))
		*value = true;
	else if (take_literal(ps, "false"))
		*value = false;
	else
		return json_parse_fail(ps, "expected true or false");
	return 0;
}

/* Objects, arrays and any value */

/* Counts one more open object or array, within JSON_PARSE_MAX_DEPTH. */
static int enter_container(struct json_parser *ps)
{
	if (ps->depth == JSON_PARSE_MAX_DEPTH)
		return json_parse_fail(ps, "objects and arrays nested deeper than %d levels",
				       JSON_PARSE_MAX_DEPTH);
	ps->depth++;
	ps->p++;
	return 0;
}

/* Skips whitespace, then moves past close, the end of the innermost container, if it is next. */
static bool take_close(struct json_parser *ps, char close)
{
	skip_space(ps);
	if (ps->p == ps->end || *ps->p != close)
		return false;
	ps->p++;
	ps->depth--;
	return true;
}

/*
 * Moves past what follows a value in a container: returns 1 after a ',',
 * 0 after close, or -1 when neither is next.
 */
static int take_separator(struct json_parser *ps, char close)
{
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == ',') {
		ps->p++;
		return 1;
	}
	return take_close(ps, close) ? 0 : -1;
}

static int skip_array(struct json_parser *ps)
{
	int err = enter_container(ps);

	if (err)
		return err;
	if (take_close(ps, ']'))
		return 0;
	for (;;) {
		err = json_skip_value(ps);
		if (err)
			return err;
		switch (take_separator(ps, ']')) {
		case 1:
			continue;
		case 0:
			return 0;
		default:
			return json_parse_fail(ps, "expected ',' or ']' in an array");
		}
	}
}

static int skip_member(struct json_parser *ps, const char *name, size_t len, void *ctx)
{
	return json_skip_value(ps);
}

int json_skip_value(struct json_parser *ps)
{
	char none[1];
	size_t len;
	bool flag;
	int err;

	switch (json_next_type(ps)) {
	case JSON_OBJECT:
		return json_parse_object(ps, skip_member, NULL);
	case JSON_ARRAY:
		return skip_array(ps);
	case JSON_STRING:
		err = json_parse_string(ps, none, sizeof(none), &len);
		return err == -ENOSPC ? 0 : err;
	case JSON_NUMBER:
		return scan_number(ps, &flag);
	case JSON_BOOL:
		return json_parse_bool(ps, &flag);
	case JSON_NULL:
		return take_literal(ps, "null") ? 0 : json_parse_fail(ps, "expected null");
	default:
		if (ps->p == ps->end)
			return json_parse_fail(ps, "missing value");
		return json_parse_fail(ps, "expected a value");
	}
}

/*
 * Whether the strings with opening quotes at a and b, which were parsed
 * before and so are valid, decode to the same bytes.
 */
static bool parsed_strings_equal(struct json_parser *ps, const char *a, const char *b)
{
	const char *saved = ps->p;
	bool equal;

	a++;
	b++;
	for (;;) {
		char x[4], y[4];
		int nx, ny;

		ps->p = a;
		nx = next_char(ps, x);
		a = ps->p;
		ps->p = b;
		ny = next_char(ps, y);
		b = ps->p;
		/* a character has one UTF-8 form, so equal strings decode in step */
		if (nx != ny || memcmp(x, y, nx > 0 ? nx : 0)) {
			equal = false;
			break;
		}
		if (nx <= 0) {
			equal = nx == 0;
			break;
		}
	}
	ps->p = saved;
	return equal;
}

/*
 * Whether a name recorded since entry first has the hash and decodes as the
 * name with its opening quote at name.
 */
static bool name_seen(struct json_parser *ps, unsigned int first, const char *name, __u32 hash)
{
	unsigned int i;

	for (i = first; i < ps->name_count; i++)
		if (ps->name_hashes[i] == hash &&
		    parsed_strings_equal(ps, ps->text + ps->name_offsets[i], name))
			return true;
	return false;
}

int json_parse_object(struct json_parser *ps, json_member_fn member, void *ctx)
{
	unsigned int first = ps->name_count;	/* this object's first name entry */
	int err;

	skip_space(ps);
	if (ps->p == ps->end || *ps->p != '{')
		return json_parse_fail(ps, "expected an object");
	err = enter_container(ps);
	if (err)
		return err;
	if (take_close(ps, '}'))
		return 0;
	for (;;) {
		char name[JSON_NAME_MAX];
		const char *name_at;
		size_t len;
		__u32 hash;

		skip_space(ps);
		name_at = ps->p;
		if (ps->p == ps->end || *ps->p != '"')
			return json_parse_fail(ps, "expected a member name in quotes");
		err = parse_string_hashed(ps, name, sizeof(name), &len, &hash);
		if (err && err != -ENOSPC)
			return err;
		if (name_seen(ps, first, name_at, hash))
			return json_parse_fail(ps, "duplicate member '%s'", name);
		if (ps->name_count == JSON_PARSE_MAX_NAMES)
			return json_parse_fail(ps, "more than %d member names in the open objects",
					       JSON_PARSE_MAX_NAMES);
		ps->name_hashes[ps->name_count] = hash;
		ps->name_offsets[ps->name_count] = name_at - ps->text;
		ps->name_count++;
		skip_space(ps);
		if (ps->p == ps->end || *ps->p != ':')
			return json_parse_fail(ps, "expected ':' after member '%s'", name);
		ps->p++;
		err = member(ps, name, len, ctx);
		if (err)
			return err;
		switch (take_separator(ps, '}')) {
		case 1:
			continue;
		case 0:
			ps->name_count = first;
			return 0;
		default:
			return json_parse_fail(ps, "expected ',' or '}' after member '%s'", name);
		}
	}
}
