// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "triggers.h"

/* Indexed by enum st_trigger. */
static const char *const canonical_names[ST_TRIG_COUNT] = {
	[ST_TRIG_FIRST_LISTEN] = "first-listen",
	[ST_TRIG_FIRST_STDIN] = "first-stdin",
	[ST_TRIG_FIRST_ENVIRON] = "first-environ",
	[ST_TRIG_FIRST_SIGINT] = "first-sigint",
	[ST_TRIG_IDLE] = "idle",
	[ST_TRIG_PERIODIC_INTERVAL] = "periodic-interval",
	[ST_TRIG_SIGINT] = "sigint",
	[ST_TRIG_SIGALRM] = "sigalrm",
	[ST_TRIG_SIGTSTP] = "sigtstp",
	[ST_TRIG_SIGSTOP] = "sigstop",
	[ST_TRIG_NON_DETERMINISTIC_CALL] = "non-deterministic-call",
	[ST_TRIG_BOOTSTRAP] = "bootstrap",
	[ST_TRIG_TRANSACTION] = "transaction",
	[ST_TRIG_EXPLICIT] = "explicit",
};

struct trigger_alias {
	const char *name;
	enum st_trigger trigger;
};

/* The aliases of the Wasmer runtime's snapshot trigger names. */
static const struct trigger_alias aliases[] = {
	{ "first-intr", ST_TRIG_FIRST_SIGINT },
	{ "first-ctrlc", ST_TRIG_FIRST_SIGINT },
	{ "first-ctrl-c", ST_TRIG_FIRST_SIGINT },
	{ "intr", ST_TRIG_SIGINT },
	{ "ctrlc", ST_TRIG_SIGINT },
	{ "ctrl-c", ST_TRIG_SIGINT },
	{ "alarm", ST_TRIG_SIGALRM },
	{ "timer", ST_TRIG_SIGALRM },
	{ "ctrlz", ST_TRIG_SIGTSTP },
	{ "ctrl-z", ST_TRIG_SIGTSTP },
	{ "stop", ST_TRIG_SIGSTOP },
};

const char *trigger_name(enum st_trigger t)
{
	if ((unsigned int)t >= ST_TRIG_COUNT)
		return NULL;
	return canonical_names[t];
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char ascii_lower(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	return c;
}

/* Compares name[0..len) to the lower-case word, ignoring ASCII case. */
static bool name_equals(const char *name, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (word[i] == '\0' || ascii_lower(name[i]) != word[i])
			return false;
	}
	return word[len] == '\0';
}

/* Shrinks [*start, *start + *len) to drop spaces and tabs at both ends. */
static void trim_blanks(const char **start, size_t *len)
{
	while (*len > 0 && is_blank(**start)) {
		(*start)++;
		(*len)--;
	}
	while (*len > 0 && is_blank((*start)[*len - 1]))
		(*len)--;
}

/* Looks up a trimmed name of len bytes among canonical names and aliases. */
static int lookup_span(const char *name, size_t len, enum st_trigger *out)
{
	size_t i;

	for (i = 0; i < ST_TRIG_COUNT; i++) {
		if (name_equals(name, len, canonical_names[i])) {
			*out = (enum st_trigger)i;
			return 0;
		}
	}
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (name_equals(name, len, aliases[i].name)) {
			*out = aliases[i].trigger;
			return 0;
		}
	}
	return -EINVAL;
}

int trigger_lookup(const char *name, enum st_trigger *out)
{
	size_t len;

	if (!name)
		return -EINVAL;

	len = strlen(name);
	trim_blanks(&name, &len);
	return lookup_span(name, len, out);
}

/* Writes the message for an unknown name, listing every accepted word. */
static void format_unknown(const char *item, size_t len, char *err, size_t err_len)
{
	size_t used;
	int n;
	size_t i;

	n = snprintf(err, err_len, "invalid trigger '%.*s': valid names are ", (int)len, item);
	if (n < 0 || (size_t)n >= err_len)
		return;

	used = (size_t)n;
	for (i = 0; i < ST_TRIG_COUNT; i++) {
		n = snprintf(err + used, err_len - used, "%s, ", canonical_names[i]);
		if (n < 0 || (size_t)n >= err_len - used)
			return;
		used += (size_t)n;
	}
	snprintf(err + used, err_len - used, "default, all");
}

/*
 * Adds the triggers of one trimmed, non-empty list item to *mask.
 * Returns 0, or -EINVAL with a message in err.
 */
static int parse_item(const char *item, size_t len, __u32 available, __u32 *mask,
		      char *err, size_t err_len)
{
	enum st_trigger t;

	if (name_equals(item, len, "default")) {
		*mask |= TRIGGERS_DEFAULT & available;
		return 0;
	}
	if (name_equals(item, len, "all")) {
		*mask |= TRIGGERS_ALL & available;
		return 0;
	}

	if (lookup_span(item, len, &t)) {
		format_unknown(item, len, err, err_len);
		return -EINVAL;
	}

	if (!(available & ST_TRIG_BIT(t))) {
		snprintf(err, err_len, "trigger '%s' is not available in this build",
			 canonical_names[t]);
		return -EINVAL;
	}

	*mask |= ST_TRIG_BIT(t);
	return 0;
}

int trigger_list_parse(const char *list, __u32 available, __u32 *mask, char *err,
		       size_t err_len)
{
	const char *item;
	__u32 selected = 0;
	int err_code;

	if (!list)
		list = "";

	item = list;
	for (;;) {
		const char *comma = strchr(item, ',');
		size_t len = comma ? (size_t)(comma - item) : strlen(item);
		const char *name = item;

		trim_blanks(&name, &len);
		if (len == 0) {
			snprintf(err, err_len, "empty trigger name in list '%s'", list);
			return -EINVAL;
		}

		err_code = parse_item(name, len, available, &selected, err, err_len);
		if (err_code)
			return err_code;

		if (!comma)
			break;
		item = comma + 1;
	}

	*mask |= selected;
	return 0;
}

int trigger_mask_format(__u32 mask, char *buf, size_t len)
{
	size_t used = 0;
	size_t i;

	if (len == 0)
		return -ENOSPC;

	buf[0] = '\0';
	for (i = 0; i < ST_TRIG_COUNT; i++) {
		const char *sep = used ? "," : "";
		int n;

		if (!(mask & ST_TRIG_BIT(i)))
			continue;

		n = snprintf(buf + used, len - used, "%s%s", sep, canonical_names[i]);
		if (n < 0 || (size_t)n >= len - used)
			return -ENOSPC;
		used += (size_t)n;
	}
	return 0;
}
