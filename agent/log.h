/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Diagnostics on stderr: one error helper and verbosity levels. */
#ifndef SNAPTRIG_LOG_H
#define SNAPTRIG_LOG_H

/* Verbosity: 0 errors only, 1 progress, 2 details, 3 libbpf debug output. */
extern int log_level;

/* Print "snaptrig: " and the formatted message to stderr. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, when log_level >= level. */
void log_info(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Install the libbpf print callback; call before the first libbpf call. */
void log_setup_libbpf(void);
/* Silence libbpf while probing for features that are expected to fail. */
void log_quiet_libbpf(int quiet);

#endif
