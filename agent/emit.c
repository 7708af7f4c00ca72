// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "container.h"
#include "line_json.h"
#include "log.h"
#include "names.h"
#include "triggers.h"
#include "emit.h"

__u64 boot_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __s64 realtime_offset(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((__s64)rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
}

__s64 emitter_clock_set(struct emitter *e)
{
	__s64 old = e->realtime_offset_ns;

	e->realtime_offset_ns = realtime_offset();
	return e->realtime_offset_ns - old;
}

/* Logs why connect() to the unix socket output at path failed with errno err. */
static void log_connect_error(const char *path, int err)
{
	switch (err) {
	case ECONNREFUSED:
		log_error("cannot open output '%s': no process listens on the unix socket; start the reader first",
			  path);
		break;
	case EPROTOTYPE:
		log_error("cannot open output '%s': the unix socket is not a stream socket; the reader must listen on a SOCK_STREAM socket",
			  path);
		break;
	case EAGAIN:
		log_error("cannot open output '%s': the listen backlog of the unix socket is full; check that the reader accepts connections",
			  path);
		break;
	default:
		log_error("cannot open output '%s': connect to the unix socket failed: %s; check the permissions of the socket file",
			  path, strerror(err));
	}
}

/*
 * Connects to the unix stream socket at path. A path that does not fit in
 * sun_path (107 bytes) is reached through /proc/self/fd and an O_PATH
 * descriptor, which connect() follows like a symbolic link. Returns the
 * socket, or -errno after logging why.
 */
static int connect_output(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, path_fd = -1, err = 0;

	/* SOCK_NONBLOCK: connect() fails with EAGAIN on a full listen backlog instead of waiting */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		log_error("cannot open output '%s': cannot create a unix socket: %s", path,
			  strerror(errno));
		return err;
	}

	if (strlen(path) < sizeof(addr.sun_path)) {
		strcpy(addr.sun_path, path);
	} else {
		path_fd = open(path, O_PATH | O_CLOEXEC);
		if (path_fd < 0)
			err = -errno;
		else
			snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d", path_fd);
	}
	if (!err && connect(fd, (const struct sockaddr *)&addr, sizeof(addr)))
		err = -errno;
	if (path_fd >= 0)
		close(path_fd);
	if (err) {
		log_connect_error(path, -err);
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Opens path for writing lines. A unix socket is connected to, and any
 * other path is opened for appending, which creates a missing file.
 * Returns the fd, or -errno after logging why.
 */
static int open_output(const char *path)
{
	struct stat st;
	int fd, err, fifo = 0;

	if (stat(path, &st) == 0) {
		if (S_ISSOCK(st.st_mode))
			return connect_output(path);
		fifo = S_ISFIFO(st.st_mode);
	}
	/* O_NONBLOCK: an open of a FIFO without a reader would wait, signals blocked */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
	if (fd >= 0)
		return fd;

	err = -errno;
	if (err == -ENXIO && fifo)
		log_error("cannot open output '%s': no process has the FIFO open for reading; start the reader first",
			  path);
	else if (err == -EISDIR)
		log_error("cannot open output '%s': the path is a directory; give the path of a file in it, which snaptrig creates if missing",
			  path);
	else
		log_error("cannot open output '%s': %s; check the directory exists and is writable",
			  path, strerror(-err));
	return err;
}

/*
 * Writes a newline first when the last line of the file at path has none,
 * so that the first line written now is a line of its own. A program that
 * died or ran out of space while writing can leave such a line. The output
 * fd is write-only, so the check reads through a second descriptor.
 */
static void end_last_line(struct emitter *e, const char *path, off_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	char last;

	if (fd < 0)
		return;
	/* a failed write shows again, and is reported, at the first line */
	if (pread(fd, &last, 1, size - 1) == 1 && last != '\n' && write(e->fd, "\n", 1) < 0)
		log_info(1, "cannot end the last line of output %s: %s", path, strerror(errno));
	close(fd);
}

/*
 * Lines wait in e->out up to this size before a pass ends. A regular file
 * gets larger writes, which cost less kernel time per byte. In a flood to a
 * file on ext4 (Linux 6.18), 256 KiB writes took the agent about a quarter
 * less system time per line than 64 KiB writes.
 */
#define OUT_FLUSH_BYTES (64 * 1024)
#define OUT_FLUSH_FILE_BYTES (256 * 1024)

int emitter_open(struct emitter *e, const char *path, enum output_format format)
{
	struct stat st;

	memset(e, 0, sizeof(*e));
	e->format = format;
	e->fd = STDOUT_FILENO;
	e->realtime_offset_ns = realtime_offset();
	json_writer_init(&e->json);
	if (path) {
		e->fd = open_output(path);
		if (e->fd < 0) {
			int err = e->fd;

			e->fd = -1;
			return err;
		}
		/* writes block again, as on standard output: see flush_stream() */
		fcntl(e->fd, F_SETFL, fcntl(e->fd, F_GETFL) & ~O_NONBLOCK);
		e->owns_fd = 1;
		e->path = path;
	}
	e->regular_file = fstat(e->fd, &st) == 0 && S_ISREG(st.st_mode);
	e->flush_bytes = e->regular_file ? OUT_FLUSH_FILE_BYTES : OUT_FLUSH_BYTES;
	if (path && e->regular_file && st.st_size > 0)
		end_last_line(e, path, st.st_size);
	return 0;
}

void emitter_check_deleted(struct emitter *e)
{
	struct stat st;

	if (!e->path || !e->regular_file || e->deleted_reported || e->error)
		return;
	if (fstat(e->fd, &st) || st.st_nlink > 0)
		return;
	e->deleted_reported = 1;
	log_error("output file %s was deleted: lines go on to the deleted file, which no other process can open; restart snaptrig to write a new one",
		  e->path);
}

static const char *output_name(const struct emitter *e);

void emitter_close(struct emitter *e, int stop_fd)
{
	if (e->fd >= 0)
		emitter_drain(e, stop_fd);
	if (e->dropped > e->dropped_logged)
		log_error("output %s: %llu lines were dropped while it was behind",
			  output_name(e), (unsigned long long)(e->dropped - e->dropped_logged));
	free(e->out);
	e->out = NULL;
	e->out_len = e->out_cap = 0;
	free(e->pending);
	e->pending = NULL;
	e->pending_count = e->pending_done = e->pending_cap = 0;
	latency_free(&e->latency);
	if (e->owns_fd && e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	json_writer_free(&e->json);
	free(e->text);
	e->text = NULL;
}

/* Formats the current time into when and returns its time of day, which text lines print with %.15s. */
static const char *time_of_day(const struct emitter *e, char when[JSON_TIME_LEN])
{
	json_time_rfc3339(boot_now_ns() + e->realtime_offset_ns, when, JSON_TIME_LEN);
	return when + 11;
}

/*
 * Unwritten bytes at which droppable lines for a pipe or socket output are dropped.
 * Call counts wait in the kernel's counters from OUTPUT_BEHIND on, so only
 * a flood of other lines gets that far.
 */
#define OUTPUT_BACKLOG_MAX (16 << 20)
/* Unwritten bytes up to which the rare lines (see line_droppable()) still join out. */
#define OUTPUT_RARE_MAX (64 << 20)
#define OUTPUT_BEHIND (1 << 20)

/*
 * Cuts from a regular file the start of a line that a failed write left at
 * its end, so that the file contains whole lines only and a later append
 * starts on a line of its own. done bytes of buf, which starts at a line, were
 * written. Nothing is cut when the file grew after that write.
 */
static void cut_partial_line(struct emitter *e, const char *buf, size_t done)
{
	const char *last_nl = done ? memrchr(buf, '\n', done) : NULL;
	size_t partial = last_nl ? done - (size_t)(last_nl - buf) - 1 : done;
	off_t end = lseek(e->fd, 0, SEEK_CUR);
	struct stat st;

	if (!partial || end < (off_t)partial || fstat(e->fd, &st) || st.st_size != end)
		return;
	if (ftruncate(e->fd, end - (off_t)partial))
		log_error("cannot cut the partial last line from output %s: %s",
			  e->path ? e->path : "(standard output)", strerror(errno));
}

static const char *output_name(const struct emitter *e)
{
	return e->path ? e->path : "(standard output)";
}

static void write_all(struct emitter *e, const char *buf, size_t len)
{
	const char *start = buf;

	while (len && !e->error) {
		ssize_t n = write(e->fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e->error = -errno;
			log_error("cannot write output %s: %s; stopping", output_name(e), strerror(errno));
			if (e->regular_file)
				cut_partial_line(e, start, (size_t)(buf - start));
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Counts the lines of out not written yet. */
static size_t waiting_lines(const struct emitter *e)
{
	const char *p = e->out + e->out_off, *end = e->out + e->out_len;
	size_t lines = 0;

	if (p == end)
		return 0;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p++;
	}
	return lines;
}

void emitter_output_closed(struct emitter *e)
{
	if (e->error)
		return;
	e->error = -EPIPE;
	log_error("cannot write output %s: %s; stopping, %zu lines not written", output_name(e),
		  strerror(EPIPE), waiting_lines(e));
}

/* Counts the delay of a line of kind from its record's boot_ns to now. */
static void add_delay(struct emitter *e, unsigned int kind, __u64 boot_ns, __u64 now)
{
	latency_add(&e->latency, kind, now > boot_ns ? now - boot_ns : 0);
}

/* Counts the delay of each pending line that ends at or before written bytes of out. */
static void settle_delays(struct emitter *e, size_t written)
{
	__u64 now;

	if (e->pending_done == e->pending_count || e->error)
		return;
	now = boot_now_ns();
	while (e->pending_done < e->pending_count && e->pending[e->pending_done].end <= written) {
		const struct pending_delay *delay = &e->pending[e->pending_done++];

		add_delay(e, delay->kind, delay->boot_ns, now);
	}
}

/* Forgets the lines of out, all written. */
static void out_reset(struct emitter *e)
{
	e->out_len = e->out_off = 0;
	e->pending_count = e->pending_done = 0;
	e->stalled_since_ns = 0;
}

/* Moves the unwritten lines of out, and the delays that wait for them, to the front. */
static void out_compact(struct emitter *e)
{
	size_t i, waiting = e->pending_count - e->pending_done;

	memmove(e->out, e->out + e->out_off, e->out_len - e->out_off);
	for (i = 0; i < waiting; i++) {
		e->pending[i] = e->pending[e->pending_done + i];
		e->pending[i].end -= e->out_off;
	}
	e->pending_count = waiting;
	e->pending_done = 0;
	e->out_len -= e->out_off;
	e->out_off = 0;
}

/*
 * Returns the end of the next write from out: whole lines of at most
 * PIPE_BUF bytes in all, or one longer line. A write of that size to a pipe
 * is atomic, so lines stay whole when the traced command writes to the same
 * pipe, as it does in launch mode.
 */
static size_t chunk_end(const struct emitter *e)
{
	size_t start = e->out_off, end = start, next;

	for (;;) {
		const char *nl = memchr(e->out + end, '\n', e->out_len - end);

		next = nl ? (size_t)(nl - e->out) + 1 : e->out_len;
		if (end > start && next - start > PIPE_BUF)
			return end;
		end = next;
		if (end == e->out_len || next - start >= PIPE_BUF)
			return end;
	}
}

/*
 * Writes what a pipe or socket output takes now, without waiting. The fd
 * stays blocking, since launch mode shares its file description with
 * COMMAND, so each write follows a poll() that reported room for it: a write
 * of up to PIPE_BUF bytes then does not block. A pipe has a free page then,
 * and a unix stream socket uses at most a quarter of its send buffer
 * (unix_writable() in Linux's net/unix/af_unix.c).
 * NOTE: a line longer than PIPE_BUF is written whole, and such a write to a
 * pipe whose reader stopped can block.
 */
static void flush_stream(struct emitter *e)
{
	__u64 now;

	if (e->error)
		return;
	while (e->out_off < e->out_len && !e->error) {
		struct pollfd pfd = { .fd = e->fd, .events = POLLOUT };
		size_t end;
		ssize_t n;

		if (poll(&pfd, 1, 0) != 1)
			break;
		/* a full pipe whose reader is gone reports POLLERR alone */
		if (!(pfd.revents & POLLOUT)) {
			if (pfd.revents & (POLLERR | POLLHUP))
				emitter_output_closed(e);
			break;
		}
		end = chunk_end(e);
		n = write(e->fd, e->out + e->out_off, end - e->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			e->error = -errno;
			log_error("cannot write output %s: %s; stopping, %zu lines not written",
				  output_name(e), strerror(errno), waiting_lines(e));
			return;
		}
		e->out_off += (size_t)n;
		e->stalled_since_ns = 0;
		settle_delays(e, e->out_off);
	}
	if (e->error)
		return;
	if (e->out_off == e->out_len) {
		out_reset(e);
		return;
	}
	now = boot_now_ns();
	if (!e->stalled_since_ns)
		e->stalled_since_ns = now;
	/* a reader that stops reading must not hold the agent's lines forever */
	if (now - e->stalled_since_ns >= OUTPUT_STALL_MS * 1000000ULL) {
		e->error = -ETIMEDOUT;
		log_error("cannot write output %s: nothing could be written for %d s; stopping, %zu lines not written",
			  output_name(e), OUTPUT_STALL_MS / 1000, waiting_lines(e));
		return;
	}
	if (e->out_off >= e->out_len / 2)
		out_compact(e);
}

void emitter_flush(struct emitter *e)
{
	if (e->error)
		return;
	/* Linux holds the inode lock for a write to a regular file, so lines stay whole at any size */
	if (e->regular_file) {
		write_all(e, e->out, e->out_len);
		settle_delays(e, e->out_len);
		out_reset(e);
		return;
	}
	flush_stream(e);
}

size_t emitter_backlog(const struct emitter *e)
{
	return e->out_len - e->out_off;
}

int emitter_behind(const struct emitter *e)
{
	return emitter_backlog(e) >= OUTPUT_BEHIND;
}

/*
 * Reads the signals waiting on the signalfd stop_fd. A SIGINT, SIGTERM or
 * SIGHUP limits the wait for the reader to OUTPUT_STALL_MS from now, unless
 * an earlier stop limited it already. Other signals are read and ignored.
 */
static void drain_read_signals(struct emitter *e, int stop_fd)
{
	struct signalfd_siginfo si;

	while (read(stop_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGINT && si.ssi_signo != SIGTERM && si.ssi_signo != SIGHUP)
			continue;
		if (e->drain_deadline_ns)
			continue;
		log_info(1, "received %s while the reader of %s is behind: waiting %d s at most",
			 strsignal((int)si.ssi_signo), output_name(e), OUTPUT_STALL_MS / 1000);
		e->drain_deadline_ns = boot_now_ns() + OUTPUT_STALL_MS * 1000000ULL;
	}
}

void emitter_drain(struct emitter *e, int stop_fd)
{
	emitter_flush(e);
	while (emitter_backlog(e) && !e->error) {
		struct pollfd pfds[2] = {
			{ .fd = e->fd, .events = POLLOUT },
			{ .fd = stop_fd, .events = POLLIN },
		};
		__u64 now = boot_now_ns(), until = e->stalled_since_ns + OUTPUT_STALL_MS * 1000000ULL;

		if (stop_fd >= 0)
			drain_read_signals(e, stop_fd);
		if (e->drain_deadline_ns && now >= e->drain_deadline_ns) {
			e->error = -ETIMEDOUT;
			log_error("stopping output %s: the reader did not take every line within %d s after the stop; %zu lines not written",
				  output_name(e), OUTPUT_STALL_MS / 1000, waiting_lines(e));
			return;
		}
		if (e->drain_deadline_ns && e->drain_deadline_ns < until)
			until = e->drain_deadline_ns;
		/* flush_stream() ends the output once nothing went out for 5 s */
		poll(pfds, stop_fd >= 0 ? 2 : 1, until > now ? (int)((until - now) / 1000000ULL) + 1 : 0);
		emitter_flush(e);
	}
}

/*
 * Whether a line of len bytes may join out. A pipe or socket output whose
 * reader is slower than the lines gets at most OUTPUT_BACKLOG_MAX bytes
 * ahead. Past that, droppable lines are dropped, and their seq numbers
 * skipped, until half of it is written, so that the agent goes on serving
 * holds, requests and signals. The other lines go only past OUTPUT_RARE_MAX.
 */
static int out_room(struct emitter *e, size_t len, bool droppable)
{
	size_t backlog;

	if (e->regular_file || e->keep_lines)
		return 1;
	if (emitter_backlog(e) + len > e->flush_bytes)
		flush_stream(e);
	backlog = emitter_backlog(e);
	if (e->dropping && backlog <= OUTPUT_BACKLOG_MAX / 2) {
		e->dropping = e->dropping_all = 0;
		log_error("output %s caught up: %llu lines were dropped while it was behind",
			  output_name(e), (unsigned long long)(e->dropped - e->dropped_logged));
		e->dropped_logged = e->dropped;
	}
	if (!e->dropping && backlog + len > OUTPUT_BACKLOG_MAX) {
		e->dropping = 1;
		log_error("output %s is %d MiB behind: dropping the lines of repeating triggers, whose seq numbers are skipped, until it catches up",
			  output_name(e), OUTPUT_BACKLOG_MAX >> 20);
	}
	if (!e->dropping)
		return 1;
	if (!droppable && backlog + len <= OUTPUT_RARE_MAX)
		return 1;
	if (!droppable && !e->dropping_all) {
		e->dropping_all = 1;
		log_error("output %s is %d MiB behind: dropping every line until it catches up",
			  output_name(e), OUTPUT_RARE_MAX >> 20);
	}
	e->dropped++;
	return 0;
}

/*
 * Whether line is dropped first when a pipe or socket output falls behind:
 * a trigger line of a kind that can repeat at any rate. Once-triggers,
 * bootstrap and operator requests are rare, like exec, exit and snapshot lines.
 */
static bool line_droppable(const struct line *line)
{
	const __u32 rare = ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) | ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) |
			   ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON) | ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT) |
			   ST_TRIG_BIT(ST_TRIG_BOOTSTRAP);
	const struct st_explicit_record *rec = (const void *)line->record;

	if (line->type != LINE_TRIGGER || (ST_TRIG_BIT(line->trigger) & rare))
		return false;
	if (line->trigger == ST_TRIG_EXPLICIT && rec && rec->hdr.kind == ST_REC_EXPLICIT &&
	    rec->source == ST_EXPLICIT_OPERATOR)
		return false;
	return true;
}

/* Grows out to hold len more bytes. Returns 0, or -ENOMEM. */
static int out_grow(struct emitter *e, size_t len)
{
	size_t cap = e->out_cap ? e->out_cap : e->flush_bytes;
	char *grown;

	if (e->out_len + len <= e->out_cap)
		return 0;
	while (cap < e->out_len + len)
		cap *= 2;
	grown = realloc(e->out, cap);
	if (!grown)
		return -ENOMEM;
	e->out = grown;
	e->out_cap = cap;
	return 0;
}

/* Appends a line of len bytes to out, or drops it when out_room() returns 0. */
static void out_append_line(struct emitter *e, const char *buf, size_t len, bool droppable)
{
	e->line_dropped = 0;
	if (e->error)
		return;
	if (!e->regular_file) {
		if (!out_room(e, len, droppable)) {
			e->line_dropped = 1;
			return;
		}
		if (out_grow(e, len)) {
			log_error("cannot keep a line of %zu bytes for output %s: %s", len,
				  output_name(e), strerror(ENOMEM));
			e->line_dropped = 1;
			return;
		}
		memcpy(e->out + e->out_len, buf, len);
		e->out_len += len;
		return;
	}
	if (e->out_len + len > e->flush_bytes)
		emitter_flush(e);
	if (len > e->flush_bytes) {
		write_all(e, buf, len);
		return;
	}
	if (out_grow(e, len)) {
		/* no room to gather: write the line on its own */
		emitter_flush(e);
		write_all(e, buf, len);
		return;
	}
	memcpy(e->out + e->out_len, buf, len);
	e->out_len += len;
}

static void out_append(struct emitter *e, const char *buf, size_t len)
{
	out_append_line(e, buf, len, false);
}

/*
 * Returns room for len more bytes at the end of out, after writing the lines
 * it holds when they would not fit, or NULL when out cannot be allocated.
 * The caller adds what it wrote to out_len unless line_dropped is set: the
 * line is then formatted for emitter_last_line() only.
 */
static char *out_reserve(struct emitter *e, size_t len, bool droppable)
{
	e->line_dropped = !out_room(e, len, droppable);
	if (e->regular_file && e->out_len + len > e->flush_bytes)
		emitter_flush(e);
	if (out_grow(e, len))
		return NULL;
	return e->out + e->out_len;
}

const char *emitter_last_line(const struct emitter *e, size_t *len)
{
	*len = e->last_line_len;
	return e->last_line;
}

static void out_printf(struct emitter *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct emitter *e, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_append(e, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/*
 * Members with a string literal key, quoted at compile time. A key made at
 * run time goes through json_key().
 */
#define key_u64(w, key, v) (json_key_lit(w, key), json_u64(w, v))
#define key_str(w, key, s) (json_key_lit(w, key), json_string(w, s))
#define key_name(w, key, s) (json_key_lit(w, key), json_name(w, s))
#define key_comm(w, key, comm) \
	(json_key_lit(w, key), json_string_len(w, comm, strnlen(comm, ST_COMM_LEN)))

/* Opens a line object with the fields every line has. */
static void line_begin(struct emitter *e, const char *type, __u64 boot_ns)
{
	char when[JSON_TIME_LEN];
	struct json_writer *w = &e->json;

	e->last_line = NULL;
	json_writer_reset(w);
	json_object_begin(w);
	json_key_lit(w, "type");
	json_name(w, type);
	json_key_lit(w, "seq");
	json_u64(w, ++e->seq);
	json_key_lit(w, "time");
	if (json_time_rfc3339(boot_ns + e->realtime_offset_ns, when, sizeof(when)))
		strcpy(when, "1970-01-01T00:00:00.000000000Z");
	json_string_plain(w, when, strlen(when));
	json_key_lit(w, "boot_ns");
	json_u64(w, boot_ns);
}

static void line_end(struct emitter *e)
{
	json_object_end(&e->json);
	if (json_finish_line(&e->json)) {
		log_error("cannot format line %llu: %s", (unsigned long long)e->seq,
			  strerror(-e->json.error));
		return;
	}
	out_append(e, e->json.buf, e->json.len);
	e->last_line = e->json.buf;
	e->last_line_len = e->json.len - 1;
}

/* Writes ns_pid, ns_tid, cgroup_id and cgroup from ids, each only when known. */
static void fields_container_ids(struct json_writer *w, const struct container_ids *ids)
{
	const char *name;

	if (ids->ns_pid)
		key_u64(w, "ns_pid", ids->ns_pid);
	if (ids->ns_tid)
		key_u64(w, "ns_tid", ids->ns_tid);
	if (!ids->cgroup_id)
		return;
	key_u64(w, "cgroup_id", ids->cgroup_id);
	name = cgroup_name(ids->cgroup_id);
	if (name)
		key_str(w, "cgroup", name);
}

/*
 * Writes ns_pid and ns_tid for a process in a deeper pid namespace than the
 * agent's, and the cgroup for a record that carries one. hdr may be NULL.
 */
static void fields_container(struct json_writer *w, __u32 pid, __u32 tid,
			     const struct st_record_header *hdr)
{
	struct container_ids ids;

	container_ids_of(pid, tid, hdr, &ids);
	fields_container_ids(w, &ids);
}

static void trigger_names(struct json_writer *w, __u32 mask)
{
	int t;

	json_array_begin(w);
	for (t = 0; t < ST_TRIG_COUNT; t++)
		if (mask & ST_TRIG_BIT(t))
			json_name(w, trigger_name(t));
	json_array_end(w);
}

/* The text forms of the start and join lines, next to the other text lines below. */
static void text_start(struct emitter *e, const struct options *opts, const pid_t *targets,
		       size_t target_count);
static void text_join(struct emitter *e, const struct st_join_record *rec);

void emit_start(struct emitter *e, const struct options *opts, const pid_t *targets,
		size_t target_count, pid_t agent_pid)
{
	struct json_writer *w = &e->json;
	size_t i;

	if (e->format == FORMAT_TEXT) {
		text_start(e, opts, targets, target_count);
		return;
	}
	line_begin(e, "start", e->started_ns ? e->started_ns : boot_now_ns());
	key_str(w, "version", SNAPTRIG_VERSION);
	key_u64(w, "schema_version", 1);
	key_u64(w, "agent_pid", agent_pid);
	key_name(w, "mode", opts->command ? "launch" : "attach");
	json_key_lit(w, "triggers");
	trigger_names(w, opts->triggers);
	json_key_lit(w, "targets");
	json_array_begin(w);
	for (i = 0; i < target_count; i++)
		json_u64(w, targets[i]);
	json_array_end(w);
	if (opts->command) {
		json_key_lit(w, "command");
		json_array_begin(w);
		for (i = 0; opts->command[i]; i++)
			json_string(w, opts->command[i]);
		json_array_end(w);
	}
	key_u64(w, "cooldown_ns", opts->cooldown_ns);
	key_u64(w, "snapshot_interval_ns", opts->interval_ns);
	key_u64(w, "idle_threshold_ns", opts->idle_threshold_ns);
	json_key_lit(w, "follow");
	json_bool(w, opts->follow);
	json_key_lit(w, "lazy_wakeup");
	json_bool(w, opts->lazy_wakeup);
	if (opts->cgroup.id)
		key_str(w, "cgroup", opts->cgroup.path);
	line_end(e);
}

void emit_join(struct emitter *e, const struct st_join_record *rec)
{
	struct json_writer *w = &e->json;

	if (e->format == FORMAT_TEXT) {
		text_join(e, rec);
		return;
	}
	line_begin(e, "join", rec->hdr.boot_ns);
	key_u64(w, "pid", rec->hdr.pid);
	key_u64(w, "tid", rec->hdr.tid);
	fields_container(w, rec->hdr.pid, rec->hdr.tid, &rec->hdr);
	key_comm(w, "comm", rec->hdr.comm);
	key_u64(w, "ppid", rec->ppid);
	line_end(e);
}

/* Text format: one aligned line per trigger, "#" lines for the rest. */

static void text_append(struct emitter *e, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void text_append(struct emitter *e, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = e->text_cap - *len;

		va_start(ap, fmt);
		n = vsnprintf(e->text + *len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			*len += n;
			return;
		}
		char *grown = realloc(e->text, e->text_cap * 2 + n);

		if (!grown)
			return;
		e->text = grown;
		e->text_cap = e->text_cap * 2 + n;
	}
}

/*
 * Copies a process-controlled string for the text format: bytes that are not
 * printable ASCII, and spaces, '=' and '\', become \xNN, so key=value pairs
 * split on spaces stay unambiguous.
 */
/*
 * Writes the len bytes at s to out for the text format, '\0' included, with
 * every byte outside printable ASCII, and space, '=' and '\\', as \xNN.
 */
static void text_escape(char *out, size_t out_len, const char *s, size_t len)
{
	size_t o = 0, i;

	for (i = 0; i < len && o + 5 < out_len; i++) {
		unsigned char ch = s[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == '\\' || ch == '=')
			o += snprintf(out + o, out_len - o, "\\x%02x", ch);
		else
			out[o++] = ch;
	}
	out[o] = '\0';
}

void text_safe(char *out, size_t out_len, const char *s, size_t len)
{
	text_escape(out, out_len, s, strnlen(s, len));
}

/*
 * Copies a comm or file name for a column of its own, where an empty string
 * would shift the fields after it. An empty one becomes \x00, the escaped
 * NUL that ends it, which no non-empty name can print as.
 */
static void text_column(char *out, size_t out_len, const char *s, size_t len)
{
	if (len && s[0])
		text_safe(out, out_len, s, len);
	else
		snprintf(out, out_len, "\\x00");
}

/*
 * Appends ns_pid, ns_tid and cgroup, the text form of fields_container(),
 * for a process in a deeper pid namespace or a record with a cgroup.
 */
static void text_container(struct emitter *e, size_t *len, __u32 pid, __u32 tid,
			   const struct st_record_header *hdr)
{
	char path[PATH_MAX * 4 + 1];
	struct container_ids ids;
	const char *name;

	container_ids_of(pid, tid, hdr, &ids);
	if (ids.ns_pid)
		text_append(e, len, " ns_pid=%u", ids.ns_pid);
	if (ids.ns_tid)
		text_append(e, len, " ns_tid=%u", ids.ns_tid);
	if (!ids.cgroup_id)
		return;
	name = cgroup_name(ids.cgroup_id);
	if (!name) {
		text_append(e, len, " cgroup_id=%llu", (unsigned long long)ids.cgroup_id);
		return;
	}
	text_safe(path, sizeof(path), name, strlen(name));
	text_append(e, len, " cgroup=%s", path);
}

/* Allocates the text line buffer before the first text line. */
static int text_reserve(struct emitter *e)
{
	if (e->text)
		return 0;
	e->text = malloc(512);
	if (!e->text)
		return -ENOMEM;
	e->text_cap = 512;
	return 0;
}

/*
 * Writes the "# snaptrig" header, which names the --cgroup subtree and the
 * members it had at start, or else the -p targets or COMMAND's pid, or the
 * -p targets that all exited before the attach.
 */
static void text_start(struct emitter *e, const struct options *opts, const pid_t *targets,
		       size_t target_count)
{
	char names[TRIGGER_MASK_FORMAT_LEN], path[PATH_MAX * 4 + 1];
	size_t len = 0, i;

	if (text_reserve(e))
		return;
	e->seq++;
	trigger_mask_format(opts->triggers, names, sizeof(names));
	text_append(e, &len, "# snaptrig %s tracing", SNAPTRIG_VERSION);
	if (opts->cgroup.id) {
		text_safe(path, sizeof(path), opts->cgroup.path, strlen(opts->cgroup.path));
		text_append(e, &len, " cgroup %s%s", path, target_count ? " with" : "");
	}
	if (target_count)
		text_append(e, &len, " pid%s", target_count > 1 ? "s" : "");
	for (i = 0; i < target_count; i++)
		text_append(e, &len, "%s%d", i ? "," : " ", targets[i]);
	/* every -p target exited while the programs loaded */
	if (!target_count && !opts->cgroup.id) {
		text_append(e, &len, " no process (pid%s", opts->pid_count > 1 ? "s" : "");
		for (i = 0; i < opts->pid_count; i++)
			text_append(e, &len, "%s%d", i ? "," : " ", opts->pids[i]);
		text_append(e, &len, " exited before the attach)");
	}
	text_append(e, &len, " for %s\n", names);
	out_append(e, e->text, len);
}

/* Writes the "# join" line of a process that entered the --cgroup subtree. */
static void text_join(struct emitter *e, const struct st_join_record *rec)
{
	char comm[ST_COMM_LEN * 4 + 1], when[JSON_TIME_LEN];
	size_t len = 0;

	if (text_reserve(e))
		return;
	e->seq++;
	json_time_rfc3339(rec->hdr.boot_ns + e->realtime_offset_ns, when, sizeof(when));
	text_column(comm, sizeof(comm), rec->hdr.comm, ST_COMM_LEN);
	/* the record's tid is its pid, so the line names the process once, as exec lines do */
	text_append(e, &len, "# %.15s join %u %s ppid=%u", when + 11, rec->hdr.pid, comm,
		    rec->ppid);
	text_container(e, &len, rec->hdr.pid, rec->hdr.tid, &rec->hdr);
	text_append(e, &len, "\n");
	out_append(e, e->text, len);
}

/*
 * Appends calls=NAME:N,... when a coalesced line counts more than one call,
 * because call= names only the most frequent one.
 */
static void text_calls(struct emitter *e, size_t *len, const struct line *line)
{
	const char *sep = " calls=";
	int kinds = 0;
	__u32 i;

	for (i = 0; i < ST_COUNTED_CALLS; i++)
		kinds += line->calls[i] != 0;
	if (kinds < 2)
		return;
	for (i = 0; i < ST_COUNTED_CALLS; i++) {
		if (!line->calls[i])
			continue;
		text_append(e, len, "%s%s:%llu", sep, call_name(i),
			    (unsigned long long)line->calls[i]);
		sep = ",";
	}
}

/* Appends binary= and symbol= of the --environ-probe that a first-environ line names. */
static void text_environ_probe(struct emitter *e, size_t *len, const struct environ_probe *probe)
{
	/* text_escape() writes up to 4 bytes for each input byte and stops 5 bytes before the end */
	size_t binary_size = strlen(probe->binary) * 4 + 5;
	size_t symbol_size = strlen(probe->symbol) * 4 + 5;
	char *binary = malloc(binary_size), *symbol = malloc(symbol_size);

	if (binary && symbol) {
		text_escape(binary, binary_size, probe->binary, strlen(probe->binary));
		text_escape(symbol, symbol_size, probe->symbol, strlen(probe->symbol));
		text_append(e, len, " binary=%s symbol=%s", binary, symbol);
	}
	free(binary);
	free(symbol);
}

static void text_detail(struct emitter *e, size_t *len, const struct line *line)
{
	const struct st_record_header *hdr = line->record;
	char buf[ST_PATH_LEN * 4 + 1];

	if (line->reconciled) {
		text_append(e, len, "reconciled=yes");
		return;
	}
	switch (line->trigger) {
	case ST_TRIG_FIRST_LISTEN: {
		const struct st_listen_record *rec = (const void *)hdr;
		char addr[INET6_ADDRSTRLEN] = "";

		if (rec->family == AF_INET || rec->family == AF_INET6) {
			inet_ntop(rec->family, rec->addr, addr, sizeof(addr));
			text_append(e, len, "fd=%d family=%s address=%s port=%u", rec->fd,
				    family_name(rec->family), addr, rec->port);
		} else {
			char path[ST_SUN_PATH_LEN];

			text_escape(buf, sizeof(buf), path, unix_socket_name(rec, path));
			text_append(e, len, "fd=%d family=%s path=%s", rec->fd,
				    family_name(rec->family), buf);
		}
		/* as in detail_listen(): a socket found at attach has no known backlog or call */
		if (!line->at_attach)
			text_append(e, len, " backlog=%d via=%s%s", rec->backlog, via_name(rec->via),
				    rec->fixed ? " fixed=true" : "");
		break;
	}
	case ST_TRIG_FIRST_STDIN: {
		const struct st_stdin_record *rec = (const void *)hdr;

		text_append(e, len, "fd=%d", rec->fd);
		if (!line->at_attach)
			text_append(e, len, " call=%s via=%s%s", call_name(rec->call),
				    via_name(rec->via), rec->fixed ? " fixed=true" : "");
		break;
	}
	case ST_TRIG_FIRST_SIGINT:
	case ST_TRIG_SIGINT:
	case ST_TRIG_SIGALRM:
	case ST_TRIG_SIGTSTP:
	case ST_TRIG_SIGSTOP: {
		const struct st_signal_record *rec = (const void *)hdr;

		text_append(e, len, "signal=%s code=%d thread=%s result=%s", signal_name(rec->sig),
			    rec->code, rec->thread ? "yes" : "no", signal_result_name(rec->result));
		if (rec->sender_pid != ST_NO_SENDER) {
			text_safe(buf, sizeof(buf), rec->sender_comm, ST_COMM_LEN);
			text_append(e, len, " sender=%u sender_tid=%u sender_comm=%s", rec->sender_pid,
				    rec->sender_tid, buf);
		}
		break;
	}
	case ST_TRIG_NON_DETERMINISTIC_CALL:
	case ST_TRIG_TRANSACTION:
		text_append(e, len, "call=%s count=%llu coalesced=%s", call_name(line->call),
			    (unsigned long long)line->count, line->coalesced ? "yes" : "no");
		text_calls(e, len, line);
		text_append(e, len, " source=%s", line->call == ST_CALL_MARKER ? "marker" : "syscall");
		/* as in JSON: only the line that opened the window has the record of its call path */
		if (line->record && line->record->kind == ST_REC_CALLS && line->call != ST_CALL_MARKER)
			text_append(e, len, " via=%s",
				    via_name(((const struct st_calls_record *)line->record)->via));
		break;
	case ST_TRIG_BOOTSTRAP: {
		const struct st_exec_record *rec = (const void *)hdr;

		text_safe(buf, sizeof(buf), rec->filename, ST_PATH_LEN);
		text_append(e, len, "filename=%s ppid=%u", buf, rec->ppid);
		/* the line's tid is the leader's, like its pid, so name another thread that called exec */
		if (rec->old_tid != rec->hdr.tid)
			text_append(e, len, " old_tid=%u", rec->old_tid);
		break;
	}
	case ST_TRIG_PERIODIC_INTERVAL:
		text_append(e, len, "number=%llu", (unsigned long long)line->number);
		break;
	case ST_TRIG_IDLE: {
		const struct st_idle_record *rec = (const void *)hdr;

		text_append(e, len, "threads=%u idle=%llums", rec->threads,
			    (unsigned long long)(idle_ns(rec) / 1000000));
		break;
	}
	case ST_TRIG_FIRST_ENVIRON: {
		const struct st_environ_record *rec = (const void *)hdr;

		text_append(e, len, "source=%s", environ_source_name(rec->source));
		/* as in JSON: a getenv line has name= even when the name is empty */
		if (rec->source == ST_ENVIRON_GETENV || rec->source == ST_ENVIRON_SECURE_GETENV) {
			text_safe(buf, sizeof(buf), rec->name, ST_ENV_NAME_LEN);
			text_append(e, len, " name=%s", buf);
		}
		if (rec->source == ST_ENVIRON_PROBE && rec->probe < e->environ_probe_count)
			text_environ_probe(e, len, &e->environ_probes[rec->probe]);
		break;
	}
	case ST_TRIG_EXPLICIT:
		text_append(e, len, "source=%s",
			    explicit_source_name(((const struct st_explicit_record *)hdr)->source));
		break;
	default:
		break;
	}
}

static void emit_text(struct emitter *e, const struct line *line)
{
	char comm[ST_COMM_LEN * 4 + 1], when[JSON_TIME_LEN];
	size_t len = 0;

	if (text_reserve(e))
		return;
	e->seq++;
	json_time_rfc3339(line->boot_ns + e->realtime_offset_ns, when, sizeof(when));
	text_column(comm, sizeof(comm), line->comm, ST_COMM_LEN);
	/* "2026-12-04T14:41:00.123456789Z" -> "14:41:00.123456" */
	if (line->type == LINE_TRIGGER) {
		text_append(e, &len, "%.15s  %-24s %u %u %s ", when + 11,
			    trigger_name(line->trigger), line->pid, line->tid, comm);
		text_detail(e, &len, line);
		if (e->show_held)
			text_append(e, &len, " held=%s", line->held ? "yes" : "no");
		if (line->at_attach)
			text_append(e, &len, " source=attach");
		if (line->since_attach)
			text_append(e, &len, " since=attach");
	} else if (line->type == LINE_EXEC) {
		const struct st_exec_record *rec = (const void *)line->record;

		text_column(comm, sizeof(comm), rec->filename, ST_PATH_LEN);
		text_append(e, &len, "# %.15s exec %u %s", when + 11, line->pid, comm);
		if (rec->old_tid != rec->hdr.tid)
			text_append(e, &len, " old_tid=%u", rec->old_tid);
	} else {
		const struct st_exit_record *rec = (const void *)line->record;
		int status = rec->exit_code;

		if ((status & 0x7f) == 0)
			text_append(e, &len, "# %.15s exit %u %s code=%d", when + 11, line->pid,
				    comm, (status >> 8) & 0xff);
		else
			text_append(e, &len, "# %.15s exit %u %s killed by %s", when + 11,
				    line->pid, comm, signal_name(status & 0x7f));
		if (status & 0x80)
			text_append(e, &len, " core_dumped=yes");
	}
	text_container(e, &len, line->pid, line->tid, line->record);
	text_append(e, &len, "\n");
	out_append_line(e, e->text, len, line_droppable(line));
}

static const char *coverage_reason_name(__u32 reason)
{
	switch (reason) {
	case ST_COVERAGE_UNDECODED:
		return "undecoded";
	case ST_COVERAGE_NO_HOOK:
		return "no-hook";
	case ST_COVERAGE_OFF:
		return "off";
	case ST_COVERAGE_LATE:
		return "late-hook";
	}
	return "user-space";
}

static __u32 coverage_triggers(const struct line *line)
{
	const struct st_coverage_record *rec = (const void *)line->record;

	if (line->coverage_triggers)
		return line->coverage_triggers;
	return rec->trigger < ST_TRIG_COUNT ? ST_TRIG_BIT(rec->trigger) : 0;
}

static void emit_coverage(struct emitter *e, const struct line *line)
{
	const struct st_coverage_record *rec = (const void *)line->record;
	struct json_writer *w = &e->json;
	__u32 triggers = coverage_triggers(line);
	int t;

	if (e->format == FORMAT_TEXT) {
		char comm[ST_COMM_LEN * 4 + 1], when[JSON_TIME_LEN];
		size_t len = 0;

		e->seq++;
		json_time_rfc3339(line->boot_ns + e->realtime_offset_ns, when, sizeof(when));
		text_column(comm, sizeof(comm), line->comm, ST_COMM_LEN);
		text_append(e, &len, "# %.15s coverage %u %s via=%s reason=%s blind=", when + 11,
			    line->pid, comm, via_name(rec->via), coverage_reason_name(rec->reason));
		for (t = 0; t < ST_TRIG_COUNT; t++)
			if (triggers & ST_TRIG_BIT(t))
				text_append(e, &len, "%s%s", trigger_name(t),
					    triggers >> (t + 1) ? "," : "");
		text_container(e, &len, line->pid, line->tid, line->record);
		text_append(e, &len, "\n");
		out_append(e, e->text, len);
		return;
	}
	line_begin(e, "coverage", line->boot_ns);
	key_u64(w, "pid", line->pid);
	key_u64(w, "tid", line->tid);
	key_comm(w, "comm", line->comm);
	fields_container(w, line->pid, line->tid, &rec->hdr);
	json_key_lit(w, "triggers");
	json_array_begin(w);
	for (t = 0; t < ST_TRIG_COUNT; t++)
		if (triggers & ST_TRIG_BIT(t))
			json_name(w, trigger_name(t));
	json_array_end(w);
	key_name(w, "via", via_name(rec->via));
	key_name(w, "reason", coverage_reason_name(rec->reason));
	if (rec->reason == ST_COVERAGE_UNDECODED)
		key_u64(w, "op", rec->op);
	if (line->coverage_error)
		key_str(w, "error", strerror(-line->coverage_error));
	line_end(e);
}

/*
 * Notes the line just added to out, if it was made from a kernel record, so
 * that its delay is counted when the write that carries it returns.
 */
static void note_delay(struct emitter *e, const struct line *line)
{
	unsigned int kind;

	if (!line->record || (line->record->flags & ST_RECORD_AGENT) || line->at_attach ||
	    line->reconciled || e->error || e->line_dropped)
		return;
	if (line->type == LINE_TRIGGER)
		kind = line->trigger;
	else
		kind = line->type == LINE_EXEC ? LATENCY_EXEC : LATENCY_EXIT;
	if (e->out_len == e->out_off) {
		/* too long to gather: out_append() wrote it already */
		add_delay(e, kind, line->boot_ns, boot_now_ns());
		return;
	}
	if (e->pending_count == e->pending_cap) {
		size_t cap = e->pending_cap ? e->pending_cap * 2 : 256;
		struct pending_delay *grown = realloc(e->pending, cap * sizeof(*grown));

		if (!grown)
			return;
		e->pending = grown;
		e->pending_cap = cap;
	}
	e->pending[e->pending_count++] = (struct pending_delay){
		.end = e->out_len,
		.boot_ns = line->boot_ns,
		.kind = kind,
	};
}

/*
 * Writes a trigger, exec or exit line straight into out, which line_json.c
 * lays out without the general writer. The line stays readable through
 * emitter_last_line() until the next line.
 */
static void emit_json_line(struct emitter *e, const struct line *line)
{
	struct line_json_context ctx = {
		.seq = ++e->seq,
		.realtime_offset_ns = e->realtime_offset_ns,
		.show_held = e->show_held,
		.environ_probes = e->environ_probes,
		.environ_probe_count = e->environ_probe_count,
		.tail = &e->line_tail,
	};
	size_t len;
	char *out;

	container_ids_of(line->pid, line->tid, line->record, &ctx.ids);
	if (ctx.ids.cgroup_id) {
		ctx.cgroup = cgroup_name(ctx.ids.cgroup_id);
		ctx.cgroup_len = ctx.cgroup ? strlen(ctx.cgroup) : 0;
	}

	e->last_line = NULL;
	out = out_reserve(e, line_json_max(line, &ctx), line_droppable(line));
	if (!out) {
		log_error("cannot format line %llu: %s", (unsigned long long)e->seq,
			  strerror(ENOMEM));
		return;
	}
	len = line_json_write(out, line, &ctx);
	if (!e->line_dropped)
		e->out_len += len;
	e->last_line = out;
	e->last_line_len = len - 1;
}

void emit_line(void *ctx, const struct line *line)
{
	struct emitter *e = ctx;

	if (line->type == LINE_COVERAGE) {
		emit_coverage(e, line);
		return;
	}
	if (e->format == FORMAT_TEXT)
		emit_text(e, line);
	else
		emit_json_line(e, line);
	note_delay(e, line);
}

void emit_snapshot(struct emitter *e, const struct snapshot_report *r)
{
	struct json_writer *w = &e->json;
	size_t i;

	if (e->format == FORMAT_TEXT) {
		char when[JSON_TIME_LEN], held[48] = " held=no", ended_by[32] = "";

		/* held= is yes or no as on trigger lines, and the duration has its own key */
		if (r->held)
			snprintf(held, sizeof(held), " held=yes held_ms=%llu",
				 (unsigned long long)(r->held_ns / 1000000));
		if (r->exit_code >= 0)
			snprintf(ended_by, sizeof(ended_by), " exit=%d", r->exit_code);
		else if (r->term_signal)
			snprintf(ended_by, sizeof(ended_by), " signal=%d", r->term_signal);
		out_printf(e, "# %.15s snapshot %u %s%s%s%s%s%s\n", time_of_day(e, when),
			   r->pid, r->status, r->reason ? " " : "", r->reason ? r->reason : "",
			   held, ended_by, r->continued > 0 ? " continued=yes" : "");
		e->seq++;
		return;
	}
	line_begin(e, "snapshot", boot_now_ns());
	key_u64(w, "pid", r->pid);
	key_u64(w, "tid", r->tid);
	if (r->ids)
		fields_container_ids(w, r->ids);
	else
		fields_container(w, r->pid, r->tid, NULL);
	key_str(w, "status", r->status);
	if (r->reason)
		key_str(w, "reason", r->reason);
	json_key_lit(w, "triggers");
	json_array_begin(w);
	for (i = 0; i < r->served_count; i++) {
		json_object_begin(w);
		key_name(w, "trigger", trigger_name(r->served[i].trigger));
		key_u64(w, "seq", r->served[i].seq);
		json_object_end(w);
	}
	json_array_end(w);
	json_key_lit(w, "exit_code");
	if (r->exit_code >= 0)
		json_i64(w, r->exit_code);
	else
		json_null(w);
	if (r->term_signal) {
		key_u64(w, "signal", r->term_signal);
		key_name(w, "signal_name", signal_name(r->term_signal));
	}
	key_u64(w, "duration_ns", r->duration_ns);
	json_key_lit(w, "held");
	json_bool(w, r->held);
	key_str(w, "hold", r->hold);
	key_u64(w, "held_ns", r->held_ns);
	json_key_lit(w, "resumed");
	if (r->resumed >= 0)
		json_bool(w, r->resumed);
	else
		json_null(w);
	json_key_lit(w, "continued");
	if (r->continued >= 0)
		json_bool(w, r->continued);
	else
		json_null(w);
	json_key_lit(w, "ended");
	json_bool(w, r->ended);
	json_key_lit(w, "stderr");
	if (r->output)
		json_string_len(w, r->output, r->output_len);
	else
		json_string(w, "");
	line_end(e);
}

static void kind_counts(struct json_writer *w, const __u64 *by_kind)
{
	__u32 kind;

	json_object_begin(w);
	for (kind = 1; kind < ST_REC_KIND_COUNT; kind++) {
		json_key(w, record_kind_name(kind));
		json_u64(w, by_kind[kind]);
	}
	json_object_end(w);
}

void emit_lost(struct emitter *e, __u64 total, const __u64 *delta_by_kind)
{
	if (e->format == FORMAT_TEXT) {
		char when[JSON_TIME_LEN];

		out_printf(e, "# %.15s lost %llu records in total; raise --ring-buffer-size\n",
			   time_of_day(e, when), (unsigned long long)total);
		e->seq++;
		return;
	}
	line_begin(e, "lost", boot_now_ns());
	key_u64(&e->json, "total", total);
	json_key_lit(&e->json, "by_kind");
	kind_counts(&e->json, delta_by_kind);
	line_end(e);
}

void emit_stats(struct emitter *e, const struct classifier *c, __u64 lost_total,
		const __u64 *lost_by_kind)
{
	struct json_writer *w = &e->json;
	int t;

	/* the lines written by now have their delays in it */
	emitter_flush(e);
	/* the last line is kept whatever the backlog, and emitter_close() waits for it */
	e->keep_lines = 1;
	if (e->format == FORMAT_TEXT) {
		char extra[96] = "";
		unsigned int kind;
		int len = 0;

		for (kind = 0; kind < LATENCY_KINDS; kind++) {
			const struct latency_hist *h = e->latency.kinds[kind];

			if (!h || !h->count)
				continue;
			out_printf(e, "# latency %s lines=%llu p50=%.1fus p99=%.1fus max=%.1fus\n",
				   latency_kind_name(kind), (unsigned long long)h->count,
				   latency_percentile(h, 50) / 1e3, latency_percentile(h, 99) / 1e3,
				   h->max_ns / 1e3);
		}
		/* the optional counts join the last line before it goes out whole */
		if (lost_by_kind[ST_LOST_UNTRACED])
			len = snprintf(extra, sizeof(extra), ", %llu processes untraced",
				       (unsigned long long)lost_by_kind[ST_LOST_UNTRACED]);
		if (e->dropped)
			snprintf(extra + len, sizeof(extra) - (size_t)len, ", %llu lines dropped",
				 (unsigned long long)e->dropped);
		out_printf(e, "# %llu records, %llu lost%s\n", (unsigned long long)c->records,
			   (unsigned long long)lost_total, extra);
		e->seq++;
		return;
	}
	line_begin(e, "stats", boot_now_ns());
	key_u64(w, "records", c->records);
	json_key_lit(w, "triggers");
	json_object_begin(w);
	for (t = 0; t < ST_TRIG_COUNT; t++)
		if (c->triggers & ST_TRIG_BIT(t)) {
			json_key(w, trigger_name(t));
			json_u64(w, c->trigger_lines[t]);
		}
	json_object_end(w);
	key_u64(w, "lost", lost_total);
	json_key_lit(w, "lost_by_kind");
	kind_counts(w, lost_by_kind);
	key_u64(w, "untraced", lost_by_kind[ST_LOST_UNTRACED]);
	key_u64(w, "dropped_lines", e->dropped);
	json_key_lit(w, "latency");
	latency_write_json(&e->latency, w);
	line_end(e);
}
