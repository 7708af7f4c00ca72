// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Kernel side of snaptrig. Every program first looks up the calling (or
 * target) process in the procs map and returns at once when it is not
 * traced, so untraced processes pay one hash lookup on the hooked calls.
 * Once-per-process triggers are decided here with an atomic test-and-set on
 * st_proc.once, so no duplicate crosses the ring buffer. Coalesced calls are
 * counted here and only the first call of each cooldown window sends a
 * record; the agent reads the counters for the rest.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ST_UNTRUSTED_CAST	/* see untrusted_task() in maps.bpf.h */
#include "fds.bpf.h"
#include "images.bpf.h"

/* Set by the agent before load. */
const volatile __u32 targ_follow = 1;		/* add children at fork */

/*
 * Set by the agent while the ia32 hook is loaded but not attached
 * (--ia32 auto): a traced exec of a 32-bit image then stops until the
 * agent has attached it, so that the image's first system call is seen.
 */
__u32 ia32_exec_hold;

/*
 * Set by the agent while it attaches uprobes to the images that traced
 * processes run (markers, first-environ). A traced exec of an image that
 * is not in images, or an mmap(2) of such a library, then stops until the
 * agent has examined the file, so that a marker or a getenv call right
 * after the load is seen.
 */
__u32 image_hold;

#define MS_SYNC_FLAG 4			/* MS_SYNC of <sys/mman.h> */
#define SIGNAL_GROUP_EXIT_FLAG 0x00000004
#define SEND_SIG_PRIV_PTR 1UL		/* SEND_SIG_PRIV of include/linux/sched/signal.h */
#define SI_USER_CODE 0
#define SI_KERNEL_CODE 0x80
#define SI_QUEUE_CODE (-1)
#define SI_TIMER_CODE (-2)
#define SI_ASYNCIO_CODE (-4)
#define SI_SIGIO_CODE (-5)
#define SI_TKILL_CODE (-6)
#define SI_DETHREAD_CODE (-7)
#define SIGNAL_IGNORED 1		/* TRACE_SIGNAL_IGNORED */
#define TS_COMPAT_FLAG 0x0002		/* TS_COMPAT of arch/x86/include/asm/thread_info.h */
#define ENOENT_ERR 2

/*
 * Whether the current task sent a signal with si_code code. kill(2) gives
 * SI_USER, and rt_sigqueueinfo(2) to another process takes any negative code
 * but SI_TKILL, so current is the sender of those, as for SI_TKILL and for
 * SI_MESGQ (mq_timedsend). The kernel generates SI_TIMER (posix timers, from
 * timer interrupts), SI_ASYNCIO (usbfs URB completion) and SI_SIGIO (F_SETSIG
 * from kill_fasync) where current is not the sender, and reserves SI_DETHREAD
 * for exec, so those codes get no sender even from rt_sigqueueinfo(2).
 */
static __always_inline bool sent_by_current(int code)
{
	if (code == SI_USER_CODE)
		return true;
	if (code >= 0)
		return false;
	return code != SI_TIMER_CODE && code != SI_ASYNCIO_CODE && code != SI_SIGIO_CODE &&
	       code != SI_DETHREAD_CODE;
}

/*
 * A listen(2) in progress, by thread. The line is sent at the exit, once
 * the call has succeeded and, on a socket with no port yet, bound one.
 */
struct listen_call {
	__s32 fd;
	__s32 backlog;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct listen_call);
} listen_calls SEC(".maps");

SEC("tp/syscalls/sys_enter_listen")
int handle_listen(struct trace_event_raw_sys_enter *ctx)
{
	struct st_proc *proc = current_proc();
	int fd = (int)ctx->args[0];
	struct file *file;

	if (!proc || (proc->once & ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN)))
		return 0;
	file = current_fd_file(fd);
	/* a listen on anything but a socket fails with ENOTSOCK */
	if (file && (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT_BITS) == S_IFSOCK_BITS) {
		struct listen_call call = { .fd = fd, .backlog = (int)ctx->args[1] };
		__u32 tid = (__u32)bpf_get_current_pid_tgid();

		bpf_map_update_elem(&listen_calls, &tid, &call, BPF_ANY);
	}
	return 0;
}

SEC("tp/syscalls/sys_exit_listen")
int handle_exit_listen(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct listen_call *call = bpf_map_lookup_elem(&listen_calls, &tid);
	struct st_proc *proc;
	struct listen_call copy;

	if (!call)
		return 0;
	copy = *call;
	bpf_map_delete_elem(&listen_calls, &tid);
	proc = current_proc();
	if (!proc || ctx->ret != 0 || (proc->once & ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN)))
		return 0;
	listen_send(proc, current_fd_file(copy.fd), copy.fd, copy.backlog, ST_VIA_SYSCALL);
	return 0;
}

/*
 * Whether the offset that ptr points to in user memory is negative, which
 * fails before reading (EINVAL, or EOVERFLOW for copy_file_range). An offset
 * that cannot be read here counts as not negative.
 */
static __always_inline bool user_offset_negative(__u64 ptr)
{
	__s64 offset = 0;

	if (!ptr || bpf_probe_read_user(&offset, sizeof(offset), (const void *)ptr))
		return false;
	return offset < 0;
}

/*
 * Sends first-stdin when a read-family call on descriptor fd reads stdin's
 * file, at an explicit offset when at_offset. out_fd is the output of
 * sendfile, splice and tee, which decides whether they can read, and
 * user_offset the user pointer to the input offset of splice, sendfile and
 * copy_file_range. The other calls pass -1 and 0.
 */
static __always_inline int on_read(int fd, __u32 call, bool at_offset, int out_fd,
				   __u64 user_offset)
{
	struct st_proc *proc = current_proc();
	struct file *file;

	if (!proc || !stdin_pending(proc) || !maybe_stdin(proc, fd))
		return 0;
	file = current_fd_file(fd);
	if (!file_is_stdin(proc, file) || !stdin_call_reads(file, call, at_offset))
		return 0;
	if (!transfer_reads(file, call, out_fd >= 0 ? current_fd_file(out_fd) : NULL))
		return 0;
	if (user_offset_negative(user_offset))
		return 0;
	stdin_send(proc, fd, call, ST_VIA_SYSCALL);
	return 0;
}

#define READ_HOOK(name, call)						\
SEC("tp/syscalls/sys_enter_" #name)					\
int handle_##name(struct trace_event_raw_sys_enter *ctx)		\
{									\
	return on_read((int)ctx->args[0], call, false, -1, 0);		\
}

/*
 * A read at the offset in argument 3. A negative offset fails with EINVAL
 * before reading.
 */
#define PREAD_HOOK(name, call)						\
SEC("tp/syscalls/sys_enter_" #name)					\
int handle_##name(struct trace_event_raw_sys_enter *ctx)		\
{									\
	if ((long)ctx->args[3] < 0)					\
		return 0;						\
	return on_read((int)ctx->args[0], call, true, -1, 0);		\
}

READ_HOOK(read, ST_CALL_READ)
READ_HOOK(readv, ST_CALL_READV)
PREAD_HOOK(pread64, ST_CALL_PREAD64)
PREAD_HOOK(preadv, ST_CALL_PREADV)

/* preadv2 with offset -1 reads at the file position, as readv does */
SEC("tp/syscalls/sys_enter_preadv2")
int handle_preadv2(struct trace_event_raw_sys_enter *ctx)
{
	long offset = (long)ctx->args[3];

	if (offset < -1)
		return 0;
	return on_read((int)ctx->args[0], ST_CALL_PREADV2, offset != -1, -1, 0);
}

READ_HOOK(recvfrom, ST_CALL_RECVFROM)

SEC("tp/syscalls/sys_enter_recvmsg")
int handle_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct st_proc *proc = current_proc();
	int fd = (int)ctx->args[0];

	if (!proc || !stdin_pending(proc))
		return 0;
	note_control_message(proc, (const struct user_msghdr *)ctx->args[1]);
	if (maybe_stdin(proc, fd) && fd_reads_stdin(proc, fd, ST_CALL_RECVMSG, false))
		stdin_send(proc, fd, ST_CALL_RECVMSG, ST_VIA_SYSCALL);
	return 0;
}

SEC("tp/syscalls/sys_enter_recvmmsg")
int handle_recvmmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct st_proc *proc = current_proc();
	int fd = (int)ctx->args[0];

	if (!proc || !stdin_pending(proc))
		return 0;
	/* the first message's header stands for the batch */
	note_control_message(proc, &((const struct mmsghdr *)ctx->args[1])->msg_hdr);
	if (maybe_stdin(proc, fd) && fd_reads_stdin(proc, fd, ST_CALL_RECVMMSG, false))
		stdin_send(proc, fd, ST_CALL_RECVMMSG, ST_VIA_SYSCALL);
	return 0;
}

/*
 * Calls that move stdin's data elsewhere read it too. splice(fd_in, off_in,
 * ...) and sendfile(out_fd, in_fd, offset, ...) read at an offset when its
 * pointer is not NULL.
 */
SEC("tp/syscalls/sys_enter_splice")
int handle_splice(struct trace_event_raw_sys_enter *ctx)
{
	return on_read((int)ctx->args[0], ST_CALL_SPLICE, ctx->args[1] != 0, (int)ctx->args[2],
		       ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_sendfile64")
int handle_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	return on_read((int)ctx->args[1], ST_CALL_SENDFILE, ctx->args[2] != 0, (int)ctx->args[0],
		       ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_tee")
int handle_tee(struct trace_event_raw_sys_enter *ctx)
{
	return on_read((int)ctx->args[0], ST_CALL_TEE, false, (int)ctx->args[1], 0);
}

/* a negative input offset fails with EOVERFLOW before reading (Linux 6.18) */
SEC("tp/syscalls/sys_enter_copy_file_range")
int handle_copy_file_range(struct trace_event_raw_sys_enter *ctx)
{
	return on_read((int)ctx->args[0], ST_CALL_COPY_FILE_RANGE, ctx->args[1] != 0, -1,
		       ctx->args[1]);
}

/* New descriptors that may refer to stdin */

#define DUP_HOOK(name)							\
SEC("tp/syscalls/sys_exit_" #name)					\
int handle_exit_##name(struct trace_event_raw_sys_exit *ctx)		\
{									\
	struct st_proc *proc = current_proc();				\
									\
	if (proc)							\
		note_stdin_fd(proc, ctx->ret);				\
	return 0;							\
}

DUP_HOOK(dup)
DUP_HOOK(dup2)
DUP_HOOK(dup3)
/* a descriptor copied from another process, which may be its stdin */
DUP_HOOK(pidfd_getfd)
/* fcntl returns a descriptor for F_DUPFD; for other commands, a number that is checked like one */
DUP_HOOK(fcntl)

/* non-deterministic-call and transaction */

static __always_inline int on_current_call(__u32 call, __u32 class)
{
	struct st_proc *proc = current_proc();

	if (!proc)
		return 0;
	return on_call(proc, call, class);
}

#define CALL_HOOK(name, call, class)					\
SEC("tp/syscalls/sys_enter_" #name)					\
int handle_##name(struct trace_event_raw_sys_enter *ctx)		\
{									\
	return on_current_call(call, class);				\
}

CALL_HOOK(getrandom, ST_CALL_GETRANDOM, ST_CLASS_NONDET)
CALL_HOOK(clock_gettime, ST_CALL_CLOCK_GETTIME, ST_CLASS_NONDET)
CALL_HOOK(gettimeofday, ST_CALL_GETTIMEOFDAY, ST_CLASS_NONDET)
CALL_HOOK(time, ST_CALL_TIME, ST_CLASS_NONDET)
CALL_HOOK(fsync, ST_CALL_FSYNC, ST_CLASS_TXN)
CALL_HOOK(fdatasync, ST_CALL_FDATASYNC, ST_CLASS_TXN)
CALL_HOOK(syncfs, ST_CALL_SYNCFS, ST_CLASS_TXN)
CALL_HOOK(sync, ST_CALL_SYNC, ST_CLASS_TXN)

/*
 * Without SYNC_FILE_RANGE_WAIT_AFTER, sync_file_range(2) only starts the
 * write-out, as redis does every 4 MiB of a dump, so it makes nothing durable.
 */
SEC("tp/syscalls/sys_enter_sync_file_range")
int handle_sync_file_range(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[3] & SFR_WAIT_AFTER_FLAG))
		return 0;
	return on_current_call(ST_CALL_SYNC_FILE_RANGE, ST_CLASS_TXN);
}

SEC("tp/syscalls/sys_enter_msync")
int handle_msync(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[2] & MS_SYNC_FLAG))
		return 0;
	return on_current_call(ST_CALL_MSYNC, ST_CLASS_TXN);
}

/* An open counts when the new descriptor is /dev/random or /dev/urandom. */
static __always_inline int on_open_exit(long ret)
{
	struct st_proc *proc = current_proc();

	if (!proc || ret < 0)
		return 0;
	return open_result(proc, ret, NULL, ST_VIA_SYSCALL, NULL);
}

#define OPEN_HOOK(name)							\
SEC("tp/syscalls/sys_exit_" #name)					\
int handle_exit_##name(struct trace_event_raw_sys_exit *ctx)		\
{									\
	return on_open_exit(ctx->ret);					\
}

OPEN_HOOK(open)
OPEN_HOOK(openat)
OPEN_HOOK(openat2)

/* signals */

static __always_inline __u32 signal_trigger_bits(int sig)
{
	switch (sig) {
	case 2:  /* SIGINT */
		return ST_TRIG_BIT(ST_TRIG_SIGINT) | ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT);
	case 14: /* SIGALRM */
		return ST_TRIG_BIT(ST_TRIG_SIGALRM);
	case 20: /* SIGTSTP */
		return ST_TRIG_BIT(ST_TRIG_SIGTSTP);
	case 19: /* SIGSTOP */
		return ST_TRIG_BIT(ST_TRIG_SIGSTOP);
	}
	return 0;
}

/*
 * Returns the trigger that a --freeze stop for signal sig is recorded under,
 * or ST_TRIG_COUNT for none, since SIGTSTP and SIGSTOP stop the process
 * themselves. first is set for the first SIGINT that a handler takes.
 */
static __always_inline __u32 signal_hold_trigger(int sig, __u32 first)
{
	if (sig == 2 && first && (targ_freeze & ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT)))
		return ST_TRIG_FIRST_SIGINT;
	if (sig == 2)
		return ST_TRIG_SIGINT;
	if (sig == 14)
		return ST_TRIG_SIGALRM;
	return ST_TRIG_COUNT;
}

static __always_inline bool is_stop_signal(int sig)
{
	return sig == 19 || sig == 20 || sig == 21 || sig == 22; /* STOP, TSTP, TTIN, TTOU */
}

#define SIG_IGN_HANDLER ((void *)1)	/* SIG_IGN of <signal.h> */

/*
 * Whether task is ptraced and ignores sig. The kernel then reports the signal
 * as delivered, because the tracer is notified of ignored signals too, but discards it
 * after the tracer lets it through, as it would for an untraced process. A
 * blocked signal stays pending in both cases, so it is not ignored here.
 */
static __always_inline bool ignored_under_ptrace(struct task_struct *task, int sig)
{
	struct sighand_struct *sighand;
	void *handler = NULL;
	__u64 blocked;

	if (sig < 1 || sig > 64 || !BPF_CORE_READ(task, ptrace))
		return false;
	sighand = BPF_CORE_READ(task, sighand);
	bpf_core_read(&handler, sizeof(handler), &sighand->action[sig - 1].sa.sa_handler);
	if (handler != SIG_IGN_HANDLER)
		return false;
	blocked = BPF_CORE_READ(task, blocked.sig[0]) | BPF_CORE_READ(task, real_blocked.sig[0]);
	return !(blocked & (1ULL << (sig - 1)));
}

#define ANCESTRY_DEPTH 8

/*
 * Process groups of the agent's checkpointers, by pgid. The agent adds each
 * checkpointer's group when it starts it and removes the group once no
 * process is left in it. A process in one counts as a checkpointer after its
 * parent died, as gdb does when a timeout ends the gcore script above it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} checkpointer_groups SEC(".maps");

/*
 * Whether the current task is one of the agent's checkpointers: an untraced
 * descendant of the agent, or a process in a checkpointer's process group.
 * gdb's PTRACE_ATTACH stops the process with a SIGSTOP of its own, and that
 * stop belongs to the snapshot. The launched COMMAND's tree descends from
 * the agent too, but it is traced, and its stops count as someone else's.
 */
static __always_inline bool current_from_agent(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 pgid = BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID], numbers[0].nr);
	int i;

	if (bpf_map_lookup_elem(&checkpointer_groups, &pgid))
		return true;
	for (i = 0; i < ANCESTRY_DEPTH && task; i++) {
		__u32 tgid = BPF_CORE_READ(task, tgid);

		if (tgid == targ_agent_tgid)
			return true;
		if (bpf_map_lookup_elem(&procs, &tgid))
			return false;
		if (tgid <= 1)
			break;
		task = BPF_CORE_READ(task, real_parent);
	}
	return false;
}

/*
 * Tells the kernel's own SIGSTOP of a hold, and the stops of the agent's
 * checkpointers, from anyone else's stop signal. Returns true for those,
 * which are no trigger. A stop from
 * someone else marks the hold, so the agent leaves the process stopped.
 */
static __always_inline bool note_stop_while_held(__u32 tgid, int sig)
{
	struct st_hold *hold = bpf_map_lookup_elem(&holds, &tgid);

	if (!hold)
		return false;
	if (sig == SIGSTOP_NUMBER && (hold->flags & ST_HOLD_STOP_PENDING)) {
		__sync_fetch_and_and(&hold->flags, ~ST_HOLD_STOP_PENDING);
		return true;
	}
	if (current_from_agent())
		return true;
	__sync_fetch_and_or(&hold->flags, ST_HOLD_FOREIGN_STOP);
	return false;
}

/*
 * Whether the current task is one of the agent's checkpointers and generated
 * signal sig with si_code code, which then belongs to the snapshot and is no
 * trigger. gdb's PTRACE_ATTACH stops each thread with an SI_KERNEL SIGSTOP
 * in gdb's context. Other SI_KERNEL signals, such as a timer's or a
 * terminal's, run in whatever task is current, so they never count. The
 * signals of the agent itself, such as a SIGINT it passes on, are triggers.
 */
static __always_inline bool sent_by_checkpointer(int sig, __s32 code)
{
	if (!sent_by_current(code) && !(sig == SIGSTOP_NUMBER && code == SI_KERNEL_CODE))
		return false;
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) == targ_agent_tgid)
		return false;
	return current_from_agent();
}

/*
 * Marks the hold of tgid when a SIGCONT comes from anyone but the agent
 * itself, its checkpointers included: the process may then have run during
 * its snapshot. gdb's gcore sends none.
 */
static __always_inline void note_cont_while_held(__u32 tgid)
{
	struct st_hold *hold = bpf_map_lookup_elem(&holds, &tgid);

	if (hold && (__u32)(bpf_get_current_pid_tgid() >> 32) != targ_agent_tgid)
		__sync_fetch_and_or(&hold->flags, ST_HOLD_FOREIGN_CONT);
}

/*
 * Notes when a signal that the agent passes on to a launched COMMAND was
 * generated for a traced process. When a whole process group is signalled,
 * COMMAND has its copy already when the agent reads its own. The agent finds
 * the fresh time and does not send a second one.
 */
/*
 * SIGINT, SIGTERM and SIGHUP that traced processes sent themselves, keyed by
 * tgid. A kill(2) of a whole process group signals its sender too, and the
 * agent looks its own copy's sender up here, as that sender may have exited
 * by then. LRU, because nothing deletes the entries.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct st_self_signals);
} self_signals SEC(".maps");

static __always_inline void note_self_signal(__u32 tgid, __u32 slot, __u64 now)
{
	struct st_self_signals *seen = bpf_map_lookup_elem(&self_signals, &tgid);
	struct st_self_signals fresh = {};

	if (slot >= ST_PASS_COUNT)
		return;
	if (seen) {
		seen->ns[slot] = now;
		return;
	}
	fresh.ns[slot] = now;
	bpf_map_update_elem(&self_signals, &tgid, &fresh, BPF_ANY);
}

static __always_inline void count_passed_on(__u32 tgid, int sig, __s32 code)
{
	struct st_proc *proc;
	__u32 slot, sender = 0;
	__u64 now;

	if (sig == 2)
		slot = ST_PASS_SIGINT;
	else if (sig == 15)
		slot = ST_PASS_SIGTERM;
	else if (sig == 1)
		slot = ST_PASS_SIGHUP;
	else
		return;
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc)
		return;
	/* kill(2) and sigqueue(3) run in the sender's context */
	if (code == SI_USER_CODE || code == SI_QUEUE_CODE)
		sender = bpf_get_current_pid_tgid() >> 32;
	now = bpf_ktime_get_boot_ns();
	proc->passed_on_by[slot] = sender;
	proc->passed_on_ns[slot] = now;
	if (sender == tgid)
		note_self_signal(tgid, slot, now);
}

/* NOTE: the kernel skips this program, uncounted, for a few signals that timers send */
SEC("tp_btf/signal_generate")
int BPF_PROG(handle_signal_generate, int sig, struct kernel_siginfo *info,
	     struct task_struct *task, int group, int result)
{
	struct st_signal_record *rec;
	struct st_proc *proc;
	__u32 tgid, first = 0;
	__s32 code;

	/* SEND_SIG_NOINFO (0) means a process sent it; SEND_SIG_PRIV the kernel */
	if (!info)
		code = SI_USER_CODE;
	else if ((unsigned long)info == SEND_SIG_PRIV_PTR)
		code = SI_KERNEL_CODE;
	else
		code = BPF_CORE_READ(info, si_code);
	tgid = BPF_CORE_READ(task, tgid);
	count_passed_on(tgid, sig, code);
	/* SIGCONT resumes a stopped process even when its result is "ignored" */
	if (sig == 18)
		note_cont_while_held(tgid);
	if (result == SIGNAL_IGNORED || ignored_under_ptrace(task, sig))
		return 0;
	/* the kernel side stops processes for --freeze, and at execs: see exec_needs_hooks() */
	if (is_stop_signal(sig) && note_stop_while_held(tgid, sig))
		return 0;
	if (!(signal_trigger_bits(sig) & targ_triggers))
		return 0;
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc)
		return 0;
	if (sent_by_checkpointer(sig, code))
		return 0;
	if (sig == 2 && (targ_triggers & ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT)))
		first = once_claim(proc, ST_TRIG_FIRST_SIGINT);
	if (sig == 2 && !first && !(targ_triggers & ST_TRIG_BIT(ST_TRIG_SIGINT)))
		return 0;

	rec = first ? once_reserve(proc, ST_TRIG_FIRST_SIGINT, sizeof(*rec), ST_REC_SIGNAL) :
		      record_reserve(sizeof(*rec), ST_REC_SIGNAL);
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));
	header_task(&rec->hdr, ST_REC_SIGNAL, sizeof(*rec), task, bpf_ktime_get_boot_ns());
	rec->sig = sig;
	rec->code = code;
	rec->result = result;
	rec->thread = group == 0;
	rec->first = first;
	if (sent_by_current(code)) {
		__u64 id = bpf_get_current_pid_tgid();

		rec->sender_pid = id >> 32;
		rec->sender_tid = (__u32)id;
		bpf_get_current_comm(rec->sender_comm, sizeof(rec->sender_comm));
		/* raise(3) and kill(getpid()) run in the process: stop it here */
		if (rec->sender_pid == tgid)
			rec->hdr.flags = hold_current(proc, signal_hold_trigger(sig, first));
	}
	bpf_ringbuf_submit(rec, submit_flags(rec->hdr.flags, first ? ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT) :
					     signal_trigger_bits(sig)));
	return 0;
}

/* process lifecycle */

/*
 * Takes the new program's fd 0 as its stdin: a pipeline stage or a command
 * with a redirection reads its own stdin, not the one its parent started
 * with. Descriptors that pointed at the old stdin no longer count.
 */
static __always_inline void stdin_from_exec(struct st_proc *proc, struct task_struct *task)
{
	struct file *file = task_fd_file(task, 0);
	struct inode *inode;

	if (!file) {
		__sync_fetch_and_and(&proc->flags, ~ST_PROC_STDIN_KNOWN);
		return;
	}
	inode = BPF_CORE_READ(file, f_inode);
	proc->stdin_ino = BPF_CORE_READ(inode, i_ino);
	proc->stdin_dev = BPF_CORE_READ(inode, i_sb, s_dev);
	proc->stdin_fds = 1;
	__sync_fetch_and_and(&proc->flags, ~(ST_PROC_STDIN_HIGH | ST_PROC_STDIN_ANY));
	__sync_fetch_and_or(&proc->flags, ST_PROC_STDIN_KNOWN);
}

#define AT_NULL_TYPE 0			/* AT_NULL of <elf.h> */
#define AT_BASE_TYPE 7			/* AT_BASE of <elf.h> */
#define AUXV_PAIRS_READ 24		/* more than the pairs before AT_BASE */

/*
 * Whether the image that task just exec'd was loaded without an ELF
 * interpreter, so no dynamic loader maps a libc into it. The kernel puts the
 * interpreter's load address in the AT_BASE entry of the auxiliary vector it
 * saved, and 0 there when there is none (a static or static-pie program).
 * The vector of a 32-bit image has 32-bit entries.
 */
static __always_inline __u32 loaded_without_interp(struct task_struct *task, bool ia32)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	void *auxv = __builtin_preserve_access_index(&mm->saved_auxv);
	__u32 entry = ia32 ? sizeof(__u32) : sizeof(__u64);
	int i;

	for (i = 0; i < AUXV_PAIRS_READ; i++) {
		/* little-endian: a 32-bit entry fills the low half */
		__u64 type = 0, value = 0;

		if (bpf_probe_read_kernel(&type, entry, auxv + 2 * i * entry) ||
		    bpf_probe_read_kernel(&value, entry, auxv + (2 * i + 1) * entry))
			return 0;
		if (type == AT_NULL_TYPE)
			return 0;
		if (type == AT_BASE_TYPE)
			return value == 0;
	}
	return 0;
}

/* Whether the process waits at its exec for the hooks of the image that bprm loads. */
static __always_inline bool exec_needs_hooks(struct task_struct *task, bool ia32,
					     const struct st_image *image)
{
	bool ia32_hook = ia32 && ia32_exec_hold;

	/* the switches first: most execs need no hook at all */
	if (!ia32_hook && !image_hold)
		return false;
	if (!may_stop_for_hooks(task))
		return false;
	if (ia32_hook)
		return true;
	return !bpf_map_lookup_elem(&images, image);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct st_exec_record *rec;
	struct st_proc *proc;
	struct inode *inode;

	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc)
		return 0;
	if (targ_triggers & ST_TRIG_BIT(ST_TRIG_FIRST_STDIN))
		stdin_from_exec(proc, task);

	rec = record_reserve(sizeof(*rec), ST_REC_EXEC);
	if (!rec)
		return 0;
	header_task(&rec->hdr, ST_REC_EXEC, sizeof(*rec), task, bpf_ktime_get_boot_ns());
	rec->old_tid = old_pid;
	rec->ppid = BPF_CORE_READ(task, real_parent, tgid);
	/* the kernel marks the first return of a 32-bit image as an ia32 system call */
	rec->ia32 = !!(BPF_CORE_READ(task, thread_info.status) & TS_COMPAT_FLAG);
	/* only first-environ's coverage line needs it */
	rec->no_interp = (targ_triggers & ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON)) &&
			 loaded_without_interp(task, rec->ia32);
	inode = BPF_CORE_READ(bprm, file, f_inode);
	image_of_inode(inode, &rec->image);
	__builtin_memcpy(rec->calls, proc->calls, sizeof(rec->calls));
	bpf_probe_read_kernel_str(rec->filename, sizeof(rec->filename),
				  BPF_CORE_READ(bprm, filename));
	/* the new image has not run yet: stop it before its first instruction */
	rec->hdr.flags = hold_current(proc, ST_TRIG_BOOTSTRAP);
	if (!rec->hdr.flags && exec_needs_hooks(task, rec->ia32, &rec->image) &&
	    stop_current(ST_TRIG_BOOTSTRAP))
		rec->hdr.flags = ST_RECORD_HOOK_HELD;
	bpf_ringbuf_submit(rec, submit_flags(rec->hdr.flags, ST_TRIG_BIT(ST_TRIG_BOOTSTRAP)));
	return 0;
}

/* An mmap(2) that maps a file executable: see image_mapped(). */
SEC("tp/syscalls/sys_enter_mmap")
int handle_mmap(struct trace_event_raw_sys_enter *ctx)
{
	if (!image_hold || !(ctx->args[2] & PROT_EXEC_FLAG) ||
	    (ctx->args[3] & MAP_ANONYMOUS_FLAG))
		return 0;
	image_mapped((int)ctx->args[4]);
	return 0;
}

#define PF_KTHREAD_FLAG 0x00200000	/* PF_KTHREAD of include/linux/sched.h */

/*
 * Reads the stdin identity of task, as tracer_add() does from /proc: the
 * file at fd 0, and the descriptors 0 to 63 that refer to the same inode.
 */
static __always_inline void stdin_of_task(struct task_struct *task, struct st_proc *proc)
{
	struct file *file = task_fd_file(task, 0);
	struct inode *inode, *other;
	int fd;

	if (!file)
		return;
	inode = BPF_CORE_READ(file, f_inode);
	proc->stdin_dev = BPF_CORE_READ(inode, i_sb, s_dev);
	proc->stdin_ino = BPF_CORE_READ(inode, i_ino);
	proc->stdin_fds = 1;
	proc->flags |= ST_PROC_STDIN_KNOWN;
	for (fd = 1; fd < ST_STDIN_FD_BITS; fd++) {
		file = task_fd_file(task, fd);
		if (!file)
			continue;
		other = BPF_CORE_READ(file, f_inode);
		if (other == inode)
			proc->stdin_fds |= 1ULL << fd;
	}
	/* NOTE: descriptors above 63 are not read, so any of them may be stdin */
	if (BPF_CORE_READ(task, files, fdt, max_fds) > ST_STDIN_FD_BITS)
		proc->flags |= ST_PROC_STDIN_HIGH;
}

/*
 * kernfs id of the cgroup now at the --cgroup path. The agent writes it
 * through the mmapped .bss when a cgroup at that path is removed and
 * created again with a new id. targ_cgroup_id keeps the id found at start
 * and serves only as the --cgroup flag, so the verifier still prunes the
 * cgroup code without --cgroup.
 */
__u64 cgroup_target_id;

/* On older kernels struct cgroup lists the ids of its ancestors, not pointers to them. */
struct cgroup___ids {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

/* Whether task's cgroup v2 cgroup is the --cgroup target or below it. */
static __always_inline bool task_in_target_cgroup(struct task_struct *task)
{
	struct cgroup *cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	struct cgroup *ancestor = NULL;
	__u32 level = targ_cgroup_level;
	__u64 id = 0;

	if (!cgrp || BPF_CORE_READ(cgrp, level) < (int)level)
		return false;
	if (bpf_core_field_exists(cgrp->ancestors)) {
		bpf_probe_read_kernel(&ancestor, sizeof(ancestor), &cgrp->ancestors[level]);
		id = BPF_CORE_READ(ancestor, kn, id);
	} else {
		struct cgroup___ids *old = (void *)cgrp;

		bpf_probe_read_kernel(&id, sizeof(id), &old->ancestor_ids[level]);
	}
	return id == cgroup_target_id;
}

/*
 * Set by the agent before load: the --cgroup path relative to the root of
 * the cgroup v2 hierarchy, as the kernel formats cgroup paths, or "" when
 * it does not fit or the agent cannot place it. Inside a cgroup namespace
 * it starts with the path of the namespace's root.
 */
const volatile char targ_cgroup_path[ST_CGROUP_PATH_LEN];

/*
 * A cgroup was created. When it is on the cgroup v2 hierarchy (id 0) at
 * the --cgroup path, the kernel side compares against its id from now on.
 * The tracepoint fires before the new directory becomes visible, so no
 * process can enter the cgroup before this update. Loaded only with
 * --cgroup. The agent follows a path too long for targ_cgroup_path by
 * polling alone, and walks the processes that entered before it noticed.
 */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(handle_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	char buf[ST_CGROUP_PATH_LEN];
	long len;

	if (!targ_cgroup_id || !targ_cgroup_path[0])
		return 0;
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0 ||
	    BPF_CORE_READ(cgrp, level) != (int)targ_cgroup_level)
		return 0;
	len = bpf_probe_read_kernel_str(buf, sizeof(buf), path);
	/* a path that filled the buffer may be cut short, and the agent's path is shorter */
	if (len <= 0 || len >= (long)sizeof(buf))
		return 0;
	if (bpf_strncmp(buf, sizeof(buf), (const char *)targ_cgroup_path))
		return 0;
	cgroup_target_id = BPF_CORE_READ(cgrp, kn, id);
	return 0;
}

/*
 * Starts tracing task's process when it is in the --cgroup subtree and
 * untraced, and sends its join record. The agent's own process and kernel
 * threads are never traced.
 */
static __always_inline void join_task(struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct st_join_record *rec;
	struct st_proc fresh = {};

	if (tgid == targ_agent_tgid || (BPF_CORE_READ(task, flags) & PF_KTHREAD_FLAG))
		return;
	if (bpf_map_lookup_elem(&procs, &tgid) || !task_in_target_cgroup(task))
		return;
	stdin_of_task(task, &fresh);
	if (add_proc(tgid, &fresh))
		return;

	rec = record_reserve(sizeof(*rec), ST_REC_JOIN);
	if (!rec)
		return;
	header_task(&rec->hdr, ST_REC_JOIN, sizeof(*rec), task, bpf_ktime_get_boot_ns());
	/* the record names the process, not the thread that moved */
	rec->hdr.tid = tgid;
	rec->ppid = BPF_CORE_READ(task, real_parent, tgid);
	rec->pad = 0;
	bpf_ringbuf_submit(rec, submit_flags(0, 0));
}

/*
 * A write to cgroup.procs or cgroup.threads moved task, after the move. It
 * fires for cgroup v1 hierarchies too, so join_task() reads the task's
 * cgroup v2 cgroup rather than dst. Loaded only with --cgroup. A move out
 * of the subtree changes nothing: the process stays traced until it exits,
 * as a traced process's child does wherever it runs.
 */
/* NOTE: a process whose leader exited before the move is not joined, since the zombie leader stays behind */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(handle_cgroup_attach_task, struct cgroup *dst, const char *path,
	     struct task_struct *task, bool threadgroup)
{
	if (targ_cgroup_id)
		join_task(task);
	return 0;
}

/*
 * Creates the procs entry of a traced process's child. Its own scope lets
 * clang give the entry the stack slot of join_task()'s entry, since the two
 * together exceed the 512-byte BPF stack.
 */
static __always_inline int add_child(const struct st_proc *pproc, __u32 ctgid)
{
	struct st_proc fresh = {};

	fresh.stdin_dev = pproc->stdin_dev;
	fresh.stdin_ino = pproc->stdin_ino;
	fresh.stdin_fds = pproc->stdin_fds;	/* the child has the same descriptors */
	/* not ST_PROC_NO_HOLD: the agent counts the child's snapshots from 0 */
	fresh.flags = pproc->flags & (ST_PROC_STDIN_KNOWN | ST_PROC_STDIN_HIGH | ST_PROC_STDIN_ANY);
	return add_proc(ctgid, &fresh);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct st_fork_record *rec;
	struct st_proc *pproc;

	/* threads share their process's entry */
	if (ctgid != BPF_CORE_READ(child, pid) || ctgid == targ_agent_tgid)
		return 0;
	pproc = bpf_map_lookup_elem(&procs, &ptgid);
	/*
	 * A child that starts in the subtree joins it: its parent is untraced
	 * (or not followed), or clone3() put it there with CLONE_INTO_CGROUP.
	 * The agent's checkpointers and their children are never traced, even
	 * when the agent runs in the subtree.
	 */
	if (targ_cgroup_id && (!pproc || !targ_follow)) {
		if (task_in_target_cgroup(child) && !current_from_agent())
			join_task(child);
		return 0;
	}
	if (!targ_follow || !pproc)
		return 0;
	if (add_child(pproc, ctgid))
		return 0;

	rec = record_reserve(sizeof(*rec), ST_REC_FORK);
	if (!rec)
		return 0;
	header_task(&rec->hdr, ST_REC_FORK, sizeof(*rec), parent, bpf_ktime_get_boot_ns());
	rec->child_pid = ctgid;
	rec->pad = 0;
	/*
	 * A fork makes no line, and every record after it forces the wakeup. Forks
	 * alone wake the agent once a quarter of the ring is unread, before a reserve can fail.
	 */
	bpf_ringbuf_submit(rec, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > targ_ring_size / 4 ?
				BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

static __always_inline __s32 exit_status(struct task_struct *task, struct signal_struct *sig)
{
	if (BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT_FLAG)
		return BPF_CORE_READ(sig, group_exit_code);
	return BPF_CORE_READ(task, exit_code);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct st_exit_record *rec;
	struct st_proc *proc;
	struct signal_struct *sig;

	/* only the last thread of the group; signal->live is already decremented */
	sig = BPF_CORE_READ(task, signal);
	if (BPF_CORE_READ(sig, live.counter) != 0)
		return 0;
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc)
		return 0;

	rec = record_reserve(sizeof(*rec), ST_REC_EXIT);
	if (!rec) {
		/*
		 * The ring buffer is full: keep the entry, marked exited, so the
		 * agent writes the exit and the final counts from it and then
		 * deletes it. Only the first thread to set the flag records it.
		 */
		if (__sync_fetch_and_or(&proc->flags, ST_PROC_EXITED) & ST_PROC_EXITED)
			return 0;
		proc->exit_code = exit_status(task, sig);
		proc->exit_tid = BPF_CORE_READ(task, pid);
		/* the process's name, as in the record below */
		BPF_CORE_READ_STR_INTO(&proc->exit_comm, task, group_leader, comm);
		/*
		 * The agent reads the entry once exit_ns is set. An atomic
		 * exchange orders it after the stores above on x86 and arm64.
		 */
		__sync_lock_test_and_set(&proc->exit_ns, bpf_ktime_get_boot_ns());
		bpf_map_delete_elem(&holds, &tgid);
		return 0;
	}
	header_task(&rec->hdr, ST_REC_EXIT, sizeof(*rec), task, bpf_ktime_get_boot_ns());
	/*
	 * tid is the last thread, which may be a renamed worker or an io_uring
	 * thread, so comm is the process's name: the group leader's, which a
	 * leader that exited first keeps as a zombie until the whole group exits.
	 */
	BPF_CORE_READ_STR_INTO(&rec->hdr.comm, task, group_leader, comm);
	__builtin_memcpy(rec->calls, proc->calls, sizeof(rec->calls));
	rec->exit_code = exit_status(task, sig);
	rec->once_lost = proc->once_lost;

	/*
	 * Threads that exit together may all see live == 0; the one whose
	 * delete succeeds reports the exit.
	 */
	if (bpf_map_delete_elem(&procs, &tgid)) {
		bpf_ringbuf_discard(rec, 0);
		return 0;
	}
	bpf_ringbuf_submit(rec, submit_flags(0, 0));
	bpf_map_delete_elem(&holds, &tgid);
	return 0;
}

/*
 * Sets the once bits that the agent found past in /proc for a process whose
 * entry it has created. The OR is atomic, like once_claim() in the hooks, so
 * either a hook claims a trigger first and sends its record, or this program
 * sets it first and no hook sends one. Returns the bits of args->once that
 * were set before, or -ENOENT when the process has no entry.
 *
 * The agent runs it with BPF_PROG_TEST_RUN, and a raw_tp section without a
 * tracepoint name is never attached. A SEC("syscall") program would be
 * sleepable, and before Linux 6.1 the verifier let sleepable programs use
 * only preallocated hash maps, which procs is not.
 */
SEC("raw_tp")
int once_seed(struct st_once_seed *args)
{
	__u32 tgid = args->tgid;
	__u32 once = args->once;
	struct st_proc *proc = bpf_map_lookup_elem(&procs, &tgid);

	if (!proc)
		return -ENOENT_ERR;
	return __sync_fetch_and_or(&proc->once, once) & once;
}

/*
 * Sets the ST_PROC_* bits args->flags of a process with an atomic OR, so no
 * flag that a hook sets at the same time is lost. Returns 0, or -ENOENT when
 * the process has no entry. The agent runs it as it runs once_seed.
 */
SEC("raw_tp")
int flags_seed(struct st_flags_seed *args)
{
	__u32 tgid = args->tgid;
	struct st_proc *proc = bpf_map_lookup_elem(&procs, &tgid);

	if (!proc)
		return -ENOENT_ERR;
	__sync_fetch_and_or(&proc->flags, (__u32)args->flags);
	if (args->hold_after_ns)
		proc->hold_after_ns = args->hold_after_ns;
	return 0;
}
