/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The contract between the BPF programs in bpf/ and the agent in agent/:
 * trigger ids, record kinds, call ids, the per-process state kept in the
 * kernel and the ring buffer records. Every shared enum and size is defined
 * here once. Structs use fixed-width types, largest fields first, with
 * explicit padding, so both compilers lay them out the same way.
 */
#ifndef SNAPTRIG_ABI_H
#define SNAPTRIG_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define ST_COMM_LEN 16
#define ST_PATH_LEN 256
#define ST_SUN_PATH_LEN 108
/* Bytes of the --cgroup path that the kernel side compares, with its final NUL. */
#define ST_CGROUP_PATH_LEN 256
/* Bytes of the events ring buffer without --ring-buffer-size. */
#define ST_RING_SIZE_DEFAULT (4u << 20)
/* Processes the kernel side traces at once: the size of the procs map. */
#define ST_PROCS_MAX 32768

/* Snapshot triggers, in the order the agent lists them. */
enum st_trigger {
	ST_TRIG_FIRST_LISTEN,
	ST_TRIG_FIRST_STDIN,
	ST_TRIG_FIRST_ENVIRON,
	ST_TRIG_FIRST_SIGINT,
	ST_TRIG_IDLE,
	ST_TRIG_PERIODIC_INTERVAL,
	ST_TRIG_SIGINT,
	ST_TRIG_SIGALRM,
	ST_TRIG_SIGTSTP,
	ST_TRIG_SIGSTOP,
	ST_TRIG_NON_DETERMINISTIC_CALL,
	ST_TRIG_BOOTSTRAP,
	ST_TRIG_TRANSACTION,
	ST_TRIG_EXPLICIT,
	ST_TRIG_COUNT,
};

#define ST_TRIG_BIT(t) (1u << (t))

/* Kinds of ring buffer records. Zero is never a valid kind. */
enum st_record_kind {
	ST_REC_LISTEN = 1,	/* first listen(2) of a process */
	ST_REC_STDIN,		/* first read of the file that was stdin */
	ST_REC_SIGNAL,		/* a watched signal was generated */
	ST_REC_CALLS,		/* a coalesced call class opened a window */
	ST_REC_EXEC,		/* an exec completed */
	ST_REC_FORK,		/* a traced process forked a new process */
	ST_REC_EXIT,		/* the last thread of a process exited */
	ST_REC_ENVIRON,		/* first read of the environment */
	ST_REC_EXPLICIT,	/* SNAPTRIG_SNAPSHOT() or SNAPTRIG_TRANSACTION() marker */
	ST_REC_IDLE,		/* every thread blocked for the idle threshold */
	ST_REC_JOIN,		/* a process entered the traced cgroup subtree */
	ST_REC_COVERAGE,	/* a traced process used a path the kernel side cannot decode */
	ST_REC_IMAGE,		/* a traced process maps a file executable that the agent has not examined */
	ST_REC_KIND_COUNT,
};

/*
 * System calls named in trigger details. The coalesced ones (non-deterministic
 * and transaction calls) are also indexes into st_proc.calls.
 */
enum st_call {
	/* non-deterministic calls */
	ST_CALL_GETRANDOM,
	ST_CALL_CLOCK_GETTIME,
	ST_CALL_GETTIMEOFDAY,
	ST_CALL_TIME,
	ST_CALL_OPEN_RANDOM,	/* an open(2) family call that opened /dev/random */
	ST_CALL_OPEN_URANDOM,	/* ... /dev/urandom */
	/* transaction calls */
	ST_CALL_FSYNC,
	ST_CALL_FDATASYNC,
	ST_CALL_SYNC_FILE_RANGE,
	ST_CALL_MSYNC,
	ST_CALL_SYNCFS,
	ST_CALL_SYNC,
	ST_CALL_MARKER,		/* SNAPTRIG_TRANSACTION() in the application */
	/* read family, for first-stdin */
	ST_CALL_READ,
	ST_CALL_READV,
	ST_CALL_PREAD64,
	ST_CALL_PREADV,
	ST_CALL_PREADV2,
	ST_CALL_RECVFROM,
	ST_CALL_RECVMSG,
	ST_CALL_RECVMMSG,
	ST_CALL_READ_FIXED,	/* io_uring reads */
	ST_CALL_READ_MULTISHOT,
	ST_CALL_RECV,
	ST_CALL_SPLICE,		/* reads that move data without copying it to the process */
	ST_CALL_TEE,
	ST_CALL_SENDFILE,
	ST_CALL_COPY_FILE_RANGE,
	ST_CALL_COUNT,
};

/* The path a call took into the kernel, named in trigger details as "via". */
enum st_via {
	ST_VIA_SYSCALL,		/* the x86-64 system call table */
	ST_VIA_IA32,		/* the ia32 table: a 32-bit program, or int $0x80 */
	ST_VIA_IO_URING,	/* an io_uring request */
	ST_VIA_VDSO,		/* coverage lines only: calls the vDSO serves in user space */
	ST_VIA_STATIC,		/* coverage lines only: the libc linked into a static program */
	ST_VIA_COUNT,
};

/* Classes of coalesced calls: one cooldown window each. */
enum st_call_class {
	ST_CLASS_NONDET,
	ST_CLASS_TXN,
	ST_CLASS_COUNT,
};

#define ST_CLASS_NONDET_FIRST ST_CALL_GETRANDOM
#define ST_CLASS_NONDET_LAST ST_CALL_OPEN_URANDOM
#define ST_CLASS_TXN_FIRST ST_CALL_FSYNC
#define ST_CLASS_TXN_LAST ST_CALL_MARKER
/* Length of st_proc.calls: every coalesced call has a slot. */
#define ST_COUNTED_CALLS (ST_CLASS_TXN_LAST + 1)

/* st_proc.flags */
#define ST_PROC_STDIN_KNOWN (1u << 0) /* stdin_dev and stdin_ino are valid */
#define ST_PROC_EXITED (1u << 1)	/* exited, but the exit record was lost: see exit_code */
#define ST_PROC_STDIN_HIGH (1u << 2)	/* a descriptor above 63 may refer to stdin */
#define ST_PROC_STDIN_ANY (1u << 3)	/* descriptors may have arrived by SCM_RIGHTS: check every read */
/*
 * The process has used all its --max-snapshots requests, so no trigger stops
 * it in the kernel. The agent sets it; a fork clears it for the child.
 */
#define ST_PROC_NO_HOLD (1u << 4)

/* Descriptors that st_proc.stdin_fds covers, one bit each. */
#define ST_STDIN_FD_BITS 64

/* Signals the agent passes on to a launched COMMAND, counted in st_proc.passed_on. */
enum st_passed_signal {
	ST_PASS_SIGINT,
	ST_PASS_SIGTERM,
	ST_PASS_SIGHUP,
	ST_PASS_COUNT,
};

/* Boot-time ns of the last SIGINT, SIGTERM and SIGHUP a process sent itself. */
struct st_self_signals {
	__u64 ns[ST_PASS_COUNT];
};

/*
 * Per-process state in the kernel, keyed by tgid in the procs map. The agent
 * creates entries for the processes it attaches to; the fork program creates
 * them for children. The exit program deletes them.
 */
struct st_proc {
	/* monotonic count of each coalesced call since the process was traced */
	__u64 calls[ST_COUNTED_CALLS];
	/* boot-time ns when each class last opened a cooldown window */
	__u64 window_ns[ST_CLASS_COUNT];
	/* jiffies value before which each class's window is surely still open */
	__u64 quiet_until_jiffies[ST_CLASS_COUNT];
	/* identity of the file that was stdin: kernel dev_t of the superblock */
	__u64 stdin_dev;
	__u64 stdin_ino;
	/*
	 * Descriptors 0 to 63 that may refer to stdin: fd 0 and those that a dup
	 * or an open of the same file returned. A read on any other descriptor
	 * is no first-stdin, which spares the fd table walk on every read.
	 */
	__u64 stdin_fds;
	/* boot-time ns of the last SIGINT, SIGTERM and SIGHUP generated for it */
	__u64 passed_on_ns[ST_PASS_COUNT];
	/* the tgid of the process that generated each of them, 0 for the kernel */
	__u32 passed_on_by[ST_PASS_COUNT];
	/* boot-time ns before which --freeze does not stop it: its snapshot cooldown */
	__u64 hold_after_ns;
	__u32 once;		/* ST_TRIG_BIT of once-triggers already fired */
	__u32 flags;		/* ST_PROC_* */
	__u32 once_lost;	/* once-triggers whose record the ring buffer could not take */
	__s32 exit_code;	/* ST_PROC_EXITED: the wait(2) status word */
	__u32 coverage;		/* ST_TRIG_BIT of triggers whose coverage record was sent */
	/*
	 * Fields of the exit record that the ring buffer could not take, for
	 * ST_PROC_EXITED.
	 * Only the exit program writes them, and exit_ns last, so the agent
	 * waits for a non-zero exit_ns before it reads the others.
	 */
	__u32 exit_tid;
	__u64 exit_ns;		/* boot-time ns of the exit */
	char exit_comm[ST_COMM_LEN];
};

/* st_record_header.flags */
#define ST_RECORD_HELD (1u << 0) /* the kernel stopped the process at this event */
/*
 * The kernel stopped the process at its exec, or at its mmap(2) of an
 * executable file, until the agent has attached the hooks of the new image:
 * the ia32 hook, or the uprobes of its markers and of first-environ.
 */
#define ST_RECORD_HOOK_HELD (1u << 1)
/*
 * The agent made the record, not the kernel. Its boot_ns is when the agent
 * made it, except for an exit that the kernel kept in the procs map, which
 * has the exit's time.
 */
#define ST_RECORD_AGENT (1u << 31)

/* Executables and libraries the agent has examined for uprobes: the images map. */
#define ST_IMAGES_MAX 8192

/*
 * Identity of an executable file, as the kernel has it. The inode's change
 * time distinguishes a new file from a deleted one whose inode number the
 * file system gave it.
 */
struct st_image {
	__u64 dev;		/* kernel-internal dev_t of its superblock: major << 20 | minor */
	__u64 ino;
	__s64 ctime_sec;
	__u32 ctime_nsec;
	__u32 pad;
};

/* Header of every ring buffer record; a kind-specific body follows. */
struct st_record_header {
	__u64 boot_ns;		/* bpf_ktime_get_boot_ns() at the event */
	__u64 cgroup_id;	/* cgroup v2 id of the process, 0 unless the agent asks for it */
	__u32 kind;		/* enum st_record_kind */
	__u32 pid;		/* tgid of the process */
	__u32 tid;		/* thread that caused the event */
	__u32 size;		/* whole record size in bytes, header included */
	__u32 flags;		/* ST_RECORD_* */
	__u32 ns_pid;		/* pid in the process's own pid namespace, 0 in the agent's */
	__u32 ns_tid;		/* tid in that namespace, 0 in the agent's */
	__u32 pad;
	char comm[ST_COMM_LEN];
};

/* st_hold.flags */
#define ST_HOLD_FOREIGN_STOP (1u << 0) /* someone else stopped the process while held */
#define ST_HOLD_STOP_PENDING (1u << 1) /* the kernel's own SIGSTOP is not generated yet */
#define ST_HOLD_FOREIGN_CONT (1u << 2) /* someone else sent SIGCONT while held */

/*
 * A process the kernel stopped for a snapshot, keyed by tgid in the holds
 * map. The kernel creates the entry when it sends SIGSTOP and never stops a
 * process that has one. The agent deletes it when it resumes the process.
 */
struct st_hold {
	__u64 since_ns;		/* boot-time ns of the stop */
	__u32 trigger;		/* enum st_trigger that caused it */
	__u32 flags;		/* ST_HOLD_* */
};

struct st_listen_record {
	struct st_record_header hdr;
	__u8 addr[16];		/* IPv4 in the first 4 bytes, or IPv6 */
	__s32 fd;
	__s32 backlog;
	__u16 family;		/* AF_INET, AF_INET6, AF_UNIX, ... */
	__u16 port;		/* host byte order */
	__u32 via;		/* enum st_via */
	__u32 sun_path_len;	/* AF_UNIX: bytes of sun_path in the address, 0 if unnamed */
	__u32 fixed;		/* 1: fd is an index into an io_uring ring's registered files */
	__u32 pad;
	/*
	 * AF_UNIX: the bound name. An abstract name starts with '\0', is
	 * sun_path_len bytes long and may contain more '\0' bytes. A path name
	 * ends at its first '\0' within sun_path_len bytes.
	 */
	char sun_path[ST_SUN_PATH_LEN];
};

struct st_stdin_record {
	struct st_record_header hdr;
	__s32 fd;
	__u32 call;		/* enum st_call */
	__u32 via;		/* enum st_via */
	__u32 fixed;		/* 1: fd is an index into an io_uring ring's registered files */
};

/* Value of st_signal_record.sender_pid when no process sent the signal. */
#define ST_NO_SENDER 0

struct st_signal_record {
	struct st_record_header hdr;
	__u32 sig;
	__s32 code;		/* si_code */
	__u32 sender_pid;	/* tgid of the sending process, or ST_NO_SENDER */
	__u32 sender_tid;
	__u32 result;		/* TRACE_SIGNAL_* of signal_generate */
	__u32 thread;		/* 1 when sent to one thread (tkill, tgkill, raise) */
	__u32 first;		/* 1 when this is the process's first SIGINT */
	__u32 pad;
	char sender_comm[ST_COMM_LEN];
};

struct st_calls_record {
	struct st_record_header hdr;
	__u64 calls[ST_COUNTED_CALLS]; /* st_proc.calls right after the increment */
	__u32 class;		/* enum st_call_class */
	__u32 call;		/* the call that opened the window */
	__u32 via;		/* enum st_via of that call */
	__u32 pad;
};

struct st_exec_record {
	struct st_record_header hdr;
	__u32 old_tid;		/* thread that called exec; differs from pid after a non-leader exec */
	__u32 ppid;
	__u32 ia32;		/* 1: the new image is a 32-bit program */
	__u32 no_interp;	/* 1: the new image has no ELF interpreter: statically linked */
	struct st_image image;	/* the executable file the exec loaded */
	__u64 calls[ST_COUNTED_CALLS]; /* st_proc.calls at the exec, all made by the old image */
	char filename[ST_PATH_LEN];
};

struct st_fork_record {
	struct st_record_header hdr; /* pid, tid: the parent */
	__u32 child_pid;
	__u32 pad;
};

struct st_exit_record {
	struct st_record_header hdr;
	__u64 calls[ST_COUNTED_CALLS]; /* final st_proc.calls */
	__s32 exit_code;	/* wait(2) status word: code << 8 or signal number */
	__u32 once_lost;	/* final st_proc.once_lost */
};

/* st_environ_record.source */
enum st_environ_source {
	ST_ENVIRON_GETENV,	/* libc getenv() */
	ST_ENVIRON_SECURE_GETENV, /* libc secure_getenv() */
	ST_ENVIRON_PROC_FILE,	/* an open of /proc/self/environ or /proc/<pid>/environ */
	ST_ENVIRON_PROBE,	/* a probe from --environ-probe */
};

#define ST_ENV_NAME_LEN 64

struct st_environ_record {
	struct st_record_header hdr;
	__u32 source;		/* enum st_environ_source */
	__u32 probe;		/* ST_ENVIRON_PROBE: index of the --environ-probe option */
	char name[ST_ENV_NAME_LEN]; /* the variable asked for, when the call names one */
};

/* st_explicit_record.source */
enum st_explicit_source {
	ST_EXPLICIT_MARKER,	/* SNAPTRIG_SNAPSHOT() in the application */
	ST_EXPLICIT_OPERATOR,	/* a request on the control socket */
};

struct st_explicit_record {
	struct st_record_header hdr;
	__u32 source;		/* enum st_explicit_source */
	__u32 pad;
};

struct st_idle_record {
	struct st_record_header hdr;
	__u64 idle_since_ns;	/* boot ns when the last running thread blocked or tracking began */
	__u32 threads;		/* threads of the process */
	__u32 pad;
};

struct st_join_record {
	struct st_record_header hdr;
	__u32 ppid;		/* tgid of the parent */
	__u32 pad;
};

/* st_coverage_record.reason */
enum st_coverage_reason {
	ST_COVERAGE_UNDECODED,	/* a request the kernel side cannot decode, such as an io_uring opcode */
	ST_COVERAGE_NO_HOOK,	/* the hook for this path could not be loaded on this kernel */
	ST_COVERAGE_USER_SPACE,	/* the path never enters the kernel */
	ST_COVERAGE_OFF,	/* the path is turned off by an option */
	ST_COVERAGE_LATE,	/* the hook was attached only now: earlier calls were not seen */
};

/*
 * A trigger that is blind for a process on one path. The kernel sends it
 * once per process, trigger and path; the agent writes a coverage line.
 */
struct st_coverage_record {
	struct st_record_header hdr;
	__u32 trigger;		/* enum st_trigger */
	__u32 via;		/* enum st_via */
	__u32 reason;		/* enum st_coverage_reason */
	__u32 op;		/* the undecoded request: io_uring opcode or system call number */
};

/*
 * An mmap(2) with PROT_EXEC of a file that is not in the images map, such as
 * a library that the dynamic loader or dlopen() maps. The process stops at
 * the call (ST_RECORD_HOOK_HELD) unless it has a controlling terminal or is
 * ptraced, and the agent examines the file through /proc/PID/fd/FD.
 */
struct st_image_record {
	struct st_record_header hdr;
	struct st_image image;
	__s32 fd;		/* the descriptor the call maps */
	__u32 pad;
};

/* st_idle_seed.op */
enum st_idle_seed_op {
	ST_IDLE_SEED_PROC,	/* start tracking tgid: idle from now, no thread runnable */
	ST_IDLE_SEED_THREAD,	/* add thread tid of tgid, runnable or blocked */
	ST_IDLE_SEED_ARM,	/* start the idle timer of tgid if no thread is runnable */
	ST_IDLE_SEED_CHECK,	/* do what the idle timer of tgid would, for a timer that cannot be armed */
};

/*
 * Input of the idle_seed program, which the agent runs with BPF_PROG_TEST_RUN
 * to add the threads that existed before tracking began. It returns 0 or
 * -errno: -EEXIST for a process or thread the kernel tracks already, -ESRCH
 * for a thread that is gone or exiting.
 */
struct st_idle_seed {
	__u32 op;		/* enum st_idle_seed_op */
	__u32 tgid;
	__u32 tid;
	__u32 runnable;		/* 1: runnable or running, 0: blocked */
};

/*
 * Input of the once_seed program, which the agent runs with BPF_PROG_TEST_RUN
 * to set the once bits of the triggers that /proc shows an attached process
 * is past. It returns the bits of once that were set already, or -ENOENT
 * when tgid has no procs entry. The fields are 64-bit because the program's
 * context is a raw tracepoint's array of 64-bit arguments.
 */
struct st_once_seed {
	__u64 tgid;
	__u64 once;		/* ST_TRIG_BIT mask */
};

/*
 * Input of the flags_seed program, which the agent runs with
 * BPF_PROG_TEST_RUN to set flags of a process, as once_seed sets once bits.
 */
struct st_flags_seed {
	__u64 tgid;
	__u64 flags;		/* ST_PROC_* bits to set */
	__u64 hold_after_ns;	/* a new st_proc.hold_after_ns, or 0 to keep it */
};

/*
 * Indexes into the lost counters: records the ring buffer could not take, by
 * st_record_kind, then the processes left untraced because procs was full.
 */
#define ST_LOST_UNTRACED ST_REC_KIND_COUNT
#define ST_LOST_SLOTS (ST_REC_KIND_COUNT + 1)

#endif /* SNAPTRIG_ABI_H */
