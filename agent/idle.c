// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loads bpf/idle.bpf.c and seeds it. The kernel learns of a thread's state
 * only when the thread blocks or wakes, so a thread that was asleep before
 * tracking began would stay unknown. idle_add() therefore reads each
 * thread's state from /proc and hands it to the idle_seed program, which
 * adds it with the same atomic operations as the scheduler hooks. A thread
 * that blocks or wakes while this runs is recorded by its event, and the
 * seed of such a thread is rejected as older (-EEXIST).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "corebtf.h"
#include "idle.skel.h"
#include "log.h"
#include "options.h"
#include "tracer.h"
#include "idle.h"

int idle_thread_state_parse(const char *stat, size_t len)
{
	const char *paren = NULL;
	size_t i;

	/* the command name may contain ')' and spaces: the state follows the last ')' */
	for (i = 0; i < len; i++)
		if (stat[i] == ')')
			paren = stat + i;
	if (!paren || (size_t)(paren - stat) + 2 >= len || paren[1] != ' ')
		return -EINVAL;

	switch (paren[2]) {
	case 'R':
		return IDLE_THREAD_RUNNABLE;
	case 'Z':
	case 'X':
	case 'x':
		return IDLE_THREAD_GONE;
	case ' ':
	case '\n':
	case '\0':
		return -EINVAL;
	}
	return IDLE_THREAD_BLOCKED;
}

/* Reads the state of thread tid of process pid; gone when it vanished. */
static int read_thread_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? IDLE_THREAD_GONE : -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return errno == ESRCH ? IDLE_THREAD_GONE : -errno;
	return idle_thread_state_parse(buf, (size_t)n);
}

/* How long idle_retry_timers() waits between two passes. */
#define IDLE_RETRY_NS 100000000ULL

/* Runs the idle_seed program once. Returns its result: 0 or -errno. */
static int seed(struct tracer *t, __u32 op, pid_t pid, pid_t tid, int runnable)
{
	struct st_idle_seed args = {
		.op = op,
		.tgid = pid,
		.tid = tid,
		.runnable = runnable,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(t->idle->progs.idle_seed), &opts);
	if (err)
		return -errno;
	return (int)opts.retval;
}

static int seed_threads(struct tracer *t, pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
		int state;

		if (tid <= 0)
			continue;
		state = read_thread_state(pid, tid);
		if (state == IDLE_THREAD_GONE)
			continue;
		if (state < 0) {
			log_info(1, "cannot read the state of thread %d of process %d: %s; counting it runnable",
				 tid, pid, strerror(-state));
			state = IDLE_THREAD_RUNNABLE;
		}
		err = seed(t, ST_IDLE_SEED_THREAD, pid, tid, state == IDLE_THREAD_RUNNABLE);
		if (err == -EEXIST || err == -ESRCH) {
			err = 0;
			continue;
		}
		if (err)
			break;
	}
	closedir(dir);
	return err;
}

/*
 * The agent's view of struct idle_proc in bpf/idle.bpf.c, whose bpf_timer is
 * 16 bytes. idle_reported() checks the map's value size against it.
 */
struct idle_proc_view {
	__u64 timer[2];
	__u64 idle_since_ns;
	__u64 fired_since_ns;
	__s32 running;
	__u32 armed;
	__u32 last_tid;
	__u32 pad;
};

/* Appends to *keys the processes that are idle with no pending timer and no line for the period. */
static size_t unarmed_procs(int procs_fd, __u32 **keys)
{
	struct idle_proc_view view;
	__u32 key, next, *prev = NULL;
	size_t n = 0, cap = 0;

	*keys = NULL;
	while (!bpf_map_get_next_key(procs_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(procs_fd, &key, &view) || view.running != 0 || view.armed ||
		    view.idle_since_ns == view.fired_since_ns)
			continue;
		if (n == cap) {
			size_t grown_cap = cap ? cap * 2 : 16;
			__u32 *grown = realloc(*keys, grown_cap * sizeof(*grown));

			if (!grown)
				break;
			*keys = grown;
			cap = grown_cap;
		}
		(*keys)[n++] = key;
	}
	return n;
}

/* Whether the idle object is loaded, with the procs map layout that the retries read. */
static int retries_possible(const struct tracer *t)
{
	return t->idle &&
	       bpf_map__value_size(t->idle->maps.idle_procs) == sizeof(struct idle_proc_view);
}

static __u64 timer_failures(const struct tracer *t)
{
	return *(volatile __u64 *)&t->idle->bss->timer_failures;
}

int idle_retry_pending(const struct tracer *t)
{
	if (!retries_possible(t))
		return 0;
	return t->idle_unarmed || timer_failures(t) != t->idle_failures_seen;
}

void idle_retry_timers(struct tracer *t, __u64 now)
{
	__u64 failures;
	__u32 *keys;
	size_t n, i;

	if (!retries_possible(t))
		return;
	failures = timer_failures(t);
	if ((failures == t->idle_failures_seen && !t->idle_unarmed) || now < t->idle_retry_ns)
		return;
	t->idle_failures_seen = failures;
	t->idle_retry_ns = now + IDLE_RETRY_NS;
	t->idle_unarmed = 0;
	n = unarmed_procs(bpf_map__fd(t->idle->maps.idle_procs), &keys);
	log_info(2, "arming %zu idle timers again: the kernel failed %llu times so far", n,
		 (unsigned long long)failures);
	/*
	 * The kernel may fail to allocate a timer until other timers are freed,
	 * for seconds. Meanwhile the agent does the timer's work itself, every
	 * IDLE_RETRY_NS, so the line comes that much late at most.
	 */
	for (i = 0; i < n; i++) {
		if (!seed(t, ST_IDLE_SEED_ARM, (pid_t)keys[i], 0, 0))
			continue;
		if (seed(t, ST_IDLE_SEED_CHECK, (pid_t)keys[i], 0, 0) != 1)
			t->idle_unarmed++;
	}
	free(keys);
}

int idle_reported(struct tracer *t, pid_t pid)
{
	struct idle_proc_view view;
	__u32 key = pid;

	if (!t->idle || bpf_map__value_size(t->idle->maps.idle_procs) != sizeof(view) ||
	    bpf_map_lookup_elem(bpf_map__fd(t->idle->maps.idle_procs), &key, &view))
		return 0;
	return view.running == 0 && view.idle_since_ns == view.fired_since_ns;
}

/*
 * Arms the timer of a process whose threads are all blocked. The kernel
 * allocates the timer without sleeping, which can fail (-ENOMEM) for seconds,
 * and idle_retry_timers() takes over such a process.
 */
static int arm(struct tracer *t, pid_t pid)
{
	int err = seed(t, ST_IDLE_SEED_ARM, pid, 0, 0);

	if (err == -ENOMEM) {
		log_info(1, "cannot arm the idle timer of process %d yet: %s; trying again",
			 pid, strerror(-err));
		err = 0;
	}
	return err;
}

int idle_add(struct tracer *t, pid_t pid)
{
	int err;

	if (!t->idle)
		return 0;
	err = seed(t, ST_IDLE_SEED_PROC, pid, 0, 0);
	if (err == -EEXIST)
		return 0;
	if (!err)
		err = seed_threads(t, pid);
	if (!err)
		err = arm(t, pid);
	if (err) {
		log_error("cannot start idle tracking of process %d: %s", pid, strerror(-err));
		idle_remove(t, pid);
	}
	return err;
}

/*
 * Once the process entry is gone the scheduler hooks no longer touch the
 * thread entries of a live process, so they can go too. A later idle_add()
 * of the same process then seeds every thread afresh. The process's
 * idle_filter bit stays set because only the kernel changes it atomically;
 * it costs that tgid one hash lookup per event.
 */
void idle_remove(struct tracer *t, pid_t pid)
{
	char path[64];
	struct dirent *de;
	__u32 key = pid;
	DIR *dir;

	if (!t->idle)
		return;
	bpf_map_delete_elem(bpf_map__fd(t->idle->maps.idle_procs), &key);

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		key = (__u32)strtoul(de->d_name, NULL, 10);
		if (key)
			bpf_map_delete_elem(bpf_map__fd(t->idle->maps.idle_threads), &key);
	}
	closedir(dir);
}

/* Words of idle_filter for one bit per possible tgid, from kernel.pid_max. */
static __u32 filter_words(void)
{
	unsigned long pid_max = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");

	if (f) {
		if (fscanf(f, "%lu", &pid_max) != 1)
			pid_max = 0;
		fclose(f);
	}
	/* PID_MAX_LIMIT of include/linux/threads.h on 64-bit kernels is 4194304 */
	if (pid_max == 0 || pid_max > 4194304)
		pid_max = 4194304;
	return (__u32)((pid_max + 63) / 64);
}

int idle_open(struct tracer *t, const struct options *opts)
{
	struct idle_bpf *skel;
	int err;

	if (!(opts->triggers & ST_TRIG_BIT(ST_TRIG_IDLE)))
		return 0;
	skel = idle_bpf__open_opts(core_btf_open_opts());
	if (!skel) {
		err = -errno;
		log_error("opening the idle BPF object failed: %s", strerror(errno));
		return err;
	}
	/* targ_freeze makes an idle record that stops its process under --freeze wake the agent even with --lazy-wakeup */
	TUNABLES_SET(skel->rodata, &t->tunables);
	skel->rodata->targ_follow = opts->follow;
	skel->rodata->targ_idle_threshold_ns = opts->idle_threshold_ns;
	bpf_map__set_max_entries(skel->maps.idle_filter, filter_words());
	err = tracer_share_maps(t, skel->obj);
	if (err)
		goto fail;

	err = tracer_load(skel->skeleton);
	if (err == -EMFILE) {
		log_error("loading the idle BPF programs failed: %s; raise the open-files limit (ulimit -n)",
			  strerror(-err));
		goto fail;
	}
	if (err) {
		log_error("loading the idle BPF programs failed: %s; the idle trigger needs tp_btf programs with bpf_timer (rerun with -vvv for the verifier log)",
			  strerror(-err));
		goto fail;
	}
	err = idle_bpf__attach(skel);
	if (err) {
		log_error("attaching the idle BPF programs failed: %s; check that sched_switch, sched_wakeup and sched_wakeup_new exist (snaptrig --check)",
			  strerror(-err));
		goto fail;
	}
	t->idle = skel;
	return 0;
fail:
	idle_bpf__destroy(skel);
	return err;
}

int idle_check(void)
{
	struct idle_bpf *skel = idle_bpf__open_opts(core_btf_open_opts());
	int err;

	if (!skel)
		return -errno;
	err = idle_bpf__load(skel);
	if (!err)
		err = idle_bpf__attach(skel);
	idle_bpf__destroy(skel);
	return err;
}

void idle_close(struct tracer *t)
{
	if (!t)
		return;
	idle_bpf__destroy(t->idle);
	t->idle = NULL;
}
