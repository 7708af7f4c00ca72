/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A streaming JSON writer for the output lines. It appends to one growable
 * buffer that the caller resets and reuses for every line, so a line costs no
 * allocation once the buffer has grown to the longest line. It builds no
 * tree of values. Strings follow the escaping rule of the output contract:
 *   - '"' and '\' are escaped with a backslash;
 *   - \b, \t, \n, \f and \r use their short escapes, every other byte below
 *     0x20 and the byte 0x7f are written as \u00xx with lower-case hex;
 *   - valid UTF-8 passes through unchanged. Overlong forms, surrogates
 *     (U+D800 to U+DFFF), code points above U+10FFFF and cut sequences are
 *     invalid, and each byte that does not belong to a valid sequence
 *     becomes U+FFFD, written as the bytes EF BF BD.
 * The output is therefore valid UTF-8 JSON whatever bytes the strings hold.
 *
 * Errors are sticky, as with ferror(): the first failure stores a negative
 * errno in error and every later call does nothing until json_writer_reset().
 * buf then contains the output up to the failed call, which is not a complete
 * document.
 * -ENOMEM is a failed allocation. -EINVAL is a call that would make invalid
 * JSON: a value in an object without a key, a key outside an object, an end
 * that does not match its begin, a second top-level value, or nesting deeper
 * than JSON_MAX_DEPTH.
 */
#ifndef SNAPTRIG_JSON_H
#define SNAPTRIG_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

/* Maximum number of objects and arrays open at once. */
#define JSON_MAX_DEPTH 16

/* Buffer size for json_time_rfc3339(). */
#define JSON_TIME_LEN 32

struct json_writer {
	char *buf;		/* output, NUL-terminated; NULL before the first write */
	size_t len;		/* output bytes, NUL excluded */
	size_t cap;		/* bytes allocated at buf */
	int error;		/* 0, or the first negative errno */
	unsigned int depth;	/* number of open objects and arrays */
	bool after_key;		/* a key was written and its value is due */
	__u8 levels[JSON_MAX_DEPTH]; /* flags of each open container, outermost first */
};

void json_writer_init(struct json_writer *w);
/* Frees the buffer. Accepts NULL. */
void json_writer_free(struct json_writer *w);
/* Empties the output and clears the error, keeping the buffer for reuse. */
void json_writer_reset(struct json_writer *w);

void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);

/* Writes an object member's key. The next call must write its value. */
void json_key(struct json_writer *w, const char *key);

/*
 * Writes a key that is already quoted and followed by its colon, len bytes
 * at quoted, as json_key_lit() makes it. The key must need no escaping.
 */
void json_key_quoted(struct json_writer *w, const char *quoted, size_t len);
/* json_key() for a string literal key, quoted at compile time. */
#define json_key_lit(w, key) \
	json_key_quoted((w), "\"" key "\":", sizeof("\"" key "\":") - 1)

/*
 * Writes len bytes of s as a string without escaping them, so s must be
 * printable ASCII without '"' or '\\', such as the agent's own names.
 */
void json_string_plain(struct json_writer *w, const char *s, size_t len);

/*
 * Writes a name from the agent's own tables or a fixed word, or null for NULL.
 * Such names need no escaping, so they skip the scan of process strings.
 */
void json_name(struct json_writer *w, const char *name);
/* Writes a NUL-terminated string, or null when s is NULL. */
void json_string(struct json_writer *w, const char *s);
/* Writes len bytes of s as a string, in which NUL bytes become \u0000. */
void json_string_len(struct json_writer *w, const char *s, size_t len);
void json_u64(struct json_writer *w, __u64 value);
void json_i64(struct json_writer *w, __s64 value);
void json_bool(struct json_writer *w, bool value);
void json_null(struct json_writer *w);

/*
 * Ends the line: checks that exactly one complete top-level value was written
 * and appends '\n'. Returns 0 or the writer's error. Call json_writer_reset()
 * before writing the next line.
 */
int json_finish_line(struct json_writer *w);

/*
 * Formats a CLOCK_REALTIME time in ns since the epoch as RFC 3339 in UTC with
 * 9 fraction digits, e.g. "2026-12-04T14:41:00.123456789Z". Returns 0,
 * -ENOSPC when len is below 31 (30 characters and the NUL), or -EOVERFLOW
 * when time_t or gmtime_r() cannot represent the time.
 */
int json_time_rfc3339(__u64 realtime_ns, char *buf, size_t len);
/* json_time_rfc3339() that returns the length of the text, 30 up to year 9999, on success. */
int json_time_format(__u64 realtime_ns, char *buf, size_t len);

/*
 * Formatting into a plain buffer, without the writer's checks, for code that
 * lays out a line of fixed shape itself. Each function writes at out, which
 * must have room for what it writes, and returns the end of what it wrote.
 * Nothing is NUL-terminated.
 */

/* Maximum length of a number that json_format_u64() or json_format_i64() writes. */
#define JSON_NUMBER_MAX 20
/* Maximum length of the quoted string json_format_string() makes of n bytes: \u00xx each. */
#define JSON_STRING_MAX(n) (2 + 6 * (size_t)(n))

char *json_format_u64(char *out, __u64 value);
char *json_format_i64(char *out, __s64 value);
/* Writes n bytes of s as a quoted string with the escaping of json_string_len(). */
char *json_format_string(char *out, const char *s, size_t n);

#endif /* SNAPTRIG_JSON_H */
