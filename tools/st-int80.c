// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-int80: a 64-bit program that makes chosen system calls through
 * int $0x80, the ia32 system call table, for the ia32 hook.
 *
 * Usage: st-int80 [-s] [-n N] MODE
 *   MODE  read        read(2) of stdin
 *         pread       pread64(2) of stdin at offset 0, whose result is printed
 *                     even when it fails, then read(2) of stdin
 *         listen      listen(2) on a TCP socket bound to 127.0.0.1, port 0
 *         socketcall  the same listen through socketcall(2)
 *         getrandom   getrandom(2) of 8 bytes
 *         fsync       fsync(2) of a new file in $TMPDIR (default /tmp)
 *         urandom     open(2) of /dev/urandom, then close
 *   -n N     make the call N times (default 1); for listen, on N sockets
 *   -s       use the x86-64 system call table (syscall(2)) instead
 *   -f PATH  urandom opens PATH instead (another name of the device)
 *   -d       urandom opens with O_DIRECTORY, so the open fails with ENOTDIR
 *            and prints its result without exiting
 *
 * int $0x80 passes 32-bit registers, so every buffer and path it takes lives
 * in a MAP_32BIT mapping. Prints "pid N" first, "call name=NAME ret=N" for each
 * call, "listen fd=N port=N" for each listening socket, "done" last, and exits 0, or 1
 * when a call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ia32 system call numbers, from asm/unistd_32.h */
#define NR32_READ 3
#define NR32_OPEN 5
#define NR32_SOCKETCALL 102
#define NR32_FSYNC 118
#define NR32_PREAD64 180
#define NR32_GETRANDOM 355
#define NR32_LISTEN 363
#define SOCKETCALL_LISTEN 4

#define LOW_SIZE 4096

static int use_syscall;
static const char *open_path = "/dev/urandom";
static int open_fails;

/* Calls ia32 system call nr with up to three arguments. Returns -errno on failure. */
static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

/* int80() with five arguments, the last two in si and di. */
static long int80_5(long nr, long a, long b, long c, long d, long e)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

static void check(long ret, const char *call)
{
	if (ret < 0) {
		fprintf(stderr, "st-int80: %s failed: %s\n", call, strerror((int)-ret));
		exit(1);
	}
	printf("call name=%s ret=%ld\n", call, ret);
	fflush(stdout);
}

/* Returns a page below 4 GiB, where int $0x80 can address it. */
static char *low_page(void)
{
	void *p = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "st-int80: mmap with MAP_32BIT failed: %s\n", strerror(errno));
		exit(1);
	}
	return p;
}

static long sys_or_errno(long ret)
{
	return ret < 0 ? -errno : ret;
}

static int listening_socket(char *low, int through_socketcall)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	unsigned int *args = (unsigned int *)low;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
		check(-errno, "socket or bind");
	if (use_syscall) {
		check(sys_or_errno(syscall(SYS_listen, fd, 16)), "listen");
	} else if (through_socketcall) {
		args[0] = fd;
		args[1] = 16;
		check(int80(NR32_SOCKETCALL, SOCKETCALL_LISTEN, (long)args, 0), "socketcall");
	} else {
		check(int80(NR32_LISTEN, fd, 16, 0), "listen");
	}
	if (getsockname(fd, (struct sockaddr *)&addr, &len))
		check(-errno, "getsockname");
	printf("listen fd=%d port=%d\n", fd, ntohs(addr.sin_port));
	fflush(stdout);
	return fd;
}

static int temp_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/st-int80-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		check(-errno, "mkstemp");
	unlink(path);
	if (write(fd, "x", 1) != 1)
		check(-errno, "write");
	return fd;
}

static void run_mode(const char *mode, char *low, int fd)
{
	if (!strcmp(mode, "read")) {
		check(use_syscall ? sys_or_errno(syscall(SYS_read, 0, low, 8)) :
				    int80(NR32_READ, 0, (long)low, 8), "read");
	} else if (!strcmp(mode, "pread")) {
		/* the offset is split into its low and high 32 bits */
		printf("call name=pread64 ret=%ld\n",
		       use_syscall ? sys_or_errno(syscall(SYS_pread64, 0, low, 8, 0L)) :
				     int80_5(NR32_PREAD64, 0, (long)low, 8, 0, 0));
		fflush(stdout);
		run_mode("read", low, fd);
	} else if (!strcmp(mode, "listen") || !strcmp(mode, "socketcall")) {
		listening_socket(low, !strcmp(mode, "socketcall"));
	} else if (!strcmp(mode, "getrandom")) {
		check(use_syscall ? sys_or_errno(syscall(SYS_getrandom, low, 8, 0)) :
				    int80(NR32_GETRANDOM, (long)low, 8, 0), "getrandom");
	} else if (!strcmp(mode, "fsync")) {
		check(use_syscall ? sys_or_errno(syscall(SYS_fsync, fd)) :
				    int80(NR32_FSYNC, fd, 0, 0), "fsync");
	} else if (!strcmp(mode, "urandom")) {
		long ufd;

		int flags = O_RDONLY | (open_fails ? O_DIRECTORY : 0);

		snprintf(low, LOW_SIZE, "%s", open_path);
		ufd = use_syscall ? sys_or_errno(syscall(SYS_open, low, flags)) :
				    int80(NR32_OPEN, (long)low, flags, 0);
		if (open_fails && ufd < 0) {
			printf("call name=open ret=%ld\n", ufd);
			fflush(stdout);
			return;
		}
		check(ufd, "open");
		close((int)ufd);
	} else {
		fprintf(stderr, "st-int80: unknown mode '%s'\n", mode);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	int opt, i, count = 1, fd = -1;
	const char *mode;
	char *low;

	while ((opt = getopt(argc, argv, "sn:f:d")) != -1) {
		switch (opt) {
		case 'f':
			open_path = optarg;
			break;
		case 'd':
			open_fails = 1;
			break;
		case 's':
			use_syscall = 1;
			break;
		case 'n':
			count = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: st-int80 [-s] [-n N] [-f PATH] [-d] read|pread|listen|socketcall|getrandom|fsync|urandom\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: st-int80 [-s] [-n N] [-f PATH] [-d] read|pread|listen|socketcall|getrandom|fsync|urandom\n");
		return 2;
	}
	mode = argv[optind];

	printf("pid %d\n", getpid());
	fflush(stdout);
	low = low_page();
	if (!strcmp(mode, "fsync"))
		fd = temp_file();
	for (i = 0; i < count; i++)
		run_mode(mode, low, fd);
	printf("done\n");
	fflush(stdout);
	return 0;
}
