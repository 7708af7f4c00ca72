// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: ring buffer records. The kernel writes them, but the
 * decoder must still reject anything malformed without reading past it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"
#include "emit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int read_calls(void *ctx, __u32 pid, __u64 *calls, __u64 *windows)
{
	memset(calls, 0, sizeof(__u64) * ST_COUNTED_CALLS);
	memset(windows, 0, sizeof(__u64) * ST_CLASS_COUNT);
	return 0;
}

static void count_line(void *ctx, const struct line *line)
{
	(*(size_t *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct classifier c;
	size_t lines = 0;
	void *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	classifier_init(&c, TRIGGERS_ALL, 1000, 1000000);
	c.emit = count_line;
	c.ctx = &lines;
	c.read_calls = read_calls;
	classifier_record(&c, copy, size);
	classifier_tick(&c, ~0ULL);
	classifier_free(&c);
	free(copy);
	return 0;
}
