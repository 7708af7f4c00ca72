// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The values of the BPF objects' read-only tunables, derived from the options. */
#include "container.h"
#include "options.h"
#include "tracer.h"
#include "tunables.h"

void tunables_compute(struct tunables *tun, const struct options *opts, pid_t agent_pid,
		      __u32 task_btf_id)
{
	tun->agent_tgid = agent_pid;
	tun->triggers = opts->triggers;
	tun->freeze = opts->freeze ? opts->snapshot_on & opts->triggers : 0;
	tun->lazy_wakeup = opts->lazy_wakeup;
	tun->cooldown_ns = opts->cooldown_ns;
	tun->calls_no_wakeup = tracer_calls_no_wakeup(opts->cooldown_ns);
	tun->quiet_jiffies = tracer_quiet_jiffies(opts->cooldown_ns);
	tun->ring_size = opts->ring_buffer_size ? opts->ring_buffer_size : ST_RING_SIZE_DEFAULT;
	tun->pidns_level = pidns_level_self();
	tun->cgroup_id = opts->cgroup.id;
	tun->cgroup_level = opts->cgroup.kernel_level;
	tun->task_btf_id = task_btf_id;
}
