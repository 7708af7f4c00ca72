/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Trigger names: canonical names, aliases, and the parser of --trigger lists.
 * Names and aliases match case-insensitively (ASCII only), and spaces and tabs
 * around a name are ignored.
 */
#ifndef SNAPTRIG_TRIGGERS_H
#define SNAPTRIG_TRIGGERS_H

#include <stddef.h>

#include "snaptrig_abi.h"

/* The set selected when no --trigger is given. */
#define TRIGGERS_DEFAULT						\
	(ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) |				\
	 ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) |				\
	 ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON) |				\
	 ST_TRIG_BIT(ST_TRIG_IDLE) |					\
	 ST_TRIG_BIT(ST_TRIG_EXPLICIT))

#define TRIGGERS_ALL (ST_TRIG_BIT(ST_TRIG_COUNT) - 1)

/* Buffer size for trigger_list_parse() messages. Longer messages are cut. */
#define TRIGGER_ERROR_LEN 512

/* Buffer size large enough for trigger_mask_format() of TRIGGERS_ALL. */
#define TRIGGER_MASK_FORMAT_LEN 192

/* Returns the canonical name of t, or NULL when t is not a trigger. */
const char *trigger_name(enum st_trigger t);

/*
 * Looks up one canonical name or alias and stores its trigger in *out.
 * Returns 0, or -EINVAL for an unknown name. "default" and "all" are sets,
 * not triggers, so this function rejects them.
 */
int trigger_lookup(const char *name, enum st_trigger *out);

/*
 * Parses one comma-separated --trigger argument of names, aliases, "default"
 * and "all", and ORs the selected triggers into *mask. "default" and "all"
 * add only their members that are in available. A named trigger that is not
 * in available is an error.
 *
 * Returns 0, or -EINVAL with *mask unchanged and a one-line message in err,
 * without a program-name prefix, for example:
 *   invalid trigger 'foo': valid names are first-listen, ..., default, all
 *   trigger 'idle' is not available in this build
 *   empty trigger name in list 'idle,,sigint'
 * err may be NULL when err_len is 0.
 */
int trigger_list_parse(const char *list, __u32 available, __u32 *mask, char *err,
		       size_t err_len);

/*
 * Writes the canonical names of the triggers in mask, in canonical order and
 * separated by commas, into buf ("" for an empty mask). Bits that name no
 * trigger are ignored. Returns 0, or -ENOSPC when buf is too short, in which
 * case buf contains a cut string. buf is NUL-terminated whenever len > 0.
 */
int trigger_mask_format(__u32 mask, char *buf, size_t len);

#endif /* SNAPTRIG_TRIGGERS_H */
