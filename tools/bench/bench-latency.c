// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Triggers at a slow, steady rate and records CLOCK_BOOTTIME right before
 * each one, so the driver can compare with the line's boot_ns and with the
 * time the line reached it.
 * Usage: bench-latency MODE COUNT INTERVAL_US OUTFILE
 *   getrandom-pool  children forked in groups of POOL_SIZE wait, then call
 *                   getrandom(2) once each, one at a time, and exit. Each call
 *                   is the first of its process's cooldown window, so it gets
 *                   a line at once. The agent drained the fork records before.
 *   getrandom-fork  a child forked right before the sample calls getrandom(2)
 *                   once and exits: the same call right after a fork
 *   sigalrm         the process sends itself SIGALRM (handled, not ignored)
 * OUTFILE gets one line per sample: "PID BOOT_NS".
 */
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

#define POOL_SIZE 50
#define POOL_SETTLE_US 100000	/* time for the agent to drain the fork records */

struct pool_child {
	pid_t pid;
	int go_fd;		/* write end: one byte starts the child's sample */
	int result_fd;		/* read end: the child's CLOCK_BOOTTIME before the call */
};

static void on_alarm(int sig)
{
	(void)sig;
}

static void pause_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static void call_getrandom_and_exit(int result_fd)
{
	uint64_t before = clock_ns(CLOCK_BOOTTIME);
	char buf[8];

	if (getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		_exit(1);
	_exit(write(result_fd, &before, sizeof(before)) == sizeof(before) ? 0 : 1);
}

static void reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "getrandom sample child %d failed\n", (int)pid);
		exit(1);
	}
}

static void pool_fork(struct pool_child *child)
{
	int go[2], result[2];
	char byte;

	if (pipe(go) || pipe(result)) {
		perror("pipe");
		exit(1);
	}
	child->pid = fork();
	if (child->pid < 0) {
		perror("fork");
		exit(1);
	}
	if (child->pid == 0) {
		close(go[1]);
		close(result[0]);
		if (read(go[0], &byte, 1) != 1)
			_exit(1);
		call_getrandom_and_exit(result[1]);
	}
	close(go[0]);
	close(result[1]);
	child->go_fd = go[1];
	child->result_fd = result[0];
}

/* Takes count samples from pools of waiting children, interval_us apart. */
static void sample_pool(long count, long interval_us, uint64_t *before, pid_t *pids)
{
	struct pool_child pool[POOL_SIZE];
	long done = 0, k, j;

	while (done < count) {
		k = count - done < POOL_SIZE ? count - done : POOL_SIZE;
		for (j = 0; j < k; j++)
			pool_fork(&pool[j]);
		pause_us(POOL_SETTLE_US);
		for (j = 0; j < k; j++) {
			if (write(pool[j].go_fd, "x", 1) != 1 ||
			    read(pool[j].result_fd, &before[done], sizeof(before[done])) !=
			    sizeof(before[done])) {
				fprintf(stderr, "getrandom pool child %d failed\n", (int)pool[j].pid);
				exit(1);
			}
			reap(pool[j].pid);
			close(pool[j].go_fd);
			close(pool[j].result_fd);
			pids[done++] = pool[j].pid;
			pause_us(interval_us);
		}
	}
}

/* Returns the child's CLOCK_BOOTTIME before its getrandom call. */
static uint64_t sample_getrandom_fork(pid_t *pid)
{
	uint64_t before = 0;
	int fds[2];

	if (pipe(fds)) {
		perror("pipe");
		exit(1);
	}
	*pid = fork();
	if (*pid < 0) {
		perror("fork");
		exit(1);
	}
	if (*pid == 0)
		call_getrandom_and_exit(fds[1]);
	close(fds[1]);
	if (read(fds[0], &before, sizeof(before)) != sizeof(before)) {
		fprintf(stderr, "getrandom sample child %d failed\n", (int)*pid);
		exit(1);
	}
	reap(*pid);
	close(fds[0]);
	return before;
}

static uint64_t sample_sigalrm(pid_t *pid)
{
	uint64_t before;

	*pid = getpid();
	before = clock_ns(CLOCK_BOOTTIME);
	kill(*pid, SIGALRM);
	return before;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	uint64_t *before;
	long count, interval, i;
	pid_t *pids;
	const char *mode;
	FILE *out;

	mode = argc == 5 ? argv[1] : "";
	if (strcmp(mode, "getrandom-pool") && strcmp(mode, "getrandom-fork") &&
	    strcmp(mode, "sigalrm")) {
		fprintf(stderr, "usage: %s getrandom-pool|getrandom-fork|sigalrm COUNT INTERVAL_US OUTFILE\n",
			argv[0]);
		return 2;
	}
	count = parse_count(argv[2], "COUNT");
	interval = parse_count(argv[3], "INTERVAL_US");
	before = calloc(count, sizeof(*before));
	pids = calloc(count, sizeof(*pids));
	if (!before || !pids) {
		perror("calloc");
		return 1;
	}
	sigaction(SIGALRM, &sa, NULL);

	if (!strcmp(mode, "getrandom-pool")) {
		sample_pool(count, interval, before, pids);
	} else {
		for (i = 0; i < count; i++) {
			if (!strcmp(mode, "getrandom-fork"))
				before[i] = sample_getrandom_fork(&pids[i]);
			else
				before[i] = sample_sigalrm(&pids[i]);
			pause_us(interval);
		}
	}

	out = fopen(argv[4], "w");
	if (!out) {
		fprintf(stderr, "opening '%s' failed: %s\n", argv[4], strerror(errno));
		return 1;
	}
	for (i = 0; i < count; i++)
		fprintf(out, "%d %llu\n", (int)pids[i], (unsigned long long)before[i]);
	return fclose(out) ? 1 : 0;
}
