// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * snaptrig: trace processes with eBPF and write their snapshot triggers.
 * main() reads options, loads and attaches the programs, starts or attaches
 * to the targets, runs the event loop, and cleans up. It alone maps errors
 * to the exit codes documented in --help and the man page.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "container.h"
#include "control.h"
#include "fdlimit.h"
#include "links.h"
#include "log.h"
#include "session.h"
#include "uprobes.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static int record_cb(void *ctx, void *data, size_t size)
{
	const struct st_record_header *hdr = record_decode(data, size);
	struct session *s = ctx;
	int dropped;

	if (hdr)
		container_note(hdr);
	/* the join line comes before the first trigger line of the process */
	if (hdr && hdr->kind == ST_REC_JOIN)
		cgroup_on_join(s, (const struct st_join_record *)hdr);
	dropped = classifier_record(&s->classifier, data, size) == -EINVAL;
	if (dropped)
		log_info(1, "dropped a malformed record of %zu bytes", size);
	/*
	 * Reading a new image's maps for markers took about 70 us per exec here,
	 * so its bootstrap or exec line is written first. The image waits for the
	 * markers all the same, stopped (ST_RECORD_HOOK_HELD).
	 */
	if (!dropped && hdr && hdr->kind == ST_REC_EXEC &&
	    uprobes_on_exec(s->uprobes, (const struct st_exec_record *)hdr)) {
		emitter_flush(&s->emitter);
		if (!uprobes_add_process(s->uprobes, hdr->pid))
			uprobes_note_image(s->uprobes, &((const struct st_exec_record *)hdr)->image);
	}
	if (!dropped && hdr && hdr->kind == ST_REC_EXEC) {
		ia32_on_exec(s, (const struct st_exec_record *)hdr);
		static_on_exec(s, (const struct st_exec_record *)hdr);
	}
	/* the kernel stopped the new image until its hooks were attached, above */
	if (hdr && hdr->kind == ST_REC_EXEC && (hdr->flags & ST_RECORD_HOOK_HELD)) {
		log_info(2, "resuming process %u: the hooks of its new image are attached", hdr->pid);
		tracer_release_hold(&s->tracer, hdr->pid, 0, NULL);
	}
	if (!dropped && hdr && hdr->kind == ST_REC_IMAGE)
		uprobes_on_image(s->uprobes, (const struct st_image_record *)hdr);
	/* the kernel stopped the process at the mmap until the file was examined, above */
	if (hdr && hdr->kind == ST_REC_IMAGE && (hdr->flags & ST_RECORD_HOOK_HELD)) {
		log_info(2, "resuming process %u: the hooks of a file it maps are attached", hdr->pid);
		tracer_release_hold(&s->tracer, hdr->pid, 0, NULL);
	}
	if (!dropped && hdr && hdr->kind == ST_REC_EXIT) {
		container_forget(hdr->pid);
		uprobes_on_exit(s->uprobes, hdr->pid);
	}
	return 0;
}

static int launch_exit_status(const struct session *s)
{
	/* COMMAND outlived the grace period after a signal and is left running */
	if (!s->child_reaped && s->stop_signal)
		return 128 + s->stop_signal;
	if (!s->child_reaped)
		return EXIT_RUNTIME;
	if (WIFEXITED(s->child_status))
		return WEXITSTATUS(s->child_status);
	if (WIFSIGNALED(s->child_status))
		return 128 + WTERMSIG(s->child_status);
	return EXIT_RUNTIME;
}

/*
 * Adds the signals whose default action ends a process but which programs
 * send to notify each other (SIGUSR1, timers, I/O readiness). In launch mode
 * COMMAND shares snaptrig's process group, and a kill(0, SIGUSR1) of the
 * workload must not end its tracing. Blocked, they stay pending unread.
 */
static void block_notifications(sigset_t *mask)
{
	/* SIGXFSZ too: over a file size limit, write(2) then fails with EFBIG, which is reported */
	static const int notifications[] = {
		SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, SIGXFSZ,
	};
	size_t i;
	int sig;

	for (i = 0; i < sizeof(notifications) / sizeof(notifications[0]); i++)
		sigaddset(mask, notifications[i]);
	for (sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(mask, sig);
}

/*
 * Logs at -v which of the signals that stop snaptrig were ignored when it
 * started. The kernel discards an ignored signal, so it never reaches the
 * agent, and a script's & ignores SIGINT for the commands it starts.
 */
static void log_ignored_stop_signals(int launch)
{
	static const int stops[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction now;
	size_t i;

	for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		if (!sigaction(stops[i], NULL, &now) && now.sa_handler == SIG_IGN)
			log_info(1, "SIG%s was ignored when snaptrig started (as under nohup or a script's &), so it stays ignored and cannot stop snaptrig%s",
				 sigabbrev_np(stops[i]), launch ? " or COMMAND" : "");
}

static int block_signals(struct session *s)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN }, dfl = { .sa_handler = SIG_DFL };
	sigset_t mask;

	sigemptyset(&mask);
	add_stop_signals(&mask);
	sigaddset(&mask, SIGCHLD);
	block_notifications(&mask);
	if (holds_without_child(&s->opts)) {
		sigaddset(&mask, SIGTSTP);
		sigaddset(&mask, SIGTTOU);
	}
	if (sigprocmask(SIG_BLOCK, &mask, &s->orig_mask))
		return -errno;
	log_ignored_stop_signals(s->opts.command != NULL);
	/* a closed output pipe or socket connection is reported by write(2), not by a signal */
	sigaction(SIGPIPE, &ignore, &s->orig_pipe);
	/* a SIGCHLD ignored by the parent would reap COMMAND unseen and leave its pidfd ready */
	sigaction(SIGCHLD, &dfl, &s->orig_chld);
	return 0;
}

/*
 * Checks the -p targets before the programs load, so a wrong pid is a usage
 * error, and one that exits during the load is only not traced.
 */
static int prepare_targets(struct session *s)
{
	size_t slots = s->opts.pid_count ? s->opts.pid_count : 1;

	s->targets = calloc(slots, sizeof(*s->targets));
	if (!s->targets)
		return -ENOMEM;
	return s->opts.command ? 0 : check_targets(s);
}

/* Starts or attaches to the targets. Returns 0, an exit status, or -errno. */
static int start_targets(struct session *s)
{
	int err;

	if (s->opts.command)
		return launch_command(s);
	err = attach_targets(s);
	if (!err)
		err = cgroup_attach_members(s);
	return err;
}

/*
 * Attaches the uprobe-based triggers, with COMMAND's markers before it
 * starts, and opens --control before the start line so that a client that
 * read the start line can connect.
 */
static int open_uprobes_and_control(struct session *s)
{
	int err;

	s->emitter.environ_probes = s->opts.environ_probes;
	s->emitter.environ_probe_count = s->opts.environ_probe_count;
	err = uprobes_open(&s->uprobes, &s->tracer, &s->opts);
	if (err)
		return err;
	uprobes_add_command(s->uprobes, s->opts.command);
	if (s->opts.control_path)
		return control_open(&s->control, s->opts.control_path);
	return 0;
}

/*
 * Opens /dev/null on any of fds 0 to 2 that is closed, so that no file the
 * agent opens later becomes a standard stream of COMMAND or of the agent.
 * Returns a mask with bit N set when fd N was closed.
 */
static unsigned int open_standard_fds(void)
{
	unsigned int closed = 0;
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		closed |= 1u << fd;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			break;
	}
	return closed;
}

static void session_init(struct session *s)
{
	memset(s, 0, sizeof(*s));
	s->epoll_fd = s->signal_fd = s->timer_fd = s->clock_fd = s->child_pidfd = -1;
	s->snapshots.epoll_fd = s->snapshots.watchdog_fd = -1;
}

/*
 * Detaches every program at once. On a failed allocation the links left
 * out are detached one by one when their objects are destroyed.
 */
static void detach_all(struct session *s)
{
	struct link_list links = {};

	if (!uprobes_links(s->uprobes, &links))
		tracer_links(&s->tracer, &links);
	if (links.count)
		log_info(1, "detaching %zu BPF links; the kernel waits for RCU grace periods, up to a few seconds with -t all and about 0.1 s more per place of an attached marker",
			 links.count);
	link_list_destroy(&links);
}

static void session_cleanup(struct session *s)
{
	/* resume held processes before the programs go */
	snapshots_shutdown(&s->snapshots);
	control_close(s->control);
	detach_all(s);
	uprobes_close(s->uprobes);
	/* destroying the skeleton detaches what detach_all() could not list */
	tracer_close(&s->tracer);
	snapshots_end_watchdog(&s->snapshots);
	emitter_close(&s->emitter, s->signal_fd);
	classifier_free(&s->classifier);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->signal_fd >= 0)
		close(s->signal_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->clock_fd >= 0)
		close(s->clock_fd);
	if (s->child_pidfd >= 0)
		close(s->child_pidfd);
	free(s->targets);
	free(s->priors);
	options_free(&s->opts);
}

/* Maps a failure to start the targets to the exit status documented in --help. */
static int start_failure_status(int err)
{
	if (err > 0)
		return err;	/* launch_command() already chose 126 or 127 */
	if (err == -ESRCH || err == -EINVAL)
		return EXIT_USAGE;
	return EXIT_RUNTIME;
}

/*
 * Opens the output, loads and attaches the programs, and starts or attaches
 * to the targets. Returns 0, or the exit status to end with.
 */
static int session_start(struct session *s)
{
	int err;

	err = prepare_targets(s);
	if (err)
		return start_failure_status(err);
	err = block_signals(s);
	if (!err)
		err = emitter_open(&s->emitter, s->opts.output_path, s->opts.format);
	if (err)
		return EXIT_RUNTIME;
	classifier_init(&s->classifier, s->opts.triggers, s->opts.cooldown_ns,
			s->opts.interval_ns);
	s->classifier.read_calls = tracer_read_calls;
	s->classifier.emit = session_emit;
	s->classifier.release = session_release;
	s->classifier.output_busy = session_output_busy;
	s->classifier.ctx = s;
	s->emitter.show_held = s->opts.freeze;

	tracer_loads_begin();
	err = tracer_open(&s->tracer, &s->opts, getpid());
	if (err)
		return EXIT_RUNTIME;
	s->classifier.calls_ctx = &s->tracer;
	err = snapshots_init(&s->snapshots, &s->opts, &s->emitter, &s->tracer);
	if (err)
		return err == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	s->snapshots.classifier = &s->classifier;
	err = open_uprobes_and_control(s);
	tracer_loads_end();
	if (err)
		return err == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	/* after the last load, so that no parse of the kernel's BTF adds to the ring's pages */
	err = tracer_open_reader(&s->tracer, record_cb, s);
	if (err)
		return EXIT_RUNTIME;

	ia32_at_start(s);
	/* the start line is dated before COMMAND's exec, which it precedes */
	if (s->opts.command)
		s->emitter.started_ns = boot_now_ns();
	err = start_targets(s);
	if (err) {
		if (s->child && !s->child_reaped) {
			kill(s->child, SIGKILL);
			waitpid(s->child, NULL, 0);
		}
		return start_failure_status(err);
	}
	for (size_t i = 0; i < s->target_count; i++)
		uprobes_add_process(s->uprobes, s->targets[i]);
	return 0;
}

int main(int argc, char **argv)
{
	struct session s;
	int err, status;

	session_init(&s);
	s.closed_fds = open_standard_fds();
	log_setup_libbpf();
	err = options_parse(argc, argv, &s.opts);
	if (err) {
		options_free(&s.opts);
		/* the output went to the /dev/null that open_standard_fds() put in place */
		if (err == OPTIONS_EXIT_OK && (s.closed_fds & (1u << STDOUT_FILENO))) {
			log_error("writing the %s output failed: standard output is closed",
				  s.opts.info == 'h' ? "--help" : "--version");
			return EXIT_RUNTIME;
		}
		if (err == OPTIONS_EXIT_OK)
			return 0;
		return err == -EIO ? EXIT_RUNTIME : EXIT_USAGE;
	}
	log_level = s.opts.verbose;
	if (s.opts.check) {
		status = check_run(&s.opts);
		goto out;
	}
	if (s.opts.request_snapshot_pid) {
		err = control_request_snapshot(s.opts.control_path, s.opts.request_snapshot_pid);
		status = err ? EXIT_RUNTIME : 0;
		goto out;
	}

	/* NOTE: no translation of ids between namespaces, so none but the host's */
	if (pidns_is_initial() == 0) {
		log_error("cannot trace from a child pid namespace: the kernel reports the host's process ids, which this namespace cannot see; run snaptrig in the host's pid namespace (for a container, share it, as with docker run --pid=host)");
		status = EXIT_RUNTIME;
		goto out;
	}
	if ((s.closed_fds & (1u << STDOUT_FILENO)) && !s.opts.output_path) {
		log_error("cannot write output: standard output is closed; open it or give --output FILE");
		status = EXIT_RUNTIME;
		goto out;
	}
	fd_limit_raise();
	status = session_start(&s);
	if (status)
		goto out;
	emit_start(&s.emitter, &s.opts, s.targets, s.target_count, getpid());
	report_targets(&s);
	log_info(1, "tracing %zu process%s", s.target_count, s.target_count == 1 ? "" : "es");

	err = session_loop(&s);
	session_finish(&s);
	if (err)
		status = EXIT_RUNTIME;
	else if (s.child)
		status = launch_exit_status(&s);
	else
		status = 0;
out:
	session_cleanup(&s);
	/* an output that failed in the final wait, with no stop signal to excuse it, fails the run */
	if (s.emitter.error && !s.emitter.drain_deadline_ns)
		status = EXIT_RUNTIME;
	return status;
}
