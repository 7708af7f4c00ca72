/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the unit tests read from the kernel's BTF themselves, to check the agent's reading. */
#ifndef SNAPTRIG_TEST_KERNEL_BTF_H
#define SNAPTRIG_TEST_KERNEL_BTF_H

#include <bpf/btf.h>

/*
 * The id of struct task_struct in the kernel's BTF when it has the
 * bpf_rdonly_cast() kfunc, or 0. Include after <cmocka.h>.
 */
static inline __u32 cast_task_btf_id(void)
{
	struct btf *kernel = btf__load_vmlinux_btf();
	int cast, task;

	assert_non_null(kernel);
	cast = btf__find_by_name_kind(kernel, "bpf_rdonly_cast", BTF_KIND_FUNC);
	task = btf__find_by_name_kind(kernel, "task_struct", BTF_KIND_STRUCT);
	btf__free(kernel);
	assert_true(task > 0);
	return cast > 0 ? (__u32)task : 0;
}

#endif
