#!/usr/bin/python3
"""Run the integration suite and print "N passed, N failed, N skipped" last.

Usage: run.py [-v] [PATTERN...]
  PATTERN selects tests whose id contains it (e.g. test_listen, HttpServer).

As root the suite must run: when the agent cannot load its BPF programs the
run fails. As another user every test is skipped and the run exits 0.
Before and after the suite it checks that no BPF program of snaptrig stays
loaded and that no process the tests started is left stopped (state T).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402

# Seconds the kernel may take to free the programs of an agent that exited.
BPF_RELEASE_WAIT = 5


def discover(patterns):
    loader = unittest.TestLoader()
    suite = loader.discover(str(HERE), pattern="test_*.py", top_level_dir=str(HERE))
    tests = []

    def flatten(item):
        if isinstance(item, unittest.TestSuite):
            for sub in item:
                flatten(sub)
        else:
            tests.append(item)

    flatten(suite)
    if patterns:
        tests = [t for t in tests if any(p in t.id() for p in patterns)]
    return tests


def snaptrig_program_names():
    """Return the names of the BPF programs in snaptrig's object file."""
    names = set()
    obj = harness.BUILD / "snaptrig.bpf.o"
    try:
        out = subprocess.run(["readelf", "-sW", str(obj)], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return names
    for line in out.splitlines():
        fields = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(fields) == 8 and fields[3] == "FUNC" and fields[4] == "GLOBAL":
            names.add(fields[7][:15])  # the kernel keeps 15 characters
    return names


def loaded_programs():
    """Return {id: name} of the BPF programs loaded now, or None without bpftool."""
    try:
        out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {p["id"]: p.get("name", "") for p in json.loads(out or "[]")}


def ours(programs, names):
    return {i: n for i, n in programs.items()
            if n.startswith("handle_") or n in names}


def leftover_programs(before, names, started):
    """Wait for programs loaded during the suite to go; return those that stay."""
    deadline = time.monotonic() + BPF_RELEASE_WAIT
    while True:
        now = loaded_programs() or {}
        left = {i: n for i, n in ours(now, names).items() if i not in before}
        if left:
            others = programs_held_by_others(started)
            left = {i: n for i, n in left.items() if i not in others}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def programs_held_by_others(started):
    """Return {program id: holder pid} for programs that other processes hold.

    A BPF program or link descriptor shows "prog_id:" in /proc/PID/fdinfo, so
    the programs of a snaptrig that someone else runs on this machine at the
    same time are not blamed on the suite.
    """
    holders = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in started:
            continue
        fdinfo = f"/proc/{entry}/fdinfo"
        try:
            fds = os.listdir(fdinfo)
        except OSError:
            continue
        for fd in fds:
            try:
                with open(f"{fdinfo}/{fd}", encoding="ascii", errors="replace") as f:
                    for line in f:
                        if line.startswith("prog_id:"):
                            holders[int(line.split()[1])] = int(entry)
            except (OSError, ValueError):
                pass
    return holders


def stopped_processes(started):
    """Return the started pids left in state T, after resuming each of them."""
    stopped = []
    for pid in sorted(started):
        if harness.process_state(pid) == "T":
            stopped.append(pid)
            os.kill(pid, signal.SIGCONT)
    return stopped


def read_pid_log(path):
    with open(path, encoding="ascii") as f:
        return {int(line) for line in f if line.strip()}


def reset_stop_signals():
    """Undo an ignored SIGINT, SIGTERM or SIGHUP that this runner was started with.

    snaptrig keeps ignoring those signals when it starts with them ignored, as
    under nohup(1) or as a background job of a script, and the tests send them.
    """
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)


def main():
    sys.stdout.reconfigure(line_buffering=True)
    reset_stop_signals()
    args = sys.argv[1:]
    verbosity = 2 if "-v" in args else 1
    patterns = [a for a in args if a != "-v"]
    tests = discover(patterns)

    if os.geteuid() != 0:
        print(f"integration tests skipped: they load BPF programs and need root "
              f"(running as uid {os.geteuid()})")
        print(f"0 passed, 0 failed, {len(tests)} skipped")
        return 0

    failed_checks = []
    check = subprocess.run([str(harness.SNAPTRIG), "--check"], capture_output=True,
                           text=True) if harness.SNAPTRIG.exists() else None
    if check is None or check.returncode != 0:
        detail = "not built: run make" if check is None else check.stdout + check.stderr
        print(f"snaptrig cannot trace on this machine ({harness.SNAPTRIG}): {detail}")
        print(f"0 passed, {len(tests)} failed, 0 skipped")
        return 1

    names = snaptrig_program_names()
    before = loaded_programs()
    if before is None:
        failed_checks.append("bpftool prog show failed: install bpftool")
        before = {}
    elif ours(before, names):
        print(f"note: snaptrig programs already loaded before the suite: "
              f"{sorted(ours(before, names).values())}")

    with tempfile.NamedTemporaryFile("w", prefix="snaptrig-pids-") as pid_log:
        os.environ["SNAPTRIG_TEST_PID_LOG"] = pid_log.name
        harness.PID_LOG = pid_log.name
        started = time.monotonic()
        result = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stdout).run(
            unittest.TestSuite(tests))
        elapsed = time.monotonic() - started
        started_pids = read_pid_log(pid_log.name)

    left = leftover_programs(before, names, started_pids)
    if left:
        failed_checks.append(
            f"BPF programs still loaded after the suite: {sorted(left.items())}")
    stopped = stopped_processes(started_pids)
    if stopped:
        failed_checks.append(f"processes left stopped (now resumed): {stopped}")

    for message in failed_checks:
        print(f"FAIL: {message}")
    # A failed subtest is reported on its own; count its test once.
    bad = {getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors}
    bad |= {t.id() for t in result.unexpectedSuccesses}
    skipped = len(result.skipped)
    failed = len(bad) + len(failed_checks)
    passed = result.testsRun - len(bad) - skipped
    print(f"suite took {elapsed:.1f} s")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
