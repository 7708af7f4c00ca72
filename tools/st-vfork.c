// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-vfork: a process whose only thread waits in vfork(2) for a while, in
 * an uninterruptible wait that a SIGSTOP cannot end.
 *
 * Usage: st-vfork MS
 *
 * Prints "pid N" and handles SIGALRM. Its vfork child prints "waiting",
 * sleeps MS milliseconds and exits, and the parent then prints "done" and
 * exits 0.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_alarm(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	struct timespec wait = { 0 };
	long ms;
	pid_t child;

	if (argc != 2 || (ms = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: st-vfork MS\n");
		return 2;
	}
	wait.tv_sec = ms / 1000;
	wait.tv_nsec = (ms % 1000) * 1000000L;
	signal(SIGALRM, on_alarm);
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	child = vfork();
	if (child == 0) {
		/* only async-signal-safe calls in the child of vfork() */
		static const char line[] = "waiting\n";

		if (write(STDOUT_FILENO, line, sizeof(line) - 1) < 0)
			_exit(1);
		nanosleep(&wait, NULL);
		_exit(0);
	}
	if (child < 0) {
		perror("vfork");
		return 1;
	}
	printf("done\n");
	return 0;
}
