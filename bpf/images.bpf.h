/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The files that the agent examines for uprobes (markers, first-environ),
 * shared by the main object, which hooks mmap(2), and the ia32 object, which
 * hooks the mmap2(2) of 32-bit programs. Include after fds.bpf.h.
 */
#ifndef SNAPTRIG_IMAGES_BPF_H
#define SNAPTRIG_IMAGES_BPF_H

#define PROT_EXEC_FLAG 0x4		/* PROT_EXEC of <sys/mman.h> */
#define MAP_ANONYMOUS_FLAG 0x20		/* MAP_ANONYMOUS of <sys/mman.h> */

/* Executables and libraries the agent has examined, so they load without a stop. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ST_IMAGES_MAX);
	__type(key, struct st_image);
	__type(value, __u8);
} images SEC(".maps");

#define I_CTIME_QUERIED_BIT (1u << 31)	/* I_CTIME_QUERIED of include/linux/fs.h */

/* Older kernels keep the change time in a timespec64: __i_ctime, and before that i_ctime. */
struct inode___ctime_6_6 {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___ctime_old {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

/* Fills image with the identity of inode that the agent gets from stat(2). */
static __always_inline void image_of_inode(struct inode *inode, struct st_image *image)
{
	image->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	image->ino = BPF_CORE_READ(inode, i_ino);
	image->pad = 0;
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		image->ctime_sec = BPF_CORE_READ(inode, i_ctime_sec);
		/* multigrain timestamps flag a queried ctime in the top bit, which inode_get_ctime_nsec() masks */
		image->ctime_nsec = BPF_CORE_READ(inode, i_ctime_nsec) & ~I_CTIME_QUERIED_BIT;
	} else if (bpf_core_field_exists(((struct inode___ctime_6_6 *)inode)->__i_ctime)) {
		struct inode___ctime_6_6 *old = (void *)inode;

		image->ctime_sec = BPF_CORE_READ(old, __i_ctime.tv_sec);
		image->ctime_nsec = BPF_CORE_READ(old, __i_ctime.tv_nsec);
	} else {
		struct inode___ctime_old *old = (void *)inode;

		image->ctime_sec = BPF_CORE_READ(old, i_ctime.tv_sec);
		image->ctime_nsec = BPF_CORE_READ(old, i_ctime.tv_nsec);
	}
}

/*
 * Whether the process may wait, stopped, until the agent has attached the
 * hooks of a new image. A process with a controlling terminal runs on: an
 * interactive shell waits for its jobs with WUNTRACED, would see the stop,
 * and would take the job for stopped and resume it in the background. So
 * does a ptraced process, whose debugger would get the SIGSTOP and the
 * SIGCONT as signals of its own program.
 */
static __always_inline bool may_stop_for_hooks(struct task_struct *task)
{
	return !BPF_CORE_READ(task, signal, tty) && !BPF_CORE_READ(task, ptrace);
}

/* Whether file is a memfd, whose name memfd_create(2) starts with "memfd:". */
static __always_inline bool is_memfd(struct file *file)
{
	const unsigned char *name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	static const char memfd[] = "memfd:";
	char prefix[sizeof(memfd) - 1] = {};
	int i;

	bpf_probe_read_kernel(prefix, sizeof(prefix), name);
	for (i = 0; i < (int)sizeof(prefix); i++)
		if (prefix[i] != memfd[i])
			return false;
	return true;
}

/*
 * Reports a traced mmap of the file at fd with PROT_EXEC: a library that
 * the dynamic loader maps after the exec, or one that dlopen() maps later.
 * A regular file the agent has not examined goes to it in a record, and
 * the process stops, as at the exec of a new image, until the file's
 * markers and getenv probes are attached. The stop takes effect at the
 * return to user space, after the mapping is made, and uprobes attached
 * later reach existing mappings too. A process that may not be stopped
 * (may_stop_for_hooks()) still sends the record, so that its library is
 * examined as soon as the agent reads the record.
 * NOTE: a mapping made executable later by mprotect(2) passes no hook, so
 * only the agent's rescan after an exec finds it.
 */
static __always_inline void image_mapped(int fd)
{
	struct task_struct *task;
	struct st_image_record *rec;
	struct st_image image;
	struct inode *inode;
	struct file *file;

	if (fd < 0 || !current_proc())
		return;
	task = (struct task_struct *)bpf_get_current_task();
	file = task_fd_file(task, fd);
	if (!file)
		return;
	inode = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT_BITS) != S_IFREG_BITS)
		return;
	image_of_inode(inode, &image);
	if (bpf_map_lookup_elem(&images, &image))
		return;
	rec = record_reserve(sizeof(*rec), ST_REC_IMAGE);
	if (!rec)
		return;
	header_current(&rec->hdr, ST_REC_IMAGE, sizeof(*rec), bpf_ktime_get_boot_ns());
	rec->image = image;
	rec->fd = fd;
	rec->pad = 0;
	/*
	 * A JIT maps memfds executable by the thousand, each a new file, and a
	 * stop at each made its start 7 times slower. A memfd library is
	 * examined all the same, while its process runs on.
	 */
	if (may_stop_for_hooks(task) && !is_memfd(file) && stop_current(ST_TRIG_BOOTSTRAP))
		rec->hdr.flags = ST_RECORD_HOOK_HELD;
	bpf_ringbuf_submit(rec, SUBMIT_WAKE);
}

#endif
