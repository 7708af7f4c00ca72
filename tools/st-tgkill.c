// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-tgkill: send a signal to one thread of a process, which kill(1) cannot.
 *
 * Usage: st-tgkill PID TID SIG
 *        st-tgkill -q PID SIG   sigqueue(3) to the process (si_code SI_QUEUE)
 *   SIG is a number or a name such as SIGALRM or ALRM.
 *
 * Prints "pid N" (its own pid, the sender the tracer reports) before it
 * sends, and exits 0 when the call succeeded, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct {
	const char *name;
	int sig;
} signal_names[] = {
	{ "INT", SIGINT },   { "ALRM", SIGALRM }, { "TSTP", SIGTSTP },
	{ "STOP", SIGSTOP }, { "CONT", SIGCONT }, { "TERM", SIGTERM },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
};

static int parse_signal(const char *arg)
{
	char *end;
	long sig;
	size_t i;

	sig = strtol(arg, &end, 10);
	if (*arg != '\0' && *end == '\0')
		return sig > 0 && sig < NSIG ? (int)sig : -1;

	if (strncasecmp(arg, "SIG", 3) == 0)
		arg += 3;
	for (i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
		if (strcasecmp(arg, signal_names[i].name) == 0)
			return signal_names[i].sig;
	}
	return -1;
}

static int queue_signal(const char *pid_arg, const char *sig_arg)
{
	union sigval value = { .sival_int = 1 };
	long pid = strtol(pid_arg, NULL, 10);
	int sig = parse_signal(sig_arg);

	if (pid <= 0 || sig < 0) {
		fprintf(stderr, "st-tgkill: invalid PID or SIG in '%s %s'\n", pid_arg, sig_arg);
		return 2;
	}

	printf("pid %d\n", getpid());
	fflush(stdout);
	if (sigqueue((pid_t)pid, sig, value)) {
		fprintf(stderr, "st-tgkill: sigqueue(%ld, %d) failed: %s\n", pid, sig,
			strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long pid, tid;
	int sig;

	if (argc == 4 && strcmp(argv[1], "-q") == 0)
		return queue_signal(argv[2], argv[3]);
	if (argc != 4) {
		fprintf(stderr, "usage: st-tgkill PID TID SIG | st-tgkill -q PID SIG\n");
		return 2;
	}
	pid = strtol(argv[1], NULL, 10);
	tid = strtol(argv[2], NULL, 10);
	sig = parse_signal(argv[3]);
	if (pid <= 0 || tid <= 0 || sig < 0) {
		fprintf(stderr, "st-tgkill: invalid PID, TID or SIG in '%s %s %s'\n",
			argv[1], argv[2], argv[3]);
		return 2;
	}

	printf("pid %d\n", getpid());
	fflush(stdout);
	if (syscall(SYS_tgkill, pid, tid, sig)) {
		fprintf(stderr, "st-tgkill: tgkill(%ld, %ld, %d) failed: %s\n", pid, tid,
			sig, strerror(errno));
		return 1;
	}
	return 0;
}
