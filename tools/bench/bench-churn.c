// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Process churn: fork, exec of /bin/true in the child, exit, waitpid.
 * Usage: bench-churn ITERATIONS
 * Prints nanoseconds per fork-exec-exit-wait cycle.
 */
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

static void churn(long rounds)
{
	char *const argv[] = { "true", NULL };
	char *const envp[] = { NULL };
	int status = 0;
	long i;

	for (i = 0; i < rounds; i++) {
		pid_t child = fork();

		if (child < 0) {
			perror("fork");
			exit(1);
		}
		if (child == 0) {
			execve("/bin/true", argv, envp);
			_exit(127);
		}
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "/bin/true failed: wait status 0x%x\n", status);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	long iterations;

	if (argc != 2) {
		fprintf(stderr, "usage: %s ITERATIONS\n", argv[0]);
		return 2;
	}
	iterations = parse_count(argv[1], "ITERATIONS");
	bench_run("churn", iterations, churn);
	return 0;
}
