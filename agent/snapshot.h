/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Snapshot requests: a trigger starts the checkpointer (an --exec command or
 * a request on --request-socket) for its process, at most one at a time per
 * process, and ends with a "snapshot" line. With --freeze the process stays
 * stopped until the request is done; it is resumed on every path unless
 * someone else stopped it meanwhile.
 */
#ifndef SNAPTRIG_SNAPSHOT_H
#define SNAPTRIG_SNAPSHOT_H

#include "classify.h"
#include "container.h"
#include "emit.h"
#include "options.h"
#include "template.h"
#include "tracer.h"

/* Maximum bytes of a --request-socket reply line, not counting its '\n' */
#define REPLY_LINE_MAX 4096

enum hold_kind {
	HOLD_NONE,
	HOLD_KERNEL,	/* stopped by the BPF program at the trigger point */
	HOLD_AGENT,	/* stopped by the agent when the line was classified */
};

struct snapshot_job {
	__u64 started_ns;		/* boot clock */
	__u64 deadline_ns;		/* --snapshot-timeout */
	__u64 kill_ns;			/* SIGKILL after SIGTERM; 0 until the timeout */
	__u64 killed_ns;		/* when the timeout's SIGKILL went to the group; 0 before */
	__u64 held_since_ns;		/* 0: not held */
	__u64 exit_ns;			/* when the process exited, or 0 */
	struct served_trigger *served;	/* the trigger that started it, then the ones that joined */
	struct container_ids ids;	/* of the trigger line that started it */
	size_t served_count;
	enum hold_kind hold;
	int not_still;			/* held, but a thread ran on or the process exited first */
	__u32 pid;
	__u32 tid;
	pid_t checkpointer;		/* --exec: the command's pid */
	int pidfd;
	int stderr_fd;			/* --exec: read end of its stderr */
	int sock_fd;			/* --request-socket: the connection */
	int timed_out;
	int signalled;			/* the agent sent the checkpointer's group a signal */
	int stopped_before;		/* not held, and stopped when the request began */
	int stop_seen;			/* not held, and stopped when the agent first signalled the checkpointer */
	int interrupted;		/* ended early by a signal to snaptrig */
	int running_at_stop;		/* still running when snaptrig stopped */
	int target_exited;
	int start_failed;		/* the command or the connection could not start */
	int status;			/* wait(2) status of the command */
	int exited;			/* the command was reaped, or the reply arrived */
	int reply_ok;			/* --request-socket: the reply said ok */
	size_t tail_len;
	size_t reply_len;
	char tail[1024];		/* the end of the command's stderr, or the reply's error */
	char reply[REPLY_LINE_MAX + 2];	/* the line, its '\n' and a NUL */
};

struct snapshot_pstate {
	__u64 count;			/* snapshots taken */
	__u64 last_end_ns;
	__u32 pid;
};

struct snapshots {
	struct template template;
	const struct options *opts;
	struct emitter *emitter;
	struct tracer *tracer;
	struct classifier *classifier;	/* told when a snapshot ends; may be NULL */
	struct snapshot_job **jobs;
	size_t job_count;
	struct snapshot_pstate *pstates;
	size_t pstate_count;
	int epoll_fd;
	int watchdog_fd;		/* write end of the pipe the watchdog waits on */
	pid_t watchdog;
	struct guard_bpf *guard;	/* resumes holds if the watchdog dies too; may be NULL */
	pid_t *lingering;		/* groups of ended checkpointers with processes left */
	size_t lingering_count;
	size_t lingering_cap;
};

/* Parses the template and starts the watchdog. Returns 0 or -errno after a message. */
int snapshots_init(struct snapshots *sn, const struct options *opts, struct emitter *e,
		   struct tracer *t);
/* Ends every request: terminates checkpointers, resumes held processes. */
void snapshots_shutdown(struct snapshots *sn);
/*
 * Stops the watchdog, which resumes any process still held. Call after the
 * programs are detached, so none can stop a process again.
 */
void snapshots_end_watchdog(struct snapshots *sn);

/* Whether the options ask for snapshots at all. */
int snapshots_enabled(const struct snapshots *sn);

/*
 * Decides what a trigger line leads to before it is written: returns 1 and
 * sets *held when the process is (or will be) held for a request.
 */
int snapshots_before_line(struct snapshots *sn, const struct line *line, int *held);
/* Starts or joins a request for the trigger line just written as seq. */
void snapshots_after_line(struct snapshots *sn, const struct line *line, __u64 seq);
/* Resumes pid if it is held and has no request running. */
void snapshots_release(struct snapshots *sn, __u32 pid);
/* The process exited: its request, if any, ends as target-exited. */
void snapshots_on_exit(struct snapshots *sn, __u32 pid);

/*
 * Checks a reply line of the request socket, len bytes without its '\n': one
 * JSON object with a boolean "ok", an optional string "error" and any other
 * members, no duplicate member, and nothing but whitespace after it. Returns
 * 0 and sets *ok, with the decoded error text (empty without one, cut to
 * cap - 1 bytes at a character boundary) in message and its length in
 * *message_len. Returns -EINVAL when the reply is invalid, with message
 * "invalid reply: " and the reason, then the start of the reply.
 */
int snapshot_parse_reply(const char *reply, size_t len, bool *ok, char *message,
			 size_t cap, size_t *message_len);

/* Handles an fd of a request; returns 0 when fd is not one of them. */
int snapshots_handle_fd(struct snapshots *sn, int fd);
void snapshots_tick(struct snapshots *sn, __u64 now_ns);
/*
 * Ends every running request now, as at its timeout: SIGTERM to the
 * checkpointer, SIGKILL after the grace period, and the process resumed
 * once the checkpointer is gone. Its snapshot line has status failed and
 * reason interrupted.
 */
void snapshots_interrupt(struct snapshots *sn);
__u64 snapshots_next_deadline(const struct snapshots *sn);
size_t snapshots_active(const struct snapshots *sn);

#endif
