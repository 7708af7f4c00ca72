// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-forker: fork children that each do one traced action, to show that
 * children are traced from their first instruction with once bits of their
 * own.
 *
 * Usage: st-forker [-n N] [-a ACTION] [-P] [-e] [-x]
 *   -n N       number of children (default 2), forked one after another
 *   -a ACTION  what each child does: none (default), getrandom (one call) or
 *              listen (one listen(2) on 127.0.0.1, ephemeral port)
 *   -P         the parent does ACTION too, before it forks
 *   -e         each child then execs /bin/true
 *   -x         fork nothing: a second thread of this process execs /bin/true,
 *              so the exec comes from a thread that is not the leader
 *
 * Prints "pid N", then "child N" for each child after it exited, then "done".
 * Exits 0 when every child exited 0, 1 otherwise. With -x it prints
 * "exec-tid N" for the exec'ing thread, and the exit status is /bin/true's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int do_listen(void)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 4))
		return -1;
	return 0;
}

static int do_action(const char *action)
{
	char buf[8];

	if (strcmp(action, "none") == 0)
		return 0;
	if (strcmp(action, "getrandom") == 0)
		return getrandom(buf, sizeof(buf), 0) < 0 ? -1 : 0;
	if (strcmp(action, "listen") == 0)
		return do_listen();
	errno = EINVAL;
	return -1;
}

static void run_child(const char *action, int exec_true)
{
	if (do_action(action)) {
		fprintf(stderr, "st-forker: %s in child %d failed: %s\n", action,
			getpid(), strerror(errno));
		_exit(1);
	}
	if (exec_true) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	_exit(0);
}

static void *exec_thread(void *arg)
{
	(void)arg;
	printf("exec-tid %ld\n", syscall(SYS_gettid));
	fflush(stdout);
	execl("/bin/true", "true", (char *)NULL);
	perror("st-forker: execl /bin/true");
	exit(127);
}

/* Exec from a new thread. The exec ends every other thread, the leader included. */
static int exec_from_thread(void)
{
	pthread_t thread;
	int err;

	err = pthread_create(&thread, NULL, exec_thread, NULL);
	if (err) {
		fprintf(stderr, "st-forker: pthread_create failed: %s\n", strerror(err));
		return 1;
	}
	pthread_join(thread, NULL);
	return 1;
}

int main(int argc, char **argv)
{
	int children = 2, parent_too = 0, exec_true = 0, thread_exec = 0, failed = 0;
	const char *action = "none";
	int opt, i, status;
	pid_t pid;

	while ((opt = getopt(argc, argv, "n:a:Pex")) != -1) {
		switch (opt) {
		case 'n':
			children = atoi(optarg);
			break;
		case 'a':
			action = optarg;
			break;
		case 'P':
			parent_too = 1;
			break;
		case 'e':
			exec_true = 1;
			break;
		case 'x':
			thread_exec = 1;
			break;
		default:
			fprintf(stderr, "usage: st-forker [-n N] [-a ACTION] [-P] [-e] [-x]\n");
			return 2;
		}
	}

	printf("pid %d\n", getpid());
	fflush(stdout);
	if (thread_exec)
		return exec_from_thread();
	if (parent_too && do_action(action)) {
		fprintf(stderr, "st-forker: %s failed: %s\n", action, strerror(errno));
		return 1;
	}

	for (i = 0; i < children; i++) {
		pid = fork();
		if (pid < 0) {
			perror("st-forker: fork");
			return 1;
		}
		if (pid == 0)
			run_child(action, exec_true);

		/* One child at a time keeps the order of events fixed. */
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
		printf("child %d\n", pid);
		fflush(stdout);
	}
	printf("done\n");
	fflush(stdout);
	return failed;
}
