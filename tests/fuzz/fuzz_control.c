// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: one line of the --control request protocol. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request req;
	char err[256];
	/* a copy without a NUL after it, so a read past len is caught by ASan */
	char *line = malloc(size ? size : 1);

	if (!line)
		return 0;
	memcpy(line, data, size);
	memset(&req, 0, sizeof(req));
	if (control_parse_request(line, size, &req, err, sizeof(err)) != 0 && !err[0])
		abort();
	free(line);
	return 0;
}
