// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Checks the small BTF for CO-RE relocations against the kernel's own. Each
 * BPF object of the agent is loaded twice, once relocated against the
 * kernel's BTF and once against the small one, and every instruction of
 * every program must come out the same. Needs root.
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cmocka.h>

#include "kernel_btf.h"

#include "compat.skel.h"
#include "corebtf.h"
#include "environ.skel.h"
#include "guard.skel.h"
#include "idle.skel.h"
#include "marker.skel.h"
#include "snaptrig.skel.h"
#include "uring.skel.h"

#define OBJECT_COUNT 7

static struct core_object objects[OBJECT_COUNT];
static const char *const object_names[OBJECT_COUNT] = {
	"snaptrig", "uring", "idle", "compat", "guard", "environ", "marker",
};

static int build(void **state)
{
	static const void *(*const images[OBJECT_COUNT])(size_t *size) = {
		snaptrig_bpf__elf_bytes, uring_bpf__elf_bytes, idle_bpf__elf_bytes,
		compat_bpf__elf_bytes, guard_bpf__elf_bytes, environ_bpf__elf_bytes,
		marker_bpf__elf_bytes,
	};
	__u32 task_btf_id;
	size_t i;

	(void)state;
	for (i = 0; i < OBJECT_COUNT; i++)
		objects[i].data = images[i](&objects[i].size);
	if (geteuid() != 0)
		return 0;
	return core_btf_build(objects, OBJECT_COUNT, &task_btf_id) ? -1 : 0;
}

static int release(void **state)
{
	(void)state;
	core_btf_free();
	return 0;
}

static struct bpf_object *load(size_t index, const struct bpf_object_open_opts *opts)
{
	struct bpf_object *obj = bpf_object__open_mem(objects[index].data, objects[index].size,
						      opts);

	assert_non_null(obj);
	if (bpf_object__load(obj))
		fail_msg("%s: loading failed %s the small BTF", object_names[index],
			 opts ? "with" : "without");
	return obj;
}

/*
 * Whether a and b are the same instruction. The imm of a map load's first
 * half is the fd of its object's own copy of the map, so it may differ.
 */
static int same_insn(const struct bpf_insn *a, const struct bpf_insn *b)
{
	struct bpf_insn x = *a, y = *b;

	if (x.code == (BPF_LD | BPF_IMM | BPF_DW) && x.src_reg == y.src_reg &&
	    (x.src_reg == BPF_PSEUDO_MAP_FD || x.src_reg == BPF_PSEUDO_MAP_VALUE))
		x.imm = y.imm = 0;
	return !memcmp(&x, &y, sizeof(x));
}

/* Compares every program of object index relocated both ways, instruction by instruction. */
static void compare_object(size_t index)
{
	struct bpf_object *full = load(index, NULL);
	struct bpf_object *small = load(index, core_btf_open_opts());
	struct bpf_program *prog;
	int programs = 0;

	bpf_object__for_each_program(prog, full) {
		struct bpf_program *other = bpf_object__find_program_by_name(small,
									   bpf_program__name(prog));
		size_t count = bpf_program__insn_cnt(prog), i;

		assert_non_null(other);
		if (bpf_program__insn_cnt(other) != count)
			fail_msg("%s: %s has %zu instructions, and %zu with the small BTF",
				 object_names[index], bpf_program__name(prog), count,
				 bpf_program__insn_cnt(other));
		for (i = 0; i < count; i++) {
			if (!same_insn(&bpf_program__insns(prog)[i], &bpf_program__insns(other)[i]))
				fail_msg("%s: instruction %zu of %s differs with the small BTF",
					 object_names[index], i, bpf_program__name(prog));
		}
		programs++;
	}
	assert_true(programs > 0);
	bpf_object__close(small);
	bpf_object__close(full);
}

static void relocations_match_kernel_btf(void **state)
{
	size_t i;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(core_btf_open_opts());
	for (i = 0; i < OBJECT_COUNT; i++)
		compare_object(i);
}

/* The small BTF has fewer than a tenth of the kernel's types, which is what makes it fast to search. */
static void small_btf_is_small(void **state)
{
	struct btf *kernel, *small;

	(void)state;
	if (geteuid() != 0)
		skip();
	kernel = btf__load_vmlinux_btf();
	small = btf__parse(core_btf_open_opts()->btf_custom_path, NULL);
	assert_non_null(kernel);
	assert_non_null(small);
	assert_true(btf__type_cnt(small) > 1);
	assert_true(btf__type_cnt(small) < btf__type_cnt(kernel) / 10);
	btf__free(small);
	btf__free(kernel);
}

/* The offset in image of the kind of the first CO-RE relocation of its .BTF.ext section. */
static size_t first_relocation_kind(char *image, size_t size)
{
	Elf *elf = elf_memory(image, size);
	Elf_Scn *scn = NULL;
	size_t names, offset = 0;
	GElf_Shdr header;

	assert_non_null(elf);
	assert_int_equal(elf_getshdrstrndx(elf, &names), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		__u32 ext[8];

		assert_non_null(gelf_getshdr(scn, &header));
		if (strcmp(elf_strptr(elf, names, header.sh_name), ".BTF.ext"))
			continue;
		/* magic and flags, hdr_len, then four offsets and lengths before core_relo_off */
		memcpy(ext, image + header.sh_offset, sizeof(ext));
		assert_true(ext[7] > 0);
		/* past record_size and the first section's name and count, to kind in the record */
		offset = header.sh_offset + ext[1] + ext[6] + 4 + 8 + offsetof(struct bpf_core_relo, kind);
	}
	elf_end(elf);
	assert_true(offset > 0 && offset + 4 <= size);
	return offset;
}

/* A relocation of a type's existence, which the small BTF cannot serve, fails the build. */
static void type_relocation_needs_kernel_btf(void **state)
{
	char *image = malloc(objects[0].size);
	struct core_object changed = { image, objects[0].size, "changed" };
	__u32 kind = BPF_CORE_TYPE_EXISTS, task_btf_id;

	(void)state;
	assert_non_null(image);
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	memcpy(image, objects[0].data, objects[0].size);
	memcpy(image + first_relocation_kind(image, objects[0].size), &kind, sizeof(kind));
	core_btf_free();
	assert_int_equal(core_btf_build(&changed, 1, &task_btf_id), -EOPNOTSUPP);
	assert_null(core_btf_open_opts());
	free(image);
}

/*
 * An image that is no ELF file fails the build, and objects then open
 * without a custom BTF, still with the id for the cast.
 */
static void broken_image_leaves_kernel_btf(void **state)
{
	static const char junk[] = "not an ELF file";
	struct core_object broken[] = { objects[0], { junk, sizeof(junk), "junk" } };
	__u32 task_btf_id = 1;

	(void)state;
	core_btf_free();
	assert_null(core_btf_open_opts());
	assert_int_equal(core_btf_build(broken, 2, &task_btf_id), -EINVAL);
	assert_int_equal(task_btf_id, cast_task_btf_id());
	assert_null(core_btf_open_opts());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(relocations_match_kernel_btf),
		cmocka_unit_test(small_btf_is_small),
		/* last, because they free the BTF that the tests above use */
		cmocka_unit_test(type_relocation_needs_kernel_btf),
		cmocka_unit_test(broken_image_leaves_kernel_btf),
	};

	if (geteuid() != 0)
		fprintf(stderr, "test_corebtf: loading BPF objects needs root; skipping\n");
	libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, build, release);
}
