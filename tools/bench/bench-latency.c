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
 *   exec            a child forked right before the sample execs this program
 *                   as "bench-latency listen", which listens once on a
 *                   loopback port and exits: an exec, a bootstrap, a
 *                   first-listen and an exit line per sample
 * OUTFILE gets one line per sample: "PID BOOT_NS".
 *
 * Two more modes are for other programs to run. "bench-latency listen"
 * listens once on 127.0.0.1, port 0, and exits. "bench-latency stamp FILE"
 * is an --exec checkpointer: it takes CLOCK_BOOTTIME first, then appends
 * "BOOT_NS STARTED_NS" to FILE, where BOOT_NS is the trigger line's boot_ns
 * from SNAPTRIG_EVENT.
 */
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
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

/* Returns CLOCK_BOOTTIME before the fork of a child that execs "bench-latency listen". */
static uint64_t sample_exec(const char *self, pid_t *pid)
{
	uint64_t before = clock_ns(CLOCK_BOOTTIME);

	*pid = fork();
	if (*pid < 0) {
		perror("fork");
		exit(1);
	}
	if (*pid == 0) {
		execl(self, self, "listen", (char *)NULL);
		_exit(127);
	}
	reap(*pid);
	return before;
}

static int listen_once(void)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 1)) {
		perror("listen on 127.0.0.1");
		return 1;
	}
	return 0;
}

/* Appends the trigger's boot_ns and the time this checkpointer started to path. */
static int stamp(const char *path)
{
	uint64_t started = clock_ns(CLOCK_BOOTTIME);
	const char *event = getenv("SNAPTRIG_EVENT");
	const char *field = event ? strstr(event, "\"boot_ns\":") : NULL;
	char line[64];
	int fd, n;

	if (!field) {
		fprintf(stderr, "stamp: SNAPTRIG_EVENT has no boot_ns\n");
		return 1;
	}
	n = snprintf(line, sizeof(line), "%llu %llu\n",
		     strtoull(field + strlen("\"boot_ns\":"), NULL, 10),
		     (unsigned long long)started);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		fprintf(stderr, "stamp: writing '%s' failed: %s\n", path, strerror(errno));
		return 1;
	}
	return close(fd) ? 1 : 0;
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
	char self[PATH_MAX];
	ssize_t self_len;
	FILE *out;

	if (argc == 2 && !strcmp(argv[1], "listen"))
		return listen_once();
	if (argc == 3 && !strcmp(argv[1], "stamp"))
		return stamp(argv[2]);
	mode = argc == 5 ? argv[1] : "";
	if (strcmp(mode, "getrandom-pool") && strcmp(mode, "getrandom-fork") &&
	    strcmp(mode, "sigalrm") && strcmp(mode, "exec")) {
		fprintf(stderr,
			"usage: %s getrandom-pool|getrandom-fork|sigalrm|exec COUNT INTERVAL_US OUTFILE\n",
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
	/* the exec mode's children run this file by its name, so their comm is its name */
	self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (self_len < 0) {
		perror("readlink /proc/self/exe");
		return 1;
	}
	self[self_len] = '\0';

	if (!strcmp(mode, "getrandom-pool")) {
		sample_pool(count, interval, before, pids);
	} else {
		for (i = 0; i < count; i++) {
			if (!strcmp(mode, "getrandom-fork"))
				before[i] = sample_getrandom_fork(&pids[i]);
			else if (!strcmp(mode, "exec"))
				before[i] = sample_exec(self, &pids[i]);
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
