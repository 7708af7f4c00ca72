/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The io_uring BPF object (bpf/uring.bpf.c): first-listen, first-stdin,
 * non-deterministic-call and transaction for requests that a traced process
 * submits through io_uring, for which no system call tracepoint fires.
 */
#ifndef SNAPTRIG_URING_H
#define SNAPTRIG_URING_H

#include <stdbool.h>
#include <sys/types.h>

struct tracer;
struct options;

/*
 * Opens, configures, loads and attaches the io_uring programs when opts
 * selects a trigger they serve and this kernel has the io_uring tracepoints,
 * sharing the maps of t's main object. A failure is no error: it logs one
 * line with the reason and sets ST_VIA_IO_URING in t->blind_vias. Returns 0.
 */
int uring_open(struct tracer *t, const struct options *opts);
/*
 * Whether this kernel's BTF has the kfuncs that let an io worker send the
 * SIGSTOP of a --freeze hold to the process's leader (Linux 6.13 and later).
 */
bool uring_signal_task_exists(void);
/* Detaches and frees the io_uring programs; accepts a tracer without them. */
void uring_close(struct tracer *t);

/*
 * Loads and attaches the io_uring programs on their own, reading the task
 * through task_btf_id as a run does (0: without the cast), then frees them.
 * Returns 0 or -errno.
 */
int uring_check(__u32 task_btf_id);

#endif
