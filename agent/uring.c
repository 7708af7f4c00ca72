// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loads bpf/uring.bpf.c beside the main object. io_uring is a path of its
 * own into the kernel, so a kernel that rejects these programs leaves the
 * other triggers working: the agent goes on without them and marks the
 * io_uring path blind.
 */
#include <errno.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "corebtf.h"
#include "uring.skel.h"
#include "log.h"
#include "options.h"
#include "tracer.h"
#include "uring.h"

#define URING_TRIGGERS (ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) | ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) | \
			ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) |			\
			ST_TRIG_BIT(ST_TRIG_TRANSACTION))
/*
 * Triggers decided at completion: opens of /dev/random, re-opens of stdin
 * and listens, which count only when they succeed.
 */
#define COMPLETE_TRIGGERS (ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) | \
			   ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) | \
			   ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN))

bool uring_signal_task_exists(void)
{
	static const char *const names[] = {
		"bpf_task_from_pid", "bpf_task_release", "bpf_send_signal_task",
	};
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool found = !!vmlinux;
	size_t i;

	for (i = 0; found && i < sizeof(names) / sizeof(names[0]); i++)
		found = btf__find_by_name_kind(vmlinux, names[i], BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return found;
}

static void configure(struct uring_bpf *skel, const struct tunables *tun,
		      const struct options *opts)
{
	TUNABLES_SET(skel->rodata, tun);
	/*
	 * Only a hold needs the kfuncs. Looking them up parses the kernel's BTF,
	 * which took about 20 ms and 3 MiB at start here.
	 */
	if (tun->freeze) {
		skel->rodata->targ_signal_task = uring_signal_task_exists();
		log_info(1, "with --freeze, io_uring triggers that an io worker sees are held by the %s",
			 skel->rodata->targ_signal_task ? "kernel" : "agent");
	}
	bpf_program__set_autoload(skel->progs.handle_uring_complete,
				  !!(opts->triggers & COMPLETE_TRIGGERS));
}

/* Logs why the io_uring programs are off and marks the path blind. */
static void go_blind(struct tracer *t, const char *step, int err)
{
	log_info(0, "%s the io_uring BPF programs failed: %s; first-listen, first-stdin, non-deterministic-call and transaction do not see io_uring requests (rerun with -vvv for libbpf's log)",
		 step, strerror(-err));
	t->blind_vias |= 1u << ST_VIA_IO_URING;
}

int uring_open(struct tracer *t, const struct options *opts)
{
	struct uring_bpf *skel;
	int err;

	if (!(opts->triggers & URING_TRIGGERS))
		return 0;
	if (!tracepoint_exists("io_uring", "io_uring_submit_req") ||
	    !tracepoint_exists("io_uring", "io_uring_complete")) {
		log_info(1, "this kernel has no io_uring tracepoints; io_uring requests are not traced");
		return 0;
	}
	skel = uring_bpf__open_opts(core_btf_open_opts());
	if (!skel) {
		go_blind(t, "opening", -errno);
		return 0;
	}
	configure(skel, &t->tunables, opts);
	err = tracer_share_maps(t, skel->obj);
	if (err) {
		go_blind(t, "sharing maps with", err);
		goto fail;
	}
	err = tracer_load(skel->skeleton);
	if (err) {
		go_blind(t, "loading", err);
		goto fail;
	}
	err = uring_bpf__attach(skel);
	if (err) {
		go_blind(t, "attaching", err);
		goto fail;
	}
	t->uring = skel;
	return 0;
fail:
	uring_bpf__destroy(skel);
	return 0;
}

int uring_check(__u32 task_btf_id)
{
	struct uring_bpf *skel = uring_bpf__open_opts(core_btf_open_opts());
	int err;

	if (!skel)
		return -errno;
	skel->rodata->targ_task_btf_id = task_btf_id;
	err = uring_bpf__load(skel);
	if (!err)
		err = uring_bpf__attach(skel);
	uring_bpf__destroy(skel);
	return err;
}

void uring_close(struct tracer *t)
{
	if (!t)
		return;
	uring_bpf__destroy(t->uring);
	t->uring = NULL;
}
