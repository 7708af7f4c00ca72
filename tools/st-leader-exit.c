// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-leader-exit: the main thread calls pthread_exit() while a second thread
 * runs on, so the process's leader is a zombie with a live thread.
 *
 * Usage: st-leader-exit [prior]
 *
 * Prints "pid N" and "tid N" (the second thread). Without arguments the
 * second thread waits for a line on stdin, calls getrandom(2), and exits the
 * process with 7. With prior, the main thread first listens on a TCP socket
 * on 127.0.0.1 and reads one byte of stdin, and prints "listen fd=N port=N"
 * before it exits. The second thread then waits for SIGUSR1 and exits the
 * process with 7, so the once-triggers are past before anything attaches.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

static sigset_t usr1;

static void *second(void *arg)
{
	char line[64], buf[8];
	int sig;

	printf("tid %d\n", gettid());
	fflush(stdout);
	if (arg) {
		sigwait(&usr1, &sig);
		exit(7);
	}
	if (!fgets(line, sizeof(line), stdin))
		exit(1);
	if (getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		exit(1);
	exit(7);
	return arg;
}

/* Listens on 127.0.0.1 at a port the kernel picks and prints the fact. */
static void listen_loopback(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&addr, &len)) {
		perror("st-leader-exit: listening on 127.0.0.1");
		exit(1);
	}
	printf("listen fd=%d port=%d\n", fd, ntohs(addr.sin_port));
}

int main(int argc, char **argv)
{
	int prior = argc > 1 && !strcmp(argv[1], "prior");
	pthread_t thread;
	char byte;

	printf("pid %d\n", getpid());
	fflush(stdout);
	if (prior) {
		/* blocked in every thread, so that only sigwait() takes it */
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &usr1, NULL);
		listen_loopback();
		if (read(STDIN_FILENO, &byte, 1) != 1) {
			fprintf(stderr, "st-leader-exit: reading one byte of stdin failed\n");
			return 1;
		}
		fflush(stdout);
	}
	if (pthread_create(&thread, NULL, second, prior ? &usr1 : NULL)) {
		fprintf(stderr, "st-leader-exit: pthread_create failed\n");
		return 1;
	}
	pthread_exit(NULL);
}
