/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The triggers found through uprobes: first-environ (the libc getenv family
 * and --environ-probe symbols) and the USDT markers of include/snaptrig.h
 * (explicit, and transaction's "marker" call).
 *
 * Every probe is attached system-wide (pid -1) on a file, once per file: the
 * BPF programs filter on the procs map, so a process that starts or execs
 * later is covered as soon as the files it maps are probed. Untraced
 * processes that run a probed function pay the uprobe trap: getenv(3) went
 * from about 20 ns to about 1.1 us per call while snaptrig ran (measured with
 * tools/st-getenv -n 1000000 -t on a 2-core virtual machine, Linux 6.18).
 */
#ifndef SNAPTRIG_UPROBES_H
#define SNAPTRIG_UPROBES_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "options.h"

struct tracer;
struct uprobes;

/* Triggers whose probes the agent attaches to the files that processes map. */
#define UPROBE_TRIGGERS (ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON) | ST_TRIG_BIT(ST_TRIG_EXPLICIT) | \
			 ST_TRIG_BIT(ST_TRIG_TRANSACTION))

/*
 * Loads the programs that opts->triggers need into objects that share the
 * tracer's maps, and attaches the open-family hooks, the libc probes and the
 * --environ-probe probes. *out stays NULL when no selected trigger needs
 * uprobes. Returns 0 or -errno after a message.
 */
int uprobes_open(struct uprobes **out, struct tracer *t, const struct options *opts);

/* Attaches the markers in COMMAND's executable, resolved through PATH like execvp(3). */
void uprobes_add_command(struct uprobes *u, char *const *command);

/*
 * Attaches the probes that the executable files mapped by pid contain.
 * Returns 0, or -ENOENT when pid has no mappings to read (it exited).
 */
int uprobes_add_process(struct uprobes *u, pid_t pid);

/*
 * Schedules a second look at the files of the process that exec record rec
 * names, for when the dynamic loader has mapped the libraries. Returns 1 when
 * the new image needs uprobes_add_process() now as well, 0 when the agent
 * examined it before.
 */
int uprobes_on_exec(struct uprobes *u, const struct st_exec_record *rec);

/*
 * Examines the file that image record rec maps through the descriptor in
 * the record, or the process's maps when that descriptor is gone. The
 * caller resumes a process that the kernel stopped for it.
 */
void uprobes_on_image(struct uprobes *u, const struct st_image_record *rec);

/*
 * Adds image, in the kernel's identity from a record, to the images map once
 * its file has been examined, so that it loads without a stop from then on.
 */
void uprobes_note_image(struct uprobes *u, const struct st_image *image);

/* Cancels the second look at an exited process. */
void uprobes_on_exit(struct uprobes *u, pid_t pid);

/* Runs the later examinations that are due at now_ns (boot clock). */
void uprobes_tick(struct uprobes *u, __u64 now_ns);

/* Detaches and frees everything. Accepts NULL. */
struct link_list;
/* Adds the attached links of u to l, for link_list_destroy(). 0 or -ENOMEM. */
int uprobes_links(struct uprobes *u, struct link_list *l);
void uprobes_close(struct uprobes *u);

/*
 * For --check: loads the programs and attaches one getenv uprobe to the
 * agent's own libc, then detaches. Returns 0 or -errno.
 */
int uprobes_check_environ(void);
/* For --check: loads the USDT marker programs. Returns 0 or -errno. */
int uprobes_check_markers(void);

#endif
