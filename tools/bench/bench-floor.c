// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Runs COMMAND under the floor hooks, with COMMAND's pid in their map.
 * Usage: bench-floor tp|exit|raw|churn OBJECT -- COMMAND [ARG...]
 *   tp     the tp/syscalls programs on pread64 and getrandom of floor.bpf.c
 *   exit   those and the empty program on sys_exit_listen of floor.bpf.c
 *   raw    the raw_tp program on sys_enter of floor.bpf.c
 *   churn  every program of floor-churn.bpf.c, with bench-floor reading its
 *          ring buffer the way the agent does: asleep in epoll until woken
 * OBJECT is the compiled floor.bpf.c or floor-churn.bpf.c. COMMAND's standard
 * streams are bench-floor's, and its exit status becomes bench-floor's.
 */
#include <dlfcn.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

static void usage(void)
{
	fprintf(stderr, "usage: bench-floor tp|exit|raw|churn OBJECT -- COMMAND [ARG...]\n");
	exit(2);
}

/* Attaches a uprobe_NAME program of floor-churn.bpf.c to NAME in the libc this program uses. */
static struct bpf_link *attach_libc_uprobe(struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	Dl_info libc;

	if (!dladdr((void *)getenv, &libc) || !libc.dli_fname) {
		fprintf(stderr, "finding the libc that defines getenv failed\n");
		exit(1);
	}
	opts.func_name = bpf_program__name(prog) + strlen("uprobe_");
	return bpf_program__attach_uprobe_opts(prog, -1, libc.dli_fname, 0, &opts);
}

static int selected(const char *mode, const struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);

	if (!strcmp(mode, "churn"))
		return 1;
	if (!strcmp(mode, "raw"))
		return !strncmp(name, "raw_", 4);
	return !strncmp(name, "tp_", 3) || (!strcmp(mode, "exit") && !strncmp(name, "exit_", 5));
}

static struct bpf_object *load(const char *mode, const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	struct bpf_link *link;

	if (!obj) {
		fprintf(stderr, "opening %s failed: %s\n", path, strerror(errno));
		exit(1);
	}
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, selected(mode, prog));
	if (bpf_object__load(obj)) {
		fprintf(stderr, "loading %s failed: %s\n", path, strerror(errno));
		exit(1);
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (!strncmp(bpf_program__name(prog), "uprobe_", 7))
			link = attach_libc_uprobe(prog);
		else
			link = bpf_program__attach(prog);
		if (!link) {
			fprintf(stderr, "attaching %s failed: %s\n", bpf_program__name(prog),
				strerror(errno));
			exit(1);
		}
	}
	return obj;
}

static int count_record(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	++*(unsigned long *)ctx;
	return 0;
}

/* Reads the records of the churn programs until pid exits, and returns its wait status. */
static int read_records(struct bpf_object *obj, pid_t pid)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "records");
	unsigned long records = 0;
	struct ring_buffer *rb;
	int status;

	rb = map ? ring_buffer__new(bpf_map__fd(map), count_record, &records, NULL) : NULL;
	if (!rb) {
		fprintf(stderr, "reading the records map failed: %s\n", strerror(errno));
		kill(pid, SIGKILL);
		return waitpid(pid, &status, 0) < 0 ? -1 : status;
	}
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);

		if (done < 0)
			status = -1;
		if (done != 0)
			break;
		ring_buffer__poll(rb, 100);
	}
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return status;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	int gate[2], status;
	__u32 key, value = 1;
	char go = 1;
	pid_t pid;

	if (argc < 5 || strcmp(argv[3], "--") ||
	    (strcmp(argv[1], "tp") && strcmp(argv[1], "exit") && strcmp(argv[1], "raw") &&
	     strcmp(argv[1], "churn")))
		usage();
	obj = load(argv[1], argv[2]);
	if (pipe(gate))
		return 1;
	pid = fork();
	if (pid == 0) {
		close(gate[1]);
		if (read(gate[0], &go, 1) != 1)
			_exit(1);
		execvp(argv[4], argv + 4);
		fprintf(stderr, "running %s failed: %s\n", argv[4], strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		return 1;
	close(gate[0]);
	key = (__u32)pid;
	if (bpf_map_update_elem(bpf_map__fd(bpf_object__find_map_by_name(obj, "traced")), &key,
				&value, BPF_ANY)) {
		fprintf(stderr, "adding pid %d failed: %s\n", pid, strerror(errno));
		kill(pid, SIGKILL);
	}
	if (write(gate[1], &go, 1) != 1)
		kill(pid, SIGKILL);
	if (!strcmp(argv[1], "churn"))
		status = read_records(obj, pid);
	else if (waitpid(pid, &status, 0) < 0)
		status = -1;
	if (status < 0)
		return 1;
	bpf_object__close(obj);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
