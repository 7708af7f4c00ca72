// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-leader-exit: the main thread calls pthread_exit() while a second thread
 * runs on, so the process's leader is a zombie with a live thread.
 *
 * Usage: st-leader-exit
 *
 * Prints "pid N" and "tid N" (the second thread); the second thread waits
 * for a line on stdin, calls getrandom(2), and exits the process with 7.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

static void *second(void *arg)
{
	char line[64], buf[8];

	printf("tid %d\n", gettid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		exit(1);
	if (getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		exit(1);
	exit(7);
	return arg;
}

int main(void)
{
	pthread_t thread;

	printf("pid %d\n", getpid());
	fflush(stdout);
	if (pthread_create(&thread, NULL, second, NULL)) {
		fprintf(stderr, "st-leader-exit: pthread_create failed\n");
		return 1;
	}
	pthread_exit(NULL);
}
