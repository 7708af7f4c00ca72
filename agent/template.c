// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "template.h"

static const char *const placeholder_names[] = { "pid", "tid", "trigger", "seq", "time" };
#define PLACEHOLDER_COUNT (sizeof(placeholder_names) / sizeof(placeholder_names[0]))

struct word_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Makes room for one more character and the NUL; an empty word gets its NUL. */
static int word_reserve(struct word_buf *w)
{
	if (w->len + 2 > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 32;
		char *grown = realloc(w->data, cap);

		if (!grown)
			return -ENOMEM;
		w->data = grown;
		w->cap = cap;
	}
	w->data[w->len] = '\0';
	return 0;
}

static int word_push(struct word_buf *w, char ch)
{
	if (word_reserve(w))
		return -ENOMEM;
	w->data[w->len++] = ch;
	w->data[w->len] = '\0';
	return 0;
}

static int words_push(struct template *t, struct word_buf *w)
{
	char **grown = realloc(t->words, (t->count + 2) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	t->words = grown;
	if (word_reserve(w))
		return -ENOMEM;
	t->words[t->count++] = w->data;
	t->words[t->count] = NULL;
	memset(w, 0, sizeof(*w));
	return 0;
}

/* Returns the index of the placeholder at s ("{name}..."), or -1. */
static int placeholder_at(const char *s, size_t *len)
{
	size_t i;

	for (i = 0; i < PLACEHOLDER_COUNT; i++) {
		size_t n = strlen(placeholder_names[i]);

		if (s[0] == '{' && !strncmp(s + 1, placeholder_names[i], n) && s[n + 1] == '}') {
			*len = n + 2;
			return (int)i;
		}
	}
	return -1;
}

/* Characters of a rejected word that an error message quotes at most. */
#define QUOTE_MAX 40

/*
 * Writes to err why the '{' at brace starts no placeholder, and returns
 * -EINVAL. The brace is unbalanced when another '{' or the end of the word
 * comes before a '}'.
 */
static int reject_brace(const char *brace, char *err, size_t err_len)
{
	int name_end = 1 + (int)strcspn(brace + 1, "{}");
	int closed = brace[name_end] == '}';
	int shown = name_end + closed;
	/* a long word is cut, so that the hint after it always fits in err */
	const char *cut = shown > QUOTE_MAX ? "..." : "";

	if (shown > QUOTE_MAX)
		shown = QUOTE_MAX;
	if (!closed) {
		snprintf(err, err_len,
			 "unbalanced brace '%.*s%s' without a closing '}' in its word (a placeholder such as {pid} has no spaces; write {{ for a literal brace)",
			 shown, brace, cut);
		return -EINVAL;
	}
	snprintf(err, err_len,
		 "unknown placeholder '%.*s%s' (use {pid}, {tid}, {trigger}, {seq}, {time}, or {{ for a brace)",
		 shown, brace, cut);
	return -EINVAL;
}

static int check_placeholders(const char *word, char *err, size_t err_len)
{
	size_t len;

	for (; *word; word++) {
		if (word[0] == '{' && word[1] == '{') {
			word++;
			continue;
		}
		if (*word != '{')
			continue;
		if (placeholder_at(word, &len) < 0)
			return reject_brace(word, err, err_len);
		word += len - 1;
	}
	return 0;
}

/* Splits text into words; quote state is one of 0, '\'' or '"'. */
static int split_words(const char *text, struct template *t, char *err, size_t err_len)
{
	struct word_buf w = {};
	int in_word = 0, err_code = 0;
	char quote = 0;
	const char *p;

	for (p = text; *p && !err_code; p++) {
		char ch = *p;

		if (quote == '\'') {
			if (ch == '\'')
				quote = 0;
			else
				err_code = word_push(&w, ch);
			continue;
		}
		if (quote == '"') {
			if (ch == '"') {
				quote = 0;
			} else if (ch == '\\' && p[1] == '\n') {
				p++;	/* a line continuation, as in sh */
			} else if (ch == '\\' && p[1] && strchr("\"\\$`", p[1])) {
				err_code = word_push(&w, *++p);
			} else {
				err_code = word_push(&w, ch);
			}
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\n') {
			if (in_word)
				err_code = words_push(t, &w);
			in_word = 0;
			continue;
		}
		in_word = 1;
		if (ch == '\'' || ch == '"') {
			quote = ch;
		} else if (ch == '\\' && p[1] == '\n') {
			p++;	/* a line continuation joins the two lines */
			in_word = w.len > 0;
		} else if (ch == '\\') {
			if (!p[1]) {
				snprintf(err, err_len, "trailing backslash");
				err_code = -EINVAL;
			} else {
				err_code = word_push(&w, *++p);
			}
		} else {
			err_code = word_push(&w, ch);
		}
	}
	if (!err_code && quote) {
		snprintf(err, err_len, "unbalanced %s quote", quote == '"' ? "double" : "single");
		err_code = -EINVAL;
	}
	if (!err_code && in_word)
		err_code = words_push(t, &w);
	free(w.data);
	return err_code;
}

int template_parse(const char *text, struct template *t, char *err, size_t err_len)
{
	size_t i;
	int ret;

	memset(t, 0, sizeof(*t));
	if (err_len)
		err[0] = '\0';
	ret = split_words(text, t, err, err_len);
	if (!ret && !t->count) {
		snprintf(err, err_len, "no command in the template");
		ret = -EINVAL;
	}
	for (i = 0; !ret && i < t->count; i++)
		ret = check_placeholders(t->words[i], err, err_len);
	if (ret)
		template_free(t);
	return ret;
}

void template_quote(const char *text, char out[TEMPLATE_QUOTE_LEN])
{
	size_t len = strlen(text);

	if (len <= TEMPLATE_QUOTE_MAX) {
		memcpy(out, text, len + 1);
		return;
	}
	memcpy(out, text, TEMPLATE_QUOTE_MAX);
	strcpy(out + TEMPLATE_QUOTE_MAX, "...");
}

void template_free(struct template *t)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		free(t->words[i]);
	free(t->words);
	t->words = NULL;
	t->count = 0;
}

static const char *value_of(const struct template_values *v, int index)
{
	const char *values[PLACEHOLDER_COUNT] = { v->pid, v->tid, v->trigger, v->seq, v->time };

	return values[index] ? values[index] : "";
}

static char *expand_word(const char *word, const struct template_values *v)
{
	struct word_buf out = {};
	size_t len;
	int index;

	for (; *word; word++) {
		if ((word[0] == '{' || word[0] == '}') && word[1] == word[0]) {
			if (word_push(&out, *word++))
				goto fail;
			continue;
		}
		index = *word == '{' ? placeholder_at(word, &len) : -1;
		if (index >= 0) {
			const char *value = value_of(v, index);

			for (; *value; value++)
				if (word_push(&out, *value))
					goto fail;
			word += len - 1;
			continue;
		}
		if (word_push(&out, *word))
			goto fail;
	}
	if (word_reserve(&out))
		goto fail;
	return out.data;
fail:
	free(out.data);
	return NULL;
}

int template_expand(const struct template *t, const struct template_values *values,
		    char ***argv)
{
	char **out = calloc(t->count + 1, sizeof(*out));
	size_t i;

	if (!out)
		return -ENOMEM;
	for (i = 0; i < t->count; i++) {
		out[i] = expand_word(t->words[i], values);
		if (!out[i]) {
			template_argv_free(out);
			return -ENOMEM;
		}
	}
	*argv = out;
	return 0;
}

void template_argv_free(char **argv)
{
	size_t i;

	if (!argv)
		return;
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}
