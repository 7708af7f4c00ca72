/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The ia32 system call hook (bpf/compat.bpf.c): first-listen, first-stdin,
 * non-deterministic-call and transaction for the calls of 32-bit programs
 * and of int $0x80, which the syscall tracepoints never see.
 */
#ifndef SNAPTRIG_COMPAT_H
#define SNAPTRIG_COMPAT_H

#include <sys/types.h>

struct tracer;
struct options;

/*
 * Opens, configures and loads the ia32 hook when opts selects a trigger it
 * serves and --ia32 is not off, sharing the maps of t's main object, and
 * attaches it with --ia32 on. It never fails the agent: when the kernel
 * rejects the hook it prints one line with the reason, sets ST_VIA_IA32
 * in t->blind_vias and returns 0 all the same.
 */
int compat_open(struct tracer *t, const struct options *opts);
/* Loads the hook on its own maps and frees it, for --check; 0 or -errno. */
int compat_check(void);
/* Attaches the loaded hook once; 0, -ENOENT when none is loaded, or -errno. */
int compat_attach(struct tracer *t);
/* Whether /proc/PID/exe, or COMMAND's file as execvp(3) finds it, is a 32-bit program. */
int process_is_ia32(pid_t pid);
int command_is_ia32(const char *file);
/* Detaches and frees the ia32 hook; accepts a tracer without it. */
void compat_close(struct tracer *t);

#endif
