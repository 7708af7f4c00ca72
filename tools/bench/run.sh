#!/bin/sh
# Build the benchmark workloads and run the suite (about 8 minutes), then
# write docs/BENCH.md, docs/bench/results.json and docs/bench/runs.csv.
# QUICK=1 runs a short version (about 2 minutes) and writes its page and
# figures under build/bench/ instead, so docs/ only contains full runs.
# Needs root, build/snaptrig, and the packages of `tools/install-deps.sh bench`.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: BPF and tracing need root; rerun as root" >&2
	exit 1
fi
if [ ! -x build/snaptrig ]; then
	echo "bench: build/snaptrig not found; run make first" >&2
	exit 1
fi
for tool in bpftrace strace redis-server redis-benchmark bpftool; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench: $tool not found; run tools/install-deps.sh bench" >&2
		exit 1
	fi
done

# Workloads and a copy of the agent go to a private directory, so a rebuild
# or `make clean` in the tree during the run changes nothing.
bin=$(mktemp -d /tmp/snaptrig-bench-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT
cp build/snaptrig "$bin/snaptrig"
for src in tools/bench/bench-*.c; do
	name=$(basename "$src" .c)
	${CC:-gcc} -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
		"$src" -o "$bin/$name" -lbpf
done
${CLANG:-clang} -g -O2 -target bpf -mcpu=v3 -Wall -Werror \
	-I"/usr/include/$(${CC:-gcc} -dumpmachine)" -c tools/bench/floor.bpf.c -o "$bin/floor.bpf.o"
# floor-churn.bpf.c reads task_struct through the build's vmlinux.h
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
${CLANG:-clang} -g -O2 -target bpf -mcpu=v3 -Wall -Werror -D__TARGET_ARCH_"$arch" -Ibuild \
	-c tools/bench/floor-churn.bpf.c -o "$bin/floor-churn.bpf.o"

command="tools/bench/run.sh"
[ -z "${MAKELEVEL:-}" ] || command="make bench"
if [ "${QUICK:-0}" = 1 ]; then
	mkdir -p build/bench
	results=build/bench/results.json
	page=build/bench/BENCH.md
	BENCH_COMMAND="QUICK=1 $command" /usr/bin/python3 tools/bench/bench.py --quick \
		--bin "$bin" --output "$results"
else
	results=docs/bench/results.json
	page=docs/BENCH.md
	BENCH_COMMAND="$command" /usr/bin/python3 tools/bench/bench.py --bin "$bin" \
		--output "$results"
fi
/usr/bin/python3 tools/bench/report.py --results "$results" --page "$page"
