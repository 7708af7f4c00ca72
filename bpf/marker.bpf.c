// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The markers of include/snaptrig.h: USDT probes of provider "snaptrig" that
 * applications place with SNAPTRIG_SNAPSHOT() (the explicit trigger) and
 * SNAPTRIG_TRANSACTION() (counted as a transaction call). The agent attaches
 * them system-wide (pid -1) on every binary it finds them in, so the procs
 * lookup below filters out untraced processes running the same binary.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "maps.bpf.h"

SEC("usdt")
int BPF_USDT(handle_marker_snapshot)
{
	struct st_proc *proc = current_proc();
	struct st_explicit_record *rec;

	if (!proc)
		return 0;
	rec = record_reserve(sizeof(*rec), ST_REC_EXPLICIT);
	if (!rec)
		return 0;
	header_current(&rec->hdr, ST_REC_EXPLICIT, sizeof(*rec), bpf_ktime_get_boot_ns());
	rec->source = ST_EXPLICIT_MARKER;
	rec->pad = 0;
	rec->hdr.flags = hold_current(proc, ST_TRIG_EXPLICIT);
	bpf_ringbuf_submit(rec, submit_flags(rec->hdr.flags, ST_TRIG_BIT(ST_TRIG_EXPLICIT)));
	return 0;
}

SEC("usdt")
int BPF_USDT(handle_marker_transaction)
{
	struct st_proc *proc = current_proc();

	if (!proc)
		return 0;
	return on_call(proc, ST_CALL_MARKER, ST_CLASS_TXN);
}
