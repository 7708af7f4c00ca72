/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A strict reader of JSON text (RFC 8259) for the agent's two inputs: request
 * lines on the control socket and reply lines on the request socket. It reads
 * one value at a time from a byte range that need not be NUL-terminated,
 * decodes strings into the caller's buffers, allocates nothing and builds no
 * tree.
 *
 * Beyond RFC 8259 it rejects duplicate member names within one object (names
 * are compared after decoding), nesting deeper than JSON_PARSE_MAX_DEPTH, and
 * \u escapes that leave a surrogate unpaired, so every decoded string is
 * valid UTF-8.
 *
 * Functions that return int return 0, or -EINVAL after writing a one-line
 * message into the parser's error buffer; other codes are listed where they
 * occur. After an error the parser's position is unspecified, so the parse
 * is over.
 */
#ifndef SNAPTRIG_JSONPARSE_H
#define SNAPTRIG_JSONPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* Maximum number of objects and arrays open at once. */
#define JSON_PARSE_MAX_DEPTH 32
/*
 * Maximum number of member names in the objects open at once, more than a
 * text of 4 KiB can contain (a member takes at least 5 bytes).
 */
#define JSON_PARSE_MAX_NAMES 1024
/* Buffer size of the member names given to a json_member_fn, NUL included. */
#define JSON_NAME_MAX 64

/* The kind of value that starts at the parser's position, from its first byte. */
enum json_type {
	JSON_NONE,	/* the end of the text, or a byte that starts no value */
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_BOOL,
	JSON_NULL,
};

struct json_parser {
	const char *text;	/* the first byte */
	const char *p;		/* next byte to read */
	const char *end;	/* one past the last byte */
	char *err;		/* message of the error, unused when err_len is 0 */
	size_t err_len;
	unsigned int depth;	/* objects and arrays open at p */
	unsigned int name_count; /* entries in name_hashes and name_offsets */
	/* the member names of the open objects, to find duplicates */
	__u32 name_hashes[JSON_PARSE_MAX_NAMES];	/* FNV-1a of the decoded name */
	__u32 name_offsets[JSON_PARSE_MAX_NAMES];	/* of its opening quote in text (< 4 GiB) */
};

/* Starts a parse of len bytes at text. Messages go to err, err_len bytes. */
void json_parser_init(struct json_parser *ps, const char *text, size_t len, char *err,
		      size_t err_len);

/* Writes the formatted message into the error buffer and returns -EINVAL. */
int json_parse_fail(struct json_parser *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Skips whitespace and returns the type of the value that starts there. */
enum json_type json_next_type(struct json_parser *ps);

/* Skips whitespace and returns whether the text ends there. */
bool json_at_end(struct json_parser *ps);

/*
 * Parses a string into out, cap bytes (at least 1) with the terminating NUL,
 * and stores in *len the bytes written before the NUL; out may contain NUL
 * bytes from \u0000 escapes. Returns -ENOSPC, without a message, when the
 * decoded string needs cap bytes or more: out then contains the longest
 * prefix of whole characters that fits, and the whole string is consumed.
 */
int json_parse_string(struct json_parser *ps, char *out, size_t cap, size_t *len);

/*
 * Parses a number that must be an integer in the range of __s64. A valid
 * number that is not one is consumed and returns, without a message, -EDOM
 * when it has a fraction or an exponent and -ERANGE when it is out of range.
 */
int json_parse_integer(struct json_parser *ps, __s64 *value);

/* Parses true or false. */
int json_parse_bool(struct json_parser *ps, bool *value);

/* Skips one value of any type, checked as strictly as the parse functions do. */
int json_skip_value(struct json_parser *ps);

/*
 * Called by json_parse_object() for each member with its decoded name, cut to
 * at most JSON_NAME_MAX - 1 bytes. len is the length stored, so a cut name is
 * never equal to a shorter one. The function must consume the member's value
 * with a parse function or json_skip_value(). A return value other than 0
 * ends the object's parse with that value.
 */
typedef int (*json_member_fn)(struct json_parser *ps, const char *name, size_t len,
			      void *ctx);

/*
 * Parses an object and calls member for each of its members in order. A new
 * name is compared with each earlier name of the object by a 32-bit hash,
 * and only on a match byte by byte, so an object of n members costs O(n^2)
 * integer comparisons.
 */
int json_parse_object(struct json_parser *ps, json_member_fn member, void *ctx);

/* Whether the member name of len bytes is the NUL-terminated string s. */
bool json_name_is(const char *name, size_t len, const char *s);

#endif /* SNAPTRIG_JSONPARSE_H */
