// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Attach mode: check each -p target, then register it with the tracer. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "session.h"

#define PF_KTHREAD_FLAG 0x00200000	/* PF_KTHREAD of include/linux/sched.h */

char process_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 'X' : 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: the state follows the last ')' */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

int process_gone(pid_t pid)
{
	char state;

	if (kill(pid, 0) && errno == ESRCH)
		return 1;
	state = process_state(pid);
	return state == 'Z' || state == 'X';
}

void read_comm(pid_t pid, char *comm)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	memset(comm, 0, ST_COMM_LEN);
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, ST_COMM_LEN - 1);
		close(fd);
	}
	if (n > 0 && comm[n - 1] == '\n')
		comm[n - 1] = '\0';
}

/* Reads the Tgid and the flags field of /proc/PID/stat. */
static int read_proc_identity(pid_t pid, pid_t *tgid, unsigned long *flags)
{
	char path[64], buf[4096], *p;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "Tgid: %d", tgid) == 1)
			found = 1;
	fclose(f);
	if (!found)
		return -ESRCH;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* comm may hold spaces and parentheses: fields resume after the last ')' */
	p = p ? strrchr(buf, ')') : NULL;
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", flags) != 1)
		return -EIO;
	return 0;
}

/* Starts tracing pid in the kernel, the classifier and idle tracking. */
static int register_target(struct session *s, pid_t pid)
{
	char comm[ST_COMM_LEN];
	struct stdin_id in;
	int err;

	stdin_id_of_pid(pid, &in);
	err = tracer_add(&s->tracer, pid, &in);
	if (err)
		return err;
	read_comm(pid, comm);
	return classifier_add(&s->classifier, pid, comm, boot_now_ns());
}

static int check_target(struct session *s, pid_t pid, pid_t *tgid)
{
	unsigned long flags;
	int err = read_proc_identity(pid, tgid, &flags);

	if (err == -ENOENT || err == -ESRCH) {
		log_error("process %d not found (-p): check the pid with ps", pid);
		return -ESRCH;
	}
	if (err) {
		log_error("cannot read /proc/%d: %s", pid, strerror(-err));
		return err;
	}
	if (process_gone(*tgid)) {
		log_error("process %d has already exited (-p): it is a zombie waiting for its parent", pid);
		return -ESRCH;
	}
	if (flags & PF_KTHREAD_FLAG) {
		log_error("process %d is a kernel thread (-p): only user processes can be traced", pid);
		return -EINVAL;
	}
	if (*tgid == getpid()) {
		log_error("process %d is snaptrig itself (-p): snaptrig never traces its own process", pid);
		return -EINVAL;
	}
	if (*tgid != pid)
		log_info(1, "pid %d is a thread of process %d; tracing the process", pid, *tgid);
	return 0;
}

int attach_targets(struct session *s)
{
	size_t i, j;
	int err;

	for (i = 0; i < s->opts.pid_count; i++) {
		pid_t tgid;

		err = check_target(s, s->opts.pids[i], &tgid);
		if (err)
			return err;
		for (j = 0; j < s->target_count; j++) {
			if (s->targets[j] == tgid) {
				log_error("process %d is named twice (-p): pid %d is in process %d",
					  tgid, s->opts.pids[i], tgid);
				return -EINVAL;
			}
		}
		s->targets[s->target_count++] = tgid;
	}

	for (i = 0; i < s->target_count; i++) {
		pid_t pid = s->targets[i];

		err = register_target(s, pid);
		if (err) {
			log_error("cannot trace process %d: %s", pid, strerror(-err));
			return err;
		}
		/* a target that exited before it was registered would never report */
		if (process_gone(pid)) {
			log_error("process %d exited while snaptrig attached (-p)", pid);
			return -ESRCH;
		}
	}
	return 0;
}

int attach_member(struct session *s, pid_t pid)
{
	unsigned long flags;
	pid_t tgid, *grown;
	int err;

	if (read_proc_identity(pid, &tgid, &flags) || tgid != pid || process_gone(pid))
		return 1;
	if ((flags & PF_KTHREAD_FLAG) || pid == getpid())
		return 1;
	grown = realloc(s->targets, (s->target_count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->targets = grown;
	err = register_target(s, pid);
	/* the kernel traces a process that joined the subtree during the walk */
	if (err == -EEXIST)
		return 1;
	if (err)
		return process_gone(pid) ? 1 : err;
	s->targets[s->target_count++] = pid;
	return 0;
}
