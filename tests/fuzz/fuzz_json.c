// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: any bytes as JSON strings must give one valid line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks the UTF-8 of the output: the writer promises valid UTF-8 always. */
static int valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		size_t k;

		if (!n || i + n > len)
			return 0;
		for (k = 1; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += n;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_writer w;
	size_t i;

	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "s");
	json_string_len(&w, (const char *)data, size);
	json_key(&w, "a");
	json_array_begin(&w);
	json_string_len(&w, (const char *)data, size / 2);
	json_u64(&w, size);
	json_array_end(&w);
	json_object_end(&w);
	if (json_finish_line(&w) == 0) {
		if (!valid_utf8((const unsigned char *)w.buf, w.len))
			abort();
		/* a raw control byte inside the line would break line framing */
		for (i = 0; i + 1 < w.len; i++)
			if ((unsigned char)w.buf[i] < 0x20)
				abort();
		if (w.buf[w.len - 1] != '\n')
			abort();
	}
	json_writer_free(&w);
	return 0;
}
