// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The state of a process before snaptrig attached to it. The kernel side gets
 * only what happens after the procs entry exists, so for an attached
 * process the agent reads /proc once, right after it created the entry. A
 * socket that is listening already means first-listen is past. A stdin file
 * read part of the way means first-stdin is past. The agent then sets their
 * once bits in the entry, so no later call is reported as the first one,
 * and reports with "source":"attach" those whose bits the kernel had not set
 * already. The name of a listening unix socket comes from a unix_diag
 * request, because /proc/net/unix garbles some bytes of abstract names.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "prior.h"

#define TCP_LISTEN_STATE 0x0A		/* TCP_LISTEN in /proc/net/tcp's st column */
#define UNIX_ACCEPTCON_FLAG 0x10000	/* __SO_ACCEPTCON in /proc/net/unix's Flags */
#define DIAG_NO_COOKIE 0xffffffffU	/* INET_DIAG_NOCOOKIE: find the socket by inode alone */

struct socket_fd {
	unsigned long inode;
	int fd;
};

/*
 * Collects the socket inodes that the descriptors under proc (a /proc
 * directory of the process) refer to, in an array that grows with them.
 * Returns their number. *out is NULL when there are none or memory ran out.
 */
static size_t socket_fds(const char *proc, struct socket_fd **out)
{
	char dir[PATH_MAX], path[PATH_MAX], link[64];
	struct socket_fd *fds = NULL;
	struct dirent *entry;
	size_t n = 0, cap = 0;
	DIR *d;

	*out = NULL;
	if (snprintf(dir, sizeof(dir), "%s/fd", proc) >= (int)sizeof(dir))
		return 0;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((entry = readdir(d))) {
		unsigned long inode;
		ssize_t len;

		if (entry->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name) >= (int)sizeof(path))
			continue;
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &inode) != 1)
			continue;
		if (n == cap) {
			size_t grown_cap = cap ? cap * 2 : 64;
			struct socket_fd *grown = realloc(fds, grown_cap * sizeof(*grown));

			if (!grown) {
				free(fds);
				closedir(d);
				return 0;
			}
			fds = grown;
			cap = grown_cap;
		}
		fds[n].inode = inode;
		fds[n].fd = atoi(entry->d_name);
		n++;
	}
	closedir(d);
	*out = fds;
	return n;
}

static int compare_socket_fds(const void *a, const void *b)
{
	const struct socket_fd *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/*
 * Returns the lowest descriptor of fds, sorted by compare_socket_fds(), that
 * refers to inode, or -1. A process with many connections has as many lines
 * in /proc/net/tcp, so each lookup is a binary search.
 */
static int fd_of_inode(const struct socket_fd *fds, size_t n, unsigned long inode)
{
	size_t low = 0, high = n;

	while (low < high) {
		size_t mid = low + (high - low) / 2;

		if (fds[mid].inode < inode)
			low = mid + 1;
		else
			high = mid;
	}
	return low < n && fds[low].inode == inode ? fds[low].fd : -1;
}

/* Keeps the listening socket with the lowest descriptor. */
static void consider(struct prior_state *p, int fd)
{
	if (fd < 0 || (p->listening && fd >= p->listen.fd))
		return;
	memset(&p->listen, 0, sizeof(p->listen));
	p->listen.fd = fd;
	p->listening = 1;
}

/*
 * Reads /proc/PID/net/tcp or tcp6, whose addresses are hex words in host
 * order, for listening sockets of the process.
 */
static void scan_tcp(struct prior_state *p, const char *proc, int family,
		     const struct socket_fd *fds, size_t n)
{
	char path[PATH_MAX], line[512], addr[33];
	unsigned int port, state;
	unsigned long inode;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/net/%s", proc,
		     family == AF_INET ? "tcp" : "tcp6") >= (int)sizeof(path))
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		__u32 words[4];
		int fd, i, nwords = family == AF_INET ? 1 : 4;

		if (sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*u %*u %lu",
			   addr, &port, &state, &inode) != 4 || state != TCP_LISTEN_STATE)
			continue;
		if (strlen(addr) != (size_t)nwords * 8)
			continue;
		fd = fd_of_inode(fds, n, inode);
		if (fd < 0 || (p->listening && fd >= p->listen.fd))
			continue;
		for (i = 0; i < nwords; i++) {
			char word[9];

			memcpy(word, addr + i * 8, 8);
			word[8] = '\0';
			words[i] = (__u32)strtoul(word, NULL, 16);
		}
		consider(p, fd);
		p->listen.family = family;
		p->listen.port = port;
		memcpy(p->listen.addr, words, nwords * 4);
	}
	fclose(f);
}

/*
 * Opens a NETLINK_SOCK_DIAG socket in the network namespace of pid, because
 * unix_diag finds only the sockets of the namespace that its socket was made
 * in. Returns the descriptor, or -errno.
 */
static int diag_socket_of(pid_t pid, const char *proc)
{
	struct stat own_stat, target_stat;
	int own_ns, target_ns, fd;
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/ns/net", proc) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	target_ns = open(path, O_RDONLY | O_CLOEXEC);
	if (target_ns < 0)
		return -errno;
	own_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own_ns < 0) {
		fd = -errno;
		goto close_target;
	}
	if (fstat(own_ns, &own_stat) || fstat(target_ns, &target_stat)) {
		fd = -errno;
		goto close_own;
	}
	if (own_stat.st_ino == target_stat.st_ino && own_stat.st_dev == target_stat.st_dev) {
		fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		fd = fd < 0 ? -errno : fd;
		goto close_own;
	}

	/* setns() moves only this thread, and only until the second call */
	if (setns(target_ns, CLONE_NEWNET)) {
		fd = -errno;
		goto close_own;
	}
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	fd = fd < 0 ? -errno : fd;
	if (setns(own_ns, CLONE_NEWNET))
		log_error("returning to snaptrig's network namespace from that of pid %d failed: %s; sockets it opens from now on are in that namespace, so restart snaptrig",
			  pid, strerror(errno));
close_own:
	close(own_ns);
close_target:
	close(target_ns);
	return fd;
}

/*
 * Sends a unix_diag request on fd for the name of the unix socket with inode
 * number inode. Returns the length of the reply in reply, or -errno.
 */
static ssize_t diag_request_name(int fd, unsigned long inode, void *reply, size_t size)
{
	struct {
		struct nlmsghdr header;
		struct unix_diag_req request;
	} message = {
		.header = {
			.nlmsg_len = sizeof(message),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST,
		},
		.request = {
			.sdiag_family = AF_UNIX,
			.udiag_states = ~0U,
			.udiag_ino = (__u32)inode,
			.udiag_show = UDIAG_SHOW_NAME,
			.udiag_cookie = { DIAG_NO_COOKIE, DIAG_NO_COOKIE },
		},
	};
	ssize_t n;

	if (send(fd, &message, sizeof(message), 0) < 0)
		return -errno;
	/* the kernel queues the reply before send() returns */
	n = recv(fd, reply, size, MSG_DONTWAIT);
	return n < 0 ? -errno : n;
}

/*
 * Copies the UNIX_DIAG_NAME attribute of a unix_diag reply of n bytes about
 * the socket with inode number inode to the sun_path of rec. Returns 0, or
 * -errno.
 */
static int diag_parse_name(const struct nlmsghdr *header, ssize_t n, unsigned long inode,
			   struct st_listen_record *rec)
{
	const struct unix_diag_msg *msg = NLMSG_DATA(header);
	const struct rtattr *attr;
	size_t len;
	int attrs_len;

	if (!NLMSG_OK(header, (size_t)n))
		return -EBADMSG;
	if (header->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *err = NLMSG_DATA(header);

		if (header->nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
			return -EBADMSG;
		return err->error < 0 ? err->error : -EBADMSG;
	}
	if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    header->nlmsg_len < NLMSG_LENGTH(sizeof(*msg)))
		return -EBADMSG;
	if (msg->udiag_ino != (__u32)inode)
		return -ESTALE;

	attr = (const struct rtattr *)((const char *)msg + NLMSG_ALIGN(sizeof(*msg)));
	attrs_len = (int)(header->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*msg))));
	for (; RTA_OK(attr, attrs_len); attr = RTA_NEXT(attr, attrs_len)) {
		if (attr->rta_type != UNIX_DIAG_NAME)
			continue;
		len = RTA_PAYLOAD(attr);
		if (len > ST_SUN_PATH_LEN)
			len = ST_SUN_PATH_LEN;
		memset(rec->sun_path, 0, sizeof(rec->sun_path));
		memcpy(rec->sun_path, RTA_DATA(attr), len);
		rec->sun_path_len = (__u32)len;
		return 0;
	}
	return -ENOENT;
}

/*
 * Reads the name of the unix socket of pid with inode number inode into rec,
 * every byte of it, which /proc/net/unix does not show. Returns 0, or -errno.
 */
static int diag_unix_name(pid_t pid, const char *proc, unsigned long inode,
			  struct st_listen_record *rec)
{
	union {
		struct nlmsghdr header;
		char bytes[1024];
	} reply;
	ssize_t n;
	int fd;

	fd = diag_socket_of(pid, proc);
	if (fd < 0)
		return fd;
	n = diag_request_name(fd, inode, &reply, sizeof(reply));
	close(fd);
	if (n < 0)
		return (int)n;
	return diag_parse_name(&reply.header, n, inode, rec);
}

/* Reads /proc/PID/net/unix for sockets of the process that accept connections. */
static void scan_unix(struct prior_state *p, pid_t pid, const char *proc,
		      const struct socket_fd *fds, size_t n)
{
	char path[PATH_MAX], line[512 + ST_SUN_PATH_LEN];
	unsigned long inode, listen_inode = 0;
	unsigned int flags;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/net/unix", proc) >= (int)sizeof(path))
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		size_t len;
		int fd, at = 0;
		char *name;

		if (sscanf(line, "%*s %*x %*x %x %*x %*x %lu %n", &flags, &inode, &at) < 2 ||
		    !(flags & UNIX_ACCEPTCON_FLAG))
			continue;
		fd = fd_of_inode(fds, n, inode);
		if (fd < 0 || (p->listening && fd >= p->listen.fd))
			continue;
		consider(p, fd);
		p->listen.family = AF_UNIX;
		listen_inode = inode;
		/*
		 * The rest of the line, spaces included, is the name that unix_diag
		 * replaces below. The kernel prints each '\0' of an abstract name as
		 * '@', and a '\n' in the name ends the line.
		 */
		name = at ? line + at : line + strlen(line);
		len = strcspn(name, "\n");
		if (len > ST_SUN_PATH_LEN)
			len = ST_SUN_PATH_LEN;
		memcpy(p->listen.sun_path, name, len);
		p->listen.sun_path_len = (__u32)len;
		if (name[0] == '@')
			p->listen.sun_path[0] = '\0';
	}
	fclose(f);

	/* NOTE: the name stays /proc's when unix_diag fails, as in a namespace setns() cannot enter */
	if (p->listening && p->listen.family == AF_UNIX && listen_inode)
		diag_unix_name(pid, proc, listen_inode, &p->listen);
}

/*
 * Whether the stdin of pid is a file that was read or moved past its start.
 * NOTE: a read in progress has not moved the offset yet, and the kernel
 * hooks missed its start, so a single such read gets no line.
 */
static void scan_stdin(struct prior_state *p, const char *proc)
{
	char path[PATH_MAX], line[128];
	unsigned long long pos;
	struct stat st;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/fd/0", proc) >= (int)sizeof(path) ||
	    stat(path, &st) || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return;
	if (snprintf(path, sizeof(path), "%s/fdinfo/0", proc) >= (int)sizeof(path))
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "pos: %llu", &pos) == 1 && pos > 0) {
			p->stdin_read = 1;
			p->stdin_pos = pos;
		}
	}
	fclose(f);
}

char proc_stat_state(const char *path)
{
	char buf[512], *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may contain spaces and parentheses, so the state follows the last ')' */
	end = strrchr(buf, ')');
	return end && end[1] == ' ' ? end[2] : 0;
}

void proc_live_dir(pid_t pid, char *dir, size_t size)
{
	char path[PATH_MAX];
	struct dirent *entry;
	char state;
	DIR *d;

	snprintf(dir, size, "/proc/%d", pid);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (proc_stat_state(path) != 'Z')
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((entry = readdir(d))) {
		if (entry->d_name[0] == '.' || atoi(entry->d_name) == pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, entry->d_name);
		state = proc_stat_state(path);
		if (state && state != 'Z' && state != 'X') {
			snprintf(dir, size, "/proc/%d/task/%s", pid, entry->d_name);
			break;
		}
	}
	closedir(d);
}

void prior_scan(pid_t pid, __u32 triggers, struct prior_state *p)
{
	struct socket_fd *fds;
	char proc[PATH_MAX];
	size_t n;

	memset(p, 0, sizeof(*p));
	proc_live_dir(pid, proc, sizeof(proc));
	if (triggers & ST_TRIG_BIT(ST_TRIG_FIRST_STDIN))
		scan_stdin(p, proc);
	if (!(triggers & ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN)))
		return;
	n = socket_fds(proc, &fds);
	if (n) {
		qsort(fds, n, sizeof(*fds), compare_socket_fds);
		scan_tcp(p, proc, AF_INET, fds, n);
		scan_tcp(p, proc, AF_INET6, fds, n);
		scan_unix(p, pid, proc, fds, n);
	}
	free(fds);
}

__u32 prior_once_bits(const struct prior_state *p)
{
	return (p->listening ? ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) : 0) |
	       (p->stdin_read ? ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) : 0);
}

void prior_drop(struct prior_state *p, __u32 once)
{
	if (once & ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN))
		p->listening = 0;
	if (once & ST_TRIG_BIT(ST_TRIG_FIRST_STDIN))
		p->stdin_read = 0;
}

__u32 prior_unknown_bits(const struct prior_state *p, __u32 triggers)
{
	__u32 once = ST_TRIG_BIT(ST_TRIG_FIRST_LISTEN) | ST_TRIG_BIT(ST_TRIG_FIRST_STDIN) |
		     ST_TRIG_BIT(ST_TRIG_FIRST_ENVIRON) | ST_TRIG_BIT(ST_TRIG_FIRST_SIGINT);

	return once & triggers & ~prior_once_bits(p);
}
