// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-signals: a process of three threads that handles the signals behind the
 * sigint, sigalrm and sigtstp triggers and reports each one it receives.
 *
 * Usage: st-signals [-n COUNT] [-b] [-I SIG] [-A MS]
 *   -n COUNT  exit 0 after COUNT handled signals (default: run until SIGTERM)
 *   -A MS     arm a one-shot ITIMER_REAL of MS milliseconds after "ready", so
 *             the kernel sends SIGALRM (si_code SI_KERNEL, no sending process)
 *   -b        block SIGALRM in every thread until SIGUSR1 arrives, so a
 *             second SIGALRM finds the first one still pending
 *   -I SIG    set SIG (a number) to SIG_IGN
 *
 * Prints "pid N", then "tid N" for the main thread and each of the two
 * others, then "ready". Prints "got signal=NAME tid=N count=C" for each signal
 * a handler ran for, naming the thread it ran on. SIGTERM makes it exit 0.
 * SIGTSTP is handled, so it never stops the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

/* Note from a handler to the main thread, small enough for one atomic pipe write. */
struct signal_note {
	int sig;
	int tid;
};

static int note_pipe[2];
static sem_t thread_started;

static void on_signal(int sig)
{
	struct signal_note note = { .sig = sig, .tid = (int)syscall(SYS_gettid) };
	int saved_errno = errno;

	if (write(note_pipe[1], &note, sizeof(note)) < 0) {
		/* Nothing can be reported from a handler; the count stays short. */
	}
	errno = saved_errno;
}

static void *idle_thread(void *arg)
{
	(void)arg;
	printf("tid %ld\n", syscall(SYS_gettid));
	fflush(stdout);
	sem_post(&thread_started);
	for (;;)
		pause();
	return NULL;
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGALRM:
		return "SIGALRM";
	case SIGTSTP:
		return "SIGTSTP";
	case SIGTERM:
		return "SIGTERM";
	case SIGUSR1:
		return "SIGUSR1";
	default:
		return "other";
	}
}

static void install_handlers(void)
{
	static const int handled[] = { SIGINT, SIGALRM, SIGTSTP, SIGTERM, SIGUSR1 };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	size_t i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaction(handled[i], &sa, NULL);
}

static void start_threads(void)
{
	pthread_t thread;
	int i, err;

	for (i = 0; i < 2; i++) {
		err = pthread_create(&thread, NULL, idle_thread, NULL);
		if (err) {
			fprintf(stderr, "st-signals: pthread_create failed: %s\n", strerror(err));
			exit(1);
		}
		/* Keep the tid lines in a fixed order: main, then one per thread. */
		while (sem_wait(&thread_started) && errno == EINTR)
			;
	}
}

int main(int argc, char **argv)
{
	int limit = -1, block_alarm = 0, ignored = 0, timer_ms = 0, count = 0, opt;
	struct signal_note note;
	sigset_t alarm_set;

	while ((opt = getopt(argc, argv, "n:bI:A:")) != -1) {
		switch (opt) {
		case 'n':
			limit = atoi(optarg);
			break;
		case 'b':
			block_alarm = 1;
			break;
		case 'I':
			ignored = atoi(optarg);
			break;
		case 'A':
			timer_ms = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: st-signals [-n COUNT] [-b] [-I SIG] [-A MS]\n");
			return 2;
		}
	}

	if (pipe(note_pipe) || sem_init(&thread_started, 0, 0)) {
		perror("st-signals: pipe or sem_init");
		return 1;
	}
	install_handlers();
	if (ignored)
		signal(ignored, SIG_IGN);

	/* Threads inherit the mask, so blocking here blocks SIGALRM everywhere. */
	sigemptyset(&alarm_set);
	sigaddset(&alarm_set, SIGALRM);
	if (block_alarm)
		pthread_sigmask(SIG_BLOCK, &alarm_set, NULL);

	printf("pid %d\n", getpid());
	printf("tid %ld\n", syscall(SYS_gettid));
	fflush(stdout);
	start_threads();
	printf("ready\n");
	fflush(stdout);
	if (timer_ms > 0) {
		struct itimerval timer = {
			.it_value.tv_sec = timer_ms / 1000,
			.it_value.tv_usec = (timer_ms % 1000) * 1000,
		};

		setitimer(ITIMER_REAL, &timer, NULL);
	}

	while (limit < 0 || count < limit) {
		ssize_t n = read(note_pipe[0], &note, sizeof(note));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(note))
			return 1;
		if (note.sig == SIGTERM)
			break;
		if (note.sig == SIGUSR1) {
			/* Only the main thread unblocks, so it takes the pending SIGALRM. */
			pthread_sigmask(SIG_UNBLOCK, &alarm_set, NULL);
			printf("unblocked SIGALRM\n");
			fflush(stdout);
			continue;
		}
		count++;
		printf("got signal=%s tid=%d count=%d\n", signal_name(note.sig), note.tid, count);
		fflush(stdout);
	}
	printf("done\n");
	fflush(stdout);
	return 0;
}
