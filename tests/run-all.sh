#!/bin/sh
# Install what is missing, build, and run every test: unit tests, the JSON
# Schema samples and, as root, the integration tests against the real kernel.
# The last line is "total: N passed, N failed"; the exit status is 0 only
# when nothing failed.
set -u
cd "$(dirname "$0")/.." || exit 1
# CI runs this without a standard input; give every test a defined one
exec </dev/null

tools/install-deps.sh build test || exit 1
make -s || exit 1

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
for t in build/tests/test_*; do
	[ -x "$t" ] || continue
	echo "== unit: $t"
	"$t" >"$log" 2>&1
	status=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$status" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		failed=$((failed + 1))
	fi
done

summary() {
	# reads "N passed, N failed" from the last matching line of $log
	line=$(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) failed.*/\1/p')
	if [ -z "$line" ]; then
		echo "no summary line from $1: counted as one failure"
		f=1
	fi
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}

if [ -f tests/schema/check.py ]; then
	echo "== schema samples"
	/usr/bin/python3 tests/schema/check.py >"$log" 2>&1
	status=$?
	cat "$log"
	summary "tests/schema/check.py"
	[ "$status" -eq 0 ] || [ "${f:-0}" -gt 0 ] || failed=$((failed + 1))
fi

# libFuzzer smoke runs: each target for FUZZ_SECONDS (make fuzz fails on a crash or hang)
echo "== fuzz"
if make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-5}"; then
	passed=$((passed + $(ls tests/fuzz/fuzz_*.c | wc -l)))
else
	failed=$((failed + 1))
fi

echo "== integration"
tests/integration/run.sh >"$log" 2>&1
status=$?
cat "$log"
summary "tests/integration/run.sh"
[ "$status" -eq 0 ] || [ "${f:-0}" -gt 0 ] || failed=$((failed + 1))

echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
