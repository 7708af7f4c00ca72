/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The --exec checkpointer template. The text is split into words as a POSIX
 * shell splits them (blanks separate words; single quotes keep everything;
 * double quotes keep everything but \", \\, \$ and \`; a backslash outside
 * quotes keeps the next character), without expansions, globbing or any
 * shell. Each word may hold placeholders, replaced when a request runs:
 * {pid}, {tid}, {trigger}, {seq} and {time}. {{ and }} stand for { and }.
 */
#ifndef SNAPTRIG_TEMPLATE_H
#define SNAPTRIG_TEMPLATE_H

#include <stddef.h>

#define TEMPLATE_ERROR_LEN 224
/*
 * Bytes of a template that an error message quotes at most, so that the
 * reason after it always fits in one log line, and the size of that quote.
 */
#define TEMPLATE_QUOTE_MAX 200
#define TEMPLATE_QUOTE_LEN (TEMPLATE_QUOTE_MAX + sizeof("..."))

struct template {
	char **words;		/* after quote removal, placeholders unexpanded */
	size_t count;
};

struct template_values {
	const char *pid;
	const char *tid;
	const char *trigger;
	const char *seq;
	const char *time;
};

/*
 * Parses text into t. Returns 0, or -EINVAL with a message in err (an
 * unbalanced quote, a trailing backslash, a '{' without a closing '}', an
 * unknown placeholder, no words), or -ENOMEM.
 */
int template_parse(const char *text, struct template *t, char *err, size_t err_len);
/*
 * Writes text to out (TEMPLATE_QUOTE_LEN bytes) for an error message: whole,
 * or cut to its first TEMPLATE_QUOTE_MAX bytes followed by "...".
 */
void template_quote(const char *text, char out[TEMPLATE_QUOTE_LEN]);
/* Frees the words. Accepts a template that failed to parse. */
void template_free(struct template *t);

/*
 * Builds a NULL-terminated argv with every placeholder replaced. Returns 0 or
 * -ENOMEM. Free the result with template_argv_free().
 */
int template_expand(const struct template *t, const struct template_values *values,
		    char ***argv);
void template_argv_free(char **argv);

#endif
