// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-stdin: read standard input through one chosen call of the read family,
 * for the first-stdin trigger.
 *
 * Usage: st-stdin [-c CALL] [-n READS] [-d] [-D FD] [-f PATH] [-g]
 *   -c CALL  read (default), readv, pread64, preadv, preadv2 (these three need
 *            a regular file as stdin), recvfrom, recvmsg or recvmmsg (these
 *            need a socket as stdin)
 *   -n N     number of reads (default 2), to show that only the first counts
 *   -d       dup(2) stdin and read from the new descriptor
 *   -D FD    dup2(2) stdin to FD and read from FD
 *   -f PATH  read PATH instead of stdin; stdin stays untouched
 *   -g       wait for SIGUSR1 before the first read, so a tracer can attach
 *
 * Prints "pid N", then "fd N" for the descriptor it reads, then
 * "read call=CALL bytes=N" for each read, then "done". Exits 0, or 1 when a
 * read fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK 8

/* Read up to CHUNK bytes from fd at offset with the named call. */
static ssize_t read_with(const char *call, int fd, char *buf, off_t offset)
{
	struct iovec iov = { .iov_base = buf, .iov_len = CHUNK };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (strcmp(call, "read") == 0)
		return read(fd, buf, CHUNK);
	if (strcmp(call, "readv") == 0)
		return readv(fd, &iov, 1);
	if (strcmp(call, "pread64") == 0)
		return pread(fd, buf, CHUNK, offset);
	if (strcmp(call, "preadv") == 0)
		return syscall(SYS_preadv, fd, &iov, 1, (long)offset, 0L);
	if (strcmp(call, "preadv2") == 0)
		return syscall(SYS_preadv2, fd, &iov, 1, (long)offset, 0L, 0);
	if (strcmp(call, "recvfrom") == 0)
		return recvfrom(fd, buf, CHUNK, 0, NULL, NULL);
	if (strcmp(call, "recvmsg") == 0)
		return recvmsg(fd, &msg, 0);
	if (strcmp(call, "recvmmsg") == 0) {
		struct mmsghdr mmsg = { .msg_hdr = msg };
		int n = recvmmsg(fd, &mmsg, 1, 0, NULL);

		return n < 0 ? n : (ssize_t)mmsg.msg_len;
	}
	errno = EINVAL;
	return -1;
}

static void wait_for_sigusr1(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("waiting SIGUSR1\n");
	fflush(stdout);
	sigwait(&set, &sig);
}

static int open_source(int use_dup, int dup_target, const char *path)
{
	int fd = STDIN_FILENO;

	if (path)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	else if (dup_target >= 0)
		fd = dup2(STDIN_FILENO, dup_target);
	else if (use_dup)
		fd = dup(STDIN_FILENO);
	if (fd < 0) {
		fprintf(stderr, "st-stdin: opening the input failed: %s\n", strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	int reads = 2, use_dup = 0, dup_target = -1, go_signal = 0;
	const char *call = "read", *path = NULL;
	char buf[CHUNK];
	off_t offset = 0;
	int opt, fd, i;

	while ((opt = getopt(argc, argv, "c:n:dD:f:g")) != -1) {
		switch (opt) {
		case 'c':
			call = optarg;
			break;
		case 'n':
			reads = atoi(optarg);
			break;
		case 'd':
			use_dup = 1;
			break;
		case 'D':
			dup_target = atoi(optarg);
			break;
		case 'f':
			path = optarg;
			break;
		case 'g':
			go_signal = 1;
			break;
		default:
			fprintf(stderr, "usage: st-stdin [-c CALL] [-n READS] [-d] [-D FD] [-f PATH] [-g]\n");
			return 2;
		}
	}

	printf("pid %d\n", getpid());
	fflush(stdout);
	fd = open_source(use_dup, dup_target, path);
	printf("fd %d\n", fd);
	fflush(stdout);
	if (go_signal)
		wait_for_sigusr1();

	for (i = 0; i < reads; i++) {
		ssize_t n = read_with(call, fd, buf, offset);

		if (n < 0) {
			fprintf(stderr, "st-stdin: %s on fd %d failed: %s\n", call, fd,
				strerror(errno));
			return 1;
		}
		offset += n;
		printf("read call=%s bytes=%zd\n", call, n);
		fflush(stdout);
	}
	printf("done\n");
	fflush(stdout);
	return 0;
}
