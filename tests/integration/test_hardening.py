"""Reliability under floods, short-lived processes, faults and bad input.

The floods overflow a 4 KiB ring buffer on purpose, so those runs pass
allow_lost and check the lost lines themselves. Every test also checks that
no BPF program of the snaptrig it ran stays loaded afterwards.
"""

import collections
import ctypes
import errno
import glob
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (PYTHON, SNAPTRIG, TIMEOUT, SnaptrigTestCase, bpf_fd_ids, count_syscalls,
                     process_state, tool, unix_listener, wait_state)
from test_snapshot import checkpointer, children_of

FLOOD = "st-flood"
ONCE_TRIGGERS = "first-listen,first-stdin,non-deterministic-call"
LOST_KINDS = ["listen", "stdin", "signal", "calls", "exec", "fork", "exit"]


def fdinfo_texts(pattern):
    """Yield the path and text of each fdinfo file that pattern matches and that can be read."""
    for path in glob.glob(pattern):
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                yield path, f.read()
        except OSError:
            continue


def program_holders():
    """Map each BPF program id to the pids that hold an fd of it."""
    holders = collections.defaultdict(set)
    for path, text in fdinfo_texts("/proc/[0-9]*/fdinfo/*"):
        match = re.search(r"^prog_id:\s+(\d+)$", text, re.M)
        if match:
            holders[int(match.group(1))].add(int(path.split("/")[2]))
    return holders


def handler_programs():
    """Return the ids of the loaded BPF programs named handle_*."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], check=True,
                         capture_output=True, timeout=TIMEOUT).stdout
    return {p["id"] for p in json.loads(out or b"[]")
            if p.get("name", "").startswith("handle_")}


def parent_pid(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def leaked_programs(before, agent_pids):
    """Return the handle_* programs loaded since before that agent_pids left.

    A program counts as left behind when no live process holds it, or when
    one of agent_pids or their children still has an fd of it. Programs that
    other snaptrig processes on this machine have open are not counted.
    The kernel frees a program shortly after its last fd closes, so this
    waits up to 2 s for that.
    """
    mine = set(agent_pids)
    deadline = time.monotonic() + 2
    while True:
        holders = program_holders()
        leaked = set()
        for prog in handler_programs() - before:
            pids = holders.get(prog, set())
            if not pids or pids & mine or any(parent_pid(p) in mine for p in pids):
                leaked.add(prog)
        if not leaked or time.monotonic() > deadline:
            return leaked
        time.sleep(0.1)


def procs_map_keys(agent_pid):
    """Return the tgids in the procs map of the snaptrig process agent_pid."""
    for map_id in sorted(bpf_fd_ids(agent_pid, "map")):
        show = subprocess.run(["bpftool", "map", "show", "id", str(map_id), "-j"],
                              capture_output=True, timeout=TIMEOUT).stdout
        if json.loads(show or b"{}").get("name") != "procs":
            continue
        dump = subprocess.run(["bpftool", "map", "dump", "id", str(map_id), "-j"],
                              check=True, capture_output=True,
                              timeout=TIMEOUT).stdout
        keys = set()
        for entry in json.loads(dump or b"[]"):
            key = entry.get("formatted", entry)["key"]
            if isinstance(key, list):
                key = int.from_bytes(bytes(int(b, 16) for b in key), "little")
            keys.add(key)
        return keys
    return None


def flood_facts(run):
    """Return {pid: getrandom calls} from the "calls" lines of st-flood."""
    return {int(v["pid"]): int(v["getrandom"]) for v in run.fact_values("calls")}


def getrandom_count(run, pid):
    """Add up the count of the non-deterministic-call lines of pid."""
    return sum(line["detail"]["calls"].get("getrandom", 0)
               for line in run.triggers("non-deterministic-call", pid=pid))


# bpf(2) on x86_64, and the commands and flag the map filler uses
SYS_BPF = 321
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_FD_BY_ID = 14
BPF_NOEXIST = 1


def bpf_call(command, attr):
    """Run bpf(2) command with attr (a ctypes buffer); return the result and errno."""
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syscall(SYS_BPF, command, ctypes.byref(attr), ctypes.sizeof(attr))
    return result, ctypes.get_errno()


def agent_map_fd(agent_pid, name):
    """Open the BPF map called name that agent_pid holds; return its fd and value size."""
    for _, text in fdinfo_texts(f"/proc/{agent_pid}/fdinfo/*"):
        found = re.search(r"^map_id:\s+(\d+)$", text, re.M)
        if not found:
            continue
        listing = subprocess.run(["bpftool", "map", "show", "id", found.group(1), "-j"],
                                 capture_output=True, timeout=TIMEOUT).stdout
        if json.loads(listing or b"{}").get("name") != name:
            continue
        value_size = int(re.search(r"^value_size:\s+(\d+)$", text, re.M).group(1))
        attr = (ctypes.c_uint32 * 3)(int(found.group(1)), 0, 0)
        fd, err = bpf_call(BPF_MAP_GET_FD_BY_ID, attr)
        if fd < 0:
            raise OSError(err, f"opening map {found.group(1)}")
        return fd, value_size
    raise AssertionError(f"snaptrig {agent_pid} holds no map named {name}")


def fill_map(fd, value_size, first_key):
    """Add zeroed entries from first_key on until the hash map is full; return their number."""
    key = ctypes.c_uint32()
    value = ctypes.create_string_buffer(value_size)
    # union bpf_attr for BPF_MAP_UPDATE_ELEM: map_fd, pad, key, value, flags
    attr = (ctypes.c_uint64 * 4)(fd, ctypes.addressof(key), ctypes.addressof(value),
                                 BPF_NOEXIST)
    added = 0
    while True:
        key.value = first_key + added
        result, err = bpf_call(BPF_MAP_UPDATE_ELEM, attr)
        if result < 0:
            if err != errno.E2BIG:
                raise OSError(err, "adding a map entry")
            return added
        added += 1


def empty_map(fd, first_key, count):
    """Delete the count entries that fill_map() added from first_key on."""
    key = ctypes.c_uint32()
    attr = (ctypes.c_uint64 * 2)(fd, ctypes.addressof(key))
    for index in range(count):
        key.value = first_key + index
        bpf_call(BPF_MAP_DELETE_ELEM, attr)


class SlowReader:
    """Read the lines of a FIFO a page a second in a thread, until sped up."""

    def __init__(self, path):
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(self._fd, True)
        self._data = bytearray()
        self._fast = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            chunk = os.read(self._fd, 65536 if self._fast.is_set() else 4096)
            # end of file before the first bytes: snaptrig has not opened the FIFO yet
            if not chunk and not self._started.is_set():
                time.sleep(0.01)
                continue
            if not chunk:
                return
            self._data += chunk
            self._started.set()
            if not self._fast.is_set():
                self._fast.wait(1)

    def wait_started(self):
        """Return whether the first bytes came within TIMEOUT."""
        return self._started.wait(TIMEOUT)

    def speed_up(self):
        self._fast.set()

    def data(self):
        """Return the bytes read so far."""
        return bytes(self._data)

    def lines(self):
        """Wait for the end of file and return the JSON lines read."""
        self._thread.join(TIMEOUT)
        return [json.loads(line) for line in bytes(self._data).splitlines()]

    def text_lines(self):
        """Wait for the end of file and return the text lines read."""
        self._thread.join(TIMEOUT)
        return bytes(self._data).decode().splitlines()

    def finish(self):
        self._fast.set()
        self._thread.join(TIMEOUT)
        os.close(self._fd)


class HardeningTest(SnaptrigTestCase):

    def setUp(self):
        super().setUp()
        self.programs_before = handler_programs()

    # -- checks shared by the tests ---------------------------------------

    def assertNoProgramsLeft(self, agent_pids, context=""):
        self.assertEqual(leaked_programs(self.programs_before, agent_pids), set(),
                         "BPF programs left loaded" + context)

    def assertNotStopped(self, pids, context=""):
        deadline = time.monotonic() + 2
        stopped = set(pids)
        while stopped and time.monotonic() < deadline:
            stopped = {p for p in stopped if process_state(p) in ("T", "t")}
            time.sleep(0.05)
        self.assertEqual(stopped, set(), "processes left stopped" + context)

    def assertLostLinesAddUp(self, run, must_lose=True):
        stats = run.records[-1]
        lost = run.of_type("lost")
        summed = collections.Counter()
        for line in lost:
            summed.update(line["by_kind"])
        if must_lose:
            self.assertGreater(stats["lost"], 0,
                               "the flood lost nothing: the test proves nothing"
                               + run.describe())
        if not stats["lost"]:
            self.assertEqual(lost, [], "lost lines but nothing lost")
            return
        self.assertTrue(lost, "records lost but no lost line")
        self.assertEqual(sum(summed.values()), stats["lost"])
        self.assertEqual(lost[-1]["total"], stats["lost"])
        for kind in LOST_KINDS:
            self.assertEqual(summed.get(kind, 0), stats["lost_by_kind"].get(kind, 0),
                             f"lost {kind}")

    def assertOnceEach(self, run, pids):
        """Assert one first-listen and one first-stdin per pid, before its exit."""
        for pid in pids:
            for name in ("first-listen", "first-stdin"):
                lines = run.triggers(name, pid=pid)
                self.assertEqual(len(lines), 1, f"{name} lines of {pid}")
                exits = run.exits(pid)
                if exits:
                    self.assertLess(lines[0]["seq"], exits[0]["seq"],
                                    f"{name} of {pid} after its exit line")
                if lines[0]["detail"].get("reconciled"):
                    self.assertEqual(lines[0]["detail"], {"reconciled": True})

    def flood_extra_calls(self, threads, calls):
        """Return the getrandom calls glibc adds to one st-flood process."""
        counts = count_syscalls([tool(FLOOD), "-S", "-L", "-t", str(threads),
                                 "-n", str(calls)], ["getrandom"])
        return counts["getrandom"] - max(threads, 1) * calls

    # -- once-triggers survive a ring buffer overflow ------------------

    def test_flood_once_triggers_kept(self):
        run = self.trace(["--ring-buffer-size", "4K", "--cooldown", "0s",
                          "-t", ONCE_TRIGGERS],
                         [tool(FLOOD), "-t", "3", "-n", "20000"],
                         stdin=subprocess.DEVNULL, allow_lost=True)
        self.assertEqual(run.wait_exit(timeout=30), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertOnceEach(run, [pid])
        # calls records yield to the others when the ring is nearly full, so
        # a single flood need not lose anything
        self.assertLostLinesAddUp(run, must_lose=False)
        self.assertNoProgramsLeft([run.pid])

    def test_fork_burst_wakes_quiet_agent(self):
        """Forks wake no one, but after a quiet second a burst of 200, whose children
        neither exec nor exit yet, wakes the agent before it fills a 4K ring."""
        script = ("import os, time\n"
                  "time.sleep(1.5)\n"
                  "children = []\n"
                  "for _ in range(200):\n"
                  "    pid = os.fork()\n"
                  "    if pid == 0:\n"
                  "        time.sleep(1)\n"
                  "        os._exit(0)\n"
                  "    children.append(pid)\n"
                  "for pid in children:\n"
                  "    os.waitpid(pid, 0)\n")
        run = self.trace(["--ring-buffer-size", "4K", "-t", "sigalrm"],
                         [PYTHON, "-c", script], stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(timeout=30), 0, run.describe())
        stats = run.of_type("stats")[0]
        self.assertEqual(stats["lost"], 0, run.describe())
        self.assertEqual(stats["lost_by_kind"]["fork"], 0)
        parent = run.wait_start()["targets"][0]
        self.assertEqual(len(run.exits()), 201, run.describe())
        self.assertEqual(sum(1 for l in run.exits() if l["pid"] != parent), 200)

    def flood_children(self, count, calls):
        """Trace st-flood with count children of 2 threads on a 4K ring; return run and children."""
        run = self.trace(["--ring-buffer-size", "4K", "--cooldown", "0s",
                          "-t", ONCE_TRIGGERS],
                         [tool(FLOOD), "-c", str(count), "-t", "2", "-n", str(calls)],
                         stdin=subprocess.DEVNULL, allow_lost=True)
        self.assertEqual(run.wait_exit(timeout=60), 0, run.describe())
        children = flood_facts(run)
        self.assertEqual(len(children), count, run.fact_values("calls"))
        self.assertOnceEach(run, children)
        return run, children

    def test_flood_children_once_triggers(self):
        run, _ = self.flood_children(8, 10000)
        self.assertLostLinesAddUp(run, must_lose=False)
        self.assertNoProgramsLeft([run.pid])

    def test_flood_many_children_exit_last(self):
        """Hundreds of flooding children: no line of a child comes after its exit, counts exact.

        Their exits are often kept in the kernel, and the agent writes those
        only once it has read every record that the child sent before.
        """
        run, children = self.flood_children(300, 2000)
        exit_seq = {line["pid"]: line["seq"] for line in run.of_type("exit")}
        late = [(line["pid"], line["seq"]) for line in run.of_type("trigger")
                if line["pid"] in exit_seq and line["seq"] > exit_seq[line["pid"]]]
        self.assertEqual(late, [], "trigger lines after their process's exit line")
        for pid, calls in children.items():
            self.assertEqual(len(run.exits(pid)), 1, f"exit lines of {pid}")
            self.assertEqual(getrandom_count(run, pid), calls, f"getrandom calls of {pid}")
        self.assertLostLinesAddUp(run, must_lose=True)
        self.assertNoProgramsLeft([run.pid])

    def test_once_triggers_kept_while_agent_stopped(self):
        # With the agent stopped, nothing drains the 4K ring buffer, so the
        # children's listen, stdin and exit records are lost unless they came
        # before the stop; what they report then comes from the kernel's state.
        run = self.trace(["--ring-buffer-size", "4K", "--cooldown", "0s",
                          "-t", ONCE_TRIGGERS],
                         [tool(FLOOD), "-c", "8", "-t", "1", "-n", "2000"],
                         stdin=subprocess.DEVNULL, allow_lost=True)
        run.wait_start()
        os.kill(run.pid, signal.SIGSTOP)
        self.resume_later(run.pid)
        try:
            run.wait_fact("calls", index=7, timeout=30)
        finally:
            os.kill(run.pid, signal.SIGCONT)
        self.assertEqual(run.wait_exit(timeout=30), 0, run.describe())
        children = flood_facts(run)
        self.assertEqual(len(children), 8, run.fact_values("calls"))
        self.assertOnceEach(run, children)
        for pid, calls in children.items():
            self.assertEqual(len(run.exits(pid)), 1, f"exit lines of {pid}")
            self.assertEqual(getrandom_count(run, pid), calls, f"getrandom calls of {pid}")
        # The children may act before the stop takes effect; when their once
        # records were lost, the lines must have come from the kernel's state.
        lost = run.records[-1]["lost_by_kind"]
        reconciled = [r for r in run.of_type("trigger") if r["detail"].get("reconciled")]
        self.assertEqual(len(reconciled), lost["listen"] + lost["stdin"], run.describe())
        self.assertLostLinesAddUp(run, must_lose=False)
        self.assertNoProgramsLeft([run.pid])

    def test_lost_listen_held_at_trigger(self):
        """With --freeze, a first-listen whose record was lost stops the
        process at the listen, and its request runs while it is stopped."""
        children = 32
        out = os.path.join(self.tmp, "{pid}.json")
        # the shell waits for a line on stdin, then st-flood forks the children
        command = f"read line && exec {tool(FLOOD)} -c {children} -t 0 -n 1 -S"
        run = self.trace(["--ring-buffer-size", "4K", "-t", "first-listen", "--freeze",
                          "--exec", checkpointer(out, "--pid", "{pid}")],
                         ["/bin/sh", "-c", command], allow_lost=True)
        run.wait_start()
        # nothing drains the ring while the agent is stopped, so the fork and
        # listen records fill it
        os.kill(run.pid, signal.SIGSTOP)
        self.resume_later(run.pid)
        try:
            run.write_stdin(b"go\n")
            flood = int(run.wait_fact("pid"))
            stopped = self.wait_children_stopped(flood, children)
            agent_resumed_ns = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        finally:
            os.kill(run.pid, signal.SIGCONT)
        self.assertEqual(run.wait_exit(timeout=60), 0, run.describe())

        lost = run.records[-1]["lost_by_kind"]["listen"]
        self.assertGreater(lost, 0, "no listen record was lost" + run.describe())
        reconciled = [line for line in run.triggers("first-listen")
                      if line["detail"].get("reconciled")]
        self.assertEqual(len(reconciled), lost, run.describe())
        for line in reconciled:
            # dated at the kernel's stop, before the agent could read anything
            self.assertLess(line["boot_ns"], agent_resumed_ns, line)
        for pid in stopped:
            lines = run.triggers("first-listen", pid=pid)
            self.assertEqual(len(lines), 1, f"first-listen lines of {pid}")
            self.assertIs(lines[0]["held"], True, lines[0])
            snaps = [r for r in run.of_type("snapshot") if r["pid"] == pid]
            self.assertEqual(len(snaps), 1, f"snapshot lines of {pid}")
            for key, value in (("status", "ok"), ("held", True), ("hold", "kernel"),
                               ("resumed", True)):
                self.assertEqual(snaps[0][key], value, f"{key} of {snaps[0]}")
            with open(out.format(pid=pid), encoding="utf-8") as f:
                record = json.load(f)
            self.assertEqual(record["state"], "T", f"state of {pid} for its checkpointer")
            self.assertEqual(record["env"]["SNAPTRIG_HELD"], "1")
        self.assertNotStopped(stopped)
        self.assertNoProgramsLeft([run.pid])

    def wait_untraced(self, control, expected):
        """Ask the control socket for stats until untraced reaches expected; return it."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(TIMEOUT)
                sock.connect(control)
                sock.sendall(b'{"request":"stats"}\n')
                reply = json.loads(sock.makefile("rb").readline())
            if reply["untraced"] >= expected or time.monotonic() > deadline:
                return reply["untraced"]
            time.sleep(0.05)

    def wait_children_stopped(self, ppid, count):
        """Wait until count children of ppid are stopped; return their pids."""
        deadline = time.monotonic() + TIMEOUT
        stopped = set()
        while time.monotonic() < deadline:
            stopped = {pid for pid in children_of(ppid) if process_state(pid) == "T"}
            if len(stopped) == count:
                return stopped
            time.sleep(0.05)
        self.fail(f"{len(stopped)} of {count} children of {ppid} stopped at their listen")

    def test_full_procs_map_counts_untraced(self):
        """Children forked while the kernel's process table is full are counted
        in the stats line and named in a message."""
        # keys above any pid, which no process can have
        first_key = 1 << 30
        control = os.path.join(self.tmp, "control.sock")
        run = self.trace(["-t", "first-listen", "--control", control],
                         ["/bin/sh", "-c", "read line && /bin/true && /bin/true && read line"])
        run.wait_start()
        fd, value_size = agent_map_fd(run.pid, "procs")
        added = 0
        try:
            added = fill_map(fd, value_size, first_key)
            run.write_stdin(b"go\n")
            # the agent reads the counters every 100 ms
            self.assertEqual(self.wait_untraced(control, 2), 2, run.describe())
            run.write_stdin(b"end\n")
        finally:
            # snaptrig waits for every process in the table to exit
            empty_map(fd, first_key, added)
            os.close(fd)
        self.assertGreater(added, 0)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(run.records[-1]["untraced"], 2, run.describe())
        self.assertIn("snaptrig: 2 new processes are not traced (2 in all): the kernel "
                      "already traces 32768 processes, its limit", run.err.lines)
        self.assertNoProgramsLeft([run.pid])

    # -- exact counts under floods --------------------------------------

    def assertExactCounts(self, agent_args, flood_args):
        extra = self.flood_extra_calls(2, 50)
        run = self.trace(agent_args + ["-t", "non-deterministic-call"],
                         [tool(FLOOD), "-S", "-L"] + flood_args,
                         stdin=subprocess.DEVNULL, allow_lost=True)
        self.assertEqual(run.wait_exit(timeout=30), 0, run.describe())
        printed = flood_facts(run)
        self.assertEqual(len(printed), 1, run.fact_values("calls"))
        pid, calls = printed.popitem()
        self.assertEqual(len(run.exits(pid)), 1, f"exit lines of {pid}")
        self.assertEqual(getrandom_count(run, pid), calls + extra,
                         f"getrandom calls of {pid}: {calls} made, {extra} by glibc")
        return run

    def test_flood_counts_tiny_ring(self):
        run = self.assertExactCounts(["--ring-buffer-size", "4K", "--cooldown", "0s"],
                                     ["-t", "3", "-n", "20000"])
        # Past three quarters full the kernel only counts calls, which then
        # come as coalesced lines, and the last quarter is left for exits.
        # Threads that pass the fill check together can still lose a calls
        # record: the bound of one per thread is an estimate.
        lost = dict(run.records[-1]["lost_by_kind"])
        self.assertLessEqual(lost.pop("calls"), 3, run.describe())
        self.assertEqual(set(lost.values()), {0}, run.describe())
        coalesced = [r for r in run.triggers("non-deterministic-call")
                     if r["detail"]["count"] > 1]
        self.assertTrue(coalesced, "no coalesced line: the ring never filled")

    def test_flood_counts_default_cooldown(self):
        self.assertExactCounts([], ["-t", "3", "-n", "20000"])

    def test_flood_children_counts(self):
        args = ["-S", "-L", "-c", "6", "-t", "2", "-n", "10000"]
        tree = count_syscalls([tool(FLOOD)] + args[:4] + ["-t", "2", "-n", "50"],
                              ["getrandom"])["getrandom"]
        extra = tree - 6 * 2 * 50
        run = self.trace(["--ring-buffer-size", "4K", "--cooldown", "0s",
                          "-t", "non-deterministic-call"], [tool(FLOOD)] + args,
                         stdin=subprocess.DEVNULL, allow_lost=True)
        self.assertEqual(run.wait_exit(timeout=30), 0, run.describe())
        children = flood_facts(run)
        self.assertEqual(len(children), 6)
        parent = int(run.fact_values("pid")[0])
        for pid in list(children) + [parent]:
            self.assertEqual(len(run.exits(pid)), 1, f"exit lines of {pid}")
        for pid, calls in children.items():
            self.assertGreaterEqual(getrandom_count(run, pid), calls,
                                    f"getrandom calls of child {pid}")
        total = sum(getrandom_count(run, p) for p in list(children) + [parent])
        self.assertEqual(total, sum(children.values()) + extra,
                         f"getrandom calls of the tree, {extra} by glibc")

    # -- short-lived processes -----------------------------------------

    def test_short_lived_children(self):
        run = self.trace(["-t", "first-listen,non-deterministic-call"],
                         [tool(FLOOD), "-c", "300", "-t", "0", "-n", "1", "-S", "-I"])
        parent = int(run.wait_fact("pid"))
        deadline = time.monotonic() + 20
        while len(run.exits()) < 300 and time.monotonic() < deadline:
            time.sleep(0.1)
        children = flood_facts(run)
        self.assertEqual(len(children), 300, run.fact_values("calls"))
        keys = procs_map_keys(run.pid)
        self.assertIsNotNone(keys, "no procs map found for snaptrig")
        self.assertEqual(keys & set(children), set(),
                         "procs map entries of exited children")
        self.assertIn(parent, keys)
        run.close_stdin()
        self.assertEqual(run.wait_exit(timeout=20), 0, run.describe())
        for pid in children:
            self.assertEqual(len(run.triggers("first-listen", pid=pid)), 1,
                             f"first-listen of {pid}")
            self.assertEqual(getrandom_count(run, pid), 1, f"getrandom of {pid}")
            self.assertExited(run, pid, 0)
        self.assertNoProgramsLeft([run.pid])

    def test_lost_children_exit_time_and_comm(self):
        # A flood fills the 4K ring buffer while st-forker forks children that
        # listen and exit, so some children lose every record, exit included.
        # Their lines then come from what the kernel kept in the procs map.
        script = (f"{tool(FLOOD)} -t 2 -n 200000 -S -L >/dev/null & "
                  f"{tool('st-forker')} -n 600 -a listen >/dev/null; wait")
        run = self.trace(["--ring-buffer-size", "4K", "--cooldown", "0s",
                          "-t", "first-listen,non-deterministic-call"],
                         ["sh", "-c", script], stdin=subprocess.DEVNULL, allow_lost=True)
        self.assertEqual(run.wait_exit(timeout=60), 0, run.describe())
        lost = run.records[-1]["lost_by_kind"]
        self.assertGreater(lost["exit"], 0, "no exit record lost: the test proves nothing")
        exits = run.exits()
        comms = collections.Counter(e["comm"] for e in exits)
        self.assertEqual(comms[""], 0, "exit lines without comm")
        self.assertEqual(comms["st-forker"], 601, "exit lines of st-forker and its children")
        # the exits of different processes have different times
        times = collections.Counter(e["boot_ns"] for e in exits)
        shared = {t: n for t, n in times.items() if n > 1}
        self.assertEqual(shared, {}, "boot_ns shared by exit lines")
        for line in run.of_type("trigger"):
            self.assertNotEqual(line["comm"], "", f"trigger line without comm: {line}")
        # a reconciled or coalesced line of a child comes before its exit
        exit_ns = {e["pid"]: e["boot_ns"] for e in exits}
        for line in run.triggers():
            if line["pid"] in exit_ns:
                self.assertLessEqual(line["boot_ns"], exit_ns[line["pid"]],
                                     f"line dated after its process's exit: {line}")
        self.assertLostLinesAddUp(run)
        self.assertNoProgramsLeft([run.pid])

    # -- faults ----------------------------------------------------------

    def wait_agent_exit(self, agent, timeout, cause):
        """Wait for snaptrig to exit after cause and return its code and stderr lines."""
        try:
            code = agent.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"snaptrig kept running after {cause}")
        return code, agent.stderr.read().decode(errors="replace").splitlines()

    def test_output_reader_gone(self):
        target = self.spawn([tool(FLOOD), "-t", "1", "-n", "100000000", "-S", "-L"],
                            stdin=subprocess.DEVNULL)
        target.wait_fact("pid")
        agent = subprocess.Popen([str(SNAPTRIG), "--cooldown", "0s", "-t",
                                  "non-deterministic-call", "-p", str(target.pid)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        self.register(agent)
        agent.stdout.readline()
        agent.stdout.close()
        code, err = self.wait_agent_exit(agent, 5, "its reader went away")
        self.assertEqual(code, 1, err)
        self.assertEqual(len(err), 1, err)
        self.assertTrue(err[0].startswith("snaptrig: "), err)
        self.assertIn("output", err[0])
        self.assertNotIn(process_state(target.pid), (None, "Z", "T"))
        self.assertNoProgramsLeft([agent.pid])

    def test_output_reader_gone_quiet(self):
        """A closed output pipe ends the run although no line is due to be written."""
        sleeper = self.spawn(["/bin/sleep", "60"], stdout=subprocess.DEVNULL)
        agent = subprocess.Popen([str(SNAPTRIG), "-t", "sigalrm", "-p", str(sleeper.pid)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        self.register(agent)
        self.assertEqual(json.loads(agent.stdout.readline())["type"], "start")
        agent.stdout.close()
        code, err = self.wait_agent_exit(agent, 5, "its reader went away")
        self.assertEqual(code, 1, err)
        self.assertEqual(err, ["snaptrig: cannot write output (standard output): Broken pipe; "
                               "stopping, 0 lines not written"])
        self.assertEqual(process_state(sleeper.pid), "S")
        self.assertNoProgramsLeft([agent.pid])

    def start_flood_agent(self, output, triggers=("-t", "non-deterministic-call"),
                          calls=100000000):
        """Start a getrandom flood and a snaptrig that traces it with -o output.

        Return the flood and snaptrig. snaptrig writes a line per call, so by
        default it has lines to write until its output fails.
        """
        target = self.spawn([tool(FLOOD), "-t", "1", "-n", str(calls), "-S", "-L"],
                            stdin=subprocess.DEVNULL)
        target.wait_fact("pid")
        agent = subprocess.Popen([str(SNAPTRIG), "--cooldown", "0s", *triggers,
                                  "-o", output, "-p", str(target.pid)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        self.register(agent)
        return target, agent

    def lines_not_written(self, err, message):
        """Assert that stderr is the one line message followed by a count of
        lines not written, and return that count."""
        self.assertEqual(len(err), 1, err)
        found = re.fullmatch(re.escape(f"snaptrig: {message}") + r"(\d+) lines not written",
                             err[0])
        self.assertTrue(found, err)
        return int(found[1])

    def assertStalledOutputStops(self, target, agent, output, started):
        """Assert that snaptrig gave up on output 5 s or more after started.

        target, when not None, is a traced process that must still run.
        """
        code, err = self.wait_agent_exit(agent, 15, f"its output {output} stalled")
        took = time.monotonic() - started
        self.assertEqual(code, 1, err)
        self.assertGreater(self.lines_not_written(
            err, f"cannot write output {output}: nothing could be written for 5 s; stopping, "), 0)
        self.assertGreaterEqual(took, 5.0)
        if target:
            self.assertNotIn(process_state(target.pid), (None, "Z", "T"))
        self.assertNoProgramsLeft([agent.pid])

    def stalled_fifo(self):
        """Return a FIFO whose reader never reads."""
        fifo = os.path.join(self.tmp, "stalled")
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, reader)
        return fifo

    def test_output_reader_stalled(self):
        # A FIFO whose reader never reads: the pipe fills, then nothing more
        # can be written. snaptrig must give up after 5 s, not hang.
        fifo = self.stalled_fifo()
        started = time.monotonic()
        target, agent = self.start_flood_agent(fifo)
        self.assertStalledOutputStops(target, agent, fifo, started)

    def accept_agent(self, listener, agent):
        """Return the connection of agent to listener, or fail with its stderr."""
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            agent.kill()
            self.fail("snaptrig did not connect to the output socket: "
                      + agent.communicate()[1].decode(errors="replace"))
        self.addCleanup(conn.close)
        return conn

    def test_output_socket_reader_gone(self):
        path = os.path.join(self.tmp, "out.sock")
        listener = unix_listener(self, path)
        target, agent = self.start_flood_agent(path)
        conn = self.accept_agent(listener, agent)
        conn.settimeout(TIMEOUT)
        with conn.makefile("rb") as stream:
            first = stream.readline()
        self.assertEqual(json.loads(first)["type"], "start", first)
        conn.close()
        code, err = self.wait_agent_exit(agent, 5, "its socket reader closed the connection")
        self.assertEqual(code, 1, err)
        self.lines_not_written(err, f"cannot write output {path}: Broken pipe; stopping, ")
        self.assertNotIn(process_state(target.pid), (None, "Z", "T"))
        self.assertNoProgramsLeft([agent.pid])

    def test_output_socket_reader_stalled(self):
        """snaptrig gives up after 5 s on a socket reader that never reads."""
        path = os.path.join(self.tmp, "out.sock")
        listener = unix_listener(self, path)
        target, agent = self.start_flood_agent(path)
        self.accept_agent(listener, agent)
        self.assertStalledOutputStops(target, agent, path, time.monotonic())

    def start_slow_flood_agent(self, triggers, calls):
        """Start a getrandom flood traced with -o to a FIFO read a page a second.

        Return the flood, snaptrig and the FIFO once the first line came.
        """
        fifo = os.path.join(self.tmp, "slow")
        os.mkfifo(fifo)
        reader = SlowReader(fifo)
        self.addCleanup(reader.finish)
        target, agent = self.start_flood_agent(fifo, triggers, calls)
        if not reader.wait_started():
            agent.kill()
            self.fail("no line came: " + agent.communicate()[1].decode(errors="replace"))
        return target, agent, fifo

    def assertStopLimitsWait(self, agent, fifo, cause):
        """Send SIGTERM to snaptrig, and assert that it gave up on the reader 5 s later."""
        signalled = time.monotonic()
        agent.send_signal(signal.SIGTERM)
        code, err = self.wait_agent_exit(agent, 15, cause)
        took = time.monotonic() - signalled

        self.assertEqual(code, 0, err)
        self.assertGreater(self.lines_not_written(
            err, f"stopping output {fifo}: the reader did not take every line within 5 s "
            "after the stop; "), 0)
        self.assertGreaterEqual(took, 5.0)
        # detaching the programs counts within the 5 s
        self.assertLess(took, 6.5)
        self.assertNoProgramsLeft([agent.pid])

    def test_stop_signal_bounds_output_wait(self):
        """After SIGTERM a slow reader gets 5 s from the signal, detaching included."""
        target, agent, fifo = self.start_slow_flood_agent(["-t", "all"], 100000000)
        # a page a second cannot catch up with the lines of one second of the flood
        time.sleep(1)
        self.assertStopLimitsWait(agent, fifo, "SIGTERM")
        self.assertNotIn(process_state(target.pid), (None, "Z", "T"))

    def test_stop_signal_ends_final_wait(self):
        """A signal while snaptrig waits for a slow reader after the end gives it 5 s more."""
        target, agent, fifo = self.start_slow_flood_agent(["-t", "non-deterministic-call"],
                                                          3000000)
        self.assertEqual(target.wait_exit(), 0, target.describe())
        # the reader takes a page a second and is about 1 MiB behind
        time.sleep(1)
        self.assertIsNone(agent.poll(), "snaptrig ended before the reader caught up")
        self.assertStopLimitsWait(agent, fifo, "SIGTERM in the final wait")

    def test_reader_gone_after_stop_counts_lines(self):
        """A reader that closes after SIGTERM leaves status 0, and stderr counts what it missed."""
        fifo = os.path.join(self.tmp, "slow")
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        target, agent = self.start_flood_agent(fifo)
        if not select.select([reader], [], [], TIMEOUT)[0]:
            agent.kill()
            self.fail("no line came: " + agent.communicate()[1].decode(errors="replace"))
        os.read(reader, 4096)
        # the pipe fills again, far from the 5 s without progress
        time.sleep(1)
        agent.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        os.close(reader)
        code, err = self.wait_agent_exit(agent, 15, "its reader closed after SIGTERM")

        self.assertEqual(code, 0, err)
        self.assertGreater(self.lines_not_written(
            err, f"cannot write output {fifo}: Broken pipe; stopping, "), 0)
        self.assertNotIn(process_state(target.pid), (None, "Z", "T"))
        self.assertNoProgramsLeft([agent.pid])

    def test_reader_stalled_after_end_fails(self):
        """A reader that takes nothing gives status 1, also once COMMAND has exited 0."""
        fifo = self.stalled_fifo()
        started = time.monotonic()
        # the flood ends within a second, long before the 5 s without progress
        agent = subprocess.Popen([str(SNAPTRIG), "--cooldown", "0s", "-t",
                                  "non-deterministic-call", "-o", fifo, "--", tool(FLOOD),
                                  "-t", "1", "-n", "200000", "-S", "-L"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        self.register(agent)
        self.assertStalledOutputStops(None, agent, fifo, started)

    def test_slow_reader_text_counts_drops(self):
        """The last text line counts the lines dropped for a slow reader."""
        agent, reader, code, err = self.run_with_slow_reader(
            ["--format", "text", "-t", "sigalrm", "--ring-buffer-size", "64M", "--",
             tool(FLOOD), "-A", "-t", "4", "-n", "75000", "-S", "-L"])
        lines = reader.text_lines()
        reported = [int(n) for n in re.findall(r"^snaptrig: output \S+(?: caught up)?: (\d+) lines "
                                           r"were dropped while it was behind$",
                                           "\n".join(err), re.M)]
        written = [line for line in lines if line.split()[1:2] == ["sigalrm"]]

        self.assertEqual(code, 0, err)
        last = re.fullmatch(r"# (\d+) records, 0 lost, (\d+) lines dropped", lines[-1])
        self.assertTrue(last, lines[-1])
        self.assertGreater(sum(reported), 0, "nothing was dropped: the reader kept up")
        self.assertEqual(int(last[2]), sum(reported))
        self.assertEqual(len(written) + int(last[2]), 300000)

    def test_slow_reader_keeps_agent_responsive(self):
        """A FIFO reader far slower than a getrandom flood delays no hold and no
        control reply: the call counts wait in the kernel's counters, exact."""
        fifo = os.path.join(self.tmp, "slow")
        control = os.path.join(self.tmp, "control.sock")
        os.mkfifo(fifo)
        reader = SlowReader(fifo)
        self.addCleanup(reader.finish)
        flood = self.spawn([tool(FLOOD), "-t", "1", "-n", "3000000", "-S", "-L"],
                           stdin=subprocess.DEVNULL)
        listener = self.spawn([tool("st-listener"), "-g", "0"])
        flood.wait_fact("pid")
        listener.wait_fact("pid")
        agent = subprocess.Popen([str(SNAPTRIG), "--cooldown", "0s",
                                  "-t", "non-deterministic-call,first-listen", "--freeze",
                                  "--snapshot-on", "first-listen", "--exec", "/bin/true",
                                  "--control", control, "-o", fifo,
                                  "-p", f"{flood.pid},{listener.pid}"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        self.register(agent)
        if not reader.wait_started():
            agent.kill()
            self.fail("no line came: " + agent.communicate()[1].decode(errors="replace"))
        # the backlog builds while the reader takes a page a second
        time.sleep(2.5)
        answered = []
        for _ in range(5):
            started = time.monotonic()
            self.control_stats(control)
            answered.append(time.monotonic() - started)
        os.kill(listener.pid, signal.SIGUSR1)
        listener.wait_fact("ready")
        flood.wait_fact("calls", timeout=60)
        reader.speed_up()
        os.kill(listener.pid, signal.SIGTERM)
        code, err = self.wait_agent_exit(agent, 60, "its targets exited")
        lines = reader.lines()

        self.assertLess(max(answered), 1.0, f"control replies took {answered}")
        snaps = [line for line in lines if line["type"] == "snapshot"]
        self.assertEqual(len(snaps), 1, snaps)
        self.assertEqual(snaps[0]["status"], "ok")
        self.assertIs(snaps[0]["held"], True)
        self.assertLess(snaps[0]["held_ns"], 1_000_000_000, snaps[0])
        self.assertEqual(code, 0, err)
        self.assertEqual(err, [])
        self.assertEqual([line["seq"] for line in lines], list(range(1, len(lines) + 1)))
        self.assertEqual(lines[-1]["dropped_lines"], 0)
        self.assertNoProgramsLeft([agent.pid])

    def run_with_slow_reader(self, args, during=None):
        """Run snaptrig with -o to a FIFO read a page a second for 3 s, then at full speed.

        during, when given, is called with the start line 1.5 s into the slow reads.
        Returns the finished snaptrig, the reader, its exit code and stderr lines.
        """
        fifo = os.path.join(self.tmp, "slow")
        os.mkfifo(fifo)
        reader = SlowReader(fifo)
        self.addCleanup(reader.finish)
        agent = subprocess.Popen([str(SNAPTRIG), "-o", fifo] + args,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        self.register(agent)
        if not reader.wait_started():
            agent.kill()
            self.fail("no line came: " + agent.communicate()[1].decode(errors="replace"))
        if during:
            time.sleep(1.5)
            during(json.loads(reader.data().split(b"\n", 1)[0]))
            time.sleep(1.5)
        else:
            time.sleep(3)
        reader.speed_up()
        code, err = self.wait_agent_exit(agent, 60, "COMMAND exited")
        return agent, reader, code, err

    def test_slow_reader_counts_exact(self):
        """Call counts that wait for a slow reader come out later, exact."""
        agent, reader, code, err = self.run_with_slow_reader(
            ["--cooldown", "0s", "-t", "non-deterministic-call", "--",
             tool(FLOOD), "-t", "2", "-n", "500000", "-S", "-L"])
        printed = dict(re.findall(rb"^calls pid=(\d+) getrandom=(\d+)$",
                                  agent.stdout.read(), re.M))
        lines = reader.lines()

        self.assertEqual(code, 0, err)
        self.assertEqual(err, [])
        self.assertEqual(len(printed), 1, printed)
        pid, calls = printed.popitem()
        counted = sum(line["detail"]["calls"].get("getrandom", 0) for line in lines
                      if line.get("trigger") == "non-deterministic-call"
                      and line["pid"] == int(pid))
        self.assertEqual(counted, int(calls) + self.flood_extra_calls(2, 50))
        self.assertTrue([line for line in lines if line.get("detail", {}).get("count", 1) > 1],
                        "no coalesced line: the output never fell behind")
        self.assertEqual([line["seq"] for line in lines], list(range(1, len(lines) + 1)))
        self.assertEqual(lines[-1]["dropped_lines"], 0)
        self.assertNoProgramsLeft([agent.pid])

    def test_slow_reader_drops_lines_visibly(self):
        """A signal flood 16 MiB ahead of its reader loses lines, each one counted."""
        # about 30 MB of lines, made in well under a second, against a page a second
        agent, reader, code, err = self.run_with_slow_reader(
            ["-t", "sigalrm", "--ring-buffer-size", "64M", "--",
             tool(FLOOD), "-A", "-t", "4", "-n", "25000", "-S", "-L"])
        fifo = os.path.join(self.tmp, "slow")
        printed = re.findall(rb"^calls pid=\d+ sigalrm=(\d+)$", agent.stdout.read(), re.M)
        lines = reader.lines()

        self.assertEqual(code, 0, err)
        self.assertEqual(printed, [b"100000"])
        stats = lines[-1]
        self.assertEqual(stats["type"], "stats")
        self.assertEqual(stats["lost"], 0, stats)
        # every trigger counts, and the stats line counts the lines that never came
        self.assertEqual(stats["triggers"]["sigalrm"], 100000, stats)
        dropped = stats["dropped_lines"]
        self.assertGreater(dropped, 0, "nothing was dropped: the reader kept up")
        self.assertEqual(lines[-1]["seq"] - len(lines), dropped)
        self.assertEqual(err[0], f"snaptrig: output {fifo} is 16 MiB behind: dropping the lines "
                         "of repeating triggers, whose seq numbers are skipped, until it "
                         "catches up", err)
        reported = [int(n) for n in re.findall(r"^snaptrig: output \S+(?: caught up)?: (\d+) lines "
                                           r"were dropped while it was behind$",
                                           "\n".join(err), re.M)]
        self.assertEqual(sum(reported), dropped, err)
        self.assertEqual(len(err), 1 + len(reported), err)
        # only the lines of repeating triggers are dropped: the exec and exit still come
        pid = int(lines[0]["targets"][0])
        self.assertEqual([(line["type"], line["pid"]) for line in lines
                          if line["type"] not in ("start", "trigger", "stats")],
                         [("exec", pid), ("exit", pid)])
        self.assertEqual(stats["triggers"]["sigalrm"],
                         len([line for line in lines if line["type"] == "trigger"]) + dropped)
        self.assertNoProgramsLeft([agent.pid])

    def test_slow_reader_keeps_rare_lines(self):
        """Behind a reader, bootstrap and operator lines stay while signal lines go."""
        control = os.path.join(self.tmp, "control")
        replies = []

        def request_snapshot(start):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(TIMEOUT)
                sock.connect(control)
                request = {"request": "snapshot", "pid": start["targets"][0]}
                sock.sendall(json.dumps(request).encode() + b"\n")
                replies.append(json.loads(sock.makefile("rb").readline()))

        # the shell runs /bin/true and sleep after the flood, while lines are dropped
        script = f"{tool(FLOOD)} -A -t 4 -n 25000 -S -L; /bin/true; exec /bin/sleep 3"
        agent, reader, code, err = self.run_with_slow_reader(
            ["-t", "sigalrm,bootstrap,explicit", "--ring-buffer-size", "64M",
             "--control", control, "--", "/bin/sh", "-c", script], during=request_snapshot)
        lines = reader.lines()

        self.assertEqual(code, 0, err)
        self.assertGreater(lines[-1]["dropped_lines"], 0, "nothing was dropped")
        self.assertEqual(len(replies), 1)
        self.assertIs(replies[0]["ok"], True, replies)
        by_seq = {line["seq"]: line for line in lines}
        self.assertIn(replies[0]["seq"], by_seq, "the operator's line was dropped")
        self.assertEqual(by_seq[replies[0]["seq"]]["detail"], {"source": "operator"})
        booted = [line["detail"]["filename"] for line in lines
                  if line.get("trigger") == "bootstrap"]
        self.assertEqual(booted, ["/bin/sh", tool(FLOOD), "/bin/true", "/bin/sleep"])

    def control_stats(self, control):
        """Return the stats reply of the control socket at path control."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(control)
            sock.sendall(b'{"request":"stats"}\n')
            return json.loads(sock.makefile("rb").readline())

    def test_output_unwritable(self):
        marker = os.path.join(self.tmp, "ran")
        for path in (self.tmp, os.path.join(self.tmp, "missing", "out")):
            with self.subTest(path=path):
                proc = subprocess.run([str(SNAPTRIG), "-o", path, "--", "/bin/sh",
                                       "-c", f"touch {marker}"],
                                      capture_output=True, timeout=TIMEOUT)
                err = proc.stderr.decode(errors="replace").splitlines()
                self.assertEqual(proc.returncode, 1, err)
                self.assertEqual(proc.stdout, b"")
                self.assertEqual(len(err), 1, err)
                self.assertIn(f"'{path}'", err[0])
                self.assertFalse(os.path.exists(marker), "COMMAND ran")

    def test_signals_at_random_moments(self):
        rng = random.Random(int(os.environ.get("SNAPTRIG_TEST_SEED", "0")) or None)
        # Each signal twice, once with --freeze and once without; SIGKILL four
        # times, because only the watchdog resumes a held process after it.
        sigs = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
        for i in range(10):
            sig, delay = sigs[(i // 2) % 4], rng.uniform(0.0, 0.6)
            freeze = i % 2 == 1
            args = ["-t", "first-listen,non-deterministic-call", "--cooldown", "50ms"]
            if freeze:
                args += ["--freeze", "--exec", "/bin/sleep 0.1"]
            context = f" (iteration {i}, {sig.name} after {delay:.3f} s, freeze {freeze})"
            with self.subTest(iteration=i, signal=sig.name, freeze=freeze):
                run = self.trace(args, [tool(FLOOD), "-t", "1", "-n", "100000000"],
                                 stdin=subprocess.DEVNULL)
                time.sleep(delay)
                run.interrupt(sig)
                try:
                    run.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.fail("snaptrig did not exit" + context + run.describe())
                time.sleep(0.1)
                pids = run.traced_pids()
                self.assertNotStopped(pids, context)
                self.assertNoProgramsLeft([run.pid], context)
                for pid in pids:
                    self._kill_pid(pid)

    def test_agent_killed_after_held_listen(self):
        """SIGKILL to snaptrig just after a held first-listen was resumed."""
        for i in range(3):
            with self.subTest(iteration=i):
                run = self.trace(["-t", "first-listen,non-deterministic-call",
                                  "--cooldown", "50ms", "--freeze",
                                  "--exec", "/bin/sleep 0.1"],
                                 [tool(FLOOD), "-t", "1", "-n", "100000000"],
                                 stdin=subprocess.DEVNULL)
                pid = run.wait_start()["targets"][0]
                run.wait_trigger("first-listen", pid)
                run.interrupt(signal.SIGKILL)
                run.proc.wait(TIMEOUT)
                self.assertNotStopped([pid], f" (iteration {i})" + run.describe())
                self.assertNoProgramsLeft([run.pid])
                self._kill_pid(pid)

    def test_attach_agent_stopped_while_holding(self):
        """SIGINT, SIGTERM or SIGKILL to snaptrig -p while it holds processes."""
        rng = random.Random()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            for i in range(2):
                delay = rng.uniform(0.0, 0.2)
                context = f" ({sig.name} {delay:.3f} s after the first held line)"
                with self.subTest(signal=sig.name, iteration=i):
                    target = self.spawn([tool(FLOOD), "-t", "1", "-n", "100000000",
                                         "-S", "-L"], stdin=subprocess.DEVNULL)
                    target.wait_fact("pid")
                    run = self.trace(["-t", "non-deterministic-call", "--cooldown",
                                      "50ms", "--freeze", "--exec", "/bin/sleep 0.1",
                                      "-p", str(target.pid)])
                    run.wait_record(lambda r: r.get("held") is True, "a held line")
                    time.sleep(delay)
                    run.interrupt(sig)
                    run.proc.wait(TIMEOUT)
                    self.assertNotStopped([target.pid], context + run.describe())
                    self.assertNoProgramsLeft([run.pid], context)
                    self._kill_pid(target.pid)

    def agent_children(self, agent):
        """Return the agent's children by name: the watchdog is "snaptrig"."""
        with open(f"/proc/{agent}/task/{agent}/children", encoding="ascii") as f:
            pids = [int(p) for p in f.read().split()]
        named = collections.defaultdict(list)
        for pid in pids:
            try:
                with open(f"/proc/{pid}/comm", encoding="ascii") as f:
                    named[f.read().strip()].append(pid)
            except FileNotFoundError:
                pass
        return named

    def held_flood(self, checkpointer="/bin/sleep 5"):
        """Start a getrandom flood and snaptrig -p on it; return both once one is held."""
        target = self.spawn([tool(FLOOD), "-t", "1", "-n", "100000000", "-S", "-L"],
                            stdin=subprocess.DEVNULL)
        target.wait_fact("pid")
        run = self.trace(["-t", "non-deterministic-call", "--cooldown", "50ms", "--freeze",
                          "--exec", checkpointer, "-p", str(target.pid)])
        run.wait_start()
        return target, run

    def end_checkpointers(self, pids):
        for pid in pids:
            self._kill_pid(pid)

    def test_resume_after_watchdog_killed(self):
        """The watchdog dies, then the stopped agent: the kernel resumes the held process."""
        target, run = self.held_flood()
        run.wait_record(lambda r: r.get("held") is True, "a held line")
        children = self.agent_children(run.pid)
        self.addCleanup(self.end_checkpointers, children["sleep"])
        self.assertEqual(len(children["snaptrig"]), 1, run.describe())
        # stopped, the agent cannot start another watchdog
        os.kill(run.pid, signal.SIGSTOP)
        self.assertEqual(wait_state(run.pid, {"T"}), "T")
        os.kill(children["snaptrig"][0], signal.SIGKILL)
        self.assertEqual(wait_state(children["snaptrig"][0], {"Z"}), "Z")
        self.assertEqual(process_state(target.pid), "T", run.describe())
        run.interrupt(signal.SIGKILL)
        run.proc.wait(TIMEOUT)
        self.assertNotStopped([target.pid], run.describe())
        self.assertNoProgramsLeft([run.pid, children["snaptrig"][0]])

    def test_watchdog_restarted(self):
        """A dead watchdog is replaced, and the new one is told of the running checkpointer."""
        target, run = self.held_flood()
        run.wait_record(lambda r: r.get("held") is True, "a held line")
        children = self.agent_children(run.pid)
        self.addCleanup(self.end_checkpointers, children["sleep"])
        dead = children["snaptrig"][0]
        os.kill(dead, signal.SIGKILL)
        message = f"snaptrig: the watchdog (pid {dead}) ended with signal 9; started another"
        self.assertIsNotNone(run.err.wait(lambda line: line.startswith(message)), run.describe())
        renewed = self.agent_children(run.pid)["snaptrig"]
        self.assertEqual(len(renewed), 1, run.describe())
        self.assertNotEqual(renewed[0], dead)
        self.assertIn(f"(pid {renewed[0]})", run.describe())
        run.interrupt(signal.SIGKILL)
        run.proc.wait(TIMEOUT)
        self.assertNotStopped([target.pid], run.describe())
        # the new watchdog killed the checkpointer group before it resumed the process
        for pid in children["sleep"]:
            self.assertIn(wait_state(pid, {None, "Z"}), {None, "Z"}, run.describe())

    def remove_group(self, group):
        """End the processes this test put in group (agent, watchdog, checkpointer), then rmdir it."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with open(os.path.join(group, "cgroup.procs"), encoding="ascii") as f:
                members = [int(p) for p in f.read().split()]
            if not members:
                break
            with open(os.path.join(group, "cgroup.kill"), "w", encoding="ascii") as f:
                f.write("1")
            time.sleep(0.05)
        os.rmdir(group)

    def test_resume_after_cgroup_killed(self):
        """A service manager kills the agent's cgroup, watchdog included."""
        mount = next(line.split()[4] for line in open("/proc/self/mountinfo", encoding="utf-8")
                     if line.split()[line.split().index("-") + 1] == "cgroup2")
        group = os.path.join(mount, f"snaptrig-guard-{os.getpid()}-{time.monotonic_ns()}")
        os.mkdir(group)
        target, run = self.held_flood()
        self.addCleanup(self.remove_group, group)
        watchdog = self.agent_children(run.pid)["snaptrig"]
        self.assertEqual(len(watchdog), 1, run.describe())
        for pid in (run.pid, watchdog[0]):
            with open(os.path.join(group, "cgroup.procs"), "w", encoding="ascii") as f:
                f.write(str(pid))
        run.wait_record(lambda r: r.get("held") is True, "a held line")
        self.assertEqual(wait_state(target.pid, {"T"}), "T", run.describe())
        # the checkpointer may have started before the move, outside the cgroup
        self.addCleanup(self.end_checkpointers, self.agent_children(run.pid)["sleep"])
        with open(os.path.join(group, "cgroup.kill"), "w", encoding="ascii") as f:
            f.write("1")
        run.proc.wait(TIMEOUT)
        self.assertNotStopped([target.pid], run.describe())
        self.assertNoProgramsLeft([run.pid, watchdog[0]])

    def test_target_killed_while_held(self):
        # The checkpointer runs to its end: snaptrig waits for it, then writes
        # the snapshot line.
        run = self.trace(["-t", "first-listen", "--freeze", "--exec", "/bin/sleep 2"],
                         [tool(FLOOD), "-t", "0", "-n", "1", "-S", "-I"])
        pid = int(run.wait_fact("pid"))
        run.wait_trigger("first-listen", pid)
        self.assertEqual(wait_state(pid, ("T",), 3), "T", "the target was not held")
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(run.wait_exit(timeout=6), 128 + signal.SIGKILL, run.describe())
        exits = run.exits(pid)
        self.assertEqual(len(exits), 1, run.describe())
        self.assertEqual(exits[0]["signal"], signal.SIGKILL)
        snaps = run.of_type("snapshot")
        self.assertEqual([s["status"] for s in snaps], ["target-exited"], run.describe())
        self.assertLess(exits[0]["seq"], snaps[0]["seq"])
        self.assertNoProgramsLeft([run.pid])

    def test_target_killed_at_random_moments(self):
        rng = random.Random()
        for i in range(4):
            delay = rng.uniform(0.0, 0.3)
            with self.subTest(iteration=i, delay=delay):
                run = self.trace(["-t", ONCE_TRIGGERS, "--cooldown", "20ms",
                                  "--freeze", "--exec", "/bin/sleep 0.05"],
                                 [tool(FLOOD), "-t", "1", "-n", "100000000"],
                                 stdin=subprocess.DEVNULL)
                pid = run.wait_start()["targets"][0]
                time.sleep(delay)
                os.kill(pid, signal.SIGKILL)
                self.assertEqual(run.wait_exit(timeout=5), 128 + signal.SIGKILL,
                                 run.describe())
                self.assertEqual(len(run.exits(pid)), 1, run.describe())
                for snap in run.of_type("snapshot")[-1:]:
                    self.assertIn(snap["status"], ("ok", "skipped", "target-exited"), snap)
                self.assertNoProgramsLeft([run.pid], f" (delay {delay:.3f})")


# Invalid values for the options that test_cli.py does not cover, with the
# exact stderr line and exit status. "{pid}" is a sleeping process.
BAD_INPUT = [
    (["--cooldown", ""], "invalid duration '' for --cooldown: empty value"),
    (["--cooldown", "-5ms"],
     "invalid duration '-5ms' for --cooldown: negative values are not allowed"),
    (["--cooldown", "99999999999999999999s"],
     "invalid duration '99999999999999999999s' for --cooldown: out of range (at most 365 days)"),
    (["--cooldown", "0.0000000001s"],
     "invalid duration '0.0000000001s' for --cooldown: more than 9 fraction digits"),
    (["--idle-threshold", "1e3s"], "invalid duration '1e3s' for --idle-threshold: "
     "unknown unit 'e3s' (use ns, us, ms, s or m)"),
    (["--snapshot-interval", "0s"],
     "invalid duration '0s' for --snapshot-interval: must be at least 1ms"),
    (["--ring-buffer-size", ""],
     "invalid size '' for --ring-buffer-size: expected a number like 4M"),
    (["--ring-buffer-size", "-4K"],
     "invalid size '-4K' for --ring-buffer-size: expected a number like 4M"),
    (["--ring-buffer-size", "3K"],
     "invalid size '3K' for --ring-buffer-size: use a power of two from 4K to 1G"),
    (["--ring-buffer-size", "2K"],
     "invalid size '2K' for --ring-buffer-size: use a power of two from 4K to 1G"),
    (["--ring-buffer-size", "2G"],
     "invalid size '2G' for --ring-buffer-size: use a power of two from 4K to 1G"),
    (["--ring-buffer-size", "4KB"],
     "invalid size '4KB' for --ring-buffer-size: use a power of two from 4K to 1G"),
    (["--ring-buffer-size", "99999999999999999999K"],
     "invalid size '99999999999999999999K' for --ring-buffer-size: out of range"),
    (["--max-snapshots", "0", "--exec", "true"],
     "invalid count '0' for --max-snapshots: expected a positive integer"),
    (["--max-snapshots", "-1", "--exec", "true"],
     "invalid count '-1' for --max-snapshots: expected a positive integer"),
    (["--max-snapshots", "99999999999999999999", "--exec", "true"],
     "invalid count '99999999999999999999' for --max-snapshots: out of range"),
    (["--marker-sites", "0"], "invalid count '0' for --marker-sites: expected 1 to 65536"),
    (["--marker-sites", "65537"],
     "invalid count '65537' for --marker-sites: expected 1 to 65536"),
    (["--marker-sites", "+5"], "invalid count '+5' for --marker-sites: expected 1 to 65536"),
    (["--marker-sites", " 5"], "invalid count ' 5' for --marker-sites: expected 1 to 65536"),
    (["--max-snapshots", "+2", "--exec", "true"],
     "invalid count '+2' for --max-snapshots: expected a positive integer"),
    (["--ring-buffer-size", " 4K"],
     "invalid size ' 4K' for --ring-buffer-size: expected a number like 4M"),
    (["--ring-buffer-size", "+4K"],
     "invalid size '+4K' for --ring-buffer-size: expected a number like 4M"),
    (["--request-snapshot", "+1"],
     "invalid pid '+1' for --request-snapshot: expected a positive integer"),
    (["--snapshot-timeout", "0s", "--exec", "true"],
     "invalid duration '0s' for --snapshot-timeout: must be more than 0"),
    (["--format", ""], "invalid format '' for --format: use json or text"),
    (["-t", ""], "--trigger: empty trigger name in list ''"),
    (["-t", "first-listen,,sigint"],
     "--trigger: empty trigger name in list 'first-listen,,sigint'"),
    (["--snapshot-on", "nosuch", "--exec", "true"], "--snapshot-on: invalid trigger "
     "'nosuch': valid names are first-listen, first-stdin, first-environ, "
     "first-sigint, idle, periodic-interval, sigint, sigalrm, sigtstp, sigstop, "
     "non-deterministic-call, bootstrap, transaction, explicit, default, all"),
    (["--environ-probe", "nocolon", "-t", "first-environ"],
     "invalid probe 'nocolon' for --environ-probe: expected BINARY:SYMBOL"),
    (["--environ-probe", "/nonexistent:getenv", "-t", "first-environ"],
     "invalid probe '/nonexistent:getenv' for --environ-probe: binary "
     "'/nonexistent' not found; give its path"),
    (["--exec", ""], "invalid template '' for --exec: give the checkpointer command"),
    (["--exec", "a {pid"], "invalid template 'a {pid' for --exec: unbalanced brace '{pid' "
     "without a closing '}' in its word (a placeholder such as {pid} has no spaces; "
     "write {{ for a literal brace)"),
    (["--control", ""], "invalid path '' for --control: give the socket path"),
    (["--control", "/tmp/" + "c" * 103],
     f"invalid path '/tmp/{'c' * 103}' for --control: longer than 107 bytes; use a shorter path"),
    (["--request-socket", ""], "invalid path '' for --request-socket: give the socket path"),
    (["--request-socket", "/tmp/" + "r" * 103, "--", "/bin/true"],
     f"invalid path '/tmp/{'r' * 103}' for --request-socket: longer than 107 bytes; "
     "use a shorter path"),
    (["--request-snapshot", "0"],
     "invalid pid '0' for --request-snapshot: expected a positive integer"),
    (["-o", ""], "invalid output path '' for --output: give a file path"),
]

BAD_PIDS = [
    (["-p", "0"], "invalid pid '0' for -p: expected a positive integer"),
    (["-p", "-1"], "invalid pid '-1' for -p: expected a positive integer"),
    (["-p", "+{pid}"], "invalid pid '+{pid}' for -p: expected a positive integer"),
    (["-p", " {pid}"], "invalid pid ' {pid}' for -p: expected a positive integer"),
    (["-p", "99999999999999999999"],
     "invalid pid '99999999999999999999' for -p: out of range"),
    (["-p", "{pid},"], "invalid pid list '{pid},' for -p: expected PID[,PID...]"),
    (["-p", "{pid},{pid}"], "duplicate pid {pid} for -p: name each process once"),
    (["-p", "{pid}", "-p", "{pid}"], "duplicate pid {pid} for -p: name each process once"),
    (["-p", "2"],
     "process 2 is a kernel thread (-p): only user processes can be traced"),
]


def zombie_message(pid):
    return (f"snaptrig: process {pid} has already exited (-p): it is a zombie "
            "waiting for its parent")


class BadInputTest(SnaptrigTestCase):

    def setUp(self):
        super().setUp()
        self.programs_before = handler_programs()

    def run_agent(self, args, timeout=TIMEOUT):
        proc = subprocess.run([str(SNAPTRIG)] + args, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout)
        return (proc.returncode, proc.stdout.decode(errors="replace"),
                proc.stderr.decode(errors="replace").splitlines())

    def assertRejected(self, args, message, code=2):
        rc, out, err = self.run_agent(args)
        context = f"snaptrig {args}: stderr {err!r}"
        self.assertEqual(rc, code, context)
        self.assertEqual(out, "", context)
        self.assertEqual(err, ["snaptrig: " + message], context)
        self.assertEqual(leaked_programs(self.programs_before, []), set(), context)

    def test_bad_option_values(self):
        for args, message in BAD_INPUT:
            with self.subTest(args=args):
                self.assertRejected(args + ["--", "/bin/true"], message)

    def test_bad_pids(self):
        sleeper = self.spawn(["/bin/sleep", "30"], stdout=subprocess.DEVNULL)
        for args, message in BAD_PIDS:
            args = [a.replace("{pid}", str(sleeper.pid)) for a in args]
            with self.subTest(args=args):
                self.assertRejected(args, message.replace("{pid}", str(sleeper.pid)))

    def test_thread_and_its_process(self):
        target = self.spawn([PYTHON_THREADS[0], "-c", PYTHON_THREADS[1]])
        tid = int(target.wait_fact("tid"))
        self.assertNotEqual(tid, target.pid)
        self.assertRejected(["-p", f"{target.pid},{tid}"],
                            f"process {target.pid} is named twice (-p): "
                            f"pid {tid} is in process {target.pid}")

    def orphan_sleeper(self, seconds):
        """Start sleep(1) as an orphan, so init reaps it when it exits."""
        shell = subprocess.run(["/bin/sh", "-c", f"/bin/sleep {seconds} >/dev/null & echo $!"],
                               capture_output=True, check=True, timeout=TIMEOUT)
        pid = int(shell.stdout)
        self.addCleanup(self._kill_pid, pid)
        return pid

    def test_pid_exits_during_attach(self):
        for delay in (0.0, 0.005, 0.02, 0.05, 0.1):
            with self.subTest(delay=delay):
                pid = self.orphan_sleeper(delay)
                rc, out, err = self.run_agent(["-t", "first-listen", "-p", str(pid)])
                context = f"delay {delay}: rc {rc}, stderr {err!r}, stdout {out!r}"
                self.assertIn(rc, (0, 2), context)
                # The orphan is a zombie until init reaps it.
                if rc == 2:
                    self.assertIn(err[0] if len(err) == 1 else err,
                                  (f"snaptrig: process {pid} not found (-p): "
                                   "check the pid with ps", zombie_message(pid)),
                                  context)
                else:
                    lines = [json.loads(l) for l in out.splitlines()]
                    self.assertEqual(lines[-1]["type"], "stats", context)
                self.assertEqual(leaked_programs(self.programs_before, []), set(), context)

    def test_attach_zombie(self):
        zombie = subprocess.Popen(["/bin/true"])
        self.register(zombie)
        self.assertEqual(wait_state(zombie.pid, ("Z",)), "Z")
        try:
            rc, out, err = self.run_agent(["-t", "first-listen", "-p", str(zombie.pid)],
                                          timeout=5)
        except subprocess.TimeoutExpired:
            self.fail(f"snaptrig -p {zombie.pid} (a zombie) did not exit within 5 s")
        self.assertEqual(rc, 2, err)
        self.assertEqual(err, [zombie_message(zombie.pid)])
        self.assertEqual(out, "")
        zombie.wait()

    def test_attach_zombie_beside_live(self):
        """A zombie among live -p targets is left out, and the live one is traced."""
        zombie = subprocess.Popen(["/bin/true"])
        self.register(zombie)
        self.assertEqual(wait_state(zombie.pid, ("Z",)), "Z")
        sleeper = self.spawn(["/bin/sleep", "30"], stdout=subprocess.DEVNULL)
        run = self.trace(["-t", "sigalrm", "-p", f"{zombie.pid},{sleeper.pid}"],
                         stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_start()["targets"], [sleeper.pid])
        os.kill(sleeper.pid, signal.SIGALRM)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual([l["pid"] for l in run.triggers("sigalrm")], [sleeper.pid])
        exits = run.exits(sleeper.pid)
        self.assertEqual([(e["status"], e["signal"]) for e in exits],
                         [("killed", signal.SIGALRM)], run.describe())
        self.assertEqual(run.err.lines, [zombie_message(zombie.pid) + "; not traced"])
        zombie.wait()

    def test_output_disk_full(self):
        mount = tempfile.mkdtemp(prefix="snaptrig-full-")
        self.addCleanup(os.rmdir, mount)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount],
                       check=True, timeout=TIMEOUT)
        self.addCleanup(subprocess.run, ["umount", mount], timeout=TIMEOUT)
        target = self.spawn([tool(FLOOD), "-t", "1", "-n", "100000000", "-S", "-L"],
                            stdin=subprocess.DEVNULL)
        target.wait_fact("pid")
        path = os.path.join(mount, "out.jsonl")
        try:
            rc, out, err = self.run_agent(["-o", path, "--cooldown", "0s", "-t",
                                           "non-deterministic-call", "-p",
                                           str(target.pid)], timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("snaptrig kept running on a full disk")
        context = f"rc {rc}, stderr {err!r}"
        self.assertEqual(rc, 1, context)
        self.assertEqual(len(err), 1, context)
        self.assertTrue(err[0].startswith("snaptrig: "), context)
        self.assertIn(path, err[0], context)
        self.assertIn("No space left on device", err[0], context)
        # the line that did not fit is cut away, so the file contains whole lines only
        with open(path, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 0)
        self.assertTrue(data.endswith(b"\n"), data[-80:])
        for line in data.decode("utf-8").splitlines():
            json.loads(line)
        self.assertNotIn(process_state(target.pid), (None, "Z", "T"))
        self.assertEqual(leaked_programs(self.programs_before, []), set())


PYTHON_THREADS = ("/usr/bin/python3", "import os, threading, time\n"
                  "def run():\n"
                  "    os.write(1, b'tid %d\\n' % threading.get_native_id())\n"
                  "    time.sleep(30)\n"
                  "threading.Thread(target=run, daemon=True).start()\n"
                  "time.sleep(30)\n")


if __name__ == "__main__":
    unittest.main()
