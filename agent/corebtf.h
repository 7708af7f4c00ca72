/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small BTF for libbpf's CO-RE relocations. For each kernel type that a
 * relocation starts from, libbpf 1.1 walks all of the kernel's BTF (125,851
 * types on Linux 6.18), once in each object it loads. That took 1 to 1.5 ms
 * a type, half of the agent's start. This BTF contains only those kernel
 * types, with the kernel's layouts, so the relocations come out the same in
 * a fraction of the time. Objects get it as the btf_custom_path of their
 * open options.
 */
#ifndef SNAPTRIG_COREBTF_H
#define SNAPTRIG_COREBTF_H

#include <linux/types.h>
#include <bpf/libbpf.h>

/* The BPF object file images whose relocations the BTF serves. */
struct core_object {
	const void *data;
	size_t size;
	const char *name;	/* for messages; NULL when unknown */
};

/*
 * Parses the kernel's BTF once and builds the small BTF for the CO-RE
 * relocations of objects into a memory file. Sets *task_btf_id to the
 * kernel's BTF id of struct task_struct when the kernel has the
 * bpf_rdonly_cast() kfunc (Linux 6.2), also when the build fails after
 * reading the kernel's BTF, and to 0 otherwise. Returns 0, or -errno when
 * the objects need the kernel's whole BTF: for a relocation that the small
 * one cannot serve (any but those of fields and enum values), or for a
 * type that may be in a kernel module. Objects then open without it.
 */
int core_btf_build(const struct core_object *objects, size_t count, __u32 *task_btf_id);

/*
 * The open options that point libbpf at the small BTF, or NULL before
 * core_btf_build() succeeded. Every object open passes them.
 */
const struct bpf_object_open_opts *core_btf_open_opts(void);

/* Closes the memory file. Objects opened after this read the kernel's BTF. */
void core_btf_free(void);

#endif
