// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-clone3: start a program directly in a cgroup v2 cgroup with clone3()
 * and CLONE_INTO_CGROUP, as container runtimes do, so the child never runs
 * in the parent's cgroup.
 *
 * Usage: st-clone3 CGROUP_DIR PROGRAM [ARG...]
 *
 * Prints "pid N", then waits for a line on stdin, so that a tracer can start
 * first. Then it starts the child, prints "child N", waits for it and exits
 * with its exit code (1 when clone3 fails).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct clone_args args;
	int cgroup_fd, status;
	char line[64];
	pid_t child;

	if (argc < 3) {
		fprintf(stderr, "usage: st-clone3 CGROUP_DIR PROGRAM [ARG...]\n");
		return 2;
	}
	cgroup_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0) {
		fprintf(stderr, "st-clone3: open '%s' failed: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (__u64)cgroup_fd;
	child = syscall(SYS_clone3, &args, sizeof(args));
	if (child < 0) {
		fprintf(stderr, "st-clone3: clone3 into '%s' failed: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (child == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "st-clone3: exec '%s' failed: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	printf("child %d\n", child);
	fflush(stdout);
	if (waitpid(child, &status, 0) != child)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
