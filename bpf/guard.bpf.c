// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Resumes the held processes when the agent and its watchdog are both gone.
 *
 * The watchdog resumes them when the agent dies, but a service manager that
 * kills the agent's cgroup kills the watchdog too, and then nothing would
 * send SIGCONT. This program runs at the exit of either of the two. When the
 * other one is gone or dying as well, it sets agent_gone and sends SIGCONT to
 * every process in holds that no other process stopped. While the watchdog lives,
 * it leaves the work to the watchdog, which first kills the checkpointers
 * that would go on dumping a running process.
 *
 * The watchdog keeps this program's link open, so the program still runs at
 * the watchdog's exit after the agent died. It needs the kfuncs
 * bpf_task_from_pid() and bpf_send_signal_task() (Linux 6.13), and the agent
 * runs with the watchdog alone where they are missing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "maps.bpf.h"

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				u64 value) __ksym;

/* tgid of the watchdog, written by the agent once it has started it */
__u32 watchdog_tgid;

#define PF_EXITING_FLAG 0x00000004	/* PF_EXITING of include/linux/sched.h */
#define SIGNAL_GROUP_EXIT_FLAG 0x00000004	/* SIGNAL_GROUP_EXIT of include/linux/sched/signal.h */

/* Whether tgid is a process that is neither exiting nor killed. */
static bool process_lives(__u32 tgid)
{
	struct task_struct *task = bpf_task_from_pid((s32)tgid);
	bool lives;

	if (!task)
		return false;
	lives = !(task->flags & PF_EXITING_FLAG) && !task->exit_state &&
		!(BPF_CORE_READ(task, signal, flags) & SIGNAL_GROUP_EXIT_FLAG);
	bpf_task_release(task);
	return lives;
}

static long resume_one(void *map, __u32 *tgid, struct st_hold *hold, void *ctx)
{
	struct task_struct *task;

	/* a process that someone else stopped stays stopped */
	if (hold->flags & ST_HOLD_FOREIGN_STOP)
		return 0;
	task = bpf_task_from_pid((s32)*tgid);
	if (!task)
		return 0;
	bpf_send_signal_task(task, SIGCONT_NUMBER, PIDTYPE_TGID, 0);
	bpf_task_release(task);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(guard_exit, struct task_struct *task)
{
	__u32 tgid = task->tgid, other, zero = 0, *gone;

	/* the leader's exit: the whole process is going */
	if (task->pid != tgid)
		return 0;
	if (tgid == targ_agent_tgid)
		other = watchdog_tgid;
	else if (watchdog_tgid && tgid == watchdog_tgid)
		other = targ_agent_tgid;
	else
		return 0;
	if (other && process_lives(other))
		return 0;
	gone = bpf_map_lookup_elem(&agent_gone, &zero);
	if (gone)
		__sync_fetch_and_or(gone, 1);
	bpf_for_each_map_elem(&holds, resume_one, NULL, 0);
	return 0;
}
