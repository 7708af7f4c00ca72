// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The output path writes one JSON line per event, so this writer is our own
 * code rather than a general JSON library. It appends straight to one buffer
 * that is reused for every line and keeps no tree of values. It also applies
 * exactly the escaping rule described in json.h, which turns every byte of
 * invalid UTF-8 into U+FFFD.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

#define JSON_MIN_CAP 256

/* json_writer.levels flags */
#define LEVEL_OBJECT 0x1	/* an object; otherwise an array */
#define LEVEL_NONEMPTY 0x2	/* a member or element was written */

/* Maximum length of the escape of one input byte, \u00xx. */
#define MAX_ESCAPE_LEN 6
_Static_assert(JSON_STRING_MAX(1) == 2 + MAX_ESCAPE_LEN, "JSON_STRING_MAX uses MAX_ESCAPE_LEN");

static const char replacement_char[] = "\xef\xbf\xbd"; /* U+FFFD in UTF-8 */

void json_writer_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void json_writer_free(struct json_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	json_writer_init(w);
}

void json_writer_reset(struct json_writer *w)
{
	w->len = 0;
	if (w->buf)
		w->buf[0] = '\0';
	w->error = 0;
	w->depth = 0;
	w->after_key = false;
}

static bool grow(struct json_writer *w, size_t extra);

/*
 * Makes room for extra more bytes and the NUL. Returns false on error.
 * Every append calls it, so the common case, room already there, is inline.
 */
static inline bool reserve(struct json_writer *w, size_t extra)
{
	if (__builtin_expect(!w->error && extra < w->cap && w->len < w->cap - extra, 1))
		return true;
	return grow(w, extra);
}

static bool grow(struct json_writer *w, size_t extra)
{
	size_t need, cap;
	char *buf;

	if (w->error)
		return false;
	if (extra > SIZE_MAX - 1 - w->len) {
		w->error = -ENOMEM;
		return false;
	}

	need = w->len + extra + 1;
	if (need <= w->cap)
		return true;

	cap = w->cap ? w->cap : JSON_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;

	buf = realloc(w->buf, cap);
	if (!buf) {
		w->error = -ENOMEM;
		return false;
	}
	w->buf = buf;
	w->cap = cap;
	return true;
}

/* Appends bytes for which reserve() has made room, and the NUL. */
static void put(struct json_writer *w, const char *s, size_t n)
{
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void append(struct json_writer *w, const char *s, size_t n)
{
	if (reserve(w, n))
		put(w, s, n);
}

static void put_char(struct json_writer *w, char c)
{
	if (reserve(w, 1)) {
		w->buf[w->len++] = c;
		w->buf[w->len] = '\0';
	}
}

static void fail_usage(struct json_writer *w)
{
	if (!w->error)
		w->error = -EINVAL;
}

/*
 * Checks that a value may come next and writes the comma that separates it
 * from the previous element. Returns false when nothing may be written.
 */
static bool begin_value(struct json_writer *w)
{
	__u8 *level;

	if (w->error)
		return false;

	if (w->depth == 0) {
		if (w->len > 0) {
			fail_usage(w);
			return false;
		}
		return true;
	}

	level = &w->levels[w->depth - 1];
	if (*level & LEVEL_OBJECT) {
		if (!w->after_key) {
			fail_usage(w);
			return false;
		}
		w->after_key = false;
		return true;
	}

	if (*level & LEVEL_NONEMPTY)
		put_char(w, ',');
	*level |= LEVEL_NONEMPTY;
	return !w->error;
}

static void open_container(struct json_writer *w, __u8 flags, char bracket)
{
	if (!begin_value(w))
		return;
	if (w->depth == JSON_MAX_DEPTH) {
		fail_usage(w);
		return;
	}

	append(w, &bracket, 1);
	w->levels[w->depth++] = flags;
}

static void close_container(struct json_writer *w, __u8 object, char bracket)
{
	if (w->error)
		return;
	if (w->depth == 0 || w->after_key ||
	    (w->levels[w->depth - 1] & LEVEL_OBJECT) != object) {
		fail_usage(w);
		return;
	}

	w->depth--;
	append(w, &bracket, 1);
}

void json_object_begin(struct json_writer *w)
{
	open_container(w, LEVEL_OBJECT, '{');
}

void json_object_end(struct json_writer *w)
{
	close_container(w, LEVEL_OBJECT, '}');
}

void json_array_begin(struct json_writer *w)
{
	open_container(w, 0, '[');
}

void json_array_end(struct json_writer *w)
{
	close_container(w, 0, ']');
}

/*
 * Returns the length of the valid UTF-8 sequence at s, which has avail > 0
 * bytes, or 0 when s[0] does not start one. The byte ranges are those of
 * the well-formed UTF-8 byte sequences of the Unicode Standard: lead bytes
 * C0, C1 and F5 to FF never occur, and the range of the second byte after
 * E0, ED, F0 and F4 is narrowed.
 */
static size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;	/* allowed range of s[1] */
	size_t need, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* below is overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* above is a surrogate */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* below is overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above is beyond U+10FFFF */
	} else {
		return 0;
	}

	if (avail < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	return need;
}

/* Writes the escape of an ASCII byte that cannot appear raw. Returns its length. */
static size_t escape_ascii(char *out, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char short_form = 0;

	switch (c) {
	case '"':
		short_form = '"';
		break;
	case '\\':
		short_form = '\\';
		break;
	case '\b':
		short_form = 'b';
		break;
	case '\f':
		short_form = 'f';
		break;
	case '\n':
		short_form = 'n';
		break;
	case '\r':
		short_form = 'r';
		break;
	case '\t':
		short_form = 't';
		break;
	}

	out[0] = '\\';
	if (short_form) {
		out[1] = short_form;
		return 2;
	}
	memcpy(out + 1, "u00", 3);
	out[4] = hex[c >> 4];
	out[5] = hex[c & 0xf];
	return MAX_ESCAPE_LEN;
}

/*
 * Bytes that cannot be copied as they are: controls, '"', '\\', DEL and
 * non-ASCII. The table costs one load per byte in place of four compares.
 */
static const bool special_byte[256] = {
	[0x00 ... 0x1f] = true,
	['"'] = true,
	['\\'] = true,
	[0x7f ... 0xff] = true,
};

static inline bool is_special(unsigned char c)
{
	return special_byte[c];
}

char *json_format_string(char *out, const char *s, size_t n)
{
	const unsigned char *in = (const unsigned char *)s;
	size_t i = 0, plain;

	*out++ = '"';
	while (i < n) {
		unsigned char c;
		size_t seq;

		/* copy plain bytes as they are scanned: most strings are one short run */
		for (plain = i; plain < n && !is_special(in[plain]); plain++)
			*out++ = (char)in[plain];
		i = plain;
		if (i == n)
			break;

		c = in[i];
		if (c < 0x80) {
			out += escape_ascii(out, c);
			i++;
		} else if ((seq = utf8_sequence_len(in + i, n - i)) > 0) {
			memcpy(out, in + i, seq);
			out += seq;
			i += seq;
		} else {
			/* 3 output bytes per input byte, within the reserved 6 */
			memcpy(out, replacement_char, 3);
			out += 3;
			i++;
		}
	}
	*out++ = '"';
	return out;
}

/* Appends s as a quoted, escaped JSON string. */
static void put_string(struct json_writer *w, const char *s, size_t n)
{
	char *end;

	if (n > (SIZE_MAX - 2) / MAX_ESCAPE_LEN) {
		w->error = -ENOMEM;
		return;
	}
	if (!reserve(w, JSON_STRING_MAX(n)))
		return;

	end = json_format_string(w->buf + w->len, s, n);
	*end = '\0';
	w->len = (size_t)(end - w->buf);
}

/* Maximum key length that put_key() copies while it scans; longer keys take two passes. */
#define SHORT_KEY_LEN 32

/*
 * Appends "key": copying the key while scanning it, when it is short and
 * needs no escaping, which is so for every key the agent writes, and through
 * put_string() otherwise.
 */
static void put_key(struct json_writer *w, const char *key)
{
	size_t i;
	char *out;

	if (!reserve(w, SHORT_KEY_LEN + 3))
		return;
	out = w->buf + w->len;
	*out++ = '"';
	for (i = 0; i < SHORT_KEY_LEN && key[i] && !is_special((unsigned char)key[i]); i++)
		*out++ = key[i];
	if (key[i]) {
		put_string(w, key, strlen(key));
		put_char(w, ':');
		return;
	}
	*out++ = '"';
	*out++ = ':';
	*out = '\0';
	w->len = (size_t)(out - w->buf);
}

/*
 * Checks that a key may come next and writes the comma that separates it
 * from the previous member. Returns false when nothing may be written.
 */
static bool begin_key(struct json_writer *w)
{
	__u8 *level;

	if (w->error)
		return false;
	if (w->depth == 0 || w->after_key || !(w->levels[w->depth - 1] & LEVEL_OBJECT)) {
		fail_usage(w);
		return false;
	}

	level = &w->levels[w->depth - 1];
	if (*level & LEVEL_NONEMPTY)
		put_char(w, ',');
	*level |= LEVEL_NONEMPTY;
	return !w->error;
}

void json_key(struct json_writer *w, const char *key)
{
	if (!begin_key(w))
		return;
	put_key(w, key);
	w->after_key = true;
}

void json_key_quoted(struct json_writer *w, const char *quoted, size_t len)
{
	if (!begin_key(w))
		return;
	append(w, quoted, len);
	w->after_key = true;
}

void json_string_plain(struct json_writer *w, const char *s, size_t len)
{
	char *out;

	if (!begin_value(w) || !reserve(w, len + 2))
		return;
	out = w->buf + w->len;
	out[0] = '"';
	memcpy(out + 1, s, len);
	out[len + 1] = '"';
	out[len + 2] = '\0';
	w->len += len + 2;
}

void json_name(struct json_writer *w, const char *name)
{
	if (name)
		json_string_plain(w, name, strlen(name));
	else
		json_null(w);
}

void json_string_len(struct json_writer *w, const char *s, size_t len)
{
	if (begin_value(w))
		put_string(w, s, len);
}

void json_string(struct json_writer *w, const char *s)
{
	if (!s)
		json_null(w);
	else
		json_string_len(w, s, strlen(s));
}

/* "00" to "99": format_u64() writes two digits per division. */
static const char digit_pairs[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Writes the decimal digits of value before end. Returns where they start. */
static char *format_u64(char *end, __u64 value)
{
	while (value >= 100) {
		unsigned int pair = (unsigned int)(value % 100) * 2;

		value /= 100;
		*--end = digit_pairs[pair + 1];
		*--end = digit_pairs[pair];
	}
	if (value >= 10) {
		*--end = digit_pairs[value * 2 + 1];
		*--end = digit_pairs[value * 2];
	} else {
		*--end = (char)('0' + value);
	}
	return end;
}

/*
 * Number of decimal digits of value. n, the bit length of value times
 * 1233 / 4096 (just above log10(2)) rounded down, is the digit count or one
 * less, and value has n + 1 digits when it reaches 10^n. The table contains
 * 0 in place of 10^0 so that 0 gets one digit.
 */
static unsigned int digit_count(__u64 value)
{
	static const __u64 powers_of_ten[20] = {
		0, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
		100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
		10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
		10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
		10000000000000000000ULL,
	};
	unsigned int n = ((64 - (unsigned int)__builtin_clzll(value | 1)) * 1233) >> 12;

	return n + (value >= powers_of_ten[n]);
}

char *json_format_u64(char *out, __u64 value)
{
	unsigned int n = digit_count(value);

	format_u64(out + n, value);
	return out + n;
}

char *json_format_i64(char *out, __s64 value)
{
	/* -(value + 1) + 1 avoids overflow for the minimum __s64 */
	if (value < 0) {
		*out++ = '-';
		return json_format_u64(out, (__u64)(-(value + 1)) + 1);
	}
	return json_format_u64(out, (__u64)value);
}

void json_u64(struct json_writer *w, __u64 value)
{
	if (!begin_value(w) || !reserve(w, JSON_NUMBER_MAX))
		return;

	w->len = (size_t)(json_format_u64(w->buf + w->len, value) - w->buf);
	w->buf[w->len] = '\0';
}

void json_i64(struct json_writer *w, __s64 value)
{
	if (!begin_value(w) || !reserve(w, JSON_NUMBER_MAX))
		return;

	w->len = (size_t)(json_format_i64(w->buf + w->len, value) - w->buf);
	w->buf[w->len] = '\0';
}

void json_bool(struct json_writer *w, bool value)
{
	if (!begin_value(w))
		return;
	if (value)
		append(w, "true", 4);
	else
		append(w, "false", 5);
}

void json_null(struct json_writer *w)
{
	if (begin_value(w))
		append(w, "null", 4);
}

int json_finish_line(struct json_writer *w)
{
	if (w->error)
		return w->error;
	if (w->depth != 0 || w->len == 0 || w->buf[w->len - 1] == '\n') {
		fail_usage(w);
		return w->error;
	}

	put_char(w, '\n');
	return w->error;
}

/*
 * The last second formatted, "YYYY-MM-DDTHH:MM:SS.", per thread. Lines come
 * in bursts within one second, and formatting each with gmtime_r() and
 * snprintf() took about a sixth of the agent's CPU in a flood of lines.
 */
static __thread struct {
	__u64 secs;
	int len;		/* 0 until a second is formatted */
	char text[JSON_TIME_LEN];
} last_second;

int json_time_format(__u64 realtime_ns, char *buf, size_t len)
{
	__u64 secs = realtime_ns / 1000000000ull;
	unsigned int nsec = (unsigned int)(realtime_ns % 1000000000ull);
	time_t t = (time_t)secs;
	struct tm tm;
	size_t n;
	int i;

	if (!last_second.len || last_second.secs != secs) {
		if ((__u64)t != secs || !gmtime_r(&t, &tm))
			return -EOVERFLOW;
		i = snprintf(last_second.text, sizeof(last_second.text),
			     "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
			     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		if (i < 0 || (size_t)i >= sizeof(last_second.text) - 10)
			return -ENOSPC;
		last_second.secs = secs;
		last_second.len = i;
	}

	/* the prefix, 9 digits of nanoseconds, 'Z' and the NUL */
	n = (size_t)last_second.len;
	if (n + 11 > len)
		return -ENOSPC;
	memcpy(buf, last_second.text, n);
	/* the 9 digits, leading zeros included, two at a time */
	for (i = 7; i >= 1; i -= 2) {
		memcpy(buf + n + (size_t)i, digit_pairs + nsec % 100 * 2, 2);
		nsec /= 100;
	}
	buf[n] = (char)('0' + nsec);
	buf[n + 9] = 'Z';
	buf[n + 10] = '\0';
	return (int)n + 10;
}

int json_time_rfc3339(__u64 realtime_ns, char *buf, size_t len)
{
	int n = json_time_format(realtime_ns, buf, len);

	return n < 0 ? n : 0;
}
