/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The ia32 system call hook (bpf/compat.bpf.c): first-listen, first-stdin,
 * non-deterministic-call and transaction for the calls of 32-bit programs
 * and of int $0x80, which the syscall tracepoints never see.
 */
#ifndef SNAPTRIG_COMPAT_H
#define SNAPTRIG_COMPAT_H

#include <sys/types.h>
#include "tracer.h"

struct options;

/*
 * Prepares the ia32 hook when opts selects a trigger that it serves and
 * --ia32 is not off. With --ia32 on, it loads the hook on the maps of t's
 * main object and attaches it. With --ia32 auto, it only has the main object
 * stop 32-bit images at exec, and compat_attach() loads the hook later. It
 * never fails the agent: when the kernel rejects the hook it prints one line
 * with the reason, sets ST_VIA_IA32 in t->blind_vias and returns 0.
 */
int compat_open(struct tracer *t, const struct options *opts);
/* Loads the hook on its own maps and frees it, for --check; 0 or -errno. */
int compat_check(void);
/*
 * Attaches the hook once, and loads it first under --ia32 auto. Returns 0,
 * -ENOENT when there is none to attach, or -errno after the error message
 * of compat_open().
 */
int compat_attach(struct tracer *t);
/* Whether compat_attach() may still attach the hook. */
static inline int compat_waiting(const struct tracer *t)
{
	return t->compat_pending || (t->compat && !t->compat_attached);
}
/* Whether /proc/PID/exe, or COMMAND's file as execvp(3) finds it, is a 32-bit program. */
int process_is_ia32(pid_t pid);
int command_is_ia32(const char *file);
/* Detaches and frees the ia32 hook; accepts a tracer without it. */
void compat_close(struct tracer *t);

#endif
