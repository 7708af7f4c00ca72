// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "classify.h"
#include "corebtf.h"
#include "environ.skel.h"
#include "links.h"
#include "log.h"
#include "marker.skel.h"
#include "prior.h"
#include "snaptrig.skel.h"
#include "tracer.h"
#include "usdt.h"
#include "uprobes.h"

/* Records an exec's image, then how long until its libraries are looked at again. */
#define RESCAN_DELAY_NS 100000000ULL
#define RESCANS_MAX 256

/* Cookie of handle_environ_uprobe: source in the low byte, probe index above. */
#define ENVIRON_COOKIE(source, probe) ((__u64)(source) | ((__u64)(probe) << 8))

enum marker_probe {
	MARKER_SNAPSHOT,
	MARKER_TRANSACTION,
	MARKER_COUNT,
};

static const char *const marker_names[MARKER_COUNT] = {
	[MARKER_SNAPSHOT] = "snapshot",
	[MARKER_TRANSACTION] = "transaction",
};

/*
 * The identity of a file to the agent: its inode and the inode's change
 * time. A file system may give a deleted file's inode number to a new file,
 * and the change time distinguishes the two.
 */
struct file_id {
	dev_t dev;
	ino_t ino;
	struct timespec ctime;
};

/*
 * A file already examined. One with probes attached keeps its inode alive,
 * because each uprobe holds a reference to its file, so its number cannot
 * go to another file and its own change of ctime (a chmod, a rename) does
 * not make it new. One without probes is examined again when its ctime
 * changes, which costs a look at its ELF notes.
 */
struct examined_file {
	struct file_id id;
	bool probed;
};

struct rescan {
	__u64 due_ns;
	pid_t pid;
};

struct uprobes {
	struct environ_bpf *environ;	/* NULL unless first-environ is selected */
	struct marker_bpf *marker;	/* NULL unless explicit or transaction is */
	__u32 triggers;
	struct bpf_link **links;
	size_t link_count;
	size_t link_cap;
	struct examined_file *files;
	size_t file_count;
	size_t file_cap;
	struct snaptrig_bpf *main_skel;	/* its images map, and the switch of exec stops */
	unsigned int marker_sites;	/* places of the attached markers */
	unsigned int marker_room;	/* places at most, --marker-sites */
	bool markers_off;		/* no more markers are attached, see attach_markers() */
	struct rescan rescans[RESCANS_MAX];
	size_t rescan_count;
};

static int keep_link(struct uprobes *u, struct bpf_link *link)
{
	if (u->link_count == u->link_cap) {
		size_t cap = u->link_cap ? u->link_cap * 2 : 16;
		struct bpf_link **grown = realloc(u->links, cap * sizeof(*grown));

		if (!grown) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		u->links = grown;
		u->link_cap = cap;
	}
	u->links[u->link_count++] = link;
	return 0;
}

static struct file_id stat_file_id(const struct stat *st)
{
	return (struct file_id){ .dev = st->st_dev, .ino = st->st_ino, .ctime = st->st_ctim };
}

static struct file_id image_file_id(const struct st_image *image)
{
	return (struct file_id){
		.dev = user_dev(image->dev),
		.ino = image->ino,
		.ctime = { .tv_sec = image->ctime_sec, .tv_nsec = image->ctime_nsec },
	};
}

static struct examined_file *find_examined(const struct uprobes *u, const struct file_id *id)
{
	size_t i;

	for (i = 0; i < u->file_count; i++)
		if (u->files[i].id.dev == id->dev && u->files[i].id.ino == id->ino)
			return &u->files[i];
	return NULL;
}

static int was_examined(const struct uprobes *u, const struct file_id *id)
{
	const struct examined_file *f = find_examined(u, id);

	return f && (f->probed || (f->id.ctime.tv_sec == id->ctime.tv_sec &&
				   f->id.ctime.tv_nsec == id->ctime.tv_nsec));
}

/* Returns 1 when the file was examined before, else records it and returns 0. */
static int seen_before(struct uprobes *u, const struct file_id *id)
{
	struct examined_file *f;

	if (was_examined(u, id))
		return 1;
	/* a new file at a reused inode number, or one changed since */
	f = find_examined(u, id);
	if (f) {
		f->id = *id;
		return 0;
	}
	if (u->file_count == u->file_cap) {
		size_t cap = u->file_cap ? u->file_cap * 2 : 32;
		struct examined_file *grown = realloc(u->files, cap * sizeof(*grown));

		if (!grown)
			return 1;
		u->files = grown;
		u->file_cap = cap;
	}
	u->files[u->file_count].id = *id;
	u->files[u->file_count].probed = false;
	u->file_count++;
	return 0;
}

/* glibc's libc.so.6 and musl's libc.so, also installed as ld-musl-ARCH.so.1. */
static int is_libc(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strcmp(base, "libc.so.6") || !strcmp(base, "libc.so") ||
	       (!strncmp(base, "ld-musl-", 8) && strstr(base, ".so.1"));
}

/* Attaches symbol of the file that path opens. name is the file's name for messages. */
static int attach_environ_symbol(struct uprobes *u, const char *path, const char *name,
				 const char *symbol, __u64 cookie, int quiet)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = symbol, .bpf_cookie = cookie);
	struct bpf_link *link;
	int err;

	log_quiet_libbpf(quiet);
	/*
	 * NOTE: pid -1 puts the breakpoint into every process that maps the
	 * file, so every getenv on the machine traps while snaptrig runs. A
	 * probe per traced process would need an attach before each new
	 * process's first call, which the exec path does not wait for.
	 */
	link = bpf_program__attach_uprobe_opts(u->environ->progs.handle_environ_uprobe, -1,
					       path, 0, &opts);
	log_quiet_libbpf(0);
	if (!link) {
		err = -errno;
		log_info(1, "no uprobe on %s in %s: %s", symbol, name, strerror(-err));
		return err;
	}
	log_info(2, "uprobe on %s in %s", symbol, name);
	return keep_link(u, link);
}

static void attach_libc(struct uprobes *u, const char *path, const char *name)
{
	int err = attach_environ_symbol(u, path, name, "getenv",
					ENVIRON_COOKIE(ST_ENVIRON_GETENV, 0), 0);

	/* without it first-environ is blind for every process that maps this file */
	if (err)
		log_error("attaching the first-environ uprobe on getenv in %s failed: %s; first-environ does not see the processes that use this libc",
			  name, strerror(-err));
	/* older musl builds lack secure_getenv */
	attach_environ_symbol(u, path, name, "secure_getenv",
			      ENVIRON_COOKIE(ST_ENVIRON_SECURE_GETENV, 0), 1);
}

/*
 * Writes "the snapshot marker (2 places) and the transaction marker (1 place)"
 * to buf for the markers in wanted from first on, sets *count to how many
 * there are, and returns their places.
 */
static unsigned int list_markers(unsigned int wanted, int first, const unsigned int *sites,
				 char *buf, size_t len, unsigned int *count)
{
	unsigned int places = 0;
	size_t used = 0;
	int i, n;

	buf[0] = '\0';
	*count = 0;
	for (i = first; i < MARKER_COUNT; i++) {
		if (!(wanted & (1u << i)))
			continue;
		n = snprintf(buf + used, len - used, "%sthe %s marker (%u place%s)",
			     *count ? " and " : "", marker_names[i], sites[i],
			     sites[i] == 1 ? "" : "s");
		if (n > 0)
			used += (size_t)n < len - used ? (size_t)n : len - used - 1;
		places += sites[i];
		(*count)++;
	}
	return places;
}

/*
 * Logs that the markers of path from first on are not attached, because they
 * need more places than --marker-sites leaves, and that later files get none.
 */
static void report_marker_limit(const struct uprobes *u, const char *path, unsigned int wanted,
				int first, const unsigned int *sites)
{
	char markers[128], hint[96];
	unsigned int count, needed;

	needed = u->marker_sites + list_markers(wanted, first, sites, markers, sizeof(markers),
						&count);
	if (needed <= MARKER_SITES_MAX)
		snprintf(hint, sizeof(hint), "raise --marker-sites to at least %u", needed);
	else
		snprintf(hint, sizeof(hint), "%u places are needed, more than the maximum --marker-sites %u",
			 needed, MARKER_SITES_MAX);
	log_error("marker limit reached: %u of --marker-sites %u places are in use, so %s in %s %s not attached, and no marker of a file examined later will be (%s)",
		  u->marker_sites, u->marker_room, markers, path, count > 1 ? "are" : "is", hint);
}

/* Logs a failed attach of marker first of path, like report_marker_limit(). */
static void report_marker_failure(const char *path, unsigned int wanted, int first,
				  const unsigned int *sites, int err)
{
	char markers[128];
	unsigned int count;

	list_markers(wanted, first, sites, markers, sizeof(markers), &count);
	log_error("attaching the %s marker in %s failed: %s, so %s in %s %s not attached, and no marker of a file examined later will be",
		  marker_names[first], path, strerror(err), markers, path,
		  count > 1 ? "are" : "is");
}

/*
 * Attaches the markers of the file that path opens, one kind at a time, and
 * names the file name in messages. The first kind that does not fit in
 * --marker-sites or fails to attach turns the markers off. That kind, the
 * kinds after it in the file and every later file then get none.
 */
static void attach_markers(struct uprobes *u, const char *path, const char *name)
{
	static const enum st_trigger needs[MARKER_COUNT] = {
		[MARKER_SNAPSHOT] = ST_TRIG_EXPLICIT,
		[MARKER_TRANSACTION] = ST_TRIG_TRANSACTION,
	};
	struct bpf_program *progs[MARKER_COUNT] = {
		[MARKER_SNAPSHOT] = u->marker->progs.handle_marker_snapshot,
		[MARKER_TRANSACTION] = u->marker->progs.handle_marker_transaction,
	};
	unsigned int found = 0, wanted = 0, sites[MARKER_COUNT];
	int i, err;

	err = usdt_file_probes(path, USDT_PROVIDER, marker_names, MARKER_COUNT, &found, sites);
	if (err) {
		if (err != -ENOEXEC)
			log_info(2, "cannot read the ELF notes of %s: %s", name, strerror(-err));
		return;
	}
	for (i = 0; i < MARKER_COUNT; i++)
		if ((found & (1u << i)) && (u->triggers & ST_TRIG_BIT(needs[i])))
			wanted |= 1u << i;
	for (i = 0; i < MARKER_COUNT; i++) {
		struct bpf_link *link;

		if (!(wanted & (1u << i)))
			continue;
		if (u->markers_off) {
			log_info(1, "not attaching the %s marker in %s: an earlier file reached --marker-sites or failed to attach",
				 marker_names[i], name);
			continue;
		}
		/*
		 * libbpf uses at most one spec map entry per place of a marker.
		 * libbpf 1.1 frees its list of free entries twice after a second
		 * failed attach, so the agent stops before the map is full and
		 * after any failure. NOTE: markers stay attached until exit, even
		 * when no process runs their file any more.
		 */
		if (u->marker_sites + sites[i] > u->marker_room) {
			/*
			 * NOTE: the markers left out are named on stderr only.
			 * The output gets no coverage line for them, so explicit
			 * and transaction look quiet there, not blind.
			 */
			report_marker_limit(u, name, wanted, i, sites);
			u->markers_off = true;
			return;
		}
		/*
		 * NOTE: the uprobes stay on the inode, so a file overwritten in
		 * place gets the breakpoints at the old offsets in its new code.
		 */
		link = bpf_program__attach_usdt(progs[i], -1, path, USDT_PROVIDER, marker_names[i],
						NULL);
		if (!link) {
			report_marker_failure(name, wanted, i, sites, errno);
			u->markers_off = true;
			return;
		}
		u->marker_sites += sites[i];
		log_info(1, "attached the %s marker in %s", marker_names[i], name);
		keep_link(u, link);
	}
}

/*
 * Adds a file to the kernel's images map, so that its execs and executable
 * mappings no longer stop until the agent has examined it.
 */
static void note_examined(struct uprobes *u, const struct file_id *id)
{
	struct st_image image = {
		.dev = kernel_dev(id->dev),
		.ino = id->ino,
		.ctime_sec = id->ctime.tv_sec,
		.ctime_nsec = id->ctime.tv_nsec,
	};

	uprobes_note_image(u, &image);
}

/*
 * Attaches what one file offers, once per file. path opens the file, and name
 * is the path in the process's maps, whose basename identifies a libc. The
 * file enters the images map only once its probes are attached, so a process
 * that maps it meanwhile still stops.
 */
static void examine_file(struct uprobes *u, const char *path, const char *name,
			 const struct file_id *id)
{
	size_t links = u->link_count;
	struct examined_file *f;
	char own[64];
	struct stat st;
	int fd;

	if (seen_before(u, id))
		return;
	f = find_examined(u, id);
	/*
	 * The probes go through a descriptor of the agent's own, because a
	 * process that runs on may close its descriptor or unmap the file, and
	 * a deploy may put another file at the path, while they are attached.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || st.st_dev != id->dev || st.st_ino != id->ino) {
		log_info(2, "cannot open %s to examine it: %s", name,
			 fd < 0 ? strerror(errno) : "it is another file now");
		if (fd >= 0)
			close(fd);
		/* not examined after all, so a later look at the process tries again */
		if (f)
			*f = u->files[--u->file_count];
		return;
	}
	snprintf(own, sizeof(own), "/proc/self/fd/%d", fd);
	if (u->environ && is_libc(name))
		attach_libc(u, own, name);
	if (u->marker)
		attach_markers(u, own, name);
	close(fd);
	if (f && u->link_count > links)
		f->probed = true;
	note_examined(u, id);
}

/* Adds the executable at path to the kernel's images map, as note_examined(). */
static void note_image(struct uprobes *u, const char *path)
{
	struct stat st;
	struct file_id id;

	if (stat(path, &st))
		return;
	id = stat_file_id(&st);
	note_examined(u, &id);
}

static void examine_path(struct uprobes *u, const char *path)
{
	struct stat st;
	struct file_id id;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return;
	id = stat_file_id(&st);
	examine_file(u, path, path, &id);
}

/*
 * Examines one line of the maps file under proc, a /proc directory of the
 * process, when it maps a file executable. A path that names another file in
 * the agent's mount namespace, or none (a deleted file, a memfd), is reached
 * through map_files under proc instead.
 */
static void examine_maps_line(struct uprobes *u, const char *proc, const char *line)
{
	unsigned long start, end, ino;
	unsigned int major_nr, minor_nr;
	char perms[5], path[PATH_MAX], *deleted;
	struct file_id id = {};
	struct stat st;
	int path_at = 0;

	if (sscanf(line, "%lx-%lx %4s %*x %x:%x %lu %n", &start, &end, perms, &major_nr,
		   &minor_nr, &ino, &path_at) != 6 || !path_at)
		return;
	if (perms[2] != 'x' || line[path_at] != '/')
		return;
	snprintf(path, sizeof(path), "%s", line + path_at);
	path[strcspn(path, "\n")] = '\0';
	/* the name stays in messages, and stat() below fails or finds another file */
	deleted = strstr(path, " (deleted)");
	if (deleted && !deleted[strlen(" (deleted)")])
		*deleted = '\0';
	id.dev = makedev(major_nr, minor_nr);
	id.ino = ino;
	if (stat(path, &st) || st.st_dev != id.dev || st.st_ino != id.ino) {
		char mapped[PATH_MAX];

		if (snprintf(mapped, sizeof(mapped), "%s/map_files/%lx-%lx", proc, start, end) >=
		    (int)sizeof(mapped))
			return;
		/* without the change time, a file examined before counts as the same */
		if (!stat(mapped, &st) && st.st_dev == id.dev && st.st_ino == id.ino)
			id = stat_file_id(&st);
		examine_file(u, mapped, path, &id);
		return;
	}
	id = stat_file_id(&st);
	examine_file(u, path, path, &id);
}

int uprobes_add_process(struct uprobes *u, pid_t pid)
{
	char proc[PATH_MAX], path[PATH_MAX], line[PATH_MAX + 128];
	int mappings = 0;
	FILE *maps;

	if (!u)
		return -ENOENT;
	/* the maps of a zombie leader are empty, but a live thread shows the process's */
	proc_live_dir(pid, proc, sizeof(proc));
	if (snprintf(path, sizeof(path), "%s/maps", proc) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	maps = fopen(path, "re");
	if (!maps)
		return -ENOENT;
	while (fgets(line, sizeof(line), maps)) {
		examine_maps_line(u, proc, line);
		mappings++;
	}
	fclose(maps);
	if (snprintf(path, sizeof(path), "%s/exe", proc) < (int)sizeof(path))
		note_image(u, path);
	return mappings ? 0 : -ENOENT;
}

void uprobes_add_command(struct uprobes *u, char *const *command)
{
	char path[PATH_MAX];

	if (!u || !u->marker || !command || !command[0])
		return;
	if (usdt_resolve_command(command[0], getenv("PATH"), path, sizeof(path)))
		return;	/* the launch reports the missing command */
	examine_path(u, path);
}

static void schedule_rescan(struct uprobes *u, pid_t pid, __u64 due_ns)
{
	size_t i;

	for (i = 0; i < u->rescan_count; i++)
		if (u->rescans[i].pid == pid)
			break;
	if (i == u->rescan_count) {
		if (u->rescan_count == RESCANS_MAX) {
			log_info(1, "too many processes exec'd at once; the libraries of pid %d are not examined again",
				 pid);
			return;
		}
		u->rescan_count++;
	}
	u->rescans[i].pid = pid;
	u->rescans[i].due_ns = due_ns;
}

/*
 * Whether the image that rec loaded was examined before. At its exec only the
 * image and its interpreter are mapped, so such an exec needs no scan, which
 * saved about 90 us of agent CPU per exec here. The libraries come in image
 * records, and the rescan finds those whose record did not come.
 */
static int image_examined(const struct uprobes *u, const struct st_exec_record *rec)
{
	struct file_id id = image_file_id(&rec->image);

	return was_examined(u, &id);
}

int uprobes_on_exec(struct uprobes *u, const struct st_exec_record *rec)
{
	if (!u)
		return 0;
	/*
	 * The dynamic loader maps the libraries after the exec record. Each new
	 * one comes in an image record, and the rescan RESCAN_DELAY_NS later
	 * catches those whose record was lost or that send none (an mprotect
	 * loader, or a 32-bit program without the ia32 hook).
	 */
	schedule_rescan(u, rec->hdr.pid, rec->hdr.boot_ns + RESCAN_DELAY_NS);
	/* the exec of an image not examined before waits stopped (ST_RECORD_HOOK_HELD) */
	return (rec->hdr.flags & ST_RECORD_HOOK_HELD) || !image_examined(u, rec);
}

void uprobes_on_image(struct uprobes *u, const struct st_image_record *rec)
{
	struct file_id id = image_file_id(&rec->image);
	char path[64], name[PATH_MAX], *deleted;
	struct stat st;
	ssize_t len;

	if (!u)
		return;
	/* the thread's own table, in case it does not share its process's */
	snprintf(path, sizeof(path), "/proc/%u/fd/%d", rec->hdr.tid, rec->fd);
	len = readlink(path, name, sizeof(name) - 1);
	if (len > 0 && !stat(path, &st) && st.st_dev == id.dev && st.st_ino == id.ino) {
		name[len] = '\0';
		deleted = strstr(name, " (deleted)");
		if (deleted && !deleted[strlen(" (deleted)")])
			*deleted = '\0';
		examine_file(u, path, name, &id);
	}
	/* a process that was not stopped may have closed the descriptor, so read its maps */
	if (!was_examined(u, &id) && uprobes_add_process(u, rec->hdr.pid))
		return;
	/*
	 * By the kernel's identity of the file, which stat() may not give (an
	 * overlayfs file whose lower layer is on another file system), and
	 * also when it was examined before, since the LRU map may have dropped it.
	 */
	uprobes_note_image(u, &rec->image);
}

void uprobes_note_image(struct uprobes *u, const struct st_image *image)
{
	__u8 examined = 1;

	if (u && bpf_map_update_elem(bpf_map__fd(u->main_skel->maps.images), image, &examined,
				     BPF_ANY))
		log_info(2, "cannot add the file of device %llu, inode %llu to the examined images: %s",
			 (unsigned long long)image->dev, (unsigned long long)image->ino,
			 strerror(errno));
}

void uprobes_on_exit(struct uprobes *u, pid_t pid)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->rescan_count; i++) {
		if (u->rescans[i].pid == pid) {
			u->rescans[i] = u->rescans[--u->rescan_count];
			return;
		}
	}
}

void uprobes_tick(struct uprobes *u, __u64 now_ns)
{
	size_t i = 0;

	if (!u)
		return;
	while (i < u->rescan_count) {
		if (u->rescans[i].due_ns > now_ns) {
			i++;
			continue;
		}
		uprobes_add_process(u, u->rescans[i].pid);
		u->rescans[i] = u->rescans[--u->rescan_count];
	}
}

/* Libraries that may be a libc at fixed paths; the agent's own libc is found in its maps. */
static const char *const libc_candidates[] = {
	"/lib/ld-musl-x86_64.so.1",
	"/usr/lib/x86_64-linux-musl/libc.so",
	"/lib/ld-musl-aarch64.so.1",
	"/usr/lib/aarch64-linux-musl/libc.so",
};

static int attach_open_hooks(struct uprobes *u)
{
	struct bpf_program *progs[] = {
		u->environ->progs.handle_environ_open,
		u->environ->progs.handle_environ_openat,
		u->environ->progs.handle_environ_openat2,
	};
	size_t i, attached = 0;

	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_link *link;

		log_quiet_libbpf(1);
		link = bpf_program__attach(progs[i]);
		log_quiet_libbpf(0);
		if (!link) {
			/* sys_exit_open is missing where the architecture has no open(2) */
			log_info(1, "%s not attached: %s", bpf_program__name(progs[i]),
				 strerror(errno));
			continue;
		}
		if (keep_link(u, link))
			return -ENOMEM;
		attached++;
	}
	if (!attached) {
		log_error("attaching the open hooks of first-environ failed; check with --check");
		return -ENOENT;
	}
	return 0;
}

/*
 * Logs why the uprobe of --environ-probe p did not attach. Returns -EINVAL
 * when the file is not ELF or does not define the symbol, because that is a
 * bad value of the option, else err.
 */
static int report_environ_probe_error(const struct environ_probe *p, int err)
{
	char reason[128];

	switch (usdt_file_symbol(p->binary, p->symbol)) {
	case -ENOEXEC:
		log_error("invalid probe '%s:%s' for --environ-probe: '%s' is not an ELF file; give a program or shared library",
			  p->binary, p->symbol, p->binary);
		return -EINVAL;
	case USDT_SYMBOL_IMPORTED:
		log_error("invalid probe '%s:%s' for --environ-probe: '%s' only imports %s and does not define it; give the library that defines it (ldd %s lists them)",
			  p->binary, p->symbol, p->binary, p->symbol, p->binary);
		return -EINVAL;
	case USDT_SYMBOL_MISSING:
		log_error("invalid probe '%s:%s' for --environ-probe: '%s' does not define %s; check the name with nm -D %s, or nm %s for a static binary",
			  p->binary, p->symbol, p->binary, p->symbol, p->binary, p->binary);
		return -EINVAL;
	}
	libbpf_strerror(err, reason, sizeof(reason));
	log_error("attaching --environ-probe %s:%s failed: %s; rerun with -v for libbpf's warnings",
		  p->binary, p->symbol, reason);
	return err;
}

static int attach_environ_probes(struct uprobes *u, const struct options *opts)
{
	size_t i;
	int err;

	for (i = 0; i < opts->environ_probe_count; i++) {
		const struct environ_probe *p = &opts->environ_probes[i];

		err = attach_environ_symbol(u, p->binary, p->binary, p->symbol,
					    ENVIRON_COOKIE(ST_ENVIRON_PROBE, i), 0);
		if (err)
			return report_environ_probe_error(p, err);
	}
	return 0;
}

static int load_environ(struct uprobes *u, struct tracer *t)
{
	int err;

	u->environ = environ_bpf__open_opts(core_btf_open_opts());
	if (!u->environ) {
		err = -errno;
		log_error("opening the first-environ BPF object failed: %s", strerror(errno));
		return err;
	}
	TUNABLES_SET(u->environ->rodata, &t->tunables);
	err = tracer_share_maps(t, u->environ->obj);
	if (err)
		return err;
	err = tracer_load(u->environ->skeleton);
	if (err)
		log_error("loading the first-environ BPF programs failed: %s; rerun with -vvv for the verifier log",
			  strerror(-err));
	return err;
}

/* Attaches the loaded first-environ object to the agent's libc and the --environ-probe symbols. */
static int attach_environ(struct uprobes *u, const struct options *opts)
{
	size_t i;
	int err;

	err = attach_open_hooks(u);
	if (err)
		return err;
	uprobes_add_process(u, getpid());
	for (i = 0; i < sizeof(libc_candidates) / sizeof(libc_candidates[0]); i++)
		examine_path(u, libc_candidates[i]);
	return attach_environ_probes(u, opts);
}

static int load_marker(struct uprobes *u, struct tracer *t)
{
	int err;

	u->marker = marker_bpf__open_opts(core_btf_open_opts());
	if (!u->marker) {
		err = -errno;
		log_error("opening the marker BPF object failed: %s", strerror(errno));
		return err;
	}
	/* the spec map sets --marker-sites; libbpf sizes the address map 4 times larger */
	err = bpf_map__set_max_entries(u->marker->maps.__bpf_usdt_specs, u->marker_room);
	if (!err)
		err = bpf_map__set_max_entries(u->marker->maps.__bpf_usdt_ip_to_spec_id,
					       u->marker_room * 4);
	if (err) {
		log_error("sizing the marker maps failed: %s", strerror(-err));
		return err;
	}
	TUNABLES_SET(u->marker->rodata, &t->tunables);
	bpf_program__set_autoload(u->marker->progs.handle_marker_snapshot,
				  !!(u->triggers & ST_TRIG_BIT(ST_TRIG_EXPLICIT)));
	bpf_program__set_autoload(u->marker->progs.handle_marker_transaction,
				  !!(u->triggers & ST_TRIG_BIT(ST_TRIG_TRANSACTION)));
	err = tracer_share_maps(t, u->marker->obj);
	if (err)
		return err;
	err = tracer_load(u->marker->skeleton);
	if (err)
		log_error("loading the marker BPF programs failed: %s; rerun with -vvv for the verifier log",
			  strerror(-err));
	return err;
}

/*
 * Loads the marker object, then the first-environ object: one at a time,
 * because each load parses the kernel's BTF (see open_side_objects() in
 * tracer.c).
 */
static int load_objects(struct uprobes *u, struct tracer *t, bool marker, bool environ)
{
	int err = 0;

	if (marker)
		err = load_marker(u, t);
	if (!err && environ)
		err = load_environ(u, t);
	return err;
}

int uprobes_open(struct uprobes **out, struct tracer *t, const struct options *opts)
{
	const __u32 marker_triggers = ST_TRIG_BIT(ST_TRIG_EXPLICIT) |
				      ST_TRIG_BIT(ST_TRIG_TRANSACTION);
	struct uprobes *u;
	int err = 0;

	*out = NULL;
	if (!(opts->triggers & UPROBE_TRIGGERS))
		return 0;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->triggers = opts->triggers;
	u->main_skel = t->skel;
	u->marker_room = opts->marker_sites;
	err = load_objects(u, t, opts->triggers & marker_triggers,
			   opts->triggers & ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON));
	/* markers first, so the libc files the environ part examines are checked for them too */
	if (!err && u->environ)
		err = attach_environ(u, opts);
	if (err) {
		uprobes_close(u);
		return err;
	}
	t->skel->bss->image_hold = 1;
	*out = u;
	return 0;
}

int uprobes_links(struct uprobes *u, struct link_list *l)
{
	size_t i;
	int err = 0;

	if (!u)
		return 0;
	for (i = 0; i < u->link_count && !err; i++)
		err = link_list_add(l, &u->links[i]);
	if (!err && u->environ)
		err = link_list_add_skeleton(l, u->environ->skeleton);
	if (!err && u->marker)
		err = link_list_add_skeleton(l, u->marker->skeleton);
	return err;
}

void uprobes_close(struct uprobes *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->link_count; i++)
		bpf_link__destroy(u->links[i]);
	free(u->links);
	free(u->files);
	environ_bpf__destroy(u->environ);
	marker_bpf__destroy(u->marker);
	free(u);
}

/* Finds the path of the libc this agent runs with. */
static int own_libc(char *path, size_t len)
{
	char line[PATH_MAX + 128];
	FILE *maps = fopen("/proc/self/maps", "re");
	int err = -ENOENT;

	if (!maps)
		return -errno;
	while (err && fgets(line, sizeof(line), maps)) {
		char *file = strchr(line, '/');

		if (!file)
			continue;
		file[strcspn(file, "\n")] = '\0';
		if (is_libc(file) && strlen(file) < len) {
			strcpy(path, file);
			err = 0;
		}
	}
	fclose(maps);
	return err;
}

int uprobes_check_environ(void)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "getenv");
	struct environ_bpf *skel;
	struct bpf_link *link;
	char libc[PATH_MAX];
	int err = own_libc(libc, sizeof(libc));

	if (err)
		return err;
	skel = environ_bpf__open_opts(core_btf_open_opts());
	if (!skel)
		return -errno;
	err = environ_bpf__load(skel);
	if (err) {
		environ_bpf__destroy(skel);
		return err;
	}
	link = bpf_program__attach_uprobe_opts(skel->progs.handle_environ_uprobe, -1, libc, 0,
					       &opts);
	err = link ? 0 : -errno;
	bpf_link__destroy(link);
	environ_bpf__destroy(skel);
	return err;
}

int uprobes_check_markers(void)
{
	struct marker_bpf *skel = marker_bpf__open_opts(core_btf_open_opts());
	int err = skel ? marker_bpf__load(skel) : -errno;

	marker_bpf__destroy(skel);
	return err;
}
