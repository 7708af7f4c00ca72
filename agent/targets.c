// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Attach mode: check each -p target, then register it with the tracer. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "compat.h"
#include "container.h"
#include "log.h"
#include "prior.h"
#include "session.h"
#include "usdt.h"

#define PF_KTHREAD_FLAG 0x00200000	/* PF_KTHREAD of include/linux/sched.h */

char process_state(pid_t pid)
{
	char path[64], state;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	state = proc_stat_state(path);
	/* a process that was reaped has no /proc entry */
	if (!state && access(path, F_OK) && errno == ENOENT)
		return 'X';
	return state;
}

/* The number after key (such as "Threads:") in /proc/PID/status, or 0 when unknown. */
static int status_number(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t key_len = strlen(key);
	int number = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, key_len)) {
			number = atoi(line + key_len);
			break;
		}
	}
	fclose(f);
	return number;
}

static int thread_count(pid_t pid)
{
	return status_number(pid, "Threads:");
}

pid_t parent_of(pid_t pid)
{
	return status_number(pid, "PPid:");
}

int process_gone(pid_t pid)
{
	char state;

	if (kill(pid, 0) && errno == ESRCH)
		return 1;
	state = process_state(pid);
	if (state == 'X')
		return 1;
	/* a leader that called pthread_exit() is a zombie while its threads run */
	return state == 'Z' && thread_count(pid) <= 1;
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

pid_t thread_group_of(pid_t tid)
{
	unsigned long flags;
	pid_t tgid = 0;
	int err = read_proc_identity(tid, &tgid, &flags);

	return err ? err : tgid;
}

/*
 * Checks one -p pid and sets *tgid to its process. Returns 0, 1 for a
 * process that has exited but is not reaped yet (a zombie), or -errno after
 * a message.
 */
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
	if (process_gone(*tgid))
		return 1;
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

int check_targets(struct session *s)
{
	pid_t *zombies = calloc(s->opts.pid_count ? s->opts.pid_count : 1, sizeof(*zombies));
	size_t i, j, zombie_count = 0;
	int err = 0;

	if (!zombies)
		return -ENOMEM;
	for (i = 0; i < s->opts.pid_count && !err; i++) {
		pid_t tgid;

		err = check_target(s, s->opts.pids[i], &tgid);
		if (err == 1) {
			zombies[zombie_count++] = s->opts.pids[i];
			err = 0;
			continue;
		}
		if (err)
			break;
		for (j = 0; j < s->target_count; j++) {
			if (s->targets[j] == tgid) {
				log_error("process %d is named twice (-p): pid %d is in process %d",
					  tgid, s->opts.pids[i], tgid);
				err = -EINVAL;
				break;
			}
		}
		if (!err)
			s->targets[s->target_count++] = tgid;
	}
	/* an exited process among live ones is left out, as one that exits during the load is */
	for (i = 0; !err && i < zombie_count; i++) {
		if (s->target_count)
			log_info(0, "process %d has already exited (-p): it is a zombie waiting for its parent; not traced",
				 zombies[i]);
		else
			log_error("process %d has already exited (-p): it is a zombie waiting for its parent",
				  zombies[i]);
	}
	if (!err && zombie_count && !s->target_count)
		err = -ESRCH;
	free(zombies);
	return err;
}

/*
 * Drops target i, which exited while the programs loaded, and the kernel
 * entry it got too late for its exit to be seen.
 */
static void drop_target(struct session *s, size_t i)
{
	pid_t pid = s->targets[i];

	log_info(0, "process %d exited before snaptrig could attach (-p); not traced", pid);
	tracer_remove(&s->tracer, pid);
	classifier_remove(&s->classifier, pid);
	memmove(&s->targets[i], &s->targets[i + 1], (s->target_count - i - 1) * sizeof(*s->targets));
	s->target_count--;
}

int attach_targets(struct session *s)
{
	size_t i = 0;
	int err;

	s->priors = calloc(s->target_count ? s->target_count : 1, sizeof(*s->priors));
	if (!s->priors)
		return -ENOMEM;
	while (i < s->target_count) {
		pid_t pid = s->targets[i];

		/* check_targets() saw it before the programs loaded, which takes a while */
		if (process_gone(pid)) {
			drop_target(s, i);
			continue;
		}
		err = attach_process(s, pid, &s->priors[i]);
		if (err) {
			log_error("cannot trace process %d: %s", pid, strerror(-err));
			return err;
		}
		/* an exit after the entry was added sends its record and removes the entry */
		if (process_gone(pid) && tracer_has(&s->tracer, pid)) {
			drop_target(s, i);
			continue;
		}
		i++;
	}
	return 0;
}

int attach_process(struct session *s, pid_t pid, struct prior_state *prior)
{
	char comm[ST_COMM_LEN];
	struct proc_entry *proc;
	struct stdin_id in;
	int err, claimed;

	stdin_id_of_pid(pid, &in);
	err = tracer_add(&s->tracer, pid, &in);
	if (err)
		return err;
	/*
	 * The kernel hooks record every call made after the entry exists, and
	 * this scan finds what earlier calls left, so no call falls between the
	 * two. When both found a trigger, the kernel's record reports it, with
	 * "since":"attach", because an earlier call may have left what the scan
	 * found.
	 */
	prior_scan(pid, s->opts.triggers, prior);
	claimed = tracer_set_once(&s->tracer, pid, prior_once_bits(prior));
	/* a process that exited has no entry, and its exit record is on its way */
	if (claimed == -ENOENT)
		claimed = 0;
	if (claimed < 0)
		return claimed;
	prior_drop(prior, claimed);
	read_comm(pid, comm);
	err = classifier_add(&s->classifier, pid, comm, boot_now_ns());
	if (err)
		return err;
	proc = classifier_find(&s->classifier, pid);
	proc->since_attach = prior_unknown_bits(prior, s->opts.triggers);
	return 0;
}

void report_prior(struct session *s, pid_t pid, struct prior_state *prior)
{
	struct proc_entry *proc = classifier_find(&s->classifier, pid);
	struct st_record_header hdr = {
		.boot_ns = boot_now_ns(),
		.flags = ST_RECORD_AGENT,
		.pid = pid,
		.tid = pid,
	};

	if (proc)
		memcpy(hdr.comm, proc->comm, sizeof(hdr.comm));
	if (prior->listening) {
		prior->listen.hdr = hdr;
		prior->listen.hdr.kind = ST_REC_LISTEN;
		prior->listen.hdr.size = sizeof(prior->listen);
		classifier_at_attach(&s->classifier, ST_TRIG_FIRST_LISTEN, &prior->listen.hdr);
	}
	if (prior->stdin_read) {
		struct st_stdin_record rec = { .hdr = hdr, .fd = 0 };

		rec.hdr.kind = ST_REC_STDIN;
		rec.hdr.size = sizeof(rec);
		classifier_at_attach(&s->classifier, ST_TRIG_FIRST_STDIN, &rec.hdr);
	}
}

/* Triggers that the ia32 and io_uring hooks serve. */
#define DECODED_TRIGGERS (ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) | ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) | \
			  ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL) |			\
			  ST_TRIG_BIT(ST_TRIG_TRANSACTION))

/* Whether an --environ-probe names the file dev:ino, which then shows environment reads. */
static int environ_probed(const struct options *opts, dev_t dev, ino_t ino)
{
	struct stat st;
	size_t i;

	for (i = 0; i < opts->environ_probe_count; i++)
		if (!stat(opts->environ_probes[i].binary, &st) && st.st_dev == dev &&
		    st.st_ino == ino)
			return 1;
	return 0;
}

/*
 * Whether the running process pid has no ELF interpreter, as the AT_BASE 0
 * of its auxiliary vector shows for a static or static-pie program.
 */
static int process_without_interp(pid_t pid)
{
	unsigned char auxv[4096];
	size_t entry = process_is_ia32(pid) ? sizeof(__u32) : sizeof(__u64);
	char path[64];
	ssize_t len;
	size_t at;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, auxv, sizeof(auxv));
	close(fd);
	for (at = 0; len > 0 && at + 2 * entry <= (size_t)len; at += 2 * entry) {
		__u64 type = 0, value = 0;

		memcpy(&type, auxv + at, entry);
		memcpy(&value, auxv + at + entry, entry);
		if (type == AT_NULL)
			break;
		if (type == AT_BASE)
			return value == 0;
	}
	return 0;
}

/*
 * Writes that first-environ is blind for pid, which runs a static program
 * from the file dev:ino. Its libc is linked in, so no probed getenv runs.
 */
static void report_static(struct session *s, pid_t pid, const char *comm, __u64 now,
			  dev_t dev, ino_t ino)
{
	if (environ_probed(&s->opts, dev, ino))
		return;
	classifier_coverage(&s->classifier, pid, comm, now, ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON),
			    ST_VIA_STATIC, ST_COVERAGE_USER_SPACE, 0);
}

void static_on_exec(struct session *s, const struct st_exec_record *rec)
{
	char exe[64];

	if (!rec->no_interp || !(s->opts.triggers & ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON)))
		return;
	/* the dynamic loader run as a command (ld.so PROGRAM) loads a libc after all */
	snprintf(exe, sizeof(exe), "/proc/%u/exe", rec->hdr.pid);
	if (elf_file_has_soname(exe) == 1 || elf_file_has_soname(rec->filename) == 1)
		return;
	report_static(s, rec->hdr.pid, rec->hdr.comm, rec->hdr.boot_ns, user_dev(rec->image.dev),
		      rec->image.ino);
}

void report_coverage(struct session *s, pid_t pid)
{
	const char *comm = NULL;
	__u64 now = boot_now_ns();
	__u32 via;

	/* the launched child still runs snaptrig's code: name it as exec will */
	if (pid == s->child && s->opts.command) {
		comm = strrchr(s->opts.command[0], '/');
		comm = comm ? comm + 1 : s->opts.command[0];
	}
	for (via = 0; via < ST_VIA_COUNT; via++)
		if (s->tracer.blind_vias & (1u << via))
			classifier_coverage(&s->classifier, pid, comm, now, DECODED_TRIGGERS, via,
					    ST_COVERAGE_NO_HOOK, s->tracer.blind_errors[via]);
	/*
	 * Without the ia32 hook, int $0x80 calls of any process and every call
	 * of a 32-bit program are not seen. --ia32 auto attaches the hook for
	 * the first 32-bit program, and ia32_on_exec() marks an exec'd one late.
	 */
	if (s->opts.ia32 == IA32_OFF ||
	    (s->opts.ia32 == IA32_AUTO && compat_waiting(&s->tracer)))
		classifier_coverage(&s->classifier, pid, comm, now, DECODED_TRIGGERS, ST_VIA_IA32,
				    ST_COVERAGE_OFF, 0);
	/* clock reads that the vDSO serves never enter the kernel */
	classifier_coverage(&s->classifier, pid, comm, now,
			    ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL), ST_VIA_VDSO,
			    ST_COVERAGE_USER_SPACE, 0);
	/* the launched child still runs snaptrig's image, so its exec record decides */
	if (pid != s->child && (s->opts.triggers & ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON)) &&
	    process_without_interp(pid)) {
		char exe[64];
		struct stat st;

		snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
		if (!stat(exe, &st))
			report_static(s, pid, comm, now, st.st_dev, st.st_ino);
	}
}

void ia32_at_start(struct session *s)
{
	if (s->opts.ia32 == IA32_AUTO && s->opts.command && command_is_ia32(s->opts.command[0]))
		compat_attach(&s->tracer);
}

void ia32_on_exec(struct session *s, const struct st_exec_record *rec)
{
	__u32 pid = rec->hdr.pid;
	int stopped_at_exec = !!(rec->hdr.flags & (ST_RECORD_HOOK_HELD | ST_RECORD_HELD));
	__u64 attached;

	if (!rec->ia32 || s->opts.ia32 != IA32_AUTO || !compat_waiting(&s->tracer))
		return;
	if (compat_attach(&s->tracer)) {
		/* the load failed after this process's coverage line reported off */
		classifier_coverage(&s->classifier, pid, NULL, boot_now_ns(), DECODED_TRIGGERS,
				    ST_VIA_IA32, ST_COVERAGE_NO_HOOK,
				    s->tracer.blind_errors[ST_VIA_IA32]);
		return;
	}
	attached = boot_now_ns();
	/*
	 * The load takes about 30 ms. A process that runs again by then was
	 * resumed by someone else, such as a second snaptrig that stopped it at
	 * the same exec, and its image's first calls went unseen.
	 */
	if (stopped_at_exec && process_state((pid_t)pid) != 'T')
		stopped_at_exec = 0;
	if (!stopped_at_exec)
		/* the image ran before the hook was attached: mark from when on it is seen */
		classifier_coverage(&s->classifier, pid, NULL, attached, DECODED_TRIGGERS,
				    ST_VIA_IA32, ST_COVERAGE_LATE, 0);
}

void report_target(struct session *s, size_t i)
{
	/* a running 32-bit target: calls from now on are seen, like the others */
	if (s->opts.ia32 == IA32_AUTO && !s->opts.command && process_is_ia32(s->targets[i]))
		compat_attach(&s->tracer);
	if (s->priors)
		report_prior(s, s->targets[i], &s->priors[i]);
	report_coverage(s, s->targets[i]);
}

void report_targets(struct session *s)
{
	size_t i;

	for (i = 0; i < s->target_count; i++) {
		/* its lines here come before any record that carries these fields */
		container_seed((__u32)s->targets[i], s->opts.cgroup.id != 0);
		report_target(s, i);
	}
}

int attach_member(struct session *s, pid_t pid)
{
	struct prior_state *priors;
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
	priors = realloc(s->priors, (s->target_count + 1) * sizeof(*priors));
	if (!priors)
		return -ENOMEM;
	s->priors = priors;
	err = attach_process(s, pid, &s->priors[s->target_count]);
	/* the kernel traces a process that joined the subtree during the walk */
	if (err == -EEXIST)
		return 1;
	if (err)
		return process_gone(pid) ? 1 : err;
	s->targets[s->target_count++] = pid;
	return 0;
}
