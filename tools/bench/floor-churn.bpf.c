// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The minimum that a tracer pays on fork, exec and exit when it follows a
 * process's children, writes a line at once for each exec and exit, and
 * watches libc's getenv family, as `snaptrig -t all` does. bench-floor runs
 * a command under these programs in its "churn" mode:
 *   - a fork of a traced process adds the child to the map,
 *   - an exec or the exit of a traced process sends a record to a ring
 *     buffer and wakes the reader sleeping on it,
 *   - uprobes on getenv and secure_getenv of the system's libc look the
 *     process up, which makes the kernel install their breakpoints in every
 *     process that maps libc.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "floor.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} records SEC(".maps");

static __always_inline void send(__u32 tgid)
{
	__u64 *rec = bpf_ringbuf_reserve(&records, sizeof(*rec), 0);

	if (!rec)
		return;
	*rec = (__u64)tgid << 32 | bpf_ktime_get_boot_ns() >> 32;
	bpf_ringbuf_submit(rec, BPF_RB_FORCE_WAKEUP);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u32 traced_flag = 1;

	if (ctgid != BPF_CORE_READ(child, pid) || !bpf_map_lookup_elem(&traced, &ptgid))
		return 0;
	bpf_map_update_elem(&traced, &ctgid, &traced_flag, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (bpf_map_lookup_elem(&traced, &tgid))
		send(tgid);
	return 0;
}

/* The workloads are single-threaded, so the leader's exit is the process's. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (tgid != BPF_CORE_READ(task, pid) || bpf_map_delete_elem(&traced, &tgid))
		return 0;
	send(tgid);
	return 0;
}

/* bench-floor attaches the uprobe_ programs to the libc function named after the prefix. */
SEC("uprobe")
int uprobe_getenv(void *ctx)
{
	return lookup_current();
}

SEC("uprobe")
int uprobe_secure_getenv(void *ctx)
{
	return lookup_current();
}
