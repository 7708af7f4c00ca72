// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-flood: flood getrandom(2) from several threads while the main thread
 * listens and reads stdin, to overflow the ring buffer and check that
 * once-triggers and call counts survive it.
 *
 * Usage: st-flood [-t THREADS] [-n CALLS] [-c CHILDREN] [-A] [-S] [-L] [-I]
 *   -t THREADS   threads that call getrandom (default 4); 0 makes the main
 *                thread make the calls itself, before it listens
 *   -n CALLS     getrandom calls per thread (default 10000)
 *   -c CHILDREN  fork this many children at once, each doing the same as a
 *                process without -c; the parent only forks and waits
 *   -A           make each call a tgkill(2) of SIGALRM to the calling
 *                thread, which an empty handler takes, instead of getrandom
 *   -S           skip the read of stdin
 *   -L           skip the listen(2)
 *   -I           wait for stdin to close before exiting (a child waits for
 *                nothing)
 *
 * The main thread listens on 127.0.0.1 (ephemeral port) and reads stdin
 * once while the threads are calling: it starts once every thread has made
 * 100 calls. Every getrandom is a raw syscall(SYS_getrandom), so the count
 * printed is exact.
 *
 * Prints "pid N" first, then "calls pid=N getrandom=COUNT" (sigalrm=COUNT
 * with -A) for each process
 * that made calls (children print theirs before they exit), then "done" from
 * the parent. Children exit with _exit, so they flush nothing else. Exits 0
 * when every call and every child succeeded, 1 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Calls a thread makes before the main thread listens and reads. */
#define WARMUP_CALLS 100

struct flood_options {
	long threads;
	long calls;
	long children;
	int skip_stdin;
	int skip_listen;
	int wait_stdin;
};

static atomic_long warmed_up;
static atomic_long calls_made;
static atomic_int call_failed;
static int signal_calls;

static void on_alarm(int sig)
{
	(void)sig;
}

static int make_call(void)
{
	char byte;
	int ok;

	if (signal_calls)
		ok = syscall(SYS_tgkill, getpid(), gettid(), SIGALRM) == 0;
	else
		ok = syscall(SYS_getrandom, &byte, 1, GRND_NONBLOCK) == 1;
	if (!ok) {
		atomic_store(&call_failed, 1);
		return -1;
	}
	atomic_fetch_add(&calls_made, 1);
	return 0;
}

static void *flood_thread(void *arg)
{
	long calls = *(long *)arg, i;

	for (i = 0; i < calls; i++) {
		make_call();
		if (i + 1 == WARMUP_CALLS || (i + 1 == calls && calls < WARMUP_CALLS))
			atomic_fetch_add(&warmed_up, 1);
	}
	return NULL;
}

static int listen_loopback(void)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 4)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Runs the flood in the calling process; returns 0 or -1. */
static int flood(const struct flood_options *o)
{
	pthread_t tids[64];
	long i, calls = o->calls;
	char byte;
	int err = 0, fd = -1;

	if (o->threads == 0) {
		for (i = 0; i < calls; i++)
			make_call();
	}
	for (i = 0; i < o->threads; i++) {
		if (pthread_create(&tids[i], NULL, flood_thread, &calls))
			return -1;
	}
	while (atomic_load(&warmed_up) < o->threads)
		sched_yield();

	if (!o->skip_listen) {
		fd = listen_loopback();
		if (fd < 0)
			err = -1;
	}
	if (!o->skip_stdin && read(0, &byte, 1) < 0)
		err = -1;

	for (i = 0; i < o->threads; i++)
		pthread_join(tids[i], NULL);
	if (fd >= 0)
		close(fd);
	if (atomic_load(&call_failed))
		err = -1;
	return err;
}

static void print_calls(void)
{
	char line[80];
	int len;

	len = snprintf(line, sizeof(line), "calls pid=%d %s=%ld\n", getpid(),
		       signal_calls ? "sigalrm" : "getrandom", atomic_load(&calls_made));
	/* one write(2), so lines of concurrent children never interleave */
	if (write(1, line, len) != len)
		atomic_store(&call_failed, 1);
}

static int run_children(const struct flood_options *o)
{
	long i, started = 0;
	int status, err = 0;
	pid_t pid;

	for (i = 0; i < o->children; i++) {
		pid = fork();
		if (pid < 0) {
			err = -1;
			break;
		}
		if (pid == 0) {
			int rc = flood(o);

			print_calls();
			_exit(rc || atomic_load(&call_failed) ? 1 : 0);
		}
		started++;
	}
	for (i = 0; i < started; i++) {
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			err = -1;
	}
	return err;
}

static long parse_count(const char *text, long max)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || end == text || value < 0 || value > max) {
		fprintf(stderr, "st-flood: invalid count '%s' (0 to %ld)\n", text, max);
		exit(2);
	}
	return value;
}

int main(int argc, char **argv)
{
	struct flood_options o = { .threads = 4, .calls = 10000 };
	char byte;
	int opt, err;

	while ((opt = getopt(argc, argv, "t:n:c:ASLI")) != -1) {
		switch (opt) {
		case 't': o.threads = parse_count(optarg, 64); break;
		case 'n': o.calls = parse_count(optarg, 100000000); break;
		case 'c': o.children = parse_count(optarg, 10000); break;
		case 'A': signal_calls = 1; break;
		case 'S': o.skip_stdin = 1; break;
		case 'L': o.skip_listen = 1; break;
		case 'I': o.wait_stdin = 1; break;
		default:
			fprintf(stderr, "usage: st-flood [-t THREADS] [-n CALLS] [-c CHILDREN] [-A] [-S] [-L] [-I]\n");
			return 2;
		}
	}
	if (signal_calls) {
		struct sigaction sa = { .sa_handler = on_alarm };

		sigaction(SIGALRM, &sa, NULL);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid %d\n", getpid());

	if (o.children) {
		err = run_children(&o);
	} else {
		err = flood(&o);
		print_calls();
	}
	if (o.wait_stdin) {
		while (read(0, &byte, 1) > 0)
			;
	}
	printf("done\n");
	return err || atomic_load(&call_failed) ? 1 : 0;
}
