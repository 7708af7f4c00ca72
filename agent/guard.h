/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The kernel side of the watchdog: bpf/guard.bpf.c resumes the held
 * processes when the agent and its watchdog are both gone.
 */
#ifndef SNAPTRIG_GUARD_H
#define SNAPTRIG_GUARD_H

#include <sys/types.h>

struct guard_bpf;
struct tracer;

/*
 * Loads and attaches the guard program on t's shared maps. Returns NULL,
 * after a message at -v, where the kernel lacks what it needs.
 */
struct guard_bpf *guard_open(struct tracer *t);
/* The fd of the guard's link, which the watchdog keeps open, or -1. */
int guard_link_fd(const struct guard_bpf *g);
/* Names the watchdog, whose exit the guard watches as it watches the agent's. */
void guard_set_watchdog(struct guard_bpf *g, pid_t watchdog);
/* Loads the guard on maps of its own, for --check. Returns 0 or -errno. */
int guard_check(void);
/* Detaches the guard. Accepts NULL. */
void guard_close(struct guard_bpf *g);

#endif
