// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loads bpf/compat.bpf.c, the hook of ia32 system calls. A kernel without
 * ia32 emulation, or one that rejects tp_btf programs on sys_exit, leaves
 * the agent running without the hook, and the ia32 path marked blind.
 *
 * Any program on sys_exit slows every system call of every process: about
 * 115 ns on a 240 ns getpid on the development machine. So with --ia32 auto
 * the hook is loaded and attached only once a traced process runs a 32-bit
 * image. Until then the main object stops a traced process at the exec of a
 * 32-bit image (ia32_exec_hold), and the agent resumes it once the hook is
 * attached, so that the image's first system call is seen. Loading the hook
 * at start instead cost about 40 ms of the agent's start (the verifier and a
 * parse of the kernel's BTF) for a hook that most runs never attach.
 * NOTE: nothing detaches the hook when the last 32-bit program ends, so
 * every system call on the machine pays for it until the agent exits.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "corebtf.h"
#include "compat.skel.h"
#include "snaptrig.skel.h"
#include "log.h"
#include "options.h"
#include "tracer.h"
#include "compat.h"
#include "uprobes.h"

/*
 * Triggers that the ia32 hook serves: those it decodes, and those whose
 * uprobes go on the libraries that a 32-bit program maps with mmap2(2).
 */
#define COMPAT_TRIGGERS (ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) | ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) | \
			 ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) | \
			 ST_TRIG_BIT(ST_TRIG_TRANSACTION) | UPROBE_TRIGGERS)

static void compat_fail(struct tracer *t, const char *step, int err);

/* Opens and loads the hook into t->compat; 0, or -errno after compat_fail(). */
static int compat_load(struct tracer *t)
{
	struct compat_bpf *skel;
	const char *step;
	int err;

	skel = compat_bpf__open_opts(core_btf_open_opts());
	if (!skel) {
		err = -errno;
		step = "opening";
		goto fail;
	}
	TUNABLES_SET(skel->rodata, &t->tunables);
	step = "sharing the maps with";
	err = tracer_share_maps(t, skel->obj);
	if (err)
		goto fail;

	step = "loading";
	err = tracer_load(skel->skeleton);
	if (err)
		goto fail;
	t->compat = skel;
	return 0;
fail:
	compat_fail(t, step, err);
	compat_bpf__destroy(skel);
	return err;
}

int compat_open(struct tracer *t, const struct options *opts)
{
	if (!(opts->triggers & COMPAT_TRIGGERS) || opts->ia32 == IA32_OFF)
		return 0;
	if (opts->ia32 == IA32_AUTO) {
		t->compat_pending = 1;
		t->skel->bss->ia32_exec_hold = 1;
		return 0;
	}
	if (compat_load(t) == 0)
		compat_attach(t);
	return 0;
}

static void compat_fail(struct tracer *t, const char *step, int err)
{
	log_error("%s the ia32 system call hook (tp_btf/sys_exit) failed: %s; triggers of 32-bit programs and of int $0x80 are not seen (rerun with -vvv for libbpf's log)",
		  step, strerror(-err));
	t->blind_vias |= 1u << ST_VIA_IA32;
	t->blind_errors[ST_VIA_IA32] = err;
}

int compat_check(void)
{
	struct compat_bpf *skel = compat_bpf__open_opts(core_btf_open_opts());
	int err;

	if (!skel)
		return -errno;
	err = compat_bpf__load(skel);
	compat_bpf__destroy(skel);
	return err;
}

int compat_attach(struct tracer *t)
{
	int err;

	if (t->compat_attached)
		return 0;
	if (t->compat_pending) {
		t->compat_pending = 0;
		err = compat_load(t);
		if (err) {
			t->skel->bss->ia32_exec_hold = 0;
			return err;
		}
	}
	if (!t->compat)
		return -ENOENT;
	err = compat_bpf__attach(t->compat);
	/* attached or not, holding 32-bit images at exec for it serves no more */
	t->skel->bss->ia32_exec_hold = 0;
	if (err) {
		compat_fail(t, "attaching", err);
		compat_bpf__destroy(t->compat);
		t->compat = NULL;
		return err;
	}
	t->compat_attached = 1;
	log_info(1, "attached the ia32 system call hook");
	return 0;
}

/* Whether the ELF file open at fd is a 32-bit program. */
static int fd_is_elf32(int fd)
{
	unsigned char ident[EI_NIDENT];

	if (fd < 0)
		return 0;
	if (pread(fd, ident, sizeof(ident), 0) != sizeof(ident)) {
		close(fd);
		return 0;
	}
	close(fd);
	return !memcmp(ident, ELFMAG, SELFMAG) && ident[EI_CLASS] == ELFCLASS32;
}

int process_is_ia32(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return fd_is_elf32(open(path, O_RDONLY | O_CLOEXEC));
}

int command_is_ia32(const char *file)
{
	const char *dirs = getenv("PATH");
	char path[4096];

	if (strchr(file, '/'))
		return fd_is_elf32(open(file, O_RDONLY | O_CLOEXEC));
	/* the search of execvp(3) */
	if (!dirs)
		dirs = "/bin:/usr/bin";
	while (*dirs) {
		size_t len = strcspn(dirs, ":");

		snprintf(path, sizeof(path), "%.*s/%s", (int)len, len ? dirs : ".", file);
		if (access(path, X_OK) == 0)
			return fd_is_elf32(open(path, O_RDONLY | O_CLOEXEC));
		dirs += len + (dirs[len] == ':');
	}
	return 0;
}

void compat_close(struct tracer *t)
{
	if (!t)
		return;
	compat_bpf__destroy(t->compat);
	t->compat = NULL;
	t->compat_attached = 0;
	t->compat_pending = 0;
}
