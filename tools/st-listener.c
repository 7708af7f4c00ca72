// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * st-listener: listen on loopback sockets so tests can watch first-listen.
 *
 * Usage: st-listener [-6] [-b BACKLOG] [-g [-B]] [-u PATH] [-U NAME] [PORT...]
 *   PORT     listen on 127.0.0.1:PORT (::1 with -6); 0 picks an ephemeral port
 *   -u PATH  also listen on a unix socket bound to PATH
 *   -U NAME  also listen on an abstract unix socket named NAME
 *   -b N     backlog passed to listen(2), default 16
 *   -g       wait for SIGUSR1 before the first listen(2), so a tracer can
 *            attach to the running process first
 *   -B       with -g, create and bind the TCP sockets before that wait, so
 *            the process has sockets that do not listen yet
 *
 * Prints "pid N", then one "listen fd=N family=F port=P backlog=B" or
 * "listen fd=N family=unix path=P" line per socket in listen order, then
 * "ready". Exits 0 when stdin reaches end of file or on SIGINT or SIGTERM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_SOCKETS 16

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void die(const char *step, const char *value)
{
	fprintf(stderr, "st-listener: %s '%s' failed: %s\n", step, value,
		strerror(errno));
	exit(1);
}

/* Creates a TCP socket bound to the loopback address and port_arg. */
static int bind_inet(const char *port_arg, int inet6)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	char *end;
	long port;
	int fd;

	port = strtol(port_arg, &end, 10);
	if (*port_arg == '\0' || *end != '\0' || port < 0 || port > 65535) {
		fprintf(stderr, "st-listener: invalid port '%s'\n", port_arg);
		exit(2);
	}

	fd = socket(inet6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket for port", port_arg);

	if (inet6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	}
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind to port", port_arg);
	return fd;
}

static void listen_inet(int fd, const char *port_arg, int inet6, int backlog)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	long port;

	if (listen(fd, backlog))
		die("listen on port", port_arg);

	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		die("getsockname for port", port_arg);
	port = ntohs(inet6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
			     ((struct sockaddr_in *)&ss)->sin_port);
	printf("listen fd=%d family=%s port=%ld backlog=%d\n", fd,
	       inet6 ? "inet6" : "inet", port, backlog);
	fflush(stdout);
}

/* Listen on a unix socket; abstract names get a leading '\0' in sun_path. */
static void listen_unix(const char *name, int abstract, int backlog)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t name_len = strlen(name);
	size_t offset = abstract ? 1 : 0;
	socklen_t len;
	int fd;

	if (name_len + offset >= sizeof(sun.sun_path)) {
		fprintf(stderr, "st-listener: unix socket name '%s' is too long\n", name);
		exit(2);
	}
	memcpy(sun.sun_path + offset, name, name_len);
	len = offsetof(struct sockaddr_un, sun_path) + offset + name_len;
	if (!abstract) {
		unlink(name);
		len++;
	}

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket for unix name", name);
	if (bind(fd, (struct sockaddr *)&sun, len))
		die("bind to unix name", name);
	if (listen(fd, backlog))
		die("listen on unix name", name);

	printf("listen fd=%d family=unix path=%s%s backlog=%d\n", fd,
	       abstract ? "@" : "", name, backlog);
	fflush(stdout);
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

/* Block until stdin reaches end of file or a stop signal arrives. */
static void wait_for_stop(void)
{
	char buf[256];
	ssize_t n;

	while (!stop_requested) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR)
			break;
	}
}

int main(int argc, char **argv)
{
	const char *unix_path = NULL, *abstract_name = NULL;
	struct sigaction sa = { .sa_handler = on_stop };
	int inet6 = 0, go_signal = 0, bind_first = 0, backlog = 16;
	int fds[MAX_SOCKETS];
	int opt, i;

	while ((opt = getopt(argc, argv, "6b:gBu:U:")) != -1) {
		switch (opt) {
		case '6':
			inet6 = 1;
			break;
		case 'b':
			backlog = atoi(optarg);
			break;
		case 'g':
			go_signal = 1;
			break;
		case 'B':
			bind_first = 1;
			break;
		case 'u':
			unix_path = optarg;
			break;
		case 'U':
			abstract_name = optarg;
			break;
		default:
			fprintf(stderr, "usage: st-listener [-6] [-b BACKLOG] [-g [-B]] [-u PATH] [-U NAME] [PORT...]\n");
			return 2;
		}
	}
	if (argc - optind > MAX_SOCKETS) {
		fprintf(stderr, "st-listener: at most %d ports\n", MAX_SOCKETS);
		return 2;
	}

	/* No SA_RESTART, so a stop signal interrupts the blocking read. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	printf("pid %d\n", getpid());
	fflush(stdout);
	for (i = optind; bind_first && i < argc; i++)
		fds[i - optind] = bind_inet(argv[i], inet6);
	if (go_signal)
		wait_for_sigusr1();

	for (i = optind; i < argc; i++) {
		int fd = bind_first ? fds[i - optind] : bind_inet(argv[i], inet6);

		listen_inet(fd, argv[i], inet6, backlog);
	}
	if (unix_path)
		listen_unix(unix_path, 0, backlog);
	if (abstract_name)
		listen_unix(abstract_name, 1, backlog);
	printf("ready\n");
	fflush(stdout);

	wait_for_stop();
	if (unix_path)
		unlink(unix_path);
	return 0;
}
