// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * first-environ: the first time a traced process reads its environment.
 *
 * Two kinds of hooks send the one record per process:
 *  - a uprobe on the libc getenv family (and on the symbols of
 *    --environ-probe). The agent attaches it system-wide (pid -1) on each libc
 *    file, so processes that start or exec later are covered. The procs
 *    lookup below filters out untraced processes, which still pay the uprobe
 *    trap. The attach cookie carries the st_environ_source and, for
 *    --environ-probe, the option's index.
 *  - the exit of the open family, checking the file that the call opened.
 *    Reading the path in sys_enter would need bpf_probe_read_user_str(),
 *    which fails when the string's page is not resident (this program cannot
 *    fault it in), and it would miss relative paths, "/proc/thread-self/..",
 *    symlinks and opens through a dirfd. At sys_exit the kernel has resolved
 *    the path: the new descriptor's file is procfs's "environ" and its
 *    proc_inode names the process, so only a successful open of the caller's
 *    own environ counts.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "maps.bpf.h"

#define PROC_SUPER_MAGIC_NUMBER 0x9fa0	/* PROC_SUPER_MAGIC of <linux/magic.h> */
#define S_IFMT_BITS 00170000
#define S_IFREG_BITS 0100000

/* Attach cookie: source in the low byte, --environ-probe index above it. */
#define COOKIE_SOURCE(cookie) ((__u32)(cookie) & 0xff)
#define COOKIE_PROBE(cookie) ((__u32)((cookie) >> 8))

static __always_inline struct st_environ_record *environ_reserve(struct st_proc *proc)
{
	struct st_environ_record *rec;

	if (!once_claim(proc, ST_TRIG_FIRST_ENVIRON))
		return NULL;
	rec = once_reserve(proc, ST_TRIG_FIRST_ENVIRON, sizeof(*rec), ST_REC_ENVIRON);
	if (!rec) {
		hold_lost_once(proc, ST_TRIG_FIRST_ENVIRON);
		return NULL;
	}
	header_current(&rec->hdr, ST_REC_ENVIRON, sizeof(*rec), bpf_ktime_get_boot_ns());
	rec->source = 0;
	rec->probe = 0;
	rec->name[0] = '\0';
	return rec;
}

/*
 * Copies the variable name. The name is often a string constant of libc in a
 * page that was never touched, where bpf_probe_read_user_str() fails. This
 * program is sleepable, so bpf_copy_from_user() can fault the page in. That
 * copy has a fixed size, which stops at the page end so that an unmapped
 * next page cannot make it fail.
 */
static __always_inline void read_name(char *out, const char *name)
{
	__u32 room = 4096 - ((unsigned long)name & 4095);
	__u32 len = room < ST_ENV_NAME_LEN ? room : ST_ENV_NAME_LEN;

	if (bpf_probe_read_user_str(out, ST_ENV_NAME_LEN, name) >= 0)
		return;
	out[0] = '\0';
	if (len == 0 || len > ST_ENV_NAME_LEN)
		return;
	if (bpf_copy_from_user(out, len, name))
		out[0] = '\0';
	out[ST_ENV_NAME_LEN - 1] = '\0';
}

#define USER32_CS 0x23	/* __USER32_CS of arch/x86/include/asm/segment.h */

/*
 * Returns the first argument of a 32-bit caller, which the i386 calling
 * convention passes on the stack above the return address, not in a register.
 */
static __always_inline const char *ia32_first_argument(struct pt_regs *regs)
{
	__u32 arg = 0;
	const void *at = (const void *)(PT_REGS_SP(regs) + 4);

	if (bpf_probe_read_user(&arg, sizeof(arg), at) &&
	    bpf_copy_from_user(&arg, sizeof(arg), at))
		return NULL;
	return (const char *)(unsigned long)arg;
}

SEC("uprobe.s")
int BPF_KPROBE(handle_environ_uprobe, const char *name)
{
	struct st_proc *proc = current_proc();
	struct st_environ_record *rec;
	__u64 cookie;

	if (!proc || (proc->once & ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON)))
		return 0;
	rec = environ_reserve(proc);
	if (!rec)
		return 0;
	cookie = bpf_get_attach_cookie(ctx);
	rec->source = COOKIE_SOURCE(cookie);
	rec->probe = COOKIE_PROBE(cookie);
#if defined(__TARGET_ARCH_x86)
	if (ctx->cs == USER32_CS)
		name = ia32_first_argument(ctx);
#endif
	/* a failed read leaves the name empty; the record still counts */
	if (rec->source != ST_ENVIRON_PROBE && name)
		read_name(rec->name, name);
	rec->hdr.flags = hold_current(proc, ST_TRIG_FIRST_ENVIRON);
	bpf_ringbuf_submit(rec, submit_flags(rec->hdr.flags, ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON)));
	return 0;
}

/* Whether file is /proc/PID/environ or /proc/PID/task/TID/environ of the caller. */
static __always_inline bool is_own_environ(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct proc_inode *pinode;
	static const char environ_name[8] = "environ";
	char name[8] = {};
	__u64 id;
	int nr, i;

	if (BPF_CORE_READ(inode, i_sb, s_magic) != PROC_SUPER_MAGIC_NUMBER)
		return false;
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT_BITS) != S_IFREG_BITS)
		return false;
	if (BPF_CORE_READ(file, f_path.dentry, d_name.len) != 7)
		return false;
	bpf_probe_read_kernel(name, 7, BPF_CORE_READ(file, f_path.dentry, d_name.name));
	for (i = 0; i < 7; i++)
		if (name[i] != environ_name[i])
			return false;

	/* procfs embeds the inode in its proc_inode, which names the process */
	pinode = (void *)inode - bpf_core_field_offset(struct proc_inode, vfs_inode);
	nr = BPF_CORE_READ(pinode, pid, numbers[0].nr);
	id = bpf_get_current_pid_tgid();
	return nr == (int)(id >> 32) || nr == (int)(__u32)id;
}

static __always_inline int on_open_exit(long ret)
{
	struct st_proc *proc = current_proc();
	struct st_environ_record *rec;
	struct task_struct *task;
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;

	if (!proc || ret < 0 || (proc->once & ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON)))
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || ret >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[ret]);
	if (!file || !is_own_environ(file))
		return 0;

	rec = environ_reserve(proc);
	if (!rec)
		return 0;
	rec->source = ST_ENVIRON_PROC_FILE;
	rec->hdr.flags = hold_current(proc, ST_TRIG_FIRST_ENVIRON);
	bpf_ringbuf_submit(rec, submit_flags(rec->hdr.flags, ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON)));
	return 0;
}

#define OPEN_HOOK(name)							\
SEC("tp/syscalls/sys_exit_" #name)					\
int handle_environ_##name(struct trace_event_raw_sys_exit *ctx)	\
{									\
	return on_open_exit(ctx->ret);					\
}

OPEN_HOOK(open)
OPEN_HOOK(openat)
OPEN_HOOK(openat2)
