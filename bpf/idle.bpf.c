// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The idle trigger: a process is idle once every thread has been blocked
 * (not runnable) for the idle threshold.
 *
 * Design. The kernel keeps the state and makes the decision, so the agent
 * does no polling and the latency is that of one hrtimer:
 *  - idle_threads contains one entry per thread of an idle-tracked process,
 *    keyed by tid, with whether the thread is runnable. Every update is an
 *    exchange of that state, and the process's count of runnable threads
 *    changes only when the state really changes. Duplicate events (a wakeup
 *    of a task that never slept, a second switch-out) therefore cannot make
 *    the count drift, and a thread that exits runnable gives its count back.
 *  - idle_procs contains, per tgid, that count, the boot time at which the
 *    count last reached zero, and a bpf_timer. The thread whose block makes
 *    the count zero arms the timer for one threshold unless it is armed
 *    already. When the timer fires and the process is still idle, it either
 *    sends an ST_REC_IDLE record (at most one per idle period) or re-arms
 *    for the rest of the period, because threads may have run and blocked
 *    again meanwhile. So a process that blocks and wakes all the time costs
 *    one timer start per threshold, not one per block.
 * sched_switch and sched_wakeup run for every task on the machine. A
 * preempted task returns before any lookup. For the others, idle_filter (one
 * bit per tgid, read without a helper call because the verifier inlines
 * array lookups) rejects untracked processes before the idle_procs lookup.
 *
 * The agent seeds the threads that exist when it starts tracking a process
 * through the idle_seed program (BPF_PROG_TEST_RUN), so the count and the
 * entries change only inside the kernel, with atomic operations.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "maps.bpf.h"

#define TASK_RUNNING_STATE 0x0000	/* TASK_RUNNING of include/linux/sched.h */
#define TASK_DEAD_STATE 0x0080		/* TASK_DEAD */
#define PF_EXITING_FLAG 0x00000004	/* PF_EXITING */
#define CLOCK_BOOTTIME_ID 7		/* CLOCK_BOOTTIME of <time.h> */
#define ENOENT_ERR 2
#define ESRCH_ERR 3
#define EBUSY_ERR 16
#define EEXIST_ERR 17
#define EINVAL_ERR 22

/* Set by the agent before load. */
const volatile __u32 targ_follow = 1;		/* track children at fork */
const volatile __u64 targ_idle_threshold_ns = 1000000000ULL;

/* Idle timers that could not be armed, which the agent arms again from user space. */
__u64 timer_failures;

/* Idle state of one process; only the programs of this file use it. */
struct idle_proc {
	struct bpf_timer timer;
	__u64 idle_since_ns;	/* boot ns when the count last reached 0, or tracking began */
	__u64 fired_since_ns;	/* idle_since_ns of the idle period already reported */
	__s32 running;		/* threads that are runnable or running */
	__u32 armed;		/* 1 while the timer is pending */
	__u32 last_tid;		/* thread whose block started the idle period */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_PROCS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct idle_proc);
} idle_procs SEC(".maps");

/*
 * Bit tgid % 64 of word tgid / 64 is set while idle_procs may have an entry
 * for tgid. The agent sizes it to pid_max; a tgid beyond it is looked up in
 * idle_procs directly. A bit left set only costs that lookup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} idle_filter SEC(".maps");

/* Key tid, value 1 when the thread is runnable, 0 when it is blocked. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u32);
} idle_threads SEC(".maps");

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

/*
 * Starts the timer in delay_ns unless it is pending already. Returns 0 or
 * the -errno of bpf_timer_start(), which is -EINVAL for a timer that was
 * never initialized.
 */
static __always_inline long timer_arm(struct idle_proc *proc, __u64 delay_ns)
{
	long err;

	if (*(volatile __u32 *)&proc->armed || __sync_lock_test_and_set(&proc->armed, 1))
		return 0;
	err = bpf_timer_start(&proc->timer, delay_ns ? delay_ns : 1, 0);
	if (err)
		proc->armed = 0;
	return err;
}

/*
 * Returns a reference to the thread the idle line names: the one whose block
 * started the idle period, or the leader when that one is gone (*tid then
 * changes to the leader's).
 */
static __always_inline struct task_struct *idle_task(__u32 tgid, __u32 *tid)
{
	struct task_struct *task = bpf_task_from_pid(*tid);

	if (task && task->tgid != tgid) {
		bpf_task_release(task);
		task = NULL;
	}
	if (!task) {
		*tid = tgid;
		task = bpf_task_from_pid(tgid);
	}
	return task;
}

static __always_inline void idle_send(__u32 tgid, struct idle_proc *proc, __u64 since,
				      __u64 now)
{
	struct st_idle_record *rec;
	struct task_struct *task;
	__u32 tid = proc->last_tid;

	task = idle_task(tgid, &tid);
	if (!task)
		return;
	rec = record_reserve(sizeof(*rec), ST_REC_IDLE);
	if (!rec) {
		bpf_task_release(task);
		return;
	}
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->hdr.boot_ns = now;
	rec->hdr.kind = ST_REC_IDLE;
	rec->hdr.pid = tgid;
	rec->hdr.tid = tid;
	rec->hdr.size = sizeof(*rec);
	bpf_probe_read_kernel_str(rec->hdr.comm, sizeof(rec->hdr.comm), task->comm);
	header_ns(&rec->hdr, task);
	rec->idle_since_ns = since;
	/* live threads: nr_threads counts a leader that exited until the process is reaped */
	rec->threads = BPF_CORE_READ(task, signal, live.counter);
	bpf_task_release(task);
	bpf_ringbuf_submit(rec, submit_flags(0, ST_TRIG_BIT(ST_TRIG_IDLE)));
}

/* Whether thread tid of tgid, or the leader when tid is gone, is runnable. */
static __always_inline bool thread_runnable(__u32 tgid, __u32 tid)
{
	struct task_struct *task = idle_task(tgid, &tid);
	bool runnable;

	if (!task)
		return false;
	runnable = task->__state == TASK_RUNNING_STATE;
	bpf_task_release(task);
	return runnable;
}

/*
 * Sends the idle record of tgid when its period has lasted the threshold,
 * and returns 1 then. With rearm, as in the timer callback, it arms the
 * timer again for a period that is not due yet or that starts again.
 */
static __always_inline int idle_check(__u32 tgid, struct idle_proc *proc, bool rearm)
{
	__u64 now = bpf_ktime_get_boot_ns();
	__u64 since, due;

	if (*(volatile __s32 *)&proc->running != 0)
		return 0;
	since = *(volatile __u64 *)&proc->idle_since_ns;
	if (since == proc->fired_since_ns)
		return 0;
	due = since + targ_idle_threshold_ns;
	if (now < due) {
		if (rearm)
			timer_arm(proc, due - now);
		return 0;
	}
	/*
	 * A process stopped for a snapshot is blocked by snaptrig itself; an idle
	 * line would ask for another snapshot. Its threads wake when it is
	 * resumed, and the idle period after that counts.
	 */
	if (bpf_map_lookup_elem(&holds, &tgid))
		return 0;
	/*
	 * A runnable thread whose wakeup was not seen: the period starts again.
	 * NOTE: only the thread whose block began the period is checked here.
	 */
	if (thread_runnable(tgid, proc->last_tid)) {
		__sync_val_compare_and_swap(&proc->idle_since_ns, since, now);
		if (rearm)
			timer_arm(proc, targ_idle_threshold_ns);
		return 0;
	}
	proc->fired_since_ns = since;
	idle_send(tgid, proc, since, now);
	return 1;
}

/*
 * Timer callback. It clears armed before it reads the count: a thread that
 * blocks after the clear arms the timer itself, and one that blocked before
 * it is seen here, so no idle period is left without a pending timer.
 */
static int idle_timer_fired(void *map, __u32 *key, struct idle_proc *proc)
{
	__sync_lock_test_and_set(&proc->armed, 0);
	idle_check(*key, proc, true);
	return 0;
}

/*
 * Initializes the timer of proc. bpf_timer_init() allocates, and on Linux
 * 6.18 that allocation may fail with -ENOMEM where a sleeping one would not,
 * so proc_start() can leave the timer unset. -EBUSY means it is set already.
 */
static __always_inline long timer_setup(struct idle_proc *proc)
{
	long err = bpf_timer_init(&proc->timer, &idle_procs, CLOCK_BOOTTIME_ID);

	if (err && err != -EBUSY_ERR)
		return err;
	return bpf_timer_set_callback(&proc->timer, idle_timer_fired);
}

/* timer_arm() that first initializes a timer that proc_start() left unset. */
static __always_inline long timer_arm_setup(struct idle_proc *proc, __u64 delay_ns)
{
	long err = timer_arm(proc, delay_ns);

	if (err == -EINVAL_ERR) {
		err = timer_setup(proc);
		if (!err)
			err = timer_arm(proc, delay_ns);
	}
	if (err)
		__sync_fetch_and_add(&timer_failures, 1);
	return err;
}

static __always_inline struct idle_proc *proc_lookup(__u32 tgid)
{
	__u32 slot = tgid / 64;
	__u64 *word = bpf_map_lookup_elem(&idle_filter, &slot);

	if (word && !(*word & (1ULL << (tgid % 64))))
		return NULL;
	return bpf_map_lookup_elem(&idle_procs, &tgid);
}

/* Creates the entry of tgid, which counts as idle from now until a thread wakes. */
static __always_inline int proc_start(__u32 tgid, __u64 now)
{
	struct idle_proc fresh = {};
	struct idle_proc *proc;
	__u32 slot = tgid / 64;
	__u64 *word;

	/* the bit goes first, so no event finds the entry filtered out */
	word = bpf_map_lookup_elem(&idle_filter, &slot);
	if (word)
		__sync_fetch_and_or(word, 1ULL << (tgid % 64));
	fresh.idle_since_ns = now;
	fresh.last_tid = tgid;
	if (bpf_map_update_elem(&idle_procs, &tgid, &fresh, BPF_NOEXIST))
		return -EEXIST_ERR;
	proc = bpf_map_lookup_elem(&idle_procs, &tgid);
	if (!proc)
		return -ENOENT_ERR;
	/* a timer left unset here is set up when it is first armed */
	timer_setup(proc);
	return 0;
}

/*
 * Starts an idle period of proc at now, begun by thread tid. A racing wakeup
 * and block on another CPU may have stored a later time already. Keeping the
 * later one means an idle period is never dated early.
 */
static __always_inline void period_start(struct idle_proc *proc, __u32 tid, __u64 now)
{
	__u64 since = proc->idle_since_ns;

	if (now > since)
		__sync_val_compare_and_swap(&proc->idle_since_ns, since, now);
	proc->last_tid = tid;
	timer_arm_setup(proc, targ_idle_threshold_ns);
}

/* A runnable thread blocked or left: the process may be idle from now. */
static __always_inline void proc_thread_stopped(struct idle_proc *proc, __u32 tid, __u64 now)
{
	if (__sync_fetch_and_add(&proc->running, -1) == 1)
		period_start(proc, tid, now);
}

/*
 * A thread that the map shows blocked is switching out, so it ran, and its
 * wakeup was not seen. The process was not idle before now, whatever the
 * count shows, so an idle period starts again now.
 */
static __always_inline void proc_thread_ran(struct idle_proc *proc, __u32 tid, __u64 now)
{
	if (*(volatile __s32 *)&proc->running == 0)
		period_start(proc, tid, now);
}

/*
 * Records that thread tid is runnable or blocked. An unknown thread gets an
 * entry only when create is set: the switch-out and wakeups of a thread
 * that is already exiting must not bring back the entry its exit removed.
 */
static __always_inline void thread_set(struct idle_proc *proc, __u32 tid, __u32 runnable,
				       int create)
{
	__u32 *state = bpf_map_lookup_elem(&idle_threads, &tid);
	long err;

	if (!state) {
		if (!create)
			return;
		err = bpf_map_update_elem(&idle_threads, &tid, &runnable, BPF_NOEXIST);
		if (err != -EEXIST_ERR) {
			/*
			 * A runnable thread counts even when the full map has no room
			 * for its entry. NOTE: its process then never looks idle again,
			 * which is safer than looking idle while a thread runs.
			 */
			if (runnable)
				__sync_fetch_and_add(&proc->running, 1);
			else
				proc_thread_ran(proc, tid, bpf_ktime_get_boot_ns());
			return;
		}
		/* the agent's seeding or another CPU created it meanwhile */
		state = bpf_map_lookup_elem(&idle_threads, &tid);
		if (!state)
			return;
	}
	if (*state == runnable || __sync_lock_test_and_set(state, runnable) == runnable) {
		if (!runnable)
			proc_thread_ran(proc, tid, bpf_ktime_get_boot_ns());
		return;
	}
	if (runnable)
		__sync_fetch_and_add(&proc->running, 1);
	else
		proc_thread_stopped(proc, tid, bpf_ktime_get_boot_ns());
}

/*
 * Removes the entry of thread tid of tgid. The exchange decides which of two
 * racing callers gives back the count of a runnable thread.
 */
static __always_inline void thread_forget(__u32 tgid, __u32 tid)
{
	__u32 *state = bpf_map_lookup_elem(&idle_threads, &tid);
	struct idle_proc *proc;
	__u32 was_runnable;

	if (!state)
		return;
	was_runnable = __sync_lock_test_and_set(state, 0);
	bpf_map_delete_elem(&idle_threads, &tid);
	if (!was_runnable)
		return;
	proc = bpf_map_lookup_elem(&idle_procs, &tgid);
	if (proc)
		proc_thread_stopped(proc, tid, bpf_ktime_get_boot_ns());
}

static __always_inline struct idle_proc *task_proc(struct task_struct *task)
{
	return proc_lookup(task->tgid);
}

/*
 * prev_state is TASK_RUNNING when prev stays runnable: it was preempted, it
 * yielded, or a pending signal cancelled its sleep. With preempt set, prev
 * stays on the run queue whatever its state. TASK_DEAD marks the last switch
 * of an exited thread, which sched_process_exit has handled.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	struct idle_proc *proc;

	if (preempt || prev_state == TASK_RUNNING_STATE || (prev_state & TASK_DEAD_STATE))
		return 0;
	proc = task_proc(prev);
	if (!proc)
		return 0;
	thread_set(proc, prev->pid, 0, !(prev->flags & PF_EXITING_FLAG));
	return 0;
}

static __always_inline int on_wakeup(struct task_struct *task)
{
	struct idle_proc *proc = task_proc(task);

	if (!proc)
		return 0;
	thread_set(proc, task->pid, 1, !(task->flags & PF_EXITING_FLAG));
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(handle_sched_wakeup, struct task_struct *task)
{
	return on_wakeup(task);
}

/* A new thread or process becomes runnable for the first time. */
SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(handle_sched_wakeup_new, struct task_struct *task)
{
	return on_wakeup(task);
}

/* New processes of tracked ones are tracked too; new threads start at wakeup_new. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ctgid = child->tgid;

	if (!targ_follow || ctgid != child->pid || ctgid == targ_agent_tgid)
		return 0;
	if (!task_proc(parent))
		return 0;
	proc_start(ctgid, bpf_ktime_get_boot_ns());
	return 0;
}

/*
 * A thread that exits gives back its count if it was runnable. The thread
 * entry is looked up first because a sibling's exit may have removed the
 * process entry already, and the thread entry must go all the same.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_sched_process_exit, struct task_struct *task)
{
	__u32 tid = task->pid, tgid = task->tgid;

	thread_forget(tgid, tid);
	/* the last thread: signal->live is already decremented */
	if (BPF_CORE_READ(task, signal, live.counter) == 0 && proc_lookup(tgid)) {
		__u32 slot = tgid / 64;
		__u64 *word = bpf_map_lookup_elem(&idle_filter, &slot);

		bpf_map_delete_elem(&idle_procs, &tgid);
		if (word)
			__sync_fetch_and_and(word, ~(1ULL << (tgid % 64)));
	}
	return 0;
}

/*
 * An exec from a non-leader thread gives that thread the leader's pid, after
 * the old leader has exited, so its entry moves to the new tid. The thread is
 * running: the new entry counts before the old one is removed, and the count
 * never passes through zero.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_sched_process_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u32 tid = task->pid, old_tid = old_pid;
	struct idle_proc *proc;

	if (old_tid == tid)
		return 0;
	proc = task_proc(task);
	if (!proc)
		return 0;
	thread_set(proc, tid, 1, 1);
	thread_forget(task->tgid, old_tid);
	return 0;
}

/* Seeding, run by the agent with BPF_PROG_TEST_RUN; returns 0 or -errno. */

static __always_inline int seed_thread(struct idle_proc *proc, const struct st_idle_seed *args)
{
	__u32 tid = args->tid, runnable = !!args->runnable;
	struct task_struct *task;
	int err = 0;

	task = bpf_task_from_pid(tid);
	if (!task)
		return -ESRCH_ERR;
	if (task->tgid != args->tgid || (task->flags & PF_EXITING_FLAG)) {
		err = -ESRCH_ERR;
		goto out;
	}
	/* an entry that exists came from an event, which is newer than /proc */
	if (bpf_map_update_elem(&idle_threads, &tid, &runnable, BPF_NOEXIST)) {
		err = -EEXIST_ERR;
		goto out;
	}
	if (runnable)
		__sync_fetch_and_add(&proc->running, 1);
	/*
	 * exit_signals() sets PF_EXITING before sched_process_exit runs. A thread
	 * that began to exit after the check above may have passed that hook
	 * before the insert, so the entry would stay forever: take it back. If
	 * the hook comes later, it finds no entry and changes nothing.
	 */
	if (BPF_CORE_READ(task, flags) & PF_EXITING_FLAG) {
		thread_forget(args->tgid, tid);
		err = -ESRCH_ERR;
	}
out:
	bpf_task_release(task);
	return err;
}

SEC("syscall")
int idle_seed(struct st_idle_seed *args)
{
	__u64 now = bpf_ktime_get_boot_ns();
	__u32 tgid = args->tgid;
	struct idle_proc *proc;
	__u64 due;

	if (args->op == ST_IDLE_SEED_PROC)
		return proc_start(tgid, now);
	proc = proc_lookup(tgid);
	if (!proc)
		return -ENOENT_ERR;
	switch (args->op) {
	case ST_IDLE_SEED_THREAD:
		return seed_thread(proc, args);
	case ST_IDLE_SEED_ARM:
		/* threads blocked before tracking began count as blocked since then */
		if (*(volatile __s32 *)&proc->running != 0)
			return 0;
		due = proc->idle_since_ns + targ_idle_threshold_ns;
		return timer_arm_setup(proc, due > now ? due - now : 1);
	case ST_IDLE_SEED_CHECK:
		return idle_check(tgid, proc, false);
	}
	return -EINVAL_ERR;
}
