// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Classifier: records in, lines out, with hand-made records and counters. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "classify.h"

#define MAX_LINES 32
#define SEC 1000000000ULL

struct capture {
	struct line lines[MAX_LINES];
	size_t count;
	__u64 kernel_calls[ST_COUNTED_CALLS];	/* what read_calls returns */
	__u64 kernel_windows[ST_CLASS_COUNT];
	int read_calls_error;
};

static void capture_line(void *ctx, const struct line *line)
{
	struct capture *cap = ctx;

	assert_true(cap->count < MAX_LINES);
	cap->lines[cap->count++] = *line;
}

static int capture_read_calls(void *ctx, __u32 pid, __u64 *calls, __u64 *windows)
{
	struct capture *cap = ctx;

	if (cap->read_calls_error)
		return cap->read_calls_error;
	memcpy(calls, cap->kernel_calls, sizeof(cap->kernel_calls));
	memcpy(windows, cap->kernel_windows, sizeof(cap->kernel_windows));
	return 0;
}

static void setup_classifier(struct classifier *c, struct capture *cap, __u32 triggers,
			     __u64 cooldown)
{
	memset(cap, 0, sizeof(*cap));
	classifier_init(c, triggers, cooldown, 10 * SEC);
	c->emit = capture_line;
	c->ctx = cap;
	c->read_calls = capture_read_calls;
	c->calls_ctx = cap;
}

static void header(struct st_record_header *hdr, __u32 kind, __u32 size, __u32 pid,
		   __u64 boot_ns)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->kind = kind;
	hdr->size = size;
	hdr->pid = pid;
	hdr->tid = pid;
	hdr->boot_ns = boot_ns;
	strcpy(hdr->comm, "worker");
}

static struct st_calls_record calls_record(__u32 pid, __u64 boot_ns, __u32 call,
					   const __u64 *calls)
{
	struct st_calls_record rec;

	memset(&rec, 0, sizeof(rec));
	header(&rec.hdr, ST_REC_CALLS, sizeof(rec), pid, boot_ns);
	rec.call = call;
	rec.class = call <= ST_CLASS_NONDET_LAST ? ST_CLASS_NONDET : ST_CLASS_TXN;
	memcpy(rec.calls, calls, sizeof(rec.calls));
	return rec;
}

static void decode_rejects_bad_records(void **state)
{
	struct st_stdin_record rec;

	header(&rec.hdr, ST_REC_STDIN, sizeof(rec), 10, 1);
	assert_non_null(record_decode(&rec, sizeof(rec)));
	assert_null(record_decode(&rec, sizeof(rec) - 1));
	assert_null(record_decode(NULL, 0));
	rec.hdr.kind = 0;
	assert_null(record_decode(&rec, sizeof(rec)));
	rec.hdr.kind = ST_REC_KIND_COUNT;
	assert_null(record_decode(&rec, sizeof(rec)));
	rec.hdr.kind = ST_REC_STDIN;
	rec.hdr.size = sizeof(rec) + 8;
	assert_null(record_decode(&rec, sizeof(rec) + 8));
}

static void calls_first_then_coalesced(void **state)
{
	struct classifier c;
	struct capture cap;
	__u64 calls[ST_COUNTED_CALLS] = {};
	struct st_calls_record rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL), SEC);
	assert_int_equal(classifier_add(&c, 10, "worker", 0), 0);

	calls[ST_CALL_GETRANDOM] = 1;
	rec = calls_record(10, 5 * SEC, ST_CALL_GETRANDOM, calls);
	assert_int_equal(classifier_record(&c, &rec, sizeof(rec)), 0);
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.lines[0].trigger, ST_TRIG_NON_DETERMINISTIC_CALL);
	assert_int_equal(cap.lines[0].count, 1);
	assert_int_equal(cap.lines[0].coalesced, 0);
	assert_int_equal(cap.lines[0].call, ST_CALL_GETRANDOM);
	assert_int_equal(classifier_next_deadline(&c), 6 * SEC);

	/* 41 more calls in the window, seen only as kernel counters */
	cap.kernel_calls[ST_CALL_GETRANDOM] = 31;
	cap.kernel_calls[ST_CALL_CLOCK_GETTIME] = 11;
	classifier_tick(&c, 6 * SEC - 1);
	assert_int_equal(cap.count, 1);
	classifier_tick(&c, 6 * SEC);
	assert_int_equal(cap.count, 2);
	assert_int_equal(cap.lines[1].count, 41);
	assert_int_equal(cap.lines[1].calls[ST_CALL_GETRANDOM], 30);
	assert_int_equal(cap.lines[1].calls[ST_CALL_CLOCK_GETTIME], 11);
	assert_int_equal(cap.lines[1].call, ST_CALL_GETRANDOM);
	assert_int_equal(cap.lines[1].coalesced, 1);
	assert_int_equal(cap.lines[1].boot_ns, 6 * SEC);
	assert_int_equal(classifier_next_deadline(&c), 0);
	classifier_free(&c);
}

/* Traces pid 10 with a 1 s cooldown, and opens its window with one getrandom at 5 s. */
static void open_window_at_5s(struct classifier *c, struct capture *cap)
{
	__u64 calls[ST_COUNTED_CALLS] = { [ST_CALL_GETRANDOM] = 1 };
	struct st_calls_record rec = calls_record(10, 5 * SEC, ST_CALL_GETRANDOM, calls);

	setup_classifier(c, cap, ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL), SEC);
	assert_int_equal(classifier_add(c, 10, "worker", 0), 0);
	assert_int_equal(classifier_record(c, &rec, sizeof(rec)), 0);
	assert_int_equal(cap->count, 1);
}

/* A window ends while the record of the next window's first call is on the way. */
static void calls_tick_waits_for_next_record(void **state)
{
	struct classifier c;
	struct capture cap;
	__u64 calls[ST_COUNTED_CALLS] = {};
	struct st_calls_record rec;

	open_window_at_5s(&c, &cap);

	/* the kernel counted one more call and opened its window after this one ended */
	cap.kernel_calls[ST_CALL_GETRANDOM] = 2;
	cap.kernel_windows[ST_CLASS_NONDET] = 6 * SEC + 5;
	classifier_tick(&c, 6 * SEC + 10);
	assert_int_equal(cap.count, 1);
	assert_int_equal(classifier_next_deadline(&c), 6 * SEC + 10 + 10000000);

	/* its record opens the new window with its own line, and the old one has nothing */
	calls[ST_CALL_GETRANDOM] = 2;
	rec = calls_record(10, 6 * SEC + 5, ST_CALL_GETRANDOM, calls);
	assert_int_equal(classifier_record(&c, &rec, sizeof(rec)), 0);
	assert_int_equal(cap.count, 2);
	assert_int_equal(cap.lines[1].count, 1);
	assert_int_equal(cap.lines[1].coalesced, 0);
	assert_int_equal(cap.lines[1].boot_ns, 6 * SEC + 5);
	assert_int_equal(classifier_next_deadline(&c), 7 * SEC + 5);
	classifier_free(&c);
}

/* The record of the next window never comes (a failed reserve): the counts go out late. */
static void calls_tick_gives_up_waiting(void **state)
{
	struct classifier c;
	struct capture cap;

	open_window_at_5s(&c, &cap);

	cap.kernel_calls[ST_CALL_GETRANDOM] = 3;
	cap.kernel_windows[ST_CLASS_NONDET] = 6 * SEC + 5;
	classifier_tick(&c, 6 * SEC);
	assert_int_equal(cap.count, 1);
	classifier_tick(&c, 6 * SEC + 10000000 - 1);
	assert_int_equal(cap.count, 1);
	classifier_tick(&c, 6 * SEC + 10000000);
	assert_int_equal(cap.count, 2);
	assert_int_equal(cap.lines[1].count, 2);
	assert_int_equal(cap.lines[1].coalesced, 1);
	assert_int_equal(cap.lines[1].boot_ns, 6 * SEC);
	assert_int_equal(classifier_next_deadline(&c), 0);
	classifier_free(&c);
}

static void calls_late_tick_splits_window(void **state)
{
	struct classifier c;
	struct capture cap;
	__u64 calls[ST_COUNTED_CALLS] = {};
	struct st_calls_record rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_TRANSACTION), SEC);
	classifier_add(&c, 10, "worker", 0);
	calls[ST_CALL_FSYNC] = 1;
	rec = calls_record(10, 1 * SEC, ST_CALL_FSYNC, calls);
	classifier_record(&c, &rec, sizeof(rec));

	/* the next window opens before the agent's tick ran: 4 in the old one */
	calls[ST_CALL_FSYNC] = 6;
	rec = calls_record(10, 3 * SEC, ST_CALL_FSYNC, calls);
	classifier_record(&c, &rec, sizeof(rec));
	assert_int_equal(cap.count, 3);
	assert_int_equal(cap.lines[1].count, 4);
	assert_int_equal(cap.lines[1].coalesced, 1);
	assert_int_equal(cap.lines[1].boot_ns, 2 * SEC);
	assert_int_equal(cap.lines[2].count, 1);
	assert_int_equal(cap.lines[2].coalesced, 0);
	assert_int_equal(cap.lines[2].boot_ns, 3 * SEC);
	classifier_free(&c);
}

static void calls_zero_cooldown_recovers_lost(void **state)
{
	struct classifier c;
	struct capture cap;
	__u64 calls[ST_COUNTED_CALLS] = {};
	struct st_calls_record rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL), 0);
	classifier_add(&c, 10, "worker", 0);
	calls[ST_CALL_TIME] = 1;
	rec = calls_record(10, 1, ST_CALL_TIME, calls);
	classifier_record(&c, &rec, sizeof(rec));
	/* records 2..4 were lost in the ring buffer; the 5th carries the counts */
	calls[ST_CALL_TIME] = 5;
	rec = calls_record(10, 2, ST_CALL_TIME, calls);
	classifier_record(&c, &rec, sizeof(rec));
	assert_int_equal(cap.count, 2);
	assert_int_equal(cap.lines[1].count, 4);
	assert_int_equal(classifier_next_deadline(&c), 0);
	classifier_free(&c);
}

static void calls_flushed_before_exit(void **state)
{
	struct classifier c;
	struct capture cap;
	__u64 calls[ST_COUNTED_CALLS] = {};
	struct st_calls_record rec;
	struct st_exit_record exit_rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_TRANSACTION), SEC);
	classifier_add(&c, 10, "worker", 0);
	calls[ST_CALL_FDATASYNC] = 1;
	rec = calls_record(10, SEC, ST_CALL_FDATASYNC, calls);
	classifier_record(&c, &rec, sizeof(rec));

	memset(&exit_rec, 0, sizeof(exit_rec));
	header(&exit_rec.hdr, ST_REC_EXIT, sizeof(exit_rec), 10, SEC + 10);
	exit_rec.calls[ST_CALL_FDATASYNC] = 8;
	exit_rec.calls[ST_CALL_MSYNC] = 2;
	classifier_record(&c, &exit_rec, sizeof(exit_rec));
	assert_int_equal(cap.count, 3);
	assert_int_equal(cap.lines[1].type, LINE_TRIGGER);
	assert_int_equal(cap.lines[1].count, 9);
	assert_int_equal(cap.lines[1].calls[ST_CALL_FDATASYNC], 7);
	assert_int_equal(cap.lines[1].calls[ST_CALL_MSYNC], 2);
	assert_int_equal(cap.lines[2].type, LINE_EXIT);
	assert_null(classifier_find(&c, 10));
	classifier_free(&c);
}

static void calls_state_per_process(void **state)
{
	struct classifier c;
	struct capture cap;
	__u64 a[ST_COUNTED_CALLS] = {}, b[ST_COUNTED_CALLS] = {};
	struct st_calls_record rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL), 0);
	classifier_add(&c, 10, "a", 0);
	classifier_add(&c, 20, "b", 0);
	a[ST_CALL_GETRANDOM] = 3;
	rec = calls_record(10, 1, ST_CALL_GETRANDOM, a);
	classifier_record(&c, &rec, sizeof(rec));
	b[ST_CALL_GETRANDOM] = 1;
	rec = calls_record(20, 2, ST_CALL_GETRANDOM, b);
	classifier_record(&c, &rec, sizeof(rec));
	assert_int_equal(cap.count, 2);
	assert_int_equal(cap.lines[0].pid, 10);
	assert_int_equal(cap.lines[0].count, 3);
	assert_int_equal(cap.lines[1].pid, 20);
	assert_int_equal(cap.lines[1].count, 1);
	classifier_free(&c);
}

static struct st_signal_record signal_record(__u32 pid, int sig, int first)
{
	struct st_signal_record rec;

	memset(&rec, 0, sizeof(rec));
	header(&rec.hdr, ST_REC_SIGNAL, sizeof(rec), pid, 1);
	rec.sig = sig;
	rec.first = first;
	return rec;
}

static void signal_first_sigint_and_sigint(void **state)
{
	struct classifier c;
	struct capture cap;
	struct st_signal_record rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT) |
			 ST_TRIG_BIT(ST_TRIG_SIGINT), SEC);
	classifier_add(&c, 10, "worker", 0);
	rec = signal_record(10, SIGINT, 1);
	classifier_record(&c, &rec, sizeof(rec));
	rec = signal_record(10, SIGINT, 0);
	classifier_record(&c, &rec, sizeof(rec));
	assert_int_equal(cap.count, 3);
	assert_int_equal(cap.lines[0].trigger, ST_TRIG_FIRST_SIGINT);
	assert_int_equal(cap.lines[1].trigger, ST_TRIG_SIGINT);
	assert_int_equal(cap.lines[2].trigger, ST_TRIG_SIGINT);
	assert_int_equal(c.trigger_lines[ST_TRIG_SIGINT], 2);
	assert_int_equal(c.trigger_lines[ST_TRIG_FIRST_SIGINT], 1);
	classifier_free(&c);
}

static void signal_unselected_is_dropped(void **state)
{
	struct classifier c;
	struct capture cap;
	struct st_signal_record rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_SIGALRM), SEC);
	classifier_add(&c, 10, "worker", 0);
	rec = signal_record(10, SIGTSTP, 0);
	classifier_record(&c, &rec, sizeof(rec));
	assert_int_equal(cap.count, 0);
	rec = signal_record(10, SIGALRM, 0);
	classifier_record(&c, &rec, sizeof(rec));
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.lines[0].trigger, ST_TRIG_SIGALRM);
	classifier_free(&c);
}

static void exec_bootstrap_or_exec_line(void **state)
{
	struct classifier c;
	struct capture cap;
	struct st_exec_record rec;

	memset(&rec, 0, sizeof(rec));
	header(&rec.hdr, ST_REC_EXEC, sizeof(rec), 10, 1);
	rec.old_tid = 12;
	strcpy(rec.hdr.comm, "server");

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_BOOTSTRAP), SEC);
	classifier_add(&c, 10, "snaptrig", 0);
	classifier_record(&c, &rec, sizeof(rec));
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.lines[0].type, LINE_TRIGGER);
	assert_int_equal(cap.lines[0].tid, 10);
	assert_string_equal(classifier_find(&c, 10)->comm, "server");
	classifier_free(&c);

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN), SEC);
	classifier_add(&c, 10, "snaptrig", 0);
	classifier_record(&c, &rec, sizeof(rec));
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.lines[0].type, LINE_EXEC);
	classifier_free(&c);
}

static void fork_tracks_child(void **state)
{
	struct classifier c;
	struct capture cap;
	struct st_fork_record rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_PERIODIC_INTERVAL), SEC);
	classifier_add(&c, 10, "parent", 0);
	memset(&rec, 0, sizeof(rec));
	header(&rec.hdr, ST_REC_FORK, sizeof(rec), 10, 3 * SEC);
	rec.child_pid = 11;
	classifier_record(&c, &rec, sizeof(rec));
	assert_non_null(classifier_find(&c, 11));
	assert_int_equal(c.proc_count, 2);
	assert_int_equal(cap.count, 0);
	classifier_free(&c);
}

static void periodic_keeps_phase(void **state)
{
	struct classifier c;
	struct capture cap;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_PERIODIC_INTERVAL), SEC);
	classifier_add(&c, 10, "worker", 100);
	assert_int_equal(classifier_next_deadline(&c), 100 + 10 * SEC);
	classifier_tick(&c, 100 + 10 * SEC);
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.lines[0].number, 1);
	assert_int_equal(cap.lines[0].interval_ns, 10 * SEC);
	/* a tick 25 s late writes one line and keeps the 10 s phase */
	classifier_tick(&c, 100 + 45 * SEC);
	assert_int_equal(cap.count, 2);
	assert_int_equal(cap.lines[1].number, 2);
	assert_int_equal(classifier_next_deadline(&c), 100 + 50 * SEC);
	classifier_free(&c);
}

/* Found by fuzz_record: a tick near the end of the clock used to loop forever. */
static void periodic_tick_clock_end(void **state)
{
	struct classifier c;
	struct capture cap;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_PERIODIC_INTERVAL), SEC);
	classifier_add(&c, 10, "worker", 0);
	classifier_tick(&c, ~0ULL);
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.lines[0].number, 1);
	classifier_free(&c);
}

static void reconcile_lost_once_triggers(void **state)
{
	struct classifier c;
	struct capture cap;
	__u32 lost = ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) | ST_TRIG_BIT(ST_TRIG_FIRST_STDIN);
	struct st_exit_record rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) |
			 ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT), SEC);
	classifier_add(&c, 10, "server", 0);
	classifier_reconcile(&c, 10, lost, 7);
	/* first-stdin is not selected, so only first-listen is written */
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.lines[0].trigger, ST_TRIG_FIRST_LISTEN);
	assert_int_equal(cap.lines[0].reconciled, 1);
	assert_int_equal(cap.lines[0].boot_ns, 7);
	assert_null(cap.lines[0].record);
	classifier_reconcile(&c, 10, lost, 8);
	assert_int_equal(cap.count, 1);

	/* the exit record carries what the agent has not read yet */
	memset(&rec, 0, sizeof(rec));
	header(&rec.hdr, ST_REC_EXIT, sizeof(rec), 10, 9);
	rec.once_lost = lost | ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT);
	classifier_record(&c, &rec, sizeof(rec));
	assert_int_equal(cap.count, 3);
	assert_int_equal(cap.lines[1].trigger, ST_TRIG_FIRST_SIGINT);
	assert_int_equal(cap.lines[1].reconciled, 1);
	assert_int_equal(cap.lines[2].type, LINE_EXIT);
	classifier_free(&c);
}

static void sync_reports_unsent_counts(void **state)
{
	struct classifier c;
	struct capture cap;
	struct st_proc kernel;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_NON_DETERMINISTIC_CALL), SEC);
	classifier_add(&c, 10, "worker", 0);
	memset(&kernel, 0, sizeof(kernel));
	kernel.calls[ST_CALL_GETRANDOM] = 12;

	/* the kernel opened a window 0.5 s ago: its record may be on the way */
	kernel.window_ns[ST_CLASS_NONDET] = 5 * SEC;
	classifier_sync_calls(&c, 10, &kernel, 5 * SEC + SEC / 2);
	assert_int_equal(cap.count, 0);

	/* a window opened after the agent read its clock is open too */
	classifier_sync_calls(&c, 10, &kernel, 5 * SEC - 1);
	assert_int_equal(cap.count, 0);

	/* no window for a cooldown: the counts were kept without a record */
	classifier_sync_calls(&c, 10, &kernel, 7 * SEC);
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.lines[0].count, 12);
	assert_int_equal(cap.lines[0].coalesced, 1);
	classifier_sync_calls(&c, 10, &kernel, 8 * SEC);
	assert_int_equal(cap.count, 1);
	classifier_free(&c);
}

static void unknown_pid_is_tracked(void **state)
{
	struct classifier c;
	struct capture cap;
	struct st_listen_record rec;

	setup_classifier(&c, &cap, ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN), SEC);
	memset(&rec, 0, sizeof(rec));
	header(&rec.hdr, ST_REC_LISTEN, sizeof(rec), 77, 1);
	assert_int_equal(classifier_record(&c, &rec, sizeof(rec)), 0);
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.lines[0].pid, 77);
	assert_non_null(classifier_find(&c, 77));
	assert_int_equal(c.records, 1);
	classifier_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decode_rejects_bad_records),
		cmocka_unit_test(calls_first_then_coalesced),
		cmocka_unit_test(calls_tick_waits_for_next_record),
		cmocka_unit_test(calls_tick_gives_up_waiting),
		cmocka_unit_test(calls_late_tick_splits_window),
		cmocka_unit_test(calls_zero_cooldown_recovers_lost),
		cmocka_unit_test(calls_flushed_before_exit),
		cmocka_unit_test(calls_state_per_process),
		cmocka_unit_test(signal_first_sigint_and_sigint),
		cmocka_unit_test(signal_unselected_is_dropped),
		cmocka_unit_test(exec_bootstrap_or_exec_line),
		cmocka_unit_test(fork_tracks_child),
		cmocka_unit_test(periodic_keeps_phase),
		cmocka_unit_test(periodic_tick_clock_end),
		cmocka_unit_test(reconcile_lost_once_triggers),
		cmocka_unit_test(sync_reports_unsent_counts),
		cmocka_unit_test(unknown_pid_is_tracked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
