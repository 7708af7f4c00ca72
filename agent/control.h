/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Operator requests over a unix stream socket (--control PATH).
 *
 * Protocol: each request is one JSON object on one line, at most
 * CONTROL_LINE_MAX bytes before the '\n'. Members:
 *   "request"  "snapshot", "stats" or "list" (required)
 *   "pid"      the traced process to snapshot (snapshot only, required there)
 *   "id"       optional string (at most CONTROL_ID_MAX bytes) or integer,
 *              echoed back in the reply
 * No other member, no duplicate member and nothing after the object is
 * accepted. Each line gets exactly one reply line, in order, whose first
 * member is "ok":
 *   {"ok":true,"id":7,"request":"snapshot","pid":1234,"seq":12}
 *       seq: the output line of the explicit trigger (source "operator")
 *   {"ok":true,"request":"list","pids":[1234,1240]}
 *   {"ok":true,"request":"stats","traced":2,"records":40,"triggers":{...},"lost":0}
 *   {"ok":false,"id":7,"error":"pid 99 is not traced"}
 * A rejected request changes nothing, and its reply echoes the id when the
 * line begins with a JSON object that has a valid id. A line longer than
 * CONTROL_LINE_MAX is rejected as a whole. Bytes after the last '\n' when a
 * client closes its end are no request and get no reply.
 *
 * A client may send many requests before it reads a reply. When 64 KiB of its
 * replies wait unsent, its requests are not read until it reads replies, and
 * a client that reads none for CONTROL_STALL_S seconds is disconnected.
 */
#ifndef SNAPTRIG_CONTROL_H
#define SNAPTRIG_CONTROL_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#define CONTROL_LINE_MAX 4096
#define CONTROL_ID_MAX 128
#define CONTROL_ERROR_LEN 160
/* Seconds a client may read none of its unsent replies before it is disconnected. */
#define CONTROL_STALL_S 10

enum control_request_kind {
	CONTROL_REQ_NONE,
	CONTROL_REQ_SNAPSHOT,
	CONTROL_REQ_STATS,
	CONTROL_REQ_LIST,
};

enum control_id_kind {
	CONTROL_ID_ABSENT,
	CONTROL_ID_STRING,
	CONTROL_ID_INTEGER,
};

struct control_request {
	__s64 id_number;		/* CONTROL_ID_INTEGER */
	size_t id_len;			/* CONTROL_ID_STRING: bytes in id, which may hold NULs */
	enum control_request_kind kind;
	enum control_id_kind id_kind;
	pid_t pid;			/* 0 when absent */
	char id[CONTROL_ID_MAX + 1];
};

/*
 * Parses one request line of len bytes, without its '\n'; line need not be
 * NUL-terminated. Returns 0, or -EINVAL with a one-line message in err about
 * the first error in the line. On error, req->id is still set when the line
 * begins with a JSON object that has a valid id, so that the reply can echo
 * it. Pure: no I/O, no allocation.
 */
int control_parse_request(const char *line, size_t len, struct control_request *req,
			  char *err, size_t err_len);

struct session;
struct control;

/*
 * Creates the listening socket at path with mode 0600. An existing socket at
 * path is replaced only when nothing listens on it; any other file is left
 * alone and is an error. Returns 0 or -errno after a message.
 */
int control_open(struct control **out, const char *path);
/* Adds the listening socket to epoll_fd; clients are added as they connect. */
int control_watch(struct control *ctl, int epoll_fd);
/*
 * Handles an epoll event on fd when fd is the control socket or one of its
 * clients, and returns 1; returns 0 for any other fd.
 */
int control_handle_event(struct control *ctl, struct session *s, int fd, __u32 events);
/*
 * Disconnects each client that has read none of its unsent replies for
 * CONTROL_STALL_S seconds, at now_ns of the boot clock. Accepts NULL.
 */
void control_tick(struct control *ctl, __u64 now_ns);
/* Closes every client and the socket, and removes the socket file. Accepts NULL. */
void control_close(struct control *ctl);

/*
 * The client of --request-snapshot: sends a snapshot request for pid to the
 * socket at path and prints the reply line on standard output. Returns 0 when
 * the reply is ok, 1 when it is an error, or -errno after a message when no
 * reply came.
 */
int control_request_snapshot(const char *path, pid_t pid);

#endif
