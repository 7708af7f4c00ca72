// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-renamed: three threads rename themselves "worker-0" to "worker-2" with
 * PR_SET_NAME, so that the process's threads have names other than its own.
 *
 * Usage: st-renamed [leader-first]
 *
 * Prints "pid N", then "tid N" for each worker. Without arguments the main
 * thread returns from main() once every worker has its name, and any thread
 * may be the last to exit. With leader-first, the main thread calls
 * pthread_exit(), and worker-0 exits the process with 3 once the leader is a
 * zombie, so a worker is the last thread to exit.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define WORKERS 3

static pthread_barrier_t named;
static int leader_first;

/* Returns the state letter of the main thread from /proc, or 0 when unreadable. */
static char leader_state(void)
{
	char buf[256], *paren;
	size_t n;
	FILE *f;

	snprintf(buf, sizeof(buf), "/proc/%d/task/%d/stat", getpid(), getpid());
	f = fopen(buf, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

static void *worker(void *arg)
{
	long index = (long)arg;
	char name[16];

	snprintf(name, sizeof(name), "worker-%ld", index);
	prctl(PR_SET_NAME, name);
	printf("tid %d\n", gettid());
	fflush(stdout);
	pthread_barrier_wait(&named);
	if (leader_first && index == 0) {
		while (leader_state() != 'Z')
			usleep(1000);
		exit(3);
	}
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t thread;
	long i;

	leader_first = argc > 1 && !strcmp(argv[1], "leader-first");
	printf("pid %d\n", getpid());
	fflush(stdout);
	pthread_barrier_init(&named, NULL, WORKERS + 1);
	for (i = 0; i < WORKERS; i++) {
		if (pthread_create(&thread, NULL, worker, (void *)i)) {
			fprintf(stderr, "st-renamed: pthread_create failed\n");
			return 1;
		}
	}
	pthread_barrier_wait(&named);
	if (leader_first)
		pthread_exit(NULL);
	return 0;
}
