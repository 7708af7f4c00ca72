/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The idle trigger's BPF object (bpf/idle.bpf.c): loading it, and seeding
 * the threads of each process the agent starts to trace. The kernel decides
 * when a process is idle and sends ST_REC_IDLE records, which the classifier
 * turns into idle lines like any other record.
 */
#ifndef SNAPTRIG_IDLE_H
#define SNAPTRIG_IDLE_H

#include <stddef.h>
#include <linux/types.h>
#include <sys/types.h>

struct tracer;
struct options;

/* Meaning for idle of a thread's state letter in /proc/PID/task/TID/stat. */
enum idle_thread_state {
	IDLE_THREAD_BLOCKED,	/* S, D, T, t, I, P, ...: not runnable */
	IDLE_THREAD_RUNNABLE,	/* R: running or waiting for a CPU */
	IDLE_THREAD_GONE,	/* Z, X: exited, will never run again */
};

/*
 * Parses the contents of a /proc/PID/task/TID/stat file (len bytes, not
 * NUL-terminated). Returns an enum idle_thread_state, or -EINVAL when the
 * text has no state after the command name.
 */
int idle_thread_state_parse(const char *stat, size_t len);

/*
 * Opens, configures, loads and attaches the idle programs when opts selects
 * idle, sharing the maps of t's main object; does nothing otherwise. Returns
 * 0 or -errno after printing what failed.
 */
int idle_open(struct tracer *t, const struct options *opts);
/* Detaches and frees the idle programs; accepts a tracer without them. */
void idle_close(struct tracer *t);

/*
 * Starts idle tracking of process pid: its threads that are blocked now
 * count as blocked from now. Returns 0 (also when idle is off or the kernel
 * tracks pid already, as for a child added at fork) or -errno.
 */
int idle_add(struct tracer *t, pid_t pid);
/*
 * Whether every thread of pid has stayed blocked since its last idle record:
 * the idle period that record reported still goes on. 0 when unknown.
 */
int idle_reported(struct tracer *t, pid_t pid);
/*
 * Arms again the idle timers that the kernel failed to allocate or arm, at
 * most one pass per 100 ms, and does the timer's work for those it still
 * cannot arm. now is boot_now_ns(). The agent calls it after each wakeup.
 */
void idle_retry_timers(struct tracer *t, __u64 now);

/* Whether idle_retry_timers() has work: a failure since its last pass, or a timer left unarmed. */
int idle_retry_pending(const struct tracer *t);

/* Stops idle tracking of pid. */
void idle_remove(struct tracer *t, pid_t pid);

/* Loads and attaches the idle programs on their own, then detaches. 0 or -errno. */
int idle_check(void);

#endif
