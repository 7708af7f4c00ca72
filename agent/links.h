/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Detaching many BPF links at once. The release of each tracepoint or
 * uprobe link waits for the kernel's RCU grace periods, about 70 ms per link
 * on the development machine, so the 37 links of -t all took 2.6 s one after
 * another. On several threads the waits overlap in part: the kernel still
 * ends one release about every 35 ms, and -t all exits in about 1.8 s
 * instead of 2.8 s.
 */
#ifndef SNAPTRIG_LINKS_H
#define SNAPTRIG_LINKS_H

#include <stddef.h>

struct bpf_link;
struct bpf_object_skeleton;

/* Addresses of the link pointers to destroy. */
struct link_list {
	struct bpf_link ***items;
	size_t count;
	size_t cap;
};

/* Adds *link when it is set. Returns 0 or -ENOMEM. */
int link_list_add(struct link_list *l, struct bpf_link **link);
/* Adds the attached links of every program of skeleton s, which may be NULL. */
int link_list_add_skeleton(struct link_list *l, const struct bpf_object_skeleton *s);
/*
 * Destroys every link of l on up to LINKS_THREADS threads, sets each pointer
 * to NULL so that the skeletons' own destroy skips it, and frees l's array.
 */
void link_list_destroy(struct link_list *l);

#endif
