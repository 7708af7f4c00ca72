/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The JSON form of trigger, exec and exit lines, written straight into a
 * buffer that has room for line_json_max() bytes. These are the lines a
 * flood of events produces, so they skip the general writer of json.h.
 * Also the record fields that both output formats show.
 */
#ifndef SNAPTRIG_LINE_JSON_H
#define SNAPTRIG_LINE_JSON_H

#include <stddef.h>
#include "classify.h"
#include "container.h"
#include "options.h"

/* Maximum length of the part of a line that struct line_json_tail keeps. */
#define LINE_JSON_TAIL_MAX 512

/*
 * The fields that the part after boot_ns of a call line is made of.
 * line_json_write() clears it before filling it in, padding included, so
 * that memcmp() compares two keys.
 */
struct line_json_tail_key {
	__u64 count;
	__u64 calls[ST_COUNTED_CALLS];
	struct container_ids ids;
	enum st_trigger trigger;
	__u32 pid;
	__u32 tid;
	__u32 call;
	__u32 via;		/* when has_via: st_calls_record.via */
	int has_via;		/* the line shows "via" */
	int coalesced;
	int held;		/* -1 when the line shows no "held" */
	int at_attach;
	int since_attach;
	char comm[ST_COMM_LEN];
};

/*
 * The part after boot_ns of the last call line written, and its key. In a
 * flood of calls from one thread, that part is the same in every line, so
 * line_json_write() copies it when the keys match.
 */
struct line_json_tail {
	struct line_json_tail_key key;
	size_t len;		/* of text; 0 when nothing is kept */
	char text[LINE_JSON_TAIL_MAX];
};

/* Data that a trigger, exec or exit line shows besides its struct line. */
struct line_json_context {
	__u64 seq;			/* of this line */
	__s64 realtime_offset_ns;	/* CLOCK_REALTIME minus CLOCK_BOOTTIME */
	struct container_ids ids;	/* the pid namespace and cgroup fields */
	const char *cgroup;		/* path of ids.cgroup_id, or NULL when unknown */
	size_t cgroup_len;		/* strlen(cgroup) */
	int show_held;			/* trigger lines carry "held" */
	const struct environ_probe *environ_probes; /* names of st_environ_record.probe */
	size_t environ_probe_count;
	struct line_json_tail *tail;	/* kept between lines, or NULL to format every part */
};

/*
 * Maximum length of the line that line_json_write() makes of line, newline
 * included. line->type must be LINE_TRIGGER, LINE_EXEC or LINE_EXIT.
 */
size_t line_json_max(const struct line *line, const struct line_json_context *ctx);

/*
 * Writes line as one JSON object and a newline at out, which has room for
 * line_json_max() bytes, and returns its length. Nothing is NUL-terminated.
 */
size_t line_json_write(char *out, const struct line *line, const struct line_json_context *ctx);

/* Name of a socket address family, as listen details show it. */
const char *family_name(__u16 family);
const char *environ_source_name(__u32 source);
const char *explicit_source_name(__u32 source);

/*
 * Writes the name of the unix socket of rec to out, which has room for
 * ST_SUN_PATH_LEN bytes: a path name up to its first '\0', or '@' and every
 * byte of an abstract name after its leading '\0'. Returns its length.
 */
size_t unix_socket_name(const struct st_listen_record *rec, char *out);

/* How long the process had been idle when the kernel wrote the record. */
__u64 idle_ns(const struct st_idle_record *rec);

#endif
