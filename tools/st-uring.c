// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-uring: make the calls behind first-stdin, first-listen, transaction and
 * non-deterministic-call through io_uring requests only, with the raw
 * io_uring_setup, io_uring_enter and io_uring_register system calls.
 *
 * Usage: st-uring [-n N] [-F] [-P] [-S] [-A] [-R] [-O OFFSET] [-k] [-o OP] [-W PATH] [-U] [-D]
 *                 MODE [DIR]
 *   MODE read    N requests that read stdin with OP. OP is read (default),
 *                readv, read_fixed, readv_fixed, recv or recvmsg (these
 *                two need a socket as stdin), or read_multishot. One
 *                read_multishot reads until end of file into provided
 *                buffers.
 *        splice  N IORING_OP_SPLICE requests from stdin into a pipe
 *        tee     N IORING_OP_TEE requests from stdin (a pipe) into a pipe
 *        listen  IORING_OP_LISTEN on a TCP socket bound to 127.0.0.1, port 0
 *        sync    N IORING_OP_FSYNC, N IORING_OP_FSYNC with
 *                IORING_FSYNC_DATASYNC, N IORING_OP_SYNC_FILE_RANGE that wait
 *                for the write-out, then N that only start it, of a new
 *                file in DIR
 *        open    N IORING_OP_OPENAT of /dev/urandom
 *        install registers stdin, makes a descriptor of it with
 *                IORING_OP_FIXED_FD_INSTALL and reads that with read(2)
 *        rights  sends stdin over a unix socket pair with SCM_RIGHTS,
 *                receives it with IORING_OP_RECVMSG and reads the new
 *                descriptor with read(2)
 *        cmd     one IORING_OP_URING_CMD on stdin (a pipe rejects it)
 *   -n N  number of requests (default 2)
 *   -F    use the descriptor as a registered file: stdin or the socket is
 *         registered at fixed index 1 of the ring's file table
 *   -P    set the ring up with IORING_SETUP_SQPOLL, so the kernel's SQ thread
 *         submits the requests
 *   -S    set the ring up with IORING_SETUP_SINGLE_ISSUER too
 *   -A    set IOSQE_ASYNC on each request, so an io-wq worker thread issues it
 *   -R    read mode: open /proc/self/fd/0 with IORING_OP_OPENAT first, and
 *         read the new descriptor
 *   -O OFFSET  read and splice modes: read stdin at OFFSET (the SQE's off
 *         for the read opcodes but recv and recvmsg, splice_off_in for
 *         SPLICE) instead of at the file position
 *   -k    read and splice modes: a request that fails prints
 *         "failed op=NAME errno=N" instead of ending the program
 *   -W PATH  splice and tee modes: write into PATH, created if missing,
 *         instead of into a pipe
 *   -U    listen mode: leave the socket unbound, so the listen binds a port
 *   -D    listen mode: first an IORING_OP_LISTEN on a UDP socket, which
 *         fails and prints "failed op=listen errno=N"
 *
 * Prints "pid N" first; "sqthread N" (tid of the SQ thread) with -P;
 * "fixed N" (the fixed index) with -F; for read "opcode N" (the request's
 * opcode); for listen "listen fd=N port=N backlog=N"; for open, install and
 * -R "fd N" per new descriptor, for rights "fd N" for the received one;
 * "done" last. Exits 0, or 1 with a message when a call fails.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/io_uring.h>

/* Opcodes newer than some installed <linux/io_uring.h> headers. */
#define OP_LISTEN 57		/* IORING_OP_LISTEN, Linux 6.11 */
#define OP_READV_FIXED 60	/* IORING_OP_READV_FIXED, Linux 6.15 */
#define OP_READ_MULTISHOT 49	/* IORING_OP_READ_MULTISHOT, Linux 6.7 */
#define OP_FIXED_FD_INSTALL 54	/* IORING_OP_FIXED_FD_INSTALL, Linux 6.8 */
#define BUFFER_GROUP 7
#define BUFFERS 8
#define FIXED_INDEX 1
#define LISTEN_BACKLOG 7
#define CHUNK 8

/* -O and -k */
static __u64 read_offset = (__u64)-1;
static int keep_going;

struct ring {
	int fd;
	unsigned int sqe_flags;	/* IOSQE_* set on every SQE */
	unsigned int *sq_tail;
	unsigned int *sq_mask;
	unsigned int *sq_array;
	unsigned int *sq_flags;
	unsigned int *cq_head;
	unsigned int *cq_tail;
	unsigned int *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	int sqpoll;
};

static void die(const char *call)
{
	fprintf(stderr, "st-uring: %s failed: %s\n", call, strerror(errno));
	exit(1);
}

static void *map_ring(int fd, size_t size, off_t offset)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);

	if (p == MAP_FAILED)
		die("mmap of the ring");
	return p;
}

static void ring_setup(struct ring *r, int sqpoll, int single_issuer)
{
	struct io_uring_params p = {};
	size_t sq_size, cq_size;
	char *sq, *cq;

	if (sqpoll) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 1000;	/* ms */
	}
	if (single_issuer)
		p.flags |= IORING_SETUP_SINGLE_ISSUER;
	r->fd = syscall(__NR_io_uring_setup, 8, &p);
	if (r->fd < 0)
		die("io_uring_setup");
	r->sqpoll = sqpoll;
	sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sq = map_ring(r->fd, sq_size, IORING_OFF_SQ_RING);
	cq = map_ring(r->fd, cq_size, IORING_OFF_CQ_RING);
	r->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + p.sq_off.array);
	r->sq_flags = (unsigned int *)(sq + p.sq_off.flags);
	r->cq_head = (unsigned int *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	r->sqes = map_ring(r->fd, p.sq_entries * sizeof(struct io_uring_sqe), IORING_OFF_SQES);
}

static struct io_uring_sqe *sqe_get(struct ring *r)
{
	unsigned int tail = *r->sq_tail;
	unsigned int index = tail & *r->sq_mask;

	memset(&r->sqes[index], 0, sizeof(r->sqes[index]));
	r->sqes[index].flags = r->sqe_flags;
	r->sq_array[index] = index;
	return &r->sqes[index];
}

/* Waits for the next CQE; returns its result and stores its flags in *cflags. */
static int reap(struct ring *r, unsigned int *cflags)
{
	unsigned int head = *r->cq_head;
	int res;

	/* a stop and continue of the process ends the wait with EINTR */
	while (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		if (syscall(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 &&
		    errno != EINTR)
			die("io_uring_enter");
	res = r->cqes[head & *r->cq_mask].res;
	*cflags = r->cqes[head & *r->cq_mask].flags;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

/*
 * Publishes the SQE from sqe_get(), waits for its first CQE and returns its
 * result, with the CQE flags in *cflags.
 */
static int submit_wait_flags(struct ring *r, unsigned int *cflags)
{
	unsigned int flags = IORING_ENTER_GETEVENTS;

	__atomic_store_n(r->sq_tail, *r->sq_tail + 1, __ATOMIC_RELEASE);
	if (r->sqpoll && (__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_NEED_WAKEUP))
		flags |= IORING_ENTER_SQ_WAKEUP;
	/* EINTR comes only from the wait, after the submission: reap() waits again */
	if (syscall(__NR_io_uring_enter, r->fd, r->sqpoll ? 0 : 1, 1, flags, NULL, 0) < 0 &&
	    errno != EINTR)
		die("io_uring_enter");
	return reap(r, cflags);
}

static int submit_wait(struct ring *r)
{
	unsigned int cflags;

	return submit_wait_flags(r, &cflags);
}

/* Registers fd at FIXED_INDEX; slot 0 stays empty so the index differs from fd. */
static void register_fixed(struct ring *r, int fd)
{
	int fds[FIXED_INDEX + 1];
	int i;

	for (i = 0; i < FIXED_INDEX; i++)
		fds[i] = -1;
	fds[FIXED_INDEX] = fd;
	if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_FILES, fds, FIXED_INDEX + 1))
		die("io_uring_register of the files");
	printf("fixed %d\n", FIXED_INDEX);
}

/* Sets the target of sqe: descriptor fd, or the fixed file when fixed. */
static void sqe_target(struct io_uring_sqe *sqe, int fd, int fixed)
{
	sqe->fd = fixed ? FIXED_INDEX : fd;
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
}

static int read_op(const char *op)
{
	if (strcmp(op, "read") == 0)
		return IORING_OP_READ;
	if (strcmp(op, "readv") == 0)
		return IORING_OP_READV;
	if (strcmp(op, "read_fixed") == 0)
		return IORING_OP_READ_FIXED;
	if (strcmp(op, "recv") == 0)
		return IORING_OP_RECV;
	if (strcmp(op, "recvmsg") == 0)
		return IORING_OP_RECVMSG;
	if (strcmp(op, "read_multishot") == 0)
		return OP_READ_MULTISHOT;
	if (strcmp(op, "readv_fixed") == 0)
		return OP_READV_FIXED;
	fprintf(stderr, "st-uring: invalid -o '%s': use read, readv, read_fixed, read_multishot, recv, recvmsg or readv_fixed\n",
		op);
	exit(2);
}

/* Opens path read-only with IORING_OP_OPENAT; returns the new descriptor. */
static int uring_open(struct ring *r, const char *path)
{
	struct io_uring_sqe *sqe = sqe_get(r);
	int res;

	sqe->opcode = IORING_OP_OPENAT;
	sqe->fd = AT_FDCWD;
	sqe->addr = (unsigned long)path;
	sqe->open_flags = O_RDONLY | O_CLOEXEC;
	res = submit_wait(r);
	if (res < 0) {
		errno = -res;
		die("IORING_OP_OPENAT");
	}
	printf("fd %d\n", res);
	return res;
}

/*
 * One IORING_OP_READ_MULTISHOT request: it reads fd into provided buffers
 * until end of file, one CQE per read. Returns the bytes read.
 */
static int read_multishot(struct ring *r, int fd, int fixed)
{
	static char bufs[BUFFERS][CHUNK];
	struct io_uring_sqe *sqe = sqe_get(r);
	unsigned int cflags;
	int res, total = 0;

	sqe->opcode = IORING_OP_PROVIDE_BUFFERS;
	sqe->addr = (unsigned long)bufs;
	sqe->len = CHUNK;
	sqe->fd = BUFFERS;
	sqe->buf_group = BUFFER_GROUP;
	res = submit_wait(r);
	if (res < 0) {
		errno = -res;
		die("IORING_OP_PROVIDE_BUFFERS");
	}
	sqe = sqe_get(r);
	sqe->opcode = OP_READ_MULTISHOT;
	sqe_target(sqe, fd, fixed);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUFFER_GROUP;
	res = submit_wait_flags(r, &cflags);
	for (;;) {
		if (res < 0) {
			errno = -res;
			die("IORING_OP_READ_MULTISHOT");
		}
		total += res;
		/* the request is done at the first CQE without IORING_CQE_F_MORE */
		if (!(cflags & IORING_CQE_F_MORE))
			break;
		res = reap(r, &cflags);
	}
	return total;
}

static void do_read(struct ring *r, const char *op_name, int n, int fd, int fixed)
{
	static char buf[CHUNK];
	struct iovec iov = { .iov_base = buf, .iov_len = CHUNK };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int op = read_op(op_name);
	int i, res;

	printf("opcode %d\n", op);
	if (op == OP_READ_MULTISHOT) {
		for (i = 0; i < n; i++)
			printf("read op=%s bytes=%d\n", op_name, read_multishot(r, fd, fixed));
		return;
	}
	if ((op == IORING_OP_READ_FIXED || op == OP_READV_FIXED) &&
	    syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_BUFFERS, &iov, 1))
		die("io_uring_register of the buffer");
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = sqe_get(r);

		sqe->opcode = op;
		sqe_target(sqe, fd, fixed);
		/*
		 * -1 reads at the file position, as read(2) does. The recv opcodes
		 * take addr2 in off, which must be 0.
		 */
		if (op != IORING_OP_RECV && op != IORING_OP_RECVMSG)
			sqe->off = read_offset;
		if (op == IORING_OP_READV || op == OP_READV_FIXED) {
			sqe->addr = (unsigned long)&iov;
			sqe->len = 1;
		} else if (op == IORING_OP_RECVMSG) {
			sqe->addr = (unsigned long)&msg;
			sqe->len = 1;
		} else {
			sqe->addr = (unsigned long)buf;
			sqe->len = CHUNK;
		}
		res = submit_wait(r);
		if (res < 0 && keep_going) {
			printf("failed op=%s errno=%d\n", op_name, -res);
			continue;
		}
		if (res < 0) {
			errno = -res;
			die(op_name);
		}
		printf("read op=%s bytes=%d\n", op_name, res);
	}
}

/*
 * IORING_OP_SPLICE, or IORING_OP_TEE when tee, from stdin into a pipe, or
 * into the file at out_path when it is not NULL.
 */
static void do_splice(struct ring *r, int n, int fixed, int tee, const char *out_path)
{
	int pipefd[2];
	int i, res;

	if (pipe(pipefd))
		die("pipe");
	if (out_path) {
		close(pipefd[1]);
		pipefd[1] = open(out_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (pipefd[1] < 0)
			die(out_path);
	}
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = sqe_get(r);

		sqe->opcode = tee ? IORING_OP_TEE : IORING_OP_SPLICE;
		sqe->fd = pipefd[1];
		sqe->splice_fd_in = fixed ? FIXED_INDEX : STDIN_FILENO;
		sqe->splice_flags = fixed ? SPLICE_F_FD_IN_FIXED : 0;
		if (!tee) {
			/* -1 reads at the file position, and TEE takes no offsets */
			sqe->off = (__u64)-1;
			sqe->splice_off_in = read_offset;
		}
		sqe->len = CHUNK;
		res = submit_wait(r);
		if (res < 0 && keep_going) {
			printf("failed op=%s errno=%d\n", tee ? "tee" : "splice", -res);
			continue;
		}
		if (res < 0) {
			errno = -res;
			die(tee ? "IORING_OP_TEE" : "IORING_OP_SPLICE");
		}
		printf("%s bytes=%d\n", tee ? "tee" : "splice", res);
		if (res > 0 && !out_path && read(pipefd[0], (char[CHUNK]){ 0 }, CHUNK) < 0)
			die("read of the pipe");
	}
}

/* -U and -D of listen mode */
static int listen_unbound;
static int listen_dgram_first;

/* An IORING_OP_LISTEN on a UDP socket, which the kernel rejects. */
static void listen_dgram(struct ring *r)
{
	struct io_uring_sqe *sqe;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int res;

	if (fd < 0)
		die("socket");
	sqe = sqe_get(r);
	sqe->opcode = OP_LISTEN;
	sqe_target(sqe, fd, 0);
	sqe->len = LISTEN_BACKLOG;
	res = submit_wait(r);
	if (res >= 0) {
		fprintf(stderr, "st-uring: IORING_OP_LISTEN on a UDP socket succeeded\n");
		exit(1);
	}
	printf("failed op=listen errno=%d\n", -res);
	close(fd);
}

static void do_listen(struct ring *r, int fixed)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	struct io_uring_sqe *sqe;
	int fd, res;

	if (listen_dgram_first)
		listen_dgram(r);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!listen_unbound && bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("bind");
	if (fixed)
		register_fixed(r, fd);
	sqe = sqe_get(r);
	sqe->opcode = OP_LISTEN;
	sqe_target(sqe, fd, fixed);
	sqe->len = LISTEN_BACKLOG;
	res = submit_wait(r);
	if (res < 0) {
		errno = -res;
		die("IORING_OP_LISTEN");
	}
	if (getsockname(fd, (struct sockaddr *)&addr, &len))
		die("getsockname");
	printf("listen fd=%d port=%d backlog=%d\n", fd, ntohs(addr.sin_port), LISTEN_BACKLOG);
	close(fd);
}

static void do_sync(struct ring *r, int n, const char *dir)
{
	char path[PATH_MAX];
	struct io_uring_sqe *sqe;
	int fd, i, res;

	snprintf(path, sizeof(path), "%s/st-uring.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	for (i = 0; i < 4 * n; i++) {
		if (write(fd, "x", 1) != 1)
			die("write");
		sqe = sqe_get(r);
		sqe->opcode = i < 2 * n ? IORING_OP_FSYNC : IORING_OP_SYNC_FILE_RANGE;
		sqe->fd = fd;
		sqe->len = 0;	/* SYNC_FILE_RANGE: to the end of the file */
		if (i >= n && i < 2 * n)
			sqe->fsync_flags = IORING_FSYNC_DATASYNC;
		if (i >= 2 * n && i < 3 * n)
			sqe->sync_range_flags = SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
		if (i >= 3 * n)
			sqe->sync_range_flags = SYNC_FILE_RANGE_WRITE;
		res = submit_wait(r);
		if (res < 0) {
			errno = -res;
			die(i < 2 * n ? "IORING_OP_FSYNC" : "IORING_OP_SYNC_FILE_RANGE");
		}
	}
	close(fd);
	unlink(path);
}

static void do_open(struct ring *r, int n)
{
	int i;

	for (i = 0; i < n; i++)
		uring_open(r, "/dev/urandom");
}

static void do_install(struct ring *r)
{
	struct io_uring_sqe *sqe;
	char buf[CHUNK];
	int fd;

	register_fixed(r, STDIN_FILENO);
	sqe = sqe_get(r);
	sqe->opcode = OP_FIXED_FD_INSTALL;
	sqe_target(sqe, STDIN_FILENO, 1);
	fd = submit_wait(r);
	if (fd < 0) {
		errno = -fd;
		die("IORING_OP_FIXED_FD_INSTALL");
	}
	printf("fd %d\n", fd);
	if (read(fd, buf, sizeof(buf)) < 0)
		die("read");
}

static void do_rights(struct ring *r)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control = {};
	char byte = 'x', buf[CHUNK];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct io_uring_sqe *sqe;
	struct cmsghdr *cmsg;
	int pair[2], fd, res;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair))
		die("socketpair");
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	fd = STDIN_FILENO;
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(fd));
	if (sendmsg(pair[0], &msg, 0) != 1)
		die("sendmsg");

	memset(control.buf, 0, sizeof(control.buf));
	sqe = sqe_get(r);
	sqe->opcode = IORING_OP_RECVMSG;
	sqe_target(sqe, pair[1], 0);
	sqe->addr = (unsigned long)&msg;
	sqe->len = 1;
	res = submit_wait(r);
	if (res < 0) {
		errno = -res;
		die("IORING_OP_RECVMSG");
	}
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		die("SCM_RIGHTS message");
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));
	printf("fd %d\n", fd);
	if (read(fd, buf, sizeof(buf)) < 0)
		die("read");
}

static void do_cmd(struct ring *r)
{
	struct io_uring_sqe *sqe = sqe_get(r);
	int res;

	sqe->opcode = IORING_OP_URING_CMD;
	sqe_target(sqe, STDIN_FILENO, 0);
	res = submit_wait(r);
	printf("cmd res=%d\n", res);
}

/* Returns the tid of the ring's SQ thread, named iou-sqp-PID, or 0. */
static long find_sq_thread(void)
{
	struct dirent *de;
	DIR *dir = opendir("/proc/self/task");
	long tid = 0;

	if (!dir)
		die("opendir of /proc/self/task");
	while ((de = readdir(dir))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && strncmp(comm, "iou-sqp-", 8) == 0)
			tid = strtol(de->d_name, NULL, 10);
		fclose(f);
	}
	closedir(dir);
	return tid;
}

/* The SQ thread names itself when it starts to run: wait up to 2 s for it. */
static void print_sq_thread(void)
{
	long tid;
	int i;

	for (i = 0; i < 200; i++) {
		tid = find_sq_thread();
		if (tid) {
			printf("sqthread %ld\n", tid);
			return;
		}
		usleep(10000);
	}
	fprintf(stderr, "st-uring: no thread named iou-sqp-PID after 2 s\n");
	exit(1);
}

int main(int argc, char **argv)
{
	const char *op = "read", *mode, *out_path = NULL;
	int n = 2, fixed = 0, sqpoll = 0, single_issuer = 0, async = 0, reopen = 0, opt;
	struct ring r;

	while ((opt = getopt(argc, argv, "n:FPSARO:ko:W:UD")) != -1) {
		switch (opt) {
		case 'n':
			n = atoi(optarg);
			break;
		case 'F':
			fixed = 1;
			break;
		case 'P':
			sqpoll = 1;
			break;
		case 'S':
			single_issuer = 1;
			break;
		case 'A':
			async = 1;
			break;
		case 'R':
			reopen = 1;
			break;
		case 'O':
			read_offset = strtoull(optarg, NULL, 0);
			break;
		case 'k':
			keep_going = 1;
			break;
		case 'o':
			op = optarg;
			break;
		case 'W':
			out_path = optarg;
			break;
		case 'U':
			listen_unbound = 1;
			break;
		case 'D':
			listen_dgram_first = 1;
			break;
		default:
			fprintf(stderr, "usage: st-uring [-n N] [-F] [-P] [-S] [-A] [-R] [-O OFFSET] [-k] [-o OP] [-W PATH] [-U] [-D] MODE [DIR]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "st-uring: missing MODE: use read, splice, tee, listen, sync, open, install, rights or cmd\n");
		return 2;
	}
	mode = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid %d\n", getpid());
	ring_setup(&r, sqpoll, single_issuer);
	r.sqe_flags = async ? IOSQE_ASYNC : 0;
	if (sqpoll)
		print_sq_thread();
	if (fixed && (strcmp(mode, "read") == 0 || strcmp(mode, "splice") == 0 ||
		      strcmp(mode, "tee") == 0))
		register_fixed(&r, STDIN_FILENO);

	if (strcmp(mode, "read") == 0)
		do_read(&r, op, n, reopen ? uring_open(&r, "/proc/self/fd/0") : STDIN_FILENO, fixed);
	else if (strcmp(mode, "splice") == 0 || strcmp(mode, "tee") == 0)
		do_splice(&r, n, fixed, strcmp(mode, "tee") == 0, out_path);
	else if (strcmp(mode, "listen") == 0)
		do_listen(&r, fixed);
	else if (strcmp(mode, "sync") == 0 && optind + 1 < argc)
		do_sync(&r, n, argv[optind + 1]);
	else if (strcmp(mode, "open") == 0)
		do_open(&r, n);
	else if (strcmp(mode, "install") == 0)
		do_install(&r);
	else if (strcmp(mode, "rights") == 0)
		do_rights(&r);
	else if (strcmp(mode, "cmd") == 0)
		do_cmd(&r);
	else {
		fprintf(stderr, "st-uring: invalid MODE '%s' or missing DIR\n", mode);
		return 2;
	}
	close(r.fd);
	printf("done\n");
	return 0;
}
