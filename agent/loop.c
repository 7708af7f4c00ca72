// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The event loop: the ring buffer, a signalfd, a timerfd for the classifier's
 * deadlines and, in launch mode, COMMAND's pidfd, all in one epoll set.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "idle.h"
#include "log.h"
#include "container.h"
#include "control.h"
#include "names.h"
#include "session.h"
#include "uprobes.h"

/* Records sent without a wakeup wait at most this long before the agent drains them. */
#define DRAIN_MS 10
#define DRAIN_SHORT_MS 1
/*
 * After a second without a record the default drains every 100 ms, since a
 * wakeup of an idle agent costs about 45 us of CPU on a KVM guest.
 * Then only fork records skip the wakeup, until they fill a quarter of the
 * ring, and the exec or exit after a fork wakes the agent.
 */
#define QUIET_DRAIN_MS 100
#define QUIET_AFTER_NS 1000000000ULL
#define LOST_CHECK_NS 100000000ULL	/* how often lost counters are read */
#define LIVENESS_NS 1000000000ULL	/* how often vanished processes are looked for */

static int epoll_add(int epoll_fd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (fd < 0)
		return 0;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	return 0;
}

void session_emit(void *ctx, const struct line *line)
{
	struct session *s = ctx;
	struct line copy;

	if (line->type == LINE_EXIT)
		snapshots_on_exit(&s->snapshots, line->pid);
	/* a trigger found at attach is past: no snapshot can show its moment */
	if (line->type != LINE_TRIGGER || line->at_attach || !snapshots_enabled(&s->snapshots)) {
		emit_line(&s->emitter, line);
		return;
	}
	copy = *line;
	snapshots_before_line(&s->snapshots, line, &copy.held);
	emit_line(&s->emitter, &copy);
	snapshots_after_line(&s->snapshots, &copy, s->emitter.seq);
}

void session_release(void *ctx, __u32 pid)
{
	struct session *s = ctx;

	snapshots_release(&s->snapshots, pid);
}

int session_output_busy(void *ctx)
{
	struct session *s = ctx;

	return emitter_behind(&s->emitter);
}

/*
 * Writes the exits that the kernel kept in the procs map because the ring
 * buffer had no room for their records, with their final counts, then
 * deletes those entries. The exit program stored the exit's time, thread
 * and comm in the entry, so the exit record made here carries what the
 * lost one would have, except the pid namespace ids. Only exits before
 * before_ns are written, because the records their processes sent earlier
 * must all have been read: see reap_after_drain().
 */
static void reap_exited(struct session *s, __u64 before_ns)
{
	__u32 key, next, *prev = NULL;
	struct st_exit_record rec;
	struct st_proc proc;

	while (bpf_map_get_next_key(s->tracer.procs_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (tracer_read_proc(&s->tracer, key, &proc) || !(proc.flags & ST_PROC_EXITED))
			continue;
		/* the exit program is still filling the entry: take it on the next pass */
		if (!proc.exit_ns || proc.exit_ns > before_ns)
			continue;
		memset(&rec, 0, sizeof(rec));
		rec.hdr.kind = ST_REC_EXIT;
		rec.hdr.size = sizeof(rec);
		rec.hdr.pid = key;
		rec.hdr.tid = proc.exit_tid;
		rec.hdr.boot_ns = proc.exit_ns;
		rec.hdr.flags = ST_RECORD_AGENT;	/* its delay is no ring buffer delay */
		memcpy(rec.hdr.comm, proc.exit_comm, sizeof(rec.hdr.comm));
		rec.hdr.comm[ST_COMM_LEN - 1] = '\0';
		memcpy(rec.calls, proc.calls, sizeof(rec.calls));
		rec.exit_code = proc.exit_code;
		rec.once_lost = proc.once_lost;
		classifier_record(&s->classifier, &rec, sizeof(rec));
		container_forget(key);
		tracer_remove(&s->tracer, key);
	}
}

/* How often reap_after_drain() reads the ring buffer while a record is being written. */
#define DRAIN_TRIES 8

/*
 * Reads every record sent until now, then writes the exits kept in the
 * kernel. A record that is reserved but not yet committed stops the reader
 * (a program can be preempted between the two), and the records of an
 * exited process may wait behind it: its exit line waits for the next pass.
 */
static void reap_after_drain(struct session *s)
{
	__u64 start = boot_now_ns();

	if (ring_reader_drain(&s->tracer.ring, DRAIN_TRIES) > 0)
		reap_exited(s, start);
	else
		log_info(2, "a record is still being written; the exits kept in the kernel wait for the next pass");
}

/* Writes the once-triggers whose records the ring buffer lost. */
static void reconcile_once(struct session *s, __u64 now)
{
	size_t i;

	ring_reader_consume(&s->tracer.ring);
	for (i = 0; i < s->classifier.proc_count; i++) {
		__u32 pid = s->classifier.procs[i].pid;
		struct st_proc kernel;

		/* reap_exited() writes those of an exited process, dated at its exit */
		if (tracer_read_proc(&s->tracer, pid, &kernel) == 0 && kernel.once_lost &&
		    !(kernel.flags & ST_PROC_EXITED))
			classifier_reconcile(&s->classifier, pid, kernel.once_lost, now);
	}
}

/* Maximum number of held processes that one pass of reconcile_held() handles. */
#define LOST_HOLDS_MAX 256

static int is_once_trigger(__u32 trigger)
{
	return trigger == ST_TRIG_FIRST_LISTEN || trigger == ST_TRIG_FIRST_STDIN ||
	       trigger == ST_TRIG_FIRST_ENVIRON;
}

/*
 * Writes the once-triggers whose records were lost but whose process the
 * kernel stopped under --freeze, dated at the stop and with the hold kept for
 * the request. The kernel counts the loss before the stop, so the caller runs
 * this at every check once anything was lost.
 */
static void reconcile_held(struct session *s)
{
	__u32 pids[LOST_HOLDS_MAX], triggers[LOST_HOLDS_MAX], key, next, *prev = NULL;
	__u64 since[LOST_HOLDS_MAX];
	char comm[ST_COMM_LEN];
	struct st_proc kernel;
	struct st_hold hold;
	size_t count = 0, i;

	ring_reader_consume(&s->tracer.ring);
	/* collect first, because the end of a request deletes hold entries during the walk */
	while (count < LOST_HOLDS_MAX &&
	       bpf_map_get_next_key(s->tracer.holds_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(s->tracer.holds_fd, &key, &hold) ||
		    !is_once_trigger(hold.trigger))
			continue;
		if (tracer_read_proc(&s->tracer, key, &kernel) ||
		    !(kernel.once_lost & ST_TRIG_BIT(hold.trigger)) ||
		    (kernel.flags & ST_PROC_EXITED))
			continue;
		pids[count] = key;
		triggers[count] = hold.trigger;
		since[count] = hold.since_ns;
		count++;
	}
	for (i = 0; i < count; i++) {
		read_comm((pid_t)pids[i], comm);
		classifier_reconcile_held(&s->classifier, pids[i], comm, triggers[i], since[i]);
	}
}

/* Seconds between two messages about processes left untraced. */
#define UNTRACED_LOG_S 10

/*
 * Says on stderr how many processes went untraced since the last message,
 * at most every UNTRACED_LOG_S seconds, since a fork loop may go on failing.
 */
static void log_untraced(struct session *s, __u64 untraced, __u64 now)
{
	if (untraced == s->untraced_logged ||
	    (s->untraced_log_ns && now - s->untraced_log_ns < UNTRACED_LOG_S * 1000000000ULL))
		return;
	log_error("%llu new processes are not traced (%llu in all): the kernel already traces %d processes, its limit",
		  (unsigned long long)(untraced - s->untraced_logged), (unsigned long long)untraced,
		  ST_PROCS_MAX);
	s->untraced_logged = untraced;
	s->untraced_log_ns = now;
}

static void check_lost(struct session *s, __u64 now)
{
	__u64 by_kind[ST_LOST_SLOTS], delta[ST_LOST_SLOTS];
	__u64 total;
	__u32 kind;

	if (now < s->next_lost_check_ns)
		return;
	s->next_lost_check_ns = now + LOST_CHECK_NS;
	total = tracer_read_lost(&s->tracer, by_kind);
	s->untraced = by_kind[ST_LOST_UNTRACED];
	log_untraced(s, s->untraced, now);
	if (total && s->opts.freeze)
		reconcile_held(s);
	if (total == s->lost_total)
		return;
	for (kind = 0; kind < ST_LOST_SLOTS; kind++) {
		delta[kind] = by_kind[kind] - s->lost_by_kind[kind];
		s->lost_by_kind[kind] = by_kind[kind];
	}
	s->lost_total = total;
	emit_lost(&s->emitter, total, delta);
	reconcile_once(s, now);
	reap_after_drain(s);
}

/*
 * Drops processes that are gone from the kernel map without an exit record
 * reaching the agent (the record was lost, or the process died before it was
 * registered). NOTE: such a process gets no exit line.
 */
static void check_liveness(struct session *s, __u64 now)
{
	size_t i;

	if (now < s->next_liveness_ns)
		return;
	s->next_liveness_ns = now + LIVENESS_NS;
	emitter_check_deleted(&s->emitter);
	reap_after_drain(s);
	for (i = 0; i < s->classifier.proc_count; i++) {
		pid_t pid = s->classifier.procs[i].pid;
		struct st_proc kernel;

		if (tracer_read_proc(&s->tracer, pid, &kernel) == 0)
			classifier_sync_calls(&s->classifier, pid, &kernel, now);
	}
	for (i = 0; i < s->classifier.proc_count;) {
		pid_t pid = s->classifier.procs[i].pid;

		if (process_gone(pid)) {
			ring_reader_consume(&s->tracer.ring);
			if (classifier_find(&s->classifier, pid)) {
				log_info(1, "process %d vanished without an exit record", pid);
				tracer_remove(&s->tracer, pid);
				classifier_remove(&s->classifier, pid);
			}
			continue;
		}
		i++;
	}
}

static void reap_child(struct session *s)
{
	int status;

	if (!s->child || s->child_reaped)
		return;
	if (waitpid(s->child, &status, WNOHANG) == s->child) {
		s->child_status = status;
		s->child_reaped = 1;
		/* the pidfd of an exited process stays readable: epoll would wake at once forever */
		if (s->child_pidfd >= 0) {
			epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, s->child_pidfd, NULL);
			close(s->child_pidfd);
			s->child_pidfd = -1;
		}
	}
}

/* A signal generated for a traced process this recently came from the same kill(2). */
#define SAME_SIGNAL_NS 50000000ULL

/*
 * How long snaptrig waits before it passes a signal on to COMMAND. A sender
 * that signals snaptrig and then its whole process group, as timeout(1)
 * does, may reach COMMAND only after snaptrig has read its own copy.
 */
#define PASS_ON_DELAY_NS SAME_SIGNAL_NS

/* The ST_PASS_* slot of a SIGINT, SIGTERM or SIGHUP, or -1. */
static int pass_slot(int sig)
{
	if (sig == SIGINT)
		return ST_PASS_SIGINT;
	if (sig == SIGTERM)
		return ST_PASS_SIGTERM;
	if (sig == SIGHUP)
		return ST_PASS_SIGHUP;
	return -1;
}

/* Whether boot-time ns, 0 for never, is just now. */
static int just_now(__u64 ns)
{
	return ns && boot_now_ns() - ns < SAME_SIGNAL_NS;
}

/*
 * Whether the traced process pid was last sent the signal of pass slot slot
 * by process sender (0: the kernel), at boot time since_ns or later.
 */
static int was_sent_signal(struct session *s, __u32 pid, int slot, __u32 sender,
			   __u64 since_ns)
{
	struct st_proc proc;

	if (slot < 0 || tracer_read_proc(&s->tracer, pid, &proc) ||
	    proc.passed_on_by[slot] != sender)
		return 0;
	return proc.passed_on_ns[slot] && proc.passed_on_ns[slot] >= since_ns;
}

/*
 * Whether COMMAND got its own copy of the signal that snaptrig got, as when a
 * whole process group is signalled: then passing snaptrig's copy on would
 * deliver it twice.
 */
static int child_has_signal(struct session *s, const struct signalfd_siginfo *si)
{
	return !s->child_reaped && si->ssi_pid &&
	       was_sent_signal(s, (__u32)s->child, pass_slot((int)si->ssi_signo), si->ssi_pid,
			       boot_now_ns() - SAME_SIGNAL_NS);
}

/*
 * Schedules sig, which process sender sent to snaptrig, to be passed on to
 * COMMAND after PASS_ON_DELAY_NS. A copy that comes while one is pending adds
 * nothing, as the kernel merges a standard signal that is already pending.
 */
static void pass_on_later(struct session *s, int sig, pid_t sender)
{
	int slot = pass_slot(sig);
	__u64 now = boot_now_ns();

	if (slot < 0) {
		kill(s->child, sig);
		return;
	}
	if (s->pass_on[slot].due_ns)
		return;
	s->pass_on[slot].read_ns = now;
	s->pass_on[slot].due_ns = now + PASS_ON_DELAY_NS;
	s->pass_on[slot].sender = sender;
}

static const int pass_signals[ST_PASS_COUNT] = {
	[ST_PASS_SIGINT] = SIGINT,
	[ST_PASS_SIGTERM] = SIGTERM,
	[ST_PASS_SIGHUP] = SIGHUP,
};

/*
 * Sends COMMAND the signals whose delay is over at boot time now, except
 * those of which COMMAND got a copy from the same sender meanwhile. With
 * wait set, waits for the delays of all pending signals first, because
 * snaptrig is about to detach.
 */
static void pass_on_due(struct session *s, __u64 now, int wait)
{
	int slot;

	for (slot = 0; slot < ST_PASS_COUNT; slot++) {
		struct pass_on *p = &s->pass_on[slot];
		int sig = pass_signals[slot];

		if (!p->due_ns)
			continue;
		/* a reaped pid may belong to another process by now */
		if (!s->child || s->child_reaped) {
			p->due_ns = 0;
			continue;
		}
		if (now < p->due_ns && !wait)
			continue;
		while (wait && (now = boot_now_ns()) < p->due_ns)
			usleep((useconds_t)((p->due_ns - now) / 1000 + 1));
		p->due_ns = 0;
		if (was_sent_signal(s, (__u32)s->child, slot, (__u32)p->sender,
				    p->read_ns - SAME_SIGNAL_NS)) {
			log_info(1, "not passing %s on: COMMAND (pid %d) got it from process %d too",
				 strsignal(sig), s->child, p->sender);
			continue;
		}
		log_info(1, "passing %s on to COMMAND (pid %d)", strsignal(sig), s->child);
		kill(s->child, sig);
	}
}

/* The earliest boot time at which a signal is due to be passed on, 0 for none. */
static __u64 pass_on_deadline(const struct session *s)
{
	__u64 next = 0;
	int slot;

	for (slot = 0; slot < ST_PASS_COUNT; slot++)
		if (s->pass_on[slot].due_ns && (!next || s->pass_on[slot].due_ns < next))
			next = s->pass_on[slot].due_ns;
	return next;
}

/*
 * Whether a signal to snaptrig comes from COMMAND, or is its copy of a
 * kill(2) of a whole process group by another traced process, which then
 * signalled itself too. Launch mode leaves COMMAND in snaptrig's group, as
 * does a script that starts snaptrig -p on itself, so such a signal is the
 * workload's own and no request to stop tracing. A signal from snaptrig's
 * parent always counts, even when the parent is traced: timeout(1) signals
 * its child and then its own group.
 */
static int from_traced_group_kill(struct session *s, const struct signalfd_siginfo *si)
{
	int slot = pass_slot((int)si->ssi_signo);

	if (si->ssi_code != SI_USER && si->ssi_code != SI_QUEUE)
		return 0;
	if (!si->ssi_pid || slot < 0 || si->ssi_pid == (__u32)getppid())
		return 0;
	/* COMMAND may have exited, and left the kernel's map, before snaptrig read it */
	if (s->child && si->ssi_pid == (__u32)s->child)
		return 1;
	return just_now(tracer_self_signal_ns(&s->tracer, si->ssi_pid, (__u32)slot));
}

/*
 * Launch mode: after a signal, snaptrig waits this long for COMMAND to exit,
 * longer than a checkpointer that the signal ends may hold COMMAND.
 */
#define STOP_GRACE_NS 5000000000ULL

/* Returns 1 when the loop must end. */
static int handle_signal(struct session *s)
{
	struct signalfd_siginfo si;

	while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		int sig = si.ssi_signo;

		if (sig == SIGCHLD) {
			reap_child(s);
			continue;
		}
		if (sig == SIGTSTP || sig == SIGTTOU) {
			log_error("ignoring %s: with --freeze, processes held while snaptrig is "
				  "stopped would stay stopped; send SIGINT to stop tracing",
				  signal_name(sig));
			continue;
		}
		if (from_traced_group_kill(s, &si)) {
			log_info(1, "ignoring %s that traced process %u sent to its process group",
				 strsignal(sig), si.ssi_pid);
			continue;
		}
		/* once COMMAND is gone, its descendants are traced until a signal */
		if (s->child && !s->child_reaped) {
			/* timeout(1) signals snaptrig, then its whole group */
			if (sig == s->stop_signal && si.ssi_pid == (__u32)s->stop_sender &&
			    child_has_signal(s, &si)) {
				log_info(1, "ignoring the second %s from process %u, a kill of the process group",
					 strsignal(sig), si.ssi_pid);
				continue;
			}
			/*
			 * A terminal's Ctrl-C reaches COMMAND itself. A signal a
			 * process sent to snaptrig is passed on a little later.
			 */
			if ((si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE) &&
			    !child_has_signal(s, &si))
				pass_on_later(s, sig, (pid_t)si.ssi_pid);
			/* a held process can act on the signal only once its snapshot ends */
			snapshots_interrupt(&s->snapshots);
			if (!s->stop_signal) {
				s->stop_signal = sig;
				s->stop_sender = (pid_t)si.ssi_pid;
				s->stop_deadline_ns = boot_now_ns() + STOP_GRACE_NS;
				continue;
			}
			if (sig == s->stop_signal)
				log_error("received %s again; detaching and leaving COMMAND (pid %d) running",
					  strsignal(sig), s->child);
			else
				log_error("received %s after %s; detaching and leaving COMMAND (pid %d) running",
					  strsignal(sig), strsignal(s->stop_signal), s->child);
			return 1;
		}
		log_info(1, "received %s; detaching", strsignal(sig));
		s->stop_signal = sig;
		return 1;
	}
	return 0;
}

/*
 * Launch mode: whether a signal to snaptrig ends the run now, because COMMAND
 * has exited since or the grace period is over. COMMAND's descendants, and
 * COMMAND itself after the grace period, are left running.
 */
static int stop_due(struct session *s, __u64 now)
{
	if (!s->child || !s->stop_signal)
		return 0;
	if (s->child_reaped) {
		log_info(1, "COMMAND exited after %s; detaching", strsignal(s->stop_signal));
		return 1;
	}
	if (now < s->stop_deadline_ns) {
		/* a request that started since the signal would hold COMMAND back too */
		snapshots_interrupt(&s->snapshots);
		return 0;
	}
	log_error("COMMAND (pid %d) is still running %llu s after %s; detaching and leaving it running",
		  s->child, STOP_GRACE_NS / 1000000000ULL, strsignal(s->stop_signal));
	return 1;
}

/* Whether every traced process is gone: the agent's view and the kernel's. */
static int all_exited(struct session *s)
{
	if (s->child && !s->child_reaped)
		return 0;
	/* with --cgroup, a process may enter the subtree at any time */
	if (s->opts.cgroup.id)
		return 0;
	if (s->classifier.proc_count || snapshots_active(&s->snapshots))
		return 0;
	return tracer_count(&s->tracer) == 0;
}

static void arm_timer(struct session *s)
{
	struct itimerspec its = {};
	__u64 next = classifier_next_deadline(&s->classifier);
	__u64 snap = snapshots_next_deadline(&s->snapshots);
	__u64 pass = pass_on_deadline(s);

	if (snap && (!next || snap < next))
		next = snap;
	if (pass && (!next || pass < next))
		next = pass;
	/* most passes leave the deadline as it was: spare the system call */
	if (next == s->timer_deadline_ns)
		return;
	s->timer_deadline_ns = next;

	if (next) {
		its.it_value.tv_sec = next / 1000000000ULL;
		its.it_value.tv_nsec = next % 1000000000ULL;
	}
	timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/*
 * Arms clock_fd to report the next set of the system clock: settimeofday(2),
 * clock_settime(2), a step by NTP or a leap second. The timer is due 2^40 s
 * after the epoch, so it does not expire.
 */
static int watch_clock_set(struct session *s)
{
	struct itimerspec its = { .it_value.tv_sec = (time_t)1 << 40 };

	return timerfd_settime(s->clock_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL);
}

/*
 * Follows a set of the system clock: lines made from now on get a "time"
 * that agrees with the new wall clock, while boot_ns keeps its own clock.
 */
static void handle_clock_set(struct session *s)
{
	__u64 expirations;
	__s64 moved_ns;

	if (read(s->clock_fd, &expirations, sizeof(expirations)) >= 0 || errno != ECANCELED)
		return;
	moved_ns = emitter_clock_set(&s->emitter);
	watch_clock_set(s);
	log_info(1, "the system clock was set: the time of later lines moves by %+.6f s",
		 moved_ns / 1e9);
}

static int setup_fds(struct session *s)
{
	sigset_t mask;
	int err;

	sigemptyset(&mask);
	add_stop_signals(&mask);
	sigaddset(&mask, SIGCHLD);
	if (holds_without_child(&s->opts)) {
		sigaddset(&mask, SIGTSTP);
		sigaddset(&mask, SIGTTOU);
	}
	s->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s->timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	s->clock_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->signal_fd < 0 || s->timer_fd < 0 || s->clock_fd < 0 || s->epoll_fd < 0) {
		err = -errno;
		log_error("cannot set up the event loop: %s", strerror(errno));
		return err;
	}
	err = epoll_add(s->epoll_fd, s->signal_fd);
	if (!err)
		err = epoll_add(s->epoll_fd, s->timer_fd);
	if (!err && watch_clock_set(s))
		err = -errno;
	if (!err)
		err = epoll_add(s->epoll_fd, s->clock_fd);
	if (!err)
		err = epoll_add(s->epoll_fd, ring_reader_fd(&s->tracer.ring));
	if (!err)
		err = epoll_add(s->epoll_fd, s->child_pidfd);
	if (!err)
		err = control_watch(s->control, s->epoll_fd);
	if (err)
		log_error("cannot set up the event loop: %s", strerror(-err));
	/*
	 * A reader that closes a pipe or socket output shows as EPOLLERR or
	 * EPOLLHUP, which epoll reports without being asked, so the run ends
	 * then and not at the next line. A regular file cannot be watched.
	 */
	if (!err && s->emitter.fd >= 0 && !s->emitter.regular_file) {
		struct epoll_event ev = { .events = 0, .data.fd = s->emitter.fd };

		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->emitter.fd, &ev))
			log_info(2, "cannot watch the output for its reader closing: %s", strerror(errno));
		else
			s->output_watched = 1;
	}
	s->snapshots.epoll_fd = s->epoll_fd;
	/* a set between emitter_open() and the arming above would go unseen */
	emitter_clock_set(&s->emitter);
	return err;
}

/* Asks epoll for room in a pipe or socket output while lines wait for it. */
static void watch_output_room(struct session *s)
{
	int want = emitter_backlog(&s->emitter) > 0;
	struct epoll_event ev = { .events = want ? EPOLLOUT : 0, .data.fd = s->emitter.fd };

	if (!s->output_watched || want == s->output_room_wanted)
		return;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->emitter.fd, &ev) == 0)
		s->output_room_wanted = want;
}

/*
 * Returns how long the loop may wait for an event, in ms: the drain period,
 * or up to QUIET_DRAIN_MS once no record has come for QUIET_AFTER_NS.
 */
static int wait_ms(const struct session *s, __u64 busy_ns, __u64 now)
{
	int drain_ms = s->opts.cooldown_ns < 1000000ULL ? DRAIN_SHORT_MS : DRAIN_MS;
	/* The quiet wait ends when a check that runs only after a wakeup is due. */
	__u64 due[] = { s->next_lost_check_ns, s->next_liveness_ns,
			s->opts.cgroup.id ? s->next_cgroup_check_ns : 0,
			s->child && s->stop_signal ? s->stop_deadline_ns : 0 };
	__u64 wait_ns = QUIET_DRAIN_MS * 1000000ULL;
	size_t i;

	/* records of --lazy-wakeup and of a cooldown under 1 ms need the short drain */
	if (drain_ms != DRAIN_MS || s->opts.lazy_wakeup || now - busy_ns < QUIET_AFTER_NS)
		return drain_ms;
	/* a checkpointer's group and the idle timers that failed to arm are polled */
	if (snapshots_active(&s->snapshots) || idle_retry_pending(&s->tracer))
		return drain_ms;
	for (i = 0; i < sizeof(due) / sizeof(due[0]); i++)
		if (due[i] > now && due[i] - now < wait_ns)
			wait_ns = due[i] - now;
	return (int)((wait_ns + 999999) / 1000000);
}

int session_loop(struct session *s)
{
	__u64 records_seen = s->classifier.records, busy_ns = boot_now_ns(), now = busy_ns;
	int err = setup_fds(s);

	if (err)
		return err;
	arm_timer(s);
	while (!s->emitter.error) {
		struct epoll_event events[8];
		__u64 consumed_at;
		int n, i, stop = 0;

		n = epoll_wait(s->epoll_fd, events, 8, wait_ms(s, busy_ns, now));
		if (n < 0 && errno != EINTR) {
			err = -errno;
			log_error("epoll_wait failed: %s", strerror(errno));
			break;
		}
		/*
		 * poll() drains only rings that epoll reported, consume() drains all.
		 * The exits committed before consumed_at are read here, so a periodic
		 * or coalesced line dated up to it does not follow an earlier exit.
		 */
		consumed_at = boot_now_ns();
		ring_reader_consume(&s->tracer.ring);
		for (i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == s->signal_fd && handle_signal(s))
				stop = 1;
			else if (fd == s->child_pidfd)
				reap_child(s);
			else if (fd == s->clock_fd)
				handle_clock_set(s);
			else if (snapshots_handle_fd(&s->snapshots, fd))
				continue;
			else if (control_handle_event(s->control, s, fd, events[i].events))
				continue;
			else if (fd == s->emitter.fd && (events[i].events & (EPOLLERR | EPOLLHUP)))
				emitter_output_closed(&s->emitter);
			else if (fd == s->timer_fd) {
				__u64 expirations;

				if (read(s->timer_fd, &expirations, sizeof(expirations)) < 0)
					expirations = 0;
			}
		}
		/* the lines of this wakeup go out before the periodic work below */
		emitter_flush(&s->emitter);
		now = boot_now_ns();
		pass_on_due(s, now, 0);
		classifier_tick(&s->classifier, consumed_at);
		uprobes_tick(s->uprobes, now);
		snapshots_tick(&s->snapshots, now);
		control_tick(s->control, now);
		check_lost(s, now);
		check_liveness(s, now);
		idle_retry_timers(&s->tracer, now);
		cgroup_target_check(s, now);
		/* after the checks, which read records too, so that their deadlines are armed */
		arm_timer(s);
		emitter_flush(&s->emitter);
		watch_output_room(s);
		if (s->classifier.records != records_seen || ring_reader_pending(&s->tracer.ring)) {
			records_seen = s->classifier.records;
			busy_ns = now;
		}
		if (stop || stop_due(s, now) || all_exited(s))
			break;
	}
	pass_on_due(s, boot_now_ns(), 1);
	return s->emitter.error ? s->emitter.error : err;
}

void session_finish(struct session *s)
{
	__u64 by_kind[ST_LOST_SLOTS];

	/*
	 * An operator's signal requests an end, so a slow reader gets 5 s in all
	 * from here, and the detach before emitter_close() uses part of them.
	 */
	if (s->stop_signal)
		s->emitter.drain_deadline_ns = boot_now_ns() + OUTPUT_STALL_MS * 1000000ULL;
	/*
	 * From here on no record is served, and detaching takes up to 0.1 s per
	 * marker place, so the kernel must stop nothing more.
	 */
	tracer_end_holds(&s->tracer);
	ring_reader_consume(&s->tracer.ring);
	classifier_flush(&s->classifier, boot_now_ns());
	snapshots_shutdown(&s->snapshots);
	s->next_lost_check_ns = 0;
	check_lost(s, boot_now_ns());
	tracer_read_lost(&s->tracer, by_kind);
	emit_stats(&s->emitter, &s->classifier, s->lost_total, by_kind);
	emitter_flush(&s->emitter);
}
