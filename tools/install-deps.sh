#!/bin/sh
# Install the Debian packages snaptrig needs that are missing on this machine.
# Usage: tools/install-deps.sh [build|test|bench]...   (default: build test)
# Runs apt-get only when something is missing, so a second run is quick.
set -eu

build_pkgs="make gcc clang llvm pkg-config libbpf-dev libelf-dev zlib1g-dev
bpftool libcmocka-dev systemtap-sdt-dev"
test_pkgs="python3 python3-jsonschema sqlite3 gdb procps strace valgrind libclang-rt-14-dev
iproute2 util-linux gcc-multilib"
bench_pkgs="bpftrace strace redis-server redis-tools"

[ $# -gt 0 ] || set -- build test
want=""
for group in "$@"; do
	case "$group" in
	build) want="$want $build_pkgs" ;;
	test) want="$want $build_pkgs $test_pkgs" ;;
	bench) want="$want $build_pkgs $bench_pkgs" ;;
	*) echo "install-deps: unknown group '$group' (use build, test or bench)" >&2; exit 2 ;;
	esac
done

missing=""
for pkg in $want; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
		case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
	fi
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
