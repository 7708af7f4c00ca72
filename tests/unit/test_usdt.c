// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of agent/usdt.c: the stapsdt note scanner on hand-made notes,
 * the ELF reader on build/tools/st-marker (which uses include/snaptrig.h)
 * and on files without markers, and the PATH lookup.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "usdt.h"

static const char *const names[] = { "snapshot", "transaction" };
static char tools_dir[PATH_MAX];

/* Appends one note to buf at *len and returns a pointer to its header. */
static uint32_t *put_note(char *buf, size_t *len, uint32_t type, const char *owner,
			  const void *desc, uint32_t desc_size)
{
	uint32_t *hdr = (uint32_t *)(buf + *len);
	uint32_t owner_size = strlen(owner) + 1;

	hdr[0] = owner_size;
	hdr[1] = desc_size;
	hdr[2] = type;
	*len += 12;
	memset(buf + *len, 0, (owner_size + 3) & ~3u);
	memcpy(buf + *len, owner, owner_size);
	*len += (owner_size + 3) & ~3u;
	memset(buf + *len, 0, (desc_size + 3) & ~3u);
	memcpy(buf + *len, desc, desc_size);
	*len += (desc_size + 3) & ~3u;
	return hdr;
}

/* A stapsdt descriptor: three addresses of addr_size bytes, then the strings. */
static uint32_t make_desc(char *desc, size_t addr_size, const char *provider,
			  const char *name)
{
	size_t len = addr_size * 3;

	memset(desc, 0x11, len);
	strcpy(desc + len, provider);
	len += strlen(provider) + 1;
	strcpy(desc + len, name);
	len += strlen(name) + 1;
	desc[len++] = '\0';	/* no arguments */
	return len;
}

static void notes_find_both_probes(void **state)
{
	char buf[512], desc[128];
	unsigned int mask = 0;
	size_t len = 0;

	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "snaptrig", "snapshot"));
	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "snaptrig", "transaction"));
	assert_int_equal(usdt_notes_scan(buf, len, 1, "snaptrig", names, 2, &mask, NULL), 0);
	assert_int_equal(mask, 3);
}

static void notes_count_sites(void **state)
{
	char buf[512], desc[128];
	unsigned int mask = 0, sites[2] = { 0, 0 };
	size_t len = 0;

	/* the snapshot marker at two places in the code, the transaction marker at one */
	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "snaptrig", "snapshot"));
	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "libc", "transaction"));
	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "snaptrig", "transaction"));
	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "snaptrig", "snapshot"));
	assert_int_equal(usdt_notes_scan(buf, len, 1, "snaptrig", names, 2, &mask, sites), 0);
	assert_int_equal(mask, 3);
	assert_int_equal(sites[0], 2);
	assert_int_equal(sites[1], 1);
}

static void notes_other_provider(void **state)
{
	char buf[512], desc[128];
	unsigned int mask = 0;
	size_t len = 0;

	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "libc", "snapshot"));
	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "snaptrig", "other"));
	assert_int_equal(usdt_notes_scan(buf, len, 1, "snaptrig", names, 2, &mask, NULL), 0);
	assert_int_equal(mask, 0);
}

static void notes_skip_other_types(void **state)
{
	char buf[512], desc[128];
	unsigned int mask = 0;
	size_t len = 0;

	/* a GNU build id, then a stapsdt-named note of the wrong type */
	put_note(buf, &len, 3, "GNU", "0123456789abcdef", 16);
	put_note(buf, &len, 1, "stapsdt", desc, make_desc(desc, 8, "snaptrig", "snapshot"));
	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "snaptrig", "transaction"));
	assert_int_equal(usdt_notes_scan(buf, len, 1, "snaptrig", names, 2, &mask, NULL), 0);
	assert_int_equal(mask, 2);
}

static void notes_elf32_addresses(void **state)
{
	char buf[512], desc[128];
	unsigned int mask = 0;
	size_t len = 0;

	put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 4, "snaptrig", "snapshot"));
	assert_int_equal(usdt_notes_scan(buf, len, 0, "snaptrig", names, 2, &mask, NULL), 0);
	assert_int_equal(mask, 1);
	/* read with 8-byte addresses, the strings start in the wrong place */
	mask = 0;
	assert_int_equal(usdt_notes_scan(buf, len, 1, "snaptrig", names, 2, &mask, NULL), 0);
	assert_int_equal(mask, 0);
}

static void notes_malformed(void **state)
{
	char buf[512], desc[128];
	unsigned int mask = 0;
	uint32_t *hdr;
	size_t len = 0;

	hdr = put_note(buf, &len, 3, "stapsdt", desc, make_desc(desc, 8, "snaptrig", "snapshot"));
	hdr[1] = 0xfffffff0;	/* descriptor beyond the section */
	assert_int_equal(usdt_notes_scan(buf, len, 1, "snaptrig", names, 2, &mask, NULL), -EINVAL);
	hdr[1] = 20;		/* shorter than the three addresses and a string */
	assert_int_equal(usdt_notes_scan(buf, len, 1, "snaptrig", names, 2, &mask, NULL), -EINVAL);
	hdr[1] = 24;		/* addresses only, no provider string */
	assert_int_equal(usdt_notes_scan(buf, len, 1, "snaptrig", names, 2, &mask, NULL), -EINVAL);
	/* a section that ends inside a note header */
	assert_int_equal(usdt_notes_scan(buf, 7, 1, "snaptrig", names, 2, &mask, NULL), -EINVAL);
	assert_int_equal(usdt_notes_scan(buf, 0, 1, "snaptrig", names, 2, &mask, NULL), 0);
	assert_int_equal(mask, 0);
}

static void notes_unterminated_name(void **state)
{
	char buf[512], desc[128];
	unsigned int mask = 0;
	size_t len = 0;
	uint32_t size = make_desc(desc, 8, "snaptrig", "snapshot");

	/* cut the descriptor inside the probe name */
	put_note(buf, &len, 3, "stapsdt", desc, size - 5);
	assert_int_equal(usdt_notes_scan(buf, len, 1, "snaptrig", names, 2, &mask, NULL), -EINVAL);
	assert_int_equal(mask, 0);
}

static void file_with_markers(void **state)
{
	char path[PATH_MAX + 16];
	unsigned int mask = 0;

	snprintf(path, sizeof(path), "%s/st-marker", tools_dir);
	if (access(path, R_OK))
		skip();
	assert_int_equal(usdt_file_probes(path, "snaptrig", names, 2, &mask, NULL), 0);
	assert_int_equal(mask, 3);
	assert_int_equal(usdt_file_probes(path, "other", names, 2, &mask, NULL), 0);
	assert_int_equal(mask, 0);
}

static void file_without_markers(void **state)
{
	char path[PATH_MAX + 16];
	unsigned int mask = 7;

	snprintf(path, sizeof(path), "%s/st-forker", tools_dir);
	if (access(path, R_OK))
		skip();
	assert_int_equal(usdt_file_probes(path, "snaptrig", names, 2, &mask, NULL), 0);
	assert_int_equal(mask, 0);
}

static void file_not_elf(void **state)
{
	char path[] = "/tmp/snaptrig-test-usdt-XXXXXX";
	unsigned int mask = 7;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	assert_int_equal(usdt_file_probes(path, "snaptrig", names, 2, &mask, NULL), -ENOEXEC);
	assert_int_equal(mask, 0);
	unlink(path);
	assert_int_equal(usdt_file_probes(path, "snaptrig", names, 2, &mask, NULL), -ENOENT);
}

static void resolve_through_path(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(usdt_resolve_command("sh", "/nonexistent:/bin", out, sizeof(out)), 0);
	assert_string_equal(out, "/bin/sh");
	assert_int_equal(usdt_resolve_command("sh", "/nonexistent::/usr/bin", out, sizeof(out)),
			 0);
	assert_string_equal(out, "/usr/bin/sh");
	assert_int_equal(usdt_resolve_command("sh", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/bin/sh");
	assert_int_equal(usdt_resolve_command("no-such-command-x", "/bin:/usr/bin", out,
					      sizeof(out)), -ENOENT);
	assert_int_equal(usdt_resolve_command("", "/bin", out, sizeof(out)), -ENOENT);
}

/* As execvp(3) does, a file found without execute permission fails the search with EACCES. */
static void resolve_through_path_not_executable(void **state)
{
	char dir[] = "/tmp/snaptrig-test-path-XXXXXX", file[PATH_MAX], out[PATH_MAX];
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/st-plain", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(usdt_resolve_command("st-plain", dir, out, sizeof(out)), -EACCES);
	assert_int_equal(usdt_resolve_command("sh", dir, out, sizeof(out)), -ENOENT);

	assert_int_equal(chmod(file, 0755), 0);
	assert_int_equal(usdt_resolve_command("st-plain", dir, out, sizeof(out)), 0);
	assert_string_equal(out, file);

	unlink(file);
	rmdir(dir);
}

static void resolve_name_with_slash(void **state)
{
	char out[PATH_MAX], small[4];

	assert_int_equal(usdt_resolve_command("/bin/sh", "/nonexistent", out, sizeof(out)), 0);
	assert_string_equal(out, "/bin/sh");
	assert_int_equal(usdt_resolve_command("/etc/passwd", "/bin", out, sizeof(out)), -EACCES);
	assert_int_equal(usdt_resolve_command("/bin", "/bin", out, sizeof(out)), -EACCES);
	assert_int_equal(usdt_resolve_command("/no-such-dir/sh", "/bin", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(usdt_resolve_command("/bin/sh", "/bin", small, sizeof(small)),
			 -ENAMETOOLONG);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(notes_find_both_probes),
		cmocka_unit_test(notes_count_sites),
		cmocka_unit_test(notes_other_provider),
		cmocka_unit_test(notes_skip_other_types),
		cmocka_unit_test(notes_elf32_addresses),
		cmocka_unit_test(notes_malformed),
		cmocka_unit_test(notes_unterminated_name),
		cmocka_unit_test(file_with_markers),
		cmocka_unit_test(file_without_markers),
		cmocka_unit_test(file_not_elf),
		cmocka_unit_test(resolve_through_path),
		cmocka_unit_test(resolve_through_path_not_executable),
		cmocka_unit_test(resolve_name_with_slash),
	};
	char self[PATH_MAX];

	/* the test runs as build/tests/test_usdt; the tools are in build/tools */
	snprintf(self, sizeof(self), "%s", argc > 0 ? argv[0] : ".");
	snprintf(tools_dir, sizeof(tools_dir), "%s/../tools", dirname(self));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
