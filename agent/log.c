// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "log.h"

int log_level;
static int libbpf_quiet;

static void log_vprint(const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* one write per line, so lines from the agent never interleave */
	fprintf(stderr, "snaptrig: %s\n", line);
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
