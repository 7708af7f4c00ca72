// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * io_uring requests of traced processes. A request runs without a system
 * call of its own, so the syscall tracepoints of snaptrig.bpf.c never see it.
 *
 * io_uring_submit_req fires in io_submit_sqe() right after io_init_req():
 * req->opcode, req->flags (the SQE flags in the low bits), req->ctx,
 * req->tctx and, for opcodes that take a file, req->cqe.fd (sqe->fd) are
 * set, and the opcode's prep has filled the command data in req->cmd. The
 * file itself is assigned later, in io_issue_sqe(), so this program resolves
 * the descriptor on its own. An open's new descriptor, and whether a listen
 * succeeded and which port it bound, are known only when the request
 * completes, so opens and listens are decided at io_uring_complete.
 *
 * Opcode numbers come from the kernel's BTF (enum io_uring_op), so an opcode
 * that this kernel lacks, such as IORING_OP_LISTEN before Linux 6.11, is
 * never matched. Untraced processes pay one procs lookup per request and per
 * completion.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Sends the SIGSTOP of a --freeze hold in place of bpf_send_signal(). */
static __always_inline long uring_hold_signal_send(void);
#define hold_signal_send() uring_hold_signal_send()

#define ST_UNTRUSTED_CAST	/* see untrusted_task() in maps.bpf.h; this object has kfuncs anyway */
#include "fds.bpf.h"

#define FIXED_FILE_FLAG 1U		/* IOSQE_FIXED_FILE, kept as REQ_F_FIXED_FILE */
#define SETUP_SQPOLL_FLAG 2U		/* IORING_SETUP_SQPOLL */
#define SPLICE_FD_IN_FIXED_FLAG (1U << 31) /* SPLICE_F_FD_IN_FIXED */
#define FILE_INDEX_ALLOC 0xffffffffU	/* IORING_FILE_INDEX_ALLOC */
#define FSYNC_DATASYNC_FLAG 1U		/* IORING_FSYNC_DATASYNC */
/* FFS_NOWAIT and FFS_ISREG, kept in the low bits of io_rsrc_node.file_ptr */
#define FILE_PTR_FLAG_BITS 3UL

#define IO_WORKER_FLAG 0x10U		/* PF_IO_WORKER: SQ threads and io-wq workers */

/* kfuncs of Linux 6.13 and later, weak so that the object loads without them */
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;
extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				u64 value) __ksym __weak;

/* 1 when the agent found the three kfuncs above in this kernel's BTF */
const volatile __u32 targ_signal_task;

/*
 * Sends the SIGSTOP of a --freeze hold and returns 0 or a negative value. A
 * user thread sends it to itself, and the whole process stops before that
 * thread returns to user space.
 *
 * An io worker (the SQ thread of an IORING_SETUP_SQPOLL ring, or an io-wq
 * worker that runs a request or its completion) cannot stop the process in
 * time that way. complete_signal() wakes only the running worker for its own
 * SIGSTOP, and the other threads learn of the stop only when the worker
 * dequeues it in get_signal() at the top of its next loop. A thread woken by
 * the request's completion may return to user space before that, and exit.
 * So a worker sends the stop to the process's leader, thread-directed. The
 * leader is woken, or interrupted if it runs, and starts the group stop
 * before it returns to user space. A leader in an uninterruptible sleep
 * starts it when it wakes. Without the kfuncs, or when the leader has
 * exited, no kernel hold is made, and the agent stops the process when it
 * reads the record.
 */
static __always_inline long uring_hold_signal_send(void)
{
	struct task_struct *current_task = bpf_get_current_task_btf();
	struct task_struct *leader;
	long err;

	if (!(current_task->flags & IO_WORKER_FLAG))
		return bpf_send_signal(SIGSTOP_NUMBER);
	if (!targ_signal_task)
		return -1;
	leader = bpf_task_from_pid(current_task->tgid);
	if (!leader)
		return -1;
	err = bpf_send_signal_task(leader, SIGSTOP_NUMBER, PIDTYPE_PID, 0);
	bpf_task_release(leader);
	return err;
}

/* Value of opcode name in this kernel's BTF, or -1 when this kernel lacks the opcode. */
#define URING_OP(name)							\
	(bpf_core_enum_value_exists(enum io_uring_op, name) ?		\
	 (int)bpf_core_enum_value(enum io_uring_op, name) : -1)

/*
 * Sends a coverage record for trigger, once per process, when a request of
 * proc may be that trigger but cannot be decoded on this kernel. op is the
 * request's opcode.
 */
static __always_inline void coverage_send(struct st_proc *proc, __u32 trigger, __u32 op,
					  struct task_struct *task)
{
	struct st_coverage_record *rec;
	__u32 bit = ST_TRIG_BIT(trigger);

	if (!(targ_triggers & bit) || (proc->coverage & bit))
		return;
	if (__sync_fetch_and_or(&proc->coverage, bit) & bit)
		return;
	rec = record_reserve(sizeof(*rec), ST_REC_COVERAGE);
	if (!rec)
		return;
	header_fill(&rec->hdr, ST_REC_COVERAGE, sizeof(*rec), task, bpf_ktime_get_boot_ns());
	rec->trigger = trigger;
	rec->via = ST_VIA_IO_URING;
	rec->reason = ST_COVERAGE_UNDECODED;
	rec->op = op;
	bpf_ringbuf_submit(rec, submit_flags(0, 0));
}

/*
 * The task a request's record names, or NULL for the current task.
 *
 * Requests of an IORING_SETUP_SQPOLL ring are submitted by the ring's SQ
 * thread (comm "iou-sqp-PID"). The kernel creates it with CLONE_THREAD and
 * CLONE_FILES in the thread group of the task that set the ring up. Another
 * ring may share it (IORING_SETUP_ATTACH_WQ) only from that thread group.
 * So its tgid is the owner's, and current_proc() finds the owner's entry.
 * The tid named is the ring's submitter_task when the ring records
 * one (IORING_SETUP_SINGLE_ISSUER: the one task allowed to use the ring,
 * which is the thread that wrote the SQE). Otherwise the kernel keeps no
 * record of which user thread wrote the SQE, and the SQ thread is named,
 * which also shows the reader that the request came through SQPOLL.
 *
 * A completion may run in an io-wq worker of the same thread group; req->tctx
 * then still names the task that submitted the request.
 *
 * NOTE: with SQPOLL the owner's threads run on while the SQ thread submits,
 * so a --freeze hold stops them some instructions after they wrote the SQE:
 * see uring_hold_signal_send().
 */
static __always_inline struct task_struct *request_task(struct io_kiocb *req)
{
	struct task_struct *current_task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct io_ring_ctx *ctx = BPF_CORE_READ(req, ctx);
	struct task_struct *task = NULL;

	if (bpf_core_field_exists(struct io_uring_task, task))
		task = BPF_CORE_READ(req, tctx, task);
	if (bpf_core_field_exists(struct io_ring_ctx, submitter_task) &&
	    (BPF_CORE_READ(ctx, flags) & SETUP_SQPOLL_FLAG)) {
		struct task_struct *submitter = BPF_CORE_READ(ctx, submitter_task);

		if (submitter)
			task = submitter;
	}
	if (!task || task == current_task || BPF_CORE_READ(task, tgid) != tgid)
		return NULL;
	return task;
}

/*
 * Returns the file at index of the ring's registered file table
 * (ctx->file_table.data.nodes[index]->file_ptr, Linux 6.13 and later).
 * Sets *unknown when this kernel lays the table out differently.
 */
static __always_inline struct file *fixed_file(struct io_ring_ctx *ctx, __u32 index,
					       bool *unknown)
{
	struct io_rsrc_node **nodes;
	struct io_rsrc_node *node = NULL;
	unsigned long file_ptr;

	if (!bpf_core_field_exists(struct io_ring_ctx, file_table) ||
	    !bpf_core_field_exists(struct io_file_table, data) ||
	    !bpf_core_field_exists(struct io_rsrc_data, nodes) ||
	    !bpf_core_field_exists(struct io_rsrc_node, file_ptr)) {
		*unknown = true;
		return NULL;
	}
	if (index >= BPF_CORE_READ(ctx, file_table.data.nr))
		return NULL;
	nodes = BPF_CORE_READ(ctx, file_table.data.nodes);
	if (!nodes || bpf_probe_read_kernel(&node, sizeof(node), &nodes[index]) || !node)
		return NULL;
	file_ptr = BPF_CORE_READ(node, file_ptr);
	return (struct file *)(file_ptr & ~FILE_PTR_FLAG_BITS);
}

/* The file of descriptor fd, or of fixed file index fd when fixed. */
static __always_inline struct file *request_file(struct io_kiocb *req, int fd, bool fixed,
						 bool *unknown)
{
	if (fixed)
		return fixed_file(BPF_CORE_READ(req, ctx), (__u32)fd, unknown);
	return current_fd_file(fd);
}

/*
 * Sends first-stdin for a request that reads descriptor fd, or fixed file
 * index fd when fixed, if the file is stdin's, at an explicit offset when
 * at_offset. For a fixed file the record's fd is the index into the
 * registered file table, which is what the SQE carries, and the line has
 * "fixed": true. out is the output of a SPLICE or TEE, which decides whether
 * it can read, or NULL.
 */
static __always_inline int uring_read(struct st_proc *proc, struct io_kiocb *req, int fd,
				      bool fixed, __u32 call, __u32 op, bool at_offset,
				      struct file *out)
{
	struct task_struct *task;
	struct file *file;
	bool unknown = false;

	if (!fixed && !maybe_stdin(proc, fd))
		return 0;
	file = request_file(req, fd, fixed, &unknown);
	task = request_task(req);
	if (unknown) {
		coverage_send(proc, ST_TRIG_FIRST_STDIN, op, task);
		return 0;
	}
	if (!file_is_stdin(proc, file) || !stdin_call_reads(file, call, at_offset))
		return 0;
	if (out && !transfer_reads(file, call, out))
		return 0;
	stdin_send_task(proc, fd, fixed, call, ST_VIA_IO_URING, task);
	return 0;
}

/*
 * SPLICE and TEE read the descriptor in io_splice.splice_fd_in. A SPLICE
 * whose off_in is not -1 reads at that offset, as splice(2) with off_in
 * does. TEE takes no offsets, and its prep does not set off_in. The output
 * is the request's own descriptor, and a SPLICE needs a pipe on one side and
 * a TEE on both, as splice(2) and tee(2) do. An output that cannot be found
 * is not checked.
 */
static __always_inline int uring_splice(struct st_proc *proc, struct io_kiocb *req, __u32 call,
					__u32 op)
{
	struct io_splice *sp = (struct io_splice *)&req->cmd;
	bool at_offset = false, out_unknown = false;
	struct file *out;
	__u32 flags;
	int fd_in;

	if (!bpf_core_field_exists(struct io_splice, splice_fd_in) ||
	    !bpf_core_field_exists(struct io_splice, flags) ||
	    !bpf_core_field_exists(struct io_splice, off_in)) {
		coverage_send(proc, ST_TRIG_FIRST_STDIN, op, request_task(req));
		return 0;
	}
	fd_in = BPF_CORE_READ(sp, splice_fd_in);
	flags = BPF_CORE_READ(sp, flags);
	if (call == ST_CALL_SPLICE) {
		loff_t off_in = BPF_CORE_READ(sp, off_in);

		/* below -1 it fails with EINVAL before reading */
		if (off_in < -1)
			return 0;
		at_offset = off_in != -1;
	}
	out = request_file(req, BPF_CORE_READ(req, cqe.fd),
			   BPF_CORE_READ(req, flags) & FIXED_FILE_FLAG, &out_unknown);
	return uring_read(proc, req, fd_in, flags & SPLICE_FD_IN_FIXED_FLAG, call, op, at_offset,
			  out_unknown ? NULL : out);
}

/* The descriptor and backlog of an IORING_OP_LISTEN request, until it completes. */
struct uring_listen {
	int fd;
	int backlog;
	bool fixed;
};

/*
 * Listen requests in flight, keyed by the request's address. At completion
 * req->cqe.fd is no longer the descriptor, since it shares its place with
 * the CQE's flags. LRU, so that a request whose completion went unseen
 * takes no place for good.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct uring_listen);
} uring_listens SEC(".maps");

/* Notes a listen request at its submission: the line waits for its result. */
static __always_inline int uring_listen_submit(struct st_proc *proc, struct io_kiocb *req,
					       __u32 op)
{
	struct io_listen *listen = (struct io_listen *)&req->cmd;
	bool fixed = BPF_CORE_READ(req, flags) & FIXED_FILE_FLAG;
	struct uring_listen pending = {
		.fd = BPF_CORE_READ(req, cqe.fd), .backlog = -1, .fixed = fixed,
	};
	__u64 key = (__u64)req;
	bool unknown = false;

	request_file(req, pending.fd, fixed, &unknown);
	if (unknown) {
		coverage_send(proc, ST_TRIG_FIRST_LISTEN, op, request_task(req));
		return 0;
	}
	/* NOTE: backlog is -1 on a kernel whose io_listen has no backlog field */
	if (bpf_core_field_exists(struct io_listen, backlog))
		pending.backlog = BPF_CORE_READ(listen, backlog);
	bpf_map_update_elem(&uring_listens, &key, &pending, BPF_ANY);
	return 0;
}

/*
 * Sends the first-listen record of a listen request that completed with res,
 * as listen(2) does at its exit: only for a listen that succeeded, with the
 * port that it bound.
 */
static __always_inline int uring_listen_done(struct st_proc *proc, struct io_kiocb *req, int res)
{
	__u64 key = (__u64)req;
	struct uring_listen *pending = bpf_map_lookup_elem(&uring_listens, &key);
	struct uring_listen done;

	if (!pending)
		return 0;
	done = *pending;
	bpf_map_delete_elem(&uring_listens, &key);
	if (res < 0)
		return 0;
	listen_send_task(proc, BPF_CORE_READ(req, file), done.fd, done.fixed, done.backlog,
			 ST_VIA_IO_URING, request_task(req));
	return 0;
}

/* The first-stdin call id of a read opcode, or -1. */
static __always_inline int read_call(int op)
{
	if (op == URING_OP(IORING_OP_READ))
		return ST_CALL_READ;
	if (op == URING_OP(IORING_OP_READV))
		return ST_CALL_READV;
	if (op == URING_OP(IORING_OP_READ_FIXED))
		return ST_CALL_READ_FIXED;
	if (op == URING_OP(IORING_OP_READ_MULTISHOT))
		return ST_CALL_READ_MULTISHOT;
	if (op == URING_OP(IORING_OP_RECV))
		return ST_CALL_RECV;
	if (op == URING_OP(IORING_OP_RECVMSG))
		return ST_CALL_RECVMSG;
	return -1;
}

/*
 * Whether a read request has an offset below -1, which fails with EINVAL
 * before reading, on a pipe too. READ_MULTISHOT ignores its offset.
 */
static __always_inline bool read_offset_invalid(struct io_kiocb *req, int op)
{
	struct io_rw *rw = (struct io_rw *)&req->cmd;

	if (op != URING_OP(IORING_OP_READ) && op != URING_OP(IORING_OP_READV) &&
	    op != URING_OP(IORING_OP_READ_FIXED))
		return false;
	return BPF_CORE_READ(rw, kiocb.ki_pos) < -1;
}

/* Opcodes that read a descriptor into the process but have no call id here. */
static __always_inline bool read_undecoded(int op)
{
	return op == URING_OP(IORING_OP_READV_FIXED) || op == URING_OP(IORING_OP_RECV_ZC);
}

/*
 * A command that the file's driver runs: it may read stdin's file, but what
 * it does depends on the driver, so a command on stdin's file gets a
 * coverage record.
 */
static __always_inline void uring_cmd(struct st_proc *proc, struct io_kiocb *req, int op)
{
	bool fixed = BPF_CORE_READ(req, flags) & FIXED_FILE_FLAG;
	int fd = BPF_CORE_READ(req, cqe.fd);
	bool unknown = false;
	struct file *file;

	if (!fixed && !maybe_stdin(proc, fd))
		return;
	file = request_file(req, fd, fixed, &unknown);
	if (unknown || file_is_stdin(proc, file))
		coverage_send(proc, ST_TRIG_FIRST_STDIN, op, request_task(req));
}

static __always_inline int on_stdin_request(struct st_proc *proc, struct io_kiocb *req, int op)
{
	int call = read_call(op);

	/* descriptors may arrive in its control messages, as for recvmsg(2) */
	if (op == URING_OP(IORING_OP_RECVMSG) && bpf_core_field_exists(struct io_sr_msg, umsg)) {
		struct io_sr_msg *sr = (struct io_sr_msg *)&req->cmd;

		note_control_message(proc, BPF_CORE_READ(sr, umsg));
	}
	if (op == URING_OP(IORING_OP_URING_CMD)) {
		uring_cmd(proc, req, op);
		return 0;
	}
	if (call >= 0) {
		bool fixed = BPF_CORE_READ(req, flags) & FIXED_FILE_FLAG;

		if (read_offset_invalid(req, op))
			return 0;

		/* a read at an explicit offset reads a pipe too, because the pipe ignores the offset */
		return uring_read(proc, req, BPF_CORE_READ(req, cqe.fd), fixed, call, op, false,
				  NULL);
	}
	if (op == URING_OP(IORING_OP_SPLICE))
		return uring_splice(proc, req, ST_CALL_SPLICE, op);
	if (op == URING_OP(IORING_OP_TEE))
		return uring_splice(proc, req, ST_CALL_TEE, op);
	if (read_undecoded(op))
		coverage_send(proc, ST_TRIG_FIRST_STDIN, op, request_task(req));
	return 0;
}

/* Returns io_sync.flags of an FSYNC or SYNC_FILE_RANGE request, or 0 without the field. */
static __always_inline __u32 sync_flags(struct io_kiocb *req)
{
	struct io_sync *sync = (struct io_sync *)&req->cmd;

	if (!bpf_core_field_exists(struct io_sync, flags))
		return 0;
	return BPF_CORE_READ(sync, flags);
}

/* IORING_OP_FSYNC is fdatasync(2) with IORING_FSYNC_DATASYNC in io_sync.flags. */
static __always_inline __u32 sync_call(struct io_kiocb *req)
{
	return (sync_flags(req) & FSYNC_DATASYNC_FLAG) ? ST_CALL_FDATASYNC : ST_CALL_FSYNC;
}

static __always_inline int on_submit(struct st_proc *proc, struct io_kiocb *req)
{
	int op = BPF_CORE_READ(req, opcode);

	if ((targ_triggers & ST_TRIG_BIT(ST_TRIG_FIRST_STDIN)) && stdin_pending(proc))
		on_stdin_request(proc, req, op);
	if ((targ_triggers & ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN)) &&
	    !(proc->once & ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN)) &&
	    op == URING_OP(IORING_OP_LISTEN))
		return uring_listen_submit(proc, req, op);
	if (!(targ_triggers & ST_TRIG_BIT(ST_TRIG_TRANSACTION)))
		return 0;
	if (op == URING_OP(IORING_OP_FSYNC))
		return on_call_task(proc, sync_call(req), ST_CLASS_TXN, ST_VIA_IO_URING,
				    request_task(req));
	/* as sync_file_range(2), only a request that waits for the write-out counts */
	if (op == URING_OP(IORING_OP_SYNC_FILE_RANGE) && (sync_flags(req) & SFR_WAIT_AFTER_FLAG))
		return on_call_task(proc, ST_CALL_SYNC_FILE_RANGE, ST_CLASS_TXN, ST_VIA_IO_URING,
				    request_task(req));
	return 0;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(handle_uring_submit_req, struct io_kiocb *req)
{
	struct st_proc *proc = current_proc();

	if (!proc)
		return 0;
	return on_submit(proc, req);
}

/*
 * Decides an OPENAT or OPENAT2 that completed with result res. When
 * io_open.file_slot is 0, the open made a new descriptor, which is res.
 * Otherwise it went into fixed file slot file_slot - 1, or into slot res
 * with IORING_FILE_INDEX_ALLOC.
 */
static __always_inline int uring_open_done(struct st_proc *proc, struct io_kiocb *req, int res,
					   int op)
{
	struct io_open *open = (struct io_open *)&req->cmd;
	struct task_struct *task = request_task(req);
	bool unknown = false;
	struct file *file;
	__u32 slot;

	if (!bpf_core_field_exists(struct io_open, file_slot)) {
		coverage_send(proc, ST_TRIG_NON_DETERMINISTIC_CALL, op, task);
		return 0;
	}
	slot = BPF_CORE_READ(open, file_slot);
	if (!slot)
		return open_result(proc, res, NULL, ST_VIA_IO_URING, task);
	if (!(targ_triggers & ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL)))
		return 0;
	file = fixed_file(BPF_CORE_READ(req, ctx), slot == FILE_INDEX_ALLOC ? res : slot - 1,
			  &unknown);
	if (unknown) {
		coverage_send(proc, ST_TRIG_NON_DETERMINISTIC_CALL, op, task);
		return 0;
	}
	return open_result(proc, -1, file, ST_VIA_IO_URING, task);
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(handle_uring_complete, struct io_ring_ctx *ring, void *req_ptr,
	     struct io_uring_cqe *cqe)
{
	struct io_kiocb *req = req_ptr;
	struct st_proc *proc;
	int op, res;

	/* CQEs that no request posted, such as IORING_OP_MSG_RING's, have no req */
	if (!req)
		return 0;
	proc = current_proc();
	if (!proc)
		return 0;
	op = BPF_CORE_READ(req, opcode);
	if (op == URING_OP(IORING_OP_OPENAT) || op == URING_OP(IORING_OP_OPENAT2)) {
		res = BPF_CORE_READ(cqe, res);
		return res < 0 ? 0 : uring_open_done(proc, req, res, op);
	}
	if (op == URING_OP(IORING_OP_LISTEN) && (targ_triggers & ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN)))
		return uring_listen_done(proc, req, BPF_CORE_READ(cqe, res));
	/* a descriptor made from a fixed file, which may be a registered stdin */
	if (op == URING_OP(IORING_OP_FIXED_FD_INSTALL) &&
	    (targ_triggers & ST_TRIG_BIT(ST_TRIG_FIRST_STDIN)))
		note_stdin_fd(proc, BPF_CORE_READ(cqe, res));
	return 0;
}
