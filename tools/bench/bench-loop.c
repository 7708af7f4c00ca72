// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Tight loop of one system call, timed inside the process.
 * Usage: bench-loop getpid|pread|getrandom|getenv ITERATIONS [--wait-usr1]
 *   getpid     syscall(SYS_getpid), which no snaptrig program hooks
 *   pread      pread(2) of 64 bytes from /dev/zero: hooked, never stdin
 *   getrandom  getrandom(2) of 8 bytes: a non-deterministic call
 *   getenv     getenv(3) of PATH: no system call, but first-environ's
 *              uprobe on libc's getenv traps in every process
 * ITERATIONS is rounded down to a multiple of 10, and a tenth of it runs
 * first, untimed, as a warm-up (see bench_run()). With --wait-usr1
 * the process waits for SIGUSR1 before the loop and again before exiting, so
 * the driver can attach first and read the agent's counters at the end.
 */
#include <fcntl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bench.h"

enum loop_op { OP_GETPID, OP_PREAD, OP_GETRANDOM, OP_GETENV };

static int parse_op(const char *name)
{
	if (!strcmp(name, "getpid"))
		return OP_GETPID;
	if (!strcmp(name, "pread"))
		return OP_PREAD;
	if (!strcmp(name, "getrandom"))
		return OP_GETRANDOM;
	if (!strcmp(name, "getenv"))
		return OP_GETENV;
	fprintf(stderr, "invalid operation '%s': use getpid, pread, getrandom or getenv\n", name);
	exit(2);
}

static int loop_op;
static int loop_fd = -1;
static const char *volatile loop_value;	/* keeps the getenv calls */

static void run_loop(long iterations)
{
	char buf[64];
	long i;

	for (i = 0; i < iterations; i++) {
		switch (loop_op) {
		case OP_GETPID:
			syscall(SYS_getpid);
			break;
		case OP_PREAD:
			if (pread(loop_fd, buf, sizeof(buf), 0) != sizeof(buf))
				exit(1);
			break;
		case OP_GETRANDOM:
			if (getrandom(buf, 8, 0) != 8)
				exit(1);
			break;
		case OP_GETENV:
			loop_value = getenv("PATH");
			break;
		}
	}
}

int main(int argc, char **argv)
{
	long iterations;
	int wait = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr,
			"usage: %s getpid|pread|getrandom|getenv ITERATIONS [--wait-usr1]\n",
			argv[0]);
		return 2;
	}
	loop_op = parse_op(argv[1]);
	iterations = parse_count(argv[2], "ITERATIONS");
	if (argc == 4) {
		if (strcmp(argv[3], "--wait-usr1")) {
			fprintf(stderr, "invalid option '%s': only --wait-usr1 is known\n",
				argv[3]);
			return 2;
		}
		wait = 1;
		block_usr1();
	}
	if (loop_op == OP_PREAD) {
		loop_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
		if (loop_fd < 0) {
			perror("open /dev/zero");
			return 1;
		}
	}

	if (wait)
		wait_usr1();
	bench_run(argv[1], iterations, run_loop);
	if (wait)
		wait_usr1();
	return 0;
}
