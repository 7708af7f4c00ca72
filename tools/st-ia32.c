// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-ia32: a real 32-bit program for the ia32 hook. It is built without
 * libc (-m32 -nostdlib -static), with its own _start and int $0x80 calls,
 * so it needs no 32-bit libraries on the build machine.
 *
 * Usage: st-ia32 MODE
 *   MODE  read     read(2) of stdin, twice
 *         recv     recv through socketcall(2) on stdin, which must be a socket
 *         listen   socket, bind to 127.0.0.1 port 0 and listen, all through
 *                  socketcall(2)
 *         random   getrandom(2) of 8 bytes, then openat(2) of /dev/urandom
 *         sync     sync_file_range(2) of stdin, which must be a file, with
 *                  SYNC_FILE_RANGE_WRITE alone, then with the wait flags too
 *
 * Prints "pid N" first, "fd N" and "port N" for listen, "done" last, and exits 0, or 1
 * when a call fails.
 */

/* ia32 system call numbers, from asm/unistd_32.h */
#define NR32_EXIT_GROUP 252
#define NR32_READ 3
#define NR32_WRITE 4
#define NR32_CLOSE 6
#define NR32_GETPID 20
#define NR32_SOCKETCALL 102
#define NR32_OPENAT 295
#define NR32_GETRANDOM 355
#define NR32_SYNC_FILE_RANGE 314

/* sync_file_range(2) flags, from linux/fs.h */
#define SFR_WAIT_BEFORE 1
#define SFR_WRITE 2
#define SFR_WAIT_AFTER 4

/* socketcall(2) operations, from linux/net.h */
#define SOCKETCALL_SOCKET 1
#define SOCKETCALL_BIND 2
#define SOCKETCALL_LISTEN 4
#define SOCKETCALL_GETSOCKNAME 6
#define SOCKETCALL_RECV 10

#define AF_INET_FAMILY 2
#define SOCK_STREAM_TYPE 1
#define AT_FDCWD_VALUE (-100)

struct inet_address {
	unsigned short family;
	unsigned short port;	/* network byte order */
	unsigned int addr;	/* network byte order */
	unsigned char zero[8];
};

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory");
	return ret;
}

/*
 * A system call with six arguments, the sixth in ebp. ebp may be the frame
 * pointer, so it is saved around the call, and nr and f reach it through
 * memory that eax points at.
 */
static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	long in[2] = { nr, f };
	long ret;

	__asm__ volatile("push %%ebp\n\t"
			 "mov 4(%%eax), %%ebp\n\t"
			 "mov (%%eax), %%eax\n\t"
			 "int $0x80\n\t"
			 "pop %%ebp"
			 : "=a"(ret)
			 : "a"(in), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	return ret;
}

static unsigned long length(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

static int equal(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static void put(const char *s)
{
	sys3(NR32_WRITE, 1, (long)s, (long)length(s));
}

/* Prints "NAME VALUE" in one write, so the line never mixes with another writer's. */
static void put_number(const char *name, unsigned long value)
{
	char digits[12], line[64];
	int n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	while (*name && len < 40)
		line[len++] = *name++;
	line[len++] = ' ';
	while (n)
		line[len++] = digits[--n];
	line[len++] = '\n';
	sys3(NR32_WRITE, 1, (long)line, len);
}

static __attribute__((noreturn)) void exit_group(int code)
{
	for (;;)
		sys3(NR32_EXIT_GROUP, code, 0, 0);
}

static long check(long ret, const char *call)
{
	if (ret < 0 && ret > -4096) {
		put("st-ia32: ");
		put(call);
		put(" failed\n");
		exit_group(1);
	}
	return ret;
}

static long socketcall(int op, unsigned long *args)
{
	return sys3(NR32_SOCKETCALL, op, (long)args, 0);
}

static void listen_loopback(void)
{
	struct inet_address addr = { .family = AF_INET_FAMILY, .addr = 0x0100007f };
	unsigned long len = sizeof(addr);
	unsigned long args[3];
	long fd;

	args[0] = AF_INET_FAMILY;
	args[1] = SOCK_STREAM_TYPE;
	args[2] = 0;
	fd = check(socketcall(SOCKETCALL_SOCKET, args), "socket");
	args[0] = fd;
	args[1] = (unsigned long)&addr;
	args[2] = sizeof(addr);
	check(socketcall(SOCKETCALL_BIND, args), "bind");
	args[1] = 16;
	check(socketcall(SOCKETCALL_LISTEN, args), "listen");
	args[1] = (unsigned long)&addr;
	args[2] = (unsigned long)&len;
	check(socketcall(SOCKETCALL_GETSOCKNAME, args), "getsockname");
	put_number("fd", (unsigned long)fd);
	put_number("port", (unsigned long)((addr.port >> 8) | ((addr.port & 0xff) << 8)));
}

static void run_mode(const char *mode)
{
	static char buf[8];
	unsigned long args[4];
	int i;

	if (equal(mode, "read")) {
		for (i = 0; i < 2; i++)
			check(sys3(NR32_READ, 0, (long)buf, sizeof(buf)), "read");
	} else if (equal(mode, "recv")) {
		args[0] = 0;
		args[1] = (unsigned long)buf;
		args[2] = sizeof(buf);
		args[3] = 0;
		check(socketcall(SOCKETCALL_RECV, args), "recv");
	} else if (equal(mode, "listen")) {
		listen_loopback();
	} else if (equal(mode, "random")) {
		check(sys3(NR32_GETRANDOM, (long)buf, sizeof(buf), 0), "getrandom");
		sys3(NR32_CLOSE, check(sys3(NR32_OPENAT, AT_FDCWD_VALUE, (long)"/dev/urandom", 0),
				       "openat"), 0, 0);
	} else if (equal(mode, "sync")) {
		/* fd, then offset and nbytes 0 (to the end of the file) as 32-bit halves */
		check(sys6(NR32_SYNC_FILE_RANGE, 0, 0, 0, 0, 0, SFR_WRITE), "sync_file_range");
		check(sys6(NR32_SYNC_FILE_RANGE, 0, 0, 0, 0, 0,
			   SFR_WAIT_BEFORE | SFR_WRITE | SFR_WAIT_AFTER), "sync_file_range");
	} else {
		put("usage: st-ia32 read|recv|listen|random|sync\n");
		exit_group(2);
	}
}

/* Called by _start with the initial stack: argc, then argv. */
__attribute__((used, noreturn)) static void start_c(unsigned long *stack)
{
	char **argv = (char **)(stack + 1);

	put_number("pid", (unsigned long)sys3(NR32_GETPID, 0, 0, 0));
	if (stack[0] != 2) {
		put("usage: st-ia32 read|recv|listen|random|sync\n");
		exit_group(2);
	}
	run_mode(argv[1]);
	put("done\n");
	exit_group(0);
}

__asm__(".text\n"
	".globl _start\n"
	"_start:\n"
	"	xorl %ebp, %ebp\n"
	"	movl %esp, %eax\n"
	"	andl $-16, %esp\n"
	"	subl $12, %esp\n"
	"	pushl %eax\n"
	"	call start_c\n"
	"	hlt\n");
