// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Checks the read-only tunables that every BPF object gets. The agent's own
 * tracer_open(), uprobes_open() and compat_attach() load all six objects,
 * under options that move each tunable off its BPF default. Then every
 * targ_* variable is read back from the kernel's copy of each object's
 * .rodata map, found through the process's map fds and the map's BTF.
 * Needs root.
 *
 * NOTE: targ_pidns_level is expected to be 0 here, its default too, so a
 * missing write of it goes unseen. pidns_level_self() reads the agent's
 * level from /proc, and gives 0 in a child pid namespace as well.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include <cmocka.h>

#include "kernel_btf.h"

#include "compat.h"
#include "container.h"
#include "options.h"
#include "tracer.h"
#include "triggers.h"
#include "uprobes.h"
#include "uring.h"

#define COOLDOWN_LONG_NS 100000000ULL	/* long enough for quiet jiffies */
#define COOLDOWN_SHORT_NS 500000ULL	/* short enough for targ_calls_no_wakeup */
#define RING_SIZE (8u << 20)
#define IDLE_THRESHOLD_NS 250000000ULL
#define FREEZE_TRIGGERS (ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) | ST_TRIG_BIT(ST_TRIG_IDLE))

/*
 * One targ_* variable and its value under the test's options, each off its
 * BPF default: a number in value, or a string in text for a char array.
 */
struct tunable_case {
	const char *name;
	__u64 value;
	const char *text;
};

/*
 * One BPF object, by its .rodata map, which libbpf names with the first 8
 * characters of the object's name.
 */
struct object_case {
	const char *map_name;
	int seen;
};

static char cgroup_dir[PATH_MAX];

/* Creates an empty cgroup for --cgroup, so that no process of the machine is traced. */
static int cgroup_setup(void **state)
{
	char mount_point[PATH_MAX];

	(void)state;
	if (geteuid() != 0)
		return 0;
	if (cgroup2_mount_point(mount_point, sizeof(mount_point)))
		return -1;
	if (snprintf(cgroup_dir, sizeof(cgroup_dir), "%s/snaptrig-tunables-%d", mount_point,
		     (int)getpid()) >= (int)sizeof(cgroup_dir))
		return -1;
	return mkdir(cgroup_dir, 0755) ? -1 : 0;
}

static int cgroup_teardown(void **state)
{
	(void)state;
	if (cgroup_dir[0] && rmdir(cgroup_dir))
		return -1;
	return 0;
}

static const struct tunable_case *find_tunable(const struct tunable_case *cases, size_t count,
					       const char *name)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	}
	return NULL;
}

static __u64 read_var(const unsigned char *data, __u32 size)
{
	__u32 u32;
	__u64 u64;

	if (size == sizeof(u32)) {
		memcpy(&u32, data, sizeof(u32));
		return u32;
	}
	assert_int_equal(size, sizeof(u64));
	memcpy(&u64, data, sizeof(u64));
	return u64;
}

/* Compares every targ_* variable of one .rodata map, read from the kernel, with cases. */
static void check_rodata(int fd, const struct bpf_map_info *info, const struct object_case *obj,
			 const struct tunable_case *cases, size_t count)
{
	unsigned char *data = calloc(1, info->value_size);
	const struct btf_var_secinfo *var;
	const struct btf_type *sec;
	struct btf *btf;
	__u32 key = 0;
	int i;

	assert_non_null(data);
	assert_int_equal(bpf_map_lookup_elem(fd, &key, data), 0);
	btf = btf__load_from_kernel_by_id(info->btf_id);
	assert_non_null(btf);
	sec = btf__type_by_id(btf, info->btf_value_type_id);
	assert_non_null(sec);
	assert_true(btf_is_datasec(sec));

	var = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, var++) {
		const char *name = btf__name_by_offset(btf, btf__type_by_id(btf, var->type)->name_off);
		const struct tunable_case *c = find_tunable(cases, count, name);
		__u64 got, want;

		if (strncmp(name, "targ_", 5))
			continue;
		if (!c)
			fail_msg("%s: %s has no expected value: set it in agent/tunables.h and list it in this test",
				 obj->map_name, name);
		if (c->text) {
			if (strnlen((const char *)data + var->offset, var->size) == var->size ||
			    strcmp((const char *)data + var->offset, c->text))
				fail_msg("%s: %s is '%.*s', expected '%s'", obj->map_name, name,
					 (int)var->size, (const char *)data + var->offset, c->text);
			continue;
		}
		want = c->value;
		got = read_var(data + var->offset, var->size);
		if (got != want)
			fail_msg("%s: %s is %llu, expected %llu", obj->map_name, name,
				 (unsigned long long)got, (unsigned long long)want);
	}
	btf__free(btf);
	free(data);
}

/* Checks the .rodata map of every BPF object this process holds, and that all six are there. */
static void check_objects(const struct tunable_case *cases, size_t count)
{
	struct object_case objects[] = {
		{ "snaptrig.rodata", 0 },
		{ "environ_.rodata", 0 },
		{ "marker_b.rodata", 0 },
		{ "uring_bp.rodata", 0 },
		{ "compat_b.rodata", 0 },
		{ "idle_bpf.rodata", 0 },
	};
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	size_t i;

	assert_non_null(dir);
	while ((entry = readdir(dir))) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = atoi(entry->d_name);

		if (entry->d_name[0] == '.' || fd == dirfd(dir))
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || !strstr(info.name, ".rodata"))
			continue;
		for (i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
			if (!strcmp(objects[i].map_name, info.name))
				break;
		}
		if (i == sizeof(objects) / sizeof(objects[0]))
			fail_msg("BPF map %s belongs to no object this test knows", info.name);
		check_rodata(fd, &info, &objects[i], cases, count);
		objects[i].seen++;
	}
	closedir(dir);
	for (i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		if (objects[i].seen != 1)
			fail_msg("%s: found %d times, expected once", objects[i].map_name,
				 objects[i].seen);
	}
}

/* The objects one test loaded, closed by close_objects() even after a failed check. */
static struct options opts;
static struct tracer tracer;
static struct uprobes *uprobes;
static int tracer_opened;

static int close_objects(void **state)
{
	(void)state;
	uprobes_close(uprobes);
	uprobes = NULL;
	if (tracer_opened)
		tracer_close(&tracer);
	tracer_opened = 0;
	options_free(&opts);
	return 0;
}

/* Loads every object through the agent's own open functions with cooldown, then checks them. */
static void check_with_cooldown(const char *cooldown, __u64 cooldown_ns)
{
	char *argv[] = {
		"snaptrig", "--trigger", "all", "--cooldown", (char *)cooldown,
		"--freeze", "--exec", "/bin/true", "--snapshot-on", "first-listen,idle",
		"--lazy-wakeup", "--ring-buffer-size", "8M", "--idle-threshold", "250ms",
		"--no-follow", "--cgroup", cgroup_dir, NULL,
	};
	struct stat st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(stat(cgroup_dir, &st), 0);

	const struct tunable_case cases[] = {
		{ "targ_agent_tgid", (__u64)getpid(), NULL },
		{ "targ_triggers", TRIGGERS_ALL, NULL },
		{ "targ_freeze", FREEZE_TRIGGERS, NULL },
		{ "targ_lazy_wakeup", 1, NULL },
		{ "targ_cooldown_ns", cooldown_ns, NULL },
		{ "targ_calls_no_wakeup", cooldown_ns < 1000000ULL, NULL },
		{ "targ_quiet_jiffies", tracer_quiet_jiffies(cooldown_ns), NULL },
		{ "targ_ring_size", RING_SIZE, NULL },
		{ "targ_cgroup_id", st.st_ino, NULL },
		{ "targ_cgroup_level", 1, NULL },
		{ "targ_cgroup_path", 0, strrchr(cgroup_dir, '/') },
		{ "targ_pidns_level", pidns_level_self(), NULL },
		{ "targ_follow", 0, NULL },
		{ "targ_idle_threshold_ns", IDLE_THRESHOLD_NS, NULL },
		/* 0, its default, on a kernel without the kfuncs */
		{ "targ_signal_task", uring_signal_task_exists(), NULL },
		/* 0, its default, on a kernel without bpf_rdonly_cast() */
		{ "targ_task_btf_id", cast_task_btf_id(), NULL },
	};

	optind = 0;	/* glibc's getopt starts over for the second test */
	assert_int_equal(options_parse(sizeof(argv) / sizeof(argv[0]) - 1, argv, &opts), 0);
	assert_int_equal(tracer_open(&tracer, &opts, getpid()), 0);
	tracer_opened = 1;
	assert_int_equal(uprobes_open(&uprobes, &tracer, &opts), 0);
	/* --ia32 auto loads the ia32 hook only here, as for a first 32-bit program */
	assert_int_equal(compat_attach(&tracer), 0);
	check_objects(cases, sizeof(cases) / sizeof(cases[0]));
}

/* quiet_jiffies is above 0, so an object that misses it keeps a visible 0. */
static void long_cooldown_reaches_every_object(void **state)
{
	(void)state;
	assert_true(tracer_quiet_jiffies(COOLDOWN_LONG_NS) > 0);
	check_with_cooldown("100ms", COOLDOWN_LONG_NS);
}

/* calls_no_wakeup is 1, so an object that misses it keeps a visible 0. */
static void short_cooldown_reaches_every_object(void **state)
{
	(void)state;
	check_with_cooldown("500us", COOLDOWN_SHORT_NS);
}

static int run_cases(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(long_cooldown_reaches_every_object, close_objects),
		cmocka_unit_test_teardown(short_cooldown_reaches_every_object, close_objects),
	};

	return cmocka_run_group_tests(tests, cgroup_setup, cgroup_teardown);
}

int main(void)
{
	if (geteuid() != 0)
		fprintf(stderr, "test_tunables: loading BPF objects needs root; skipping\n");
	return run_cases();
}
