// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The control socket: a strict parser of request lines, a non-blocking server
 * in the agent's epoll set, and the --request-snapshot client. The protocol
 * is described in control.h.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "json.h"
#include "jsonparse.h"
#include "log.h"
#include "session.h"
#include "triggers.h"
#include "control.h"

#define CONTROL_MAX_CLIENTS 32
/* above the client limit, so a burst of non-blocking connects is not refused with EAGAIN */
#define CONTROL_BACKLOG 128
/*
 * Unsent reply bytes, beyond what the socket buffer holds, at which a client's
 * requests wait until it reads replies. A client's buffer exceeds this by at
 * most one reply.
 */
#define CONTROL_OUT_PAUSE (64 * 1024)
#define CONTROL_READS_PER_EVENT 16	/* so one busy client cannot hold the loop */
#define CLIENT_TIMEOUT_S 5
/*
 * Seconds without a request after which a client may lose its place to a new
 * one when all places are taken, so that clients that connect and never close
 * cannot lock operators out.
 */
#define CONTROL_EVICT_IDLE_S 10
#define REQUEST_NAME_MAX 32
/* Bytes of a number shown in a message about it. */
#define NUMBER_SHOWN_MAX 24

/* Request line parser */

struct request_parse {
	struct control_request *req;
	/* the first invalid member value, kept while the parse goes on to find the id */
	char error[CONTROL_ERROR_LEN];
};

static void reject_member(struct request_parse *rp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reject_member(struct request_parse *rp, const char *fmt, ...)
{
	va_list ap;

	if (rp->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(rp->error, sizeof(rp->error), fmt, ap);
	va_end(ap);
}

static int read_request_name(struct json_parser *ps, struct request_parse *rp)
{
	char name[REQUEST_NAME_MAX];
	size_t len;
	int err;

	if (json_next_type(ps) != JSON_STRING) {
		reject_member(rp, "member 'request' must be a string");
		return json_skip_value(ps);
	}
	err = json_parse_string(ps, name, sizeof(name), &len);
	if (err && err != -ENOSPC)
		return err;
	if (json_name_is(name, len, "snapshot"))
		rp->req->kind = CONTROL_REQ_SNAPSHOT;
	else if (json_name_is(name, len, "stats"))
		rp->req->kind = CONTROL_REQ_STATS;
	else if (json_name_is(name, len, "list"))
		rp->req->kind = CONTROL_REQ_LIST;
	else
		reject_member(rp, "unknown request '%s': use snapshot, stats or list", name);
	return 0;
}

/*
 * Reads an integer member in [min, max] into *value. Returns 0, 1 when the
 * value has another type or range (it is then rejected and skipped), or
 * -EINVAL when it is no JSON value.
 */
static int read_integer(struct json_parser *ps, struct request_parse *rp, const char *name,
			__s64 min, __s64 max, __s64 *value)
{
	const char *start;
	__s64 number;
	int err;

	if (json_next_type(ps) != JSON_NUMBER) {
		reject_member(rp, "member '%s' must be an integer", name);
		err = json_skip_value(ps);
		return err ? err : 1;
	}
	start = ps->p;
	err = json_parse_integer(ps, &number);
	if (err == -EDOM) {
		reject_member(rp, "member '%s' must be an integer", name);
		return 1;
	}
	if (err == -ERANGE || (!err && (number < min || number > max))) {
		reject_member(rp, "member '%s' %.*s out of range (%lld to %lld)", name,
			      (int)(ps->p - start < NUMBER_SHOWN_MAX ? ps->p - start : NUMBER_SHOWN_MAX),
			      start, (long long)min, (long long)max);
		return 1;
	}
	if (err)
		return err;
	*value = number;
	return 0;
}

static int read_pid(struct json_parser *ps, struct request_parse *rp)
{
	__s64 pid;
	int ret = read_integer(ps, rp, "pid", 1, INT_MAX, &pid);

	if (ret == 0)
		rp->req->pid = (pid_t)pid;
	return ret < 0 ? ret : 0;
}

static int read_id(struct json_parser *ps, struct request_parse *rp)
{
	struct control_request *req = rp->req;
	enum json_type type = json_next_type(ps);
	int err;

	if (type == JSON_NUMBER) {
		err = read_integer(ps, rp, "id", INT64_MIN, INT64_MAX, &req->id_number);
		if (err == 0)
			req->id_kind = CONTROL_ID_INTEGER;
		return err < 0 ? err : 0;
	}
	if (type != JSON_STRING) {
		reject_member(rp, "member 'id' must be a string or an integer");
		return json_skip_value(ps);
	}
	err = json_parse_string(ps, req->id, sizeof(req->id), &req->id_len);
	if (err == -ENOSPC) {
		reject_member(rp, "member 'id' longer than %d bytes", CONTROL_ID_MAX);
		req->id[0] = '\0';
		req->id_len = 0;
		return 0;
	}
	if (!err)
		req->id_kind = CONTROL_ID_STRING;
	return err;
}

static int read_member(struct json_parser *ps, const char *name, size_t len, void *ctx)
{
	struct request_parse *rp = ctx;

	if (json_name_is(name, len, "request"))
		return read_request_name(ps, rp);
	if (json_name_is(name, len, "pid"))
		return read_pid(ps, rp);
	if (json_name_is(name, len, "id"))
		return read_id(ps, rp);
	if (memchr(name, '\0', len))
		reject_member(rp, "member name contains a NUL character");
	else
		reject_member(rp, "unknown member '%s': use request, pid or id", name);
	return json_skip_value(ps);
}

int control_parse_request(const char *line, size_t len, struct control_request *req,
			  char *err, size_t err_len)
{
	struct request_parse rp = { .req = req };
	struct json_parser ps;
	enum json_type type;
	int ret;

	memset(req, 0, sizeof(*req));
	json_parser_init(&ps, line, len, err, err_len);
	type = json_next_type(&ps);
	if (type == JSON_NONE && json_at_end(&ps))
		return json_parse_fail(&ps, "empty request line");
	if (type != JSON_OBJECT)
		return json_parse_fail(&ps, "a request must be a JSON object");
	ret = json_parse_object(&ps, read_member, &rp);
	if (ret) {
		/* the line is no JSON object, so it has no id to echo */
		req->id_kind = CONTROL_ID_ABSENT;
	}
	/* an invalid member value comes before any syntax error the parse found */
	if (rp.error[0])
		return json_parse_fail(&ps, "%s", rp.error);
	if (ret)
		return ret;
	if (!json_at_end(&ps))
		return json_parse_fail(&ps, "unexpected characters after the request object");
	if (req->kind == CONTROL_REQ_NONE)
		return json_parse_fail(&ps, "missing member 'request'");
	if (req->kind == CONTROL_REQ_SNAPSHOT && !req->pid)
		return json_parse_fail(&ps, "request snapshot needs member 'pid'");
	if (req->kind != CONTROL_REQ_SNAPSHOT && req->pid)
		return json_parse_fail(&ps, "member 'pid' is valid only with request snapshot");
	return 0;
}

/* Server */

struct control_client {
	__u64 out_since_ns;	/* boot clock: when the socket last took reply bytes */
	__u64 active_ns;	/* boot clock: when it connected or last sent request bytes */
	struct ucred peer;	/* pid and uid of the client when it connected */
	const char *failed;	/* the step that failed: "reading a request", ... */
	int fd;
	int discarding;		/* inside a line that was too long: drop up to '\n' */
	int eof;		/* the client closed its end; close after the last reply */
	size_t in_len;
	size_t out_len;
	char *out;		/* reply bytes the socket did not take yet */
	char in[CONTROL_LINE_MAX + 1];
};

struct control {
	char *path;
	dev_t dev;		/* identity of the socket file, to remove only our own */
	ino_t ino;
	int listen_fd;
	int epoll_fd;
	struct json_writer json;
	struct control_client *clients[CONTROL_MAX_CLIENTS];
	__u64 log_window_ns;		/* start of the window that client_logs counts */
	unsigned int client_logs;	/* always-written disconnect and rejection lines in it */
	unsigned int client_unlogged;	/* those lines left out in that window */
};

/* Always-written disconnect and rejection lines per window, so a client that reconnects in a loop cannot flood stderr. */
#define CLIENT_LOGS_MAX 10
#define CLIENT_LOG_WINDOW_NS (10 * 1000000000ULL)

/* Whether a process accepts connections on the unix socket at path. */
static int socket_in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int in_use;

	if (fd < 0)
		return 1;
	in_use = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
		 errno != ECONNREFUSED;
	close(fd);
	return in_use;
}

/* Writes into buf what to do after err from checking or binding the socket path. */
static const char *socket_path_hint(const char *path, int err, char *buf, size_t len)
{
	char copy[PATH_MAX];
	const char *dir;
	struct stat st;
	int stat_err, not_dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	stat_err = stat(dir, &st) ? errno : 0;
	not_dir = stat_err ? stat_err == ENOTDIR : !S_ISDIR(st.st_mode);

	if (stat_err == ENOENT)
		snprintf(buf, len, "create the directory '%s' or choose another path", dir);
	else if (not_dir)
		snprintf(buf, len, "'%s' is not a directory: choose another path", dir);
	else if (err == EACCES || err == EPERM)
		snprintf(buf, len, "check that this user may create files in '%s', or choose another path",
			 dir);
	else if (err == EROFS)
		snprintf(buf, len, "choose a path on a writable file system");
	else
		snprintf(buf, len, "choose another path");
	return buf;
}

/* Removes a stale socket at path; leaves any other file alone. */
static int clear_path(const char *path, const struct sockaddr_un *addr)
{
	char hint[PATH_MAX + 96];
	struct stat st;
	int err;

	if (lstat(path, &st)) {
		err = errno;
		if (err == ENOENT)
			return 0;
		log_error("cannot use '%s' for --control: %s; %s", path, strerror(err),
			  socket_path_hint(path, err, hint, sizeof(hint)));
		return -err;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_error("cannot use '%s' for --control: the file exists and is not a socket; remove it or choose another path",
			  path);
		return -EEXIST;
	}
	if (socket_in_use(addr)) {
		log_error("cannot use '%s' for --control: another process listens on it; choose another path",
			  path);
		return -EADDRINUSE;
	}
	if (unlink(path)) {
		log_error("cannot remove the stale socket '%s' for --control: %s", path,
			  strerror(errno));
		return -errno;
	}
	return 0;
}

static int listen_at(struct control *ctl, const struct sockaddr_un *addr)
{
	struct stat st;
	mode_t old_mask;
	int err;

	ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->listen_fd < 0)
		return -errno;
	/* the file is created with mode 0600 from the start, not changed later */
	old_mask = umask(0177);
	err = bind(ctl->listen_fd, (const struct sockaddr *)addr, sizeof(*addr)) ? -errno : 0;
	umask(old_mask);
	if (err)
		return err;
	if (stat(ctl->path, &st))
		return -errno;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	if (listen(ctl->listen_fd, CONTROL_BACKLOG))
		return -errno;
	return 0;
}

int control_open(struct control **out, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char hint[PATH_MAX + 96];
	struct control *ctl;
	int err;

	*out = NULL;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("invalid path '%s' for --control: longer than %zu bytes", path,
			  sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->listen_fd = ctl->epoll_fd = -1;
	json_writer_init(&ctl->json);
	ctl->path = strdup(path);
	if (!ctl->path) {
		control_close(ctl);
		return -ENOMEM;
	}
	err = clear_path(path, &addr);
	if (err) {
		control_close(ctl);
		return err;
	}
	err = listen_at(ctl, &addr);
	if (err) {
		log_error("cannot listen on '%s' for --control: %s; %s", path, strerror(-err),
			  socket_path_hint(path, -err, hint, sizeof(hint)));
		control_close(ctl);
		return err;
	}
	log_info(1, "control socket listening on %s", path);
	*out = ctl;
	return 0;
}

int control_watch(struct control *ctl, int epoll_fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (!ctl)
		return 0;
	ctl->epoll_fd = epoll_fd;
	ev.data.fd = ctl->listen_fd;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, ctl->listen_fd, &ev))
		return -errno;
	return 0;
}

/* Number of reply lines in the client's unsent bytes. */
static size_t unsent_replies(const struct control_client *cl)
{
	const char *p = cl->out, *end = cl->out + cl->out_len;
	size_t count = 0;

	while (p < end && (p = memchr(p, '\n', end - p))) {
		count++;
		p++;
	}
	return count;
}

/*
 * Closes the client's connection and logs one line at level with the reason
 * and the number of replies lost with it. Level 0 is always written, except
 * past CLIENT_LOGS_MAX lines in a window, where it becomes 2 and is counted.
 */
/*
 * Ends the window of disconnect and rejection lines once it is over, or at once when force
 * is set, with a count of those left out.
 */
static void end_client_log_window(struct control *ctl, __u64 now, int force)
{
	if (!force && now - ctl->log_window_ns < CLIENT_LOG_WINDOW_NS)
		return;
	if (ctl->client_unlogged)
		log_info(0, "%u more control clients disconnected with errors or were rejected; rerun with -vv to see each",
			 ctl->client_unlogged);
	ctl->log_window_ns = now;
	ctl->client_logs = ctl->client_unlogged = 0;
}

/*
 * Returns the level of an always-written line about a client: 0, or 2 past
 * CLIENT_LOGS_MAX lines in the window, which counts it instead.
 */
static int client_log_level(struct control *ctl)
{
	end_client_log_window(ctl, boot_now_ns(), 0);
	if (++ctl->client_logs <= CLIENT_LOGS_MAX)
		return 0;
	ctl->client_unlogged++;
	return 2;
}

static void client_close(struct control *ctl, struct control_client *cl, int level,
			 const char *reason)
{
	unsigned int i;

	if (level == 0)
		level = client_log_level(ctl);
	log_info(level, "control client pid %d uid %u disconnected: %s; unsent replies: %zu",
		 cl->peer.pid, cl->peer.uid, reason, unsent_replies(cl));
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i] == cl)
			ctl->clients[i] = NULL;
	/* close() also removes the fd from the epoll set */
	close(cl->fd);
	free(cl->out);
	free(cl);
}

/*
 * Whether the client's unsent replies reached CONTROL_OUT_PAUSE, so that its
 * requests wait, unread and not carried out, until it reads replies.
 */
static bool client_paused(const struct control_client *cl)
{
	return cl->out_len >= CONTROL_OUT_PAUSE;
}

static void client_update_events(struct control *ctl, struct control_client *cl)
{
	struct epoll_event ev = { .data.fd = cl->fd };

	ev.events = (cl->eof || client_paused(cl) ? 0 : EPOLLIN | EPOLLRDHUP) |
		    (cl->out_len ? EPOLLOUT : 0);
	epoll_ctl(ctl->epoll_fd, EPOLL_CTL_MOD, cl->fd, &ev);
}

/* Writes what the socket takes. Returns 0, or -errno when the client is gone. */
static int client_flush(struct control_client *cl)
{
	size_t done = 0;

	while (done < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + done, cl->out_len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			cl->failed = "sending a reply";
			return -errno;
		}
		done += n;
	}
	if (done)
		cl->out_since_ns = boot_now_ns();
	memmove(cl->out, cl->out + done, cl->out_len - done);
	cl->out_len -= done;
	return 0;
}

/* Queues one reply line and writes what the socket takes now. */
static int client_send(struct control_client *cl, const char *buf, size_t len)
{
	char *grown;

	grown = realloc(cl->out, cl->out_len + len);
	if (!grown) {
		cl->failed = "queueing a reply";
		return -ENOMEM;
	}
	/* the wait for the client to read starts with its first unsent byte */
	if (!cl->out_len)
		cl->out_since_ns = boot_now_ns();
	cl->out = grown;
	memcpy(cl->out + cl->out_len, buf, len);
	cl->out_len += len;
	return client_flush(cl);
}

static void reply_id(struct json_writer *w, const struct control_request *req)
{
	if (req->id_kind == CONTROL_ID_ABSENT)
		return;
	json_key(w, "id");
	if (req->id_kind == CONTROL_ID_STRING)
		json_string_len(w, req->id, req->id_len);
	else
		json_i64(w, req->id_number);
}

static void reply_error(struct json_writer *w, const struct control_request *req,
			const char *message)
{
	json_key(w, "ok");
	json_bool(w, false);
	reply_id(w, req);
	json_key(w, "error");
	json_string(w, message);
}

static void reply_begin_ok(struct json_writer *w, const struct control_request *req,
			   const char *name)
{
	json_key(w, "ok");
	json_bool(w, true);
	reply_id(w, req);
	json_key(w, "request");
	json_string(w, name);
}

/* Whether pid is a process the agent traces now, in its view and the kernel's. */
static int is_traced(struct session *s, pid_t pid)
{
	return classifier_find(&s->classifier, pid) && tracer_has(&s->tracer, pid);
}

static void run_snapshot(struct session *s, struct json_writer *w,
			 const struct control_request *req)
{
	char message[CONTROL_ERROR_LEN];
	pid_t pid = req->pid, group;
	__u64 seq;
	int err;

	if (!(s->opts.triggers & ST_TRIG_BIT(ST_TRIG_EXPLICIT))) {
		reply_error(w, req, "the explicit trigger is not selected; start snaptrig with it in --trigger");
		return;
	}
	/* earlier kernel records come first in the output */
	ring_reader_consume(&s->tracer.ring);
	/* as with -p, a thread's id is taken for its process */
	if (!is_traced(s, pid)) {
		group = thread_group_of(pid);
		if (group <= 0 || group == pid || !is_traced(s, group)) {
			snprintf(message, sizeof(message), "pid %d is not traced", pid);
			reply_error(w, req, message);
			return;
		}
		pid = group;
	}
	seq = s->emitter.seq + 1;
	err = classifier_operator_snapshot(&s->classifier, pid, boot_now_ns());
	if (err) {
		snprintf(message, sizeof(message), "snapshot of pid %d failed: %s", pid,
			 strerror(-err));
		reply_error(w, req, message);
		return;
	}
	log_info(1, "operator requested a snapshot of pid %d", pid);
	reply_begin_ok(w, req, "snapshot");
	json_key(w, "pid");
	json_u64(w, pid);
	json_key(w, "seq");
	json_u64(w, seq);
}

static int compare_pids(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Writes the sorted traced pids as an array; returns how many. */
static size_t write_traced_pids(struct session *s, struct json_writer *w)
{
	size_t i, count = 0;
	pid_t *pids = calloc(s->classifier.proc_count + 1, sizeof(*pids));

	json_array_begin(w);
	if (pids) {
		for (i = 0; i < s->classifier.proc_count; i++)
			if (is_traced(s, s->classifier.procs[i].pid))
				pids[count++] = s->classifier.procs[i].pid;
		qsort(pids, count, sizeof(*pids), compare_pids);
		for (i = 0; i < count; i++)
			json_u64(w, pids[i]);
	}
	json_array_end(w);
	free(pids);
	return count;
}

static void run_stats(struct session *s, struct json_writer *w,
		      const struct control_request *req)
{
	size_t traced = 0, i;
	int t;

	for (i = 0; i < s->classifier.proc_count; i++)
		traced += is_traced(s, s->classifier.procs[i].pid);
	reply_begin_ok(w, req, "stats");
	json_key(w, "traced");
	json_u64(w, traced);
	json_key(w, "records");
	json_u64(w, s->classifier.records);
	json_key(w, "triggers");
	json_object_begin(w);
	for (t = 0; t < ST_TRIG_COUNT; t++) {
		if (!(s->classifier.triggers & ST_TRIG_BIT(t)))
			continue;
		json_key(w, trigger_name(t));
		json_u64(w, s->classifier.trigger_lines[t]);
	}
	json_object_end(w);
	json_key(w, "lost");
	json_u64(w, s->lost_total);
	json_key(w, "untraced");
	json_u64(w, s->untraced);
	json_key(w, "dropped_lines");
	json_u64(w, s->emitter.dropped);
	json_key(w, "latency");
	latency_write_json(&s->emitter.latency, w);
}

/* Ends the reply object in ctl->json and queues the line. Returns 0 or -errno. */
static int send_reply(struct control *ctl, struct control_client *cl)
{
	struct json_writer *w = &ctl->json;

	json_object_end(w);
	if (json_finish_line(w)) {
		log_error("cannot format a control reply: %s", strerror(-w->error));
		return 0;
	}
	return client_send(cl, w->buf, w->len);
}

/* Carries out one request line and queues its reply. Returns 0 or -errno. */
static int handle_line(struct control *ctl, struct session *s, struct control_client *cl,
		       const char *line, size_t len)
{
	struct json_writer *w = &ctl->json;
	struct control_request req;
	char message[CONTROL_ERROR_LEN];

	json_writer_reset(w);
	json_object_begin(w);
	if (control_parse_request(line, len, &req, message, sizeof(message))) {
		log_info(1, "control request rejected: %s", message);
		reply_error(w, &req, message);
	} else if (req.kind == CONTROL_REQ_SNAPSHOT) {
		run_snapshot(s, w, &req);
	} else if (req.kind == CONTROL_REQ_LIST) {
		reply_begin_ok(w, &req, "list");
		json_key(w, "pids");
		write_traced_pids(s, w);
	} else {
		run_stats(s, w, &req);
	}
	return send_reply(ctl, cl);
}

/*
 * Rejects a line longer than CONTROL_LINE_MAX, whose first bytes fill the
 * input buffer. When they begin with a complete request object, the reply
 * echoes its id, as for any rejected line.
 */
static int reply_too_long(struct control *ctl, struct control_client *cl)
{
	struct json_writer *w = &ctl->json;
	struct control_request req;
	char message[CONTROL_ERROR_LEN];

	_Static_assert(CONTROL_LINE_MAX == 4096, "the reply names the limit");
	log_info(1, "control request rejected: line longer than %d bytes", CONTROL_LINE_MAX);
	/* only the id is used: the first bytes may parse as a valid request */
	control_parse_request(cl->in, cl->in_len, &req, message, sizeof(message));
	json_writer_reset(w);
	json_object_begin(w);
	reply_error(w, &req, "request line longer than 4096 bytes");
	return send_reply(ctl, cl);
}

/*
 * Handles the complete lines in the input buffer, in order, until the client
 * is paused, and keeps the rest. Returns 0, or -errno when the client must go.
 */
static int client_lines(struct control *ctl, struct session *s, struct control_client *cl)
{
	size_t start = 0;
	char *nl;
	int err = 0;

	while (!err && !client_paused(cl) &&
	       (nl = memchr(cl->in + start, '\n', cl->in_len - start))) {
		size_t len = nl - (cl->in + start);

		if (cl->discarding)
			cl->discarding = 0;
		else
			err = handle_line(ctl, s, cl, cl->in + start, len);
		start += len + 1;
	}
	memmove(cl->in, cl->in + start, cl->in_len - start);
	cl->in_len -= start;
	if (!err && cl->in_len == sizeof(cl->in) && !memchr(cl->in, '\n', cl->in_len)) {
		/* no '\n' within the limit: reject the line, drop it up to its end */
		if (!cl->discarding)
			err = reply_too_long(ctl, cl);
		cl->discarding = 1;
		cl->in_len = 0;
	}
	return err;
}

/*
 * Reads what the client sent and handles it, until the client is paused.
 * Returns 0, or -errno when the client must go.
 */
static int client_read(struct control *ctl, struct session *s, struct control_client *cl)
{
	int reads, err;

	for (reads = 0; reads < CONTROL_READS_PER_EVENT && !cl->eof && !client_paused(cl);
	     reads++) {
		ssize_t n = read(cl->fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			cl->failed = "reading a request";
			return -errno;
		}
		if (n == 0) {
			/* bytes after the last '\n' are no complete request */
			cl->eof = 1;
			cl->in_len = 0;
			return 0;
		}
		cl->in_len += n;
		cl->active_ns = boot_now_ns();
		err = client_lines(ctl, s, cl);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Closes the client that sent nothing for the longest time, at least
 * CONTROL_EVICT_IDLE_S, and has no reply or partial request pending.
 * Returns its place, or CONTROL_MAX_CLIENTS when no client qualifies.
 */
static unsigned int evict_idle_client(struct control *ctl)
{
	__u64 now_ns = boot_now_ns(), idle_ns = CONTROL_EVICT_IDLE_S * 1000000000ULL;
	unsigned int i, victim = CONTROL_MAX_CLIENTS;
	char reason[96];

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		const struct control_client *cl = ctl->clients[i];

		if (!cl || cl->out_len || cl->in_len || cl->discarding || now_ns - cl->active_ns < idle_ns)
			continue;
		if (victim == CONTROL_MAX_CLIENTS || cl->active_ns < ctl->clients[victim]->active_ns)
			victim = i;
	}
	if (victim == CONTROL_MAX_CLIENTS)
		return victim;
	snprintf(reason, sizeof(reason),
		 "it sent nothing for %llu s and its place went to a new client",
		 (unsigned long long)((now_ns - ctl->clients[victim]->active_ns) / 1000000000ULL));
	client_close(ctl, ctl->clients[victim], 0, reason);
	return victim;
}

/*
 * Logs why the client peer gets no place when every place is taken. Either
 * all clients were active within CONTROL_EVICT_IDLE_S, or some were quiet
 * that long but hold a partial request or unsent replies, which
 * evict_idle_client() never drops.
 */
static void log_full_table(struct control *ctl, const struct ucred *peer)
{
	__u64 now_ns = boot_now_ns(), idle_ns = CONTROL_EVICT_IDLE_S * 1000000000ULL;
	int level = client_log_level(ctl);
	unsigned int i, quiet = 0;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		const struct control_client *cl = ctl->clients[i];

		if (cl && now_ns - cl->active_ns >= idle_ns)
			quiet++;
	}
	if (!quiet)
		log_info(level, "control client pid %d uid %u rejected: %d clients are connected, the limit, and none was idle for %d s",
			 peer->pid, peer->uid, CONTROL_MAX_CLIENTS, CONTROL_EVICT_IDLE_S);
	else
		log_info(level, "control client pid %d uid %u rejected: %d clients are connected, the limit, and none can lose its place because %u of them sent nothing for %d s but hold a partial request or unsent replies",
			 peer->pid, peer->uid, CONTROL_MAX_CLIENTS, quiet, CONTROL_EVICT_IDLE_S);
}

/*
 * Handles an epoll event of one client: flushes its replies, carries out its
 * requests, and closes it when it failed or left with no reply unsent.
 */
static void client_event(struct control *ctl, struct session *s, struct control_client *cl,
			 __u32 events)
{
	char reason[96];
	int err = 0;

	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		err = client_flush(cl);
	/* first the requests that waited while the client was paused */
	if (!err && !client_paused(cl))
		err = client_lines(ctl, s, cl);
	if (!err && !client_paused(cl) && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		err = client_read(ctl, s, cl);
	if (err) {
		snprintf(reason, sizeof(reason), "%s failed: %s", cl->failed, strerror(-err));
		client_close(ctl, cl, 0, reason);
		return;
	}
	if (cl->eof && !cl->out_len) {
		client_close(ctl, cl, 2, "it closed the connection");
		return;
	}
	client_update_events(ctl, cl);
}

/*
 * Handles the clients whose peers closed their end before their epoll events
 * were read, so that a full table rejects a new client only for open clients.
 */
static void reap_closed_clients(struct control *ctl, struct session *s)
{
	struct control_client *cl;
	struct pollfd pfd;
	unsigned int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		cl = ctl->clients[i];
		if (!cl)
			continue;
		pfd = (struct pollfd){ .fd = cl->fd, .events = POLLIN | POLLRDHUP };
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			client_event(ctl, s, cl, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
	}
}

static void accept_clients(struct control *ctl, struct session *s)
{
	static const char busy[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";

	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		socklen_t peer_len = sizeof(struct ucred);
		struct ucred peer = { 0 };
		struct control_client *cl;
		unsigned int i;
		int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_error("accepting a control client failed: %s", strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len))
			peer.uid = (uid_t)-1;	/* pid 0: unknown */
		for (i = 0; i < CONTROL_MAX_CLIENTS && ctl->clients[i]; i++)
			;
		if (i == CONTROL_MAX_CLIENTS) {
			reap_closed_clients(ctl, s);
			for (i = 0; i < CONTROL_MAX_CLIENTS && ctl->clients[i]; i++)
				;
		}
		if (i == CONTROL_MAX_CLIENTS)
			i = evict_idle_client(ctl);
		cl = i < CONTROL_MAX_CLIENTS ? calloc(1, sizeof(*cl)) : NULL;
		if (!cl) {
			if (i < CONTROL_MAX_CLIENTS)
				log_error("control client pid %d uid %u rejected: out of memory",
					  peer.pid, peer.uid);
			else
				log_full_table(ctl, &peer);
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				log_info(2, "cannot send the rejection to the control client: %s", strerror(errno));
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->active_ns = boot_now_ns();
		cl->peer = peer;
		ev.data.fd = fd;
		if (epoll_ctl(ctl->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
			log_error("watching a control client failed: %s", strerror(errno));
			close(fd);
			free(cl);
			continue;
		}
		ctl->clients[i] = cl;
		log_info(2, "control client pid %d uid %u connected", cl->peer.pid, cl->peer.uid);
	}
}

static struct control_client *find_client(struct control *ctl, int fd)
{
	unsigned int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i] && ctl->clients[i]->fd == fd)
			return ctl->clients[i];
	return NULL;
}

int control_handle_event(struct control *ctl, struct session *s, int fd, __u32 events)
{
	struct control_client *cl;

	if (!ctl)
		return 0;
	if (fd == ctl->listen_fd) {
		accept_clients(ctl, s);
		return 1;
	}
	cl = find_client(ctl, fd);
	if (!cl)
		return 0;
	client_event(ctl, s, cl, events);
	return 1;
}

void control_tick(struct control *ctl, __u64 now_ns)
{
	struct control_client *cl;
	char reason[64];
	unsigned int i;

	if (!ctl)
		return;
	end_client_log_window(ctl, now_ns, 0);
	snprintf(reason, sizeof(reason), "it read no reply for %d s", CONTROL_STALL_S);
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		cl = ctl->clients[i];
		if (cl && cl->out_len && now_ns - cl->out_since_ns >= CONTROL_STALL_S * 1000000000ULL)
			client_close(ctl, cl, 0, reason);
	}
}

void control_close(struct control *ctl)
{
	struct stat st;
	unsigned int i;

	if (!ctl)
		return;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i])
			client_close(ctl, ctl->clients[i], 2, "snaptrig is exiting");
	end_client_log_window(ctl, boot_now_ns(), 1);
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	/* remove the socket only while it is still the file this agent created */
	if (ctl->path && ctl->ino && stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
	json_writer_free(&ctl->json);
	free(ctl->path);
	free(ctl);
}

/* Client */

static int connect_control(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval timeout = { .tv_sec = CLIENT_TIMEOUT_S };
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("invalid path '%s' for --control: longer than %zu bytes", path,
			  sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		err = -errno;
		if (err == -EACCES)
			log_error("cannot connect to the control socket '%s': %s; the socket has mode 0600, so run this as the user that runs snaptrig, and check search permission on the directories of its path",
				  path, strerror(-err));
		else
			log_error("cannot connect to the control socket '%s': %s; check that snaptrig runs with --control %s",
				  path, strerror(-err), path);
		close(fd);
		return err;
	}
	return fd;
}

/* Reads one line into buf (without '\n'). Returns its length or -errno. */
static ssize_t read_reply(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len < cap - 1) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		len += n;
		nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = '\0';
			return nl - buf;
		}
	}
	return -EMSGSIZE;
}

int control_request_snapshot(const char *path, pid_t pid)
{
	char request[96], reply[CONTROL_LINE_MAX];
	ssize_t len;
	int fd, n, err = 0;

	fd = connect_control(path);
	if (fd < 0)
		return fd;
	n = snprintf(request, sizeof(request), "{\"request\":\"snapshot\",\"pid\":%d,\"id\":%d}\n",
		     pid, getpid());
	if (send(fd, request, n, MSG_NOSIGNAL) != n) {
		err = -errno;
		/*
		 * A server with every place taken writes its rejection and closes
		 * before it reads the request, so that reply may still be waiting.
		 */
		len = -ENOTCONN;
		if (err == -EPIPE || err == -ECONNRESET)
			len = read_reply(fd, reply, sizeof(reply));
		if (len < 0) {
			log_error("cannot send the request to '%s': %s", path, strerror(-err));
			goto out;
		}
	} else {
		len = read_reply(fd, reply, sizeof(reply));
		if (len < 0) {
			err = len;
			log_error("no reply from the control socket '%s': %s", path, strerror(-err));
			goto out;
		}
	}
	printf("%s\n", reply);
	fflush(stdout);
	/* the server writes "ok" first in every reply */
	err = strncmp(reply, "{\"ok\":true", 10) == 0 ? 0 : 1;
out:
	close(fd);
	return err;
}
