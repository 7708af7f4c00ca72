/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Formats output lines as JSON or text and writes each with one write(2). */
#ifndef SNAPTRIG_EMIT_H
#define SNAPTRIG_EMIT_H

#include <sys/types.h>
#include "classify.h"
#include "json.h"
#include "latency.h"
#include "line_json.h"
#include "options.h"

/* Milliseconds the output may take no data, and the most it gets after a stop, before snaptrig gives up on it. */
#define OUTPUT_STALL_MS 5000

/* A trigger line that a snapshot request stands for. */
struct served_trigger {
	__u64 seq;
	enum st_trigger trigger;
};

/* A line in the output buffer whose delay is counted once it is written. */
struct pending_delay {
	size_t end;			/* offset in emitter.out just past the line */
	__u64 boot_ns;			/* of the kernel record the line came from */
	unsigned int kind;		/* an st_trigger or a latency_kind */
};

struct container_ids;

/* The content of a "snapshot" line. */
struct snapshot_report {
	const char *status;		/* ok, failed, timeout, target-exited, skipped */
	const char *reason;		/* why it failed or was skipped, or NULL */
	const char *hold;		/* kernel, agent or none */
	const char *output;		/* the end of the checkpointer's stderr, or NULL */
	size_t output_len;		/* bytes at output; it may hold NUL bytes */
	const struct served_trigger *served;
	size_t served_count;
	const struct container_ids *ids; /* ns_pid, ns_tid and cgroup to write, or NULL to look them up */
	__u64 duration_ns;		/* how long the checkpointer ran */
	__u64 held_ns;			/* how long the process was held */
	__u32 pid;
	__u32 tid;
	int exit_code;			/* the command's exit code, or -1 */
	int term_signal;		/* the signal that ended the command, or 0 */
	int held;
	int resumed;			/* 1 resumed, 0 left stopped or ended, -1 not held */
	int continued;			/* 1 when someone else sent SIGCONT while held, -1 not held */
	int ended;			/* --stop-after-snapshot killed the process */
};

struct emitter {
	__u64 seq;			/* of the last line written */
	__s64 realtime_offset_ns;	/* CLOCK_REALTIME minus CLOCK_BOOTTIME */
	__u64 started_ns;		/* boot clock when tracing began, for the start line; 0: now */
	enum output_format format;
	int fd;
	int owns_fd;
	int regular_file;		/* fd is a regular file: no stall check, no PIPE_BUF split */
	int deleted_reported;		/* the message of emitter_check_deleted() is out */
	const char *path;		/* --output, or NULL for standard output */
	int error;			/* first write error, -errno; later lines are dropped */
	int show_held;			/* trigger lines carry "held" (with --freeze) */
	struct json_writer json;
	const char *last_line;		/* the last JSON line, in out or json, or NULL */
	size_t last_line_len;		/* its length without the newline */
	const struct environ_probe *environ_probes; /* names of st_environ_record.probe */
	size_t environ_probe_count;
	struct line_json_tail line_tail; /* the repeated part of the last JSON call line */
	char *text;			/* text line buffer */
	size_t text_cap;
	char *out;			/* lines not written yet */
	size_t out_len;
	size_t out_off;			/* bytes at the start of out already written */
	size_t out_cap;
	__u64 stalled_since_ns;		/* since when a pipe or socket took none of out, or 0 */
	__u64 dropped;			/* lines dropped because the output was too far behind */
	__u64 dropped_logged;		/* of dropped, the ones a message has counted */
	int dropping;			/* dropping lines until the output catches up */
	int dropping_all;		/* past OUTPUT_RARE_MAX: dropping the rare lines too */
	int line_dropped;		/* the last line was dropped */
	__u64 drain_deadline_ns;	/* boot time emitter_drain() gives up at, 0: only on a stall */
	int keep_lines;			/* the stats line is out: drop no line any more */
	size_t flush_bytes;		/* out is written when it would grow past this */
	struct latency_set latency;	/* kernel record to written line */
	struct pending_delay *pending;	/* lines in out from kernel records */
	size_t pending_count;
	size_t pending_done;		/* of pending, the ones written */
	size_t pending_cap;
};

/* Opens path for appending, or uses standard output when path is NULL. */
int emitter_open(struct emitter *e, const char *path, enum output_format format);
/* Waits for the reader as emitter_drain() does, logs the dropped lines, and frees the emitter. */
void emitter_close(struct emitter *e, int stop_fd);

/*
 * Stops the output because its reader closed it, as a write would find with
 * EPIPE, with the same message.
 */
void emitter_output_closed(struct emitter *e);
/*
 * Writes the lines gathered so far: all of them to a regular file, and to a
 * pipe or socket what it takes without waiting. The event loop calls it once
 * per pass, so a line reaches the output within one pass (at most a few ms)
 * and a flood costs one write(2) per pass instead of one per line.
 */
void emitter_flush(struct emitter *e);
/*
 * Prints a message, once, when the --output file has been deleted: lines
 * still go to the open file, which no other process can then open.
 */
void emitter_check_deleted(struct emitter *e);
/* Returns the bytes of lines that a pipe or socket output has not taken yet. */
size_t emitter_backlog(const struct emitter *e);
/* Whether so many lines wait that call counts should wait in the counters. */
int emitter_behind(const struct emitter *e);
/*
 * Writes every waiting line. Waits while the output takes some within each
 * 5 s, and until drain_deadline_ns when set, and then stops the output with a
 * message. stop_fd, when not -1, is a signalfd whose SIGINT, SIGTERM or
 * SIGHUP sets drain_deadline_ns 5 s ahead.
 */
void emitter_drain(struct emitter *e, int stop_fd);

__u64 boot_now_ns(void);
/*
 * Reads CLOCK_REALTIME against CLOCK_BOOTTIME again, after the system clock
 * was set, so that the "time" of later lines follows the new wall clock.
 * Returns the change of the offset in ns.
 */
__s64 emitter_clock_set(struct emitter *e);

void emit_start(struct emitter *e, const struct options *opts, const pid_t *targets,
		size_t target_count, pid_t agent_pid);
/* Writes the join line of a process that entered the --cgroup subtree. */
void emit_join(struct emitter *e, const struct st_join_record *rec);
/* Classifier callback: ctx is the emitter. */
void emit_line(void *ctx, const struct line *line);
/*
 * Returns the JSON line that the last emit_ function call wrote, without its
 * newline and not NUL-terminated, and stores its length in len. Returns NULL
 * in text format, or when that call wrote no line. The text stays valid
 * until the next call on e.
 */
const char *emitter_last_line(const struct emitter *e, size_t *len);
void emit_snapshot(struct emitter *e, const struct snapshot_report *r);
void emit_lost(struct emitter *e, __u64 total, const __u64 *delta_by_kind);
void emit_stats(struct emitter *e, const struct classifier *c, __u64 lost_total,
		const __u64 *lost_by_kind);
/*
 * Copies the string at s, which ends at its first '\0' or after len bytes,
 * to out with every byte outside printable ASCII, and space, '=' and '\\',
 * as \xNN. out needs 4 bytes per byte of s, plus 1.
 */
void text_safe(char *out, size_t out_len, const char *s, size_t len);

#endif
