// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "duration.h"
#include "log.h"
#include "template.h"
#include "triggers.h"
#include "usdt.h"
#include "options.h"

enum {
	OPT_INTERVAL = 0x100,
	OPT_COOLDOWN,
	OPT_IDLE_THRESHOLD,
	OPT_FORMAT,
	OPT_NO_FOLLOW,
	OPT_CHECK,
	OPT_RING_BUFFER_SIZE,
	OPT_EXEC,
	OPT_REQUEST_SOCKET,
	OPT_SNAPSHOT_ON,
	OPT_SNAPSHOT_TIMEOUT,
	OPT_MAX_SNAPSHOTS,
	OPT_MARKER_SITES,
	OPT_STOP_AFTER_SNAPSHOT,
	OPT_FREEZE,
	OPT_ENVIRON_PROBE,
	OPT_CONTROL,
	OPT_REQUEST_SNAPSHOT,
	OPT_IA32,
	OPT_CGROUP,
	OPT_LAZY_WAKEUP,
};

static const struct option long_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "trigger", required_argument, NULL, 't' },
	{ "snapshot-interval", required_argument, NULL, OPT_INTERVAL },
	{ "cooldown", required_argument, NULL, OPT_COOLDOWN },
	{ "idle-threshold", required_argument, NULL, OPT_IDLE_THRESHOLD },
	{ "output", required_argument, NULL, 'o' },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "no-follow", no_argument, NULL, OPT_NO_FOLLOW },
	{ "lazy-wakeup", no_argument, NULL, OPT_LAZY_WAKEUP },
	{ "ia32", required_argument, NULL, OPT_IA32 },
	{ "verbose", no_argument, NULL, 'v' },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "ring-buffer-size", required_argument, NULL, OPT_RING_BUFFER_SIZE },
	{ "exec", required_argument, NULL, OPT_EXEC },
	{ "request-socket", required_argument, NULL, OPT_REQUEST_SOCKET },
	{ "snapshot-on", required_argument, NULL, OPT_SNAPSHOT_ON },
	{ "snapshot-timeout", required_argument, NULL, OPT_SNAPSHOT_TIMEOUT },
	{ "max-snapshots", required_argument, NULL, OPT_MAX_SNAPSHOTS },
	{ "marker-sites", required_argument, NULL, OPT_MARKER_SITES },
	{ "stop-after-snapshot", no_argument, NULL, OPT_STOP_AFTER_SNAPSHOT },
	{ "freeze", no_argument, NULL, OPT_FREEZE },
	{ "environ-probe", required_argument, NULL, OPT_ENVIRON_PROBE },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "request-snapshot", required_argument, NULL, OPT_REQUEST_SNAPSHOT },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{},
};

static void print_help(void)
{
	printf("Usage: snaptrig [OPTIONS] -- COMMAND [ARG...]\n"
	       "       snaptrig [OPTIONS] -p PID[,PID...]\n"
	       "       snaptrig [OPTIONS] --cgroup PATH\n"
	       "       snaptrig --check [-t LIST]\n"
	       "       snaptrig --control PATH --request-snapshot PID\n"
	       "\n"
	       "Trace processes with eBPF and write their snapshot triggers as JSON lines.\n"
	       "\n"
	       "  -p, --pid PID[,PID...]      attach to running processes (repeatable)\n"
	       "      --cgroup PATH           trace every process in this cgroup v2 subtree,\n"
	       "                              also those that enter it later; PATH is under\n"
	       "                              the cgroup2 mount or relative to its root\n"
	       "  -t, --trigger LIST          triggers to report, comma-separated (repeatable;\n"
	       "                              default: default). Names: first-listen,\n"
	       "                              first-stdin, first-environ, first-sigint, idle,\n"
	       "                              periodic-interval, sigint, sigalrm, sigtstp,\n"
	       "                              sigstop, non-deterministic-call, bootstrap,\n"
	       "                              transaction, explicit; sets: default, all\n"
	       "      --snapshot-interval DURATION\n"
	       "                              period of periodic-interval (default 10s,\n"
	       "                              at least 1ms)\n"
	       "      --cooldown DURATION     window that coalesces repeated\n"
	       "                              non-deterministic-call and transaction\n"
	       "                              triggers into one line (default 1s; 0s: a\n"
	       "                              line per call while the ring buffer has room)\n"
	       "      --idle-threshold DURATION\n"
	       "                              time every thread must be blocked before idle\n"
	       "                              (default 1s, at least 1ms)\n"
	       "  -o, --output PATH           append lines to PATH, or send them to the unix\n"
	       "                              stream socket at PATH (default and -: standard\n"
	       "                              output)\n"
	       "      --format json|text      JSON lines, or aligned text (default json)\n"
	       "      --no-follow             do not trace children of traced processes\n"
	       "      --lazy-wakeup           let records that hold no process wait up to 10 ms\n"
	       "                              for the agent instead of waking it, which costs\n"
	       "                              the process an interrupt per record\n"
	       "      --ia32 auto|on|off      when to hook 32-bit system calls, which slows\n"
	       "                              every system call on the machine: auto from the\n"
	       "                              first 32-bit program a traced process runs until\n"
	       "                              snaptrig exits (default), on for int $0x80 in\n"
	       "                              64-bit programs too, or off\n"
	       "      --ring-buffer-size SIZE size of the kernel-to-agent ring buffer, a power\n"
	       "                              of two from 4K to 1G, in bytes or with K, M or G\n"
	       "                              (default 4M)\n"
	       "  -v, --verbose               diagnostics on stderr; repeat for more (-vvv:\n"
	       "                              libbpf debug messages)\n"
	       "      --check                 probe every kernel feature that snaptrig uses and\n"
	       "                              exit (0: every selected trigger can work)\n"
	       "      --environ-probe BINARY:SYMBOL\n"
	       "                              count a call of SYMBOL in BINARY as a read of\n"
	       "                              the environment too (first-environ; repeatable)\n"
	       "      --marker-sites N        attach the explicit and transaction markers of\n"
	       "                              at most N places in the code, all files together\n"
	       "                              (default 1024; each place costs about 0.1s at\n"
	       "                              exit)\n"
	       "      --control PATH          accept operator requests, one JSON object per\n"
	       "                              line, on a unix socket created at PATH (mode\n"
	       "                              0600): snapshot (an explicit trigger), stats, list\n"
	       "      --request-snapshot PID  with --control: ask the snaptrig serving PATH for\n"
	       "                              an explicit trigger of PID, print the reply line\n"
	       "                              and exit 0 when it is ok, 1 otherwise\n"
	       "\n"
	       "Snapshot requests (each trigger becomes one, see snaptrig(8)):\n"
	       "      --exec TEMPLATE         run this checkpointer command, split like shell\n"
	       "                              words, without a shell; placeholders {pid},\n"
	       "                              {tid}, {trigger}, {seq}, {time}\n"
	       "      --request-socket PATH   send each request as a JSON line to this unix\n"
	       "                              socket and wait for the JSON reply line\n"
	       "      --snapshot-on LIST      triggers that request snapshots, each selected\n"
	       "                              with -t (without it: every selected trigger);\n"
	       "                              all means every selected trigger, default the\n"
	       "                              default trigger set\n"
	       "      --snapshot-timeout DURATION\n"
	       "                              end a checkpointer that runs longer (SIGTERM,\n"
	       "                              then SIGKILL after 1s; default 60s)\n"
	       "      --max-snapshots N       at most N snapshots per process (default: no\n"
	       "                              limit); --cooldown also spaces them\n"
	       "      --freeze                stop the process at the trigger point until the\n"
	       "                              snapshot is done\n"
	       "      --stop-after-snapshot   kill the process after a successful snapshot\n"
	       "                              instead of resuming it\n"
	       "\n"
	       "  -h, --help                  show this help and exit\n"
	       "  -V, --version               show the version and exit\n"
	       "\n"
	       "DURATION is a number with a unit: ns, us, ms, s or m (250ms, 1.5s, 2m).\n"
	       "Exit status: COMMAND's status (128+N if signal N killed it, 127 not found,\n"
	       "126 not executable); with -p or --cgroup, 0. 1: runtime error, 2: usage error.\n");
}

/*
 * Prints the help (opt 'h') or the version (opt 'V') once every option is
 * parsed. An operand is rejected, because exiting 0 would hide the mistake.
 */
static int print_info(int opt, int argc, char **argv)
{
	const char *name = opt == 'h' ? "--help" : "--version";

	if (optind < argc) {
		log_error("unexpected argument '%s' after %s: it takes none", argv[optind], name);
		return -EINVAL;
	}
	if (opt == 'h')
		print_help();
	else
		printf("snaptrig %s\n", SNAPTRIG_VERSION);
	/* a write that failed, on a full disk for example, must not end with status 0 */
	if (fflush(stdout) || ferror(stdout)) {
		log_error("writing the %s output failed: %s", name,
			  strerror(errno ? errno : EIO));
		return -EIO;
	}
	return OPTIONS_EXIT_OK;
}

/* Durations past a year make no sense here, and sums with the clock must not overflow. */
#define MAX_DURATION_NS (365ULL * 24 * 3600 * 1000000000ULL)

static int parse_duration_option(const char *name, const char *value, __u64 *ns)
{
	char why[DURATION_ERROR_LEN];
	int err = duration_parse(value, ns);

	if (err == 0 && *ns <= MAX_DURATION_NS)
		return 0;
	/* a value past 2^64 ns is past the 365 days too, so both get one message */
	if (err == 0 || err == -ERANGE) {
		log_error("invalid duration '%s' for --%s: out of range (at most 365 days)",
			  value, name);
		return -EINVAL;
	}
	log_error("invalid duration '%s' for --%s: %s", value, name,
		  duration_error(value, why, sizeof(why)));
	return -EINVAL;
}

/*
 * Minimum of --snapshot-interval and --idle-threshold. With a period of
 * nanoseconds, periodic-interval lines come as fast as the agent can write
 * them, and idle fires at almost every time a thread blocks.
 */
#define MIN_PERIOD_NS 1000000ULL

static int parse_period_option(const char *name, const char *value, __u64 *ns)
{
	char min[DURATION_FORMAT_LEN];

	if (parse_duration_option(name, value, ns))
		return -EINVAL;
	if (*ns >= MIN_PERIOD_NS)
		return 0;
	duration_format(MIN_PERIOD_NS, min, sizeof(min));
	log_error("invalid duration '%s' for --%s: must be at least %s", value, name, min);
	return -EINVAL;
}

static int parse_pid_list(const char *list, struct options *opts)
{
	char *copy = strdup(list), *item, *save = NULL, *end;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	if (!*list || *list == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,")) {
		log_error("invalid pid list '%s' for -p: expected PID[,PID...]", list);
		err = -EINVAL;
	}
	for (item = strtok_r(copy, ",", &save); item && !err;
	     item = strtok_r(NULL, ",", &save)) {
		long pid;
		pid_t *grown;
		size_t i;

		errno = 0;
		pid = strtol(item, &end, 10);
		if (isdigit((unsigned char)*item) && !*end && (errno == ERANGE || pid > INT_MAX)) {
			log_error("invalid pid '%s' for -p: out of range", item);
			err = -EINVAL;
			break;
		}
		if (errno || !isdigit((unsigned char)*item) || *end || pid <= 0) {
			log_error("invalid pid '%s' for -p: expected a positive integer", item);
			err = -EINVAL;
			break;
		}
		for (i = 0; i < opts->pid_count; i++) {
			if (opts->pids[i] == (pid_t)pid) {
				log_error("duplicate pid %ld for -p: name each process once", pid);
				err = -EINVAL;
			}
		}
		if (err)
			break;
		grown = realloc(opts->pids, (opts->pid_count + 1) * sizeof(*grown));
		if (!grown) {
			err = -ENOMEM;
			break;
		}
		opts->pids = grown;
		opts->pids[opts->pid_count++] = (pid_t)pid;
	}
	free(copy);
	return err;
}

/* SIZE: a power of two of at least 4K, in bytes or with a K, M or G suffix. */
static int parse_ring_size(const char *arg, __u64 *bytes)
{
	unsigned long long value;
	char *end;

	errno = 0;
	value = strtoull(arg, &end, 10);
	if (errno == ERANGE) {
		log_error("invalid size '%s' for --ring-buffer-size: out of range", arg);
		return -EINVAL;
	}
	if (errno || !isdigit((unsigned char)*arg)) {
		log_error("invalid size '%s' for --ring-buffer-size: expected a number like 4M", arg);
		return -EINVAL;
	}
	if (value > (1ULL << 30)) {
		log_error("invalid size '%s' for --ring-buffer-size: out of range", arg);
		return -EINVAL;
	}
	if (*end == 'K' || *end == 'k') {
		value <<= 10;
		end++;
	} else if (*end == 'M' || *end == 'm') {
		value <<= 20;
		end++;
	} else if (*end == 'G' || *end == 'g') {
		value <<= 30;
		end++;
	}
	if (*end || value < 4096 || value > (1ULL << 30) || (value & (value - 1))) {
		log_error("invalid size '%s' for --ring-buffer-size: use a power of two from 4K to 1G", arg);
		return -EINVAL;
	}
	*bytes = value;
	return 0;
}

/* --environ-probe BINARY:SYMBOL; the last ':' separates them. */
/* Copies path to out when it names a regular file that this process can read. */
static int resolve_readable(const char *path, char *out, size_t len)
{
	struct stat st;

	if (strlen(path) >= len)
		return -ENAMETOOLONG;
	if (stat(path, &st))
		return errno == EACCES ? -EACCES : -ENOENT;
	if (!S_ISREG(st.st_mode) || access(path, R_OK))
		return -EACCES;
	strcpy(out, path);
	return 0;
}

static int parse_environ_probe(const char *arg, struct options *opts)
{
	const char *colon = strrchr(arg, ':');
	char resolved[PATH_MAX], *binary;
	struct environ_probe *grown;
	struct stat st;
	int err, is_dir, by_path;

	if (!colon || colon == arg || !colon[1]) {
		log_error("invalid probe '%s' for --environ-probe: expected BINARY:SYMBOL", arg);
		return -EINVAL;
	}
	if (opts->environ_probe_count == ENVIRON_PROBES_MAX) {
		log_error("too many --environ-probe options: at most %d", ENVIRON_PROBES_MAX);
		return -EINVAL;
	}
	binary = strndup(arg, colon - arg);
	if (!binary)
		return -ENOMEM;
	/*
	 * A path may name a shared library, which needs no execute bit (Debian
	 * installs most of them 0644). A bare name is a program found in PATH.
	 */
	by_path = strchr(binary, '/') != NULL;
	if (by_path)
		err = resolve_readable(binary, resolved, sizeof(resolved));
	else
		err = usdt_resolve_command(binary, getenv("PATH"), resolved, sizeof(resolved));
	is_dir = err == -EACCES && stat(binary, &st) == 0 && S_ISDIR(st.st_mode);
	free(binary);
	if (is_dir) {
		log_error("invalid probe '%s' for --environ-probe: '%.*s' is a directory; give the path of a program or shared library",
			  arg, (int)(colon - arg), arg);
		return -EINVAL;
	}
	if (err == -EACCES && by_path) {
		log_error("invalid probe '%s' for --environ-probe: '%.*s' is not a readable regular file, or a directory on its path denies search; check its permissions",
			  arg, (int)(colon - arg), arg);
		return -EINVAL;
	}
	if (err == -EACCES) {
		log_error("invalid probe '%s' for --environ-probe: binary '%.*s' is not an executable file, or a directory on its path denies search; check its permissions",
			  arg, (int)(colon - arg), arg);
		return -EINVAL;
	}
	if (err) {
		log_error("invalid probe '%s' for --environ-probe: binary '%.*s' not found; give its path",
			  arg, (int)(colon - arg), arg);
		return -EINVAL;
	}
	grown = realloc(opts->environ_probes, (opts->environ_probe_count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	opts->environ_probes = grown;
	grown[opts->environ_probe_count].binary = strdup(resolved);
	grown[opts->environ_probe_count].symbol = strdup(colon + 1);
	opts->environ_probe_count++;
	if (!grown[opts->environ_probe_count - 1].binary ||
	    !grown[opts->environ_probe_count - 1].symbol)
		return -ENOMEM;
	return 0;
}

/* Checks that a Unix socket path is not empty and fits in sun_path. */
static int parse_socket_path(const char *arg, const char *option, const char **out)
{
	if (!*arg) {
		log_error("invalid path '' for %s: give the socket path", option);
		return -EINVAL;
	}
	/* -o - means standard output, so a socket named - would be a surprise */
	if (!strcmp(arg, "-")) {
		log_error("invalid path '-' for %s: a unix socket needs a file path; write ./- for a socket named -",
			  option);
		return -EINVAL;
	}
	if (strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		log_error("invalid path '%s' for %s: longer than %zu bytes; use a shorter path",
			  arg, option, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -EINVAL;
	}
	*out = arg;
	return 0;
}

/* --environ-probe, --control and --request-snapshot */
static int parse_probe_option(int opt, const char *arg, struct options *opts)
{
	char *end;
	long pid;

	if (opt == OPT_ENVIRON_PROBE)
		return parse_environ_probe(arg, opts);
	if (opt == OPT_CONTROL)
		return parse_socket_path(arg, "--control", &opts->control_path);
	errno = 0;
	pid = strtol(arg, &end, 10);
	if (errno || !isdigit((unsigned char)*arg) || *end || pid <= 0 || pid > INT_MAX) {
		log_error("invalid pid '%s' for --request-snapshot: expected a positive integer", arg);
		return -EINVAL;
	}
	opts->request_snapshot_pid = (pid_t)pid;
	return 0;
}

static int check_probe_options(const struct options *opts)
{
	if (opts->environ_probe_count && !(opts->triggers & ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON))) {
		log_error("--environ-probe needs the first-environ trigger: add it to --trigger");
		return -EINVAL;
	}
	if (!opts->request_snapshot_pid)
		return 0;
	if (!opts->control_path) {
		log_error("--request-snapshot needs --control PATH: the socket of the running snaptrig");
		return -EINVAL;
	}
	if (opts->command) {
		log_error("--request-snapshot sends one request and exits: give no COMMAND");
		return -EINVAL;
	}
	return 0;
}

static int parse_one(int opt, const char *arg, struct options *opts, int *triggers_given)
{
	char why[TRIGGER_ERROR_LEN];

	switch (opt) {
	case 'p':
		return parse_pid_list(arg, opts);
	case 't':
		*triggers_given = 1;
		if (trigger_list_parse(arg, TRIGGERS_AVAILABLE, &opts->triggers, why,
				       sizeof(why))) {
			log_error("--trigger: %s", why);
			return -EINVAL;
		}
		return 0;
	case OPT_INTERVAL:
		return parse_period_option("snapshot-interval", arg, &opts->interval_ns);
	case OPT_COOLDOWN:
		return parse_duration_option("cooldown", arg, &opts->cooldown_ns);
	case OPT_IDLE_THRESHOLD:
		return parse_period_option("idle-threshold", arg, &opts->idle_threshold_ns);
	case 'o':
		if (!*arg) {
			log_error("invalid output path '' for --output: give a file path");
			return -EINVAL;
		}
		/* "-" is standard output, as for most tools, and "./-" a file named "-" */
		opts->output_path = strcmp(arg, "-") ? arg : NULL;
		return 0;
	case OPT_FORMAT:
		if (!strcmp(arg, "json"))
			opts->format = FORMAT_JSON;
		else if (!strcmp(arg, "text"))
			opts->format = FORMAT_TEXT;
		else {
			log_error("invalid format '%s' for --format: use json or text", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_LAZY_WAKEUP:
		opts->lazy_wakeup = 1;
		return 0;
	case OPT_NO_FOLLOW:
		opts->follow = 0;
		return 0;
	case OPT_IA32:
		if (!strcmp(arg, "auto"))
			opts->ia32 = IA32_AUTO;
		else if (!strcmp(arg, "on"))
			opts->ia32 = IA32_ON;
		else if (!strcmp(arg, "off"))
			opts->ia32 = IA32_OFF;
		else {
			log_error("invalid mode '%s' for --ia32: use auto, on or off", arg);
			return -EINVAL;
		}
		return 0;
	case 'v':
		opts->verbose++;
		return 0;
	case OPT_CHECK:
		opts->check = 1;
		return 0;
	case OPT_RING_BUFFER_SIZE:
		return parse_ring_size(arg, &opts->ring_buffer_size);
	case OPT_EXEC:
		if (!*arg) {
			log_error("invalid template '' for --exec: give the checkpointer command");
			return -EINVAL;
		}
		opts->exec_template = arg;
		return 0;
	case OPT_REQUEST_SOCKET:
		return parse_socket_path(arg, "--request-socket", &opts->request_socket);
	case OPT_SNAPSHOT_ON:
		if (trigger_list_parse(arg, TRIGGERS_AVAILABLE, &opts->snapshot_on, why,
				       sizeof(why))) {
			log_error("--snapshot-on: %s", why);
			return -EINVAL;
		}
		return 0;
	case OPT_SNAPSHOT_TIMEOUT:
		if (parse_duration_option("snapshot-timeout", arg, &opts->snapshot_timeout_ns))
			return -EINVAL;
		if (!opts->snapshot_timeout_ns) {
			log_error("invalid duration '%s' for --snapshot-timeout: must be more than 0", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_MAX_SNAPSHOTS: {
		char *end;

		errno = 0;
		opts->max_snapshots = strtoull(arg, &end, 10);
		if (errno == ERANGE) {
			log_error("invalid count '%s' for --max-snapshots: out of range", arg);
			return -EINVAL;
		}
		if (errno || !isdigit((unsigned char)*arg) || *end || !opts->max_snapshots) {
			log_error("invalid count '%s' for --max-snapshots: expected a positive integer", arg);
			return -EINVAL;
		}
		return 0;
	}
	case OPT_MARKER_SITES: {
		char *end;
		unsigned long sites;

		errno = 0;
		sites = strtoul(arg, &end, 10);
		if (errno || !isdigit((unsigned char)*arg) || *end || !sites ||
		    sites > MARKER_SITES_MAX) {
			log_error("invalid count '%s' for --marker-sites: expected 1 to %u", arg,
				  MARKER_SITES_MAX);
			return -EINVAL;
		}
		opts->marker_sites = (unsigned int)sites;
		return 0;
	}
	case OPT_STOP_AFTER_SNAPSHOT:
		opts->stop_after_snapshot = 1;
		return 0;
	case OPT_FREEZE:
		opts->freeze = 1;
		return 0;
	case OPT_CGROUP:
		opts->cgroup_arg = arg;
		return 0;
	case OPT_ENVIRON_PROBE:
	case OPT_CONTROL:
	case OPT_REQUEST_SNAPSHOT:
		return parse_probe_option(opt, arg, opts);
	}
	return -EINVAL;
}

/* Returns the first snapshot option that is set, or NULL when none is. */
static const char *snapshot_option_given(const struct options *opts)
{
	if (opts->snapshot_on)
		return "--snapshot-on";
	if (opts->snapshot_timeout_ns)
		return "--snapshot-timeout";
	if (opts->freeze)
		return "--freeze";
	if (opts->stop_after_snapshot)
		return "--stop-after-snapshot";
	if (opts->max_snapshots)
		return "--max-snapshots";
	return NULL;
}

static int check_snapshot_options(struct options *opts)
{
	const char *snapshot_option = snapshot_option_given(opts);
	int requests = opts->exec_template || opts->request_socket;
	struct stat st;

	if (opts->exec_template && opts->request_socket) {
		log_error("both --exec and --request-socket given: choose one checkpointer");
		return -EINVAL;
	}
	if (!requests && snapshot_option) {
		log_error("%s needs a checkpointer: add --exec TEMPLATE or --request-socket PATH",
			  snapshot_option);
		return -EINVAL;
	}
	/* --snapshot-on all, or a list of every trigger, means every selected trigger */
	if (opts->snapshot_on == (TRIGGERS_ALL & TRIGGERS_AVAILABLE))
		opts->snapshot_on = opts->triggers;
	if (opts->snapshot_on & ~opts->triggers) {
		char names[TRIGGER_MASK_FORMAT_LEN];

		trigger_mask_format(opts->snapshot_on & ~opts->triggers, names, sizeof(names));
		log_error("--snapshot-on names triggers that are not selected: %s; add them to --trigger or leave them out of --snapshot-on",
			  names);
		return -EINVAL;
	}
	if (opts->exec_template) {
		char why[TEMPLATE_ERROR_LEN], quoted[TEMPLATE_QUOTE_LEN];
		struct template t;

		if (template_parse(opts->exec_template, &t, why, sizeof(why))) {
			template_quote(opts->exec_template, quoted);
			log_error("invalid template '%s' for --exec: %s", quoted, why);
			return -EINVAL;
		}
		template_free(&t);
	}
	/* a path that does not exist yet is allowed, because the service may create it later */
	if (opts->request_socket && stat(opts->request_socket, &st) == 0 &&
	    !S_ISSOCK(st.st_mode)) {
		log_error("cannot use '%s' for --request-socket: the file exists and is not a socket; give the socket that the checkpointer service listens on",
			  opts->request_socket);
		return -EINVAL;
	}
	if (requests && !opts->snapshot_on)
		opts->snapshot_on = opts->triggers;
	if (requests && !opts->snapshot_timeout_ns)
		opts->snapshot_timeout_ns = SNAPSHOT_TIMEOUT_DEFAULT_NS;
	/* the cooldown runs from the end of a request, so a period as long skips every other one */
	if (requests && (opts->snapshot_on & ST_TRIG_BIT(ST_TRIG_PERIODIC_INTERVAL)) &&
	    opts->cooldown_ns >= opts->interval_ns) {
		char interval[DURATION_FORMAT_LEN], cooldown[DURATION_FORMAT_LEN];

		duration_format(opts->interval_ns, interval, sizeof(interval));
		duration_format(opts->cooldown_ns, cooldown, sizeof(cooldown));
		log_error("warning: --snapshot-interval %s is not longer than --cooldown %s, which counts from the end of each snapshot request, so about every other periodic-interval request will be skipped; make the interval longer or the cooldown shorter",
			  interval, cooldown);
	}
	return 0;
}

/*
 * Writes to out the absolute path that path names, with its directory
 * resolved and its last component kept, so that two spellings of a file that
 * does not exist yet compare equal. Returns 0, or -1 when the directory
 * cannot be resolved or the path ends in a directory name.
 */
static int resolve_directory_of(const char *path, char out[PATH_MAX])
{
	char directory[PATH_MAX], resolved[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	size_t directory_len = slash ? (size_t)(slash - path) : 0;

	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || directory_len >= PATH_MAX)
		return -1;
	if (!slash) {
		strcpy(directory, ".");
	} else if (!directory_len) {
		strcpy(directory, "/");
	} else {
		memcpy(directory, path, directory_len);
		directory[directory_len] = '\0';
	}
	if (!realpath(directory, resolved))
		return -1;
	if (snprintf(out, PATH_MAX, "%s/%s", strcmp(resolved, "/") ? resolved : "", name) >= PATH_MAX)
		return -1;
	return 0;
}

/*
 * Whether paths a and b name one file: the same text, one existing file
 * reached through any spelling or symlink, or the same name in the same
 * directory for files that do not exist yet.
 * NOTE: a symlink whose target does not exist yet is compared by its own name.
 */
static bool paths_name_same_file(const char *a, const char *b)
{
	char a_full[PATH_MAX], b_full[PATH_MAX];
	struct stat a_st, b_st;

	if (!strcmp(a, b))
		return true;
	if (stat(a, &a_st) == 0 && stat(b, &b_st) == 0)
		return a_st.st_dev == b_st.st_dev && a_st.st_ino == b_st.st_ino;
	return resolve_directory_of(a, a_full) == 0 && resolve_directory_of(b, b_full) == 0 &&
	       !strcmp(a_full, b_full);
}

/*
 * Rejects -o and --control naming one file, which would first be opened as
 * the output and then fail as a socket path, leaving a file behind. Rejects
 * --request-socket naming the --control socket too, because each request
 * would then reach snaptrig's own control server and fail.
 */
static int check_socket_paths(const struct options *opts)
{
	if (!opts->control_path || opts->request_snapshot_pid)
		return 0;
	if (opts->output_path && paths_name_same_file(opts->output_path, opts->control_path)) {
		log_error("-o '%s' and --control '%s' name the same file: give each its own path",
			  opts->output_path, opts->control_path);
		return -EINVAL;
	}
	if (opts->request_socket && paths_name_same_file(opts->request_socket, opts->control_path)) {
		log_error("--request-socket '%s' and --control '%s' name the same socket: give the socket that the checkpointer service listens on",
			  opts->request_socket, opts->control_path);
		return -EINVAL;
	}
	return 0;
}

static int check_targets(const struct options *opts)
{
	if (opts->check && (opts->pid_count || opts->command || opts->cgroup_arg || opts->output_path)) {
		log_error("--check probes the kernel and traces nothing: give no -p, --cgroup, -o or COMMAND");
		return -EINVAL;
	}
	if (opts->check && (opts->exec_template || opts->request_socket ||
			    snapshot_option_given(opts))) {
		log_error("--check probes the kernel and requests no snapshot: give no --exec, --request-socket or other snapshot option");
		return -EINVAL;
	}
	if (opts->check || opts->request_snapshot_pid)
		return 0;
	if (opts->pid_count && opts->command) {
		log_error("both -p and a COMMAND given: trace either running processes or a new COMMAND");
		return -EINVAL;
	}
	if (opts->cgroup_arg && opts->command) {
		log_error("both --cgroup and a COMMAND given: trace either a cgroup or a new COMMAND");
		return -EINVAL;
	}
	if (!opts->pid_count && !opts->command && !opts->cgroup_arg) {
		log_error("nothing to trace: give -p PID, --cgroup PATH or -- COMMAND (see --help)");
		return -EINVAL;
	}
	return 0;
}

int options_parse(int argc, char **argv, struct options *opts)
{
	int triggers_given = 0, info = 0, opt, err, long_index;
	char tracing_option[40] = "";

	memset(opts, 0, sizeof(*opts));
	opts->cooldown_ns = 1000000000ULL;
	opts->interval_ns = 10000000000ULL;
	opts->idle_threshold_ns = 1000000000ULL;
	opts->follow = 1;
	opts->marker_sites = MARKER_SITES_DEFAULT;

	opterr = 0;
	/* "+" stops at the first non-option, so COMMAND's own options stay its own */
	while (long_index = -1,
	       (opt = getopt_long(argc, argv, "+:p:t:o:vhV", long_options, &long_index)) != -1) {
		if (opt == 'h' || opt == 'V') {
			if (!info)
				info = opt;
			continue;
		}
		if (opt == ':') {
			log_error("option '%s' needs a value (see --help)", argv[optind - 1]);
			return -EINVAL;
		}
		if (opt == '?') {
			log_error("unknown option '%s' (see --help)", argv[optind - 1]);
			return -EINVAL;
		}
		err = parse_one(opt, optarg, opts, &triggers_given);
		if (err)
			return err;
		/* the first option that only a tracing snaptrig uses, for --request-snapshot */
		if (!tracing_option[0] && opt != OPT_CONTROL && opt != OPT_REQUEST_SNAPSHOT && opt != 'v') {
			if (long_index >= 0)
				snprintf(tracing_option, sizeof(tracing_option), "--%s",
					 long_options[long_index].name);
			else
				snprintf(tracing_option, sizeof(tracing_option), "-%c", opt);
		}
	}
	opts->info = info;
	if (info)
		return print_info(info, argc, argv);
	if (opts->request_snapshot_pid && tracing_option[0]) {
		log_error("--request-snapshot sends one request and exits: %s applies to tracing; give only --control and -v",
			  tracing_option);
		return -EINVAL;
	}
	if (!triggers_given)
		opts->triggers = TRIGGERS_DEFAULT & TRIGGERS_AVAILABLE;
	if (optind < argc)
		opts->command = &argv[optind];
	/* --check first, so that its message explains what else was given */
	err = opts->check ? check_targets(opts) : 0;
	if (!err)
		err = check_snapshot_options(opts);
	if (err)
		return err;
	err = check_probe_options(opts);
	if (err)
		return err;
	err = check_socket_paths(opts);
	if (err)
		return err;
	err = check_targets(opts);
	if (err || !opts->cgroup_arg || opts->check || opts->request_snapshot_pid)
		return err;
	return cgroup_target_resolve(opts->cgroup_arg, &opts->cgroup) ? -EINVAL : 0;
}

void options_free(struct options *opts)
{
	size_t i;

	for (i = 0; i < opts->environ_probe_count; i++) {
		free(opts->environ_probes[i].binary);
		free(opts->environ_probes[i].symbol);
	}
	free(opts->environ_probes);
	opts->environ_probes = NULL;
	opts->environ_probe_count = 0;
	free(opts->pids);
	opts->pids = NULL;
	opts->pid_count = 0;
	cgroup_target_free(&opts->cgroup);
}
