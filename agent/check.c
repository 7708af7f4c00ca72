// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include "idle.h"
#include "log.h"
#include "snaptrig.skel.h"
#include "tracer.h"
#include "triggers.h"
#include "uprobes.h"
#include "check.h"
#include "compat.h"
#include "container.h"
#include "corebtf.h"
#include "guard.h"
#include "uring.h"

#define ALL_TRIGGERS TRIGGERS_ALL
#define SIGNAL_TRIGGERS							\
	(ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT) | ST_TRIG_BIT(ST_TRIG_SIGINT) |	\
	 ST_TRIG_BIT(ST_TRIG_SIGALRM) | ST_TRIG_BIT(ST_TRIG_SIGTSTP) |	\
	 ST_TRIG_BIT(ST_TRIG_SIGSTOP))

struct check_state {
	__u32 requested;
	__u32 blocked;		/* requested triggers that a missing feature disables */
};

static void report(struct check_state *st, const char *feature, int ok, __u32 needed_by)
{
	char names[TRIGGER_MASK_FORMAT_LEN];

	if (ok) {
		printf("  ok       %s\n", feature);
		return;
	}
	/* the header names the requested triggers, so the list names only those */
	needed_by &= st->requested;
	trigger_mask_format(needed_by, names, sizeof(names));
	printf("  missing  %s (disables: %s)\n", feature,
	       needed_by ? names : "none of the requested triggers");
	st->blocked |= needed_by;
}

/* name is "category/event". */
static int tracepoint_present(const char *name)
{
	char category[64];
	const char *slash = strchr(name, '/');

	if (!slash || (size_t)(slash - name) >= sizeof(category))
		return 0;
	memcpy(category, name, slash - name);
	category[slash - name] = '\0';
	return tracepoint_exists(category, slash + 1);
}

static void check_tracepoints(struct check_state *st)
{
	static const struct {
		const char *name;
		__u32 triggers;
	} tps[] = {
		{ "syscalls/sys_enter_listen", ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) },
		{ "syscalls/sys_exit_listen", ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) },
		{ "syscalls/sys_enter_read", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "syscalls/sys_enter_readv", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "syscalls/sys_enter_pread64", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "syscalls/sys_enter_preadv", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "syscalls/sys_enter_preadv2", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "syscalls/sys_enter_recvfrom", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "syscalls/sys_enter_recvmsg", ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) },
		{ "syscalls/sys_enter_getrandom", ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) },
		{ "syscalls/sys_enter_clock_gettime", ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) },
		{ "syscalls/sys_exit_openat", ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) },
		{ "syscalls/sys_enter_fsync", ST_TRIG_BIT(ST_TRIG_TRANSACTION) },
		{ "syscalls/sys_enter_fdatasync", ST_TRIG_BIT(ST_TRIG_TRANSACTION) },
		{ "syscalls/sys_enter_msync", ST_TRIG_BIT(ST_TRIG_TRANSACTION) },
		{ "signal/signal_generate", SIGNAL_TRIGGERS },
		{ "sched/sched_process_exec", ALL_TRIGGERS },
		{ "sched/sched_process_fork", ALL_TRIGGERS },
		{ "sched/sched_process_exit", ALL_TRIGGERS },
		{ "sched/sched_switch", ST_TRIG_BIT(ST_TRIG_IDLE) },
		{ "sched/sched_wakeup", ST_TRIG_BIT(ST_TRIG_IDLE) },
		{ "sched/sched_wakeup_new", ST_TRIG_BIT(ST_TRIG_IDLE) },
	};
	char feature[96];
	size_t i;

	for (i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		snprintf(feature, sizeof(feature), "tracepoint %s", tps[i].name);
		report(st, feature, tracepoint_present(tps[i].name), tps[i].triggers);
	}
}

/*
 * Loads and attaches the programs the requested triggers use, then
 * detaches. They read the current task through bpf_rdonly_cast() with
 * task_btf_id, as in a run.
 */
static int programs_attach(const struct options *opts, __u32 task_btf_id)
{
	struct snaptrig_bpf *skel = snaptrig_bpf__open_opts(core_btf_open_opts());
	struct bpf_program *prog;
	int err;

	if (!skel)
		return -errno;
	skel->rodata->targ_triggers = opts->triggers;
	skel->rodata->targ_task_btf_id = task_btf_id;
	bpf_object__for_each_program(prog, skel->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!strncmp(sec, "tp/syscalls/", 12) && !tracepoint_present(sec + 3))
			bpf_program__set_autoload(prog, false);
	}
	err = snaptrig_bpf__load(skel);
	if (!err)
		err = snaptrig_bpf__attach(skel);
	snaptrig_bpf__destroy(skel);
	return err;
}

/* The sleepable getenv uprobe of first-environ and the USDT programs of the markers. */
static void check_uprobe_programs(struct check_state *st)
{
	report(st, "sleepable uprobe on libc getenv loads and attaches",
	       uprobes_check_environ() == 0, ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON));
	report(st, "USDT programs of the snaptrig.h markers load", uprobes_check_markers() == 0,
	       ST_TRIG_BIT(ST_TRIG_EXPLICIT));
}

/* The probes that need root: tracefs, BPF maps, helpers and program loads. */
static void check_privileged(struct check_state *st, const struct options *opts, int have_btf)
{
	__u32 task_btf_id = 0;
	int guard_loads;

	report(st, "tracefs mounted (or mountable) and readable", tracer_ensure_tracefs() == 0,
	       ALL_TRIGGERS);

	log_quiet_libbpf(1);
	report(st, "BPF ring buffer", libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1,
	       ALL_TRIGGERS);
	check_tracepoints(st);
	report(st, "uprobes", access("/sys/bus/event_source/devices/uprobe/type", F_OK) == 0,
	       ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON) | ST_TRIG_BIT(ST_TRIG_EXPLICIT));
	report(st, "bpf_send_signal helper",
	       libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_send_signal, NULL) == 1,
	       0);
	report(st, "bpf_timer helper",
	       libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_timer_init, NULL) == 1,
	       ST_TRIG_BIT(ST_TRIG_IDLE));
	/* the objects below load against the small BTF, as in a run */
	if (have_btf) {
		task_btf_id = tracer_build_core_btf();
		report(st, "small BTF for the CO-RE relocations (a faster start)",
		       core_btf_open_opts() != NULL, 0);
	}
	if (have_btf)
		report(st, "snaptrig's programs load and attach", programs_attach(opts, task_btf_id) == 0,
		       opts->triggers);
	if (have_btf)
		check_uprobe_programs(st);
	if (have_btf)
		report(st, "idle programs (tp_btf, bpf_timer, syscall seeding) load and attach",
		       idle_check() == 0, ST_TRIG_BIT(ST_TRIG_IDLE));
	/* without these, triggers still work on the other paths, and coverage lines report the gap */
	report(st, "tracepoint io_uring/io_uring_submit_req (io_uring requests)",
	       tracepoint_present("io_uring/io_uring_submit_req"), 0);
	if (have_btf && tracepoint_present("io_uring/io_uring_submit_req"))
		report(st, "io_uring programs (tp_btf) load and attach", uring_check(task_btf_id) == 0,
		       0);
	/* a run loads the guard with the small BTF, and the ia32 hook later without it */
	guard_loads = have_btf && guard_check() == 0;
	core_btf_free();
	if (have_btf)
		report(st, "ia32 system call hook (tp_btf/sys_exit) loads", compat_check() == 0, 0);
	/* without it the watchdog alone resumes held processes when snaptrig dies */
	if (have_btf)
		report(st, "kernel resume of held processes if snaptrig and its watchdog die (bpf_send_signal_task)",
		       guard_loads, 0);
	log_quiet_libbpf(0);
}

int check_run(const struct options *opts)
{
	struct check_state st = { .requested = opts->triggers };
	char names[TRIGGER_MASK_FORMAT_LEN];
	int have_btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	int root = geteuid() == 0;

	trigger_mask_format(opts->triggers, names, sizeof(names));
	printf("snaptrig %s: checking the kernel for: %s\n", SNAPTRIG_VERSION, names);
	/*
	 * NOTE: snaptrig also runs without root, with the capabilities below and
	 * read access to tracefs, but the probes run only as root.
	 */
	report(&st, "running as root", root, ALL_TRIGGERS);
	/* uid 0 without some capabilities: the message names the missing ones */
	report(&st, "capabilities of a run (CAP_BPF, CAP_PERFMON, CAP_KILL, CAP_SYS_PTRACE, CAP_SYS_ADMIN for uprobes)",
	       tracer_check_privileges(opts->triggers) == 0, ALL_TRIGGERS);
	report(&st, "kernel BTF (/sys/kernel/btf/vmlinux)", have_btf, ALL_TRIGGERS);
	report(&st, "running in the initial pid namespace", pidns_is_initial() != 0, ALL_TRIGGERS);
	/*
	 * Without root the kernel rejects BPF maps and programs and tracefs is
	 * not readable, so these probes would call present features missing,
	 * and libbpf_probe_bpf_helper() reports a helper as supported when the
	 * load fails without a verifier message.
	 */
	if (root)
		check_privileged(&st, opts, have_btf);
	else
		printf("  skipped  tracefs, ring buffer, tracepoints, uprobes, BPF helpers and program loads (probing them needs root)\n");

	if (!st.blocked) {
		printf("every requested trigger can work\n");
		return 0;
	}
	trigger_mask_format(st.blocked, names, sizeof(names));
	printf("these requested triggers cannot work: %s\n", names);
	return 1;
}
