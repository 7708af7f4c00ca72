// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * System calls through the ia32 table: those of a 32-bit program, and
 * int $0x80 in a 64-bit one. The syscalls:sys_*_* tracepoints skip compat
 * calls, so the only hook this kernel lets us use is a raw tracepoint on
 * every system call of every process. The hook is on sys_exit, where both
 * the arguments (pt_regs keeps them) and the result are known. So reads,
 * listens and opens count only when they succeeded, a listen names the port
 * it bound, and an open is judged by the file it opened. Its first test is
 * the cheapest one: TS_COMPAT in the current task's thread_info, a load from
 * the task pointer. A 64-bit call returns there, before the procs lookup.
 * The kernel sets TS_COMPAT on ia32 entry and clears it on the return to
 * user space, after this tracepoint.
 *
 * NOTE: attaching any program to sys_enter or sys_exit slows every system
 * call on the machine, traced or not. On the 2-core development VM (Linux
 * 6.18) an empty tp_btf program on sys_enter made a getpid loop
 * (tools/bench/bench-loop) take about 105 ns more per call, and this one
 * about 110 ns more (240 to 350 ns). A second program, on sys_enter,
 * doubled that, which is why there is only this one.
 *
 * The system call number is orig_ax (asm/unistd_32.h), and the arguments
 * are in bx, cx, dx, si, di and bp, as 32-bit values: int $0x80 from a
 * 64-bit program may leave the upper halves set, and the kernel ignores them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "fds.bpf.h"
#include "images.bpf.h"

#define TS_COMPAT_FLAG 0x0002		/* TS_COMPAT of arch/x86/include/asm/thread_info.h */
#define MS_SYNC_FLAG 4			/* MS_SYNC of <sys/mman.h> */

/* ia32 system call numbers, from asm/unistd_32.h */
#define NR32_READ 3
#define NR32_OPEN 5
#define NR32_TIME 13
#define NR32_SYNC 36
#define NR32_GETTIMEOFDAY 78
#define NR32_SOCKETCALL 102
#define NR32_FSYNC 118
#define NR32_MSYNC 144
#define NR32_READV 145
#define NR32_FDATASYNC 148
#define NR32_PREAD64 180
#define NR32_MMAP2 192
#define NR32_SENDFILE 187
#define NR32_SENDFILE64 239
#define NR32_CLOCK_GETTIME 265
#define NR32_OPENAT 295
#define NR32_SPLICE 313
#define NR32_SYNC_FILE_RANGE 314	/* the ia32 table has no sync_file_range2 */
#define NR32_TEE 315
#define NR32_PREADV 333
#define NR32_RECVMMSG 337
#define NR32_SYNCFS 344
#define NR32_GETRANDOM 355
#define NR32_LISTEN 363
#define NR32_RECVFROM 371
#define NR32_RECVMSG 372
#define NR32_COPY_FILE_RANGE 377
#define NR32_PREADV2 378
#define NR32_CLOCK_GETTIME64 403
#define NR32_RECVMMSG_TIME64 417
#define NR32_OPENAT2 437

/* socketcall(2) operations, from linux/net.h */
#define SOCKETCALL_LISTEN 4
#define SOCKETCALL_RECV 10
#define SOCKETCALL_RECVFROM 12
#define SOCKETCALL_RECVMSG 17
#define SOCKETCALL_RECVMMSG 19

#define WANT(trigger) (targ_triggers & ST_TRIG_BIT(trigger))
/* the triggers whose uprobes the agent attaches to the files that processes map */
#define WANT_IMAGES (WANT(ST_TRIG_FIRST_ENVIRON) || WANT(ST_TRIG_EXPLICIT) || \
		     WANT(ST_TRIG_TRANSACTION))

static __always_inline __u32 arg32(struct pt_regs *regs, int n)
{
	switch (n) {
	case 0:
		return (__u32)regs->bx;
	case 1:
		return (__u32)regs->cx;
	case 2:
		return (__u32)regs->dx;
	case 3:
		return (__u32)regs->si;
	case 4:
		return (__u32)regs->di;
	}
	return (__u32)regs->bp;
}

static __always_inline void on_listen(struct st_proc *proc, int fd, int backlog)
{
	if (proc->once & ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN))
		return;
	listen_send(proc, current_fd_file(fd), fd, backlog, ST_VIA_IA32);
}

/*
 * No ia32 dup exit is hooked, so stdin_fds may miss descriptors that the
 * process made with ia32 calls. Each read therefore checks its
 * descriptor's file directly, a walk of the fd table per read until the
 * first read of stdin. A read that failed before reading, such as a pread64
 * of a pipe (ESPIPE), returned an error and never gets here, so no call
 * needs the FMODE_PREAD check of the entry hooks.
 */
static __always_inline void on_read(struct st_proc *proc, int fd, __u32 call)
{
	if (stdin_pending(proc) && fd_reads_stdin(proc, fd, call, false))
		stdin_send(proc, fd, call, ST_VIA_IA32);
}

/*
 * socketcall(call, args), where args points to an array of u32 arguments:
 * a listen that succeeded, or a receive that read something.
 */
static __always_inline void on_socketcall(struct st_proc *proc, struct pt_regs *regs, long ret)
{
	__u32 op = arg32(regs, 0);
	__u32 args[2] = {};
	__u32 call = 0;

	switch (op) {
	case SOCKETCALL_LISTEN:
		if (!WANT(ST_TRIG_FIRST_LISTEN) || ret != 0 ||
		    (proc->once & ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN)))
			return;
		break;
	case SOCKETCALL_RECV:
		call = ST_CALL_RECV;
		break;
	case SOCKETCALL_RECVFROM:
		call = ST_CALL_RECVFROM;
		break;
	case SOCKETCALL_RECVMSG:
		call = ST_CALL_RECVMSG;
		break;
	case SOCKETCALL_RECVMMSG:
		call = ST_CALL_RECVMMSG;
		break;
	default:
		return;
	}
	if (op != SOCKETCALL_LISTEN &&
	    (!WANT(ST_TRIG_FIRST_STDIN) || !stdin_pending(proc) || ret < 0))
		return;
	if (bpf_probe_read_user(args, sizeof(args), (void *)(unsigned long)arg32(regs, 1)))
		return;
	if (op == SOCKETCALL_LISTEN)
		on_listen(proc, (int)args[0], (int)args[1]);
	else
		on_read(proc, (int)args[0], call);
}

/*
 * The read family, for first-stdin: a call that read, even 0 bytes at the
 * end of the file, counts. Returns whether id is one of them.
 */
static __always_inline bool decode_read(struct st_proc *proc, struct pt_regs *regs, long id,
					long ret)
{
	int fd = (int)arg32(regs, 0);
	__u32 call;

	switch (id) {
	case NR32_READ:
		call = ST_CALL_READ;
		break;
	case NR32_READV:
		call = ST_CALL_READV;
		break;
	case NR32_PREAD64:
		call = ST_CALL_PREAD64;
		break;
	case NR32_PREADV:
		call = ST_CALL_PREADV;
		break;
	case NR32_PREADV2:
		call = ST_CALL_PREADV2;
		break;
	case NR32_RECVFROM:
		call = ST_CALL_RECVFROM;
		break;
	case NR32_RECVMSG:
		call = ST_CALL_RECVMSG;
		break;
	case NR32_RECVMMSG:
	case NR32_RECVMMSG_TIME64:
		call = ST_CALL_RECVMMSG;
		break;
	case NR32_SPLICE:
		call = ST_CALL_SPLICE;
		break;
	case NR32_TEE:
		call = ST_CALL_TEE;
		break;
	case NR32_SENDFILE:
	case NR32_SENDFILE64:
		/* sendfile(out_fd, in_fd, ...) reads in_fd */
		call = ST_CALL_SENDFILE;
		fd = (int)arg32(regs, 1);
		break;
	case NR32_COPY_FILE_RANGE:
		call = ST_CALL_COPY_FILE_RANGE;
		break;
	default:
		return false;
	}
	if (ret >= 0)
		on_read(proc, fd, call);
	return true;
}

/*
 * Non-deterministic calls, counted whatever their result as on the x86-64
 * path, except opens: those count by the file they opened. Returns whether
 * id is one of them.
 */
static __always_inline bool decode_nondet(struct st_proc *proc, long id, long ret)
{
	__u32 call;

	switch (id) {
	case NR32_GETRANDOM:
		call = ST_CALL_GETRANDOM;
		break;
	case NR32_CLOCK_GETTIME:
	case NR32_CLOCK_GETTIME64:
		call = ST_CALL_CLOCK_GETTIME;
		break;
	case NR32_GETTIMEOFDAY:
		call = ST_CALL_GETTIMEOFDAY;
		break;
	case NR32_TIME:
		call = ST_CALL_TIME;
		break;
	case NR32_OPEN:
	case NR32_OPENAT:
	case NR32_OPENAT2:
		open_result(proc, ret, NULL, ST_VIA_IA32, NULL);
		return true;
	default:
		return false;
	}
	if (WANT(ST_TRIG_NON_DETERMINISTIC_CALL))
		on_call_via(proc, call, ST_CLASS_NONDET, ST_VIA_IA32);
	return true;
}

/* Transaction calls. Returns whether id is one of them. */
static __always_inline bool decode_txn(struct st_proc *proc, struct pt_regs *regs, long id)
{
	__u32 call;

	switch (id) {
	case NR32_FSYNC:
		call = ST_CALL_FSYNC;
		break;
	case NR32_FDATASYNC:
		call = ST_CALL_FDATASYNC;
		break;
	case NR32_SYNC_FILE_RANGE:
		/* fd, offset and nbytes as 32-bit halves, then flags */
		if (!(arg32(regs, 5) & SFR_WAIT_AFTER_FLAG))
			return true;
		call = ST_CALL_SYNC_FILE_RANGE;
		break;
	case NR32_MSYNC:
		if (!(arg32(regs, 2) & MS_SYNC_FLAG))
			return true;
		call = ST_CALL_MSYNC;
		break;
	case NR32_SYNCFS:
		call = ST_CALL_SYNCFS;
		break;
	case NR32_SYNC:
		call = ST_CALL_SYNC;
		break;
	default:
		return false;
	}
	on_call_via(proc, call, ST_CLASS_TXN, ST_VIA_IA32);
	return true;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct st_proc *proc;
	long id;

	if (!(task->thread_info.status & TS_COMPAT_FLAG))
		return 0;
	proc = current_proc();
	if (!proc)
		return 0;
	id = regs->orig_ax;

	if (id == NR32_LISTEN) {
		if (WANT(ST_TRIG_FIRST_LISTEN) && ret == 0)
			on_listen(proc, (int)arg32(regs, 0), (int)arg32(regs, 1));
		return 0;
	}
	if (id == NR32_SOCKETCALL) {
		on_socketcall(proc, regs, ret);
		return 0;
	}
	/* the libraries of a 32-bit program, which the mmap tracepoint does not see */
	if (id == NR32_MMAP2) {
		if (WANT_IMAGES && ret >= 0 && (arg32(regs, 2) & PROT_EXEC_FLAG) &&
		    !(arg32(regs, 3) & MAP_ANONYMOUS_FLAG))
			image_mapped((int)arg32(regs, 4));
		return 0;
	}
	if (WANT(ST_TRIG_FIRST_STDIN) && decode_read(proc, regs, id, ret))
		return 0;
	/* an open of /dev/stdin gives a new name of stdin, so first-stdin needs opens too */
	if ((WANT(ST_TRIG_NON_DETERMINISTIC_CALL) || WANT(ST_TRIG_FIRST_STDIN)) &&
	    decode_nondet(proc, id, ret))
		return 0;
	if (WANT(ST_TRIG_TRANSACTION))
		decode_txn(proc, regs, id);
	return 0;
}
