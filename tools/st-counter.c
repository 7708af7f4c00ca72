// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-counter: change a global variable right after listen(2), so a test can
 * tell from a core dump whether the process was stopped at the listen.
 *
 * Usage: st-counter [-f PATH] [-V MS]
 *   -f PATH  create PATH right after listen(2) returns, before anything else
 *   -V MS    after "counter", print "vfork" and vfork(2) a child that sleeps
 *            MS milliseconds and exits; print "vforked" when it is gone. The
 *            parent waits in state D meanwhile, where a stop signal stays
 *            pending and a SIGCONT cancels it.
 *
 * Sets counter to COUNTER_BEFORE (1111), prints "pid N", listens on a
 * 127.0.0.1 socket with an ephemeral port, then creates PATH, sets counter
 * to COUNTER_AFTER (2222) and prints "counter 2222". Then it reads stdin
 * until end of file and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define COUNTER_BEFORE 1111
#define COUNTER_AFTER 2222

/* volatile, so each store happens where the source puts it */
volatile int counter;

static void die(const char *what)
{
	fprintf(stderr, "st-counter: %s failed: %s\n", what, strerror(errno));
	exit(1);
}

static int open_listener(void)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
		die("bind");
	return fd;
}

static void vfork_and_wait(long ms)
{
	struct timespec pause = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };
	pid_t child;

	printf("vfork\n");
	child = vfork();
	if (child < 0)
		die("vfork");
	if (child == 0) {
		nanosleep(&pause, NULL);
		_exit(0);
	}
	if (waitpid(child, NULL, 0) < 0)
		die("waitpid");
	printf("vforked\n");
}

int main(int argc, char **argv)
{
	const char *marker = NULL;
	long vfork_ms = 0;
	char buf[256];
	int opt, fd;

	while ((opt = getopt(argc, argv, "f:V:")) != -1) {
		if (opt == 'f') {
			marker = optarg;
		} else if (opt == 'V') {
			vfork_ms = atol(optarg);
		} else {
			fprintf(stderr, "usage: st-counter [-f PATH] [-V MS]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	counter = COUNTER_BEFORE;
	printf("pid %d\n", getpid());
	fd = open_listener();
	if (listen(fd, 8))
		die("listen");
	if (marker) {
		int marker_fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		if (marker_fd < 0)
			die("creating the marker file");
		close(marker_fd);
	}
	counter = COUNTER_AFTER;
	printf("counter %d\n", counter);
	if (vfork_ms > 0)
		vfork_and_wait(vfork_ms);

	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return 0;
}
