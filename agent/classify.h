/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The classifier turns ring buffer records into output lines and keeps the
 * per-process state that the kernel does not: counts already written, the
 * cooldown windows and the periodic-interval deadlines. It does no I/O of its
 * own. The caller supplies the kernel counters and receives the lines through
 * callbacks, so the unit tests drive it with hand-made records.
 */
#ifndef SNAPTRIG_CLASSIFY_H
#define SNAPTRIG_CLASSIFY_H

#include <stddef.h>
#include "snaptrig_abi.h"

enum line_type {
	LINE_TRIGGER,
	LINE_EXEC,	/* an exec, when bootstrap is not selected */
	LINE_EXIT,
	LINE_COVERAGE,	/* a path on which some triggers are blind for the process */
};

/* One line for the emitter. record points at the record it came from, if any. */
struct line {
	__u64 boot_ns;
	__u64 count;			/* coalesced calls: occurrences in this line */
	__u64 calls[ST_COUNTED_CALLS];	/* coalesced calls: per call */
	__u64 number;			/* periodic-interval: 1, 2, ... */
	__u64 interval_ns;		/* periodic-interval: the period */
	enum line_type type;
	enum st_trigger trigger;
	__u32 pid;
	__u32 tid;
	__u32 call;			/* coalesced calls: the call named in "call" */
	int coalesced;
	int held;			/* the process is held for a snapshot request */
	int reconciled;			/* a once-trigger whose record was lost: no detail */
	int lost_held;			/* reconciled: the kernel stopped the process at it */
	int at_attach;			/* found in /proc at attach: it happened earlier */
	int since_attach;		/* the first since attach; it may have happened earlier */
	__u32 coverage_triggers;	/* coverage: ST_TRIG_BIT mask, 0 for the record's one */
	int coverage_error;		/* coverage with no hook: the -errno of the load */
	const struct st_record_header *record;
	char comm[ST_COMM_LEN];
};

struct proc_entry {
	__u64 reported[ST_COUNTED_CALLS];	/* counts already written */
	__u64 window_end_ns[ST_CLASS_COUNT];	/* 0: no open cooldown window */
	__u64 window_retry_ns[ST_CLASS_COUNT];	/* a newer window's record is due: look then */
	__u64 next_interval_ns;
	__u64 interval_number;
	__u64 resumed_ns;			/* when a snapshot of it last ended */
	__u64 idle_hold_ns;			/* start of a hold in an idle period already reported, or 0 */
	__u32 pid;
	__u32 reconciled;			/* once_lost bits already written */
	__u32 before_exec;			/* the launched child, still snaptrig's code */
	__u32 since_attach;			/* ST_TRIG_BIT of once-triggers seen only since attach */
	char comm[ST_COMM_LEN];
};

struct classifier {
	__u64 cooldown_ns;
	__u64 interval_ns;
	__u64 records;				/* records decoded */
	__u64 malformed;			/* records rejected by the decoder */
	__u64 trigger_lines[ST_TRIG_COUNT];
	__u32 triggers;				/* ST_TRIG_BIT mask */
	struct proc_entry *procs;
	size_t proc_count;
	size_t proc_cap;
	/* Reads the kernel's st_proc.calls and window_ns of pid. Returns 0 or -errno. */
	int (*read_calls)(void *ctx, __u32 pid, __u64 *calls, __u64 *windows);
	void *calls_ctx;
	void (*emit)(void *ctx, const struct line *line);
	/* Ends the hold of pid when its held record wrote no line; may be NULL. */
	void (*release)(void *ctx, __u32 pid);
	/*
	 * Whether the output is so far behind that call counts should wait in
	 * the counters, for a later line to carry them; may be NULL.
	 */
	int (*output_busy)(void *ctx);
	void *ctx;
	const struct st_record_header *current;	/* the record being classified */
	struct proc_entry *current_proc;	/* its process, while nothing moves the array */
	int current_emitted;			/* a line came from current */
};

void classifier_init(struct classifier *c, __u32 triggers, __u64 cooldown_ns,
		     __u64 interval_ns);
void classifier_free(struct classifier *c);

/* Starts tracking pid from now_ns (boot clock). Returns 0 or -ENOMEM. */
int classifier_add(struct classifier *c, __u32 pid, const char *comm, __u64 now_ns);
struct proc_entry *classifier_find(struct classifier *c, __u32 pid);
/*
 * Writes a once-trigger line of an attached process from what /proc showed
 * at attach: hdr is a record the agent filled in, and the line carries
 * "source":"attach". It requests no snapshot, because the moment is past.
 */
void classifier_at_attach(struct classifier *c, enum st_trigger t,
			  const struct st_record_header *hdr);
/*
 * Writes a coverage line for pid at now_ns: the selected triggers among
 * `triggers` are blind on path via (enum st_via) for reason (enum
 * st_coverage_reason), with the -errno of a hook that failed to load.
 * With comm NULL the line takes the classifier's comm of the process.
 */
void classifier_coverage(struct classifier *c, __u32 pid, const char *comm, __u64 now_ns,
			 __u32 triggers, __u32 via, __u32 reason, int error);

/*
 * Checks that data contains one well-formed record of a known kind and returns
 * its header, or NULL.
 */
const struct st_record_header *record_decode(const void *data, size_t size);

/* Decodes and classifies one record. Returns 0, or -EINVAL for a malformed one. */
int classifier_record(struct classifier *c, const void *data, size_t size);

/* Writes what is due at now_ns: ended cooldown windows, periodic intervals. */
void classifier_tick(struct classifier *c, __u64 now_ns);

/*
 * Writes, as coalesced lines, the counts in calls (st_proc.calls of pid) that
 * no line has reported and no open window will: the kernel counted them
 * without a record while the ring buffer was nearly full.
 */
void classifier_sync_calls(struct classifier *c, __u32 pid, const struct st_proc *kernel,
			   __u64 now_ns);

/* Writes the counts of every open cooldown window now, as at the end of a run. */
void classifier_flush(struct classifier *c, __u64 now_ns);

/* Earliest boot-clock time at which classifier_tick() has work, or 0. */
__u64 classifier_next_deadline(const struct classifier *c);

/*
 * Writes an explicit trigger (source operator) for pid at now_ns, for a
 * request on the control socket. Returns 0, -ESRCH when pid is not
 * tracked, or -EOPNOTSUPP when explicit is not selected; both write nothing.
 */
int classifier_operator_snapshot(struct classifier *c, __u32 pid, __u64 now_ns);

/*
 * Writes a line for each once-trigger in once_lost (st_proc.once_lost) that
 * has none yet: the kernel fired it but the ring buffer lost its record.
 */
void classifier_reconcile(struct classifier *c, __u32 pid, __u32 once_lost, __u64 now_ns);

/*
 * Writes the line of a once-trigger of pid whose record was lost and for
 * which the kernel stopped the process at boot-time ns stop_ns, unless the
 * line was written already. Adds pid with comm when it is new.
 */
void classifier_reconcile_held(struct classifier *c, __u32 pid, const char *comm,
			       enum st_trigger trigger, __u64 stop_ns);

/*
 * Notes that a snapshot request of pid began, holding it or not.
 * idle_reported is whether the process was in an idle period already
 * reported (see idle_reported()).
 */
void classifier_hold_started(struct classifier *c, __u32 pid, __u64 now_ns, int idle_reported);
/*
 * Notes that a snapshot of pid ended at now_ns. Stopping, resuming or
 * attaching to a process wakes its threads, so an idle period that begins
 * right after is no new idle period.
 */
void classifier_snapshot_ended(struct classifier *c, __u32 pid, __u64 now_ns);

/* Forgets pid without writing anything, for a process that vanished unseen. */
void classifier_remove(struct classifier *c, __u32 pid);

#endif
