/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The command line. */
#ifndef SNAPTRIG_OPTIONS_H
#define SNAPTRIG_OPTIONS_H

#include <stddef.h>
#include <sys/types.h>
#include "container.h"
#include "snaptrig_abi.h"
#include "triggers.h"

/* Triggers this build can detect; the others are rejected by name. */
#define TRIGGERS_AVAILABLE TRIGGERS_ALL

/* Most --environ-probe options; the index travels in a uprobe's cookie. */
#define ENVIRON_PROBES_MAX 64
/* --marker-sites: libbpf keeps one spec entry per place of a USDT probe */
#define MARKER_SITES_DEFAULT 1024
#define MARKER_SITES_MAX 65536
/* --snapshot-timeout when a checkpointer is given without it */
#define SNAPSHOT_TIMEOUT_DEFAULT_NS 60000000000ULL

/* One --environ-probe BINARY:SYMBOL. */
struct environ_probe {
	char *binary;			/* resolved through PATH when it has no '/' */
	char *symbol;
};

/* --ia32: when the ia32 system call hook, which slows every system call, is attached. */
enum ia32_mode {
	IA32_AUTO,	/* while a traced process runs a 32-bit image */
	IA32_ON,	/* always: int $0x80 in 64-bit programs is seen too */
	IA32_OFF,	/* never */
};

enum output_format {
	FORMAT_JSON,
	FORMAT_TEXT,
};

struct options {
	__u64 snapshot_timeout_ns;	/* 0 without a checkpointer */
	__u64 max_snapshots;		/* per process; 0: no limit */
	unsigned int marker_sites;	/* places of markers attached at most */
	__u64 cooldown_ns;
	__u64 interval_ns;
	__u64 idle_threshold_ns;
	__u64 ring_buffer_size;		/* bytes; 0: the BPF object's default */
	__u32 triggers;			/* ST_TRIG_BIT mask */
	enum output_format format;
	enum ia32_mode ia32;
	const char *output_path;	/* NULL: standard output */
	pid_t *pids;			/* -p targets, in the order given */
	size_t pid_count;
	char **command;			/* argv after "--", NULL-terminated */
	const char *exec_template;	/* --exec: checkpointer command */
	const char *request_socket;	/* --request-socket: checkpointer socket */
	__u32 snapshot_on;		/* ST_TRIG_BIT mask of triggers that request snapshots */
	int freeze;
	int stop_after_snapshot;
	struct environ_probe *environ_probes;
	size_t environ_probe_count;
	const char *control_path;	/* --control: operator request socket */
	pid_t request_snapshot_pid;	/* --request-snapshot: act as the client */
	const char *cgroup_arg;		/* --cgroup as given, or NULL */
	struct cgroup_target cgroup;	/* --cgroup, resolved; id 0 without it */
	int follow;
	int lazy_wakeup;	/* --lazy-wakeup: see submit_flags() in bpf/maps.bpf.h */
	int verbose;
	int check;
	int info;		/* 'h' for --help, 'V' for --version, 0 for neither */
};

/* options_parse() results besides 0 and -errno */
#define OPTIONS_EXIT_OK 1		/* --help or --version was printed */

/*
 * Parses argv into opts. Returns 0, OPTIONS_EXIT_OK, -EINVAL after printing
 * a usage error to stderr, or -EIO when printing --help or --version failed.
 */
int options_parse(int argc, char **argv, struct options *opts);
void options_free(struct options *opts);

#endif
