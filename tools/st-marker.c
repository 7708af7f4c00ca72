// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-marker: place the markers of include/snaptrig.h, to show the explicit
 * and transaction triggers of an application that marks its own points.
 *
 * Usage: st-marker [-n N] [-m M] [-p MS] [-d MS] [-g] [-w] [-l]
 *   -n N    SNAPTRIG_SNAPSHOT() N times (default 1)
 *   -m M    then SNAPTRIG_TRANSACTION() M times (default 0)
 *   -p MS   pause MS milliseconds after each marker (default 10)
 *   -d MS   wait MS milliseconds before the first marker (default 0)
 *   -g      then wait for one byte on standard input before the first marker
 *   -w      after the markers, wait until standard input ends
 *   -l      a second thread places the markers, and the main thread calls
 *           pthread_exit(), so the leader is a zombie while they run
 *
 * Prints "pid N", then "done" after the last marker.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "snaptrig.h"

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts))
		;
}

static long snapshots = 1, transactions = 0, pause_after = 10, delay = 0;
static int wait_stdin, wait_go;

static void *place_markers(void *arg)
{
	char buf[256];
	long i;

	pause_ms(delay);
	if (wait_go && read(STDIN_FILENO, buf, 1) != 1)
		return arg;
	for (i = 0; i < snapshots; i++) {
		SNAPTRIG_SNAPSHOT();
		pause_ms(pause_after);
	}
	for (i = 0; i < transactions; i++) {
		SNAPTRIG_TRANSACTION();
		pause_ms(pause_after);
	}
	printf("done\n");
	fflush(stdout);
	while (wait_stdin && read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return arg;
}

int main(int argc, char **argv)
{
	int leader_exits = 0, opt;
	pthread_t thread;

	while ((opt = getopt(argc, argv, "n:m:p:d:gwl")) != -1) {
		switch (opt) {
		case 'n':
			snapshots = atol(optarg);
			break;
		case 'm':
			transactions = atol(optarg);
			break;
		case 'p':
			pause_after = atol(optarg);
			break;
		case 'd':
			delay = atol(optarg);
			break;
		case 'g':
			wait_go = 1;
			break;
		case 'w':
			wait_stdin = 1;
			break;
		case 'l':
			leader_exits = 1;
			break;
		default:
			fprintf(stderr, "usage: st-marker [-n N] [-m M] [-p MS] [-d MS] [-g] [-w] [-l]\n");
			return 2;
		}
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	if (!leader_exits) {
		place_markers(NULL);
		return 0;
	}
	if (pthread_create(&thread, NULL, place_markers, NULL)) {
		fprintf(stderr, "st-marker: pthread_create failed\n");
		return 1;
	}
	/* the process exits with 0 when the second thread returns */
	pthread_exit(NULL);
}
