// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The small BTF for CO-RE relocations. The types that relocations start
 * from are read from each object's .BTF.ext section, because libbpf 1.1
 * has no call that lists them. Its records are struct bpf_core_relo of
 * <linux/bpf.h>. Each such type is copied from the kernel's BTF with every
 * type that its layout embeds. A pointer becomes a pointer to void: a field
 * relocation checks only that a field is a pointer, and a read through it
 * is a relocation of its own, from the pointed-to type. Objects with
 * relocations of other kinds, which compare more, load against the
 * kernel's whole BTF.
 */
#include <dirent.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include "corebtf.h"
#include "emit.h"
#include "log.h"

#define BTF_EXT_MAGIC 0xeB9F
#define COPYING UINT32_MAX	/* map entry of a type whose copy is under way */

/* The start of a .BTF.ext section, up to the offsets of its CO-RE relocations. */
struct btf_ext_start {
	__u16 magic;
	__u8 version;
	__u8 flags;
	__u32 hdr_len;
	__u32 func_info_off;
	__u32 func_info_len;
	__u32 line_info_off;
	__u32 line_info_len;
	__u32 core_relo_off;
	__u32 core_relo_len;
};

/* One kernel type name that relocations start from, without its ___flavor suffix. */
struct root {
	char *name;
	int found;
};

struct roots {
	struct root *items;
	size_t count;
	size_t room;
};

/* The copy of kernel types into the small BTF. */
struct copy {
	const struct btf *from;
	struct btf *to;
	__u32 *map;		/* new id of each kernel type id, 0 when not copied */
	int void_ptr;		/* id of the one pointer to void, 0 until added */
};

static char custom_path[32];
static struct bpf_object_open_opts open_opts;
static int memory_fd = -1;

/* Length of name without a ___flavor suffix, as libbpf compares names. */
static size_t essential_length(const char *name)
{
	const char *suffix = strstr(name, "___");

	return suffix ? (size_t)(suffix - name) : strlen(name);
}

static int roots_add(struct roots *r, const char *name)
{
	char *copy;

	if (r->count == r->room) {
		size_t room = r->room ? r->room * 2 : 64;
		struct root *items = realloc(r->items, room * sizeof(*items));

		if (!items)
			return -ENOMEM;
		r->items = items;
		r->room = room;
	}
	copy = strndup(name, essential_length(name));
	if (!copy)
		return -ENOMEM;
	r->items[r->count].name = copy;
	r->items[r->count].found = 0;
	r->count++;
	return 0;
}

static int root_compare(const void *a, const void *b)
{
	return strcmp(((const struct root *)a)->name, ((const struct root *)b)->name);
}

/* Sorts the names and drops repeated ones, so that roots_find() can search. */
static void roots_sort(struct roots *r)
{
	size_t i, last = 0;

	if (!r->count)
		return;
	qsort(r->items, r->count, sizeof(*r->items), root_compare);
	for (i = 1; i < r->count; i++) {
		if (!strcmp(r->items[i].name, r->items[last].name)) {
			free(r->items[i].name);
			continue;
		}
		r->items[++last] = r->items[i];
	}
	r->count = last + 1;
}

/* The root whose name is the first length bytes of name, or NULL. */
static struct root *roots_find(struct roots *r, const char *name, size_t length)
{
	size_t low = 0, high = r->count;

	while (low < high) {
		size_t mid = low + (high - low) / 2;
		int order = strncmp(r->items[mid].name, name, length);

		if (!order && r->items[mid].name[length])
			order = 1;
		if (!order)
			return &r->items[mid];
		if (order < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return NULL;
}

static void roots_free(struct roots *r)
{
	size_t i;

	for (i = 0; i < r->count; i++)
		free(r->items[i].name);
	free(r->items);
}

/* Finds the data of the section called name in elf; NULL when it has none. */
static Elf_Data *section_data(Elf *elf, size_t names, const char *name)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr header;

	while ((scn = elf_nextscn(elf, scn))) {
		const char *found;

		if (!gelf_getshdr(scn, &header))
			return NULL;
		found = elf_strptr(elf, names, header.sh_name);
		if (found && !strcmp(found, name))
			return elf_getdata(scn, NULL);
	}
	return NULL;
}

/*
 * Whether a relocation of kind comes out against the small BTF as against
 * the kernel's: those of fields and of enum values. A type's existence or
 * size compares what its pointers point to, and a type id is the kernel's
 * own.
 */
static int kind_served(__u32 kind)
{
	switch (kind) {
	case BPF_CORE_FIELD_BYTE_OFFSET:
	case BPF_CORE_FIELD_BYTE_SIZE:
	case BPF_CORE_FIELD_EXISTS:
	case BPF_CORE_FIELD_SIGNED:
	case BPF_CORE_FIELD_LSHIFT_U64:
	case BPF_CORE_FIELD_RSHIFT_U64:
	case BPF_CORE_ENUMVAL_EXISTS:
	case BPF_CORE_ENUMVAL_VALUE:
		return 1;
	default:
		return 0;
	}
}

/*
 * Adds the types that the CO-RE relocations in ext start from, named in
 * the object's own BTF. Returns -EOPNOTSUPP for a relocation of a kind
 * that kind_served() rejects.
 */
static int add_relocation_roots(struct roots *r, const struct btf *btf, const Elf_Data *ext)
{
	struct btf_ext_start start;
	const unsigned char *at, *end;
	__u32 record_size;

	/* copied, because the section need not be aligned for the struct */
	if (ext->d_size < sizeof(start))
		return -EINVAL;
	memcpy(&start, ext->d_buf, sizeof(start));
	if (start.magic != BTF_EXT_MAGIC)
		return -EINVAL;
	if (start.hdr_len < sizeof(start) || !start.core_relo_len)
		return 0;
	if ((__u64)start.hdr_len + start.core_relo_off + start.core_relo_len > ext->d_size ||
	    start.core_relo_len < sizeof(record_size))
		return -EINVAL;
	at = (const unsigned char *)ext->d_buf + start.hdr_len + start.core_relo_off;
	end = at + start.core_relo_len;
	memcpy(&record_size, at, sizeof(record_size));
	at += sizeof(record_size);
	if (record_size < sizeof(struct bpf_core_relo))
		return -EINVAL;
	while (end - at >= 8) {
		__u32 section[2], i;

		memcpy(section, at, sizeof(section));
		at += sizeof(section);
		if ((size_t)(end - at) / record_size < section[1])
			return -EINVAL;
		for (i = 0; i < section[1]; i++, at += record_size) {
			struct bpf_core_relo relo;
			const struct btf_type *t;
			int err;

			memcpy(&relo, at, sizeof(relo));
			if (relo.kind == BPF_CORE_TYPE_ID_LOCAL)
				continue;
			if (!kind_served(relo.kind))
				return -EOPNOTSUPP;
			t = btf__type_by_id(btf, relo.type_id);
			if (!t)
				return -EINVAL;
			err = roots_add(r, btf__name_by_offset(btf, t->name_off));
			if (err)
				return err;
		}
	}
	return 0;
}

/* Adds the relocation roots of one object file image. */
static int object_roots(struct roots *r, const struct core_object *object)
{
	Elf *elf = elf_memory((char *)object->data, object->size);
	Elf_Data *btf_data, *ext_data;
	struct btf *btf;
	size_t names;
	int err;

	if (!elf)
		return -EINVAL;
	if (elf_getshdrstrndx(elf, &names)) {
		elf_end(elf);
		return -EINVAL;
	}
	btf_data = section_data(elf, names, ".BTF");
	ext_data = section_data(elf, names, ".BTF.ext");
	if (!btf_data || !ext_data) {
		elf_end(elf);
		return btf_data || ext_data ? -EINVAL : 0;
	}
	btf = btf__new(btf_data->d_buf, btf_data->d_size);
	if (!btf) {
		err = -errno;
		elf_end(elf);
		return err;
	}
	err = add_relocation_roots(r, btf, ext_data);
	btf__free(btf);
	elf_end(elf);
	return err;
}

/* Writable view of a type just added to a BTF that libbpf builds. */
static struct btf_type *added_type(struct btf *btf, int id)
{
	return (struct btf_type *)btf__type_by_id(btf, id);
}

static int copy_type(struct copy *c, __u32 from_id);

static int copy_members(struct copy *c, const struct btf_type *t)
{
	const struct btf_member *members = btf_members(t);
	__u16 count = btf_vlen(t), i;
	int *ids = calloc(count ? count : 1, sizeof(*ids));
	struct btf_member *added;
	int id;

	if (!ids)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		ids[i] = copy_type(c, members[i].type);
		if (ids[i] < 0) {
			id = ids[i];
			goto out;
		}
	}
	id = btf__add_type(c->to, c->from, t);
	if (id < 0)
		goto out;
	added = btf_members(added_type(c->to, id));
	for (i = 0; i < count; i++)
		added[i].type = ids[i];
out:
	free(ids);
	return id;
}

static int copy_array(struct copy *c, const struct btf_type *t)
{
	const struct btf_array *array = btf_array(t);
	int element = copy_type(c, array->type);
	int index = element < 0 ? element : copy_type(c, array->index_type);
	struct btf_array *added;
	int id;

	if (index < 0)
		return index;
	id = btf__add_type(c->to, c->from, t);
	if (id < 0)
		return id;
	added = btf_array(added_type(c->to, id));
	added->type = element;
	added->index_type = index;
	return id;
}

/*
 * Copies kernel type from_id, and the types its layout embeds, into the
 * small BTF once. Returns the copy's id, 0 for void, or -errno.
 */
static int copy_type(struct copy *c, __u32 from_id)
{
	const struct btf_type *t;
	int id, target;

	if (!from_id)
		return 0;
	if (c->map[from_id] == COPYING)
		return -ELOOP;
	if (c->map[from_id])
		return (int)c->map[from_id];
	t = btf__type_by_id(c->from, from_id);
	if (!t)
		return -EINVAL;
	c->map[from_id] = COPYING;
	switch (btf_kind(t)) {
	case BTF_KIND_PTR:
		if (!c->void_ptr)
			c->void_ptr = btf__add_ptr(c->to, 0);
		id = c->void_ptr;
		break;
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_FWD:
		id = btf__add_type(c->to, c->from, t);
		break;
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_CONST:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		target = copy_type(c, t->type);
		id = target < 0 ? target : btf__add_type(c->to, c->from, t);
		if (id > 0)
			added_type(c->to, id)->type = target;
		break;
	case BTF_KIND_ARRAY:
		id = copy_array(c, t);
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		id = copy_members(c, t);
		break;
	default:
		/* functions, variables and sections are no part of a layout */
		id = -EOPNOTSUPP;
		break;
	}
	c->map[from_id] = id > 0 ? (__u32)id : 0;
	return id;
}

/* Whether kind is one that a relocation can start from. */
static int root_kind(__u16 kind)
{
	return kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION || kind == BTF_KIND_ENUM ||
	       kind == BTF_KIND_ENUM64 || kind == BTF_KIND_TYPEDEF || kind == BTF_KIND_INT ||
	       kind == BTF_KIND_FLOAT || kind == BTF_KIND_FWD;
}

/*
 * Whether the kernel has BTF of modules, where libbpf looks for types
 * missing from its own.
 * NOTE: the development kernel has no module BTF, so that fallback has not run.
 */
static int kernel_has_module_btf(void)
{
	DIR *dir = opendir("/sys/kernel/btf");
	struct dirent *entry;
	int found = 0;

	if (!dir)
		return 0;
	while (!found && (entry = readdir(dir)))
		found = entry->d_name[0] != '.' && strcmp(entry->d_name, "vmlinux");
	closedir(dir);
	return found;
}

/*
 * Copies every kernel type whose name is a root. Returns 0, or -ENOENT when
 * a root is missing and modules may have it.
 */
static int copy_roots(struct copy *c, struct roots *r)
{
	__u32 count = btf__type_cnt(c->from), id;
	size_t i;

	for (id = 1; id < count; id++) {
		const struct btf_type *t = btf__type_by_id(c->from, id);
		const char *name;
		struct root *root;
		int err;

		if (!root_kind(btf_kind(t)) || !t->name_off)
			continue;
		name = btf__name_by_offset(c->from, t->name_off);
		root = roots_find(r, name, essential_length(name));
		if (!root)
			continue;
		err = copy_type(c, id);
		if (err < 0)
			return err;
		root->found = 1;
	}
	for (i = 0; i < r->count; i++) {
		if (r->items[i].found)
			continue;
		if (!kernel_has_module_btf())
			return 0;
		log_info(1, "the kernel's BTF has no type %s, which a kernel module may have",
			 r->items[i].name);
		return -ENOENT;
	}
	return 0;
}

/* The id of struct task_struct in the kernel's BTF, or 0 when it has no bpf_rdonly_cast(). */
static __u32 cast_type_id(const struct btf *kernel)
{
	__u32 count = btf__type_cnt(kernel), id, task = 0;
	int cast = 0;

	for (id = 1; id < count && (!task || !cast); id++) {
		const struct btf_type *t = btf__type_by_id(kernel, id);
		const char *name = btf__name_by_offset(kernel, t->name_off);

		if (btf_is_struct(t) && !strcmp(name, "task_struct"))
			task = id;
		else if (btf_is_func(t) && !strcmp(name, "bpf_rdonly_cast"))
			cast = 1;
	}
	return cast ? task : 0;
}

/* Writes the small BTF into a memory file and points the open options at it. */
static int publish(const struct btf *btf)
{
	__u32 size;
	const void *raw = btf__raw_data(btf, &size);
	int fd;

	if (!raw)
		return -ENOMEM;
	fd = memfd_create("snaptrig-core-btf", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, raw, size) != (ssize_t)size) {
		close(fd);
		return -EIO;
	}
	snprintf(custom_path, sizeof(custom_path), "/proc/self/fd/%d", fd);
	/* libbpf opens the file by that path, which needs /proc */
	if (access(custom_path, R_OK)) {
		int err = -errno;

		close(fd);
		return err;
	}
	memory_fd = fd;
	open_opts.sz = sizeof(open_opts);
	open_opts.btf_custom_path = custom_path;
	return 0;
}

int core_btf_build(const struct core_object *objects, size_t count, __u32 *task_btf_id)
{
	struct copy c = { 0 };
	struct roots r = { 0 };
	__u64 start = boot_now_ns();
	size_t i;
	int err = 0;

	*task_btf_id = 0;
	c.from = btf__load_vmlinux_btf();
	if (!c.from)
		return -errno;
	*task_btf_id = cast_type_id(c.from);
	if (elf_version(EV_CURRENT) == EV_NONE) {
		err = -EINVAL;
		goto out;
	}
	for (i = 0; i < count && !err; i++)
		err = object_roots(&r, &objects[i]);
	if (err) {
		log_info(1, "the CO-RE relocations of BPF object %s cannot use a small BTF: %s",
			 objects[i - 1].name ? objects[i - 1].name : "?",
			 err == -EOPNOTSUPP ? "a relocation needs more than field offsets and enum values" :
			 err == -EINVAL ? "its ELF image or .BTF.ext section is malformed" :
			 strerror(-err));
		goto out;
	}
	roots_sort(&r);
	c.map = calloc(btf__type_cnt(c.from), sizeof(*c.map));
	c.to = btf__new_empty();
	if (!c.map || !c.to) {
		err = -ENOMEM;
		goto out;
	}
	err = copy_roots(&c, &r);
	if (!err)
		err = publish(c.to);
	if (!err)
		log_info(2, "the BTF for CO-RE has %u types for %zu relocation roots, built in %.1f ms",
			 btf__type_cnt(c.to) - 1, r.count, (double)(boot_now_ns() - start) / 1e6);
out:
	btf__free(c.to);
	free(c.map);
	btf__free((struct btf *)c.from);
	roots_free(&r);
	return err;
}

const struct bpf_object_open_opts *core_btf_open_opts(void)
{
	return memory_fd >= 0 ? &open_opts : NULL;
}

void core_btf_free(void)
{
	if (memory_fd >= 0)
		close(memory_fd);
	memory_fd = -1;
}
