// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "corebtf.h"
#include "guard.h"
#include "guard.skel.h"
#include "log.h"
#include "tracer.h"

struct guard_bpf *guard_open(struct tracer *t)
{
	struct guard_bpf *skel = guard_bpf__open_opts(core_btf_open_opts());
	const char *step = "opening";
	int err;

	if (!skel) {
		err = -errno;
		goto fail;
	}
	TUNABLES_SET(skel->rodata, &t->tunables);
	step = "sharing the maps with";
	err = tracer_share_maps(t, skel->obj);
	if (err)
		goto fail;
	step = "loading";
	/* a kernel without the kfuncs refuses the load: the watchdog then works alone */
	log_quiet_libbpf(1);
	err = tracer_load(skel->skeleton);
	log_quiet_libbpf(0);
	if (err)
		goto fail;
	step = "attaching";
	err = guard_bpf__attach(skel);
	if (err)
		goto fail;
	return skel;
fail:
	log_info(1, "%s the guard program failed: %s; if the agent and its watchdog both die, processes they held stay stopped",
		 step, strerror(-err));
	guard_bpf__destroy(skel);
	return NULL;
}

int guard_check(void)
{
	struct guard_bpf *skel = guard_bpf__open_opts(core_btf_open_opts());
	int err;

	if (!skel)
		return -errno;
	err = guard_bpf__load(skel);
	guard_bpf__destroy(skel);
	return err;
}

int guard_link_fd(const struct guard_bpf *g)
{
	return g ? bpf_link__fd(g->links.guard_exit) : -1;
}

void guard_set_watchdog(struct guard_bpf *g, pid_t watchdog)
{
	if (g)
		g->bss->watchdog_tgid = (__u32)watchdog;
}

void guard_close(struct guard_bpf *g)
{
	guard_bpf__destroy(g);
}
