/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The once-triggers a running process had passed before snaptrig attached. */
#ifndef SNAPTRIG_PRIOR_H
#define SNAPTRIG_PRIOR_H

#include <sys/types.h>
#include "snaptrig_abi.h"

struct prior_state {
	struct st_listen_record listen;	/* the listening socket with the lowest fd */
	__u64 stdin_pos;		/* offset of a stdin file already read */
	int listening;
	int stdin_read;
};

/*
 * Reads the state letter of a /proc/PID/stat or /proc/PID/task/TID/stat file
 * at path. Returns 0 when the file cannot be read.
 */
char proc_stat_state(const char *path);
/*
 * Writes to dir the /proc directory that shows the descriptors, namespaces
 * and network files of process pid. That is /proc/PID unless the leader has
 * exited while other threads run (a zombie leader), which /proc/PID shows
 * none of. Then it is /proc/PID/task/TID of a live thread.
 */
void proc_live_dir(pid_t pid, char *dir, size_t size);
/*
 * Reads /proc for the selected once-triggers that pid is already past: a
 * listening TCP or unix socket, a stdin file whose offset is past its start.
 */
void prior_scan(pid_t pid, __u32 triggers, struct prior_state *p);
/* ST_TRIG_BIT of the once-triggers that p shows already happened. */
__u32 prior_once_bits(const struct prior_state *p);
/* Removes from p the ST_TRIG_BIT once-triggers in once, which the kernel reports itself. */
void prior_drop(struct prior_state *p, __u32 once);
/*
 * ST_TRIG_BIT of the selected once-triggers that may have happened before
 * the attach without a trace in /proc: their first line after the attach
 * carries "since":"attach".
 */
__u32 prior_unknown_bits(const struct prior_state *p, __u32 triggers);

#endif
