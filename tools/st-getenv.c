// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-getenv: read the environment in the ways first-environ detects, and time
 * getenv(3) for the cost that uprobes add.
 *
 * Usage: st-getenv [-n N] [-v NAME] [-N COMM] [-s] [-p|-P] [-c] [-d MS] [-f N [-x]] [-t] [-w]
 *                  [PROGRAM ARG...]
 *   -n N     call getenv(NAME) N times (default 1; 0: none)
 *   -v NAME  the variable to ask for (default HOME)
 *   -N COMM  first set the thread's comm to COMM with prctl(PR_SET_NAME), "" included
 *   -s       call secure_getenv(3) instead of getenv(3)
 *   -p       open and read /proc/self/environ instead of calling getenv
 *   -P       open and read /proc/PID/environ, with this process's pid
 *   -c       call st_read_config(), which reads environ itself, instead
 *   -d MS    wait MS milliseconds before reading the environment
 *   -f N     then fork N children one after another; each does the same
 *   -x       each child execs PROGRAM ARG... instead
 *   -t       print "ns_per_call X", the mean time of one getenv call
 *   -w       before exiting, wait until standard input ends
 *
 * Prints "pid N", "child N" for each child after it exited, then "done".
 * Exits 0 when everything worked and every child exited 0.
 *
 * Options are parsed by hand: getopt(3) calls getenv("POSIXLY_CORRECT"),
 * which would be the first read of the environment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct plan {
	long calls;
	const char *name;
	const char *comm;	/* NULL: keep the comm */
	int secure;
	int proc_file;		/* 0: getenv; 1: /proc/self/environ; 2: /proc/PID/environ */
	int own_reader;		/* st_read_config() instead of getenv */
	int timed;
	long children;
	long delay_ms;
	int exec_program;
	int wait_stdin;
};

extern char **environ;

/*
 * A reader of the environment that calls no libc function, like programs
 * with their own; tests probe it with --environ-probe BINARY:st_read_config.
 */
__attribute__((noinline, used)) size_t st_read_config(void)
{
	size_t total = 0, i;

	for (i = 0; environ[i]; i++)
		total += strlen(environ[i]);
	return total;
}

static int read_proc_environ(int by_pid)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	if (by_pid)
		snprintf(path, sizeof(path), "/proc/%d/environ", getpid());
	else
		snprintf(path, sizeof(path), "/proc/self/environ");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return n < 0 ? -1 : 0;
}

static __int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int read_environment(const struct plan *p)
{
	volatile const char *value;
	__int64_t start;
	long i;

	if (p->proc_file)
		return read_proc_environ(p->proc_file == 2);
	if (p->own_reader) {
		printf("environ_bytes %zu\n", st_read_config());
		return 0;
	}
	start = now_ns();
	for (i = 0; i < p->calls; i++)
		value = p->secure ? secure_getenv(p->name) : getenv(p->name);
	(void)value;
	if (p->timed && p->calls)
		printf("ns_per_call %.1f\n", (double)(now_ns() - start) / p->calls);
	return 0;
}

static int run_children(const struct plan *p, long children, char **program)
{
	int failed = 0, status;
	long i;

	for (i = 0; i < children; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return -1;
		if (pid == 0) {
			if (program && program[0]) {
				execvp(program[0], program);
				_exit(127);
			}
			_exit(read_environment(p) ? 1 : 0);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
		printf("child %d\n", pid);
		fflush(stdout);
	}
	return failed ? -1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: st-getenv [-n N] [-v NAME] [-N COMM] [-s] [-p|-P] [-c] [-d MS] [-f N [-x]] [-t] [-w] [PROGRAM ARG...]\n");
	return 2;
}

/* Sets one option; value is the next argument for options that take one. */
static void set_option(struct plan *p, char opt, const char *value)
{
	switch (opt) {
	case 'n':
		p->calls = atol(value);
		break;
	case 'v':
		p->name = value;
		break;
	case 'N':
		p->comm = value;
		break;
	case 'f':
		p->children = atol(value);
		break;
	case 'd':
		p->delay_ms = atol(value);
		break;
	case 's':
		p->secure = 1;
		break;
	case 'p':
		p->proc_file = 1;
		break;
	case 'P':
		p->proc_file = 2;
		break;
	case 'c':
		p->own_reader = 1;
		break;
	case 'x':
		p->exec_program = 1;
		break;
	case 't':
		p->timed = 1;
		break;
	case 'w':
		p->wait_stdin = 1;
		break;
	}
}

/* Parses the options; returns the index of PROGRAM, or -1 for a usage error. */
static int parse_args(int argc, char **argv, struct plan *p)
{
	int argi;

	for (argi = 1; argi < argc && argv[argi][0] == '-'; argi++) {
		const char *opt = argv[argi];
		const char *value = NULL;

		if (!opt[1] || opt[2])
			return -1;
		if (strchr("nvNfd", opt[1])) {
			if (argi + 1 == argc)
				return -1;
			value = argv[++argi];
		} else if (!strchr("spPcxtw", opt[1])) {
			return -1;
		}
		set_option(p, opt[1], value);
	}
	return argi;
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts))
		;
}

int main(int argc, char **argv)
{
	struct plan p = { .calls = 1, .name = "HOME" };
	int failed = 0, program;
	char buf[256];

	program = parse_args(argc, argv, &p);
	if (program < 0)
		return usage();
	if (p.comm && prctl(PR_SET_NAME, p.comm, 0, 0, 0)) {
		fprintf(stderr, "st-getenv: setting the comm failed: %s\n", strerror(errno));
		return 1;
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	pause_ms(p.delay_ms);
	if (read_environment(&p)) {
		fprintf(stderr, "st-getenv: reading the environment failed: %s\n", strerror(errno));
		failed = 1;
	}
	fflush(stdout);
	if (run_children(&p, p.children, p.exec_program ? argv + program : NULL))
		failed = 1;
	printf("done\n");
	fflush(stdout);
	while (p.wait_stdin && read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return failed;
}
