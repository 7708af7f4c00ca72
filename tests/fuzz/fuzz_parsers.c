// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: trigger lists and durations from the command line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "duration.h"
#include "triggers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char err[TRIGGER_ERROR_LEN], why[DURATION_ERROR_LEN], back[DURATION_FORMAT_LEN];
	__u32 mask = 0;
	__u64 ns, again;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (trigger_list_parse(text, TRIGGERS_ALL, &mask, err, sizeof(err)) == 0 &&
	    (mask & ~TRIGGERS_ALL))
		abort();
	if (duration_parse(text, &ns) == 0) {
		/* a parsed duration formats back to a string that parses to the same value */
		if (duration_format(ns, back, sizeof(back)) || duration_parse(back, &again) ||
		    again != ns)
			abort();
	} else {
		duration_error(text, why, sizeof(why));
		if (!why[0])
			abort();
	}
	free(text);
	return 0;
}
