// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "container.h"
#include "emit.h"
#include "idle.h"
#include "log.h"
#include "session.h"
#include "snaptrig.skel.h"
#include "uprobes.h"

#define CGROUP2_SUPER_MAGIC_NUMBER 0x63677270
#define FILEID_KERNFS_TYPE 0xfe		/* FILEID_KERNFS of include/linux/exportfs.h */
#define CGROUP_NAMES 256		/* cached cgroup names */
#define NS_SLOTS 4096			/* remembered processes; a power of two */
#define CGROUP_CHECK_NS 100000000ULL	/* how often the --cgroup path is looked at */

/* Copies field of mountinfo into out, decoding the \NNN octal escapes. */
static void mountinfo_unescape(const char *field, size_t field_len, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < field_len && o + 1 < len; i++) {
		if (field[i] == '\\' && i + 3 < field_len) {
			out[o++] = (char)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) |
					  (field[i + 3] - '0'));
			i += 3;
		} else {
			out[o++] = field[i];
		}
	}
	out[o] = '\0';
}

/*
 * Finds the first cgroup2 mount of the whole hierarchy in the mountinfo
 * text of f, as the reading process's cgroup namespace shows it. Copies
 * its mount point into buf and its mount id into mount_id.
 */
static int cgroup2_mount_find(FILE *f, char *buf, size_t len, int *mount_id)
{
	char line[4096];

	while (fgets(line, sizeof(line), f)) {
		char *fields[5], *sep, *p = line;
		int i;

		/* ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [TAGS...] - TYPE SOURCE ... */
		for (i = 0; i < 5 && p; i++) {
			fields[i] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		sep = p ? strstr(p, " - ") : NULL;
		if (i < 5 || !sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		/* a bind mount of a cgroup below the root shows only that subtree */
		if (strcmp(fields[3], "/"))
			continue;
		mountinfo_unescape(fields[4], strlen(fields[4]), buf, len);
		*mount_id = atoi(fields[0]);
		return 0;
	}
	return -ENOENT;
}

int cgroup2_mount_point(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err, mount_id;

	if (!f)
		return -errno;
	err = cgroup2_mount_find(f, buf, len, &mount_id);
	fclose(f);
	return err;
}

int cgroup_path_normalize(const char *rel, char *out, size_t len, __u32 *level)
{
	size_t o = 0;

	*level = 0;
	while (*rel) {
		size_t n;

		while (*rel == '/')
			rel++;
		n = strcspn(rel, "/");
		if (!n)
			break;
		if ((n == 1 && rel[0] == '.') || (n == 2 && !strncmp(rel, "..", 2)))
			return -EINVAL;
		if (o + n + 2 > len)
			return -ENAMETOOLONG;
		out[o++] = '/';
		memcpy(out + o, rel, n);
		o += n;
		rel += n;
		(*level)++;
	}
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* The part of arg below mount, or arg itself when it is not under mount. */
static const char *below_mount(const char *arg, const char *mount)
{
	size_t n = strlen(mount);

	if (!strncmp(arg, mount, n) && (arg[n] == '/' || arg[n] == '\0'))
		return arg + n;
	return arg;
}

/*
 * Logs that arg names no cgroup v2 directory. A path outside the mount was
 * read relative to the cgroup2 root, so the message names that reading
 * and not the joined path.
 */
static void cgroup_missing_error(const char *arg, const char *mount, const char *rel,
				 const char *dir)
{
	if (below_mount(arg, mount) != arg)
		log_error("invalid --cgroup '%s': %s is not a cgroup v2 directory; give a path under %s or relative to it",
			  arg, dir, mount);
	else if (arg[0] == '/')
		log_error("invalid --cgroup '%s': not under the cgroup2 mount %s, and no cgroup %s exists below its root; give a directory under %s, or a path relative to it as in the 0:: line of /proc/PID/cgroup",
			  arg, mount, rel, mount);
	else
		log_error("invalid --cgroup '%s': no cgroup %s exists below the cgroup2 mount %s; give a path relative to it as in the 0:: line of /proc/PID/cgroup, or a directory under it",
			  arg, rel, mount);
}

/* Returns the kernfs id of dir, or 0 when dir is not a cgroup v2 directory. */
static __u64 cgroup_dir_id(const char *dir)
{
	struct statfs sfs;
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode) || statfs(dir, &sfs) ||
	    sfs.f_type != CGROUP2_SUPER_MAGIC_NUMBER)
		return 0;
	/* on 64-bit kernels the inode number of a kernfs directory is its id */
	return st.st_ino;
}

/*
 * Resolves arg, read below mount, with realpath(3), and stores the result's
 * path below mount in rel. The path that --cgroup follows is the resolved
 * one, so "./a", "a/b/../a" and "a//" all name the cgroup at /a, the path
 * that handle_cgroup_mkdir() compares. Logs the error when the path is
 * missing or resolves outside mount.
 */
static int cgroup_path_resolve(const char *arg, const char *mount, char *rel, size_t rel_len)
{
	char joined[PATH_MAX * 2 + 2], resolved[PATH_MAX], lexical[PATH_MAX];
	const char *below = below_mount(arg, mount);
	__u32 level;

	snprintf(joined, sizeof(joined), "%s/%s", mount, below);
	if (!realpath(joined, resolved)) {
		if (errno != ENOENT && errno != ENOTDIR) {
			log_error("invalid --cgroup '%s': cannot resolve %s: %s", arg, joined,
				  strerror(errno));
			return -EINVAL;
		}
		/* name the missing cgroup as --cgroup would follow it, when that has no . or .. */
		if (cgroup_path_normalize(below, lexical, sizeof(lexical), &level))
			snprintf(lexical, sizeof(lexical), "%s", below);
		snprintf(joined, sizeof(joined), "%s%s", mount, strcmp(lexical, "/") ? lexical : "");
		cgroup_missing_error(arg, mount, lexical, joined);
		return -ENOENT;
	}
	below = below_mount(resolved, mount);
	if (below == resolved) {
		log_error("invalid --cgroup '%s': it resolves to %s, outside the cgroup2 mount %s; give a directory under %s, or a path relative to it",
			  arg, resolved, mount, mount);
		return -EINVAL;
	}
	snprintf(rel, rel_len, "%s", *below ? below : "/");
	return 0;
}

/* PROC_CGROUP_INIT_INO of the kernel's include/linux/proc_ns.h, fixed since cgroup namespaces came in Linux 4.6 */
#define CGROUP_NS_INITIAL_INO 0xEFFFFFFBU

/* Copies the root field of mount mount_id in /proc/self/mountinfo into out. */
static int mount_root_of(int mount_id, char *out, size_t len)
{
	char line[4096];
	int err = -ENOENT;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *root = line, *end;
		int i;

		if (atoi(line) != mount_id)
			continue;
		/* ID PARENT MAJ:MIN ROOT ... */
		for (i = 0; i < 3 && root; i++) {
			root = strchr(root, ' ');
			if (root)
				root++;
		}
		end = root ? strchr(root, ' ') : NULL;
		if (!end)
			break;
		mountinfo_unescape(root, (size_t)(end - root), out, len);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

/*
 * Finds the root of the agent's cgroup namespace as a path below the root
 * of the cgroup v2 hierarchy, from which the kernel side reads cgroup
 * paths and levels. Outside a cgroup namespace that is "/". Inside one, a
 * child process joins the initial cgroup namespace through pid 1 and reads
 * the root of mount mount_id there, because mountinfo shows a cgroup
 * mount's root relative to the reader's cgroup namespace. Returns 0, or a
 * negative errno and a reason in reason.
 */
static int cgroup_ns_root_find(int mount_id, char *out, size_t len, const char **reason)
{
	int pipe_fds[2], status;
	struct stat st;
	size_t got = 0;
	pid_t child;
	ssize_t n;

	*reason = NULL;
	if (stat("/proc/self/ns/cgroup", &st) == 0 && st.st_ino == CGROUP_NS_INITIAL_INO) {
		snprintf(out, len, "/");
		return 0;
	}
	if (stat("/proc/2/ns/cgroup", &st)) {
		*reason = "cannot read the cgroup namespace of pid 2, kthreadd";
		return -errno;
	}
	if (st.st_ino != CGROUP_NS_INITIAL_INO) {
		*reason = "pid 2 is not in the initial cgroup namespace, so snaptrig does not run in the host's pid namespace";
		return -ENOENT;
	}
	if (pipe2(pipe_fds, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return -errno;
	}
	if (child == 0) {
		char root[PATH_MAX];
		int fd = open("/proc/2/ns/cgroup", O_RDONLY | O_CLOEXEC);
		int err;

		if (fd < 0 || setns(fd, CLONE_NEWCGROUP))
			_exit(errno);
		err = mount_root_of(mount_id, root, sizeof(root));
		if (err)
			_exit(-err);
		if (write(pipe_fds[1], root, strlen(root)) < 0)
			_exit(errno);
		_exit(0);
	}
	close(pipe_fds[1]);
	while (got + 1 < len && (n = read(pipe_fds[0], out + got, len - got - 1)) != 0) {
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	out[got] = '\0';
	close(pipe_fds[0]);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		*reason = "cannot join the cgroup namespace of pid 2, kthreadd";
		return WIFEXITED(status) ? -WEXITSTATUS(status) : -ECHILD;
	}
	if (out[0] != '/') {
		*reason = "the cgroup2 mount's root is not below the hierarchy's root";
		return -EINVAL;
	}
	return 0;
}

/*
 * Sets the kernel side's path and level of t, whose path is relative to
 * the cgroup2 mount at mount_id. Without them the kernel side cannot tell
 * that a process entered the subtree, so a failure is logged but does not
 * end the agent, which still traces the processes found by walking it.
 */
static int cgroup_target_place(struct cgroup_target *t, int mount_id)
{
	char root[PATH_MAX], root_norm[PATH_MAX], kernel_path[PATH_MAX * 2];
	const char *reason;
	__u32 root_level;
	int err;

	err = cgroup_ns_root_find(mount_id, root, sizeof(root), &reason);
	if (err) {
		char path[PATH_MAX * 4 + 1];

		text_safe(path, sizeof(path), t->path, strlen(t->path));
		log_error("warning: snaptrig runs in a cgroup namespace and %s (%s), so it cannot place cgroup %s in the hierarchy that the kernel side reads: the processes in it at start are traced, but processes that enter it later are not and get no join line. Run snaptrig in the host's cgroup namespace (docker run --cgroupns=host), or in the host's pid namespace with CAP_SYS_ADMIN and CAP_SYS_PTRACE",
			  reason ? reason : "its root was not found", strerror(-err), path);
		return 0;
	}
	snprintf(kernel_path, sizeof(kernel_path), "%s%s", strcmp(root, "/") ? root : "",
		 strcmp(t->path, "/") || !strcmp(root, "/") ? t->path : "");
	if (cgroup_path_normalize(root, root_norm, sizeof(root_norm), &root_level))
		return -EINVAL;
	t->kernel_path = strdup(kernel_path);
	if (!t->kernel_path)
		return -ENOMEM;
	t->kernel_level = root_level + t->level;
	return 0;
}

int cgroup_target_resolve(const char *arg, struct cgroup_target *t)
{
	char mount[PATH_MAX], found[PATH_MAX], rel[PATH_MAX], dir[PATH_MAX * 2];
	int err, mount_id = 0;
	FILE *mountinfo;

	memset(t, 0, sizeof(*t));
	mountinfo = fopen("/proc/self/mountinfo", "re");
	err = mountinfo ? cgroup2_mount_find(mountinfo, mount, sizeof(mount), &mount_id) : -errno;
	if (mountinfo)
		fclose(mountinfo);
	if (err) {
		log_error("invalid --cgroup '%s': no cgroup2 file system is mounted (see /proc/self/mountinfo); mount one with 'mount -t cgroup2 none DIR'",
			  arg);
		return -ENOENT;
	}
	if (!*arg) {
		log_error("invalid --cgroup '': give a directory under %s, or a path relative to it as in the 0:: line of /proc/PID/cgroup",
			  mount);
		return -EINVAL;
	}
	err = cgroup_path_resolve(arg, mount, found, sizeof(found));
	if (err)
		return err;
	/* found has no . or .. left: this counts its components */
	if (cgroup_path_normalize(found, rel, sizeof(rel), &t->level)) {
		log_error("invalid --cgroup '%s': the path %s is too long", arg, found);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s%s", mount, strcmp(rel, "/") ? rel : "");
	t->id = cgroup_dir_id(dir);
	if (!t->id) {
		cgroup_missing_error(arg, mount, rel, dir);
		return -ENOENT;
	}
	t->path = strdup(rel);
	t->dir = strdup(dir);
	if (!t->path || !t->dir) {
		cgroup_target_free(t);
		return -ENOMEM;
	}
	/* the level as it is inside the namespace, so a target not placed gets no join record */
	t->kernel_level = t->level;
	err = cgroup_target_place(t, mount_id);
	if (err)
		cgroup_target_free(t);
	return err;
}

void cgroup_target_free(struct cgroup_target *t)
{
	free(t->path);
	free(t->dir);
	free(t->kernel_path);
	t->path = t->dir = t->kernel_path = NULL;
}

struct cgroup_name_entry {
	__u64 id;
	char *path;		/* NULL: the cgroup could not be opened */
};

static struct cgroup_name_entry names[CGROUP_NAMES];
static size_t names_next;
static int mount_fd = -1;
static char mount_path[PATH_MAX];

/* Opens cgroup id by its kernfs file handle and reads its path; NULL on failure. */
static char *cgroup_path_of_id(__u64 id)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} handle = { .fh = { .handle_bytes = sizeof(__u64), .handle_type = FILEID_KERNFS_TYPE } };
	char link[64], path[PATH_MAX];
	const char *rel;
	ssize_t n;
	int fd;

	if (mount_fd < 0) {
		if (cgroup2_mount_point(mount_path, sizeof(mount_path)))
			return NULL;
		mount_fd = open(mount_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mount_fd < 0)
			return NULL;
	}
	memcpy(handle.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mount_fd, &handle.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		log_info(2, "cannot open cgroup %llu: %s", (unsigned long long)id, strerror(errno));
		return NULL;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	path[n] = '\0';
	rel = below_mount(path, mount_path);
	return strdup(*rel ? rel : "/");
}

const char *cgroup_name(__u64 id)
{
	struct cgroup_name_entry *entry;
	size_t i;

	for (i = 0; i < CGROUP_NAMES; i++)
		if (names[i].id == id)
			return names[i].path;
	/*
	 * Ids are never reused while the system runs, so a cached name stays
	 * right. NOTE: a cgroup renamed after its first line keeps its old name.
	 */
	entry = &names[names_next];
	names_next = (names_next + 1) % CGROUP_NAMES;
	free(entry->path);
	entry->id = id;
	entry->path = cgroup_path_of_id(id);
	return entry->path;
}

struct ns_entry {
	__u64 cgroup_id;
	__u32 pid;		/* 0: free */
	__u32 ns_pid;
	__u32 tid;		/* the last thread seen, and its id in the namespace */
	__u32 ns_tid;
};

/*
 * Processes whose records carried namespace or cgroup fields, by pid. A
 * collision replaces the older entry, which only costs the fields on lines
 * that come without a record (periodic-interval, snapshot) of that process.
 */
static struct ns_entry ns_table[NS_SLOTS];

void container_note(const struct st_record_header *hdr)
{
	struct ns_entry *entry = &ns_table[hdr->pid & (NS_SLOTS - 1)];

	if (!hdr->ns_pid && !hdr->cgroup_id) {
		if (entry->pid == hdr->pid)
			entry->pid = 0;
		return;
	}
	entry->pid = hdr->pid;
	entry->cgroup_id = hdr->cgroup_id;
	entry->ns_pid = hdr->ns_pid;
	entry->tid = hdr->tid;
	entry->ns_tid = hdr->ns_tid;
}

void container_forget(__u32 pid)
{
	struct ns_entry *entry = &ns_table[pid & (NS_SLOTS - 1)];

	if (entry->pid == pid)
		entry->pid = 0;
}

void container_ids_of(__u32 pid, __u32 tid, const struct st_record_header *hdr,
		      struct container_ids *ids)
{
	const struct ns_entry *entry = &ns_table[pid & (NS_SLOTS - 1)];

	memset(ids, 0, sizeof(*ids));
	if (hdr && hdr->pid == pid && (hdr->ns_pid || hdr->cgroup_id)) {
		ids->cgroup_id = hdr->cgroup_id;
		ids->ns_pid = hdr->ns_pid;
		ids->ns_tid = hdr->tid == tid ? hdr->ns_tid : 0;
		return;
	}
	if (entry->pid != pid)
		return;
	ids->cgroup_id = entry->cgroup_id;
	ids->ns_pid = entry->ns_pid;
	if (tid == pid)
		ids->ns_tid = entry->ns_pid;
	else if (tid == entry->tid)
		ids->ns_tid = entry->ns_tid;
}

/* Reads the last NSpid entry of pid, its id in its own namespace, and that namespace's level. */
static int ns_pid_of(__u32 pid, __u32 *ns_pid, __u32 *level)
{
	char path[64], line[512];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;

		if (strncmp(line, "NSpid:", 6))
			continue;
		/* one id for each level from the initial namespace down */
		for (*level = 0;; (*level)++) {
			unsigned long nr = strtoul(p, &end, 10);

			if (end == p)
				break;
			*ns_pid = (__u32)nr;
			p = end;
		}
		found = *level > 0;
		if (found)
			(*level)--;
		break;
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

/*
 * Reads the id of pid's cgroup v2 cgroup from the 0:: line of
 * /proc/PID/cgroup. Returns 0 when unknown.
 */
static __u64 cgroup_id_of(__u32 pid)
{
	char path[64], line[PATH_MAX + 8], dir[PATH_MAX * 2 + 16];
	struct stat st;
	__u64 id = 0;
	FILE *f;

	if (!mount_path[0] && cgroup2_mount_point(mount_path, sizeof(mount_path)))
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(dir, sizeof(dir), "%s%s", mount_path, strcmp(line + 3, "/") ? line + 3 : "");
		/* on 64-bit kernels the inode number of a kernfs directory is its id */
		if (stat(dir, &st) == 0)
			id = st.st_ino;
		break;
	}
	fclose(f);
	return id;
}

void container_seed(__u32 pid, int with_cgroup)
{
	struct st_record_header hdr = { .pid = pid, .tid = pid };
	__u32 nr = 0, level = 0;

	if (ns_pid_of(pid, &nr, &level))
		return;
	if (level > pidns_level_self())
		hdr.ns_pid = hdr.ns_tid = nr;
	if (with_cgroup || hdr.ns_pid)
		hdr.cgroup_id = cgroup_id_of(pid);
	container_note(&hdr);
}

__u32 pidns_level_self(void)
{
	__u32 nr, level;

	return ns_pid_of((__u32)getpid(), &nr, &level) ? 0 : level;
}

/* PROC_PID_INIT_INO of the kernel's include/linux/proc_ns.h, fixed since Linux 3.8 */
#define PID_NS_INITIAL_INO 0xEFFFFFFCU

int pidns_is_initial(void)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st))
		return -errno;
	return st.st_ino == PID_NS_INITIAL_INO;
}

/* Traces the processes listed in dir/cgroup.procs. */
static int attach_procs_file(struct session *s, const char *dir)
{
	char path[PATH_MAX];
	int err = 0;
	long pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f) {
		/* a cgroup removed during the walk */
		return errno == ENOENT ? 0 : -errno;
	}
	while (!err && fscanf(f, "%ld", &pid) == 1) {
		err = attach_member(s, (pid_t)pid);
		if (err > 0)
			err = 0;
		else if (err)
			log_error("cannot trace process %ld of cgroup %s: %s", pid, dir,
				  strerror(-err));
	}
	fclose(f);
	return err;
}

static int attach_tree(struct session *s, const char *dir, int depth)
{
	struct dirent *entry;
	int err;
	DIR *d;

	err = attach_procs_file(s, dir);
	if (err)
		return err;
	/* NOTE: cgroups more than 64 levels below the target are not walked */
	if (depth > 64)
		return 0;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (!err && (entry = readdir(d))) {
		char child[PATH_MAX];

		if (entry->d_type != DT_DIR || entry->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", dir, entry->d_name);
		err = attach_tree(s, child, depth + 1);
	}
	closedir(d);
	return err;
}

int cgroup_attach_members(struct session *s)
{
	size_t i, first = s->target_count;
	int err;

	if (!s->opts.cgroup.id)
		return 0;
	if (s->opts.cgroup.kernel_path && strcmp(s->opts.cgroup.kernel_path, s->opts.cgroup.path))
		log_info(1, "cgroup %s of this cgroup namespace is %s in the hierarchy that the kernel side reads",
			 s->opts.cgroup.path, s->opts.cgroup.kernel_path);
	err = attach_tree(s, s->opts.cgroup.dir, 0);
	if (err) {
		log_error("cannot walk cgroup %s: %s", s->opts.cgroup.dir, strerror(-err));
		return err;
	}
	for (i = first; i < s->target_count; i++)
		log_info(1, "process %d is in cgroup %s: tracing it", s->targets[i],
			 s->opts.cgroup.path);
	return 0;
}

void cgroup_on_join(struct session *s, const struct st_join_record *rec)
{
	struct prior_state prior = {};
	struct proc_entry *proc;
	__u32 pid = rec->hdr.pid;
	int claimed;

	if (!classifier_find(&s->classifier, pid))
		classifier_add(&s->classifier, pid, rec->hdr.comm, rec->hdr.boot_ns);
	/*
	 * The kernel made the procs entry, and idle tracking seeds the threads
	 * from /proc. A joiner that already exited would leave an idle entry
	 * that no exit removes.
	 */
	if (!process_gone(pid))
		idle_add(&s->tracer, pid);
	uprobes_add_process(s->uprobes, pid);
	/*
	 * It ran before it joined, as a -p target ran before the attach, and is
	 * scanned the same way: the kernel entry exists since the join, so a
	 * once-trigger that both found is the kernel's, and the scan drops it.
	 */
	prior_scan(pid, s->opts.triggers, &prior);
	claimed = tracer_set_once(&s->tracer, pid, prior_once_bits(&prior));
	/* an entry gone means the process exited, and its exit record reports it */
	prior_drop(&prior, claimed >= 0 ? (__u32)claimed : ~0u);
	emit_join(&s->emitter, rec);
	proc = classifier_find(&s->classifier, pid);
	if (proc)
		proc->since_attach = prior_unknown_bits(&prior, s->opts.triggers);
	report_prior(s, pid, &prior);
	report_coverage(s, pid);
}

void cgroup_target_write(struct snaptrig_bpf *skel, const struct cgroup_target *t)
{
	skel->bss->cgroup_target_id = t->id;
	/* a longer path, or none, is left empty, so only the polling follows it */
	if (t->kernel_path && strlen(t->kernel_path) < ST_CGROUP_PATH_LEN - 1)
		memcpy((char *)skel->rodata->targ_cgroup_path, t->kernel_path,
		       strlen(t->kernel_path) + 1);
}

/*
 * Writes the join line of pid, which the agent found in a cgroup that
 * appeared at the --cgroup path, then its lines as for a process found at
 * start. The kernel sent no join record for it, because it entered the
 * cgroup before the agent updated cgroup_target_id.
 */
static void report_found_member(struct session *s, size_t i)
{
	struct st_join_record rec = {
		.hdr = {
			.kind = ST_REC_JOIN,
			.size = sizeof(rec),
			.flags = ST_RECORD_AGENT,
			.boot_ns = boot_now_ns(),
			.pid = (__u32)s->targets[i],
			.tid = (__u32)s->targets[i],
		},
	};

	rec.ppid = (__u32)parent_of(s->targets[i]);
	read_comm(s->targets[i], rec.hdr.comm);
	/* the join line takes its cgroup fields from the remembered ones */
	container_seed(rec.hdr.pid, 1);
	emit_join(&s->emitter, &rec);
	report_target(s, i);
}

/*
 * Traces the processes of the subtree at the --cgroup path. Call after the
 * kernel side compares against the new cgroup's id. A process that entered
 * before that update is found here, and one that enters later sends a join
 * record. A process the kernel traces already is skipped.
 */
static void cgroup_attach_found(struct session *s)
{
	size_t i, first = s->target_count;
	int err;

	err = attach_tree(s, s->opts.cgroup.dir, 0);
	if (err)
		log_error("cannot walk cgroup %s: %s; processes in it that were not found are not traced until they move",
			  s->opts.cgroup.dir, strerror(-err));
	for (i = first; i < s->target_count; i++) {
		log_info(1, "process %d is in cgroup %s: tracing it", s->targets[i],
			 s->opts.cgroup.path);
		uprobes_add_process(s->uprobes, s->targets[i]);
		report_found_member(s, i);
	}
	/* s->targets lists the processes traced from the start only */
	s->target_count = first;
}

/*
 * Looks at the --cgroup path every CGROUP_CHECK_NS from the event loop.
 * handle_cgroup_mkdir() updates the id in the kernel at the mkdir, so for a
 * path that fits targ_cgroup_path this check only writes the notices and
 * walks the new cgroup. Polling, not inotify on the parent directory:
 * inotify does report mkdir and rmdir on cgroup2 (Linux 6.18), but its
 * watch ends when the parent is removed too, as when a whole slice goes.
 * A stat() and a statfs() ten times a second cost little.
 */
void cgroup_target_check(struct session *s, __u64 now)
{
	struct cgroup_target *t = &s->opts.cgroup;
	char path[PATH_MAX * 4 + 1];
	__u64 id, kernel_id;

	if (!t->id || now < s->next_cgroup_check_ns)
		return;
	s->next_cgroup_check_ns = now + CGROUP_CHECK_NS;
	/* read before the path, so an id the kernel writes after the stat() stays */
	kernel_id = __atomic_load_n(&s->tracer.skel->bss->cgroup_target_id, __ATOMIC_SEQ_CST);
	id = cgroup_dir_id(t->dir);
	if (id == t->id)
		return;
	/* PATH is a name the operator gave, but it may hold any byte but '/' */
	text_safe(path, sizeof(path), t->path, strlen(t->path));
	if (!t->removed) {
		log_info(0, "cgroup %s was removed; the processes traced from it stay traced until they exit, and a cgroup created again at %s will be traced",
			 path, path);
		t->removed = 1;
	}
	if (!id)
		return;
	t->id = id;
	t->removed = 0;
	/*
	 * handle_cgroup_mkdir() has written the new id already unless the path
	 * is too long for it. The exchange leaves alone an id that it wrote for
	 * a cgroup newer still.
	 */
	__atomic_compare_exchange_n(&s->tracer.skel->bss->cgroup_target_id, &kernel_id, id, 0,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	log_info(0, "cgroup %s was created again (id %llu); tracing the processes in it",
		 path, (unsigned long long)id);
	cgroup_attach_found(s);
}
