// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: the --exec template parser and its expansion. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template_values values = {
		.pid = "123", .tid = "124", .trigger = "first-listen", .seq = "7",
		.time = "2026-12-04T14:41:00.123456789Z",
	};
	char err[TEMPLATE_ERROR_LEN];
	struct template t;
	char **argv = NULL;
	char *text = malloc(size + 1);
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (template_parse(text, &t, err, sizeof(err)) == 0) {
		if (!t.count)
			abort();
		if (template_expand(&t, &values, &argv) == 0) {
			for (i = 0; i < t.count; i++)
				if (!argv[i])
					abort();
			if (argv[t.count])
				abort();
			template_argv_free(argv);
		}
		template_free(&t);
	} else if (!err[0]) {
		abort();
	}
	free(text);
	return 0;
}
