// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"

static const size_t record_sizes[ST_REC_KIND_COUNT] = {
	[ST_REC_LISTEN] = sizeof(struct st_listen_record),
	[ST_REC_STDIN] = sizeof(struct st_stdin_record),
	[ST_REC_SIGNAL] = sizeof(struct st_signal_record),
	[ST_REC_CALLS] = sizeof(struct st_calls_record),
	[ST_REC_EXEC] = sizeof(struct st_exec_record),
	[ST_REC_FORK] = sizeof(struct st_fork_record),
	[ST_REC_EXIT] = sizeof(struct st_exit_record),
	[ST_REC_ENVIRON] = sizeof(struct st_environ_record),
	[ST_REC_EXPLICIT] = sizeof(struct st_explicit_record),
	[ST_REC_IDLE] = sizeof(struct st_idle_record),
	[ST_REC_JOIN] = sizeof(struct st_join_record),
	[ST_REC_COVERAGE] = sizeof(struct st_coverage_record),
	[ST_REC_IMAGE] = sizeof(struct st_image_record),
};

static const __u32 class_first[ST_CLASS_COUNT] = {
	[ST_CLASS_NONDET] = ST_CLASS_NONDET_FIRST,
	[ST_CLASS_TXN] = ST_CLASS_TXN_FIRST,
};
static const __u32 class_last[ST_CLASS_COUNT] = {
	[ST_CLASS_NONDET] = ST_CLASS_NONDET_LAST,
	[ST_CLASS_TXN] = ST_CLASS_TXN_LAST,
};
static const enum st_trigger class_trigger[ST_CLASS_COUNT] = {
	[ST_CLASS_NONDET] = ST_TRIG_NON_DETERMINISTIC_CALL,
	[ST_CLASS_TXN] = ST_TRIG_TRANSACTION,
};

void classifier_init(struct classifier *c, __u32 triggers, __u64 cooldown_ns,
		     __u64 interval_ns)
{
	memset(c, 0, sizeof(*c));
	c->triggers = triggers;
	c->cooldown_ns = cooldown_ns;
	c->interval_ns = interval_ns;
}

void classifier_free(struct classifier *c)
{
	free(c->procs);
	c->procs = NULL;
	c->proc_count = c->proc_cap = 0;
}

static int enabled(const struct classifier *c, enum st_trigger t)
{
	return !!(c->triggers & ST_TRIG_BIT(t));
}

struct proc_entry *classifier_find(struct classifier *c, __u32 pid)
{
	size_t i;

	for (i = 0; i < c->proc_count; i++)
		if (c->procs[i].pid == pid)
			return &c->procs[i];
	return NULL;
}

int classifier_add(struct classifier *c, __u32 pid, const char *comm, __u64 now_ns)
{
	struct proc_entry *proc = classifier_find(c, pid);

	if (!proc) {
		if (c->proc_count == c->proc_cap) {
			size_t cap = c->proc_cap ? c->proc_cap * 2 : 16;
			struct proc_entry *grown = realloc(c->procs, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			c->procs = grown;
			c->proc_cap = cap;
		}
		proc = &c->procs[c->proc_count++];
	}
	c->current_proc = NULL;	/* the array may have moved */
	memset(proc, 0, sizeof(*proc));
	proc->pid = pid;
	if (comm)
		strncpy(proc->comm, comm, sizeof(proc->comm) - 1);
	if (enabled(c, ST_TRIG_PERIODIC_INTERVAL))
		proc->next_interval_ns = now_ns + c->interval_ns;
	return 0;
}

void classifier_remove(struct classifier *c, __u32 pid)
{
	struct proc_entry *proc = classifier_find(c, pid);

	if (!proc)
		return;
	*proc = c->procs[--c->proc_count];
	c->current_proc = NULL;
}

const struct st_record_header *record_decode(const void *data, size_t size)
{
	const struct st_record_header *hdr = data;

	if (!data || size < sizeof(*hdr))
		return NULL;
	if (hdr->kind == 0 || hdr->kind >= ST_REC_KIND_COUNT)
		return NULL;
	if (hdr->size != record_sizes[hdr->kind] || size < hdr->size)
		return NULL;
	return hdr;
}

static void line_from_record(struct line *line, enum line_type type,
			     enum st_trigger trigger, const struct st_record_header *hdr)
{
	memset(line, 0, sizeof(*line));
	line->type = type;
	line->trigger = trigger;
	line->boot_ns = hdr->boot_ns;
	line->pid = hdr->pid;
	line->tid = hdr->tid;
	line->record = hdr;
	memcpy(line->comm, hdr->comm, sizeof(line->comm));
	line->comm[ST_COMM_LEN - 1] = '\0';
}

static void emit(struct classifier *c, const struct line *line)
{
	if (line->record && line->record == c->current)
		c->current_emitted = 1;
	if (line->type == LINE_TRIGGER) {
		/* most lines are of the record's own process: spare the search */
		struct proc_entry *proc = c->current_proc && c->current_proc->pid == line->pid ?
					  c->current_proc : classifier_find(c, line->pid);
		__u32 bit = ST_TRIG_BIT(line->trigger);

		c->trigger_lines[line->trigger]++;
		if (proc && (proc->since_attach & bit)) {
			struct line copy = *line;

			proc->since_attach &= ~bit;
			copy.since_attach = !line->at_attach;
			c->emit(c->ctx, &copy);
			return;
		}
	}
	c->emit(c->ctx, line);
}

void classifier_coverage(struct classifier *c, __u32 pid, const char *comm, __u64 now_ns,
			 __u32 triggers, __u32 via, __u32 reason, int error)
{
	struct proc_entry *proc = classifier_find(c, pid);
	struct st_coverage_record rec = {
		.hdr = {
			.boot_ns = now_ns,
			.kind = ST_REC_COVERAGE,
			.pid = pid,
			.tid = pid,
			.size = sizeof(rec),
		},
		.via = via,
		.reason = reason,
	};
	struct line line;

	triggers &= c->triggers;
	if (!triggers)
		return;
	if (comm)
		strncpy(rec.hdr.comm, comm, sizeof(rec.hdr.comm) - 1);
	else if (proc)
		memcpy(rec.hdr.comm, proc->comm, sizeof(rec.hdr.comm));
	line_from_record(&line, LINE_COVERAGE, 0, &rec.hdr);
	line.coverage_triggers = triggers;
	line.coverage_error = error;
	emit(c, &line);
}

void classifier_at_attach(struct classifier *c, enum st_trigger t,
			  const struct st_record_header *hdr)
{
	struct line line;

	if (!enabled(c, t))
		return;
	line_from_record(&line, LINE_TRIGGER, t, hdr);
	line.at_attach = 1;
	emit(c, &line);
}

static void emit_trigger(struct classifier *c, enum st_trigger t,
			 const struct st_record_header *hdr)
{
	struct line line;

	if (!enabled(c, t))
		return;
	line_from_record(&line, LINE_TRIGGER, t, hdr);
	emit(c, &line);
}

/*
 * Writes the counts of one class that calls[] contains beyond what proc has
 * reported, less `hold` occurrences of call `held` that belong to a later
 * line. The line names the most frequent call.
 */
static void flush_class(struct classifier *c, struct proc_entry *proc, __u32 class,
			const __u64 *calls, __u32 held, __u64 hold, __u64 boot_ns,
			const struct st_record_header *opening)
{
	struct line line;
	__u64 best = 0;
	__u32 i;

	memset(&line, 0, sizeof(line));
	line.type = LINE_TRIGGER;
	line.trigger = class_trigger[class];
	line.boot_ns = boot_ns;
	line.pid = proc->pid;
	line.tid = proc->pid;
	line.coalesced = !opening;	/* and a first line that also stands for lost records */
	memcpy(line.comm, proc->comm, sizeof(line.comm));
	if (opening) {
		/* the line of the call that opened a window: its thread, its hold */
		line.record = opening;
		line.tid = opening->tid;
		memcpy(line.comm, opening->comm, sizeof(line.comm));
		line.comm[ST_COMM_LEN - 1] = '\0';
	}
	for (i = class_first[class]; i <= class_last[class]; i++) {
		__u64 seen = calls[i];
		__u64 delta;

		if (i == held)
			seen = seen >= hold ? seen - hold : 0;
		delta = seen > proc->reported[i] ? seen - proc->reported[i] : 0;
		line.calls[i] = delta;
		line.count += delta;
		proc->reported[i] += delta;
		if (delta > best) {
			best = delta;
			line.call = i;
		}
	}
	if (line.count > 1)
		line.coalesced = 1;
	if (line.count && enabled(c, line.trigger))
		emit(c, &line);
}

/*
 * Whether call lines wait because the output is behind. Their counts stay
 * unreported, so the next line of the class carries them, coalesced, and
 * the output falls no further behind under a flood of calls.
 */
static int calls_wait(const struct classifier *c)
{
	return c->output_busy && c->output_busy(c->ctx);
}

static void on_calls(struct classifier *c, struct proc_entry *proc,
		     const struct st_calls_record *rec)
{
	__u32 class = rec->class;

	if (class >= ST_CLASS_COUNT || rec->call < class_first[class] ||
	    rec->call > class_last[class])
		return;
	/* a held call still gets its line, which its snapshot request needs */
	if (calls_wait(c) && !(rec->hdr.flags & ST_RECORD_HELD)) {
		if (c->cooldown_ns && !proc->window_end_ns[class])
			proc->window_end_ns[class] = rec->hdr.boot_ns + c->cooldown_ns;
		return;
	}
	/* the open window ended before this call opened a new one */
	if (proc->window_end_ns[class])
		flush_class(c, proc, class, rec->calls, rec->call, 1,
			    proc->window_end_ns[class], NULL);
	proc->window_end_ns[class] = 0;
	proc->window_retry_ns[class] = 0;

	flush_class(c, proc, class, rec->calls, ST_CALL_COUNT, 0, rec->hdr.boot_ns, &rec->hdr);
	if (c->cooldown_ns)
		proc->window_end_ns[class] = rec->hdr.boot_ns + c->cooldown_ns;
}

static void on_signal(struct classifier *c, const struct st_signal_record *rec)
{
	switch (rec->sig) {
	case SIGINT:
		if (rec->first)
			emit_trigger(c, ST_TRIG_FIRST_SIGINT, &rec->hdr);
		emit_trigger(c, ST_TRIG_SIGINT, &rec->hdr);
		break;
	case SIGALRM:
		emit_trigger(c, ST_TRIG_SIGALRM, &rec->hdr);
		break;
	case SIGTSTP:
		emit_trigger(c, ST_TRIG_SIGTSTP, &rec->hdr);
		break;
	case SIGSTOP:
		emit_trigger(c, ST_TRIG_SIGSTOP, &rec->hdr);
		break;
	}
}

static void on_exec_record(struct classifier *c, struct proc_entry *proc,
		    const struct st_exec_record *rec)
{
	struct line line;
	__u32 class;

	/* the old image's calls go out under its own name, before the new one's line */
	for (class = 0; class < ST_CLASS_COUNT; class++)
		flush_class(c, proc, class, rec->calls, ST_CALL_COUNT, 0, rec->hdr.boot_ns,
			    NULL);
	memcpy(proc->comm, rec->hdr.comm, sizeof(proc->comm));
	proc->comm[ST_COMM_LEN - 1] = '\0';
	proc->before_exec = 0;
	if (enabled(c, ST_TRIG_BOOTSTRAP)) {
		line_from_record(&line, LINE_TRIGGER, ST_TRIG_BOOTSTRAP, &rec->hdr);
	} else {
		line_from_record(&line, LINE_EXEC, ST_TRIG_BOOTSTRAP, &rec->hdr);
	}
	/* after an exec from another thread, that thread has the leader's tid */
	emit(c, &line);
}

/* Fills line as a trigger line of proc that no record carries. */
static void proc_line(struct line *line, const struct proc_entry *proc, enum st_trigger trigger,
		      __u64 boot_ns)
{
	memset(line, 0, sizeof(*line));
	line->type = LINE_TRIGGER;
	line->trigger = trigger;
	line->boot_ns = boot_ns;
	line->pid = proc->pid;
	line->tid = proc->pid;
	memcpy(line->comm, proc->comm, sizeof(line->comm));
}

static void emit_reconciled(struct classifier *c, struct proc_entry *proc, enum st_trigger trigger,
			    __u64 boot_ns, int lost_held)
{
	struct line line;

	proc->reconciled |= ST_TRIG_BIT(trigger);
	proc_line(&line, proc, trigger, boot_ns);
	line.reconciled = 1;
	line.lost_held = lost_held;
	emit(c, &line);
}

void classifier_reconcile(struct classifier *c, __u32 pid, __u32 once_lost, __u64 now_ns)
{
	struct proc_entry *proc = classifier_find(c, pid);
	int t;

	if (!proc)
		return;
	for (t = 0; t < ST_TRIG_COUNT; t++) {
		__u32 bit = ST_TRIG_BIT(t);

		if (!(once_lost & bit) || (proc->reconciled & bit) || !enabled(c, t))
			continue;
		emit_reconciled(c, proc, t, now_ns, 0);
	}
}

void classifier_reconcile_held(struct classifier *c, __u32 pid, const char *comm,
			       enum st_trigger trigger, __u64 stop_ns)
{
	struct proc_entry *proc = classifier_find(c, pid);

	if (!proc) {
		if (classifier_add(c, pid, comm, stop_ns))
			return;
		proc = classifier_find(c, pid);
	}
	if (proc->reconciled & ST_TRIG_BIT(trigger))
		return;
	emit_reconciled(c, proc, trigger, stop_ns, 1);
}

/* A snapshot's own stop and resume wake the threads for this long at most. */
#define SNAPSHOT_SETTLE_NS 100000000ULL

void classifier_hold_started(struct classifier *c, __u32 pid, __u64 now_ns, int idle_reported)
{
	struct proc_entry *proc = classifier_find(c, pid);

	if (proc)
		proc->idle_hold_ns = idle_reported ? now_ns : 0;
}

void classifier_snapshot_ended(struct classifier *c, __u32 pid, __u64 now_ns)
{
	struct proc_entry *proc = classifier_find(c, pid);

	if (proc)
		proc->resumed_ns = now_ns;
}

/*
 * Whether an idle record starts a new idle period. The launched child before
 * its exec waits in snaptrig's start gate, which is no idle period. Neither
 * is an idle process going idle again right after a hold woke it, when it
 * had stayed blocked from its last idle record to the hold.
 */
static int idle_is_new(const struct proc_entry *proc, const struct st_idle_record *rec)
{
	/*
	 * NOTE: a process whose own wait ends while it is held runs at the resume,
	 * which looks the same as the hold's wakeup, so that idle period gets no line.
	 */
	if (proc->before_exec)
		return 0;
	if (proc->idle_hold_ns && proc->resumed_ns >= proc->idle_hold_ns &&
	    rec->idle_since_ns >= proc->idle_hold_ns &&
	    rec->idle_since_ns <= proc->resumed_ns + SNAPSHOT_SETTLE_NS)
		return 0;
	return 1;
}

static void on_exit_record(struct classifier *c, struct proc_entry *proc,
		    const struct st_exit_record *rec)
{
	struct line line;
	__u32 class;

	memcpy(proc->comm, rec->hdr.comm, sizeof(proc->comm));
	proc->comm[ST_COMM_LEN - 1] = '\0';
	for (class = 0; class < ST_CLASS_COUNT; class++)
		flush_class(c, proc, class, rec->calls, ST_CALL_COUNT, 0, rec->hdr.boot_ns,
			    NULL);
	classifier_reconcile(c, proc->pid, rec->once_lost, rec->hdr.boot_ns);
	line_from_record(&line, LINE_EXIT, 0, &rec->hdr);
	emit(c, &line);
	classifier_remove(c, rec->hdr.pid);
}

int classifier_record(struct classifier *c, const void *data, size_t size)
{
	const struct st_record_header *hdr = record_decode(data, size);
	struct proc_entry *proc;

	if (!hdr) {
		c->malformed++;
		return -EINVAL;
	}
	c->records++;
	c->current = hdr;
	c->current_emitted = 0;

	proc = classifier_find(c, hdr->pid);
	/* an idle record can come after the exit of a process already forgotten */
	if (!proc && hdr->kind == ST_REC_IDLE)
		goto done;
	if (!proc && hdr->kind != ST_REC_SIGNAL) {
		/* a process whose fork record was lost: track it from here */
		if (classifier_add(c, hdr->pid, hdr->comm, hdr->boot_ns))
			return -ENOMEM;
		proc = classifier_find(c, hdr->pid);
	}

	c->current_proc = proc;
	switch (hdr->kind) {
	case ST_REC_LISTEN:
		emit_trigger(c, ST_TRIG_FIRST_LISTEN, hdr);
		break;
	case ST_REC_STDIN:
		emit_trigger(c, ST_TRIG_FIRST_STDIN, hdr);
		break;
	case ST_REC_SIGNAL:
		on_signal(c, (const struct st_signal_record *)hdr);
		break;
	case ST_REC_CALLS:
		on_calls(c, proc, (const struct st_calls_record *)hdr);
		break;
	case ST_REC_EXEC:
		on_exec_record(c, proc, (const struct st_exec_record *)hdr);
		break;
	case ST_REC_FORK: {
		const struct st_fork_record *rec = (const void *)hdr;

		if (!classifier_find(c, rec->child_pid) &&
		    classifier_add(c, rec->child_pid, hdr->comm, hdr->boot_ns))
			return -ENOMEM;
		break;
	}
	case ST_REC_EXIT:
		on_exit_record(c, proc, (const struct st_exit_record *)hdr);
		break;
	case ST_REC_ENVIRON:
		emit_trigger(c, ST_TRIG_FIRST_ENVIRON, hdr);
		break;
	case ST_REC_EXPLICIT:
		emit_trigger(c, ST_TRIG_EXPLICIT, hdr);
		break;
	case ST_REC_IDLE:
		if (idle_is_new(proc, (const struct st_idle_record *)hdr))
			emit_trigger(c, ST_TRIG_IDLE, hdr);
		break;
	case ST_REC_COVERAGE: {
		struct line line;

		line_from_record(&line, LINE_COVERAGE, 0, hdr);
		emit(c, &line);
		break;
	}
	case ST_REC_IMAGE:
		/* for the uprobes, which the caller attaches */
		break;
	}
done:
	/* a process stopped for a record that wrote no line must not stay stopped */
	if ((hdr->flags & ST_RECORD_HELD) && !c->current_emitted && c->release)
		c->release(c->ctx, hdr->pid);
	c->current = NULL;
	c->current_proc = NULL;
	return 0;
}

/* How long a closed window waits for the record of the window the kernel opened after it. */
#define NEXT_RECORD_WAIT_NS 10000000ULL

static void tick_windows(struct classifier *c, struct proc_entry *proc, __u64 now_ns)
{
	__u64 calls[ST_COUNTED_CALLS], windows[ST_CLASS_COUNT];
	int have_calls = 0;
	__u32 class;

	/* the windows stay open, and a later tick writes their counts */
	if (calls_wait(c))
		return;
	for (class = 0; class < ST_CLASS_COUNT; class++) {
		__u64 end = proc->window_end_ns[class];

		if (!end || end > now_ns || proc->window_retry_ns[class] > now_ns)
			continue;
		if (!have_calls) {
			if (!c->read_calls ||
			    c->read_calls(c->calls_ctx, proc->pid, calls, windows)) {
				proc->window_end_ns[class] = 0;
				return;
			}
			have_calls = 1;
		}
		/*
		 * The kernel opened a newer window, so the record of its first
		 * call is on the way, and that call is in the counts already.
		 * Its record splits the counts right, so wait for it a little.
		 */
		if (windows[class] > end - c->cooldown_ns && !proc->window_retry_ns[class]) {
			proc->window_retry_ns[class] = now_ns + NEXT_RECORD_WAIT_NS;
			continue;
		}
		proc->window_end_ns[class] = 0;
		proc->window_retry_ns[class] = 0;
		flush_class(c, proc, class, calls, ST_CALL_COUNT, 0, end, NULL);
	}
}

void classifier_sync_calls(struct classifier *c, __u32 pid, const struct st_proc *kernel,
			   __u64 now_ns)
{
	struct proc_entry *proc = classifier_find(c, pid);
	__u32 class;

	if (!proc || calls_wait(c))
		return;
	for (class = 0; class < ST_CLASS_COUNT; class++) {
		/*
		 * A window the kernel opened may have its record still on the way,
		 * also one opened after now_ns was read, before the kernel's state.
		 */
		if (proc->window_end_ns[class] ||
		    (c->cooldown_ns && kernel->window_ns[class] &&
		     kernel->window_ns[class] + c->cooldown_ns > now_ns))
			continue;
		/*
		 * NOTE: with --cooldown 0s, a call that sends its record right
		 * after the ring buffer was drained here is reported in this line,
		 * and its own record then writes none.
		 */
		flush_class(c, proc, class, kernel->calls, ST_CALL_COUNT, 0, now_ns, NULL);
	}
}

void classifier_flush(struct classifier *c, __u64 now_ns)
{
	__u64 calls[ST_COUNTED_CALLS], windows[ST_CLASS_COUNT];
	size_t i;
	__u32 class;

	/* the last counts go out however far behind the output is */
	c->output_busy = NULL;
	for (i = 0; i < c->proc_count; i++) {
		struct proc_entry *proc = &c->procs[i];

		for (class = 0; class < ST_CLASS_COUNT; class++)
			if (proc->window_end_ns[class])
				proc->window_end_ns[class] = now_ns;
		tick_windows(c, proc, now_ns);
		/* and the counts that waited outside a window, with --cooldown 0s */
		if (!c->read_calls || c->read_calls(c->calls_ctx, proc->pid, calls, windows))
			continue;
		for (class = 0; class < ST_CLASS_COUNT; class++)
			flush_class(c, proc, class, calls, ST_CALL_COUNT, 0, now_ns, NULL);
	}
}

static void tick_interval(struct classifier *c, struct proc_entry *proc, __u64 now_ns)
{
	struct line line;

	if (!proc->next_interval_ns || proc->next_interval_ns > now_ns)
		return;
	proc_line(&line, proc, ST_TRIG_PERIODIC_INTERVAL, now_ns);
	line.number = ++proc->interval_number;
	line.interval_ns = c->interval_ns;
	/* a late tick fires once, then keeps the original phase */
	proc->next_interval_ns += ((now_ns - proc->next_interval_ns) / c->interval_ns + 1) *
				  c->interval_ns;
	emit(c, &line);
}

void classifier_tick(struct classifier *c, __u64 now_ns)
{
	size_t i;

	for (i = 0; i < c->proc_count; i++) {
		tick_windows(c, &c->procs[i], now_ns);
		tick_interval(c, &c->procs[i], now_ns);
	}
}

__u64 classifier_next_deadline(const struct classifier *c)
{
	__u64 next = 0;
	size_t i;
	__u32 class;

	for (i = 0; i < c->proc_count; i++) {
		const struct proc_entry *proc = &c->procs[i];

		for (class = 0; class < ST_CLASS_COUNT; class++) {
			__u64 due = proc->window_retry_ns[class] ? proc->window_retry_ns[class] :
								    proc->window_end_ns[class];

			if (proc->window_end_ns[class] && (!next || due < next))
				next = due;
		}
		if (proc->next_interval_ns && (!next || proc->next_interval_ns < next))
			next = proc->next_interval_ns;
	}
	return next;
}

int classifier_operator_snapshot(struct classifier *c, __u32 pid, __u64 now_ns)
{
	struct proc_entry *proc = classifier_find(c, pid);
	struct st_explicit_record rec;

	if (!enabled(c, ST_TRIG_EXPLICIT))
		return -EOPNOTSUPP;
	if (!proc)
		return -ESRCH;
	/* the record the kernel would send, so the emitter reads the source the same way */
	memset(&rec, 0, sizeof(rec));
	rec.hdr.boot_ns = now_ns;
	rec.hdr.kind = ST_REC_EXPLICIT;
	rec.hdr.pid = pid;
	rec.hdr.tid = pid;
	rec.hdr.size = sizeof(rec);
	rec.hdr.flags = ST_RECORD_AGENT;
	memcpy(rec.hdr.comm, proc->comm, sizeof(rec.hdr.comm));
	rec.source = ST_EXPLICIT_OPERATOR;
	emit_trigger(c, ST_TRIG_EXPLICIT, &rec.hdr);
	return 0;
}
