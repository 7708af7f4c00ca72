/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Helpers shared by the benchmark workloads: clocks, a result line and the
 * SIGUSR1 handshake the driver uses to start a workload after it attached.
 */
#ifndef SNAPTRIG_BENCH_H
#define SNAPTRIG_BENCH_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline long parse_count(const char *text, const char *what)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || value <= 0) {
		fprintf(stderr, "invalid %s '%s': expected a positive integer\n", what, text);
		exit(2);
	}
	return value;
}

/* Blocks SIGUSR1 so that wait_usr1() can take it synchronously. */
static inline void block_usr1(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static inline void wait_usr1(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigwait(&set, &sig);
}

#define BENCH_BATCHES 10

/*
 * Times ITERATIONS calls of run(), split into BENCH_BATCHES batches, after an
 * untimed warm-up of a tenth of them. ns_per_op is the fastest batch: load
 * from other processes on a shared machine only adds time, so the fastest
 * batch is the least disturbed one. The median batch, the mean and the
 * CLOCK_BOOTTIME bounds are printed too.
 */
static inline void bench_run(const char *op, long iterations, void (*run)(long rounds))
{
	uint64_t start_mono, end_mono, start_boot, end_boot, t, prev;
	double batch[BENCH_BATCHES], tmp;
	long per_batch = iterations / BENCH_BATCHES;
	int i, j;

	if (per_batch < 1)
		per_batch = 1;
	iterations = per_batch * BENCH_BATCHES;
	run(iterations / 10 ? iterations / 10 : 1);
	start_boot = clock_ns(CLOCK_BOOTTIME);
	start_mono = prev = clock_ns(CLOCK_MONOTONIC);
	for (i = 0; i < BENCH_BATCHES; i++) {
		run(per_batch);
		t = clock_ns(CLOCK_MONOTONIC);
		batch[i] = (double)(t - prev) / per_batch;
		prev = t;
	}
	end_mono = prev;
	end_boot = clock_ns(CLOCK_BOOTTIME);
	for (i = 1; i < BENCH_BATCHES; i++)
		for (j = i; j > 0 && batch[j - 1] > batch[j]; j--) {
			tmp = batch[j];
			batch[j] = batch[j - 1];
			batch[j - 1] = tmp;
		}

	printf("{\"op\":\"%s\",\"iterations\":%ld,\"elapsed_ns\":%llu,"
	       "\"ns_per_op\":%.3f,\"median_batch_ns\":%.3f,\"mean_ns_per_op\":%.3f,"
	       "\"max_batch_ns\":%.3f,\"start_boot_ns\":%llu,\"end_boot_ns\":%llu}\n",
	       op, iterations, (unsigned long long)(end_mono - start_mono), batch[0],
	       (batch[BENCH_BATCHES / 2 - 1] + batch[BENCH_BATCHES / 2]) / 2,
	       (double)(end_mono - start_mono) / iterations, batch[BENCH_BATCHES - 1],
	       (unsigned long long)start_boot, (unsigned long long)end_boot);
	fflush(stdout);
}

#endif /* SNAPTRIG_BENCH_H */
