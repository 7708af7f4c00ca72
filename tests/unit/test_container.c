// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of agent/container.c: cgroup paths and namespace fields of lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "container.h"

struct path_case {
	const char *input;
	const char *normal;
	__u32 level;
};

static void normalize_valid_paths(void **state)
{
	static const struct path_case cases[] = {
		{ "", "/", 0 },
		{ "/", "/", 0 },
		{ "//", "/", 0 },
		{ "/a", "/a", 1 },
		{ "a", "/a", 1 },
		{ "/a/b/", "/a/b", 2 },
		{ "//a///b.c/d", "/a/b.c/d", 3 },
		{ "/..a/b..", "/..a/b..", 2 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64];
		__u32 level = 99;

		assert_int_equal(cgroup_path_normalize(cases[i].input, out, sizeof(out), &level), 0);
		assert_string_equal(out, cases[i].normal);
		assert_int_equal(level, cases[i].level);
	}
}

static void normalize_rejects_dot_components(void **state)
{
	static const char *const bad[] = { ".", "/a/.", "/a/../b", "..", "/./a" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[64];
		__u32 level;

		assert_int_equal(cgroup_path_normalize(bad[i], out, sizeof(out), &level), -EINVAL);
	}
}

static void normalize_too_long(void **state)
{
	char out[8];
	__u32 level;

	assert_int_equal(cgroup_path_normalize("/abc/defgh", out, sizeof(out), &level),
			 -ENAMETOOLONG);
}

static void ids_from_record(void **state)
{
	struct st_record_header hdr = { .pid = 300, .tid = 301, .ns_pid = 1, .ns_tid = 2,
					 .cgroup_id = 77 };
	struct container_ids ids;

	container_ids_of(300, 301, &hdr, &ids);
	assert_int_equal(ids.ns_pid, 1);
	assert_int_equal(ids.ns_tid, 2);
	assert_int_equal(ids.cgroup_id, 77);
}

static void ids_remembered_for_lines_without_record(void **state)
{
	struct st_record_header hdr = { .pid = 400, .tid = 401, .ns_pid = 5, .ns_tid = 6,
					 .cgroup_id = 88 };
	struct container_ids ids;

	container_note(&hdr);
	/* a periodic-interval line names the process itself */
	container_ids_of(400, 400, NULL, &ids);
	assert_int_equal(ids.ns_pid, 5);
	assert_int_equal(ids.ns_tid, 5);
	assert_int_equal(ids.cgroup_id, 88);
	/* a snapshot line of the thread of the last record */
	container_ids_of(400, 401, NULL, &ids);
	assert_int_equal(ids.ns_tid, 6);
	/* a thread the agent has no record of has no known ns_tid */
	container_ids_of(400, 402, NULL, &ids);
	assert_int_equal(ids.ns_pid, 5);
	assert_int_equal(ids.ns_tid, 0);

	container_forget(400);
	container_ids_of(400, 400, NULL, &ids);
	assert_int_equal(ids.ns_pid, 0);
	assert_int_equal(ids.cgroup_id, 0);
}

static void ids_cleared_by_plain_record(void **state)
{
	struct st_record_header inner = { .pid = 500, .tid = 500, .ns_pid = 3, .cgroup_id = 9 };
	struct st_record_header plain = { .pid = 500, .tid = 500 };
	struct container_ids ids;

	container_note(&inner);
	/* a reused pid: the new process's records carry no fields */
	container_note(&plain);
	container_ids_of(500, 500, &plain, &ids);
	assert_int_equal(ids.ns_pid, 0);
	assert_int_equal(ids.ns_tid, 0);
	assert_int_equal(ids.cgroup_id, 0);
}

static void ids_of_other_process_ignored(void **state)
{
	struct st_record_header other = { .pid = 600, .tid = 600, .ns_pid = 4, .cgroup_id = 1 };
	struct container_ids ids;

	container_forget(601);
	container_ids_of(601, 601, &other, &ids);
	assert_int_equal(ids.ns_pid, 0);
	assert_int_equal(ids.cgroup_id, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalize_valid_paths),
		cmocka_unit_test(normalize_rejects_dot_components),
		cmocka_unit_test(normalize_too_long),
		cmocka_unit_test(ids_from_record),
		cmocka_unit_test(ids_remembered_for_lines_without_record),
		cmocka_unit_test(ids_cleared_by_plain_record),
		cmocka_unit_test(ids_of_other_process_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
