// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-sync: make data durable a given number of times with each call behind
 * the transaction trigger.
 *
 * Usage: st-sync [-f N] [-d N] [-r N] [-w N] [-m N] [-a N] [-S N] [-s N] DIR
 *   -f N  fsync(2)            -d N  fdatasync(2)
 *   -r N  sync_file_range(2) that waits for the write-out
 *   -w N  sync_file_range(2) with SYNC_FILE_RANGE_WRITE only, which starts it
 *   -m N  msync(2) with MS_SYNC on a shared mapping
 *   -a N  msync(2) with MS_ASYNC, which does not make data durable
 *   -S N  syncfs(2)           -s N  sync(2)
 *
 * Creates a file in DIR, writes to it before each call, runs the calls in the
 * order of the options above, removes the file, prints "pid N" first and
 * "done" last, and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FILE_SIZE 4096

struct sync_counts {
	int fsync;
	int fdatasync;
	int sync_file_range;
	int sync_file_range_write;
	int msync_sync;
	int msync_async;
	int syncfs;
	int sync;
};

static void check(int ret, const char *call)
{
	if (ret < 0) {
		fprintf(stderr, "st-sync: %s failed: %s\n", call, strerror(errno));
		exit(1);
	}
}

static void touch_file(int fd)
{
	check((int)pwrite(fd, "x", 1, 0), "pwrite");
}

static void run_calls(int fd, const struct sync_counts *c)
{
	char *map;
	int i;

	map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		check(-1, "mmap");

	for (i = 0; i < c->fsync; i++) {
		touch_file(fd);
		check(fsync(fd), "fsync");
	}
	for (i = 0; i < c->fdatasync; i++) {
		touch_file(fd);
		check(fdatasync(fd), "fdatasync");
	}
	for (i = 0; i < c->sync_file_range; i++) {
		touch_file(fd);
		check(sync_file_range(fd, 0, FILE_SIZE, SYNC_FILE_RANGE_WRITE |
				      SYNC_FILE_RANGE_WAIT_AFTER), "sync_file_range");
	}
	for (i = 0; i < c->sync_file_range_write; i++) {
		touch_file(fd);
		check(sync_file_range(fd, 0, FILE_SIZE, SYNC_FILE_RANGE_WRITE),
		      "sync_file_range(SYNC_FILE_RANGE_WRITE)");
	}
	for (i = 0; i < c->msync_sync; i++) {
		map[i % FILE_SIZE] = 'm';
		check(msync(map, FILE_SIZE, MS_SYNC), "msync(MS_SYNC)");
	}
	for (i = 0; i < c->msync_async; i++) {
		map[i % FILE_SIZE] = 'a';
		check(msync(map, FILE_SIZE, MS_ASYNC), "msync(MS_ASYNC)");
	}
	for (i = 0; i < c->syncfs; i++) {
		touch_file(fd);
		check(syncfs(fd), "syncfs");
	}
	for (i = 0; i < c->sync; i++) {
		touch_file(fd);
		sync();
	}
	munmap(map, FILE_SIZE);
}

int main(int argc, char **argv)
{
	struct sync_counts counts = { 0 };
	char path[PATH_MAX];
	int opt, fd;

	while ((opt = getopt(argc, argv, "f:d:r:w:m:a:S:s:")) != -1) {
		int n = atoi(optarg);

		switch (opt) {
		case 'f':
			counts.fsync = n;
			break;
		case 'd':
			counts.fdatasync = n;
			break;
		case 'r':
			counts.sync_file_range = n;
			break;
		case 'w':
			counts.sync_file_range_write = n;
			break;
		case 'm':
			counts.msync_sync = n;
			break;
		case 'a':
			counts.msync_async = n;
			break;
		case 'S':
			counts.syncfs = n;
			break;
		case 's':
			counts.sync = n;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;

	printf("pid %d\n", getpid());
	fflush(stdout);

	snprintf(path, sizeof(path), "%s/st-sync.%d.dat", argv[optind], getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(fd, "open");
	check(ftruncate(fd, FILE_SIZE), "ftruncate");
	run_calls(fd, &counts);
	close(fd);
	unlink(path);

	printf("done\n");
	fflush(stdout);
	return 0;

usage:
	fprintf(stderr, "usage: st-sync [-f N] [-d N] [-r N] [-w N] [-m N] [-a N] [-S N] [-s N] DIR\n");
	return 2;
}
