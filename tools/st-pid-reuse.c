// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-pid-reuse: run two processes with the same pid, one after the other,
 * so tests can check that the second is traced as a new process.
 *
 * Usage: st-pid-reuse
 *
 * Forks a child that listens on 127.0.0.1 and exits, reaps it, then starts
 * a second child with the first one's pid through clone3()'s set_tid, which
 * listens and exits too. Prints "first N" and "second N" with each child's
 * pid, and exits 0, or 1 when a call fails (clone3 needs CAP_SYS_ADMIN).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void listen_and_exit(void)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4))
		_exit(1);
	_exit(0);
}

/* Waits for child and returns 0 when it listened and exited with 0. */
static int reap(pid_t child, const char *ordinal)
{
	int status;

	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "st-pid-reuse: the %s child failed\n", ordinal);
		return 1;
	}
	return 0;
}

int main(void)
{
	struct clone_args args;
	pid_t first, second, tid;

	first = fork();
	if (first < 0) {
		fprintf(stderr, "st-pid-reuse: fork failed: %s\n", strerror(errno));
		return 1;
	}
	if (first == 0)
		listen_and_exit();
	printf("first %d\n", first);
	fflush(stdout);
	if (reap(first, "first"))
		return 1;

	tid = first;
	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	args.set_tid = (unsigned long)&tid;
	args.set_tid_size = 1;
	second = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (second < 0) {
		fprintf(stderr, "st-pid-reuse: clone3 with set_tid %d failed: %s\n", first,
			strerror(errno));
		return 1;
	}
	if (second == 0)
		listen_and_exit();
	printf("second %d\n", second);
	fflush(stdout);
	return reap(second, "second");
}
