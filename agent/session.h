/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* One run of the agent: what main() sets up and the event loop drives. */
#ifndef SNAPTRIG_SESSION_H
#define SNAPTRIG_SESSION_H

#include <signal.h>
#include <sys/types.h>
#include "classify.h"
#include "emit.h"
#include "options.h"
#include "prior.h"
#include "snapshot.h"
#include "tracer.h"

/*
 * A signal that snaptrig got from a process and passes on to COMMAND at
 * due_ns, unless COMMAND gets its own copy from the same sender before.
 */
struct pass_on {
	__u64 due_ns;			/* boot time, 0 when nothing is pending */
	__u64 read_ns;			/* boot time when snaptrig read its copy */
	pid_t sender;
};

struct session {
	struct options opts;
	struct tracer tracer;
	struct classifier classifier;
	struct emitter emitter;
	struct snapshots snapshots;
	struct uprobes *uprobes;	/* NULL unless a selected trigger needs uprobes */
	struct control *control;	/* NULL without --control */
	__u64 lost_by_kind[ST_LOST_SLOTS];
	__u64 lost_total;
	int output_watched;			/* the output fd is in the epoll set */
	int output_room_wanted;			/* with EPOLLOUT, since lines wait for it */
	__u64 untraced;				/* ST_LOST_UNTRACED count at the last check */
	__u64 untraced_logged;			/* that count at the last message */
	__u64 untraced_log_ns;			/* when that message was written */
	__u64 next_lost_check_ns;
	__u64 next_liveness_ns;
	__u64 next_cgroup_check_ns;	/* when the --cgroup path is next looked at */
	sigset_t orig_mask;		/* signal mask to restore in the launched child */
	/* dispositions of SIGPIPE and SIGCHLD that snaptrig started with, for the child */
	struct sigaction orig_pipe;
	struct sigaction orig_chld;
	unsigned int closed_fds;	/* bit N: fd N (0 to 2) was closed when snaptrig started */
	pid_t *targets;			/* pids traced from the start */
	struct prior_state *priors;	/* attach mode: what each target did before, or NULL */
	size_t target_count;
	pid_t child;			/* launch mode: COMMAND's pid, else 0 */
	int child_status;		/* wait(2) status once reaped */
	int child_reaped;
	int epoll_fd;
	int signal_fd;
	int timer_fd;
	__u64 timer_deadline_ns;	/* boot-time deadline armed on timer_fd, 0: none */
	int clock_fd;			/* CLOCK_REALTIME timerfd that reports a set of the system clock */
	int child_pidfd;
	int stop_signal;		/* the first SIGINT, SIGTERM or SIGHUP, or 0 */
	pid_t stop_sender;		/* the pid that sent stop_signal, 0 for the kernel */
	__u64 stop_deadline_ns;		/* launch mode: boot time to stop waiting for COMMAND */
	/* launch mode: signals to pass on to COMMAND, by ST_PASS_* slot */
	struct pass_on pass_on[ST_PASS_COUNT];
};

/*
 * Whether --freeze stops processes that snaptrig did not launch. A Ctrl-Z
 * would then leave them stopped for as long as snaptrig is, so it ignores
 * SIGTSTP. In launch mode Ctrl-Z stops COMMAND and snaptrig as one job.
 */
static inline int holds_without_child(const struct options *opts)
{
	return opts->freeze && !opts->command;
}

/*
 * Whether sig was ignored when snaptrig started, as nohup(1) does for SIGHUP
 * and a non-interactive shell for SIGINT of a background job. Such a SIGINT,
 * SIGTERM or SIGHUP stays ignored, for snaptrig and for COMMAND.
 */
static inline int ignored_at_start(int sig)
{
	struct sigaction sa;

	return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

/* Adds SIGINT, SIGTERM and SIGHUP to mask, but those ignored at start. */
static inline void add_stop_signals(sigset_t *mask)
{
	static const int stops[] = { SIGINT, SIGTERM, SIGHUP };
	size_t i;

	for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		if (!ignored_at_start(stops[i]))
			sigaddset(mask, stops[i]);
}

/* launch.c */
/*
 * Forks COMMAND held before exec, registers it with the tracer, then lets it
 * exec. Returns 0, or the exit status to end with (127, 126) after an error
 * message, or -errno.
 */
int launch_command(struct session *s);

/* targets.c */
/* Checks the -p targets into s->targets. Returns 0 or -errno after a message. */
int check_targets(struct session *s);
/*
 * Registers the checked targets. One that has exited since is dropped with
 * a message. Returns 0 or -errno after a message.
 */
int attach_targets(struct session *s);
/* Returns the process (thread group) of thread tid from /proc, or -errno. */
pid_t thread_group_of(pid_t tid);
/*
 * Registers process pid, already checked, found at start. The once-triggers
 * that /proc shows are past, except those the kernel saw after it created
 * pid's entry, go into prior (written by report_targets()). The others are
 * marked as seen only since the attach.
 */
int attach_process(struct session *s, pid_t pid, struct prior_state *prior);
/*
 * Writes, after the start line, the "source":"attach" lines of the targets
 * and their coverage lines.
 */
void report_targets(struct session *s);
/*
 * Writes the "source":"attach" lines and the coverage lines of target i,
 * after its fields were remembered with container_seed().
 */
void report_target(struct session *s, size_t i);
/* Writes the coverage lines of a process that starts to be traced. */
void report_coverage(struct session *s, pid_t pid);
/* Writes the lines, "source":"attach", of the once-triggers that prior found. */
void report_prior(struct session *s, pid_t pid, struct prior_state *prior);
/*
 * Attaches the ia32 hook, with --ia32 auto, before a 32-bit COMMAND starts;
 * report_targets() attaches it for a running 32-bit target.
 */
void ia32_at_start(struct session *s);
/* Attaches the ia32 hook, or writes that it is off, when a traced process execs a 32-bit image. */
void ia32_on_exec(struct session *s, const struct st_exec_record *rec);
/* Writes that first-environ is blind when a traced process execs a static program. */
void static_on_exec(struct session *s, const struct st_exec_record *rec);
/*
 * Traces pid, a process found in the --cgroup subtree, and adds it to
 * targets. Returns 0, 1 when it is skipped (a thread, a kernel thread, the
 * agent, exited or traced already), or -errno.
 */
int attach_member(struct session *s, pid_t pid);
/* The state letter of /proc/PID/stat ('X' when not found), or 0 when unknown. */
char process_state(pid_t pid);
/* Whether pid has exited: not found, or a zombie. */
int process_gone(pid_t pid);
/* The PPid: of /proc/PID/status, or 0 when unknown. */
pid_t parent_of(pid_t pid);
/* Reads /proc/PID/comm into comm (ST_COMM_LEN bytes). */
void read_comm(pid_t pid, char *comm);

/* loop.c */
/* Classifier callback: writes a line and turns triggers into snapshot requests. */
void session_emit(void *ctx, const struct line *line);
/* Classifier callback: a held record wrote no line, so its process is resumed. */
void session_release(void *ctx, __u32 pid);
/* Classifier callback: whether call counts should wait for the output. */
int session_output_busy(void *ctx);
int session_loop(struct session *s);
/* Writes what is still due and the stats line. */
void session_finish(struct session *s);

#endif
