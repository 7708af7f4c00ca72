// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-demo: the program of the README's demo. It runs a short fixed script
 * in which each step is an event snaptrig reports, then exits 0.
 *
 *   step                                    trigger or line it causes
 *   listen on 127.0.0.1, ephemeral port     first-listen
 *   read one line from stdin                first-stdin
 *   getrandom(2), clock_gettime(2)          non-deterministic-call
 *   write a file and fsync(2) it            transaction
 *   raise(SIGALRM), handled                 sigalrm
 *   fork, exec /bin/true in the child       bootstrap (or exec), exit
 *
 * Usage: st-demo [DIR]   (the file is written in DIR, default /tmp)
 *
 * Prints "pid N", "port N" and one line per step. When stdin has no line
 * within 2 s (a terminal without input), it skips the read, so the
 * whole script ends within about 2 s whatever stdin is.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STDIN_WAIT_MS 2000

static void fail(const char *step)
{
	fprintf(stderr, "st-demo: %s failed: %s\n", step, strerror(errno));
	exit(1);
}

/* Print one line and flush it, so a pipe reader sees each step at once. */
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int listen_loopback(void)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	if (bind(fd, (struct sockaddr *)&sin, len) || listen(fd, 8))
		fail("listen");
	if (getsockname(fd, (struct sockaddr *)&sin, &len))
		fail("getsockname");
	say("port %d", ntohs(sin.sin_port));
	return fd;
}

static void read_stdin_line(void)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	char buf[256];
	ssize_t n;

	if (poll(&pfd, 1, STDIN_WAIT_MS) <= 0) {
		say("stdin skipped after %d ms", STDIN_WAIT_MS);
		return;
	}
	n = read(STDIN_FILENO, buf, sizeof(buf));
	say("stdin read %zd bytes", n);
}

static void ask_random_and_time(void)
{
	struct timespec ts;
	char buf[16];

	if (getrandom(buf, sizeof(buf), 0) < 0)
		fail("getrandom");
	/* syscall(2), because the vDSO serves clock_gettime() without the kernel. */
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
	say("random and time read at %ld s", (long)ts.tv_sec);
}

static void write_durably(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/st-demo.%d.txt", dir, getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fail("open");
	if (write(fd, "snaptrig\n", 9) != 9 || fsync(fd))
		fail("write and fsync");
	close(fd);
	unlink(path);
	say("file written and fsynced");
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void run_true(void)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		fail("waitpid");
	say("child %d ran /bin/true", pid);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	struct sigaction sa = { .sa_handler = on_alarm };
	int listen_fd;

	say("pid %d", getpid());
	listen_fd = listen_loopback();
	read_stdin_line();
	ask_random_and_time();
	write_durably(dir);

	sigaction(SIGALRM, &sa, NULL);
	raise(SIGALRM);
	say("SIGALRM handled");

	run_true();
	close(listen_fd);
	return 0;
}
