/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The map of traced tgids that bench-floor fills, and the lookup of the
 * current process in it, which every hook of snaptrig makes first.
 */
#ifndef SNAPTRIG_FLOOR_BPF_H
#define SNAPTRIG_FLOOR_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} traced SEC(".maps");

static __always_inline int lookup_current(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&traced, &tgid) != NULL;
}

#endif /* SNAPTRIG_FLOOR_BPF_H */
