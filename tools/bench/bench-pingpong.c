// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Pipe ping-pong between a parent and its child: each round trip is two
 * one-byte writes and two blocking reads, so two context switches.
 * Usage: bench-pingpong ITERATIONS same|split
 *   same   both processes pinned on CPU 0 (as taskset -c 0 would)
 *   split  parent on CPU 0, child on CPU 1
 * Prints nanoseconds per round trip.
 */
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("sched_setaffinity");
		exit(1);
	}
}

static int parent_in = -1, parent_out = -1;

static void bounce(int in, int out, long rounds, int first)
{
	char byte = 0;
	long i;

	for (i = 0; i < rounds; i++) {
		if (first && write(out, &byte, 1) != 1)
			exit(1);
		if (read(in, &byte, 1) != 1)
			exit(1);
		if (!first && write(out, &byte, 1) != 1)
			exit(1);
	}
}

static void bounce_parent(long rounds)
{
	bounce(parent_in, parent_out, rounds, 1);
}

int main(int argc, char **argv)
{
	int to_child[2], to_parent[2], split, status;
	long iterations, warmup;
	pid_t child;

	if (argc != 3 || (strcmp(argv[2], "same") && strcmp(argv[2], "split"))) {
		fprintf(stderr, "usage: %s ITERATIONS same|split\n", argv[0]);
		return 2;
	}
	/* the child bounces what bench_run() times plus its warm-up */
	iterations = parse_count(argv[1], "ITERATIONS") / BENCH_BATCHES * BENCH_BATCHES;
	if (iterations < BENCH_BATCHES)
		iterations = BENCH_BATCHES;
	warmup = iterations / 10;
	split = !strcmp(argv[2], "split");
	if (pipe(to_child) || pipe(to_parent)) {
		perror("pipe");
		return 1;
	}

	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		pin(split ? 1 : 0);
		bounce(to_child[0], to_parent[1], warmup + iterations, 0);
		_exit(0);
	}
	pin(0);
	parent_in = to_parent[0];
	parent_out = to_child[1];
	bench_run(split ? "pingpong-split" : "pingpong-same", iterations, bounce_parent);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "ping-pong child failed\n");
		return 1;
	}
	return 0;
}
