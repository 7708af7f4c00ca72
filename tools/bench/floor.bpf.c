// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The work that every syscall hook of snaptrig does on each call of a
 * traced process: a lookup of the process in a hash map of traced tgids. bench-floor
 * attaches one of three variants, so the benchmark shows what the hook
 * mechanism itself costs:
 *   tp    one tp/syscalls program per hooked call, as snaptrig uses
 *   exit  the tp programs and an empty program on sys_exit_listen. snaptrig
 *         also hooks the exits of listen, dup, fcntl and open, and any
 *         sys_exit tracepoint adds work to every system call's return.
 *   raw   one raw_tp program on sys_enter, which runs for every system call
 *         of every process and returns at once for the calls it does not hook
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "floor.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NR_PREAD64 17		/* x86_64 system call numbers */
#define NR_GETRANDOM 318

SEC("tp/syscalls/sys_enter_pread64")
int tp_pread64(void *ctx)
{
	return lookup_current();
}

SEC("tp/syscalls/sys_enter_getrandom")
int tp_getrandom(void *ctx)
{
	return lookup_current();
}

SEC("tp/syscalls/sys_exit_listen")
int exit_listen(void *ctx)
{
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	long id = (long)ctx->args[1];

	if (id != NR_PREAD64 && id != NR_GETRANDOM)
		return 0;
	return lookup_current();
}
