// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "compat.h"
#include "fdlimit.h"
#include "guard.h"
#include "jsonparse.h"
#include "idle.h"
#include "log.h"
#include "triggers.h"
#include "session.h"
#include "snapshot.h"
#include "uprobes.h"
#include "usdt.h"

#define KILL_GRACE_NS 1000000000ULL	/* SIGTERM to SIGKILL for a timed-out command */
#define REPLY_ERROR_MAX 500	/* bytes of a reply's error text kept for the snapshot line */
#define REPLY_REASON_LEN 160	/* a message about what makes a reply invalid */
#define REPLY_SHOWN_MAX 200	/* bytes of an invalid reply shown in its message */

int snapshots_enabled(const struct snapshots *sn)
{
	return sn->opts && (sn->opts->exec_template || sn->opts->request_socket);
}

/*
 * The watchdog resumes held processes when the agent dies without doing it
 * itself, even by SIGKILL. It is a child in its own session, so signals for
 * the agent's terminal or process group do not reach it. It keeps only the
 * holds map and a pipe whose other end belongs to the agent, so EOF on the
 * pipe means the agent is gone.
 */
static void resume_held(int holds_fd)
{
	__u32 key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(holds_fd, prev, &next) == 0) {
		struct st_hold hold;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(holds_fd, &key, &hold) == 0 &&
		    !(hold.flags & ST_HOLD_FOREIGN_STOP))
			kill((pid_t)key, SIGCONT);
	}
}

/*
 * The agent sends the watchdog 5-byte messages, each written at once: a
 * kind, then a process group in host byte order. It names each checkpointer
 * group when it starts and when it ends, and sends WATCHDOG_DETACHED before
 * it closes the pipe once its programs are detached. EOF without it means
 * the agent died. The watchdog then kills the running checkpointers first,
 * because their children (gdb under gcore, say) would go on dumping a
 * process that is running again. The agent's programs stay attached until
 * the kernel has closed all its fds, and one may stop a process again
 * meanwhile. So the watchdog waits for the agent's exit and then scans the
 * holds map twice.
 */
#define WATCHDOG_STARTED 'S'
#define WATCHDOG_ENDED 'E'
#define WATCHDOG_DETACHED 'D'
#define WATCHDOG_MESSAGE_LEN 5
#define WATCHDOG_RESCAN_US 50000

/* The checkpointer groups that the agent named and did not end yet. */
struct group_set {
	pid_t *groups;
	size_t count, cap;
};

static void group_set_remove(struct group_set *set, pid_t group)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		if (set->groups[i] == group) {
			set->groups[i] = set->groups[--set->count];
			return;
		}
	}
}

static void group_set_add(struct group_set *set, pid_t group)
{
	if (group <= 0)
		return;
	if (set->count == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		pid_t *groups = realloc(set->groups, cap * sizeof(*groups));

		/* NOTE: without memory this group is not killed when the agent dies */
		if (!groups)
			return;
		set->groups = groups;
		set->cap = cap;
	}
	set->groups[set->count++] = group;
}

static void watchdog_main(int holds_fd, int pipe_fd, int agent_pidfd)
{
	struct pollfd pfd = { .fd = agent_pidfd, .events = POLLIN };
	struct group_set running = {};
	unsigned char message[WATCHDOG_MESSAGE_LEN];
	char last = 0;
	__u32 group;
	size_t i;

	while (read(pipe_fd, message, sizeof(message)) == (ssize_t)sizeof(message)) {
		last = (char)message[0];
		memcpy(&group, message + 1, sizeof(group));
		if (last == WATCHDOG_STARTED)
			group_set_add(&running, (pid_t)group);
		else if (last == WATCHDOG_ENDED)
			group_set_remove(&running, (pid_t)group);
	}
	if (last != WATCHDOG_DETACHED) {
		for (i = 0; i < running.count; i++)
			kill(-running.groups[i], SIGKILL);
		if (agent_pidfd >= 0)
			poll(&pfd, 1, 1000);
	}
	resume_held(holds_fd);
	if (last != WATCHDOG_DETACHED) {
		usleep(WATCHDOG_RESCAN_US);
		resume_held(holds_fd);
	}
	_exit(0);
}

/* Sends the watchdog one message, with group 0 for WATCHDOG_DETACHED. Returns 0 or -1. */
static int watchdog_send(struct snapshots *sn, char kind, pid_t group)
{
	unsigned char message[WATCHDOG_MESSAGE_LEN] = { (unsigned char)kind };
	__u32 value = (__u32)group;

	if (sn->watchdog_fd < 0)
		return 0;
	memcpy(message + 1, &value, sizeof(value));
	return write(sn->watchdog_fd, message, sizeof(message)) == (ssize_t)sizeof(message) ?
	       0 : -1;
}

static int start_watchdog(struct snapshots *sn)
{
	int fds[2], agent_pidfd;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	if (!sn->guard)
		sn->guard = guard_open(sn->tracer);
	/* opened before the fork: a child that opened it could find the agent dead already */
	agent_pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		if (agent_pidfd >= 0)
			close(agent_pidfd);
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		int holds_fd = dup2(sn->tracer->holds_fd, 3);
		unsigned int first_closed = 6;

		setsid();
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		dup2(fds[0], 4);
		if (agent_pidfd >= 0)
			agent_pidfd = dup2(agent_pidfd, 5);
		else
			close(5);
		/* the guard stays attached until the watchdog exits, to run at that exit */
		if (sn->guard && dup2(guard_link_fd(sn->guard), 6) == 6)
			first_closed = 7;
		/* drop every other fd, BPF links above all, so nothing stays attached */
		syscall(SYS_close_range, first_closed, ~0U, 0);
		watchdog_main(holds_fd, 4, agent_pidfd);
	}
	if (agent_pidfd >= 0)
		close(agent_pidfd);
	close(fds[0]);
	sn->watchdog_fd = fds[1];
	sn->watchdog = pid;
	guard_set_watchdog(sn->guard, pid);
	return 0;
}

int snapshots_init(struct snapshots *sn, const struct options *opts, struct emitter *e,
		   struct tracer *t)
{
	char why[TEMPLATE_ERROR_LEN], quoted[TEMPLATE_QUOTE_LEN];
	int err;

	memset(sn, 0, sizeof(*sn));
	sn->opts = opts;
	sn->emitter = e;
	sn->tracer = t;
	sn->epoll_fd = -1;
	sn->watchdog_fd = -1;
	if (snapshots_enabled(sn) && opts->exec_template &&
	    template_parse(opts->exec_template, &sn->template, why, sizeof(why))) {
		template_quote(opts->exec_template, quoted);
		log_error("invalid template '%s' for --exec: %s", quoted, why);
		return -EINVAL;
	}
	/* besides --freeze, execs of images whose hooks the agent attaches stop processes */
	if ((snapshots_enabled(sn) && opts->freeze) || (compat_waiting(t) && opts->ia32 == IA32_AUTO) ||
	    (opts->triggers & UPROBE_TRIGGERS)) {
		err = start_watchdog(sn);
		if (err) {
			log_error("cannot start the watchdog that resumes held processes: %s",
				  strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * Returns the request of the live process pid, or NULL. A request can outlive
 * its process, and a new process that gets the pid meanwhile needs its own.
 */
static struct snapshot_job *job_of_pid(const struct snapshots *sn, __u32 pid)
{
	size_t i;

	for (i = 0; i < sn->job_count; i++)
		if (sn->jobs[i]->pid == pid && !sn->jobs[i]->target_exited)
			return sn->jobs[i];
	return NULL;
}

static struct snapshot_pstate *pstate_of(struct snapshots *sn, __u32 pid)
{
	struct snapshot_pstate *grown;
	size_t i;

	for (i = 0; i < sn->pstate_count; i++)
		if (sn->pstates[i].pid == pid)
			return &sn->pstates[i];
	grown = realloc(sn->pstates, (sn->pstate_count + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	sn->pstates = grown;
	memset(&grown[sn->pstate_count], 0, sizeof(*grown));
	grown[sn->pstate_count].pid = pid;
	return &grown[sn->pstate_count++];
}

/*
 * The reason a trigger of pid at boot-time ns at cannot start a request, or
 * NULL. The cooldown is judged by the trigger's time, as the kernel judges
 * whether to stop the process (st_proc.hold_after_ns).
 */
static const char *skip_reason(struct snapshots *sn, __u32 pid, __u64 at)
{
	struct snapshot_pstate *ps = pstate_of(sn, pid);

	if (!ps)
		return "out-of-memory";
	if (sn->opts->max_snapshots && ps->count >= sn->opts->max_snapshots)
		return "max-snapshots";
	if (ps->last_end_ns && at < ps->last_end_ns + sn->opts->cooldown_ns)
		return "cooldown";
	return NULL;
}

/*
 * Turns off the kernel's stops of pid under --freeze for triggers that the
 * agent would only skip or join: with ST_PROC_NO_HOLD in flags for good, or
 * until boot-time ns stop_until. when names the case in the error message.
 */
static void skip_kernel_stops(struct snapshots *sn, __u32 pid, __u32 flags, __u64 stop_until,
			      const char *when)
{
	int err;

	if (!sn->opts->freeze)
		return;
	err = tracer_set_flags(sn->tracer, (pid_t)pid, flags, stop_until);
	/* -ENOENT: the process has exited, and its entry with it */
	if (err && err != -ENOENT)
		log_error("turning off the kernel's stops of process %u %s failed: %s; such triggers still stop it until the agent resumes it",
			  pid, when, strerror(-err));
}

/*
 * Tells the kernel not to stop pid for triggers before the end of the
 * snapshot cooldown that starts at end_ns, since the agent skips them.
 * end_ns is never 0, so this also ends the mark of stop_none_during().
 */
static void end_cooldown_holds(struct snapshots *sn, __u32 pid, __u64 end_ns)
{
	skip_kernel_stops(sn, pid, 0, end_ns + sn->opts->cooldown_ns, "for the snapshot cooldown");
}

/*
 * Tells the kernel not to stop pid until end_cooldown_holds() runs at the
 * end of its request. The process runs during a request without a hold, and
 * a trigger then only joins the request, so a stop would change the process
 * under the checkpointer for nothing.
 */
static void stop_none_during(struct snapshots *sn, __u32 pid)
{
	skip_kernel_stops(sn, pid, 0, ~0ULL, "during its snapshot");
}

/* Drops the snapshot count and cooldown of pid, whose number may be reused. */
static void pstate_remove(struct snapshots *sn, __u32 pid)
{
	size_t i;

	for (i = 0; i < sn->pstate_count; i++)
		if (sn->pstates[i].pid == pid) {
			sn->pstates[i] = sn->pstates[--sn->pstate_count];
			return;
		}
}

/*
 * Tells the kernel that pid has used its --max-snapshots requests, so that
 * --freeze no longer stops it for triggers that can only be skipped.
 */
static void end_kernel_holds(struct snapshots *sn, __u32 pid)
{
	skip_kernel_stops(sn, pid, ST_PROC_NO_HOLD, 0, "after its last snapshot");
}

/*
 * Whether a signal line is one that snaptrig itself sent: a SIGINT, SIGTERM
 * or SIGHUP passed on to COMMAND to end it.
 */
static int sent_by_agent(const struct line *line)
{
	const struct st_signal_record *rec = (const void *)line->record;

	return rec && rec->hdr.kind == ST_REC_SIGNAL && rec->sender_pid == (__u32)getpid();
}

static int requested(const struct snapshots *sn, const struct line *line)
{
	return snapshots_enabled(sn) && line->type == LINE_TRIGGER &&
	       (sn->opts->snapshot_on & ST_TRIG_BIT(line->trigger)) && !sent_by_agent(line);
}

static int kernel_held(const struct line *line)
{
	return line->lost_held || (line->record && (line->record->flags & ST_RECORD_HELD));
}

/*
 * Whether the holds map has an entry for pid, which the kernel made for a
 * record the agent has not read yet. Sets *since_ns to its start.
 */
static int pending_kernel_hold(struct snapshots *sn, __u32 pid, __u64 *since_ns)
{
	struct st_hold hold;

	if (bpf_map_lookup_elem(sn->tracer->holds_fd, &pid, &hold))
		return 0;
	*since_ns = hold.since_ns;
	return 1;
}

/*
 * Whether the kernel hold that line's record reports still lasts. A request
 * that took the hold over before the record came may have ended it.
 */
static int kernel_held_now(struct snapshots *sn, const struct line *line)
{
	__u64 since;

	return kernel_held(line) && pending_kernel_hold(sn, line->pid, &since);
}

/*
 * Whether the kernel hold that line's record reports still lasts and was made
 * for line's trigger. A first SIGINT makes a first-sigint and a sigint line
 * from one record, and the hold is for one of them.
 */
static int kernel_held_for(struct snapshots *sn, const struct line *line)
{
	struct st_hold hold;

	return kernel_held(line) &&
	       bpf_map_lookup_elem(sn->tracer->holds_fd, &line->pid, &hold) == 0 &&
	       hold.trigger == (__u32)line->trigger;
}

#define STOP_WAIT_NS 500000000ULL	/* how long to wait for every thread to stop */

/*
 * Whether every thread of pid is in one of the /proc states in states, or
 * gone. A process that is gone, or whose threads cannot be listed, counts.
 */
static int all_threads_in(__u32 pid, const char *states)
{
	char path[64];
	struct dirent *entry;
	int all = 1;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%u/task", pid);
	dir = opendir(path);
	if (!dir)
		return 1;
	while (all && (entry = readdir(dir))) {
		char state;

		if (entry->d_name[0] == '.')
			continue;
		state = process_state((pid_t)strtol(entry->d_name, NULL, 10));
		if (state && !strchr(states, state))
			all = 0;
	}
	closedir(dir);
	return all;
}

/* Stopped (T, or t under ptrace) or exited (Z, X), so the thread runs no more. */
#define STATES_STILL "TtZX"
/*
 * Exited. A zombie takes SIGSTOP without effect. A zombie leader alone does
 * not make the process exited while another thread runs.
 */
#define STATES_EXITED "ZX"

/*
 * Waits until the held process has really stopped. A SIGSTOP takes effect
 * when each thread next returns to user space, so the thread that made the
 * system call finishes it first. The checkpointer must not start before.
 * Returns 0 when every thread stopped, or 1 when the process exited first or
 * a thread did not stop in time, as one in an uninterruptible wait does not.
 */
static int wait_stopped(__u32 pid)
{
	__u64 deadline = boot_now_ns() + STOP_WAIT_NS;

	while (!all_threads_in(pid, STATES_STILL)) {
		if (boot_now_ns() > deadline) {
			log_error("process %u has threads that did not stop within %llu ms; "
				  "the snapshot request goes on with them running (SNAPTRIG_HELD=0), "
				  "and the threads that stopped stay stopped until it ends",
				  pid, STOP_WAIT_NS / 1000000);
			return 1;
		}
		usleep(100);
	}
	/* a process that exits takes no SIGSTOP */
	return all_threads_in(pid, STATES_EXITED);
}

/* Whether the leader of pid is stopped, by a signal or by a tracer. */
static bool stopped_now(__u32 pid)
{
	char state = process_state((pid_t)pid);

	return state == 'T' || state == 't';
}

/* Whether the process of job is held still: stopped, every thread of it. */
static int held_still(const struct snapshot_job *job)
{
	return job->hold != HOLD_NONE && !job->not_still;
}

/* Stops pid from the agent and records a hold, so that a foreign stop is recognized. */
static int agent_hold(struct snapshots *sn, __u32 pid, enum st_trigger trigger)
{
	struct st_hold hold = { .trigger = trigger, .flags = ST_HOLD_STOP_PENDING };

	if (process_state(pid) == 'T')
		return 0;	/* someone else stopped it: it stays as it is */
	if (all_threads_in(pid, STATES_EXITED))
		return 0;	/* only its exit record is left to come */
	hold.since_ns = boot_now_ns();
	if (bpf_map_update_elem(sn->tracer->holds_fd, &pid, &hold, BPF_NOEXIST))
		return 0;
	if (kill(pid, SIGSTOP)) {
		bpf_map_delete_elem(sn->tracer->holds_fd, &pid);
		return 0;
	}
	return 1;
}

/*
 * Ends a hold, or kills the process when end_process is set; see
 * tracer_release_hold(). When continued is not NULL, it is set to whether
 * someone else sent the process SIGCONT while it was held.
 */
static int release_hold(struct snapshots *sn, __u32 pid, int end_process, int *continued)
{
	__u32 flags;
	int ret = tracer_release_hold(sn->tracer, pid, end_process, &flags);

	if (continued)
		*continued = !!(flags & ST_HOLD_FOREIGN_CONT);
	return ret;
}

/*
 * Tells the classifier that a request of pid began, and whether pid had
 * stayed blocked since its last idle record, so that the wakeups of the
 * hold's stop and resume, or of the checkpointer's attach, start no new idle
 * period.
 */
static void note_hold(struct snapshots *sn, __u32 pid, int idle_reported)
{
	if (sn->classifier)
		classifier_hold_started(sn->classifier, pid, boot_now_ns(), idle_reported);
}

int snapshots_before_line(struct snapshots *sn, const struct line *line, int *held)
{
	*held = 0;
	if (!requested(sn, line)) {
		/* a kernel hold for a trigger that requests nothing: let it go */
		if (kernel_held_for(sn, line) && !job_of_pid(sn, line->pid))
			release_hold(sn, line->pid, 0, NULL);
		return 0;
	}
	if (kernel_held(line)) {
		*held = 1;
		note_hold(sn, line->pid, 0);
		return 1;
	}
	/* the signal of a sigstop or sigtstp trigger stops the process itself */
	if (line->trigger == ST_TRIG_SIGSTOP || line->trigger == ST_TRIG_SIGTSTP)
		return 1;
	if (sn->opts->freeze && !job_of_pid(sn, line->pid) &&
	    !skip_reason(sn, line->pid, line->boot_ns)) {
		/* read before the stop, which wakes every thread */
		int reported = idle_reported(sn->tracer, line->pid);

		*held = agent_hold(sn, line->pid, line->trigger);
		if (*held)
			note_hold(sn, line->pid, reported);
	}
	return 1;
}

void snapshots_release(struct snapshots *sn, __u32 pid)
{
	if (!job_of_pid(sn, pid))
		release_hold(sn, pid, 0, NULL);
}

static int epoll_watch(struct snapshots *sn, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (fd < 0 || sn->epoll_fd < 0)
		return 0;
	return epoll_ctl(sn->epoll_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void close_fd(struct snapshots *sn, int *fd)
{
	if (*fd < 0)
		return;
	if (sn->epoll_fd >= 0)
		epoll_ctl(sn->epoll_fd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

/* Names of the variables a checkpointer gets, in the order checkpointer_env() sets them. */
static const char *const checkpointer_vars[] = {
	"SNAPTRIG_EVENT", "SNAPTRIG_TRIGGER", "SNAPTRIG_PID", "SNAPTRIG_TID", "SNAPTRIG_SEQ",
	"SNAPTRIG_HELD",
};
#define CHECKPOINTER_VARS (sizeof(checkpointer_vars) / sizeof(checkpointer_vars[0]))
/* Room for one of them besides the event and trigger text: the longest name, 20 digits, NUL. */
#define CHECKPOINTER_VAR_ROOM (sizeof("SNAPTRIG_TRIGGER=") + 20)

static bool is_checkpointer_var(const char *entry)
{
	size_t i, n;

	for (i = 0; i < CHECKPOINTER_VARS; i++) {
		n = strlen(checkpointer_vars[i]);
		if (!strncmp(entry, checkpointer_vars[i], n) && entry[n] == '=')
			return true;
	}
	return false;
}

/*
 * Builds the checkpointer's environment: the agent's own minus the variables
 * above, then those with this request's values, in one allocation. Returns
 * NULL when out of memory.
 */
static char **checkpointer_env(const struct snapshot_job *job, const char *trigger,
			       const char *event_line)
{
	size_t count = 0, room, i, n = 0;
	char **env, *text;

	while (environ[count])
		count++;
	room = strlen(event_line) + strlen(trigger) + CHECKPOINTER_VARS * CHECKPOINTER_VAR_ROOM;
	env = malloc((count + CHECKPOINTER_VARS + 1) * sizeof(*env) + room);
	if (!env)
		return NULL;
	text = (char *)(env + count + CHECKPOINTER_VARS + 1);

	for (i = 0; i < count; i++)
		if (!is_checkpointer_var(environ[i]))
			env[n++] = environ[i];
	env[n++] = text;
	text += sprintf(text, "SNAPTRIG_EVENT=%s", event_line) + 1;
	env[n++] = text;
	text += sprintf(text, "SNAPTRIG_TRIGGER=%s", trigger) + 1;
	env[n++] = text;
	text += sprintf(text, "SNAPTRIG_PID=%u", job->pid) + 1;
	env[n++] = text;
	text += sprintf(text, "SNAPTRIG_TID=%u", job->tid) + 1;
	env[n++] = text;
	text += sprintf(text, "SNAPTRIG_SEQ=%llu", (unsigned long long)job->served[0].seq) + 1;
	env[n++] = text;
	sprintf(text, "SNAPTRIG_HELD=%d", held_still(job));
	env[n] = NULL;
	return env;
}

/*
 * In the child of vfork(): runs the checkpointer, never returning. The child
 * shares the agent's memory until it execs, so it only makes system calls
 * and stores why the exec failed in exec_errno, for the agent to report.
 */
static void exec_checkpointer(char **argv, char **env, int stderr_fd,
			      volatile int *exec_errno)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	fd_limit_restore();
	/* its own process group: a terminal's Ctrl-C must not cut a dump short */
	setpgid(0, 0);
	/* once the agent is gone, no one reads the dump's result */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
	}
	dup2(stderr_fd, STDERR_FILENO);
	execvpe(argv[0], argv, env);
	*exec_errno = errno;
	/* as a shell does: 127 when not found, 126 when not executable */
	_exit(errno == ENOENT ? 127 : 126);
}

/*
 * Starts the checkpointer and returns its pid, or -1 with errno set. vfork()
 * skips the copy of the agent's page tables that fork() makes, which cut the
 * median from a trigger to its checkpointer's start from about 1.1-1.5 ms to
 * 0.6 ms here. Its own function, so no caller's variable lives across vfork().
 */
static __attribute__((noinline)) pid_t spawn_checkpointer(char **argv, char **env, int stderr_fd,
							  volatile int *exec_errno)
{
	pid_t pid = vfork();

	if (pid == 0)
		exec_checkpointer(argv, env, stderr_fd, exec_errno);
	return pid;
}

/*
 * Names the process group of a checkpointer to the kernel, whose stop
 * signals then belong to the snapshot even from a process that lost its
 * parent (see current_from_agent() in bpf/snaptrig.bpf.c).
 */
static void group_add(struct snapshots *sn, pid_t pgid)
{
	__u32 key = (__u32)pgid;
	__u8 present = 1;

	if (sn->tracer && bpf_map_update_elem(sn->tracer->groups_fd, &key, &present, BPF_ANY))
		log_info(1, "naming checkpointer group %d to the kernel failed: %s; its stop signals count as someone else's",
			 pgid, strerror(errno));
}

/* Writes why the checkpointer name did not start to the job's tail, as COMMAND's message has it. */
static void report_exec_error(struct snapshot_job *job, const char *name, int err)
{
	char path[PATH_MAX];
	int n;

	if (usdt_interpreter_missing(name, err, path, sizeof(path)))
		n = snprintf(job->tail, sizeof(job->tail),
			     "cannot execute checkpointer '%s' (%s): " USDT_NO_INTERPRETER, name, path);
	else
		n = snprintf(job->tail, sizeof(job->tail), "cannot execute checkpointer '%s': %s",
			     name, strerror(err));
	if (n < 0)
		n = 0;
	/* a long name is cut, as snprintf() cut it */
	job->tail_len = (size_t)n < sizeof(job->tail) ? (size_t)n : sizeof(job->tail) - 1;
}

static int start_exec(struct snapshots *sn, struct snapshot_job *job, const char *event_line)
{
	char pid_s[16], tid_s[16], seq_s[24], when[JSON_TIME_LEN];
	const char *trigger = trigger_name(job->served[0].trigger);
	struct template_values values = {
		.pid = pid_s, .tid = tid_s, .trigger = trigger, .seq = seq_s, .time = when,
	};
	char **argv = NULL, **env;
	volatile int exec_errno = 0;
	int pipe_fds[2];
	int err;

	snprintf(pid_s, sizeof(pid_s), "%u", job->pid);
	snprintf(tid_s, sizeof(tid_s), "%u", job->tid);
	snprintf(seq_s, sizeof(seq_s), "%llu", (unsigned long long)job->served[0].seq);
	json_time_rfc3339(job->started_ns + sn->emitter->realtime_offset_ns, when, sizeof(when));
	err = template_expand(&sn->template, &values, &argv);
	if (err)
		return err;
	if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK)) {
		err = -errno;
		template_argv_free(argv);
		return err;
	}
	env = checkpointer_env(job, trigger, event_line);
	if (!env) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		template_argv_free(argv);
		return -ENOMEM;
	}
	job->checkpointer = spawn_checkpointer(argv, env, pipe_fds[1], &exec_errno);
	err = job->checkpointer < 0 ? -errno : 0;
	free(env);
	if (!err && exec_errno) {
		/* vfork() returned after the child's _exit(): no checkpointer ran */
		waitpid(job->checkpointer, NULL, 0);
		report_exec_error(job, argv[0], exec_errno);
		err = -exec_errno;
	}
	/* both sides set the group, so a signal to it reaches the command's children */
	if (!err) {
		setpgid(job->checkpointer, job->checkpointer);
		group_add(sn, job->checkpointer);
		if (watchdog_send(sn, WATCHDOG_STARTED, job->checkpointer))
			log_info(1, "sending checkpointer %d to the watchdog failed: %s",
				 job->checkpointer, strerror(errno));
	}
	close(pipe_fds[1]);
	template_argv_free(argv);
	if (err) {
		close(pipe_fds[0]);
		job->checkpointer = 0;
		return err;
	}
	job->stderr_fd = pipe_fds[0];
	job->pidfd = syscall(SYS_pidfd_open, job->checkpointer, 0);
	if (job->pidfd < 0)
		return -errno;
	err = epoll_watch(sn, job->stderr_fd);
	return err ? err : epoll_watch(sn, job->pidfd);
}

/* Returns the next step after connect(2) to the request socket failed with err. */
static const char *connect_error_hint(int err)
{
	switch (err) {
	case EAGAIN:
		return "the checkpointer service is not accepting connections and its listen backlog is full";
	case EACCES:
		return "check the permissions of the socket and of the directories on its path";
	}
	return "start the checkpointer service first";
}

static int start_socket(struct snapshots *sn, struct snapshot_job *job, const char *event_line)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval send_timeout = { .tv_sec = 1 };
	char *request;
	size_t len;
	ssize_t n;
	int fd;

	if (strlen(sn->opts->request_socket) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, sn->opts->request_socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	job->sock_fd = fd;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		return -errno;
	len = strlen(event_line) + 256;
	request = malloc(len);
	if (!request)
		return -ENOMEM;
	/* the request is the trigger line itself, as the "event" member */
	n = snprintf(request, len,
		     "{\"type\":\"snapshot-request\",\"seq\":%llu,\"pid\":%u,\"tid\":%u,\"trigger\":\"%s\",\"held\":%s,\"event\":%.*s}\n",
		     (unsigned long long)job->served[0].seq, job->pid, job->tid,
		     trigger_name(job->served[0].trigger), held_still(job) ? "true" : "false",
		     (int)strlen(event_line), event_line);
	if (n > 0)
		n = write(fd, request, (size_t)n);
	free(request);
	if (n < 0)
		return -errno;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return epoll_watch(sn, fd);
}

static void job_free(struct snapshots *sn, struct snapshot_job *job)
{
	close_fd(sn, &job->stderr_fd);
	close_fd(sn, &job->pidfd);
	close_fd(sn, &job->sock_fd);
	free(job->served);
	free(job);
}

static void report_skip(struct snapshots *sn, const struct line *line, __u64 seq,
			const char *reason)
{
	struct served_trigger served = { .seq = seq, .trigger = line->trigger };
	int held = kernel_held_now(sn, line);
	struct snapshot_report report = {
		.status = "skipped",
		.reason = reason,
		.pid = line->pid,
		.tid = line->tid,
		.exit_code = -1,
		.held = held,
		.hold = held ? "kernel" : "none",
		.resumed = -1,
		.continued = -1,
		.served = &served,
		.served_count = 1,
	};

	if (report.held) {
		/* the kernel held it before it had ST_PROC_NO_HOLD: set it again */
		if (!strcmp(reason, "max-snapshots"))
			end_kernel_holds(sn, line->pid);
		report.held_ns = boot_now_ns() - line->boot_ns;
		report.resumed = release_hold(sn, line->pid, 0, &report.continued) > 0;
	}
	emit_snapshot(sn->emitter, &report);
}

static int job_add_served(struct snapshot_job *job, __u64 seq, enum st_trigger trigger)
{
	struct served_trigger *grown = realloc(job->served,
					       (job->served_count + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	job->served = grown;
	grown[job->served_count].seq = seq;
	grown[job->served_count].trigger = trigger;
	job->served_count++;
	return 0;
}

void snapshots_after_line(struct snapshots *sn, const struct line *line, __u64 seq)
{
	size_t line_len;
	const char *line_json = emitter_last_line(sn->emitter, &line_len);
	/* NOTE: in text format there is no JSON line to pass on, so the event is {} */
	char *event = line_json ? strndup(line_json, line_len) : strdup("{}");
	struct snapshot_job *job, **grown;
	struct snapshot_pstate *ps;
	const char *reason;
	__u64 now = boot_now_ns();
	int err;

	if (!requested(sn, line) || !event) {
		free(event);
		return;
	}
	job = job_of_pid(sn, line->pid);
	if (job) {
		free(event);
		/* one request at a time per process: this trigger joins the running one */
		if (job_add_served(job, seq, line->trigger))
			log_error("cannot record trigger %llu for the running snapshot of %u",
				  (unsigned long long)seq, line->pid);
		if (kernel_held(line) && job->hold == HOLD_NONE) {
			job->hold = HOLD_KERNEL;
			job->held_since_ns = line->boot_ns;
		}
		return;
	}
	reason = skip_reason(sn, line->pid, line->boot_ns);
	if (reason) {
		free(event);
		report_skip(sn, line, seq, reason);
		return;
	}

	job = calloc(1, sizeof(*job));
	grown = job ? realloc(sn->jobs, (sn->job_count + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(job);
		free(event);
		report_skip(sn, line, seq, "out-of-memory");
		return;
	}
	sn->jobs = grown;
	sn->jobs[sn->job_count++] = job;
	job->pid = line->pid;
	job->tid = line->tid;
	container_ids_of(line->pid, line->tid, line->record, &job->ids);
	job->pidfd = job->stderr_fd = job->sock_fd = -1;
	job->started_ns = now;
	job->deadline_ns = now + sn->opts->snapshot_timeout_ns;
	/*
	 * line->held is the agent's own hold from snapshots_before_line(). A
	 * hold entry in the map without either belongs to a later record that
	 * the agent has not read yet: the kernel stops the process for it, and
	 * that record joins this request. The request takes that hold over, so
	 * the checkpointer starts once every thread has stopped.
	 */
	if (kernel_held_now(sn, line)) {
		job->hold = HOLD_KERNEL;
		job->held_since_ns = line->boot_ns;
	} else if (line->held) {
		job->hold = HOLD_AGENT;
		job->held_since_ns = now;
	} else if (sn->opts->freeze && pending_kernel_hold(sn, job->pid, &job->held_since_ns)) {
		job->hold = HOLD_KERNEL;
	} else {
		/* the process runs during this request: no later trigger may stop it */
		stop_none_during(sn, job->pid);
		/*
		 * A checkpointer wakes every thread as a hold does (gdb's
		 * PTRACE_ATTACH, for one). Read before it starts.
		 */
		note_hold(sn, job->pid, idle_reported(sn->tracer, job->pid));
		job->stopped_before = stopped_now(job->pid);
	}
	ps = pstate_of(sn, job->pid);
	ps->count++;
	if (sn->opts->max_snapshots && ps->count == sn->opts->max_snapshots)
		end_kernel_holds(sn, job->pid);
	if (job_add_served(job, seq, line->trigger)) {
		job->exited = 1;
		job->start_failed = 1;
		snprintf(job->tail, sizeof(job->tail), "out of memory");
		free(event);
		return;
	}
	if (job->hold != HOLD_NONE)
		job->not_still = wait_stopped(job->pid);
	err = sn->opts->exec_template ? start_exec(sn, job, event) : start_socket(sn, job, event);
	free(event);
	if (err) {
		/* the job ends at the next tick with this reason */
		job->exited = 1;
		job->status = -1;
		job->start_failed = 1;
		if (sn->opts->exec_template) {
			/* start_exec() names the command when its exec failed */
			if (!job->tail_len)
				job->tail_len = snprintf(job->tail, sizeof(job->tail),
							 "cannot start the checkpointer: %s",
							 strerror(-err));
			log_error("snapshot of process %u: %s", job->pid, job->tail);
		} else {
			job->tail_len = snprintf(job->tail, sizeof(job->tail),
						 "cannot connect to request socket %s: %s",
						 sn->opts->request_socket, strerror(-err));
			log_error("snapshot of process %u: cannot connect to request socket %s: %s; %s",
				  job->pid, sn->opts->request_socket, strerror(-err),
				  connect_error_hint(-err));
		}
	}
}

void snapshots_on_exit(struct snapshots *sn, __u32 pid)
{
	struct snapshot_job *job = job_of_pid(sn, pid);

	if (job) {
		job->target_exited = 1;
		job->exit_ns = boot_now_ns();
	}
	/* a later process with this pid starts with no snapshots and no cooldown */
	pstate_remove(sn, pid);
}

/* Keeps the last bytes of the command's stderr; at EOF the fd is closed. */
static void read_stderr(struct snapshots *sn, struct snapshot_job *job)
{
	char buf[1024];
	ssize_t n;

	while ((n = read(job->stderr_fd, buf, sizeof(buf))) > 0) {
		size_t keep = sizeof(job->tail) - 1;
		size_t add = (size_t)n;

		if (add >= keep) {
			memcpy(job->tail, buf + add - keep, keep);
			job->tail_len = keep;
		} else {
			if (job->tail_len + add > keep) {
				size_t drop = job->tail_len + add - keep;

				memmove(job->tail, job->tail + drop, job->tail_len - drop);
				job->tail_len -= drop;
			}
			memcpy(job->tail + job->tail_len, buf, add);
			job->tail_len += add;
		}
		job->tail[job->tail_len] = '\0';
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		close_fd(sn, &job->stderr_fd);
}

struct reply_parse {
	char *error;		/* the decoded "error" member */
	size_t error_cap;
	size_t error_len;
	bool ok;
	bool has_ok;
};

static int read_reply_member(struct json_parser *ps, const char *name, size_t len, void *ctx)
{
	struct reply_parse *rp = ctx;
	int err;

	if (json_name_is(name, len, "ok")) {
		if (json_next_type(ps) != JSON_BOOL)
			return json_parse_fail(ps, "member 'ok' is not a boolean");
		rp->has_ok = true;
		return json_parse_bool(ps, &rp->ok);
	}
	if (json_name_is(name, len, "error")) {
		if (json_next_type(ps) != JSON_STRING)
			return json_parse_fail(ps, "member 'error' is not a string");
		/* a longer error text is cut, and the reply stays valid */
		err = json_parse_string(ps, rp->error, rp->error_cap, &rp->error_len);
		return err == -ENOSPC ? 0 : err;
	}
	return json_skip_value(ps);
}

/*
 * Writes the first REPLY_SHOWN_MAX bytes of reply to out (4 * REPLY_SHOWN_MAX
 * + 1 bytes) with each NUL byte as \x00, so the message shows what follows it.
 */
static void quote_reply(const char *reply, size_t len, char *out)
{
	size_t i;

	if (len > REPLY_SHOWN_MAX)
		len = REPLY_SHOWN_MAX;
	for (i = 0; i < len; i++) {
		if (reply[i]) {
			*out++ = reply[i];
			continue;
		}
		memcpy(out, "\\x00", 4);
		out += 4;
	}
	*out = '\0';
}

int snapshot_parse_reply(const char *reply, size_t len, bool *ok, char *message,
			 size_t cap, size_t *message_len)
{
	struct reply_parse rp = { .error = message, .error_cap = cap };
	char reason[REPLY_REASON_LEN], shown[REPLY_SHOWN_MAX * 4 + 1];
	struct json_parser ps;
	int err;

	message[0] = '\0';
	json_parser_init(&ps, reply, len, reason, sizeof(reason));
	if (json_next_type(&ps) != JSON_OBJECT)
		err = json_parse_fail(&ps, "not a JSON object");
	else
		err = json_parse_object(&ps, read_reply_member, &rp);
	if (!err && !json_at_end(&ps))
		err = json_parse_fail(&ps, "unexpected characters after the object");
	if (!err && !rp.has_ok)
		err = json_parse_fail(&ps, "missing member 'ok'");
	if (err) {
		quote_reply(reply, len, shown);
		snprintf(message, cap, "invalid reply: %s: %s", reason, shown);
		*message_len = strlen(message);
		return err;
	}
	*ok = rp.ok;
	*message_len = rp.error_len;
	return 0;
}

/* Checks the reply line, len bytes without its '\n'. An invalid reply fails the request. */
static void parse_reply(struct snapshot_job *job, size_t len)
{
	bool ok = false;

	job->exited = 1;
	job->reply_ok = snapshot_parse_reply(job->reply, len, &ok, job->tail,
					     REPLY_ERROR_MAX + 1, &job->tail_len) == 0 && ok;
}

static void read_reply(struct snapshot_job *job)
{
	ssize_t n;

	/* read at most one byte past the limit, where the '\n' of a full line is */
	while (job->reply_len < REPLY_LINE_MAX + 1) {
		char *newline;

		n = read(job->sock_fd, job->reply + job->reply_len,
			 REPLY_LINE_MAX + 1 - job->reply_len);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			job->reply[job->reply_len] = '\0';
			job->exited = 1;
			if (!job->reply_len)
				snprintf(job->tail, sizeof(job->tail),
					 "the request socket closed without a reply");
			else
				parse_reply(job, job->reply_len);
			return;
		}
		/* a NUL byte in the reply is invalid JSON, not the end of the line */
		newline = memchr(job->reply + job->reply_len, '\n', (size_t)n);
		job->reply_len += (size_t)n;
		job->reply[job->reply_len] = '\0';
		if (newline) {
			*newline = '\0';
			parse_reply(job, newline - job->reply);
			return;
		}
	}
	job->exited = 1;
	snprintf(job->tail, sizeof(job->tail), "reply longer than %d bytes", REPLY_LINE_MAX);
}

/*
 * Whether the /proc status file at path shows the thread stopped by a
 * signal (state T), with SIGSTOP pending for it or its process, or traced
 * by a process of group pgid.
 */
static bool thread_stop_seen(const char *path, pid_t pgid)
{
	char line[256];
	bool seen = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!seen && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "State:", 6))
			seen = line[6 + strspn(line + 6, " \t")] == 'T';
		else if (!strncmp(line, "SigPnd:", 7) || !strncmp(line, "ShdPnd:", 7))
			seen = strtoull(line + 7, NULL, 16) & (1ULL << (SIGSTOP - 1));
		else if (!strncmp(line, "TracerPid:", 10) && strtol(line + 10, NULL, 10) > 0)
			seen = getpgid((pid_t)strtol(line + 10, NULL, 10)) == pgid;
	}
	fclose(f);
	return seen;
}

/*
 * Whether a thread of pid is stopped by a signal, has a SIGSTOP pending or
 * is traced by a process of group pgid (0 for none). gdb leaves one of these
 * in the middle of its PTRACE_ATTACH.
 */
static bool stop_seen(__u32 pid, pid_t pgid)
{
	char path[64];
	struct dirent *entry;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%u/task", pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (entry = readdir(dir))) {
		if (entry->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%u/task/%.16s/status", pid, entry->d_name);
		found = thread_stop_seen(path, pgid);
	}
	closedir(dir);
	return found;
}

static void signal_checkpointer(struct snapshot_job *job, int sig)
{
	if (job->checkpointer <= 0)
		return;
	/* before the signal, which may end a tracer that stops the process at its exit */
	if (!job->signalled && job->hold == HOLD_NONE && !job->target_exited)
		job->stop_seen = stop_seen(job->pid, job->checkpointer);
	job->signalled = 1;
	if (kill(-job->checkpointer, sig))
		kill(job->checkpointer, sig);
}

static void reap_checkpointer(struct snapshot_job *job)
{
	int status;

	if (job->checkpointer <= 0 || job->exited)
		return;
	if (waitpid(job->checkpointer, &status, WNOHANG) == job->checkpointer) {
		job->status = status;
		job->exited = 1;
	}
}

int snapshots_handle_fd(struct snapshots *sn, int fd)
{
	size_t i;

	for (i = 0; i < sn->job_count; i++) {
		struct snapshot_job *job = sn->jobs[i];

		if (fd == job->stderr_fd) {
			read_stderr(sn, job);
			return 1;
		}
		if (fd == job->pidfd) {
			reap_checkpointer(job);
			close_fd(sn, &job->pidfd);
			return 1;
		}
		if (fd == job->sock_fd) {
			read_reply(job);
			if (job->exited)
				close_fd(sn, &job->sock_fd);
			return 1;
		}
	}
	return 0;
}

static const char *hold_name(enum hold_kind hold)
{
	switch (hold) {
	case HOLD_KERNEL:
		return "kernel";
	case HOLD_AGENT:
		return "agent";
	default:
		return "none";
	}
}

/*
 * Resumes the process of a request without a hold when the checkpointer that
 * the agent ended had stopped it, or left it stopped. The process was not
 * stopped when the request began, so the stop came during the request. A
 * tracer killed in its attach leaves the SIGSTOP to take effect after its
 * exit, and SIGCONT cancels a stop that is about to happen too.
 * NOTE: a SIGSTOP from anyone else during such a request is taken back too,
 * unless a sigstop or sigtstp trigger line of the process joined the request.
 */
static void resume_after_checkpointer(const struct snapshot_job *job)
{
	size_t i;

	if (job->hold != HOLD_NONE || job->stopped_before || !job->signalled ||
	    job->checkpointer <= 0 || job->target_exited)
		return;
	for (i = 0; i < job->served_count; i++)
		if (job->served[i].trigger == ST_TRIG_SIGSTOP ||
		    job->served[i].trigger == ST_TRIG_SIGTSTP)
			return;
	if (!job->stop_seen && !stop_seen(job->pid, 0))
		return;
	if (kill((pid_t)job->pid, SIGCONT)) {
		log_error("process %u was stopped during its snapshot request by checkpointer %d, which snaptrig ended, and resuming it failed: %s; send it SIGCONT",
			  job->pid, job->checkpointer, strerror(errno));
		return;
	}
	log_error("process %u was stopped during its snapshot request by checkpointer %d, which snaptrig ended; resumed it with SIGCONT",
		  job->pid, job->checkpointer);
}

static void finish_job(struct snapshots *sn, struct snapshot_job *job, const char *forced_reason)
{
	struct snapshot_report report = {
		.pid = job->pid,
		.tid = job->tid,
		.exit_code = -1,
		.served = job->served,
		.served_count = job->served_count,
		.output = job->tail,
		.output_len = job->tail_len,
		.resumed = -1,
		.continued = -1,
	};
	__u64 now = boot_now_ns();
	int success;

	if (job->stderr_fd >= 0)
		read_stderr(sn, job);
	/* messages of the agent's own are plain strings */
	if (!job->tail_len)
		job->tail_len = strnlen(job->tail, sizeof(job->tail));
	report.output_len = job->tail_len;
	/* the container table drops a process at its exit line, before this line */
	if (job->target_exited)
		report.ids = &job->ids;
	if (job->checkpointer > 0 && WIFEXITED(job->status) && job->status != -1)
		report.exit_code = WEXITSTATUS(job->status);
	if (job->checkpointer > 0 && WIFSIGNALED(job->status))
		report.term_signal = WTERMSIG(job->status);
	success = sn->opts->exec_template ? job->checkpointer > 0 && report.exit_code == 0 :
		  job->reply_ok;

	if (forced_reason) {
		report.status = "failed";
		report.reason = forced_reason;
	} else if (job->start_failed) {
		/* even when the process exited before the next tick: no request ran */
		report.status = "failed";
		report.reason = "start";
	} else if (job->target_exited) {
		report.status = "target-exited";
	} else if (job->interrupted) {
		report.status = "failed";
		report.reason = "interrupted";
	} else if (job->timed_out) {
		report.status = "timeout";
	} else if (success) {
		report.status = "ok";
	} else {
		report.status = "failed";
		if (job->start_failed)
			report.reason = "start";
		else if (report.term_signal)
			report.reason = "signal";
		else if (sn->opts->request_socket)
			report.reason = "reply";
		else
			report.reason = "exit-code";
	}
	report.duration_ns = now - job->started_ns;
	report.held = held_still(job);
	report.hold = hold_name(report.held ? job->hold : HOLD_NONE);
	/* a process that exited is held no more */
	if (report.held)
		report.held_ns = (job->exit_ns ? job->exit_ns : now) - job->held_since_ns;

	report.ended = success && !forced_reason && sn->opts->stop_after_snapshot &&
		       !job->target_exited;
	/* before the release, so that the triggers right after it are not stopped */
	if (!job->target_exited) {
		struct snapshot_pstate *ps = pstate_of(sn, job->pid);

		if (ps)
			ps->last_end_ns = now;
		end_cooldown_holds(sn, job->pid, now);
	}
	if (report.held && !job->target_exited) {
		report.resumed = release_hold(sn, job->pid, report.ended, &report.continued) > 0;
	} else if (job->hold != HOLD_NONE && !job->target_exited) {
		/* a stop that did not take on every thread is taken back all the same */
		release_hold(sn, job->pid, report.ended, NULL);
	} else if (report.ended) {
		kill(job->pid, SIGKILL);
	} else {
		resume_after_checkpointer(job);
	}
	if (sn->classifier && !job->target_exited)
		classifier_snapshot_ended(sn->classifier, job->pid, now);
	emit_snapshot(sn->emitter, &report);
}

/* Whether no process is left in process group pgid. */
static int group_empty(pid_t pgid)
{
	return kill(-pgid, 0) && errno == ESRCH;
}

/* How long a checkpointer's group may take to empty after its SIGKILL. */
#define GROUP_GONE_WAIT_NS 100000000ULL

/*
 * Whether the group of a timed-out checkpointer whose leader exited may still
 * act on the process. gdb, killed mid-attach, leaves a SIGSTOP that stops it
 * after the resume. The group is done once it is empty, or GROUP_GONE_WAIT_NS
 * after its SIGKILL: a zombie that its new parent has not reaped yet still
 * counts as a member.
 */
static bool group_may_act(const struct snapshot_job *job, __u64 now)
{
	if (!job->exited || !job->timed_out || job->checkpointer <= 0 ||
	    group_empty(job->checkpointer))
		return false;
	return !(job->killed_ns && now - job->killed_ns >= GROUP_GONE_WAIT_NS);
}

static void group_forget(struct snapshots *sn, pid_t pgid)
{
	__u32 key = (__u32)pgid;

	if (sn->tracer)
		bpf_map_delete_elem(sn->tracer->groups_fd, &key);
}

/* Forgets the group of an ended checkpointer now, or once its last process is gone. */
static void group_release(struct snapshots *sn, pid_t pgid)
{
	if (group_empty(pgid)) {
		group_forget(sn, pgid);
		return;
	}
	if (sn->lingering_count == sn->lingering_cap) {
		size_t cap = sn->lingering_cap ? sn->lingering_cap * 2 : 8;
		pid_t *grown = realloc(sn->lingering, cap * sizeof(*grown));

		/* NOTE: without memory the group is forgotten now, so its later stops count as foreign */
		if (!grown) {
			group_forget(sn, pgid);
			return;
		}
		sn->lingering = grown;
		sn->lingering_cap = cap;
	}
	sn->lingering[sn->lingering_count++] = pgid;
}

static void check_lingering(struct snapshots *sn)
{
	size_t i = 0;

	while (i < sn->lingering_count) {
		if (group_empty(sn->lingering[i])) {
			group_forget(sn, sn->lingering[i]);
			sn->lingering[i] = sn->lingering[--sn->lingering_count];
			continue;
		}
		i++;
	}
}

static void remove_job(struct snapshots *sn, size_t index)
{
	if (sn->jobs[index]->checkpointer > 0 &&
	    watchdog_send(sn, WATCHDOG_ENDED, sn->jobs[index]->checkpointer))
		log_info(1, "telling the watchdog that checkpointer %d ended failed: %s",
			 sn->jobs[index]->checkpointer, strerror(errno));
	if (sn->jobs[index]->checkpointer > 0)
		group_release(sn, sn->jobs[index]->checkpointer);
	job_free(sn, sn->jobs[index]);
	sn->jobs[index] = sn->jobs[--sn->job_count];
}

static void enforce_timeout(struct snapshot_job *job, __u64 now)
{
	if (now < job->deadline_ns)
		return;
	if (!job->timed_out) {
		if (job->exited)
			return;
		job->timed_out = 1;
		job->kill_ns = now + KILL_GRACE_NS;
		if (job->checkpointer > 0) {
			signal_checkpointer(job, SIGTERM);
		} else {
			/* an interrupted request has its deadline moved to now */
			unsigned long long ms = (job->deadline_ns - job->started_ns) / 1000000;

			/* a socket request just ends, and its line gives the reason */
			if (!job->tail_len && job->interrupted)
				job->tail_len = (size_t)snprintf(job->tail, sizeof(job->tail),
								 "interrupted after %llu ms with no reply",
								 ms);
			else if (!job->tail_len)
				job->tail_len = (size_t)snprintf(job->tail, sizeof(job->tail),
								 "no reply within %llu ms", ms);
			job->exited = 1;
		}
		return;
	}
	if (job->kill_ns && now >= job->kill_ns) {
		signal_checkpointer(job, SIGKILL);
		job->kill_ns = 0;
		job->killed_ns = now;
	}
}

/*
 * Starts another watchdog when the last one died, and names the running
 * checkpointers to it, so that a later death of the agent is still covered.
 * Its SIGCHLD wakes the loop that calls this.
 */
static void check_watchdog(struct snapshots *sn)
{
	pid_t dead = sn->watchdog;
	int status, err;
	size_t i;

	if (sn->watchdog_fd < 0 || waitpid(dead, &status, WNOHANG) != dead)
		return;
	close(sn->watchdog_fd);
	sn->watchdog_fd = -1;
	err = start_watchdog(sn);
	if (err) {
		log_error("the watchdog (pid %d) ended with %s %d, and starting another failed: %s; if snaptrig dies now, only the kernel guard, where it loaded, resumes the processes it stopped",
			  dead, WIFSIGNALED(status) ? "signal" : "status",
			  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), strerror(-err));
		return;
	}
	log_error("the watchdog (pid %d) ended with %s %d; started another (pid %d)", dead,
		  WIFSIGNALED(status) ? "signal" : "status",
		  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), sn->watchdog);
	for (i = 0; i < sn->job_count; i++)
		if (sn->jobs[i]->checkpointer > 0)
			watchdog_send(sn, WATCHDOG_STARTED, sn->jobs[i]->checkpointer);
}

void snapshots_tick(struct snapshots *sn, __u64 now_ns)
{
	size_t i = 0;

	check_watchdog(sn);
	check_lingering(sn);
	while (i < sn->job_count) {
		struct snapshot_job *job = sn->jobs[i];

		reap_checkpointer(job);
		enforce_timeout(job, now_ns);
		/* the request ends when its checkpointer's group can no longer stop the process */
		if (group_may_act(job, now_ns)) {
			i++;
			continue;
		}
		if (job->exited) {
			finish_job(sn, job, NULL);
			remove_job(sn, i);
			continue;
		}
		i++;
	}
}

void snapshots_interrupt(struct snapshots *sn)
{
	__u64 now = boot_now_ns();
	size_t i;

	for (i = 0; i < sn->job_count; i++) {
		struct snapshot_job *job = sn->jobs[i];

		if (job->interrupted || job->timed_out || job->exited)
			continue;
		log_info(1, "ending the snapshot request of process %u early: snaptrig received a signal",
			 job->pid);
		job->interrupted = 1;
		job->deadline_ns = now;
		enforce_timeout(job, now);
	}
}

__u64 snapshots_next_deadline(const struct snapshots *sn)
{
	__u64 next = 0;
	size_t i;

	for (i = 0; i < sn->job_count; i++) {
		const struct snapshot_job *job = sn->jobs[i];
		__u64 at = job->timed_out ? job->kill_ns : job->deadline_ns;

		if (at && (!next || at < next))
			next = at;
	}
	return next;
}

size_t snapshots_active(const struct snapshots *sn)
{
	return sn->job_count;
}

/* How long the checkpointers get, all together, between the SIGTERM and the SIGKILL of a stop. */
#define SHUTDOWN_TERM_WAIT_NS 100000000ULL

/* Whether the checkpointer of job, or a process left in its group, still runs. */
static bool checkpointer_running(const struct snapshot_job *job)
{
	return job->checkpointer > 0 && (!job->exited || !group_empty(job->checkpointer));
}

/* Reaps the checkpointers that exited, and returns whether one of them still runs. */
static bool checkpointers_running(struct snapshots *sn)
{
	bool running = false;
	size_t i;

	for (i = 0; i < sn->job_count; i++) {
		reap_checkpointer(sn->jobs[i]);
		if (checkpointer_running(sn->jobs[i]))
			running = true;
	}
	return running;
}

/* Waits until no checkpointer or process of its group runs, or for wait_ns at most. */
static void wait_checkpointers(struct snapshots *sn, __u64 wait_ns)
{
	__u64 deadline = boot_now_ns() + wait_ns;

	while (checkpointers_running(sn) && boot_now_ns() < deadline)
		usleep(1000);
}

void snapshots_shutdown(struct snapshots *sn)
{
	size_t i;

	/* every checkpointer gets its SIGTERM first, so N hung ones take 100 ms in all, not N times that */
	for (i = 0; i < sn->job_count; i++) {
		struct snapshot_job *job = sn->jobs[i];

		reap_checkpointer(job);
		if (job->exited)
			continue;
		job->interrupted = 1;
		job->running_at_stop = 1;
		if (job->checkpointer > 0) {
			signal_checkpointer(job, SIGTERM);
			continue;
		}
		/* a socket request: enforce_timeout() ends it and writes why */
		job->deadline_ns = boot_now_ns();
		enforce_timeout(job, job->deadline_ns);
	}
	wait_checkpointers(sn, SHUTDOWN_TERM_WAIT_NS);
	/* the rest of each group too, which may stop the process after its resume */
	for (i = 0; i < sn->job_count; i++) {
		struct snapshot_job *job = sn->jobs[i];

		if (!checkpointer_running(job))
			continue;
		signal_checkpointer(job, SIGKILL);
		if (!job->exited) {
			waitpid(job->checkpointer, &job->status, 0);
			job->exited = 1;
		}
	}
	/* one wait for all killed groups: their processes are zombies within it, which stop nothing */
	wait_checkpointers(sn, GROUP_GONE_WAIT_NS);
	for (i = 0; i < sn->job_count; i++)
		finish_job(sn, sn->jobs[i], sn->jobs[i]->running_at_stop ? "interrupted" : NULL);
	while (sn->job_count)
		remove_job(sn, 0);
	free(sn->jobs);
	sn->jobs = NULL;
	free(sn->lingering);
	sn->lingering = NULL;
	sn->lingering_count = sn->lingering_cap = 0;
	free(sn->pstates);
	sn->pstates = NULL;
	sn->pstate_count = 0;
	template_free(&sn->template);
}

void snapshots_end_watchdog(struct snapshots *sn)
{
	if (sn->watchdog_fd < 0) {
		/* a guard without a watchdog: its start or restart failed */
		guard_close(sn->guard);
		sn->guard = NULL;
		return;
	}
	/* the programs are detached: the watchdog resumes what is left and exits */
	if (watchdog_send(sn, WATCHDOG_DETACHED, 0))
		log_info(1, "cannot tell the watchdog that the programs are detached");
	close(sn->watchdog_fd);
	sn->watchdog_fd = -1;
	waitpid(sn->watchdog, NULL, 0);
	guard_close(sn->guard);
	sn->guard = NULL;
}
