// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "log.h"

int log_level;
static int libbpf_quiet;

/*
 * Copies line to out with each byte outside printable ASCII as \xNN, so that
 * a path or reply with a newline or control bytes keeps its message on one
 * line. The message text itself is printable ASCII and stays as it is.
 */
static void escape_line(char *out, const char *line)
{
	const unsigned char *p;

	for (p = (const unsigned char *)line; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			out += sprintf(out, "\\x%02x", *p);
		else
			*out++ = *p;
	}
	*out = '\0';
}

static void log_vprint(const char *fmt, va_list ap)
{
	char line[1024], escaped[sizeof(line) * 4];

	vsnprintf(line, sizeof(line), fmt, ap);
	escape_line(escaped, line);
	/* one write per line, so lines from the agent never interleave */
	fprintf(stderr, "snaptrig: %s\n", escaped);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(fmt, ap);
	va_end(ap);
}

void log_info(int level, const char *fmt, ...)
{
	va_list ap;

	if (log_level < level)
		return;
	va_start(ap, fmt);
	log_vprint(fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (libbpf_quiet)
		return 0;
	if (level == LIBBPF_DEBUG && log_level < 3)
		return 0;
	if (level == LIBBPF_INFO && log_level < 2)
		return 0;
	if (level == LIBBPF_WARN && log_level < 1)
		return 0;
	/* libbpf's messages start with "libbpf: " themselves */
	return vfprintf(stderr, fmt, ap);
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

void log_quiet_libbpf(int quiet)
{
	libbpf_quiet = quiet;
}
