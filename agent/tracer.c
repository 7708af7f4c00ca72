// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <dirent.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "compat.h"
#include "container.h"
#include "corebtf.h"
#include "emit.h"
#include "environ.skel.h"
#include "guard.skel.h"
#include "idle.h"
#include "idle.skel.h"
#include "links.h"
#include "log.h"
#include "marker.skel.h"
#include "prior.h"
#include "snaptrig.skel.h"
#include "tracer.h"
#include "uprobes.h"
#include "uring.h"
#include "uring.skel.h"
#include "compat.skel.h"

#define TRACEFS_MAGIC_NUMBER 0x74726163
#define TRACEFS_PATH "/sys/kernel/tracing"
#define DEBUGFS_TRACING_PATH "/sys/kernel/debug/tracing"
/* Below this cooldown, windows open so often that waking per window costs more. */
#define WAKEUP_MIN_COOLDOWN_NS 1000000ULL

__u32 tracer_calls_no_wakeup(__u64 cooldown_ns)
{
	return cooldown_ns < WAKEUP_MIN_COOLDOWN_NS;
}

/*
 * Returns the whole jiffies that surely lie inside a cooldown window, where
 * the hooks skip the clock read. clock_getres() of CLOCK_MONOTONIC_COARSE
 * gives the tick. The window's last sixteenth and two ticks are left to the
 * clock, since jiffies may lag it by a tick. 0 turns the shortcut off.
 */
__u64 tracer_quiet_jiffies(__u64 cooldown_ns)
{
	struct timespec tick;
	__u64 quiet;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &tick) || tick.tv_sec || tick.tv_nsec <= 0)
		return 0;
	quiet = (cooldown_ns - cooldown_ns / 16) / (__u64)tick.tv_nsec;
	return quiet > 2 ? quiet - 2 : 0;
}

static int is_tracefs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == TRACEFS_MAGIC_NUMBER;
}

/*
 * Checks that the tracepoints under path/events can be looked up. libbpf
 * reads each tracepoint's id there, and a lookup denied to a user without
 * root would otherwise look like a tracepoint missing from the kernel.
 */
static int check_tracefs_access(const char *path)
{
	char events[64];
	int err;

	snprintf(events, sizeof(events), "%s/events", path);
	/* with the effective ids and capabilities, as libbpf's reads have them */
	if (faccessat(AT_FDCWD, events, R_OK | X_OK, AT_EACCESS) == 0)
		return 0;
	err = -errno;
	log_error("cannot read %s: %s; the syscall tracepoints are listed there: run as root, give this user read access to tracefs, or add CAP_DAC_READ_SEARCH",
		  events, strerror(-err));
	return err;
}

int tracer_ensure_tracefs(void)
{
	if (is_tracefs(TRACEFS_PATH))
		return check_tracefs_access(TRACEFS_PATH);
	if (is_tracefs(DEBUGFS_TRACING_PATH))
		return check_tracefs_access(DEBUGFS_TRACING_PATH);
	if (mount("nodev", TRACEFS_PATH, "tracefs", 0, NULL)) {
		int err = -errno;

		log_error("cannot mount tracefs on %s: %s; mount it with 'mount -t tracefs nodev %s'",
			  TRACEFS_PATH, strerror(errno), TRACEFS_PATH);
		return err;
	}
	log_info(1, "mounted tracefs on %s", TRACEFS_PATH);
	return check_tracefs_access(TRACEFS_PATH);
}

int tracepoint_exists(const char *category, const char *name)
{
	char path[256];

	/* with the effective ids and capabilities, as in check_tracefs_access() */
	snprintf(path, sizeof(path), TRACEFS_PATH "/events/%s/%s", category, name);
	if (faccessat(AT_FDCWD, path, F_OK, AT_EACCESS) == 0)
		return 1;
	snprintf(path, sizeof(path), DEBUGFS_TRACING_PATH "/events/%s/%s", category, name);
	return faccessat(AT_FDCWD, path, F_OK, AT_EACCESS) == 0;
}

/* Triggers that need each program; lifecycle programs load always. */
static __u32 program_triggers(const char *name)
{
	static const struct {
		const char *prefix;
		__u32 triggers;
	} table[] = {
		{ "handle_listen", ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) },
		{ "handle_exit_listen", ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) },
		{ "handle_read", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_pread", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_recv", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_splice", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_tee", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_sendfile", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_copy_file_range", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_exit_pidfd_getfd", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_getrandom", ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) },
		{ "handle_clock_gettime", ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) },
		{ "handle_gettimeofday", ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) },
		{ "handle_time", ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) },
		{ "handle_exit_open", ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) |
				      ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_exit_dup", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_exit_fcntl", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "handle_fsync", ST_TRIG_BIT(ST_TRIG_TRANSACTION) },
		{ "handle_fdatasync", ST_TRIG_BIT(ST_TRIG_TRANSACTION) },
		{ "handle_sync", ST_TRIG_BIT(ST_TRIG_TRANSACTION) },
		{ "handle_msync", ST_TRIG_BIT(ST_TRIG_TRANSACTION) },
		{ "handle_mmap", UPROBE_TRIGGERS },
		{ "handle_signal_generate",
		  ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT) | ST_TRIG_BIT(ST_TRIG_SIGINT) |
		  ST_TRIG_BIT(ST_TRIG_SIGALRM) | ST_TRIG_BIT(ST_TRIG_SIGTSTP) |
		  ST_TRIG_BIT(ST_TRIG_SIGSTOP) },
	};
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strncmp(name, table[i].prefix, strlen(table[i].prefix)))
			return table[i].triggers;
	return TRIGGERS_ALL;
}

/* Turns off programs no selected trigger needs, and hooks this kernel lacks. */
static void select_programs(struct snaptrig_bpf *skel, __u32 triggers)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		const char *name = bpf_program__name(prog);
		int load = !!(program_triggers(name) & triggers);

		/*
		 * The signal program also watches for stops of held processes and
		 * notes the signals that the agent passes on to COMMAND.
		 */
		if (!strcmp(name, "handle_signal_generate"))
			load = 1;

		if (load && !strncmp(sec, "tp/syscalls/", 12) &&
		    !tracepoint_exists("syscalls", sec + 12)) {
			log_info(1, "tracepoint syscalls/%s is missing on this kernel; %s is off",
				 sec + 12, name);
			load = 0;
		}
		bpf_program__set_autoload(prog, load);
	}
}

static void explain_load_error(int err)
{
	if (err == -EPERM || err == -EACCES) {
		if (geteuid() != 0)
			log_error("loading BPF programs failed: %s; run as root or grant CAP_BPF and CAP_PERFMON",
				  strerror(-err));
		else
			log_error("loading BPF programs failed: %s; the kernel rejected them (check lockdown and kernel.unprivileged_bpf_disabled, rerun with -vvv for the verifier log)",
				  strerror(-err));
		return;
	}
	log_error("loading BPF programs failed: %s; rerun with -vvv for libbpf's log",
		  strerror(-err));
}

/* Whether the effective capability set has cap (linux/capability.h numbering). */
static int have_capability(int cap)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &header, data))
		return 0;
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

/* Appends name to the comma-separated list in missing. */
static void add_missing(char *missing, size_t size, const char *name)
{
	size_t len = strlen(missing);

	snprintf(missing + len, size - len, "%s%s", len ? ", " : "", name);
}

/*
 * Checks the capabilities that a run with triggers uses, and names every one
 * that is missing. Without CAP_KILL the agent could not resume the processes
 * of other users and sessions that the kernel stops at an exec or for a hold,
 * and they would stay stopped. Without CAP_SYS_PTRACE it could not read their
 * descriptors, maps and executables in /proc. NOTE: uprobes need
 * CAP_SYS_ADMIN: on Linux 6.18 here, perf_event_open() of a uprobe failed
 * with EACCES under CAP_BPF and CAP_PERFMON, and the kernel's reason is not
 * traced further.
 */
int tracer_check_privileges(__u32 triggers)
{
	int admin = have_capability(CAP_SYS_ADMIN);
	char missing[128] = "";

	if (!admin && !have_capability(CAP_BPF))
		add_missing(missing, sizeof(missing), "CAP_BPF");
	if (!admin && !have_capability(CAP_PERFMON))
		add_missing(missing, sizeof(missing), "CAP_PERFMON");
	if (!have_capability(CAP_KILL))
		add_missing(missing, sizeof(missing), "CAP_KILL");
	if (!have_capability(CAP_SYS_PTRACE))
		add_missing(missing, sizeof(missing), "CAP_SYS_PTRACE");
	if (!admin && (triggers & UPROBE_TRIGGERS))
		add_missing(missing, sizeof(missing),
			    "CAP_SYS_ADMIN (for the uprobes of first-environ, explicit and transaction)");
	if (!missing[0])
		return 0;
	log_error("missing %s: run as root, or add the missing capabilities", missing);
	return -EPERM;
}

#define SIDE_OBJECTS 3

/* The side objects. Each needs only the main object's maps. */
static int (*const side_open[SIDE_OBJECTS])(struct tracer *t, const struct options *opts) = {
	uring_open, idle_open, compat_open
};

/*
 * Opens the io_uring, idle and ia32 objects one after the other. Loading
 * each parses the kernel's BTF again into about twice the size of
 * /sys/kernel/btf/vmlinux (11 MiB on Linux 6.18), freed when that load ends.
 * Loads in parallel would add that much to the agent's peak memory per load
 * at once, while one at a time they take about 30 ms longer.
 */
static int open_side_objects(struct tracer *t, const struct options *opts)
{
	size_t i;
	int err;

	for (i = 0; i < SIDE_OBJECTS; i++) {
		err = side_open[i](t, opts);
		if (err)
			return err;
	}
	return 0;
}

/* Drops from the RSS the pages of an object file image embedded in the executable. */
static void release_image(const void *image, size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t data, start, end;

	if (!image || page <= 0)
		return;
	/* only whole pages inside the object, because its neighbors stay in use */
	data = (uintptr_t)image;
	start = (data + page - 1) & ~((uintptr_t)page - 1);
	end = (data + size) & ~((uintptr_t)page - 1);
	if (end > start)
		madvise((void *)start, end - start, MADV_DONTNEED);
}

__u32 tracer_build_core_btf(void)
{
	static const void *(*const images[])(size_t *size) = {
		snaptrig_bpf__elf_bytes, uring_bpf__elf_bytes, idle_bpf__elf_bytes,
		compat_bpf__elf_bytes, guard_bpf__elf_bytes, environ_bpf__elf_bytes,
		marker_bpf__elf_bytes,
	};
	static const char *const names[sizeof(images) / sizeof(images[0])] = {
		"snaptrig", "uring", "idle", "compat", "guard", "environ", "marker",
	};
	size_t count = sizeof(images) / sizeof(images[0]), i;
	struct core_object objects[sizeof(images) / sizeof(images[0])];
	__u32 task_btf_id;
	int err;

	for (i = 0; i < count; i++) {
		objects[i].data = images[i](&objects[i].size);
		objects[i].name = names[i];
	}
	err = core_btf_build(objects, count, &task_btf_id);
	for (i = 0; i < count; i++)
		release_image(objects[i].data, objects[i].size);
	if (err)
		log_info(1, "building a BTF for the CO-RE relocations failed: %s; each BPF object load searches the kernel's whole BTF",
			 strerror(-err));
	return task_btf_id;
}

int tracer_open(struct tracer *t, const struct options *opts, pid_t agent_pid)
{
	struct snaptrig_bpf *skel;
	__u32 task_btf_id;
	int err;

	memset(t, 0, sizeof(*t));
	t->procs_fd = t->lost_fd = t->holds_fd = t->groups_fd = t->self_signals_fd = -1;

	err = tracer_check_privileges(opts->triggers);
	if (err)
		return err;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		log_error("kernel BTF not found at /sys/kernel/btf/vmlinux; run a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	err = tracer_ensure_tracefs();
	if (err)
		return err;

	task_btf_id = tracer_build_core_btf();
	skel = snaptrig_bpf__open_opts(core_btf_open_opts());
	if (!skel) {
		err = -errno;
		log_error("opening the BPF object failed: %s", strerror(errno));
		return err;
	}
	t->skel = skel;
	tunables_compute(&t->tunables, opts, agent_pid, task_btf_id);
	TUNABLES_SET(skel->rodata, &t->tunables);
	skel->rodata->targ_follow = opts->follow;
	cgroup_target_write(skel, &opts->cgroup);
	if (opts->ring_buffer_size)
		bpf_map__set_max_entries(skel->maps.events, opts->ring_buffer_size);
	select_programs(skel, opts->triggers);
	/* without --cgroup the kernel formats no cgroup path for this tracepoint */
	bpf_program__set_autoload(skel->progs.handle_cgroup_attach_task, opts->cgroup.id != 0);
	bpf_program__set_autoload(skel->progs.handle_cgroup_mkdir, opts->cgroup.id != 0);

	err = tracer_load(skel->skeleton);
	if (err) {
		explain_load_error(err);
		goto fail;
	}
	err = snaptrig_bpf__attach(skel);
	if (err) {
		log_error("attaching BPF programs failed: %s; rerun with -vv to see which", strerror(-err));
		goto fail;
	}
	err = open_side_objects(t, opts);
	if (err)
		goto fail;

	t->procs_fd = bpf_map__fd(skel->maps.procs);
	t->lost_fd = bpf_map__fd(skel->maps.lost);
	t->holds_fd = bpf_map__fd(skel->maps.holds);
	t->groups_fd = bpf_map__fd(skel->maps.checkpointer_groups);
	t->self_signals_fd = bpf_map__fd(skel->maps.self_signals);
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		err = t->ncpus ? t->ncpus : -EINVAL;
		log_error("counting possible CPUs failed: %s", strerror(-err));
		goto fail;
	}
	return 0;
fail:
	tracer_close(t);
	return err;
}

static void release_elf(const struct bpf_object_skeleton *skeleton)
{
	if (skeleton)
		release_image(skeleton->data, skeleton->data_sz);
}

int tracer_load(struct bpf_object_skeleton *skeleton)
{
	__u64 start = boot_now_ns();
	int err;

	err = bpf_object__load_skeleton(skeleton);
	release_elf(skeleton);
	log_info(2, "loading the BPF object %s took %.1f ms", skeleton->name,
		 (double)(boot_now_ns() - start) / 1e6);
	return err;
}

/*
 * glibc's default thresholds. Once set by hand, they no longer rise when a
 * large block is freed, so later large blocks go back to the kernel at once.
 */
#define HEAP_DEFAULT_THRESHOLD (128 << 10)
#define HEAP_LOAD_THRESHOLD (32 << 20)	/* glibc's largest mmap threshold on 64-bit */

void tracer_loads_begin(void)
{
	mallopt(M_MMAP_THRESHOLD, HEAP_LOAD_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, HEAP_LOAD_THRESHOLD);
}

void tracer_loads_end(void)
{
	core_btf_free();
	mallopt(M_MMAP_THRESHOLD, HEAP_DEFAULT_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, HEAP_DEFAULT_THRESHOLD);
	malloc_trim(0);
}

int tracer_open_reader(struct tracer *t, int (*handle_record)(void *ctx, void *data, size_t size),
		       void *ctx)
{
	int err = ring_reader_open(&t->ring, bpf_map__fd(t->skel->maps.events), handle_record, ctx);

	if (err)
		log_error("mapping the ring buffer failed: %s", strerror(-err));
	return err;
}

int tracer_links(struct tracer *t, struct link_list *l)
{
	int err = 0;

	if (t->skel)
		err = link_list_add_skeleton(l, t->skel->skeleton);
	if (!err && t->idle)
		err = link_list_add_skeleton(l, t->idle->skeleton);
	if (!err && t->uring)
		err = link_list_add_skeleton(l, t->uring->skeleton);
	if (!err && t->compat)
		err = link_list_add_skeleton(l, t->compat->skeleton);
	return err;
}

void tracer_close(struct tracer *t)
{
	if (!t)
		return;
	ring_reader_close(&t->ring);
	idle_close(t);
	uring_close(t);
	compat_close(t);
	snaptrig_bpf__destroy(t->skel);
	t->skel = NULL;
	core_btf_free();
	t->procs_fd = t->lost_fd = t->holds_fd = t->groups_fd = t->self_signals_fd = -1;
}

int tracer_share_maps(struct tracer *t, struct bpf_object *obj)
{
	static const char *const names[] = { "procs", "events", "lost", "holds", "agent_gone",
					     "images" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, names[i]);
		struct bpf_map *own = bpf_object__find_map_by_name(t->skel->obj, names[i]);
		int err;

		if (!map)
			continue;
		err = bpf_map__reuse_fd(map, bpf_map__fd(own));
		if (err) {
			log_error("sharing map %s failed: %s", names[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

int tracer_add(struct tracer *t, pid_t pid, const struct stdin_id *in)
{
	struct st_proc proc = {};
	__u32 key = pid;
	int err;

	if (in && in->known) {
		proc.stdin_dev = in->dev;
		proc.stdin_ino = in->ino;
		proc.stdin_fds = in->fds;
		proc.flags |= ST_PROC_STDIN_KNOWN;
		if (in->high)
			proc.flags |= ST_PROC_STDIN_HIGH;
	}
	if (bpf_map_update_elem(t->procs_fd, &key, &proc, BPF_NOEXIST))
		return -errno;
	err = idle_add(t, pid);
	if (err)
		bpf_map_delete_elem(t->procs_fd, &key);
	return err;
}

int tracer_set_once(struct tracer *t, pid_t pid, __u32 once)
{
	struct st_once_seed args = { .tgid = (__u32)pid, .once = once };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));

	if (!once)
		return 0;
	if (bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.once_seed), &opts))
		return -errno;
	return (int)opts.retval;
}

void tracer_end_holds(struct tracer *t)
{
	__u32 zero = 0, detaching = 2;

	if (!t->skel)
		return;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.agent_gone), &zero, &detaching, BPF_ANY))
		log_error("cannot turn off the kernel's stops before detaching: %s; a process that execs or triggers meanwhile may stay stopped until the programs are detached",
			  strerror(errno));
}

int tracer_set_flags(struct tracer *t, pid_t pid, __u32 flags, __u64 hold_after_ns)
{
	struct st_flags_seed args = {
		.tgid = (__u32)pid,
		.flags = flags,
		.hold_after_ns = hold_after_ns,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));

	if (bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.flags_seed), &opts))
		return -errno;
	return (int)opts.retval;
}

void tracer_remove(struct tracer *t, pid_t pid)
{
	__u32 key = pid;

	bpf_map_delete_elem(t->procs_fd, &key);
	idle_remove(t, pid);
}

int tracer_release_hold(struct tracer *t, pid_t pid, int kill_process, __u32 *flags)
{
	struct st_hold hold = {};
	__u32 key = pid;
	int foreign;

	if (bpf_map_lookup_elem(t->holds_fd, &key, &hold) == 0)
		bpf_map_delete_elem(t->holds_fd, &key);
	if (flags)
		*flags = hold.flags;
	if (kill_process)
		return kill(pid, SIGKILL) ? -1 : 0;
	foreign = !!(hold.flags & ST_HOLD_FOREIGN_STOP);
	/* NOTE: the holds map is this agent's own, so another snaptrig's hold of pid ends too */
	if (foreign) {
		log_info(1, "process %d was stopped by another process while held; leaving it stopped",
			 pid);
		return 0;
	}
	if (kill(pid, SIGCONT))
		return -1;
	return 1;
}

int tracer_has(struct tracer *t, pid_t pid)
{
	struct st_proc proc;
	__u32 key = pid;

	return bpf_map_lookup_elem(t->procs_fd, &key, &proc) == 0;
}

size_t tracer_count(struct tracer *t)
{
	__u32 key, next;
	size_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(t->procs_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

int tracer_read_calls(void *ctx, __u32 pid, __u64 *calls, __u64 *windows)
{
	struct tracer *t = ctx;
	struct st_proc proc;

	if (bpf_map_lookup_elem(t->procs_fd, &pid, &proc))
		return -errno;
	memcpy(calls, proc.calls, sizeof(proc.calls));
	memcpy(windows, proc.window_ns, sizeof(proc.window_ns));
	return 0;
}

int tracer_read_proc(struct tracer *t, __u32 pid, struct st_proc *proc)
{
	if (bpf_map_lookup_elem(t->procs_fd, &pid, proc))
		return -errno;
	return 0;
}

__u64 tracer_self_signal_ns(struct tracer *t, __u32 pid, __u32 slot)
{
	struct st_self_signals seen;

	if (slot >= ST_PASS_COUNT || t->self_signals_fd < 0 ||
	    bpf_map_lookup_elem(t->self_signals_fd, &pid, &seen))
		return 0;
	return seen.ns[slot];
}

/*
 * Reads the lost map's slots in one bpf(2) call: the agent reads them ten
 * times a second, and with the syscall tracing slow path on, each call costs
 * a few microseconds. After a failed batch lookup it reads one slot a call.
 */
__u64 tracer_read_lost(struct tracer *t, __u64 *by_kind)
{
	int ncpus = t->ncpus > 0 ? t->ncpus : 1;
	__u64 values[ST_LOST_SLOTS * ncpus];
	__u32 keys[ST_LOST_SLOTS], next, count = ST_LOST_SLOTS, kind, i;
	__u64 total = 0;
	int err, cpu;

	memset(by_kind, 0, ST_LOST_SLOTS * sizeof(*by_kind));
	/* -ENOENT: the batch reached the map's end, with count slots read */
	err = t->lost_batch_failed ? -EOPNOTSUPP :
		bpf_map_lookup_batch(t->lost_fd, NULL, &next, keys, values, &count, NULL);
	if ((!err || err == -ENOENT) && count == ST_LOST_SLOTS) {
		for (i = 0; i < count; i++) {
			if (keys[i] >= ST_LOST_SLOTS)
				continue;
			for (cpu = 0; cpu < ncpus; cpu++)
				by_kind[keys[i]] += values[(size_t)i * ncpus + cpu];
		}
	} else {
		t->lost_batch_failed = 1;
		for (kind = 0; kind < ST_LOST_SLOTS; kind++) {
			if (bpf_map_lookup_elem(t->lost_fd, &kind, values))
				continue;
			for (cpu = 0; cpu < ncpus; cpu++)
				by_kind[kind] += values[cpu];
		}
	}
	for (kind = 0; kind < ST_LOST_SLOTS; kind++)
		if (kind != ST_LOST_UNTRACED)
			total += by_kind[kind];
	return total;
}

static void stdin_id_from_stat(const struct stat *st, struct stdin_id *in)
{
	in->dev = kernel_dev(st->st_dev);
	in->ino = st->st_ino;
	in->fds = 1;	/* fd 0 */
	in->known = 1;
}

/* Adds the descriptors of dir (a /proc fd folder) that refer to the same file. */
static void stdin_fds_in(const char *dir, const struct stat *stdin_st, struct stdin_id *in)
{
	struct dirent *entry;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((entry = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		long fd;

		if (entry->d_name[0] == '.')
			continue;
		fd = strtol(entry->d_name, NULL, 10);
		snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
		if (stat(path, &st) || st.st_dev != stdin_st->st_dev || st.st_ino != stdin_st->st_ino)
			continue;
		if (fd < ST_STDIN_FD_BITS)
			in->fds |= 1ULL << fd;
		else
			in->high = 1;
	}
	closedir(d);
}

int stdin_id_of_fd(int fd, struct stdin_id *in)
{
	struct stat st;

	memset(in, 0, sizeof(*in));
	if (fstat(fd, &st))
		return -errno;
	stdin_id_from_stat(&st, in);
	/* COMMAND inherits the agent's descriptors, duplicates of stdin too */
	stdin_fds_in("/proc/self/fd", &st, in);
	return 0;
}

int stdin_id_of_pid(pid_t pid, struct stdin_id *in)
{
	char proc[PATH_MAX], path[PATH_MAX];
	struct stat st;

	memset(in, 0, sizeof(*in));
	proc_live_dir(pid, proc, sizeof(proc));
	if (snprintf(path, sizeof(path), "%s/fd/0", proc) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st))
		return -errno;
	stdin_id_from_stat(&st, in);
	/* a running process may have duplicated stdin already */
	if (snprintf(path, sizeof(path), "%s/fd", proc) >= (int)sizeof(path))
		return 0;
	stdin_fds_in(path, &st, in);
	return 0;
}
