/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Loads and attaches the BPF programs and owns their maps. */
#ifndef SNAPTRIG_TRACER_H
#define SNAPTRIG_TRACER_H

#include <sys/sysmacros.h>
#include <sys/types.h>
#include "options.h"
#include "ring.h"
#include "tunables.h"

struct snaptrig_bpf;
struct idle_bpf;
struct uring_bpf;
struct compat_bpf;
struct bpf_object;
struct bpf_object_skeleton;

struct tracer {
	__u64 lost_seen[ST_LOST_SLOTS];	/* per kind, as last reported */
	struct snaptrig_bpf *skel;
	struct idle_bpf *idle;		/* NULL unless idle is selected */
	__u64 idle_failures_seen;	/* timer_failures of idle.bpf.c at the last idle_retry_timers() */
	__u64 idle_retry_ns;		/* boot time before which idle_retry_timers() makes no pass */
	size_t idle_unarmed;		/* idle processes the last pass could not arm a timer for */
	struct uring_bpf *uring;	/* NULL unless loaded: see uring_open() */
	struct compat_bpf *compat;	/* NULL unless loaded: the ia32 system call hook */
	struct tunables tunables;	/* written into every object before its load */
	int compat_attached;		/* the ia32 hook is attached: see compat_attach() */
	int compat_pending;		/* --ia32 auto: compat_attach() loads the hook first */
	struct ring_reader ring;	/* mapped by tracer_open_reader() */
	int procs_fd;
	int lost_fd;
	int lost_batch_failed;		/* the kernel rejected a batch lookup of lost_fd */
	int holds_fd;
	int groups_fd;			/* checkpointer_groups of bpf/snaptrig.bpf.c */
	int self_signals_fd;		/* self_signals of bpf/snaptrig.bpf.c */
	int ncpus;
	__u32 blind_vias;		/* 1 << enum st_via of paths whose hooks failed to load */
	int blind_errors[ST_VIA_COUNT];	/* the -errno of each of those loads */
};

/* Encodes dev as the kernel's internal dev_t (major << 20 | minor), the form BPF programs read. */
static inline __u64 kernel_dev(dev_t dev)
{
	return ((__u64)major(dev) << 20) | minor(dev);
}

/* Decodes the kernel's internal dev_t that BPF programs read, as kernel_dev() encodes it. */
static inline dev_t user_dev(__u64 kernel)
{
	return makedev(kernel >> 20, kernel & 0xfffff);
}

/* Identity of the file that was a process's stdin, as the kernel identifies it. */
struct stdin_id {
	__u64 dev;	/* kernel-internal dev_t: major << 20 | minor */
	__u64 ino;
	__u64 fds;	/* descriptors 0 to 63 that refer to it */
	int high;	/* a descriptor above 63 refers to it */
	int known;
};

/*
 * Makes obj use the maps of the main object (procs, events, lost), so that
 * its programs filter on the same procs and write to the same ring buffer.
 * Call after bpf_object open and before load. Returns 0 or -errno.
 */
int tracer_share_maps(struct tracer *t, struct bpf_object *obj);

/*
 * Loads the object of skeleton (bpf_object__load_skeleton()), then drops
 * from the RSS the pages of the object file that the skeleton embeds in the
 * executable: libbpf reads them only while it opens and loads the object.
 * Each later load parses the kernel's BTF on top of what is resident, which
 * takes about twice the size of /sys/kernel/btf/vmlinux (5.5 MB on Linux
 * 6.18). An open that needs the pages again reads them back from the
 * executable, which the kernel keeps from being written while it runs.
 * With -vv it logs how long the load took: the parse of the kernel's BTF,
 * relocation and the verifier. Returns 0 or -errno.
 */
int tracer_load(struct bpf_object_skeleton *skeleton);

/*
 * Builds the BTF that object loads relocate against (agent/corebtf.h) from
 * the images of all objects, and returns the kernel's BTF id of
 * task_struct for untrusted_task() of maps.bpf.h, or 0. A failure leaves
 * the objects to the kernel's BTF, with a message at -v.
 */
__u32 tracer_build_core_btf(void);

/*
 * Bracket the loads at start. Each load makes libbpf read the kernel's BTF
 * into about 11 MiB of heap and free it when the load ends, and glibc hands
 * a free block that large back to the kernel at once. So the next load
 * faulted all of it in again: a parse took about 10 ms, against 3 ms in
 * reused memory. Between the two calls the heap keeps freed memory for the
 * next load. The end gives it back before the ring buffer is mapped, so the
 * peak RSS at start stays that of one load. The end also closes the file of
 * the BTF for CO-RE, so a later load, as of the ia32 hook, relocates against
 * the kernel's BTF and the run keeps no descriptor open for it.
 */
void tracer_loads_begin(void);
void tracer_loads_end(void);

/* Checks the capabilities that a run with triggers needs; -EPERM after a message. */
int tracer_check_privileges(__u32 triggers);

/* Whether tracefs lists the tracepoint category/name. */
int tracepoint_exists(const char *category, const char *name);

/* Mounts tracefs when no tracefs is mounted; syscall tracepoints need it. */
int tracer_ensure_tracefs(void);

/*
 * Opens, configures, loads and attaches the programs that opts->triggers
 * need. Returns 0 or -errno after printing what failed.
 */
int tracer_open(struct tracer *t, const struct options *opts, pid_t agent_pid);

/* targ_calls_no_wakeup and targ_quiet_jiffies of maps.bpf.h for a cooldown of cooldown_ns. */
__u32 tracer_calls_no_wakeup(__u64 cooldown_ns);
__u64 tracer_quiet_jiffies(__u64 cooldown_ns);

/*
 * Maps the ring buffer for reading, with handle_record called for every
 * record. From then on the ring counts twice its size in the agent's RSS,
 * because its data area is mapped twice. Records sent before this call wait
 * in the ring. Returns 0 or -errno after printing what failed.
 */
int tracer_open_reader(struct tracer *t, int (*handle_record)(void *ctx, void *data, size_t size),
		       void *ctx);
void tracer_close(struct tracer *t);
struct link_list;
/* Adds the attached links of t's objects to l, for link_list_destroy(). 0 or -ENOMEM. */
int tracer_links(struct tracer *t, struct link_list *l);

/* Starts tracing process pid. Returns 0, -EEXIST or -errno. */
int tracer_add(struct tracer *t, pid_t pid, const struct stdin_id *in);
/*
 * Sets the ST_TRIG_BIT once-triggers in once on pid's kernel entry, atomically
 * against the programs that claim them. Returns the bits of once that were
 * set already, because pid passed the trigger after its entry was created
 * and the kernel sends the record, or -errno (-ENOENT: pid has no entry).
 */
int tracer_set_once(struct tracer *t, pid_t pid, __u32 once);
/*
 * Sets the ST_PROC_* bits in flags on pid's kernel entry and, unless
 * hold_after_ns is 0, the boot-time ns before which --freeze does not stop
 * it. Returns 0 or -errno (-ENOENT: no entry).
 */
int tracer_set_flags(struct tracer *t, pid_t pid, __u32 flags, __u64 hold_after_ns);
/*
 * Tells the kernel side that the agent is detaching, so that it stops no
 * process from now on: at an exec for hooks, or for --freeze.
 */
void tracer_end_holds(struct tracer *t);
void tracer_remove(struct tracer *t, pid_t pid);
/*
 * Ends the kernel's or the agent's hold of pid: deletes its entry in the holds
 * map, then sends SIGCONT, or SIGKILL when kill_process is set. Stores the
 * entry's ST_HOLD_* flags in *flags unless flags is NULL (0 without an entry).
 * Returns 1 when the process runs again, 0 when someone else stopped it
 * meanwhile or it was killed, and -1 when it is gone.
 */
int tracer_release_hold(struct tracer *t, pid_t pid, int kill_process, __u32 *flags);
/* Whether pid has an entry in the kernel's procs map. */
int tracer_has(struct tracer *t, pid_t pid);
/* Number of entries in the kernel's procs map. */
size_t tracer_count(struct tracer *t);

/* Classifier callback: copies the kernel's st_proc.calls of pid. */
int tracer_read_calls(void *ctx, __u32 pid, __u64 *calls, __u64 *windows);

/* Copies the kernel's st_proc of pid; 0 or -errno. */
int tracer_read_proc(struct tracer *t, __u32 pid, struct st_proc *proc);
/*
 * Reads when process pid last sent itself the signal of slot (ST_PASS_*),
 * which it may have outlived. Returns the boot-time ns, or 0 for never.
 */
__u64 tracer_self_signal_ns(struct tracer *t, __u32 pid, __u32 slot);

/* Sums the lost counters over CPUs into by_kind; returns the total. */
__u64 tracer_read_lost(struct tracer *t, __u64 *by_kind);

int stdin_id_of_fd(int fd, struct stdin_id *in);
int stdin_id_of_pid(pid_t pid, struct stdin_id *in);

#endif
