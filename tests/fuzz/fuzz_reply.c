// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: one reply line of the --request-socket protocol. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot.h"

#define MESSAGE_CAP 501

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char prefix[] = "invalid reply: ";
	char message[MESSAGE_CAP];
	/* a copy without a NUL after it, so a read past size is caught by ASan */
	char *reply = malloc(size ? size : 1);
	size_t len = SIZE_MAX;
	bool ok;
	int err;

	if (!reply)
		return 0;
	memcpy(reply, data, size);
	err = snapshot_parse_reply(reply, size, &ok, message, sizeof(message), &len);
	if (err != 0 && strncmp(message, prefix, sizeof(prefix) - 1) != 0)
		abort();
	if (len >= sizeof(message) || message[len] != '\0')
		abort();
	free(reply);
	return 0;
}
