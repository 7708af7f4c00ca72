// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loads bpf/compat.bpf.c, the hook of ia32 system calls. A kernel without
 * ia32 emulation, or one that rejects tp_btf programs on sys_enter, leaves
 * the agent running without the hook, and the ia32 path marked blind.
 */
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "compat.skel.h"
#include "snaptrig.skel.h"
#include "log.h"
#include "options.h"
#include "tracer.h"
#include "compat.h"

/* Triggers that the ia32 hook decodes. */
#define COMPAT_TRIGGERS (ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) | ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) | \
			 ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) | \
			 ST_TRIG_BIT(ST_TRIG_TRANSACTION))

/* Copies the tunables of maps.bpf.h, except the agent's tgid, from the loaded main object. */
static void compat_configure(struct compat_bpf *skel, const struct snaptrig_bpf *main_skel)
{
	skel->rodata->targ_freeze = main_skel->rodata->targ_freeze;
	skel->rodata->targ_triggers = main_skel->rodata->targ_triggers;
	skel->rodata->targ_cooldown_ns = main_skel->rodata->targ_cooldown_ns;
	skel->rodata->targ_calls_no_wakeup = main_skel->rodata->targ_calls_no_wakeup;
	skel->rodata->targ_ring_size = main_skel->rodata->targ_ring_size;
}

void compat_open(struct tracer *t, const struct options *opts, pid_t agent_pid)
{
	struct compat_bpf *skel;
	const char *step;
	int err;

	if (!(opts->triggers & COMPAT_TRIGGERS))
		return;
	skel = compat_bpf__open();
	if (!skel) {
		err = -errno;
		step = "opening";
		goto fail;
	}
	compat_configure(skel, t->skel);
	skel->rodata->targ_agent_tgid = agent_pid;
	step = "sharing the maps with";
	err = tracer_share_maps(t, skel->obj);
	if (err)
		goto fail;

	step = "loading";
	err = compat_bpf__load(skel);
	if (err)
		goto fail;
	step = "attaching";
	err = compat_bpf__attach(skel);
	if (err)
		goto fail;
	t->compat = skel;
	return;
fail:
	log_error("%s the ia32 system call hook (tp_btf/sys_enter) failed: %s; triggers of 32-bit programs and of int $0x80 are not seen (rerun with -vvv for libbpf's log)",
		  step, strerror(-err));
	t->blind_vias |= 1u << ST_VIA_IA32;
	compat_bpf__destroy(skel);
}

void compat_close(struct tracer *t)
{
	if (!t)
		return;
	compat_bpf__destroy(t->compat);
	t->compat = NULL;
}
