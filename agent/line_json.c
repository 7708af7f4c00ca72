// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Trigger, exec and exit lines have their own JSON code instead of the
 * general writer of json.h because a flood of events makes millions of them
 * a second. The general writer checks capacity, tracks commas and nesting,
 * and NUL-terminates on every call, and the emitter then copied each line
 * into its output buffer. Those lines have a fixed shape, so this file
 * writes literal fragments with lengths known at compile time straight into
 * the output buffer, after one reservation of line_json_max() bytes. In a
 * flood of calls from one thread, every line repeats the part after boot_ns,
 * so the emitter keeps that part of the last call line to copy it.
 *
 * The bytes must stay those the general writer makes of the same fields.
 * tests/unit/test_line_json.c builds every kind of line both ways and
 * compares them. Strings go through json_format_string(), the escaping of
 * the general writer.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include "json.h"
#include "names.h"
#include "triggers.h"
#include "line_json.h"

/*
 * Room for all but the strings of variable length: keys, numbers, names
 * from the agent's tables and punctuation. The largest such part, that of a
 * coalesced-call trigger with every call counted at 20 digits and every
 * optional field, is 893 bytes. test_line_json.c checks such lines.
 */
#define LINE_FIXED_MAX 2048

/*
 * Maximum length of a string from a record that a line shows besides comm:
 * a filename, a unix socket name, a variable name or a sender's comm. The
 * cgroup and probe names come on top.
 */
#define RECORD_STRING_MAX ST_PATH_LEN

/* Appends n bytes at s. */
static inline char *put_bytes(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* Appends a string literal, whose length is known at compile time. */
#define put_lit(p, lit) put_bytes((p), (lit), sizeof(lit) - 1)

/*
 * Appends a name from the agent's tables, which needs no escaping, as a
 * string, or null for NULL.
 */
static char *put_name(char *p, const char *name)
{
	size_t n;

	if (!name)
		return put_lit(p, "null");
	n = strlen(name);
	*p++ = '"';
	p = put_bytes(p, name, n);
	*p++ = '"';
	return p;
}

static char *put_bool(char *p, int value)
{
	return value ? put_lit(p, "true") : put_lit(p, "false");
}

/* Appends a process-controlled string of at most max bytes, ended by its first NUL. */
static char *put_chars(char *p, const char *s, size_t max)
{
	return json_format_string(p, s, strnlen(s, max));
}

/* Appends a string, or null for NULL, as json_string() writes it. */
static char *put_string(char *p, const char *s)
{
	return s ? json_format_string(p, s, strlen(s)) : put_lit(p, "null");
}

/* The members every line has, up to boot_ns, for a line of type "trigger", "exec" or "exit". */
static char *put_head(char *p, const struct line *line, const struct line_json_context *ctx)
{
	int n;

	if (line->type == LINE_TRIGGER)
		p = put_lit(p, "{\"type\":\"trigger\",\"seq\":");
	else if (line->type == LINE_EXEC)
		p = put_lit(p, "{\"type\":\"exec\",\"seq\":");
	else
		p = put_lit(p, "{\"type\":\"exit\",\"seq\":");
	p = json_format_u64(p, ctx->seq);
	p = put_lit(p, ",\"time\":\"");
	/* json_time_format() writes a NUL after the time, where the quote goes */
	n = json_time_format(line->boot_ns + ctx->realtime_offset_ns, p, JSON_TIME_LEN);
	if (n > 0)
		p += n;
	else
		p = put_lit(p, "1970-01-01T00:00:00.000000000Z");
	p = put_lit(p, "\",\"boot_ns\":");
	return json_format_u64(p, line->boot_ns);
}

/* ns_pid, ns_tid and the cgroup, as fields_container() in emit.c writes them. */
static char *put_container(char *p, const struct line_json_context *ctx)
{
	if (ctx->ids.ns_pid) {
		p = put_lit(p, ",\"ns_pid\":");
		p = json_format_u64(p, ctx->ids.ns_pid);
	}
	if (ctx->ids.ns_tid) {
		p = put_lit(p, ",\"ns_tid\":");
		p = json_format_u64(p, ctx->ids.ns_tid);
	}
	if (!ctx->ids.cgroup_id)
		return p;
	p = put_lit(p, ",\"cgroup_id\":");
	p = json_format_u64(p, ctx->ids.cgroup_id);
	if (ctx->cgroup) {
		p = put_lit(p, ",\"cgroup\":");
		p = json_format_string(p, ctx->cgroup, ctx->cgroup_len);
	}
	return p;
}

/*
 * Returns the record of a call line that shows its path, or NULL. Only the
 * line of the call that opened the window has its record, and so its path.
 */
static const struct st_calls_record *calls_record(const struct line *line)
{
	if (line->record && line->record->kind == ST_REC_CALLS && line->call != ST_CALL_MARKER)
		return (const void *)line->record;
	return NULL;
}

static char *put_calls(char *p, const struct line *line)
{
	const struct st_calls_record *rec = calls_record(line);
	__u32 i;

	p = put_lit(p, "\"call\":");
	p = put_name(p, call_name(line->call));
	p = put_lit(p, ",\"count\":");
	p = json_format_u64(p, line->count);
	p = put_lit(p, ",\"calls\":{");
	for (i = 0; i < ST_COUNTED_CALLS; i++) {
		if (!line->calls[i])
			continue;
		/* after the first member, the last byte is a digit */
		if (p[-1] != '{')
			*p++ = ',';
		p = put_name(p, call_name(i));
		*p++ = ':';
		p = json_format_u64(p, line->calls[i]);
	}
	p = put_lit(p, "},\"coalesced\":");
	p = put_bool(p, line->coalesced);
	/* SNAPTRIG_TRANSACTION() markers are counted as the call "marker" */
	if (line->call == ST_CALL_MARKER)
		p = put_lit(p, ",\"source\":\"marker\"");
	else
		p = put_lit(p, ",\"source\":\"syscall\"");
	if (rec) {
		p = put_lit(p, ",\"via\":");
		p = put_name(p, via_name(rec->via));
	}
	return p;
}

static char *put_listen(char *p, const struct st_listen_record *rec, int at_attach)
{
	p = put_lit(p, "\"fd\":");
	p = json_format_i64(p, rec->fd);
	/* /proc shows neither the backlog nor the call of a socket found at attach */
	if (!at_attach) {
		p = put_lit(p, ",\"backlog\":");
		p = json_format_i64(p, rec->backlog);
		p = put_lit(p, ",\"via\":");
		p = put_name(p, via_name(rec->via));
		if (rec->fixed)
			p = put_lit(p, ",\"fixed\":true");
	}
	p = put_lit(p, ",\"family\":");
	p = put_name(p, family_name(rec->family));
	if (rec->family == AF_INET || rec->family == AF_INET6) {
		char addr[INET6_ADDRSTRLEN] = "";

		inet_ntop(rec->family, rec->addr, addr, sizeof(addr));
		p = put_lit(p, ",\"address\":");
		p = put_string(p, addr);
		p = put_lit(p, ",\"port\":");
		p = json_format_u64(p, rec->port);
	} else if (rec->family == AF_UNIX) {
		char path[ST_SUN_PATH_LEN];
		size_t len = unix_socket_name(rec, path);

		p = put_lit(p, ",\"path\":");
		p = json_format_string(p, path, len);
	}
	return p;
}

static char *put_stdin(char *p, const struct st_stdin_record *rec, int at_attach)
{
	p = put_lit(p, "\"fd\":");
	p = json_format_i64(p, rec->fd);
	if (at_attach)
		return p;
	p = put_lit(p, ",\"call\":");
	p = put_name(p, call_name(rec->call));
	p = put_lit(p, ",\"via\":");
	p = put_name(p, via_name(rec->via));
	if (rec->fixed)
		p = put_lit(p, ",\"fixed\":true");
	return p;
}

static char *put_signal(char *p, const struct st_signal_record *rec)
{
	p = put_lit(p, "\"signal\":");
	p = json_format_u64(p, rec->sig);
	p = put_lit(p, ",\"name\":");
	p = put_name(p, signal_name(rec->sig));
	p = put_lit(p, ",\"code\":");
	p = json_format_i64(p, rec->code);
	p = put_lit(p, ",\"thread\":");
	p = put_bool(p, rec->thread);
	p = put_lit(p, ",\"result\":");
	p = put_name(p, signal_result_name(rec->result));
	if (rec->sender_pid != ST_NO_SENDER) {
		p = put_lit(p, ",\"sender\":{\"pid\":");
		p = json_format_u64(p, rec->sender_pid);
		p = put_lit(p, ",\"tid\":");
		p = json_format_u64(p, rec->sender_tid);
		p = put_lit(p, ",\"comm\":");
		p = put_chars(p, rec->sender_comm, ST_COMM_LEN);
		*p++ = '}';
	}
	return p;
}

/* The probe of rec, or NULL when the record names none of ctx's probes. */
static const struct environ_probe *environ_probe_of(const struct st_environ_record *rec,
						    const struct line_json_context *ctx)
{
	if (rec->source != ST_ENVIRON_PROBE || rec->probe >= ctx->environ_probe_count)
		return NULL;
	return &ctx->environ_probes[rec->probe];
}

static char *put_environ(char *p, const struct st_environ_record *rec,
			 const struct line_json_context *ctx)
{
	const struct environ_probe *probe = environ_probe_of(rec, ctx);

	p = put_lit(p, "\"source\":");
	p = put_name(p, environ_source_name(rec->source));
	if (rec->source == ST_ENVIRON_GETENV || rec->source == ST_ENVIRON_SECURE_GETENV) {
		p = put_lit(p, ",\"name\":");
		p = put_chars(p, rec->name, ST_ENV_NAME_LEN);
	} else if (probe) {
		p = put_lit(p, ",\"binary\":");
		p = put_string(p, probe->binary);
		p = put_lit(p, ",\"symbol\":");
		p = put_string(p, probe->symbol);
	}
	return p;
}

/* filename, ppid and old_tid: the members of an exec line, and the detail of bootstrap. */
static char *put_exec(char *p, const struct st_exec_record *rec)
{
	p = put_lit(p, "\"filename\":");
	p = put_chars(p, rec->filename, ST_PATH_LEN);
	p = put_lit(p, ",\"ppid\":");
	p = json_format_u64(p, rec->ppid);
	p = put_lit(p, ",\"old_tid\":");
	return json_format_u64(p, rec->old_tid);
}

static char *put_exit(char *p, const struct st_exit_record *rec)
{
	int status = rec->exit_code;

	if ((status & 0x7f) == 0) {
		p = put_lit(p, "\"status\":\"exited\",\"exit_code\":");
		p = json_format_i64(p, (status >> 8) & 0xff);
	} else {
		p = put_lit(p, "\"status\":\"killed\",\"signal\":");
		p = json_format_i64(p, status & 0x7f);
		p = put_lit(p, ",\"signal_name\":");
		p = put_name(p, signal_name(status & 0x7f));
	}
	p = put_lit(p, ",\"core_dumped\":");
	return put_bool(p, status & 0x80);
}

/* The members of the detail object of a trigger line. */
static char *put_detail(char *p, const struct line *line, const struct line_json_context *ctx)
{
	const struct st_record_header *hdr = line->record;

	if (line->reconciled)
		return put_lit(p, "\"reconciled\":true");
	switch (line->trigger) {
	case ST_TRIG_FIRST_LISTEN:
		return put_listen(p, (const void *)hdr, line->at_attach);
	case ST_TRIG_FIRST_STDIN:
		return put_stdin(p, (const void *)hdr, line->at_attach);
	case ST_TRIG_FIRST_SIGINT:
	case ST_TRIG_SIGINT:
	case ST_TRIG_SIGALRM:
	case ST_TRIG_SIGTSTP:
	case ST_TRIG_SIGSTOP:
		return put_signal(p, (const void *)hdr);
	case ST_TRIG_NON_DETERMINISTIC_CALL:
	case ST_TRIG_TRANSACTION:
		return put_calls(p, line);
	case ST_TRIG_BOOTSTRAP:
		return put_exec(p, (const void *)hdr);
	case ST_TRIG_PERIODIC_INTERVAL:
		p = put_lit(p, "\"interval_ns\":");
		p = json_format_u64(p, line->interval_ns);
		p = put_lit(p, ",\"number\":");
		return json_format_u64(p, line->number);
	case ST_TRIG_IDLE: {
		const struct st_idle_record *rec = (const void *)hdr;

		p = put_lit(p, "\"threads\":");
		p = json_format_u64(p, rec->threads);
		p = put_lit(p, ",\"idle_ns\":");
		return json_format_u64(p, idle_ns(rec));
	}
	case ST_TRIG_FIRST_ENVIRON:
		return put_environ(p, (const void *)hdr, ctx);
	case ST_TRIG_EXPLICIT:
		p = put_lit(p, "\"source\":");
		p = put_name(p, explicit_source_name(((const struct st_explicit_record *)hdr)->source));
		return p;
	default:
		return p;
	}
}

/* strlen() of s as json_string() counts it, 4 for the null that NULL becomes. */
static size_t string_len(const char *s)
{
	return s ? strlen(s) : 4;
}

size_t line_json_max(const struct line *line, const struct line_json_context *ctx)
{
	size_t max = LINE_FIXED_MAX + JSON_STRING_MAX(ST_COMM_LEN) +
		     JSON_STRING_MAX(RECORD_STRING_MAX) + JSON_STRING_MAX(ctx->cgroup_len);
	const struct environ_probe *probe;

	if (line->type != LINE_TRIGGER || line->reconciled ||
	    line->trigger != ST_TRIG_FIRST_ENVIRON)
		return max;
	probe = environ_probe_of((const void *)line->record, ctx);
	if (probe)
		max += JSON_STRING_MAX(string_len(probe->binary)) +
		       JSON_STRING_MAX(string_len(probe->symbol));
	return max;
}

/* Appends the members after boot_ns and the end of the line. */
static char *put_tail(char *p, const struct line *line, const struct line_json_context *ctx)
{
	if (line->type == LINE_TRIGGER) {
		p = put_lit(p, ",\"trigger\":");
		p = put_name(p, trigger_name(line->trigger));
	}
	p = put_lit(p, ",\"pid\":");
	p = json_format_u64(p, line->pid);
	p = put_lit(p, ",\"tid\":");
	p = json_format_u64(p, line->tid);
	p = put_container(p, ctx);
	p = put_lit(p, ",\"comm\":");
	p = put_chars(p, line->comm, ST_COMM_LEN);
	if (line->type == LINE_TRIGGER && ctx->show_held) {
		p = put_lit(p, ",\"held\":");
		p = put_bool(p, line->held);
	}
	if (line->at_attach)
		p = put_lit(p, ",\"source\":\"attach\"");
	if (line->since_attach)
		p = put_lit(p, ",\"since\":\"attach\"");

	*p++ = ',';
	if (line->type == LINE_TRIGGER) {
		p = put_lit(p, "\"detail\":{");
		p = put_detail(p, line, ctx);
		*p++ = '}';
	} else if (line->type == LINE_EXEC) {
		p = put_exec(p, (const void *)line->record);
	} else {
		p = put_exit(p, (const void *)line->record);
	}
	return put_lit(p, "}\n");
}

/*
 * Whether the tail of line may be kept: that of a call line without a
 * cgroup path, which depends only on the fields of struct line_json_tail_key.
 */
static int tail_keepable(const struct line *line, const struct line_json_context *ctx)
{
	return ctx->tail && !ctx->cgroup && line->type == LINE_TRIGGER && !line->reconciled &&
	       (line->trigger == ST_TRIG_NON_DETERMINISTIC_CALL ||
		line->trigger == ST_TRIG_TRANSACTION);
}

/* Fills key with the fields that the tail of line, a call line, is made of. */
static void tail_key(struct line_json_tail_key *key, const struct line *line,
		     const struct line_json_context *ctx)
{
	const struct st_calls_record *rec = calls_record(line);

	memset(key, 0, sizeof(*key));
	key->count = line->count;
	memcpy(key->calls, line->calls, sizeof(key->calls));
	key->ids = ctx->ids;
	key->trigger = line->trigger;
	key->pid = line->pid;
	key->tid = line->tid;
	key->call = line->call;
	key->has_via = !!rec;
	key->via = rec ? rec->via : 0;
	key->coalesced = !!line->coalesced;
	key->held = ctx->show_held ? !!line->held : -1;
	key->at_attach = !!line->at_attach;
	key->since_attach = !!line->since_attach;
	memcpy(key->comm, line->comm, sizeof(key->comm));
}

size_t line_json_write(char *out, const struct line *line, const struct line_json_context *ctx)
{
	char *tail = put_head(out, line, ctx);
	struct line_json_tail *kept = ctx->tail;
	struct line_json_tail_key key;
	size_t len;

	if (!tail_keepable(line, ctx))
		return (size_t)(put_tail(tail, line, ctx) - out);
	tail_key(&key, line, ctx);
	if (kept->len && !memcmp(&kept->key, &key, sizeof(key)))
		return (size_t)(put_bytes(tail, kept->text, kept->len) - out);

	len = (size_t)(put_tail(tail, line, ctx) - tail);
	kept->len = 0;
	if (len <= sizeof(kept->text)) {
		/* memcpy(), since an assignment need not copy the padding */
		memcpy(&kept->key, &key, sizeof(key));
		memcpy(kept->text, tail, len);
		kept->len = len;
	}
	return (size_t)(tail - out) + len;
}

const char *family_name(__u16 family)
{
	switch (family) {
	case AF_INET:
		return "inet";
	case AF_INET6:
		return "inet6";
	case AF_UNIX:
		return "unix";
	}
	return "other";
}

size_t unix_socket_name(const struct st_listen_record *rec, char *out)
{
	size_t len = rec->sun_path_len;

	if (len > ST_SUN_PATH_LEN)
		len = ST_SUN_PATH_LEN;
	if (len > 0 && rec->sun_path[0] == '\0') {
		out[0] = '@';
		memcpy(out + 1, rec->sun_path + 1, len - 1);
		return len;
	}
	len = strnlen(rec->sun_path, len);
	memcpy(out, rec->sun_path, len);
	return len;
}

const char *environ_source_name(__u32 source)
{
	switch (source) {
	case ST_ENVIRON_GETENV:
		return "getenv";
	case ST_ENVIRON_SECURE_GETENV:
		return "secure_getenv";
	case ST_ENVIRON_PROC_FILE:
		return "proc-file";
	}
	return "probe";
}

const char *explicit_source_name(__u32 source)
{
	return source == ST_EXPLICIT_OPERATOR ? "operator" : "marker";
}

__u64 idle_ns(const struct st_idle_record *rec)
{
	return rec->hdr.boot_ns > rec->idle_since_ns ? rec->hdr.boot_ns - rec->idle_since_ns : 0;
}
