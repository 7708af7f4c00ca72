/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Descriptor helpers shared by the programs that decode a call's file: the
 * system call hooks, the ia32 hook and the io_uring hooks. Each decides
 * first-listen and first-stdin the same way whatever path the call took, and
 * names the path in the record's via field.
 */
#ifndef SNAPTRIG_FDS_BPF_H
#define SNAPTRIG_FDS_BPF_H

#include "maps.bpf.h"

#define S_IFMT_BITS 00170000
#define S_IFSOCK_BITS 0140000
#define S_IFCHR_BITS 0020000
#define S_IFREG_BITS 0100000
#define S_IFIFO_BITS 0010000
#define O_PATH_FLAG 010000000	/* O_PATH, kept in file->f_flags */
#define KDEV(major, minor) (((__u32)(major) << 20) | (minor))
/* SYNC_FILE_RANGE_WAIT_AFTER: the one flag that makes sync_file_range(2) a transaction */
#define SFR_WAIT_AFTER_FLAG 4

static __always_inline struct file *task_fd_file(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

static __always_inline struct file *current_fd_file(int fd)
{
	return task_fd_file((struct task_struct *)bpf_get_current_task(), fd);
}

/* first-listen */

static __always_inline void listen_fill_address(struct st_listen_record *rec,
						struct file *file)
{
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	struct unix_address *ua;
	int len;

	rec->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	rec->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (rec->family == 2 /* AF_INET */) {
		bpf_core_read(rec->addr, 4, &sk->__sk_common.skc_rcv_saddr);
	} else if (rec->family == 10 /* AF_INET6 */) {
		bpf_core_read(rec->addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
	} else if (rec->family == 1 /* AF_UNIX */) {
		ua = BPF_CORE_READ((struct unix_sock *)sk, addr);
		if (!ua)
			return;
		/*
		 * len counts sun_family. For a path name it also counts the '\0'
		 * that the kernel adds, which a 108-byte path has past sun_path.
		 */
		len = BPF_CORE_READ(ua, len) - (int)sizeof(__u16);
		if (len <= 0)
			return;
		if (len > ST_SUN_PATH_LEN)
			len = ST_SUN_PATH_LEN;
		if (bpf_probe_read_kernel(rec->sun_path, len, ua->name[0].sun_path))
			return;
		rec->sun_path_len = len;
	}
}


static __always_inline bool stdin_pending(const struct st_proc *proc)
{
	return !(proc->once & ST_TRIG_BIT(ST_TRIG_FIRST_STDIN)) &&
	       (proc->flags & ST_PROC_STDIN_KNOWN);
}

/* Whether file is the file that was stdin of proc. */
static __always_inline bool file_is_stdin(const struct st_proc *proc, struct file *file)
{
	struct inode *inode;

	if (!file)
		return false;
	inode = BPF_CORE_READ(file, f_inode);
	return BPF_CORE_READ(inode, i_ino) == proc->stdin_ino &&
	       BPF_CORE_READ(inode, i_sb, s_dev) == proc->stdin_dev;
}

/* Whether descriptor fd of the current process is the file that was stdin. */
static __always_inline bool fd_is_stdin(const struct st_proc *proc, int fd)
{
	return file_is_stdin(proc, current_fd_file(fd));
}

#define FMODE_READ_BIT 0x1		/* FMODE_READ of linux/fs.h */
#define FMODE_LSEEK_BIT 0x4		/* FMODE_LSEEK of linux/fs.h */
#define FMODE_PREAD_BIT 0x8		/* FMODE_PREAD of linux/fs.h */

/*
 * Whether read-family call would read from file, the file that was stdin.
 * It fails before reading (EBADF) when the file is not open for reading,
 * and a receive fails (ENOTSOCK) when the file is no socket. A call that
 * reads at an explicit offset (at_offset) fails before reading (ESPIPE,
 * or EINVAL for a splice from a socket) when the file has no FMODE_PREAD:
 * a pipe, a FIFO, a socket or a terminal has none.
 */
static __always_inline bool stdin_call_reads(struct file *file, __u32 call, bool at_offset)
{
	fmode_t mode = BPF_CORE_READ(file, f_mode);

	if (!(mode & FMODE_READ_BIT))
		return false;
	if (at_offset && !(mode & FMODE_PREAD_BIT))
		return false;
	if (call == ST_CALL_RECVFROM || call == ST_CALL_RECVMSG || call == ST_CALL_RECVMMSG ||
	    call == ST_CALL_RECV)
		return (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT_BITS) == S_IFSOCK_BITS;
	/* copy_file_range fails with EINVAL unless both files are regular */
	if (call == ST_CALL_COPY_FILE_RANGE)
		return (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT_BITS) == S_IFREG_BITS;
	return true;
}

/* Whether file is a pipe or a FIFO. */
static __always_inline bool is_pipe(struct file *file)
{
	return file && (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT_BITS) == S_IFIFO_BITS;
}

/*
 * Whether sendfile, splice or tee from file into out reads file, which passed
 * stdin_call_reads(). Otherwise they fail with EINVAL before reading (seen on
 * Linux 6.18): sendfile from a pipe, or from a file that cannot seek (a
 * socket or a terminal) into anything but a pipe, splice without a pipe on
 * either side, and tee without pipes on both. Other calls read.
 */
static __always_inline bool transfer_reads(struct file *file, __u32 call, struct file *out)
{
	if (call == ST_CALL_SENDFILE)
		return !is_pipe(file) && ((BPF_CORE_READ(file, f_mode) & FMODE_LSEEK_BIT) ||
					  is_pipe(out));
	if (call == ST_CALL_TEE)
		return is_pipe(file) && is_pipe(out);
	if (call == ST_CALL_SPLICE)
		return is_pipe(file) || is_pipe(out);
	return true;
}

/*
 * Whether call on descriptor fd of the current process reads from stdin's
 * file, at an explicit offset when at_offset.
 */
static __always_inline bool fd_reads_stdin(const struct st_proc *proc, int fd, __u32 call,
					   bool at_offset)
{
	struct file *file = current_fd_file(fd);

	return file_is_stdin(proc, file) && stdin_call_reads(file, call, at_offset);
}

/*
 * Notes a new descriptor (from a dup, fcntl, open or pidfd_getfd) when it refers to stdin.
 * Descriptors received with SCM_RIGHTS are not known one by one: see
 * note_control_message().
 */
static __always_inline void note_stdin_fd(struct st_proc *proc, long fd)
{
	if (fd < 0 || !stdin_pending(proc) || !fd_is_stdin(proc, (int)fd))
		return;
	if (fd < ST_STDIN_FD_BITS)
		__sync_fetch_and_or(&proc->stdin_fds, 1ULL << fd);
	else
		__sync_fetch_and_or(&proc->flags, ST_PROC_STDIN_HIGH);
}

static __always_inline bool maybe_stdin(const struct st_proc *proc, int fd)
{
	if (fd < 0)
		return false;
	if (proc->flags & ST_PROC_STDIN_ANY)
		return true;
	if (fd < ST_STDIN_FD_BITS)
		return proc->stdin_fds & (1ULL << fd);
	return proc->flags & ST_PROC_STDIN_HIGH;
}

/*
 * Notes a recvmsg(2) that may receive descriptors: one with room for control
 * messages. The descriptors it installs are not known without decoding the
 * messages after the call, so from then on every read of the process checks
 * its descriptor against stdin until first-stdin fires.
 */
static __always_inline void note_control_message(struct st_proc *proc,
						 const struct user_msghdr *msg)
{
	__kernel_size_t controllen = 0;

	if (proc->flags & ST_PROC_STDIN_ANY)
		return;
	if (bpf_probe_read_user(&controllen, sizeof(controllen), &msg->msg_controllen))
		return;
	if (controllen)
		__sync_fetch_and_or(&proc->flags, ST_PROC_STDIN_ANY);
}

/*
 * Sends the first-listen record of proc for socket file at descriptor fd, or
 * at index fd of an io_uring ring's registered files when fixed is set.
 * The record names task, or the current task when task is NULL.
 */
static __always_inline void listen_send_task(struct st_proc *proc, struct file *file, int fd,
					     bool fixed, int backlog, __u32 via,
					     struct task_struct *task)
{
	struct st_listen_record *rec;
	umode_t mode;

	if (!file)
		return;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT_BITS) != S_IFSOCK_BITS)
		return;
	if (!once_claim(proc, ST_TRIG_FIRST_LISTEN))
		return;

	rec = once_reserve(proc, ST_TRIG_FIRST_LISTEN, sizeof(*rec), ST_REC_LISTEN);
	if (!rec) {
		hold_lost_once(proc, ST_TRIG_FIRST_LISTEN);
		return;
	}
	__builtin_memset(rec, 0, sizeof(*rec));
	header_fill(&rec->hdr, ST_REC_LISTEN, sizeof(*rec), task, bpf_ktime_get_boot_ns());
	rec->fd = fd;
	rec->fixed = fixed;
	rec->backlog = backlog;
	rec->via = via;
	listen_fill_address(rec, file);
	rec->hdr.flags = hold_current(proc, ST_TRIG_FIRST_LISTEN);
	bpf_ringbuf_submit(rec, submit_flags(rec->hdr.flags, ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN)));
}

static __always_inline void listen_send(struct st_proc *proc, struct file *file, int fd,
					int backlog, __u32 via)
{
	listen_send_task(proc, file, fd, false, backlog, via, NULL);
}

/*
 * Sends the first-stdin record of proc once file is known to be stdin's.
 * The record names task, or the current task when task is NULL. With fixed,
 * fd is an index into an io_uring ring's registered files.
 */
static __always_inline void stdin_send_task(struct st_proc *proc, int fd, bool fixed, __u32 call,
					    __u32 via, struct task_struct *task)
{
	struct st_stdin_record *rec;

	if (!once_claim(proc, ST_TRIG_FIRST_STDIN))
		return;
	rec = once_reserve(proc, ST_TRIG_FIRST_STDIN, sizeof(*rec), ST_REC_STDIN);
	if (!rec) {
		hold_lost_once(proc, ST_TRIG_FIRST_STDIN);
		return;
	}
	header_fill(&rec->hdr, ST_REC_STDIN, sizeof(*rec), task, bpf_ktime_get_boot_ns());
	rec->fd = fd;
	rec->call = call;
	rec->via = via;
	rec->fixed = fixed;
	rec->hdr.flags = hold_current(proc, ST_TRIG_FIRST_STDIN);
	bpf_ringbuf_submit(rec, submit_flags(rec->hdr.flags, ST_TRIG_BIT(ST_TRIG_FIRST_STDIN)));
}

static __always_inline void stdin_send(struct st_proc *proc, int fd, __u32 call, __u32 via)
{
	stdin_send_task(proc, fd, false, call, via, NULL);
}

/*
 * Decides an open that succeeded: notes descriptor fd when it refers to stdin,
 * and counts the open as a non-deterministic call when the new file is
 * /dev/random or /dev/urandom. For an open into an io_uring fixed file slot,
 * fd is -1 and file is the opened file. Otherwise file is looked up from fd.
 * The calls record names task, or the current task when task is NULL.
 */
static __always_inline int open_result(struct st_proc *proc, long fd, struct file *file,
				       __u32 via, struct task_struct *task)
{
	struct inode *inode;
	__u32 rdev;

	/* an open of /dev/stdin, /proc/self/fd/0 or the terminal again */
	if (fd >= 0 && (targ_triggers & ST_TRIG_BIT(ST_TRIG_FIRST_STDIN)))
		note_stdin_fd(proc, fd);
	if (!(targ_triggers & ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL)))
		return 0;
	if (fd >= 0)
		file = current_fd_file((int)fd);
	if (!file)
		return 0;
	/* an O_PATH descriptor cannot read the device */
	if (BPF_CORE_READ(file, f_flags) & O_PATH_FLAG)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT_BITS) != S_IFCHR_BITS)
		return 0;
	rdev = BPF_CORE_READ(inode, i_rdev);
	if (rdev == KDEV(1, 8))
		return on_call_task(proc, ST_CALL_OPEN_RANDOM, ST_CLASS_NONDET, via, task);
	if (rdev == KDEV(1, 9))
		return on_call_task(proc, ST_CALL_OPEN_URANDOM, ST_CLASS_NONDET, via, task);
	return 0;
}

#endif /* SNAPTRIG_FDS_BPF_H */
