// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Times libbpf's parse of the kernel's BTF, which every BPF object load of
 * the agent makes once. Usage: bench-btf COUNT. Prints the nanoseconds of
 * each btf__load_vmlinux_btf() call, one per line.
 */
#include <bpf/btf.h>
#include "bench.h"

int main(int argc, char **argv)
{
	long i, count;

	if (argc != 2) {
		fprintf(stderr, "usage: bench-btf COUNT\n");
		return 2;
	}
	count = parse_count(argv[1], "COUNT");
	for (i = 0; i < count; i++) {
		uint64_t start = clock_ns(CLOCK_MONOTONIC);
		struct btf *btf = btf__load_vmlinux_btf();

		if (!btf) {
			fprintf(stderr, "parsing the kernel's BTF failed: %s\n", strerror(errno));
			return 1;
		}
		printf("%llu\n", (unsigned long long)(clock_ns(CLOCK_MONOTONIC) - start));
		btf__free(btf);
	}
	return 0;
}
