// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-nondet: ask the kernel for randomness and time a given number of times,
 * for the non-deterministic-call trigger.
 *
 * Usage: st-nondet [-r N] [-c N] [-g N] [-t N] [-u N] [-R N] [-k ROUNDS] [-d MS] [-w]
 *   -r N   getrandom(2) calls
 *   -c N   clock_gettime(2) calls, made through syscall(2) so that the vDSO
 *          does not serve them without entering the kernel
 *   -g N   gettimeofday(2) calls, through syscall(2)
 *   -t N   time(2) calls, through syscall(2)
 *   -u N   opens of /dev/urandom
 *   -R N   opens of /dev/random
 *   -k R   repeat the whole set R times (default 1)
 *   -d MS  sleep MS milliseconds between rounds (default 0)
 *   -w     wait for a line on stdin before exiting
 *
 * Calls run in the order of the options above within each round. Prints
 * "pid N" first and "done" after the last call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct call_counts {
	int getrandom;
	int clock_gettime;
	int gettimeofday;
	int time;
	int urandom;
	int random;
};

static void open_device(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "st-nondet: open '%s' failed: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

static void run_round(const struct call_counts *c)
{
	struct timespec ts;
	struct timeval tv;
	char buf[16];
	int i;

	for (i = 0; i < c->getrandom; i++) {
		if (getrandom(buf, sizeof(buf), 0) < 0) {
			perror("st-nondet: getrandom");
			exit(1);
		}
	}
	for (i = 0; i < c->clock_gettime; i++)
		syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	for (i = 0; i < c->gettimeofday; i++)
		syscall(SYS_gettimeofday, &tv, NULL);
	for (i = 0; i < c->time; i++)
		syscall(SYS_time, NULL);
	for (i = 0; i < c->urandom; i++)
		open_device("/dev/urandom");
	for (i = 0; i < c->random; i++)
		open_device("/dev/random");
}

int main(int argc, char **argv)
{
	struct call_counts counts = { 0 };
	int rounds = 1, delay_ms = 0, wait_stdin = 0;
	int opt, i;

	while ((opt = getopt(argc, argv, "r:c:g:t:u:R:k:d:w")) != -1) {
		switch (opt) {
		case 'r':
			counts.getrandom = atoi(optarg);
			break;
		case 'c':
			counts.clock_gettime = atoi(optarg);
			break;
		case 'g':
			counts.gettimeofday = atoi(optarg);
			break;
		case 't':
			counts.time = atoi(optarg);
			break;
		case 'u':
			counts.urandom = atoi(optarg);
			break;
		case 'R':
			counts.random = atoi(optarg);
			break;
		case 'k':
			rounds = atoi(optarg);
			break;
		case 'd':
			delay_ms = atoi(optarg);
			break;
		case 'w':
			wait_stdin = 1;
			break;
		default:
			fprintf(stderr, "usage: st-nondet [-r N] [-c N] [-g N] [-t N] [-u N] [-R N] [-k ROUNDS] [-d MS] [-w]\n");
			return 2;
		}
	}

	printf("pid %d\n", getpid());
	fflush(stdout);
	for (i = 0; i < rounds; i++) {
		if (i > 0 && delay_ms > 0)
			usleep(delay_ms * 1000);
		run_round(&counts);
	}
	printf("done\n");
	fflush(stdout);

	if (wait_stdin) {
		char line[64];

		if (!fgets(line, sizeof(line), stdin)) {
			/* End of file is as good as a line. */
		}
	}
	return 0;
}
