// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-idle: processes that block and run in known ways, for the idle trigger.
 *
 * Usage: st-idle MODE [ARG...]
 *   accept             listen on 127.0.0.1 and accept connections one at a
 *                      time; prints "port N", then "accepted" per connection
 *   busy               spin on one CPU without blocking
 *   sleep              block reading stdin
 *   threads N blocked  start N more threads that block on a pipe
 *   threads N busy     the same, but one of the N spins without blocking
 *   thread-exit N      start N threads that spin for 20 ms and exit while
 *                      runnable; prints "joined" once all have exited
 *   churn N MS         for MS milliseconds, N threads alternate short spins
 *                      and short sleeps while the main thread starts and
 *                      joins short-lived threads; then every thread blocks
 *                      and "settled" is printed
 *   fork               fork a child that blocks reading stdin, then wait
 *                      for it; prints "child N"
 *   exec-thread        a second thread execs "st-idle sleep" (the process
 *                      keeps its pid; the exec'ing thread takes it over)
 *
 * Every mode prints "pid N", one "tid N" per thread it starts, then "ready"
 * once every thread is in place, and exits 0 when stdin reaches end of file.
 * Spinning modes check stdin without blocking and stop after 30 s at most,
 * so a test that dies never leaves a CPU busy for long.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SPIN_MAX_NS (30 * 1000000000LL)
#define THREAD_EXIT_SPIN_NS (20 * 1000000LL)
#define THREADS_MAX 64

static int block_pipe[2] = { -1, -1 };	/* never written: threads block reading it */
static pthread_barrier_t started;
static char *self_path;

static void die(const char *call)
{
	fprintf(stderr, "st-idle: %s failed: %s\n", call, strerror(errno));
	exit(1);
}

/* Prints one "NAME VALUE" fact line for the test. */
static void fact(const char *name, long value)
{
	printf("%s %ld\n", name, value);
	fflush(stdout);
}

static void say(const char *word)
{
	printf("%s\n", word);
	fflush(stdout);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Blocks until stdin reaches end of file; data read is discarded. */
static void wait_stdin_eof(void)
{
	char buf[256];
	ssize_t n;

	do
		n = read(STDIN_FILENO, buf, sizeof(buf));
	while (n > 0 || (n < 0 && errno == EINTR));
}

/* Returns 1 when stdin has reached end of file; never blocks. */
static int stdin_ended(void)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	char buf[256];

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	return read(STDIN_FILENO, buf, sizeof(buf)) <= 0;
}

/* Spins until stdin ends (when check_stdin) or for at most limit_ns. */
static void spin(long long limit_ns, int check_stdin)
{
	long long start = now_ns();
	unsigned long i = 0;

	while (now_ns() - start < limit_ns) {
		if (check_stdin && ++i % 4096 == 0 && stdin_ended())
			return;
	}
}

static void *blocked_thread(void *arg)
{
	char c;

	(void)arg;
	fact("tid", syscall(SYS_gettid));
	pthread_barrier_wait(&started);
	while (read(block_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static volatile int spinning = 1;

static void *busy_thread(void *arg)
{
	long long start;

	(void)arg;
	fact("tid", syscall(SYS_gettid));
	pthread_barrier_wait(&started);
	start = now_ns();
	while (spinning && now_ns() - start < SPIN_MAX_NS)
		;
	return NULL;
}

static void *exiting_thread(void *arg)
{
	(void)arg;
	fact("tid", syscall(SYS_gettid));
	pthread_barrier_wait(&started);
	spin(THREAD_EXIT_SPIN_NS, 0);
	return NULL;
}

/* A thread that lives for a few spins, for run_churn. */
static void *exiting_brief(void *arg)
{
	(void)arg;
	spin(50000, 0);
	return NULL;
}

static int parse_count(const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || n < 1 || n > THREADS_MAX) {
		fprintf(stderr, "st-idle: invalid thread count '%s' (use 1 to %d)\n", arg,
			THREADS_MAX);
		exit(2);
	}
	return (int)n;
}

/* Starts n threads; with busy, the first one spins. */
static void start_threads(pthread_t *threads, int n, void *(*fn)(void *),
			  void *(*first)(void *))
{
	int i;

	if (pipe(block_pipe))
		die("pipe");
	if (pthread_barrier_init(&started, NULL, n + 1))
		die("pthread_barrier_init");
	for (i = 0; i < n; i++) {
		errno = pthread_create(&threads[i], NULL, i == 0 && first ? first : fn, NULL);
		if (errno)
			die("pthread_create");
	}
	pthread_barrier_wait(&started);
}

static int run_threads(int argc, char **argv)
{
	pthread_t threads[THREADS_MAX];
	int n, busy;

	if (argc != 4 || (strcmp(argv[3], "blocked") && strcmp(argv[3], "busy"))) {
		fprintf(stderr, "usage: st-idle threads N blocked|busy\n");
		return 2;
	}
	n = parse_count(argv[2]);
	busy = !strcmp(argv[3], "busy");
	start_threads(threads, n, blocked_thread, busy ? busy_thread : NULL);
	say("ready");
	wait_stdin_eof();
	spinning = 0;
	if (busy)
		pthread_join(threads[0], NULL);
	return 0;
}

static int run_thread_exit(int argc, char **argv)
{
	pthread_t threads[THREADS_MAX];
	int i, n;

	if (argc != 3) {
		fprintf(stderr, "usage: st-idle thread-exit N\n");
		return 2;
	}
	n = parse_count(argv[2]);
	start_threads(threads, n, exiting_thread, NULL);
	say("ready");
	for (i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	say("joined");
	wait_stdin_eof();
	return 0;
}

static int run_accept(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct pollfd pfds[2];
	socklen_t len = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 16))
		die("bind or listen on 127.0.0.1");
	if (getsockname(fd, (struct sockaddr *)&sin, &len))
		die("getsockname");
	fact("port", ntohs(sin.sin_port));
	say("ready");

	pfds[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
	pfds[1] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	for (;;) {
		int conn;

		if (poll(pfds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfds[1].revents && stdin_ended())
			return 0;
		if (!(pfds[0].revents & POLLIN))
			continue;
		conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0)
			die("accept");
		say("accepted");
		close(conn);
	}
}

static int run_fork(void)
{
	pid_t child = fork();
	int status;

	if (child < 0)
		die("fork");
	if (child == 0) {
		wait_stdin_eof();
		_exit(0);
	}
	fact("child", child);
	say("ready");
	if (waitpid(child, &status, 0) != child)
		die("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void *exec_thread(void *arg)
{
	char *args[] = { self_path, "sleep", NULL };

	(void)arg;
	fact("tid", syscall(SYS_gettid));
	execv(self_path, args);
	die("execv");
	return NULL;
}

static volatile int churning = 1;

/* Alternates spins and sleeps of 0 to 200 us until churning ends, then blocks. */
static void *churn_thread(void *arg)
{
	unsigned int seed = (unsigned int)(long)arg;
	char c;

	fact("tid", syscall(SYS_gettid));
	pthread_barrier_wait(&started);
	while (churning) {
		struct timespec nap = { .tv_nsec = 1000 * (rand_r(&seed) % 200) };

		spin(1000 * (rand_r(&seed) % 200), 0);
		nanosleep(&nap, NULL);
	}
	pthread_barrier_wait(&started);
	while (read(block_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static int run_churn(int argc, char **argv)
{
	pthread_t threads[THREADS_MAX], brief;
	long long end;
	int i, n;

	if (argc != 4) {
		fprintf(stderr, "usage: st-idle churn N MS\n");
		return 2;
	}
	n = parse_count(argv[2]);
	end = now_ns() + 1000000LL * strtol(argv[3], NULL, 10);
	if (pipe(block_pipe))
		die("pipe");
	if (pthread_barrier_init(&started, NULL, n + 1))
		die("pthread_barrier_init");
	for (i = 0; i < n; i++) {
		errno = pthread_create(&threads[i], NULL, churn_thread, (void *)(long)(i + 1));
		if (errno)
			die("pthread_create");
	}
	pthread_barrier_wait(&started);
	say("ready");
	while (now_ns() < end) {
		errno = pthread_create(&brief, NULL, exiting_brief, NULL);
		if (errno)
			die("pthread_create");
		pthread_join(brief, NULL);
	}
	churning = 0;
	pthread_barrier_wait(&started);
	say("settled");
	wait_stdin_eof();
	return 0;
}

static int run_exec_thread(void)
{
	pthread_t thread;

	errno = pthread_create(&thread, NULL, exec_thread, NULL);
	if (errno)
		die("pthread_create");
	/* the exec ends this thread; the join only blocks until then */
	pthread_join(thread, NULL);
	return 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	self_path = argv[0];
	fact("pid", getpid());
	if (!strcmp(mode, "accept") && argc == 2)
		return run_accept();
	if (!strcmp(mode, "busy") && argc == 2) {
		say("ready");
		spin(SPIN_MAX_NS, 1);
		return 0;
	}
	if (!strcmp(mode, "sleep") && argc == 2) {
		say("ready");
		wait_stdin_eof();
		return 0;
	}
	if (!strcmp(mode, "threads"))
		return run_threads(argc, argv);
	if (!strcmp(mode, "thread-exit"))
		return run_thread_exit(argc, argv);
	if (!strcmp(mode, "churn"))
		return run_churn(argc, argv);
	if (!strcmp(mode, "fork") && argc == 2)
		return run_fork();
	if (!strcmp(mode, "exec-thread") && argc == 2)
		return run_exec_thread();
	fprintf(stderr,
		"usage: st-idle accept|busy|sleep|fork|exec-thread\n"
		"       st-idle threads N blocked|busy\n"
		"       st-idle thread-exit N\n"
		"       st-idle churn N MS\n");
	return 2;
}
