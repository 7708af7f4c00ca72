// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Runs COMMAND under the floor.bpf.c hooks, with COMMAND's pid in their map.
 * Usage: bench-floor tp|raw OBJECT -- COMMAND [ARG...]
 *   tp   the tp/syscalls programs on pread64 and getrandom
 *   raw  the raw_tp program on sys_enter
 * OBJECT is the compiled floor.bpf.c. COMMAND's standard streams are
 * bench-floor's, and its exit status becomes bench-floor's.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

static void usage(void)
{
	fprintf(stderr, "usage: bench-floor tp|raw OBJECT -- COMMAND [ARG...]\n");
	exit(2);
}

static struct bpf_object *load(const char *mode, const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	int raw = !strcmp(mode, "raw");

	if (!obj) {
		fprintf(stderr, "opening %s failed: %s\n", path, strerror(errno));
		exit(1);
	}
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, raw == !strncmp(bpf_program__name(prog), "raw_", 4));
	if (bpf_object__load(obj)) {
		fprintf(stderr, "loading %s failed: %s\n", path, strerror(errno));
		exit(1);
	}
	bpf_object__for_each_program(prog, obj) {
		if (bpf_program__autoload(prog) && !bpf_program__attach(prog)) {
			fprintf(stderr, "attaching %s failed: %s\n", bpf_program__name(prog),
				strerror(errno));
			exit(1);
		}
	}
	return obj;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	int gate[2], status;
	__u32 key, value = 1;
	char go = 1;
	pid_t pid;

	if (argc < 5 || strcmp(argv[3], "--") || (strcmp(argv[1], "tp") && strcmp(argv[1], "raw")))
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
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	bpf_object__close(obj);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
