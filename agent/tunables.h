/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The read-only tunables that bpf/maps.bpf.h declares in every BPF object
 * (const volatile targ_* in .rodata). tunables_compute() derives their
 * values from the options once, and TUNABLES_SET() writes them
 * into a skeleton between open and load. It names each field it writes, so
 * a skeleton without one of them fails to compile.
 *
 * A new tunable of maps.bpf.h gets a field here, a line in
 * tunables_compute() and a line in TUNABLES_SET(). test_tunables
 * reads back every targ_* of every loaded object and fails on a value that
 * is not the expected one.
 */
#ifndef SNAPTRIG_TUNABLES_H
#define SNAPTRIG_TUNABLES_H

#include <sys/types.h>
#include "snaptrig_abi.h"

struct options;

struct tunables {
	__u64 cooldown_ns;
	__u64 quiet_jiffies;	/* tracer_quiet_jiffies() of cooldown_ns */
	__u64 ring_size;	/* bytes of the events ring buffer */
	__u64 cgroup_id;	/* kernfs id of the --cgroup target; 0: no --cgroup */
	__u32 agent_tgid;
	__u32 triggers;		/* ST_TRIG_BIT mask */
	__u32 freeze;		/* ST_TRIG_BIT mask of triggers that stop the process */
	__u32 calls_no_wakeup;	/* tracer_calls_no_wakeup() of cooldown_ns */
	__u32 lazy_wakeup;
	__u32 cgroup_level;
	__u32 pidns_level;	/* level of the agent's pid namespace */
	__u32 task_btf_id;	/* kernel BTF id of task_struct for bpf_rdonly_cast(), or 0 */
};

/*
 * Fills tun for the objects that trace for opts, in an agent whose tgid is
 * agent_pid, with the task_btf_id that core_btf_build() found.
 */
void tunables_compute(struct tunables *tun, const struct options *opts, pid_t agent_pid,
		      __u32 task_btf_id);

/* Writes every tunable of maps.bpf.h into a skeleton's rodata. Every object gets all of them. */
#define TUNABLES_SET(rodata, tun)					\
	do {								\
		(rodata)->targ_agent_tgid = (tun)->agent_tgid;		\
		(rodata)->targ_triggers = (tun)->triggers;		\
		(rodata)->targ_freeze = (tun)->freeze;			\
		(rodata)->targ_lazy_wakeup = (tun)->lazy_wakeup;	\
		(rodata)->targ_cooldown_ns = (tun)->cooldown_ns;	\
		(rodata)->targ_calls_no_wakeup = (tun)->calls_no_wakeup; \
		(rodata)->targ_quiet_jiffies = (tun)->quiet_jiffies;	\
		(rodata)->targ_ring_size = (tun)->ring_size;		\
		(rodata)->targ_pidns_level = (tun)->pidns_level;	\
		(rodata)->targ_cgroup_id = (tun)->cgroup_id;		\
		(rodata)->targ_cgroup_level = (tun)->cgroup_level;	\
		(rodata)->targ_task_btf_id = (tun)->task_btf_id;	\
	} while (0)

#endif
