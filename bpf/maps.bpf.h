/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Maps shared by every BPF object of snaptrig. Each object declares them with
 * these definitions. The agent creates them with the main object and hands
 * their fds to the others with bpf_map__reuse_fd() before load, so all
 * programs filter on one procs map and write to one ring buffer.
 */
#ifndef SNAPTRIG_MAPS_BPF_H
#define SNAPTRIG_MAPS_BPF_H

#include "snaptrig_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_PROCS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct st_proc);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ST_RING_SIZE_DEFAULT);
} events SEC(".maps");

/* Records the ring buffer could not take, by st_record_kind, and ST_LOST_UNTRACED. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_LOST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Processes stopped by the kernel for a snapshot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct st_hold);
} holds SEC(".maps");

/*
 * Entry 0 becomes non-zero once bpf/guard.bpf.c has resumed every hold
 * because the agent and its watchdog are gone, or once the agent begins to
 * detach. No stop is made after that, and one made meanwhile takes itself
 * back.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} agent_gone SEC(".maps");

/*
 * Read-only tunables of every object. The agent writes them before load
 * with TUNABLES_SET() of agent/tunables.h, where a new one is
 * added too.
 */
const volatile __u32 targ_agent_tgid;
const volatile __u32 targ_freeze;		/* ST_TRIG_BIT mask of triggers that stop the process */
const volatile __u32 targ_triggers;		/* ST_TRIG_BIT mask */
const volatile __u64 targ_cooldown_ns = 1000000000ULL;
const volatile __u32 targ_calls_no_wakeup;	/* cooldown too short to wake per window */
const volatile __u32 targ_lazy_wakeup;		/* --lazy-wakeup: see submit_flags() */
const volatile __u64 targ_quiet_jiffies;	/* whole jiffies surely inside a window; 0: none */
const volatile __u64 targ_ring_size = ST_RING_SIZE_DEFAULT; /* bytes of the events ring buffer */
const volatile __u64 targ_cgroup_id;		/* kernfs id of the --cgroup target at start; 0: no --cgroup */
const volatile __u32 targ_cgroup_level;	/* its depth below the root of the hierarchy, not of a cgroup namespace */
const volatile __u32 targ_pidns_level;		/* level of the agent's pid namespace */
const volatile __u32 targ_task_btf_id;		/* kernel BTF id of task_struct for bpf_rdonly_cast(); 0: no cast */

/*
 * untrusted_task(task): the trusted BTF pointer task as an untrusted one.
 * Loads through it are the same instructions, and bpf_rdonly_cast()
 * becomes a register move. But on Linux 6.18 the verifier checks each load
 * of a pointer field through a trusted pointer by searching the kernel's
 * BTF for four type names, one type at a time
 * (btf_nested_type_is_trusted()). For the one such load inlined into most
 * programs, those searches took half of the verifier's time at start.
 * Helpers and kfuncs that need a trusted argument get task itself. The
 * type id comes from the agent, because libbpf relocates against a BTF of
 * its own (agent/corebtf.h), whose ids are not the kernel's.
 *
 * An object defines ST_UNTRUSTED_CAST before this header to get the cast.
 * libbpf keeps a writable copy of the BTF of an object that declares a kfunc,
 * 100 to 200 KiB of heap for as long as the object is open. So only the
 * objects where the cast saves the most use it.
 */
#ifdef ST_UNTRUSTED_CAST
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#define untrusted_task(task)						\
	((struct task_struct *)(targ_task_btf_id ?			\
				bpf_rdonly_cast((task), targ_task_btf_id) : (void *)(task)))
#else
#define untrusted_task(task) (task)
#endif

/*
 * Fills the pid namespace and cgroup fields of a header for task, whose
 * struct pid is pid at namespace level. ns_pid and ns_tid stay 0 unless that
 * namespace is deeper than the agent's, and cgroup_id stays 0 unless
 * --cgroup is on or the namespace is deeper.
 */
static __always_inline void header_ns_level(struct st_record_header *hdr, struct task_struct *task,
					    struct pid *pid, unsigned int level)
{
	bool deeper = level > targ_pidns_level;
	struct pid *leader;
	int nr = 0;

	hdr->ns_pid = 0;
	hdr->ns_tid = 0;
	hdr->cgroup_id = 0;
	if (deeper) {
		bpf_probe_read_kernel(&nr, sizeof(nr), &pid->numbers[level].nr);
		hdr->ns_tid = nr;
		leader = BPF_CORE_READ(task, group_leader, thread_pid);
		nr = 0;
		bpf_probe_read_kernel(&nr, sizeof(nr), &leader->numbers[level].nr);
		hdr->ns_pid = nr;
	}
	if (targ_cgroup_id || deeper)
		hdr->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
}

/* Fills the same fields for any task, with two probe reads on the common path. */
static __always_inline void header_ns(struct st_record_header *hdr, struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);

	header_ns_level(hdr, task, pid, BPF_CORE_READ(pid, level));
}

/*
 * Fills the same fields for the current task. Its BTF pointer is read with
 * plain loads, which cost a fraction of a probe read's helper call. Every
 * calls record takes this path.
 */
static __always_inline void header_ns_current(struct st_record_header *hdr)
{
	struct task_struct *task = untrusted_task(bpf_get_current_task_btf());
	struct pid *pid = task->thread_pid;

	header_ns_level(hdr, task, pid, pid->level);
}

static __always_inline struct st_proc *current_proc(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&procs, &tgid);
}

static __always_inline void count_lost(__u32 kind)
{
	__u64 *slot = bpf_map_lookup_elem(&lost, &kind);

	if (slot)
		__sync_fetch_and_add(slot, 1);
}

#define E2BIG_NUMBER 7

/*
 * Adds the entry of process tgid. When procs is full, counts the process
 * under ST_LOST_UNTRACED, which the agent reports.
 */
static __always_inline long add_proc(__u32 tgid, const struct st_proc *fresh)
{
	long err = bpf_map_update_elem(&procs, &tgid, fresh, BPF_NOEXIST);

	if (err == -E2BIG_NUMBER)
		count_lost(ST_LOST_UNTRACED);
	return err;
}

/*
 * Submit flag of the records that wake the agent: all but fork records and
 * flood-mode calls records. A fork record goes without a wakeup, because the
 * exec or exit that follows wakes the agent anyway. The ring buffer's own
 * rule (wake only for the first unread record) would then not wake the agent
 * for a record queued behind an unread fork record, so the records whose
 * lines matter at once force it.
 */
#define SUBMIT_WAKE BPF_RB_FORCE_WAKEUP

/*
 * Submit flag of a record with header flags hdr_flags that reports the
 * triggers in mask (ST_TRIG_BIT bits, 0 for none). With --lazy-wakeup only a
 * record that holds its process, or whose trigger the agent holds for
 * --freeze, wakes the agent, and the others wait for its drain. A wakeup
 * costs the traced process an interrupt through the hypervisor on a KVM
 * guest.
 */
static __always_inline __u64 submit_flags(__u32 hdr_flags, __u32 mask)
{
	if (!targ_lazy_wakeup || hdr_flags || (targ_freeze & mask))
		return SUBMIT_WAKE;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void *record_reserve(__u32 size, __u32 kind)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		count_lost(kind);
	return rec;
}

/* Fills a header for an event caused by the current task at boot time now. */
static __always_inline void header_current(struct st_record_header *hdr, __u32 kind,
					   __u32 size, __u64 now)
{
	__u64 id = bpf_get_current_pid_tgid();

	hdr->flags = 0;
	hdr->pad = 0;
	header_ns_current(hdr);
	hdr->boot_ns = now;
	hdr->kind = kind;
	hdr->pid = id >> 32;
	hdr->tid = (__u32)id;
	hdr->size = size;
	bpf_get_current_comm(hdr->comm, sizeof(hdr->comm));
}

static __always_inline void header_task(struct st_record_header *hdr, __u32 kind,
					__u32 size, struct task_struct *task, __u64 now)
{
	hdr->flags = 0;
	hdr->pad = 0;
	header_ns(hdr, task);
	hdr->boot_ns = now;
	hdr->kind = kind;
	hdr->pid = BPF_CORE_READ(task, tgid);
	hdr->tid = BPF_CORE_READ(task, pid);
	hdr->size = size;
	BPF_CORE_READ_STR_INTO(&hdr->comm, task, comm);
}

/*
 * Fills a header for an event of task, or of the current task when task is
 * NULL. now is the event's bpf_ktime_get_boot_ns(), passed in because a
 * clock read costs tens of nanoseconds and the caller may hold one already.
 */
static __always_inline void header_fill(struct st_record_header *hdr, __u32 kind, __u32 size,
					struct task_struct *task, __u64 now)
{
	if (task)
		header_task(hdr, kind, size, task, now);
	else
		header_current(hdr, kind, size, now);
}

/*
 * Reserves the record of a once-trigger. When the ring buffer is full the
 * trigger is kept in st_proc.once_lost, which the agent reads back, so a
 * once-trigger is never lost even when its record is.
 */
static __always_inline void *once_reserve(struct st_proc *proc, __u32 trigger, __u32 size,
					  __u32 kind)
{
	void *rec = record_reserve(size, kind);

	if (!rec)
		__sync_fetch_and_or(&proc->once_lost, ST_TRIG_BIT(trigger));
	return rec;
}

/* Sets a once bit; true only for the caller that set it first. */
static __always_inline bool once_claim(struct st_proc *proc, __u32 trigger)
{
	__u32 bit = ST_TRIG_BIT(trigger);

	if (proc->once & bit)
		return false;
	return !(__sync_fetch_and_or(&proc->once, bit) & bit);
}

#define SIGSTOP_NUMBER 19
#define SIGCONT_NUMBER 18

/*
 * Sends the SIGSTOP of a hold and returns 0 or a negative errno. An object
 * whose programs may run in a thread that cannot stop the process in time
 * defines its own before it includes this file.
 */
#ifndef hold_signal_send
#define hold_signal_send() bpf_send_signal(SIGSTOP_NUMBER)
#endif

/*
 * Stops the current process and records the hold under trigger, unless the
 * process is held already. bpf_send_signal() stops the current thread before
 * it returns to user space, so it runs no instruction past this point. The
 * other threads stop when they next return to user space. Returns true when
 * it stopped the process.
 */
static __always_inline bool stop_current(__u32 trigger)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct st_hold hold = {};
	__u32 zero = 0, *gone;

	/* a detaching agent serves no hold, and a gone one neither */
	gone = bpf_map_lookup_elem(&agent_gone, &zero);
	if (gone && *gone)
		return false;
	hold.since_ns = bpf_ktime_get_boot_ns();
	hold.trigger = trigger;
	hold.flags = ST_HOLD_STOP_PENDING;
	if (bpf_map_update_elem(&holds, &tgid, &hold, BPF_NOEXIST))
		return false;
	if (hold_signal_send()) {
		bpf_map_delete_elem(&holds, &tgid);
		return false;
	}
	/*
	 * The guard sets agent_gone before it walks holds, and this reads it
	 * after the entry and the stop, both with full barriers. So either the
	 * walk finds the entry and sends SIGCONT after the SIGSTOP, or this
	 * reads the flag set and takes the stop back.
	 */
	if (gone && __sync_fetch_and_add(gone, 0)) {
		bpf_map_delete_elem(&holds, &tgid);
		bpf_send_signal(SIGCONT_NUMBER);
		return false;
	}
	return true;
}

/*
 * Stops the current process, whose entry is proc, for a snapshot when
 * trigger is one that freezes and the process has requests left. Returns the
 * ST_RECORD_HELD flag for the record, or 0.
 */
static __always_inline __u32 hold_current(struct st_proc *proc, __u32 trigger)
{
	if (!(targ_freeze & ST_TRIG_BIT(trigger)))
		return 0;
	/*
	 * NOTE: a trigger that runs while the agent sets ST_PROC_NO_HOLD may
	 * still stop the process once. The agent then reports that trigger as
	 * skipped and resumes the process at once.
	 */
	if (proc->flags & ST_PROC_NO_HOLD)
		return 0;
	/* a trigger inside the snapshot cooldown can only be skipped */
	if (proc->hold_after_ns && bpf_ktime_get_boot_ns() < proc->hold_after_ns)
		return 0;
	return stop_current(trigger) ? ST_RECORD_HELD : 0;
}

/*
 * Stops the current process, as hold_current() does, for a once-trigger
 * whose record the ring buffer lost. The agent matches the hold entry with
 * the bit in st_proc.once_lost, so the snapshot is taken at the trigger point.
 */
static __always_inline void hold_lost_once(struct st_proc *proc, __u32 trigger)
{
	hold_current(proc, trigger);
}

/*
 * Whether the call opens a new cooldown window of class and sends a record,
 * at *now. Moves the window when it does.
 */
static __always_inline bool call_opens_window(struct st_proc *proc, __u32 class, __u64 *now)
{
	__u64 opened, jiffies = 0;

	/*
	 * Calls in most of a window end on a jiffies compare, because a clock
	 * read costs about 70 ns on a KVM guest. Jiffies stop during a suspend,
	 * so a window that spans one may end late.
	 */
	if (targ_quiet_jiffies) {
		jiffies = bpf_jiffies64();
		if ((__s64)(proc->quiet_until_jiffies[class] - jiffies) > 0)
			return false;
	}
	*now = bpf_ktime_get_boot_ns();
	opened = proc->window_ns[class];
	if (targ_cooldown_ns && opened && *now - opened < targ_cooldown_ns)
		return false;
	/*
	 * Keep the last quarter of the ring buffer for records that carry more
	 * than a count. Under a flood the calls stay in the counters, and the
	 * next calls record, the exit or the agent's once-a-second read of the
	 * counters brings them.
	 */
	/* NOTE: threads that pass this check together can still fill a small ring */
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > targ_ring_size / 4 * 3)
		return false;
	/*
	 * Two threads may race here, and only the one that moves the window sends.
	 * With no cooldown every call sends and nothing reads the window.
	 */
	if (targ_cooldown_ns &&
	    __sync_val_compare_and_swap(&proc->window_ns[class], opened, *now) != opened)
		return false;
	if (targ_quiet_jiffies)
		proc->quiet_until_jiffies[class] = jiffies + targ_quiet_jiffies;
	return true;
}

/*
 * Counts a non-deterministic or transaction call of proc, and sends a record
 * when the call opens a new cooldown window. via is the enum st_via path the
 * call took. The record names task, or the current task when task is NULL.
 */
static __always_inline int on_call_task(struct st_proc *proc, __u32 call, __u32 class, __u32 via,
					struct task_struct *task)
{
	__u32 trigger = class == ST_CLASS_TXN ? ST_TRIG_TRANSACTION : ST_TRIG_NON_DETERMINISTIC_CALL;
	struct st_calls_record *rec;
	__u64 now = 0;
	bool opens;

	if (call >= ST_COUNTED_CALLS || class >= ST_CLASS_COUNT)
		return 0;
	opens = call_opens_window(proc, class, &now);
	/*
	 * A call that opens a window counts after the window moved. So the
	 * agent's once-a-second read of the counters, which skips a class whose
	 * window is open, never takes it for a coalesced call.
	 */
	__sync_fetch_and_add(&proc->calls[call], 1);
	if (!opens)
		return 0;

	rec = record_reserve(sizeof(*rec), ST_REC_CALLS);
	if (!rec)
		return 0;
	header_fill(&rec->hdr, ST_REC_CALLS, sizeof(*rec), task, now);
	rec->hdr.flags = hold_current(proc, trigger);
	__builtin_memcpy(rec->calls, proc->calls, sizeof(rec->calls));
	rec->class = class;
	rec->call = call;
	rec->via = via;
	rec->pad = 0;
	bpf_ringbuf_submit(rec, targ_calls_no_wakeup ? BPF_RB_NO_WAKEUP :
			   submit_flags(rec->hdr.flags, ST_TRIG_BIT(trigger)));
	return 0;
}

static __always_inline int on_call_via(struct st_proc *proc, __u32 call, __u32 class, __u32 via)
{
	return on_call_task(proc, call, class, via, NULL);
}

static __always_inline int on_call(struct st_proc *proc, __u32 call, __u32 class)
{
	return on_call_via(proc, call, class, ST_VIA_SYSCALL);
}

#endif /* SNAPTRIG_MAPS_BPF_H */
