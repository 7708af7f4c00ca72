// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Launch mode. The child blocks on a pipe until the agent has put its pid in
 * the procs map, so the programs see COMMAND from its first instruction: the
 * exec itself is the first traced event. A second, close-on-exec pipe carries
 * execvp()'s errno back; EOF on it means the exec succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "fdlimit.h"
#include "log.h"
#include "session.h"
#include "usdt.h"

#define EXIT_NOT_FOUND 127
#define EXIT_NOT_EXECUTABLE 126

/*
 * Executes COMMAND from the path the parent resolved. execvp() would call
 * getenv("PATH") in the child, which is traced already, and that would be
 * COMMAND's first-environ. execv() runs exactly the file it is given: the
 * kernel runs a #! script's interpreter, and any other file it cannot
 * execute fails with ENOEXEC, where execvp() would run it with /bin/sh.
 */
static void exec_command(char **argv, const char *path, int search_err)
{
	if (path)
		execv(path, argv);
	else if (strchr(argv[0], '/'))
		execv(argv[0], argv);	/* for the kernel's own errno */
	else
		errno = -search_err;
}

static void child_exec(struct session *s, int gate_fd, int error_fd, const char *path,
		       int search_err)
{
	char go;
	int err, fd;

	/* COMMAND gets the mask and dispositions that snaptrig started with */
	sigaction(SIGPIPE, &s->orig_pipe, NULL);
	sigaction(SIGCHLD, &s->orig_chld, NULL);
	sigprocmask(SIG_SETMASK, &s->orig_mask, NULL);
	fd_limit_restore();
	if (read(gate_fd, &go, 1) != 1)
		_exit(EXIT_NOT_FOUND);
	close(gate_fd);
	/* a standard stream closed for snaptrig is closed for COMMAND, not /dev/null */
	for (fd = 0; fd <= 2; fd++)
		if (s->closed_fds & (1u << fd))
			close(fd);
	exec_command(s->opts.command, path, search_err);
	err = errno;
	if (write(error_fd, &err, sizeof(err)) < 0)
		_exit(EXIT_NOT_FOUND);
	_exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE);
}

static int exec_result(struct session *s, int error_fd)
{
	const char *cmd = s->opts.command[0];
	char path[PATH_MAX];
	ssize_t n;
	int err;

	do
		n = read(error_fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != sizeof(err))
		err = EIO;
	waitpid(s->child, &s->child_status, 0);
	s->child_reaped = 1;
	if (usdt_interpreter_missing(cmd, err, path, sizeof(path))) {
		log_error("cannot execute COMMAND '%s' (%s): " USDT_NO_INTERPRETER, cmd, path);
		return EXIT_NOT_FOUND;
	}
	if (err == ENOENT) {
		log_error("COMMAND '%s' not found; check the name or give its path", cmd);
		return EXIT_NOT_FOUND;
	}
	if (err == ENOEXEC) {
		log_error("cannot execute COMMAND '%s': %s; give a program built for this machine, or a script with a #! line",
			  cmd, strerror(err));
		return EXIT_NOT_EXECUTABLE;
	}
	log_error("cannot execute COMMAND '%s': %s", cmd, strerror(err));
	return EXIT_NOT_EXECUTABLE;
}

int launch_command(struct session *s)
{
	int gate[2] = { -1, -1 }, error_pipe[2] = { -1, -1 };
	char resolved[PATH_MAX];
	struct stdin_id in;
	int err, search_err;

	search_err = usdt_resolve_command(s->opts.command[0], getenv("PATH"), resolved,
					  sizeof(resolved));

	if (pipe2(gate, O_CLOEXEC) || pipe2(error_pipe, O_CLOEXEC)) {
		err = -errno;
		log_error("cannot create pipes for COMMAND: %s", strerror(errno));
		goto out;
	}
	/*
	 * COMMAND stays in snaptrig's process group, so a terminal's Ctrl-C
	 * reaches it. NOTE: if that group becomes orphaned while COMMAND is held
	 * (stopped), the kernel sends it SIGHUP and SIGCONT.
	 */
	s->child = fork();
	if (s->child < 0) {
		err = -errno;
		log_error("cannot fork COMMAND: %s", strerror(errno));
		s->child = 0;
		goto out;
	}
	if (s->child == 0) {
		close(gate[1]);
		close(error_pipe[0]);
		child_exec(s, gate[0], error_pipe[1], search_err ? NULL : resolved, search_err);
	}
	close(gate[0]);
	close(error_pipe[1]);
	gate[0] = error_pipe[1] = -1;

	/* the child inherits the agent's stdin, and has none when it was closed */
	if ((s->closed_fds & (1u << STDIN_FILENO)) || stdin_id_of_fd(STDIN_FILENO, &in))
		memset(&in, 0, sizeof(in));
	err = tracer_add(&s->tracer, s->child, &in);
	if (err) {
		log_error("cannot trace COMMAND (pid %d): %s", s->child, strerror(-err));
		kill(s->child, SIGKILL);
		waitpid(s->child, &s->child_status, 0);
		s->child_reaped = 1;
		goto out;
	}
	if (classifier_add(&s->classifier, s->child, "snaptrig", boot_now_ns()) == 0)
		classifier_find(&s->classifier, s->child)->before_exec = 1;
	s->child_pidfd = syscall(SYS_pidfd_open, s->child, 0);
	s->targets[s->target_count++] = s->child;

	if (write(gate[1], "x", 1) != 1) {
		err = -errno;
		log_error("cannot start COMMAND: %s", strerror(errno));
		goto out;
	}
	err = exec_result(s, error_pipe[0]);
out:
	if (gate[0] >= 0)
		close(gate[0]);
	if (gate[1] >= 0)
		close(gate[1]);
	if (error_pipe[0] >= 0)
		close(error_pipe[0]);
	if (error_pipe[1] >= 0)
		close(error_pipe[1]);
	return err;
}
