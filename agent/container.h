/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Containers: the --cgroup target, the names of cgroup v2 ids, and the pid
 * namespace ids of traced processes for lines that come without a record.
 */
#ifndef SNAPTRIG_CONTAINER_H
#define SNAPTRIG_CONTAINER_H

#include <stddef.h>
#include <sys/types.h>
#include "snaptrig_abi.h"

/* The --cgroup target, once resolved. */
struct cgroup_target {
	__u64 id;		/* kernfs id of the cgroup now at dir: the inode number of the directory */
	__u32 level;		/* components below the cgroup2 root; 0 for the root */
	char *path;		/* relative to the cgroup2 root, "/" or "/a/b" */
	char *dir;		/* the directory under the cgroup2 mount */
	/*
	 * path and level below the root of the hierarchy, from which the kernel
	 * side reads them. They differ from path and level inside a cgroup namespace.
	 * kernel_path is NULL when the namespace's root could not be found.
	 */
	char *kernel_path;
	__u32 kernel_level;
	int removed;		/* no cgroup at dir since the one of id was removed */
};

/* The pid namespace and cgroup fields of a line; 0 when absent. */
struct container_ids {
	__u64 cgroup_id;
	__u32 ns_pid;
	__u32 ns_tid;
};

/*
 * Finds the cgroup2 mount in /proc/self/mountinfo and copies its mount point
 * into buf. Returns 0, -ENOENT when none is mounted, or -errno.
 */
int cgroup2_mount_point(char *buf, size_t len);

/*
 * Writes the components of rel to out as "/a/b" ("/" for none) and counts
 * them in level. Returns 0, -EINVAL for a "." or ".." component, or
 * -ENAMETOOLONG.
 */
int cgroup_path_normalize(const char *rel, char *out, size_t len, __u32 *level);

/*
 * Resolves arg, a directory under the cgroup2 mount or a path relative to
 * its root as in the 0:: line of /proc/PID/cgroup. Returns 0, or -EINVAL or
 * -ENOENT after a message.
 */
int cgroup_target_resolve(const char *arg, struct cgroup_target *t);
void cgroup_target_free(struct cgroup_target *t);

struct snaptrig_bpf;

/*
 * Writes the id and the path of t into the main object before its load,
 * for the kernel side's comparisons and for handle_cgroup_mkdir().
 */
void cgroup_target_write(struct snaptrig_bpf *skel, const struct cgroup_target *t);

/*
 * Returns the path of cgroup id relative to the cgroup2 root, or NULL when
 * it cannot be opened (a removed cgroup). Results are cached by id.
 */
const char *cgroup_name(__u64 id);

/* Remembers the pid namespace and cgroup fields of a record's process. */
void container_note(const struct st_record_header *hdr);
/* Forgets pid, whose process exited. */
void container_forget(__u32 pid);

/*
 * Fills ids for a line of pid and tid: from hdr when it has any of the
 * fields, or else from the last record of pid that had them.
 */
void container_ids_of(__u32 pid, __u32 tid, const struct st_record_header *hdr,
		      struct container_ids *ids);

/*
 * Remembers the fields of pid from /proc, as its records would carry them,
 * for lines written before the kernel sends one: attach-time lines of -p and
 * --cgroup targets. with_cgroup is set with --cgroup, which puts the cgroup
 * on every line.
 */
void container_seed(__u32 pid, int with_cgroup);

/* The level of the agent's pid namespace: the entries of NSpid less one. */
__u32 pidns_level_self(void);

/*
 * Whether the agent runs in the initial pid namespace: 1 if so, 0 if not,
 * or a negative errno when /proc/self/ns/pid cannot be read. The BPF
 * programs see the host's process ids, so an agent in a child namespace
 * would fill its maps with ids that match no process the kernel reports.
 */
int pidns_is_initial(void);

struct session;
struct st_join_record;

/*
 * Traces every process in the --cgroup subtree, walking the cgroup.procs
 * file of each cgroup in it. Call after the programs are attached, so that
 * a process that joins during the walk is traced by the kernel. Returns 0
 * or -errno after a message.
 */
int cgroup_attach_members(struct session *s);

/*
 * Follows the --cgroup path. When the cgroup there is removed, it writes a
 * notice on stderr. When one is created there again, it writes another and
 * traces the processes in it and those that enter it later. Call from the event loop's periodic work
 * with the boot-time clock in now.
 */
void cgroup_target_check(struct session *s, __u64 now);

/* Registers a process that entered the subtree and writes its join line. */
void cgroup_on_join(struct session *s, const struct st_join_record *rec);

#endif
