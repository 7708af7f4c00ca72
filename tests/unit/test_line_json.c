// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of agent/line_json.c. The reference below builds each trigger,
 * exec and exit line with the general writer of json.h, as emit.c did before
 * line_json.c existed. Every test compares the two byte for byte, over
 * records, strings and line fields chosen to reach each branch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "emit.h"
#include "json.h"
#include "line_json.h"
#include "names.h"
#include "triggers.h"

/* The reference: the general writer, member by member. */

#define key_u64(w, key, v) (json_key_lit(w, key), json_u64(w, v))
#define key_i64(w, key, v) (json_key_lit(w, key), json_i64(w, v))
#define key_str(w, key, s) (json_key_lit(w, key), json_string(w, s))
#define key_comm(w, key, comm) \
	(json_key_lit(w, key), json_string_len(w, comm, strnlen(comm, ST_COMM_LEN)))

#define key_name(w, key, s) (json_key_lit(w, key), json_name(w, s))

static void ref_container(struct json_writer *w, const struct line_json_context *ctx)
{
	if (ctx->ids.ns_pid)
		key_u64(w, "ns_pid", ctx->ids.ns_pid);
	if (ctx->ids.ns_tid)
		key_u64(w, "ns_tid", ctx->ids.ns_tid);
	if (!ctx->ids.cgroup_id)
		return;
	key_u64(w, "cgroup_id", ctx->ids.cgroup_id);
	if (ctx->cgroup)
		key_str(w, "cgroup", ctx->cgroup);
}

static void ref_listen(struct json_writer *w, const struct st_listen_record *rec, int at_attach)
{
	char addr[INET6_ADDRSTRLEN] = "";

	key_i64(w, "fd", rec->fd);
	if (!at_attach) {
		key_i64(w, "backlog", rec->backlog);
		key_name(w, "via", via_name(rec->via));
		if (rec->fixed) {
			json_key_lit(w, "fixed");
			json_bool(w, true);
		}
	}
	key_name(w, "family", family_name(rec->family));
	if (rec->family == AF_INET || rec->family == AF_INET6) {
		inet_ntop(rec->family, rec->addr, addr, sizeof(addr));
		key_str(w, "address", addr);
		key_u64(w, "port", rec->port);
	} else if (rec->family == AF_UNIX) {
		char path[ST_SUN_PATH_LEN];
		size_t len = unix_socket_name(rec, path);

		json_key_lit(w, "path");
		json_string_len(w, path, len);
	}
}

static void ref_signal(struct json_writer *w, const struct st_signal_record *rec)
{
	key_u64(w, "signal", rec->sig);
	key_name(w, "name", signal_name(rec->sig));
	key_i64(w, "code", rec->code);
	json_key_lit(w, "thread");
	json_bool(w, rec->thread);
	key_name(w, "result", signal_result_name(rec->result));
	if (rec->sender_pid != ST_NO_SENDER) {
		json_key_lit(w, "sender");
		json_object_begin(w);
		key_u64(w, "pid", rec->sender_pid);
		key_u64(w, "tid", rec->sender_tid);
		key_comm(w, "comm", rec->sender_comm);
		json_object_end(w);
	}
}

static void ref_calls(struct json_writer *w, const struct line *line)
{
	__u32 i;

	key_name(w, "call", call_name(line->call));
	key_u64(w, "count", line->count);
	json_key_lit(w, "calls");
	json_object_begin(w);
	for (i = 0; i < ST_COUNTED_CALLS; i++)
		if (line->calls[i]) {
			json_key(w, call_name(i));
			json_u64(w, line->calls[i]);
		}
	json_object_end(w);
	json_key_lit(w, "coalesced");
	json_bool(w, line->coalesced);
	key_name(w, "source", line->call == ST_CALL_MARKER ? "marker" : "syscall");
	if (line->record && line->record->kind == ST_REC_CALLS && line->call != ST_CALL_MARKER)
		key_name(w, "via", via_name(((const struct st_calls_record *)line->record)->via));
}

static void ref_environ(struct json_writer *w, const struct st_environ_record *rec,
			const struct line_json_context *ctx)
{
	key_name(w, "source", environ_source_name(rec->source));
	if (rec->source == ST_ENVIRON_GETENV || rec->source == ST_ENVIRON_SECURE_GETENV) {
		json_key_lit(w, "name");
		json_string_len(w, rec->name, strnlen(rec->name, ST_ENV_NAME_LEN));
	} else if (rec->source == ST_ENVIRON_PROBE && rec->probe < ctx->environ_probe_count) {
		key_str(w, "binary", ctx->environ_probes[rec->probe].binary);
		key_str(w, "symbol", ctx->environ_probes[rec->probe].symbol);
	}
}

static void ref_exec(struct json_writer *w, const struct st_exec_record *rec)
{
	json_key_lit(w, "filename");
	json_string_len(w, rec->filename, strnlen(rec->filename, ST_PATH_LEN));
	key_u64(w, "ppid", rec->ppid);
	key_u64(w, "old_tid", rec->old_tid);
}

static void ref_detail(struct json_writer *w, const struct line *line,
		       const struct line_json_context *ctx)
{
	const struct st_record_header *hdr = line->record;

	json_key_lit(w, "detail");
	json_object_begin(w);
	if (line->reconciled) {
		json_key_lit(w, "reconciled");
		json_bool(w, true);
		json_object_end(w);
		return;
	}
	switch (line->trigger) {
	case ST_TRIG_FIRST_LISTEN:
		ref_listen(w, (const void *)hdr, line->at_attach);
		break;
	case ST_TRIG_FIRST_STDIN: {
		const struct st_stdin_record *rec = (const void *)hdr;

		key_i64(w, "fd", rec->fd);
		if (line->at_attach)
			break;
		key_name(w, "call", call_name(rec->call));
		key_name(w, "via", via_name(rec->via));
		if (rec->fixed) {
			json_key_lit(w, "fixed");
			json_bool(w, true);
		}
		break;
	}
	case ST_TRIG_FIRST_SIGINT:
	case ST_TRIG_SIGINT:
	case ST_TRIG_SIGALRM:
	case ST_TRIG_SIGTSTP:
	case ST_TRIG_SIGSTOP:
		ref_signal(w, (const void *)hdr);
		break;
	case ST_TRIG_NON_DETERMINISTIC_CALL:
	case ST_TRIG_TRANSACTION:
		ref_calls(w, line);
		break;
	case ST_TRIG_BOOTSTRAP:
		ref_exec(w, (const void *)hdr);
		break;
	case ST_TRIG_PERIODIC_INTERVAL:
		key_u64(w, "interval_ns", line->interval_ns);
		key_u64(w, "number", line->number);
		break;
	case ST_TRIG_IDLE: {
		const struct st_idle_record *rec = (const void *)hdr;

		key_u64(w, "threads", rec->threads);
		key_u64(w, "idle_ns", idle_ns(rec));
		break;
	}
	case ST_TRIG_FIRST_ENVIRON:
		ref_environ(w, (const void *)hdr, ctx);
		break;
	case ST_TRIG_EXPLICIT:
		key_name(w, "source",
			 explicit_source_name(((const struct st_explicit_record *)hdr)->source));
		break;
	default:
		break;
	}
	json_object_end(w);
}

static void ref_exit(struct json_writer *w, const struct st_exit_record *rec)
{
	int status = rec->exit_code;

	if ((status & 0x7f) == 0) {
		key_name(w, "status", "exited");
		key_i64(w, "exit_code", (status >> 8) & 0xff);
	} else {
		key_name(w, "status", "killed");
		key_i64(w, "signal", status & 0x7f);
		key_name(w, "signal_name", signal_name(status & 0x7f));
	}
	json_key_lit(w, "core_dumped");
	json_bool(w, !!(status & 0x80));
}

/* Builds the line in w, newline included, as the general writer makes it. */
static void ref_line(struct json_writer *w, const struct line *line,
		     const struct line_json_context *ctx)
{
	char when[JSON_TIME_LEN];
	const char *type = line->type == LINE_TRIGGER ? "trigger" :
			   line->type == LINE_EXEC ? "exec" : "exit";

	json_writer_reset(w);
	json_object_begin(w);
	key_name(w, "type", type);
	key_u64(w, "seq", ctx->seq);
	json_key_lit(w, "time");
	if (json_time_rfc3339(line->boot_ns + ctx->realtime_offset_ns, when, sizeof(when)))
		strcpy(when, "1970-01-01T00:00:00.000000000Z");
	json_string_plain(w, when, strlen(when));
	key_u64(w, "boot_ns", line->boot_ns);
	if (line->type == LINE_TRIGGER)
		key_name(w, "trigger", trigger_name(line->trigger));
	key_u64(w, "pid", line->pid);
	key_u64(w, "tid", line->tid);
	ref_container(w, ctx);
	key_comm(w, "comm", line->comm);
	if (line->type == LINE_TRIGGER && ctx->show_held) {
		json_key_lit(w, "held");
		json_bool(w, line->held);
	}
	if (line->at_attach)
		key_name(w, "source", "attach");
	if (line->since_attach)
		key_name(w, "since", "attach");
	if (line->type == LINE_TRIGGER)
		ref_detail(w, line, ctx);
	else if (line->type == LINE_EXEC)
		ref_exec(w, (const void *)line->record);
	else
		ref_exit(w, (const void *)line->record);
	json_object_end(w);
	assert_int_equal(json_finish_line(w), 0);
}

/* Comparing the two. */

/* Bytes past line_json_max() that must stay untouched. */
#define GUARD_LEN 64
#define GUARD_BYTE 0xa5

/* Builds line both ways and fails unless the bytes are the same. */
static void check_line_once(const struct line *line, const struct line_json_context *ctx)
{
	struct json_writer w;
	size_t max = line_json_max(line, ctx), len, i;
	char *fast = malloc(max + GUARD_LEN);

	assert_non_null(fast);
	memset(fast, GUARD_BYTE, max + GUARD_LEN);
	len = line_json_write(fast, line, ctx);
	assert_true(len <= max);
	for (i = max; i < max + GUARD_LEN; i++)
		assert_int_equal((unsigned char)fast[i], GUARD_BYTE);

	json_writer_init(&w);
	ref_line(&w, line, ctx);
	if (len != w.len || memcmp(fast, w.buf, len) != 0)
		print_error("general writer: %.*sline_json:      %.*s", (int)w.len, w.buf,
			    (int)len, fast);
	assert_int_equal(len, w.len);
	assert_memory_equal(fast, w.buf, len);
	json_writer_free(&w);
	free(fast);
}

/*
 * The tail kept from one check_line() to the next, so that every line is
 * also written after the kept tail of another line.
 */
static struct line_json_tail shared_tail;

/*
 * Checks line without a kept tail, then twice with shared_tail: after the
 * previous line's tail, and after its own.
 */
static void check_line(const struct line *line, const struct line_json_context *ctx)
{
	struct line_json_context with_tail = *ctx;

	check_line_once(line, ctx);
	with_tail.tail = &shared_tail;
	check_line_once(line, &with_tail);
	with_tail.seq++;
	check_line_once(line, &with_tail);
}

/* Process-controlled strings: plain, escapes, valid and invalid UTF-8, no NUL at all. */
static const char *const comms[] = {
	"bench-loop",
	"",
	"a\"b\\c\x01\x1f\x7f",
	"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	"\xff\xc0\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82",
	"0123456789abcdef",
	"\n\t\r\b\f",
};

static const struct environ_probe probes[] = {
	{ .binary = "/usr/bin/app", .symbol = "get_config" },
	{ .binary = "/opt/\"odd\"\\path\x02\xc3", .symbol = "sym\xe2\x82\xac" },
	{ .binary = NULL, .symbol = NULL },
};

/* The fields of a line that do not come from its record. */
struct line_variant {
	__u64 seq;
	__u64 boot_ns;
	__s64 realtime_offset_ns;
	__u32 pid;
	__u32 tid;
	int show_held;
	int held;
	int at_attach;
	int since_attach;
	struct container_ids ids;
	const char *cgroup;
};

static const struct line_variant variants[] = {
	{ 1, 1000, 1700000000000000000LL, 100, 100, 0, 0, 0, 0, { 0, 0, 0 }, NULL },
	{ 42, 16948471153862ULL, 1764898722000000000LL, 4242, 4243, 1, 1, 0, 0,
	  { 0, 7, 8 }, NULL },
	{ 43, 16948471153862ULL, 1764898722000000000LL, 1, 1, 1, 0, 1, 0, { 0, 1, 0 }, NULL },
	{ 44, 5, -5, UINT32_MAX, UINT32_MAX, 0, 1, 0, 1, { 12345, 0, 0 }, NULL },
	{ 45, 999999999, 0, 2, 3, 1, 1, 1, 1, { 77, 3, 4 }, "/" },
	{ 46, 1, 0, 2, 3, 0, 0, 0, 1, { 88, 0, 0 }, "/system.slice/docker-1234.scope" },
	{ 47, 1, 0, 2, 3, 0, 0, 1, 0, { UINT64_MAX, 0, UINT32_MAX }, "/a\"b\\c/\x01\x7f/\xc3\xa9/\xff" },
	/* the largest numbers, and the latest time: year 2554 */
	{ UINT64_MAX, UINT64_MAX, 0, 0, 0, 1, 1, 1, 1, { UINT64_MAX, UINT32_MAX, 1 }, NULL },
	{ 48, UINT64_MAX, INT64_MIN, 9, 9, 0, 0, 0, 0, { 0, 0, 0 }, NULL },
};

/* Checks base with every variant and comm, and with and without environ probes. */
static void check_variants(const struct line *base)
{
	size_t v, c;

	for (v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		const struct line_variant *var = &variants[v];

		for (c = 0; c < sizeof(comms) / sizeof(comms[0]); c++) {
			struct line_json_context ctx = {
				.seq = var->seq,
				.realtime_offset_ns = var->realtime_offset_ns,
				.ids = var->ids,
				.cgroup = var->cgroup,
				.cgroup_len = var->cgroup ? strlen(var->cgroup) : 0,
				.show_held = var->show_held,
				.environ_probes = c % 2 ? probes : NULL,
				.environ_probe_count = c % 2 ? sizeof(probes) / sizeof(probes[0]) : 0,
			};
			struct line line = *base;

			line.boot_ns = var->boot_ns;
			line.pid = var->pid;
			line.tid = var->tid;
			line.held = var->held;
			line.at_attach = var->at_attach;
			line.since_attach = var->since_attach;
			/* comm may fill all 16 bytes without a NUL, as a record's can */
			memset(line.comm, 0, sizeof(line.comm));
			memcpy(line.comm, comms[c], strnlen(comms[c], ST_COMM_LEN));
			check_line(&line, &ctx);
		}
	}
}

static void trigger_line(struct line *line, enum st_trigger t, const void *record)
{
	memset(line, 0, sizeof(*line));
	line->type = LINE_TRIGGER;
	line->trigger = t;
	line->record = record;
}

static void fill_header(struct st_record_header *hdr, __u32 kind)
{
	hdr->kind = kind;
	hdr->pid = 100;
	hdr->tid = 101;
	hdr->boot_ns = 1000000;
}

/* The tests: one per kind of line. */

static void calls_lines_match(void **state)
{
	static const __u32 calls_sets[][3] = {
		{ ST_CALL_GETRANDOM, ST_CALL_COUNT, ST_CALL_COUNT },
		{ ST_CALL_CLOCK_GETTIME, ST_CALL_OPEN_URANDOM, ST_CALL_TIME },
		{ ST_CALL_FSYNC, ST_CALL_MARKER, ST_CALL_SYNC },
		{ ST_CALL_MARKER, ST_CALL_COUNT, ST_CALL_COUNT },
	};
	struct st_calls_record rec = { 0 };
	struct st_exec_record other = { 0 };
	struct line line;
	size_t s, i;
	int opened, coalesced;
	__u32 via;

	fill_header(&rec.hdr, ST_REC_CALLS);
	fill_header(&other.hdr, ST_REC_EXEC);
	for (s = 0; s < sizeof(calls_sets) / sizeof(calls_sets[0]); s++) {
		for (opened = 0; opened < 3; opened++) {
			for (coalesced = 0; coalesced < 2; coalesced++) {
				for (via = 0; via <= ST_VIA_COUNT; via += 2) {
					const void *record = opened == 0 ? NULL :
							     opened == 1 ? (void *)&rec : (void *)&other;

					rec.via = via;
					trigger_line(&line, s < 2 ? ST_TRIG_NON_DETERMINISTIC_CALL :
							  ST_TRIG_TRANSACTION, record);
					line.call = calls_sets[s][0];
					line.coalesced = coalesced;
					for (i = 0; i < 3; i++)
						if (calls_sets[s][i] < ST_COUNTED_CALLS) {
							line.calls[calls_sets[s][i]] += i * 1000 + 1;
							line.count += i * 1000 + 1;
						}
					check_variants(&line);
				}
			}
		}
	}

	/* no call counted, a call without a name, and every call at its maximum */
	trigger_line(&line, ST_TRIG_NON_DETERMINISTIC_CALL, NULL);
	check_variants(&line);
	line.call = ST_CALL_COUNT + 5;
	check_variants(&line);
	line.call = ST_CALL_OPEN_URANDOM;
	line.count = UINT64_MAX;
	line.coalesced = 1;
	for (i = 0; i < ST_COUNTED_CALLS; i++)
		line.calls[i] = UINT64_MAX;
	check_variants(&line);
	line.record = &rec.hdr;
	check_variants(&line);
}

static void listen_lines_match(void **state)
{
	static const __u8 addr6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const __u8 addr4[16] = { 127, 0, 0, 1 };
	static const char abstract[] = "\0sock\0with\"nul\\\x01\xc3\xa9";
	struct st_listen_record rec = { 0 };
	struct line line;
	int at_attach;

	fill_header(&rec.hdr, ST_REC_LISTEN);
	for (at_attach = 0; at_attach < 2; at_attach++) {
		trigger_line(&line, ST_TRIG_FIRST_LISTEN, &rec);

		rec.family = AF_INET;
		memcpy(rec.addr, addr4, sizeof(addr4));
		rec.fd = 3;
		rec.backlog = 4096;
		rec.port = 8080;
		rec.via = ST_VIA_SYSCALL;
		check_variants(&line);
		/* an io_uring request that named a registered file */
		rec.via = ST_VIA_IO_URING;
		rec.fixed = 1;
		check_variants(&line);
		rec.fixed = 0;

		rec.family = AF_INET6;
		memcpy(rec.addr, addr6, sizeof(addr6));
		rec.fd = -1;
		rec.backlog = -2147483647 - 1;
		rec.port = 65535;
		rec.via = ST_VIA_COUNT + 1;
		check_variants(&line);

		rec.family = AF_UNIX;
		rec.via = ST_VIA_IO_URING;
		strcpy(rec.sun_path, "/run/app.sock");
		rec.sun_path_len = 14;
		check_variants(&line);
		memcpy(rec.sun_path, abstract, sizeof(abstract));
		rec.sun_path_len = sizeof(abstract) - 1;
		check_variants(&line);
		memset(rec.sun_path, 0xff, sizeof(rec.sun_path));
		rec.sun_path_len = UINT32_MAX;
		check_variants(&line);
		rec.sun_path_len = 0;
		check_variants(&line);

		rec.family = AF_NETLINK;
		check_variants(&line);
		memset(&rec, 0, sizeof(rec));
		fill_header(&rec.hdr, ST_REC_LISTEN);
	}
}

static void stdin_lines_match(void **state)
{
	struct st_stdin_record rec = { 0 };
	struct line line;

	fill_header(&rec.hdr, ST_REC_STDIN);
	trigger_line(&line, ST_TRIG_FIRST_STDIN, &rec);
	check_variants(&line);
	rec.fd = 63;
	rec.call = ST_CALL_RECVMMSG;
	rec.via = ST_VIA_IO_URING;
	rec.fixed = 1;
	check_variants(&line);
	rec.fd = -7;
	rec.call = ST_CALL_COUNT;
	rec.via = 99;
	rec.fixed = 2;
	check_variants(&line);
}

static void signal_lines_match(void **state)
{
	static const enum st_trigger triggers[] = {
		ST_TRIG_FIRST_SIGINT, ST_TRIG_SIGINT, ST_TRIG_SIGALRM, ST_TRIG_SIGTSTP,
		ST_TRIG_SIGSTOP,
	};
	static const __u32 sigs[] = { 2, 14, 20, 19, 0, 40, UINT32_MAX };
	struct st_signal_record rec = { 0 };
	struct line line;
	size_t t, s;

	fill_header(&rec.hdr, ST_REC_SIGNAL);
	for (t = 0; t < sizeof(triggers) / sizeof(triggers[0]); t++) {
		for (s = 0; s < sizeof(sigs) / sizeof(sigs[0]); s++) {
			trigger_line(&line, triggers[t], &rec);
			rec.sig = sigs[s];
			rec.code = s % 2 ? -6 : 0;
			rec.thread = s % 3 == 0;
			rec.result = (__u32)s;
			rec.sender_pid = s % 2 ? 0 : 555 + s;
			rec.sender_tid = UINT32_MAX - s;
			memset(rec.sender_comm, 0, sizeof(rec.sender_comm));
			memcpy(rec.sender_comm, comms[s % 7], strnlen(comms[s % 7], ST_COMM_LEN));
			check_variants(&line);
		}
	}
}

static void bootstrap_and_exec_lines_match(void **state)
{
	struct st_exec_record rec = { 0 };
	struct line line;
	int exec_line;

	fill_header(&rec.hdr, ST_REC_EXEC);
	for (exec_line = 0; exec_line < 2; exec_line++) {
		trigger_line(&line, ST_TRIG_BOOTSTRAP, &rec);
		if (exec_line)
			line.type = LINE_EXEC;
		strcpy(rec.filename, "./bench-loop");
		rec.ppid = 8110;
		rec.old_tid = rec.hdr.tid;
		check_variants(&line);
		strcpy(rec.filename, "/tmp/odd \"name\"\\\x1b[0m\xc3\xa9\xc3");
		rec.old_tid = 4;
		check_variants(&line);
		/* a filename of the maximum length, every byte escaped, without a NUL */
		memset(rec.filename, 0x01, sizeof(rec.filename));
		rec.ppid = UINT32_MAX;
		rec.old_tid = UINT32_MAX;
		check_variants(&line);
		memset(rec.filename, 0, sizeof(rec.filename));
		check_variants(&line);
	}
}

static void exit_lines_match(void **state)
{
	static const __s32 statuses[] = {
		0, 1 << 8, 255 << 8, 9, 11 | 0x80, 0x7f, 40, 6 | 0x80, -1, INT32_MIN,
	};
	struct st_exit_record rec = { 0 };
	struct line line;
	size_t s;

	fill_header(&rec.hdr, ST_REC_EXIT);
	for (s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
		memset(&line, 0, sizeof(line));
		line.type = LINE_EXIT;
		line.record = &rec.hdr;
		rec.exit_code = statuses[s];
		check_variants(&line);
	}
}

static void environ_lines_match(void **state)
{
	struct st_environ_record rec = { 0 };
	struct line line;
	__u32 source, probe;

	fill_header(&rec.hdr, ST_REC_ENVIRON);
	trigger_line(&line, ST_TRIG_FIRST_ENVIRON, &rec);
	for (source = 0; source <= ST_ENVIRON_PROBE + 1; source++) {
		rec.source = source;
		strcpy(rec.name, "HOME");
		for (probe = 0; probe <= 3; probe++) {
			rec.probe = probe;
			check_variants(&line);
		}
		memset(rec.name, '"', sizeof(rec.name));
		check_variants(&line);
		memset(rec.name, 0, sizeof(rec.name));
		check_variants(&line);
	}
}

static void other_trigger_lines_match(void **state)
{
	struct st_idle_record idle = { 0 };
	struct st_explicit_record explicit = { 0 };
	struct line line;

	trigger_line(&line, ST_TRIG_PERIODIC_INTERVAL, NULL);
	line.interval_ns = 10000000000ULL;
	line.number = 3;
	check_variants(&line);
	line.interval_ns = UINT64_MAX;
	line.number = UINT64_MAX;
	check_variants(&line);

	fill_header(&idle.hdr, ST_REC_IDLE);
	trigger_line(&line, ST_TRIG_IDLE, &idle);
	idle.threads = 12;
	idle.idle_since_ns = 400000;
	check_variants(&line);
	idle.idle_since_ns = idle.hdr.boot_ns + 1;
	idle.threads = UINT32_MAX;
	check_variants(&line);

	fill_header(&explicit.hdr, ST_REC_EXPLICIT);
	trigger_line(&line, ST_TRIG_EXPLICIT, &explicit);
	explicit.source = ST_EXPLICIT_MARKER;
	check_variants(&line);
	explicit.source = ST_EXPLICIT_OPERATOR;
	check_variants(&line);

	/* a trigger without a name or a detail of its own */
	trigger_line(&line, ST_TRIG_COUNT, NULL);
	check_variants(&line);
}

static void reconciled_lines_match(void **state)
{
	struct line line;
	int t;

	for (t = 0; t < ST_TRIG_COUNT; t++) {
		trigger_line(&line, t, NULL);
		line.reconciled = 1;
		check_variants(&line);
	}
}

/*
 * The emitter writes into its output buffer what line_json_write() makes
 * and keeps the last line readable for the snapshot requests.
 */
static void emitter_writes_lines(void **state)
{
	char path[] = "/tmp/test_line_json.XXXXXX";
	struct st_calls_record rec = { 0 };
	struct line_json_context ctx = { 0 };
	struct json_writer w;
	struct emitter e;
	struct line line;
	const char *last;
	char read_back[4096];
	size_t last_len;
	ssize_t n;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(emitter_open(&e, path, FORMAT_JSON), 0);
	e.show_held = 1;

	fill_header(&rec.hdr, ST_REC_CALLS);
	rec.hdr.ns_pid = 3;
	rec.hdr.ns_tid = 4;
	rec.via = ST_VIA_IA32;
	trigger_line(&line, ST_TRIG_NON_DETERMINISTIC_CALL, &rec);
	line.boot_ns = rec.hdr.boot_ns;
	line.pid = rec.hdr.pid;
	line.tid = rec.hdr.tid;
	line.held = 1;
	line.count = 1;
	line.calls[ST_CALL_GETRANDOM] = 1;
	strcpy(line.comm, "app\"1");
	emit_line(&e, &line);

	ctx.seq = 1;
	ctx.realtime_offset_ns = e.realtime_offset_ns;
	ctx.show_held = 1;
	ctx.ids.ns_pid = 3;
	ctx.ids.ns_tid = 4;
	json_writer_init(&w);
	ref_line(&w, &line, &ctx);

	last = emitter_last_line(&e, &last_len);
	assert_non_null(last);
	assert_int_equal(last_len, w.len - 1);
	assert_memory_equal(last, w.buf, last_len);

	emitter_close(&e, -1);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, read_back, sizeof(read_back));
	close(fd);
	unlink(path);
	assert_int_equal(n, (ssize_t)w.len);
	assert_memory_equal(read_back, w.buf, w.len);
	json_writer_free(&w);
}

/* The changes after which a call line must not copy the kept tail. */
enum tail_change {
	CHANGE_TRIGGER,
	CHANGE_PID,
	CHANGE_TID,
	CHANGE_COMM,
	CHANGE_CALL,
	CHANGE_COUNT,
	CHANGE_CALLS,
	CHANGE_COALESCED,
	CHANGE_HELD,
	CHANGE_SHOW_HELD,
	CHANGE_AT_ATTACH,
	CHANGE_SINCE_ATTACH,
	CHANGE_RECONCILED,
	CHANGE_VIA,
	CHANGE_NO_RECORD,
	CHANGE_NS_PID,
	CHANGE_NS_TID,
	CHANGE_CGROUP_ID,
	CHANGE_CGROUP,
	TAIL_CHANGES,
};

static void apply_change(enum tail_change change, struct line *line,
			 struct line_json_context *ctx)
{
	switch (change) {
	case CHANGE_TRIGGER:
		line->trigger = ST_TRIG_TRANSACTION;
		break;
	case CHANGE_PID:
		line->pid++;
		break;
	case CHANGE_TID:
		line->tid++;
		break;
	case CHANGE_COMM:
		line->comm[3] = 'X';
		break;
	case CHANGE_CALL:
		line->call = ST_CALL_TIME;
		break;
	case CHANGE_COUNT:
		line->count++;
		break;
	case CHANGE_CALLS:
		line->calls[ST_CALL_TIME]++;
		break;
	case CHANGE_COALESCED:
		line->coalesced = !line->coalesced;
		break;
	case CHANGE_HELD:
		line->held = !line->held;
		break;
	case CHANGE_SHOW_HELD:
		ctx->show_held = !ctx->show_held;
		break;
	case CHANGE_AT_ATTACH:
		line->at_attach = 1;
		break;
	case CHANGE_SINCE_ATTACH:
		line->since_attach = 1;
		break;
	case CHANGE_RECONCILED:
		line->reconciled = 1;
		break;
	case CHANGE_VIA:
		((struct st_calls_record *)line->record)->via = ST_VIA_IO_URING;
		break;
	case CHANGE_NO_RECORD:
		line->record = NULL;
		break;
	case CHANGE_NS_PID:
		ctx->ids.ns_pid++;
		break;
	case CHANGE_NS_TID:
		ctx->ids.ns_tid++;
		break;
	case CHANGE_CGROUP_ID:
		ctx->ids.cgroup_id++;
		break;
	case CHANGE_CGROUP:
		ctx->cgroup = "/user.slice";
		ctx->cgroup_len = strlen(ctx->cgroup);
		break;
	case TAIL_CHANGES:
		break;
	}
}

/* A coalesced getrandom call line of process 100, thread 101, with the ids given. */
static void base_call_line(struct line *line, struct line_json_context *ctx,
			   struct st_calls_record *rec, struct line_json_tail *tail,
			   const struct container_ids *ids)
{
	memset(rec, 0, sizeof(*rec));
	fill_header(&rec->hdr, ST_REC_CALLS);
	rec->via = ST_VIA_SYSCALL;
	trigger_line(line, ST_TRIG_NON_DETERMINISTIC_CALL, rec);
	line->boot_ns = 1000000;
	line->pid = 100;
	line->tid = 101;
	line->call = ST_CALL_GETRANDOM;
	line->count = 3;
	line->calls[ST_CALL_GETRANDOM] = 2;
	line->calls[ST_CALL_TIME] = 1;
	line->coalesced = 1;
	strcpy(line->comm, "bench-loop");
	memset(ctx, 0, sizeof(*ctx));
	ctx->seq = 7;
	ctx->show_held = 1;
	ctx->ids = *ids;
	ctx->tail = tail;
}

/*
 * A call line after one that differs in one field formats its own tail.
 * So does the first line, written again after it. Were a field missing
 * from the kept tail, the first line would copy the second's text.
 */
static void tail_not_copied_after_change(void **state)
{
	static const struct container_ids base_ids[] = { { 9, 10, 11 }, { 0, 0, 0 } };
	struct st_calls_record base_rec, changed_rec;
	struct line_json_context base_ctx, changed_ctx;
	struct line base, changed;
	struct line_json_tail tail;
	size_t ids;
	int change;

	(void)state;
	for (ids = 0; ids < sizeof(base_ids) / sizeof(base_ids[0]); ids++) {
		for (change = 0; change < TAIL_CHANGES; change++) {
			char out[4096];

			base_call_line(&base, &base_ctx, &base_rec, &tail, &base_ids[ids]);
			base_call_line(&changed, &changed_ctx, &changed_rec, &tail,
				       &base_ids[ids]);
			apply_change(change, &changed, &changed_ctx);
			memset(&tail, 0, sizeof(tail));
			line_json_write(out, &base, &base_ctx);
			assert_true(tail.len > 0);

			changed_ctx.seq++;
			check_line_once(&changed, &changed_ctx);
			base_ctx.seq += 2;
			check_line_once(&base, &base_ctx);
		}
	}
}

/*
 * A line whose tail is too long to keep leaves no tail, so the line before
 * it, written again, formats its own.
 */
static void tail_dropped_when_too_long(void **state)
{
	static const struct container_ids no_ids;
	struct st_calls_record rec, long_rec;
	struct line_json_context ctx, long_ctx;
	struct line_json_tail tail;
	struct line line, long_line;
	char out[4096];
	__u32 i;

	(void)state;
	base_call_line(&line, &ctx, &rec, &tail, &no_ids);
	base_call_line(&long_line, &long_ctx, &long_rec, &tail, &no_ids);
	memset(&tail, 0, sizeof(tail));
	line_json_write(out, &line, &ctx);
	assert_true(tail.len > 0);

	/* every counted call with a 20-digit count: a tail longer than the maximum */
	long_line.count = 0;
	for (i = 0; i < ST_COUNTED_CALLS; i++) {
		long_line.calls[i] = 10000000000000000000ULL + i;
		long_line.count += long_line.calls[i];
	}
	long_ctx.seq++;
	assert_true(line_json_write(out, &long_line, &long_ctx) > LINE_JSON_TAIL_MAX);
	assert_int_equal(tail.len, 0);

	ctx.seq += 2;
	check_line_once(&line, &ctx);
}

/* A call line with the same fields as the one before copies its kept tail. */
static void tail_copied_for_same_fields(void **state)
{
	static const struct container_ids ids = { 9, 10, 11 };
	struct st_calls_record rec;
	struct line_json_tail tail;
	struct line_json_context ctx;
	struct line line;
	char out[4096];
	size_t len;

	(void)state;
	base_call_line(&line, &ctx, &rec, &tail, &ids);
	memset(&tail, 0, sizeof(tail));
	len = line_json_write(out, &line, &ctx);
	assert_true(tail.len > 0);
	assert_true(tail.len < len);
	assert_memory_equal(out + len - tail.len, tail.text, tail.len);

	/* a mark in the kept text shows that the next line copies it */
	tail.text[0] = 'X';
	ctx.seq++;
	line.boot_ns++;
	len = line_json_write(out, &line, &ctx);
	assert_int_equal(out[len - tail.len], 'X');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(calls_lines_match),
		cmocka_unit_test(listen_lines_match),
		cmocka_unit_test(stdin_lines_match),
		cmocka_unit_test(signal_lines_match),
		cmocka_unit_test(bootstrap_and_exec_lines_match),
		cmocka_unit_test(exit_lines_match),
		cmocka_unit_test(environ_lines_match),
		cmocka_unit_test(other_trigger_lines_match),
		cmocka_unit_test(reconciled_lines_match),
		cmocka_unit_test(emitter_writes_lines),
		cmocka_unit_test(tail_not_copied_after_change),
		cmocka_unit_test(tail_dropped_when_too_long),
		cmocka_unit_test(tail_copied_for_same_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
