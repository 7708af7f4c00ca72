"""Snapshot requests: checkpointers run at the trigger point, holds, limits.

The checkpointers are real: gcore from gdb, checkpointer.py next to this
file (it records the target's state during the request), sleep, and a unix socket
server run by the test. Every process a test stops is resumed in cleanup,
and every process it starts is killed by pid.
"""

import datetime
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import unittest
from pathlib import Path

from harness import (PYTHON, SNAPTRIG, TIME_RE, TIMEOUT, SnaptrigTestCase, process_state,
                     tool, wait_state)

CHECKPOINTER = Path(__file__).resolve().with_name("checkpointer.py")
GCORE = "/usr/bin/gcore"
GDB = "/usr/bin/gdb"
COUNTER_BEFORE = 1111
COUNTER_AFTER = 2222
USAGE_ERROR = 2
# A process the agent or the watchdog resumes must run again within this.
RESUME_WAIT = 1.0
# Timed-out checkpointers end within this many seconds of the deadline.
TIMEOUT_SLACK = 1.2


def checkpointer(out, *options, args=()):
    """Return an --exec template that runs checkpointer.py with out and options."""
    words = [PYTHON, str(CHECKPOINTER), "--out", str(out)] + list(options)
    template = " ".join(shlex.quote(w) for w in words)
    if args:
        template += " -- " + " ".join(args)
    return template


def read_json_file(path, timeout=TIMEOUT):
    """Wait for path to appear and return the JSON object in it, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            time.sleep(0.01)
    return None


def children_of(ppid):
    """Return {pid: comm} of the live processes whose parent is ppid."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == ppid and fields[0] != "Z":
            found[int(entry)] = comm
    return found


def cpu_seconds(pid):
    """Return the user plus system CPU time pid has used, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_time(text):
    """Parse an RFC 3339 UTC time with 9 fraction digits to seconds since the epoch."""
    stamp = datetime.datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()



def orphan_stopper(ready=None):
    """Return an --exec template whose checkpointer's child outlives it and then stops {pid}.

    The child ignores SIGTERM, creates the file ready when given, waits until
    its parent, the shell, has died, and sends SIGSTOP to the traced process.
    gdb does as much when SIGTERM ends the gcore script above it.
    """
    # no quotes inside the code: the template quotes it twice already
    touch = f"os.close(os.open(bytes({list(str(ready).encode())}).decode(), os.O_CREAT)); " \
        if ready else ""
    code = ("import os, signal, time; signal.signal(15, signal.SIG_IGN); " + touch +
            "p = os.getppid(); "
            "[time.sleep(0.01) for _ in iter(lambda: os.getppid() == p, False)]; "
            "os.kill({pid}, 19); time.sleep(30)")
    return f"/bin/sh -c '{PYTHON} -c \"{code}\" & wait'"

def ptrace_attacher():
    """Return an --exec template that attaches to {pid} with PTRACE_ATTACH and then sleeps.

    It never waits for the stop or detaches, and SIGTERM ends it, as it ends
    gdb under gcore in the middle of its attach. The SIGSTOP of the attach
    then stops the process once its tracer is gone.
    """
    code = ("import ctypes, time; libc = ctypes.CDLL(None, use_errno=True); "
            "libc.ptrace(16, {pid}, 0, 0); time.sleep(30)")
    return f"{PYTHON} -c \"{code}\""


def stop_left_messages(run, pid):
    """Return the stderr lines in which snaptrig reports resuming pid after its checkpointer."""
    pattern = re.compile(rf"^snaptrig: process {pid} was stopped during its snapshot request "
                         r"by checkpointer \d+, which snaptrig ended; resumed it with SIGCONT$")
    return [line for line in run.err.lines if pattern.match(line)]


def tracer_of(pid):
    """Return the TracerPid of pid, 0 when nothing traces it."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return 0


class ReplyServer:
    """A checkpointer on a unix socket: reads request lines, sends one reply each.

    reply is the line to send, or None to send nothing and keep the
    connection open, or "close" to close it without a reply. For each request
    the server stores the line, the target's state when it arrived, and
    whether the agent closed the connection afterwards.
    """

    def __init__(self, test, path, reply):
        self.path = path
        self.reply = reply
        self.requests = []
        self.states = []
        self.peer_closed = []
        self._conns = []
        self._cond = threading.Condition()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(4)
        self._sock.settimeout(0.1)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        test.addCleanup(self.close)

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._conns.append(conn)
            self._handle(conn)

    def _handle(self, conn):
        data = b""
        conn.settimeout(TIMEOUT)
        try:
            while b"\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass

        line = data.decode("utf-8", errors="replace").rstrip("\n")
        state = None
        try:
            state = process_state(json.loads(line)["pid"])
        except (ValueError, KeyError, TypeError):
            pass
        with self._cond:
            self.requests.append(line)
            self.states.append(state)
            self._cond.notify_all()

        if self.reply == "close":
            conn.close()
            return
        if self.reply is not None:
            conn.sendall(self.reply.encode() + b"\n")
            return

        # no reply: wait for the agent to give up and close its end
        try:
            closed = conn.recv(1) == b""
        except OSError:
            closed = False
        with self._cond:
            self.peer_closed.append(closed)
            self._cond.notify_all()

    def wait_request(self, timeout=TIMEOUT):
        with self._cond:
            self._cond.wait_for(lambda: self.requests, timeout)
            return self.requests[0] if self.requests else None

    def wait_peer_closed(self, timeout=TIMEOUT):
        with self._cond:
            self._cond.wait_for(lambda: self.peer_closed, timeout)
            return self.peer_closed[0] if self.peer_closed else None

    def close(self):
        self._stop = True
        for conn in self._conns:
            conn.close()
        self._sock.close()
        self._thread.join(TIMEOUT)


class SnapshotTestCase(SnaptrigTestCase):
    """Helpers shared by the snapshot tests."""

    def kill_later(self, pid):
        """Resume and kill pid in cleanup: a checkpointer or its child."""
        self.addCleanup(self._kill_pid, pid)

    def wait_sleeper(self, run):
        """Return the pid of the sleep checkpointer that snaptrig started; kill it in cleanup."""
        deadline = time.monotonic() + TIMEOUT
        while "sleep" not in children_of(run.pid).values() and time.monotonic() < deadline:
            time.sleep(0.01)
        sleepers = [c for c, comm in children_of(run.pid).items() if comm == "sleep"]
        self.assertEqual(len(sleepers), 1, run.describe())
        self.kill_later(sleepers[0])
        return sleepers[0]

    def trace_counter(self, args, marker=None, extra=(), **kwargs):
        """Trace st-counter with args; return the run and the counter's pid."""
        command = [tool("st-counter")] + list(extra)
        if marker:
            command += ["-f", str(marker)]
        run = self.trace(args, command, **kwargs)
        pid = int(run.wait_fact("pid"))
        return run, pid

    def trace_signals(self, args):
        """Trace st-signals with args; return the run and the tool's pid."""
        run = self.trace(args, [tool("st-signals")])
        pid = int(run.wait_fact("pid"))
        run.wait_fact("ready")
        run.wait_start()
        return run, pid

    def wait_snapshot(self, run, pid, index=0, timeout=TIMEOUT):
        """Return the index-th snapshot line of pid; fail if it does not come."""
        def enough(_):
            return len([r for r in run.of_type("snapshot") if r["pid"] == pid]) > index
        if run.out.wait(enough, timeout) is None:
            self.fail(f"timed out waiting for snapshot line {index} of {pid}"
                      + run.describe())
        return [r for r in run.of_type("snapshot") if r["pid"] == pid][index]

    def assertFields(self, run, line, **expected):
        """Assert each expected field of line, one assert per field."""
        for key, value in expected.items():
            self.assertIn(key, line, f"line without {key!r}" + run.describe())
            self.assertEqual(line[key], value, f"field {key!r}" + run.describe())

    def assertServed(self, run, line, *triggers):
        """Assert that line's triggers list the given trigger lines, in order."""
        self.assertEqual(line["triggers"],
                         [{"trigger": t["trigger"], "seq": t["seq"]} for t in triggers],
                         run.describe())

    def assertRunning(self, pid, what):
        """Assert that pid leaves the stopped state within RESUME_WAIT seconds."""
        state = wait_state(pid, {"R", "S", "D"}, RESUME_WAIT)
        self.assertIn(state, {"R", "S", "D"}, f"{what}: pid {pid} in state {state}")

    def finish_counter(self, run, pid, code=0):
        run.close_stdin()
        self.assertEqual(run.wait_exit(), code, run.describe())

    def send_alarm(self, run, pid, index):
        """Send SIGALRM to st-signals and return the index-th sigalrm line of pid."""
        os.kill(pid, signal.SIGALRM)

        def enough(_):
            return len(run.triggers("sigalrm", pid)) > index
        if run.out.wait(enough) is None:
            self.fail(f"no sigalrm line {index}" + run.describe())
        return run.triggers("sigalrm", pid)[index]

    def stop_signals(self, run, pid):
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertExited(run, pid, 0, comm="st-signals")


@unittest.skipUnless(os.access(GCORE, os.X_OK), "gcore (Debian package gdb) is not installed")
class GcoreTest(SnapshotTestCase):

    def test_text_snapshot_line_has_time(self):
        run = self.trace(["--format", "text", "-t", "bootstrap", "--exec", "/bin/true"],
                         ["/bin/sleep", "0.5"])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        boots = [value.split() for _, value in run.facts
                 if isinstance(value, str) and value.split()[:1] == ["bootstrap"]]
        self.assertEqual(len(boots), 1, run.describe())
        pid = boots[0][1]
        snaps = [line for line in run.out.lines if " snapshot " in line]
        self.assertEqual(len(snaps), 1, run.describe())
        self.assertRegex(snaps[0],
                         rf"^# \d\d:\d\d:\d\d\.\d{{6}} snapshot {pid} ok held=no exit=0$")

    def test_text_snapshot_line_failed(self):
        run = self.trace(["--format", "text", "-t", "bootstrap", "--exec", "/bin/false"],
                         ["/bin/sleep", "0.5"])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        snaps = [line.split()[2:] for line in run.out.lines if " snapshot " in line]
        self.assertEqual(len(snaps), 1, run.describe())
        self.assertEqual(snaps[0][2:], ["failed", "exit-code", "held=no", "exit=1"],
                         run.describe())

    def test_text_trigger_line_says_held(self):
        run = self.trace(["--format", "text", "-t", "bootstrap", "--freeze", "--exec", "/bin/true"],
                         ["/bin/sleep", "0.5"])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        boots = [value.split() for _, value in run.facts
                 if isinstance(value, str) and value.split()[:1] == ["bootstrap"]]
        self.assertEqual(len(boots), 1, run.describe())
        self.assertEqual(boots[0][1:], [boots[0][1], boots[0][1], "sleep", "filename=/bin/sleep",
                                        f"ppid={run.pid}", "held=yes"])

    def test_text_snapshot_line_held_ms(self):
        """A held request's text line has held=yes and the hold's duration in held_ms."""
        run = self.trace(["--format", "text", "-t", "bootstrap", "--freeze",
                          "--exec", "/bin/sleep 0.2"], ["/bin/sleep", "0.1"])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        boots = [value.split() for _, value in run.facts
                 if isinstance(value, str) and value.split()[:1] == ["bootstrap"]]
        self.assertEqual(len(boots), 1, run.describe())
        snaps = [line for line in run.out.lines if " snapshot " in line]
        self.assertEqual(len(snaps), 1, run.describe())
        found = re.fullmatch(rf"# \d\d:\d\d:\d\d\.\d{{6}} snapshot {boots[0][1]} ok "
                             r"held=yes held_ms=(\d+) exit=0", snaps[0])
        self.assertIsNotNone(found, run.describe())
        self.assertGreaterEqual(int(found.group(1)), 200, run.describe())
        self.assertLess(int(found.group(1)), 200 + TIMEOUT_SLACK * 1000, run.describe())

    def test_gcore_at_first_listen(self):
        """The core contains the counter as it was at listen(2), not after it."""
        template = f"{GCORE} -o {self.tmp}/core {{pid}}"
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze", "--exec", template,
                                       "--snapshot-timeout", "20s"])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid, timeout=20)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        self.assertIs(trigger["held"], True)
        self.assertFields(run, snap, tid=pid, status="ok", exit_code=0, held=True,
                          hold="kernel", resumed=True, continued=False, ended=False)
        self.assertServed(run, snap, trigger)
        self.assertGreater(snap["held_ns"], 0)
        self.assertLess(snap["seq"], run.exits(pid)[0]["seq"])
        self.assertExited(run, pid, 0, comm="st-counter")
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())

        core = Path(self.tmp) / f"core.{pid}"
        self.assertTrue(core.exists(), f"{core} missing: {os.listdir(self.tmp)}")
        out = subprocess.run([GDB, "-batch", "-nx", "-ex", "print counter",
                              tool("st-counter"), str(core)],
                             capture_output=True, text=True, timeout=30)
        values = [l for l in out.stdout.splitlines() if l.startswith("$1 = ")]
        self.assertEqual(values, [f"$1 = {COUNTER_BEFORE}"], out.stdout + out.stderr)

    def test_gdb_stops_no_sigstop_line(self):
        """gcore's SIGSTOPs, one per thread, make no sigstop line, and a kill -STOP does."""
        script = ("import os, socket, sys, threading, time\n"
                  "for _ in range(3):\n"
                  "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
                  "s = socket.socket()\n"
                  "s.bind(('127.0.0.1', 0))\n"
                  "print('pid', os.getpid(), flush=True)\n"
                  "s.listen()\n"
                  "sys.stdin.read()\n")
        template = f"{GCORE} -o {self.tmp}/core {{pid}}"
        # without --freeze there is no hold to mark gdb's stops as the snapshot's
        run = self.trace(["-t", "first-listen,sigstop", "--max-snapshots", "1",
                          "--exec", template, "--snapshot-timeout", "20s"],
                         [PYTHON, "-c", script])
        pid = int(run.wait_fact("pid"))
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid, timeout=20)
        self.assertFields(run, snap, status="ok", held=False)
        self.assertServed(run, snap, trigger)
        core = Path(self.tmp) / f"core.{pid}"
        self.assertTrue(core.exists(), f"{core} missing: {os.listdir(self.tmp)}")
        self.assertEqual(run.triggers("sigstop"), [], run.describe())

        self.resume_later(pid)
        os.kill(pid, signal.SIGSTOP)
        line = run.wait_trigger("sigstop", pid)
        os.kill(pid, signal.SIGCONT)
        self.assertEqual(line["detail"]["sender"]["pid"], os.getpid())
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("sigstop")), 1, run.describe())
        self.assertExited(run, pid, 0)


class HoldTest(SnapshotTestCase):

    def test_kernel_hold_before_next_action(self):
        """At first-listen the process is stopped before the code after listen(2)."""
        marker = Path(self.tmp) / "after-listen"
        out = Path(self.tmp) / "record.json"
        template = checkpointer(out, "--pid", "{pid}", "--absent", str(marker))
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze", "--exec", template],
                                      marker=marker)
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid)
        record = read_json_file(out)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.assertTrue(marker.exists())
        self.finish_counter(run, pid)

        self.assertEqual(record["state"], "T")
        self.assertIs(record["absent_exists"], False)
        self.assertEqual(record["exe"], tool("st-counter"))
        self.assertEqual(record["env"]["SNAPTRIG_HELD"], "1")
        self.assertIs(trigger["held"], True)
        self.assertFields(run, snap, status="ok", exit_code=0, held=True, hold="kernel",
                          resumed=True, continued=False, ended=False, stderr="")
        self.assertServed(run, snap, trigger)
        self.assertGreaterEqual(snap["held_ns"], snap["duration_ns"])
        self.assertExited(run, pid, 0, comm="st-counter")
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())

    def test_agent_hold_for_signal(self):
        """A sigalrm trigger is held by the agent's SIGSTOP."""
        out = Path(self.tmp) / "record.json"
        template = checkpointer(out, "--pid", "{pid}")
        run, pid = self.trace_signals(["-t", "sigalrm", "--freeze", "--exec", template])
        trigger = self.send_alarm(run, pid, 0)
        snap = self.wait_snapshot(run, pid)
        record = read_json_file(out)
        self.assertRunning(pid, "after the request")
        run.wait_fact("got")
        self.stop_signals(run, pid)

        self.assertEqual(record["state"], "T")
        self.assertEqual(record["env"]["SNAPTRIG_HELD"], "1")
        self.assertIs(trigger["held"], True)
        self.assertFields(run, snap, status="ok", exit_code=0, held=True, hold="agent",
                          resumed=True, continued=False, ended=False)
        self.assertServed(run, snap, trigger)
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())

    def test_lazy_wakeup_held_trigger_wakes_agent(self):
        """With --lazy-wakeup a trigger that --freeze holds still wakes the agent.

        Its record is sent with a wakeup even when the snapshot cooldown skips
        it. A record that waited for the agent's drain, every 10 ms, would take
        2 ms or more in 4 of 5 cases, so a median under 2 ms over 20 such
        records would come about once in 400 runs.
        """
        run, pid = self.trace_signals(["-t", "sigalrm", "--freeze", "--lazy-wakeup",
                                       "--exec", "/bin/true"])
        for index in range(20):
            self.send_alarm(run, pid, index)
            time.sleep(0.02)
        snap = self.wait_snapshot(run, pid)
        self.assertFields(run, snap, status="ok", held=True, hold="agent", resumed=True)
        self.assertRunning(pid, "after the requests")
        self.stop_signals(run, pid)
        alarms = run.of_type("stats")[0]["latency"]["sigalrm"]
        self.assertEqual(alarms["lines"], 20)
        self.assertLess(alarms["p50_ns"], 2000000, run.describe())

    def test_foreign_sigcont_marks_continued(self):
        """A SIGCONT from another process during the hold makes continued true."""
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--exec", "/bin/sleep 1"])
        trigger = run.wait_trigger("first-listen", pid)
        self.assertEqual(wait_state(pid, {"T"}), "T")
        os.kill(pid, signal.SIGCONT)
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="ok", exit_code=0, held=True, hold="kernel",
                          resumed=True, continued=True)
        self.assertServed(run, snap, trigger)
        self.assertExited(run, pid, 0, comm="st-counter")

    def test_checkpointer_sigcont_continues(self):
        """A SIGCONT from the checkpointer lets the process run too: continued is true."""
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--exec", "/bin/kill -CONT {pid}"])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="ok", exit_code=0, held=True, hold="kernel",
                          continued=True)
        self.assertServed(run, snap, trigger)

    def test_agent_hold_zombie_leader(self):
        """A process whose main thread exited is held: its live thread stops at once."""
        out = Path(self.tmp) / "record.json"
        template = checkpointer(out, "--pid", "{pid}")
        run = self.trace(["-v", "-t", "periodic-interval", "--snapshot-interval", "300ms",
                          "--freeze", "--max-snapshots", "1", "--exec", template],
                         [tool("st-leader-exit")])
        pid = int(run.wait_fact("pid"))
        tid = int(run.wait_fact("tid"))
        self.assertEqual(wait_state(pid, {"Z"}), "Z")
        snap = self.wait_snapshot(run, pid)
        record = read_json_file(out)
        run.write_stdin(b"go\n")
        self.assertEqual(run.wait_exit(), 7, run.describe())

        self.assertEqual(record["threads"], {str(pid): "Z", str(tid): "T"})
        trigger = run.triggers("periodic-interval", pid)[0]
        self.assertIs(trigger["held"], True)
        self.assertFields(run, snap, status="ok", exit_code=0, held=True, hold="agent",
                          resumed=True, ended=False)
        self.assertServed(run, snap, trigger)
        waited = [l for l in run.err.lines if "did not stop within" in l]
        self.assertEqual(waited, [], run.describe())
        self.assertExited(run, pid, 7, comm="st-leader-exit")

    def test_raised_signal_held_by_kernel(self):
        """A signal the process sends itself stops it before kill(2) returns."""
        script = ("import os, signal, time\n"
                  "signal.signal(signal.SIGINT, lambda *a: None)\n"
                  "print('pid', os.getpid(), flush=True)\n"
                  "start = time.monotonic()\n"
                  "os.kill(os.getpid(), signal.SIGINT)\n"
                  "print('gap', time.monotonic() - start, flush=True)\n")
        # the first-sigint line, which requests nothing, comes first and must not end the hold
        for triggers in ("sigint", "first-sigint,sigint"):
            with self.subTest(triggers=triggers):
                run = self.trace(["-t", triggers, "--snapshot-on", "sigint", "--freeze",
                                  "--exec", "/bin/sleep 0.3"], [PYTHON, "-c", script])
                pid = int(run.wait_fact("pid"))
                trigger = run.wait_trigger("sigint", pid)
                snap = self.wait_snapshot(run, pid)
                self.assertGreaterEqual(float(run.wait_fact("gap")), 0.3, run.describe())
                self.assertEqual(run.wait_exit(), 0, run.describe())
                self.assertIs(trigger["held"], True)
                self.assertFields(run, snap, status="ok", held=True, hold="kernel",
                                  resumed=True)
                self.assertServed(run, snap, trigger)

    def test_exit_before_stop_not_held(self):
        """A signal that kills the process leaves nothing to hold: held is false."""
        target = self.spawn(["/bin/sleep", "30"])
        run = self.trace(["-t", "sigalrm", "--freeze", "--exec", "/bin/true",
                          "-p", str(target.pid)])
        run.wait_start()
        os.kill(target.pid, signal.SIGALRM)
        snap = self.wait_snapshot(run, target.pid)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertFields(run, snap, held=False, hold="none", resumed=None)

    def test_unstoppable_thread_not_held(self):
        """A thread in an uninterruptible wait for 500 ms: the request runs, not held."""
        marker = os.path.join(self.tmp, "held")
        run = self.trace(["-t", "sigalrm", "--freeze", "--exec",
                          f"/bin/sh -c 'echo $SNAPTRIG_HELD > {marker}'"],
                         [tool("st-vfork"), "2000"])
        pid = int(run.wait_fact("pid"))
        run.wait_fact("waiting")
        os.kill(pid, signal.SIGALRM)
        snap = self.wait_snapshot(run, pid)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertFields(run, snap, status="ok", held=False, hold="none", resumed=None)
        with open(marker, encoding="ascii") as f:
            self.assertEqual(f.read(), "0\n")
        self.assertIn(f"snaptrig: process {pid} has threads that did not stop within 500 ms; "
                      "the snapshot request goes on with them running (SNAPTRIG_HELD=0), "
                      "and the threads that stopped stay stopped until it ends",
                      run.err.lines)

    def test_bootstrap_hold_before_first_instruction(self):
        """At bootstrap the new image is loaded and stopped."""
        out = Path(self.tmp) / "record.json"
        template = checkpointer(out, "--pid", "{pid}")
        run, pid = self.trace_counter(["-t", "bootstrap", "--freeze", "--exec", template])
        trigger = run.wait_trigger("bootstrap", pid)
        snap = self.wait_snapshot(run, pid)
        record = read_json_file(out)
        self.finish_counter(run, pid)

        self.assertEqual(record["state"], "T")
        self.assertEqual(record["exe"], tool("st-counter"))
        self.assertIs(trigger["held"], True)
        self.assertFields(run, snap, status="ok", held=True, hold="kernel", resumed=True)
        self.assertServed(run, snap, trigger)
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())
        self.assertExited(run, pid, 0, comm="st-counter")

    def test_agent_killed_resumes_held(self):
        """The watchdog resumes a held process when snaptrig dies by SIGKILL."""
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--exec", "/bin/sleep 30"])
        run.wait_trigger("first-listen", pid)
        self.assertEqual(wait_state(pid, {"T"}), "T")
        deadline = time.monotonic() + TIMEOUT
        while "sleep" not in children_of(run.pid).values() and time.monotonic() < deadline:
            time.sleep(0.01)
        # launch mode: the traced command is a child of snaptrig too
        children = {c: comm for c, comm in children_of(run.pid).items() if c != pid}
        for child in children:
            self.kill_later(child)
        self.assertEqual(sorted(children.values()), ["sleep", "snaptrig"],
                         "expected the checkpointer and the watchdog")

        os.kill(run.pid, signal.SIGKILL)
        self.assertRunning(pid, "after snaptrig was killed")
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        for child in children:
            self.assertIn(wait_state(child, {None, "Z"}, RESUME_WAIT), {None, "Z"},
                          f"{children[child]} (pid {child}) outlived snaptrig")
        self.assertEqual(run.wait_exit(check=False), -signal.SIGKILL)
        self.assertEqual(run.of_type("snapshot"), [])
        run.close_stdin()

    def test_agent_killed_ends_checkpointer_children(self):
        """The watchdog kills the checkpointer's group, its children too, before it resumes."""
        child_file = Path(self.tmp) / "child"
        script = Path(self.tmp) / "dump.sh"
        script.write_text("#!/bin/sh\n"
                          "/bin/sleep 30 &\n"
                          f"echo $! > {shlex.quote(str(child_file))}.tmp\n"
                          f"mv {shlex.quote(str(child_file))}.tmp "
                          f"{shlex.quote(str(child_file))}\n"
                          "wait\n", encoding="ascii")
        script.chmod(0o755)
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--exec", shlex.quote(str(script))])
        run.wait_trigger("first-listen", pid)
        self.assertEqual(wait_state(pid, {"T"}), "T")
        deadline = time.monotonic() + TIMEOUT
        while not child_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        sleeper = int(child_file.read_text(encoding="ascii"))
        self.kill_later(sleeper)
        # on a busy machine the child may still be starting when its pid is written
        self.assertEqual(wait_state(sleeper, {"S"}), "S")

        os.kill(run.pid, signal.SIGKILL)
        self.assertRunning(pid, "after snaptrig was killed")
        self.assertIn(wait_state(sleeper, {None, "Z"}, RESUME_WAIT), {None, "Z"},
                      "the checkpointer's child outlived snaptrig")
        self.assertEqual(run.wait_exit(check=False), -signal.SIGKILL)
        run.close_stdin()

    def test_foreign_stop_stays_stopped(self):
        """A SIGSTOP from another process during the request is not undone."""
        out = Path(self.tmp) / "record.json"
        gate = Path(self.tmp) / "gate"
        template = checkpointer(out, "--gate", str(gate))
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze", "--exec", template])
        trigger = run.wait_trigger("first-listen", pid)
        self.assertIsNotNone(read_json_file(out), run.describe())
        self.resume_later(pid)
        os.kill(pid, signal.SIGSTOP)
        gate.touch()
        snap = self.wait_snapshot(run, pid)
        self.assertEqual(process_state(pid), "T")
        time.sleep(0.3)
        self.assertEqual(process_state(pid), "T", "the agent resumed the process late")

        os.kill(pid, signal.SIGCONT)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)
        self.assertFields(run, snap, status="ok", exit_code=0, held=True, hold="kernel",
                          resumed=False, ended=False)
        self.assertServed(run, snap, trigger)
        self.assertExited(run, pid, 0, comm="st-counter")

    def test_stop_by_traced_parent_stays_stopped(self):
        """A SIGSTOP from the target's parent, which snaptrig launched, is not undone."""
        out = Path(self.tmp) / "record.json"
        gate = Path(self.tmp) / "gate"
        stopped = Path(self.tmp) / "stopped"
        script = Path(self.tmp) / "parent.py"
        script.write_text(
            "import os, signal, subprocess, sys, time\n"
            f"child = subprocess.Popen([{tool('st-counter')!r}], stdin=subprocess.PIPE)\n"
            f"while not os.path.exists({str(out)!r}):\n"
            "    time.sleep(0.01)\n"
            "os.kill(child.pid, signal.SIGSTOP)\n"
            f"open({str(stopped)!r}, 'w').close()\n"
            "sys.stdin.read()\n"
            "child.stdin.close()\n"
            "sys.exit(child.wait())\n", encoding="utf-8")
        template = checkpointer(out, "--gate", str(gate))
        run = self.trace(["-t", "first-listen", "--freeze", "--exec", template],
                         [PYTHON, str(script)])
        parent = run.wait_start()["targets"][0]
        child = int(run.wait_fact("pid"))
        self.kill_later(child)
        self.resume_later(child)
        trigger = run.wait_trigger("first-listen", child)
        deadline = time.monotonic() + TIMEOUT
        while not stopped.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertTrue(stopped.exists(), run.describe())
        gate.touch()
        snap = self.wait_snapshot(run, child)
        time.sleep(0.3)
        state = process_state(child)

        os.kill(child, signal.SIGCONT)
        run.wait_fact("counter")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(state, "T", "the parent's SIGSTOP was undone" + run.describe())
        self.assertFields(run, snap, status="ok", held=True, hold="kernel", resumed=False)
        self.assertServed(run, snap, trigger)
        self.assertExited(run, child, 0, comm="st-counter")
        self.assertExited(run, parent, 0)

    def test_sigstop_trigger_stays_stopped(self):
        """A sigstop trigger with --freeze leaves the stopped process stopped.

        The process waits in vfork(2), in state D, when the SIGSTOP comes, so
        the stop is still pending when the agent handles the trigger.
        """
        run, pid = self.trace_counter(["-t", "sigstop", "--freeze", "--exec", "/bin/true"],
                                      extra=["-V", "700"])
        run.wait_fact("vfork")
        self.assertEqual(wait_state(pid, {"D"}), "D")
        self.resume_later(pid)
        os.kill(pid, signal.SIGSTOP)
        trigger = run.wait_trigger("sigstop", pid)
        snap = self.wait_snapshot(run, pid)
        state = wait_state(pid, {"T"}, 2)
        os.kill(pid, signal.SIGCONT)
        run.wait_fact("vforked")
        self.finish_counter(run, pid)

        self.assertEqual(state, "T", "the agent undid the SIGSTOP" + run.describe())
        self.assertFields(run, snap, status="ok", exit_code=0)
        self.assertIsNot(snap["resumed"], True)
        self.assertServed(run, snap, trigger)
        self.assertEqual(len(run.triggers("sigstop")), 1, run.describe())

    def test_flood_checkpointer_sees_hold(self):
        """Under a flood from 4 threads, SNAPTRIG_HELD matches the snapshot line, and
        a held process has every thread stopped when its checkpointer starts."""
        log = Path(self.tmp) / "checkpointer.log"
        script = Path(self.tmp) / "record.sh"
        script.write_text("#!/bin/sh\n"
                          "states=$(cat /proc/$SNAPTRIG_PID/task/*/stat | awk '{printf \"%s\", $3}')\n"
                          f"echo \"$SNAPTRIG_SEQ $SNAPTRIG_HELD $states\" >> {log}\n"
                          "sleep 0.05\n")
        script.chmod(0o755)
        target = self.spawn([tool("st-flood"), "-t", "4", "-n", "100000000", "-S", "-L"],
                            stdin=subprocess.DEVNULL)
        pid = int(target.wait_fact("pid"))
        run = self.trace(["-t", "non-deterministic-call", "--cooldown", "50ms", "--freeze",
                          "--exec", str(script), "-p", str(pid)])
        run.wait_start()
        time.sleep(2)
        run.interrupt()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertRunning(pid, "after snaptrig detached")

        seen = {}
        for line in log.read_text().splitlines():
            seq, held, states = line.split()
            seen[int(seq)] = (held, states)
        snaps = [s for s in run.of_type("snapshot") if s["status"] == "ok"]
        held = [s for s in snaps if s["held"]]
        self.assertGreaterEqual(len(held), 5, run.describe())
        for snap in snaps:
            first = snap["triggers"][0]["seq"]
            self.assertIn(first, seen, run.describe())
            self.assertEqual(seen[first][0], "1" if snap["held"] else "0",
                             f"snapshot {snap['seq']}" + run.describe())
            if snap["held"]:
                self.assertEqual(set(seen[first][1]), {"T"},
                                 f"snapshot {snap['seq']}: {seen[first][1]}")

    def test_later_kernel_hold_joins_request(self):
        """A trigger that holds nothing takes over the kernel's hold for a later
        trigger, whose record the agent has not read yet, and its checkpointer
        starts once every thread has stopped. The later trigger then joins.

        The agent writes the lines of a getrandom flood to a FIFO that the test
        leaves unread until the hold is seen. The test stops the agent, and
        meanwhile the process raises a SIGTSTP that it handles, then listens
        and is held by the kernel. Once the agent runs again it reads both
        records. A request that the agent started before the listen would
        let the process run instead, with no later hold. The checkpointer
        waits for a gate file, so the hold lasts until the test has seen it.
        """
        out = Path(self.tmp) / "record.json"
        gate = Path(self.tmp) / "gate"
        fifo = Path(self.tmp) / "lines"
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, reader)
        script = ("import os, signal, socket, sys\n"
                  "signal.signal(signal.SIGTSTP, lambda *_: None)\n"
                  "os.write(1, b'pid %d\\n' % os.getpid())\n"
                  "for _ in range(3000):\n"
                  "    os.urandom(8)\n"
                  "sys.stdin.readline()\n"
                  "os.kill(os.getpid(), signal.SIGTSTP)\n"
                  "s = socket.socket()\n"
                  "s.bind(('127.0.0.1', 0))\n"
                  "s.listen(1)\n"
                  "sys.stdin.read()\n")
        run = self.trace(["-t", "sigtstp,first-listen,non-deterministic-call", "--cooldown", "0s",
                          "--freeze", "--snapshot-on", "sigtstp,first-listen",
                          "--exec", checkpointer(out, "--pid", "{pid}", "--gate", str(gate)),
                          "-o", str(fifo)],
                         [PYTHON, "-c", script])
        pid = int(run.wait_fact("pid"))
        self.resume_later(pid)
        self.resume_later(run.proc.pid)
        os.kill(run.proc.pid, signal.SIGSTOP)
        self.assertEqual(wait_state(run.proc.pid, {"T"}), "T", "the agent did not stop")
        run.write_stdin(b"go\n")
        self.assertEqual(wait_state(pid, {"T"}), "T", "not held at its listen")
        os.kill(run.proc.pid, signal.SIGCONT)
        gate.touch()

        os.set_blocking(reader, True)
        data = []
        drain = threading.Thread(target=lambda: data.extend(iter(lambda: os.read(reader, 65536),
                                                                 b"")))
        drain.start()
        self.assertRunning(pid, "after the request")
        run.close_stdin()
        # the lines went to the FIFO, so the stream rules are not checked on stdout
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        drain.join(TIMEOUT)
        lines = [json.loads(raw) for raw in b"".join(data).splitlines()]
        triggers = {l["trigger"]: l for l in lines if l["type"] == "trigger" and l["pid"] == pid
                    and l["trigger"] in ("sigtstp", "first-listen")}
        snaps = [l for l in lines if l["type"] == "snapshot"]

        self.assertIs(triggers["sigtstp"]["held"], False)
        self.assertIs(triggers["first-listen"]["held"], True)
        self.assertEqual(len(snaps), 1, snaps)
        self.assertEqual(snaps[0]["triggers"],
                         [{"trigger": t, "seq": triggers[t]["seq"]}
                          for t in ("sigtstp", "first-listen")])
        self.assertFields(run, snaps[0], status="ok", held=True, hold="kernel", resumed=True)
        record = read_json_file(out)
        self.assertEqual(record["env"]["SNAPTRIG_HELD"], "1")
        self.assertEqual(set(record["threads"].values()), {"T"}, record)

    def attach_signals_frozen(self):
        """Start st-signals and attach snaptrig -t sigalrm --freeze to it."""
        target = self.spawn([tool("st-signals")])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        run = self.trace(["-t", "sigalrm", "--freeze", "--exec", "/bin/true",
                          "-p", str(pid)])
        run.wait_start()
        return target, pid, run

    def test_already_stopped_not_resumed(self):
        """A trigger of a process someone else stopped before it gets no hold."""
        target, pid, run = self.attach_signals_frozen()
        self.resume_later(pid)
        os.kill(pid, signal.SIGSTOP)
        self.assertEqual(wait_state(pid, {"T"}), "T")
        trigger = self.send_alarm(run, pid, 0)
        snap = self.wait_snapshot(run, pid)
        time.sleep(0.2)
        state = process_state(pid)
        os.kill(pid, signal.SIGCONT)
        target.wait_fact("got")
        run.interrupt()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(target.wait_exit(), 0)

        self.assertEqual(state, "T")
        self.assertIs(trigger["held"], False)
        self.assertFields(run, snap, status="ok", exit_code=0, held=False, hold="none",
                          resumed=None)
        self.assertServed(run, snap, trigger)

    def test_sigtstp_ignored_while_holding(self):
        """With --freeze and -p, a Ctrl-Z or a SIGTTOU does not stop snaptrig, which
        still resumes held processes and prints a message for each."""
        target, pid, run = self.attach_signals_frozen()
        self.resume_later(run.proc.pid)
        os.kill(run.proc.pid, signal.SIGTSTP)
        os.kill(run.proc.pid, signal.SIGTTOU)
        trigger = self.send_alarm(run, pid, 0)
        snap = self.wait_snapshot(run, pid)
        target.wait_fact("got")
        run.interrupt()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(target.wait_exit(), 0)

        self.assertIs(trigger["held"], True)
        self.assertFields(run, snap, status="ok", held=True, hold="agent", resumed=True)
        for name in ("SIGTSTP", "SIGTTOU"):
            self.assertIn(f"snaptrig: ignoring {name}: with --freeze, processes held while "
                          "snaptrig is stopped would stay stopped; send SIGINT to stop tracing",
                          run.err.lines)

    def test_max_snapshots_ends_kernel_holds(self):
        """After its last snapshot, a process is no longer stopped for its triggers."""
        run = self.trace(["-t", "transaction", "--freeze", "--cooldown", "0s",
                          "--max-snapshots", "2", "--exec", "/bin/true"],
                         [tool("st-sync"), "-f", "5", self.tmp])
        self.assertEqual(run.wait_exit(timeout=5), 0, run.describe())
        pid = run.wait_start()["targets"][0]
        lines = run.triggers("transaction", pid)
        snaps = run.of_type("snapshot")
        self.assertEqual(len(lines), 5, run.describe())
        self.assertEqual(len(snaps), 5, run.describe())
        # held on a trigger line is the kernel's record of the SIGSTOP it sent
        self.assertEqual([l["held"] for l in lines], [True, True, False, False, False],
                         run.describe())
        for snap, line in zip(snaps[:2], lines[:2]):
            self.assertFields(run, snap, pid=pid, status="ok", held=True, hold="kernel",
                              resumed=True)
            self.assertServed(run, snap, line)
        for snap, line in zip(snaps[2:], lines[2:]):
            self.assertFields(run, snap, pid=pid, status="skipped", reason="max-snapshots",
                              exit_code=None, held=False, hold="none", held_ns=0,
                              resumed=None, continued=None, ended=False)
            self.assertServed(run, snap, line)
        self.assertExited(run, pid, 0, comm="st-sync")

    def test_cooldown_ends_kernel_holds(self):
        """Triggers in the snapshot cooldown no longer stop the process."""
        run = self.trace(["-t", "bootstrap", "--freeze", "--cooldown", "5s",
                          "--exec", "/bin/true"],
                         ["/bin/sh", "-c", "exec /bin/sh -c 'exec /bin/true'"])
        self.assertEqual(run.wait_exit(timeout=5), 0, run.describe())
        pid = run.wait_start()["targets"][0]
        lines = run.triggers("bootstrap", pid)
        snaps = run.of_type("snapshot")
        self.assertEqual([l["detail"]["filename"] for l in lines],
                         ["/bin/sh", "/bin/sh", "/bin/true"], run.describe())
        self.assertEqual([l["held"] for l in lines], [True, False, False], run.describe())
        self.assertEqual(len(snaps), 3, run.describe())
        self.assertFields(run, snaps[0], pid=pid, status="ok", held=True, hold="kernel",
                          resumed=True)
        self.assertServed(run, snaps[0], lines[0])
        for snap, line in zip(snaps[1:], lines[1:]):
            self.assertFields(run, snap, pid=pid, status="skipped", reason="cooldown",
                              held=False, hold="none", held_ns=0, resumed=None)
            self.assertServed(run, snap, line)
        self.assertExited(run, pid, 0, comm="true")

    def test_reused_pid_counts_from_zero(self):
        """A process with the pid of an exited one has its own --max-snapshots."""
        forker = ("import os, sys\n"
                  "for line in sys.stdin:\n"
                  "    child = os.fork()\n"
                  "    if child == 0:\n"
                  "        os.execv('/bin/true', ['/bin/true'])\n"
                  "    os.waitpid(child, 0)\n"
                  "    print('child', child, flush=True)\n")
        run = self.trace(["-t", "bootstrap", "--freeze", "--cooldown", "0s",
                          "--max-snapshots", "1", "--exec", "/bin/true"],
                         ["/usr/bin/python3", "-c", forker])

        run.write_stdin(b"go\n")
        reused = int(run.wait_fact("child"))
        self.assertFields(run, self.wait_snapshot(run, reused), status="ok", held=True)
        run.wait_record(lambda r: r["type"] == "exit" and r["pid"] == reused,
                        f"the exit line of {reused}")

        # another process of the machine may take the pid first: try a few times
        for attempt in range(1, 20):
            with open("/proc/sys/kernel/ns_last_pid", "w", encoding="ascii") as f:
                f.write(str(reused - 1))
            run.write_stdin(b"go\n")
            if int(run.wait_fact("child", index=attempt)) == reused:
                break
        else:
            self.fail(f"pid {reused} was taken by other processes 19 times" + run.describe())

        snap = self.wait_snapshot(run, reused, 1)
        self.assertFields(run, snap, status="ok", exit_code=0, held=True, hold="kernel")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len([r for r in run.of_type("snapshot") if r["pid"] == reused]), 2,
                         run.describe())

    def test_max_snapshots_child_holds(self):
        """A child of a process that used its snapshots is held for its own."""
        run = self.trace(["-t", "non-deterministic-call", "--freeze", "--cooldown", "0s",
                          "--max-snapshots", "1", "--exec", "/bin/true"],
                         [tool("st-forker"), "-n", "2", "-a", "getrandom", "-P"])
        pid = int(run.wait_fact("pid"))
        children = [int(run.wait_fact("child", index=i)) for i in range(2)]
        self.assertEqual(run.wait_exit(timeout=5), 0, run.describe())

        # the parent calls getrandom for -P, and may call it before, all before it forks
        parent_lines = run.triggers("non-deterministic-call", pid)
        parent_snaps = [s for s in run.of_type("snapshot") if s["pid"] == pid]
        self.assertGreaterEqual(len(parent_lines), 1, run.describe())
        self.assertEqual(len(parent_snaps), len(parent_lines), run.describe())
        self.assertEqual([l["held"] for l in parent_lines],
                         [True] + [False] * (len(parent_lines) - 1), run.describe())
        self.assertFields(run, parent_snaps[0], status="ok", held=True, hold="kernel")
        for snap in parent_snaps[1:]:
            self.assertFields(run, snap, status="skipped", reason="max-snapshots",
                              held=False, hold="none")
        for child in children:
            lines = run.triggers("non-deterministic-call", child)
            snaps = [s for s in run.of_type("snapshot") if s["pid"] == child]
            self.assertEqual(len(lines), 1, run.describe())
            self.assertIs(lines[0]["held"], True, run.describe())
            self.assertEqual(len(snaps), 1, run.describe())
            self.assertFields(run, snaps[0], status="ok", held=True, hold="kernel",
                              resumed=True)
            self.assertServed(run, snaps[0], lines[0])


class ExecTest(SnapshotTestCase):

    def test_placeholders_and_environment(self):
        out = Path(self.tmp) / "record.json"
        template = checkpointer(out, args=["{pid}", "{tid}", "{trigger}", "{seq}", "{time}",
                                           "'two words'", "{{pid}}", "x{pid}y"])
        run, pid = self.trace_counter(["-t", "first-listen", "--exec", template])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid)
        record = read_json_file(out)
        self.finish_counter(run, pid)

        raw = next(l for l in run.out.lines if l.startswith("{") and
                   json.loads(l)["seq"] == trigger["seq"])
        args = record["args"]
        self.assertEqual(len(args), 8, args)
        self.assertEqual(args[:4], [str(pid), str(pid), "first-listen", str(trigger["seq"])])
        self.assertRegex(args[4], TIME_RE)
        self.assertLess(abs(parse_time(args[4]) - parse_time(trigger["time"])), 5)
        self.assertEqual(args[5:], ["two words", "{pid}", f"x{pid}y"])
        env = record["env"]
        self.assertEqual(env.get("SNAPTRIG_PID"), str(pid))
        self.assertEqual(env.get("SNAPTRIG_TID"), str(pid))
        self.assertEqual(env.get("SNAPTRIG_TRIGGER"), "first-listen")
        self.assertEqual(env.get("SNAPTRIG_SEQ"), str(trigger["seq"]))
        self.assertEqual(env.get("SNAPTRIG_HELD"), "0")
        self.assertEqual(env.get("SNAPTRIG_EVENT", "").rstrip("\n"), raw)
        self.assertFalse(env.get("SNAPTRIG_EVENT", "").endswith("\n"),
                         "SNAPTRIG_EVENT ends with a newline")
        fds = record["fds"]
        self.assertEqual(sorted(fds), ["0", "1", "2"], f"descriptors leaked: {fds}")
        self.assertEqual(fds["0"], "/dev/null")
        self.assertEqual(fds["1"], "/dev/null")
        self.assertTrue(fds["2"].startswith("pipe:"), fds["2"])
        self.assertEqual(record["checkpointer"]["ppid"], run.pid)
        self.assertEqual(record["checkpointer"]["pgid"], record["checkpointer"]["pid"])
        self.assertFields(run, snap, tid=pid, status="ok", exit_code=0, held=False,
                          hold="none", held_ns=0, resumed=None, continued=None, ended=False,
                          stderr="")
        self.assertNotIn("reason", snap)
        self.assertServed(run, snap, trigger)
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())
        self.assertExited(run, pid, 0, comm="st-counter")

    def test_environment_replaces_agent_values(self):
        """The agent's own SNAPTRIG_* values are replaced, once each; others pass through."""
        out = Path(self.tmp) / "record.json"
        env = dict(os.environ, SNAPTRIG_PID="1", SNAPTRIG_EVENT="stale",
                   SNAPTRIG_HELD="7", SNAPTRIG_EXTRA="kept")
        run, pid = self.trace_counter(["-t", "first-listen", "--exec", checkpointer(out)],
                                      env=env)
        trigger = run.wait_trigger("first-listen", pid)
        self.wait_snapshot(run, pid)
        record = read_json_file(out)
        self.finish_counter(run, pid)

        env = record["env"]
        self.assertEqual(env.get("SNAPTRIG_PID"), str(pid))
        self.assertEqual(env.get("SNAPTRIG_HELD"), "0")
        self.assertEqual(json.loads(env.get("SNAPTRIG_EVENT", "null"))["seq"], trigger["seq"])
        self.assertEqual(env.get("SNAPTRIG_EXTRA"), "kept")
        names = record["env_names"]
        for name in ("SNAPTRIG_EVENT", "SNAPTRIG_TRIGGER", "SNAPTRIG_PID", "SNAPTRIG_TID",
                     "SNAPTRIG_SEQ", "SNAPTRIG_HELD", "SNAPTRIG_EXTRA"):
            self.assertEqual(names.count(name), 1, f"{name} in {names}")
        self.assertIn("PATH", names)

    def test_exit_code_failed(self):
        out = Path(self.tmp) / "record.json"
        template = checkpointer(out, "--exit", "3", "--stderr", "disk full\n")
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze", "--exec", template])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="failed", reason="exit-code", exit_code=3,
                          stderr="disk full\n", held=True, hold="kernel", resumed=True,
                          ended=False)
        self.assertNotIn("signal", snap)
        self.assertServed(run, snap, trigger)
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())

    def test_stderr_tail_keeps_end(self):
        out = Path(self.tmp) / "record.json"
        template = checkpointer(out, "--fill", "5000", "--stderr", "END\n", "--exit", "1")
        run, pid = self.trace_counter(["-t", "first-listen", "--exec", template])
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="failed", exit_code=1)
        self.assertTrue(snap["stderr"].endswith("xxxxEND\n"), snap["stderr"][-40:])
        self.assertEqual(set(snap["stderr"][:-4]), {"x"})
        self.assertGreaterEqual(len(snap["stderr"]), 512)
        self.assertLessEqual(len(snap["stderr"]), 1024)

    def assertNotStarted(self, command, reason):
        """A checkpointer that cannot be executed fails the request with reason start.

        reason is the message's text after the quoted command.
        """
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--exec", f"{command} {{pid}}"])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        message = f"cannot execute checkpointer '{command}'{reason}"
        self.assertFields(run, snap, status="failed", reason="start", exit_code=None,
                          held=True, hold="kernel", resumed=True, ended=False, stderr=message)
        self.assertServed(run, snap, trigger)
        self.assertIn(f"snaptrig: snapshot of process {pid}: {message}", run.err.lines,
                      run.describe())

    def test_command_not_found(self):
        self.assertNotStarted(Path(self.tmp) / "no-such-checkpointer",
                              ": No such file or directory")

    def test_command_not_executable(self):
        plain = Path(self.tmp) / "plain-file"
        plain.write_text("#!/bin/sh\nexit 0\n")
        plain.chmod(0o644)
        self.assertNotStarted(plain, ": Permission denied")

    def test_checkpointer_interpreter_missing(self):
        script = Path(self.tmp) / "no-interpreter"
        script.write_text("#!/no/such/interpreter\n")
        script.chmod(0o755)
        self.assertNotStarted(script, f" ({script}): the interpreter on its #! line or its "
                                      "dynamic loader was not found")

    def test_timeout_ends_checkpointer(self):
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--snapshot-timeout", "300ms",
                                       "--exec", "/bin/sleep 30"])
        trigger = run.wait_trigger("first-listen", pid)
        started = time.monotonic()
        sleeper = self.wait_sleeper(run)
        snap = self.wait_snapshot(run, pid, timeout=0.3 + TIMEOUT_SLACK + 1)
        waited = time.monotonic() - started
        self.assertIn(process_state(sleeper), {None, "Z"}, "the sleep still runs")
        self.assertRunning(pid, "after the timeout")
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        self.assertLess(waited, 0.3 + TIMEOUT_SLACK, run.describe())
        self.assertFields(run, snap, status="timeout", exit_code=None, signal=15,
                          signal_name="SIGTERM", held=True, hold="kernel", resumed=True,
                          ended=False)
        self.assertGreaterEqual(snap["duration_ns"], 300_000_000)
        self.assertLess(snap["duration_ns"], (0.3 + TIMEOUT_SLACK) * 1e9)
        self.assertServed(run, snap, trigger)

    def test_timeout_resumes_stop_left_behind(self):
        """Without a hold, a stop that the timed-out checkpointer made is taken back once."""
        run, pid = self.trace_counter(["-t", "first-listen", "--snapshot-timeout", "300ms",
                                       "--exec", "/bin/sh -c 'kill -STOP {pid}; exec sleep 30'"])
        self.resume_later(pid)
        trigger = run.wait_trigger("first-listen", pid)
        sleeper = self.wait_sleeper(run)
        self.assertEqual(wait_state(pid, {"T"}), "T")
        snap = self.wait_snapshot(run, pid, timeout=0.3 + TIMEOUT_SLACK + 1)
        self.assertRunning(pid, "after the timeout")
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        self.assertIn(process_state(sleeper), {None, "Z"}, "the sleep still runs")
        self.assertFields(run, snap, status="timeout", signal=15, held=False, hold="none",
                          resumed=None, continued=None, ended=False)
        self.assertServed(run, snap, trigger)
        self.assertEqual(len(stop_left_messages(run, pid)), 1, run.describe())

    def test_timeout_resumes_ptrace_attach_stop(self):
        """A tracer that the timeout kills during its attach leaves no stopped process."""
        run, pid = self.trace_counter(["-t", "first-listen", "--snapshot-timeout", "1s",
                                       "--exec", ptrace_attacher()])
        self.resume_later(pid)
        trigger = run.wait_trigger("first-listen", pid)
        # stopped by the tracer that never waits for the stop
        self.assertEqual(wait_state(pid, {"t"}), "t", run.describe())
        snap = self.wait_snapshot(run, pid, timeout=1 + TIMEOUT_SLACK + 1)
        self.assertRunning(pid, "after the timeout")
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="timeout", signal=15, held=False, hold="none",
                          resumed=None, ended=False)
        self.assertServed(run, snap, trigger)
        self.assertEqual(len(stop_left_messages(run, pid)), 1, run.describe())

    def interrupt_during_attach(self, template):
        """Send SIGINT to snaptrig -p once the checkpointer template traces the target.

        Asserts that the target runs afterwards and that snaptrig reports it
        resumed it, once.
        """
        target = self.spawn([tool("st-signals")])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        self.resume_later(pid)
        run = self.trace(["-t", "sigalrm", "--snapshot-timeout", "30s", "--exec", template,
                          "-p", str(pid)])
        run.wait_start()
        trigger = self.send_alarm(run, pid, 0)
        deadline = time.monotonic() + TIMEOUT
        while tracer_of(pid) == 0:
            self.assertLess(time.monotonic(), deadline, "never traced" + run.describe())
            time.sleep(0.001)
        run.interrupt()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        # long after the tracer's end, when a stop it left would have taken effect
        time.sleep(0.5)
        self.assertRunning(pid, "after snaptrig stopped")
        target.wait_fact("got")
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(target.wait_exit(), 0)

        snaps = run.of_type("snapshot")
        self.assertEqual(len(snaps), 1, run.describe())
        self.assertFields(run, snaps[0], pid=pid, status="failed", reason="interrupted",
                          held=False, hold="none", resumed=None, ended=False)
        self.assertServed(run, snaps[0], trigger)
        self.assertEqual(len(stop_left_messages(run, pid)), 1, run.describe())

    def test_interrupt_resumes_ptrace_attach_stop(self):
        """SIGINT to snaptrig during a tracer's attach leaves no stopped process."""
        self.interrupt_during_attach(ptrace_attacher())

    @unittest.skipUnless(os.access(GCORE, os.X_OK), "gcore (Debian package gdb) is not installed")
    def test_interrupt_during_gcore_attach(self):
        """SIGINT to snaptrig while gcore's gdb traces the process leaves it running."""
        self.interrupt_during_attach(f"{GCORE} -o {self.tmp}/core {{pid}}")

    def test_timeout_keeps_earlier_stop(self):
        """A process stopped before its request began stays stopped after the timeout."""
        target = self.spawn([tool("st-signals")])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        self.resume_later(pid)
        control = f"{self.tmp}/control.sock"
        run = self.trace(["-t", "explicit", "--control", control, "--snapshot-timeout", "300ms",
                          "--exec", "/bin/sleep 30", "-p", str(pid)])
        run.wait_start()
        os.kill(pid, signal.SIGSTOP)
        self.assertEqual(wait_state(pid, {"T"}), "T")
        request = subprocess.run([str(SNAPTRIG), "--control", control, "--request-snapshot",
                                  str(pid)], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(request.returncode, 0, request.stderr)
        snap = self.wait_snapshot(run, pid, timeout=0.3 + TIMEOUT_SLACK + 1)
        time.sleep(0.2)
        state = process_state(pid)
        run.interrupt()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(target.wait_exit(), 0)

        self.assertEqual(state, "T", run.describe())
        self.assertFields(run, snap, status="timeout", held=False, hold="none")
        self.assertEqual(stop_left_messages(run, pid), [], run.describe())

    def test_timeout_ends_checkpointer_children(self):
        """The timeout ends the checkpointer's process group, not only its leader."""
        run, pid = self.trace_counter(["-t", "first-listen", "--snapshot-timeout", "300ms",
                                       "--exec", "/bin/sh -c 'sleep 30; true'"])
        run.wait_trigger("first-listen", pid)
        deadline = time.monotonic() + TIMEOUT
        sleepers = []
        while not sleepers and time.monotonic() < deadline:
            for shell in [c for c, comm in children_of(run.pid).items() if comm == "sh"]:
                sleepers = [c for c, comm in children_of(shell).items() if comm == "sleep"]
            time.sleep(0.01)
        self.assertEqual(len(sleepers), 1, run.describe())
        self.kill_later(sleepers[0])
        snap = self.wait_snapshot(run, pid, timeout=0.3 + TIMEOUT_SLACK + 1)
        state = wait_state(sleepers[0], {None, "Z"}, RESUME_WAIT)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="timeout")
        self.assertIn(state, {None, "Z"}, "the checkpointer's child outlived the timeout")

    def test_timeout_sigkill_after_grace(self):
        """A checkpointer that ignores SIGTERM gets SIGKILL 1 s later."""
        ready = Path(self.tmp) / "ready"
        code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                f"open('{ready}', 'w').close(); time.sleep(30)")
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--snapshot-timeout", "500ms",
                                       "--exec", f"{PYTHON} -c \"{code}\""])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid, timeout=0.5 + 1 + TIMEOUT_SLACK + 1)
        self.assertTrue(ready.exists(), "the checkpointer never ignored SIGTERM")
        self.assertRunning(pid, "after the timeout")
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="timeout", exit_code=None, signal=9,
                          signal_name="SIGKILL", held=True, resumed=True)
        self.assertGreaterEqual(snap["duration_ns"], 1_500_000_000)
        self.assertLess(snap["duration_ns"], (1.5 + TIMEOUT_SLACK) * 1e9)
        self.assertServed(run, snap, trigger)

    def test_timeout_orphan_stops_process(self):
        """A checkpointer's child that outlives it and stops the process does not leave it stopped.

        gdb does this when a timeout ends the gcore script above it in the
        middle of its attach: the SIGSTOP of PTRACE_ATTACH comes after its
        parent died.
        """
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--snapshot-timeout", "300ms",
                                       "--exec", orphan_stopper()])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid, timeout=0.3 + 1 + TIMEOUT_SLACK + 1)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        # long after the child's SIGSTOP, which comes 10 ms after its parent's end
        time.sleep(0.5)
        self.assertRunning(pid, "after the timeout")
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="timeout", held=True, hold="kernel", resumed=True,
                          continued=False)
        # the request ends once SIGKILL, 1 s after SIGTERM, has ended the child
        self.assertGreaterEqual(snap["duration_ns"], 1_300_000_000)
        self.assertServed(run, snap, trigger)

    def test_interrupt_during_request(self):
        """SIGINT to snaptrig ends a running request and resumes the process."""
        target = self.spawn([tool("st-signals")])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        run = self.trace(["-t", "sigalrm", "--freeze", "--exec", "/bin/sleep 30",
                          "-p", str(pid)])
        run.wait_start()
        trigger = self.send_alarm(run, pid, 0)
        self.assertEqual(wait_state(pid, {"T"}), "T")
        sleeper = self.wait_sleeper(run)
        run.interrupt()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertRunning(pid, "after snaptrig stopped")
        self.assertIn(process_state(sleeper), {None, "Z"}, "the sleep still runs")
        target.wait_fact("got")
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(target.wait_exit(), 0)

        snaps = run.of_type("snapshot")
        self.assertEqual(len(snaps), 1, run.describe())
        self.assertFields(run, snaps[0], pid=pid, status="failed", reason="interrupted",
                          held=True, hold="agent", resumed=True, ended=False)
        self.assertServed(run, snaps[0], trigger)

    def test_interrupt_ends_checkpointers_together(self):
        """SIGINT sends every checkpointer its SIGTERM before any held process is resumed."""
        targets = [self.spawn(["/bin/sleep", "60"]) for _ in range(4)]
        pids = [t.pid for t in targets]
        pid_file = Path(self.tmp) / "pids"
        pid_file.write_text(" ".join(map(str, pids)))
        # at its SIGTERM, each checkpointer writes the state of every target
        script = Path(self.tmp) / "checkpointer.sh"
        script.write_text(
            f"trap 'for p in $(cat {pid_file}); do "
            "echo $p $(sed -n \"s/^State:[[:space:]]*\\(.\\).*/\\1/p\" /proc/$p/status); "
            f"done > {self.tmp}/states.$1; exit 0' TERM\n"
            f"touch {self.tmp}/started.$1\n"
            "sleep 30 &\n"
            "wait $!\n")
        run = self.trace(["-t", "idle", "--idle-threshold", "200ms", "--freeze",
                          "--exec", f"/bin/sh {script} {{pid}}",
                          "-p", ",".join(map(str, pids))])
        run.wait_start()
        deadline = time.monotonic() + TIMEOUT
        while not all((Path(self.tmp) / f"started.{p}").exists() for p in pids):
            self.assertLess(time.monotonic(), deadline, "not every checkpointer started"
                            + run.describe())
            time.sleep(0.01)
        run.interrupt()
        self.assertEqual(run.wait_exit(), 0, run.describe())

        for pid in pids:
            self.assertRunning(pid, "after snaptrig stopped")
            states = (Path(self.tmp) / f"states.{pid}").read_text().split("\n")
            self.assertEqual(states, [f"{p} T" for p in pids] + [""],
                             f"targets when the checkpointer of {pid} got its SIGTERM")
        snaps = run.of_type("snapshot")
        self.assertEqual(sorted(s["pid"] for s in snaps), sorted(pids), run.describe())
        for snap in snaps:
            self.assertFields(run, snap, status="failed", reason="interrupted", held=True,
                              resumed=True)

    def test_reused_pid_gets_own_request(self):
        """A process with the pid of one whose request still runs gets a request of its own."""
        run = self.trace(["-t", "first-listen", "--exec", "/bin/sleep 1"],
                         [tool("st-pid-reuse")])
        first = int(run.wait_fact("first"))
        second = int(run.wait_fact("second"))
        self.assertEqual(run.wait_exit(), 0, run.describe())

        self.assertEqual(second, first)
        listens = run.triggers("first-listen", first)
        self.assertEqual(len(listens), 2, run.describe())
        snaps = sorted((s for s in run.of_type("snapshot") if s["pid"] == first),
                       key=lambda s: s["triggers"][0]["seq"])
        self.assertEqual(len(snaps), 2, run.describe())
        for snap, trigger in zip(snaps, listens):
            self.assertFields(run, snap, status="target-exited")
            self.assertServed(run, snap, trigger)

    def test_interrupt_kills_checkpointer_group(self):
        """SIGINT to snaptrig ends the whole group of a running checkpointer before the resume."""
        target = self.spawn([tool("st-signals")])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        ready = Path(self.tmp) / "ready"
        run = self.trace(["-t", "sigalrm", "--freeze", "--exec", orphan_stopper(ready),
                          "-p", str(pid)])
        run.wait_start()
        self.send_alarm(run, pid, 0)
        deadline = time.monotonic() + TIMEOUT
        while not ready.exists():
            self.assertLess(time.monotonic(), deadline, "the checkpointer's child never started")
            time.sleep(0.01)
        run.interrupt()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        # long after the child's SIGSTOP, which comes 10 ms after its parent's end
        time.sleep(0.5)
        self.assertRunning(pid, "after snaptrig stopped")
        snaps = run.of_type("snapshot")
        self.assertEqual(len(snaps), 1, run.describe())
        self.assertFields(run, snaps[0], status="failed", reason="interrupted", resumed=True)
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(target.wait_exit(), 0)

    def test_signal_in_launch_mode_ends_request(self):
        """SIGTERM to snaptrig ends COMMAND's running request, so COMMAND can act on it."""
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--exec", "/bin/sleep 30"])
        trigger = run.wait_trigger("first-listen", pid)
        self.assertEqual(wait_state(pid, {"T"}), "T")
        sleeper = self.wait_sleeper(run)
        started = time.monotonic()
        run.interrupt(signal.SIGTERM)
        snap = self.wait_snapshot(run, pid, timeout=TIMEOUT_SLACK + 1)
        waited = time.monotonic() - started
        # COMMAND got the SIGTERM that snaptrig passed on, and acts on it once resumed
        self.assertEqual(run.wait_exit(), 128 + signal.SIGTERM, run.describe())

        self.assertLess(waited, TIMEOUT_SLACK, run.describe())
        self.assertIn(process_state(sleeper), {None, "Z"}, "the sleep still runs")
        self.assertFields(run, snap, status="failed", reason="interrupted", signal=15,
                          signal_name="SIGTERM", held=True, hold="kernel", resumed=True,
                          ended=False)
        self.assertServed(run, snap, trigger)
        exits = run.exits(pid)
        self.assertEqual(len(exits), 1, run.describe())
        self.assertEqual((exits[0]["status"], exits[0]["signal"]), ("killed", signal.SIGTERM),
                         run.describe())

    def test_requests_of_processes_run_at_once(self):
        """One request per process at a time, but processes do not wait for each other."""
        gate = Path(self.tmp) / "gate"
        template = checkpointer(f"{self.tmp}/record-{{pid}}.json", "--gate", str(gate))
        run = self.trace(["-t", "first-listen", "--exec", template],
                         [tool("st-forker"), "-n", "2", "-a", "listen", "-P"])
        parent = run.wait_start()["targets"][0]
        run.wait_fact("done")
        children = [int(c) for c in run.fact_values("child")]
        self.assertEqual(len(children), 2, run.describe())
        pids = [parent] + children
        for pid in pids:
            self.assertIsNotNone(read_json_file(f"{self.tmp}/record-{pid}.json"),
                                 f"no request for {pid}" + run.describe())
            run.wait_record(lambda r, p=pid: r["type"] == "exit" and r["pid"] == p,
                            f"the exit line of {pid}")
        self.assertEqual(run.of_type("snapshot"), [], "a request ended before the gate")
        gate.touch()
        self.assertEqual(run.wait_exit(), 0, run.describe())

        snaps = run.of_type("snapshot")
        self.assertEqual(sorted(s["pid"] for s in snaps), sorted(pids), run.describe())
        for snap in snaps:
            self.assertFields(run, snap, status="target-exited", exit_code=0, held=False)
            self.assertServed(run, snap, run.triggers("first-listen", snap["pid"])[0])
        for pid in pids:
            self.assertLess(run.exits(pid)[0]["seq"],
                            next(s["seq"] for s in snaps if s["pid"] == pid))

    def test_closed_stderr_no_busy_loop(self):
        """A checkpointer that closes its stderr early costs the agent no CPU."""
        run, pid = self.trace_counter(["-t", "first-listen",
                                       "--exec", "/bin/sh -c 'exec 2>&-; sleep 1'"])
        run.wait_trigger("first-listen", pid)
        before = cpu_seconds(run.pid)
        snap = self.wait_snapshot(run, pid)
        used = cpu_seconds(run.pid) - before
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="ok", exit_code=0)
        self.assertLess(used, 0.2, f"snaptrig used {used:.2f} s of CPU during a 1 s sleep")

    def test_overlapping_triggers_join(self):
        """Triggers during a running request join it: one checkpointer, one line."""
        gate = Path(self.tmp) / "gate"
        template = checkpointer(f"{self.tmp}/record-{{seq}}.json", "--gate", str(gate))
        run, pid = self.trace_signals(["-t", "sigalrm", "--exec", template])
        first = self.send_alarm(run, pid, 0)
        self.assertIsNotNone(read_json_file(f"{self.tmp}/record-{first['seq']}.json"))
        run.wait_fact("got", index=0)
        second = self.send_alarm(run, pid, 1)
        run.wait_fact("got", index=1)
        third = self.send_alarm(run, pid, 2)
        run.wait_fact("got", index=2)
        gate.touch()
        snap = self.wait_snapshot(run, pid)
        self.stop_signals(run, pid)

        self.assertFields(run, snap, status="ok", exit_code=0, held=False)
        self.assertServed(run, snap, first, second, third)
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())
        records = sorted(p.name for p in Path(self.tmp).glob("record-*.json"))
        self.assertEqual(records, [f"record-{first['seq']}.json"])

    def test_cooldown_skips(self):
        run, pid = self.trace_signals(["-t", "sigalrm", "--cooldown", "5s",
                                       "--exec", "/bin/true"])
        first = self.send_alarm(run, pid, 0)
        ok = self.wait_snapshot(run, pid, 0)
        second = self.send_alarm(run, pid, 1)
        skipped = self.wait_snapshot(run, pid, 1)
        self.stop_signals(run, pid)

        self.assertFields(run, ok, status="ok", exit_code=0)
        self.assertServed(run, ok, first)
        self.assertFields(run, skipped, status="skipped", reason="cooldown", exit_code=None,
                          held=False, hold="none", resumed=None, ended=False, stderr="")
        self.assertServed(run, skipped, second)
        self.assertEqual(len(run.of_type("snapshot")), 2, run.describe())

    def test_max_snapshots_skips(self):
        run, pid = self.trace_signals(["-t", "sigalrm", "--freeze", "--cooldown", "0s",
                                       "--max-snapshots", "2", "--exec", "/bin/true"])
        lines, snaps = [], []
        for i in range(4):
            lines.append(self.send_alarm(run, pid, i))
            snaps.append(self.wait_snapshot(run, pid, i))
            self.assertRunning(pid, f"after snapshot line {i}")
        self.stop_signals(run, pid)

        self.assertEqual([l["held"] for l in lines], [True, True, False, False])
        for snap, line in zip(snaps[:2], lines[:2]):
            self.assertFields(run, snap, status="ok", exit_code=0, held=True, hold="agent",
                              resumed=True)
            self.assertServed(run, snap, line)
        for snap, line in zip(snaps[2:], lines[2:]):
            self.assertFields(run, snap, status="skipped", reason="max-snapshots",
                              exit_code=None, held=False, hold="none", resumed=None)
            self.assertServed(run, snap, line)
        self.assertEqual(len(run.of_type("snapshot")), 4, run.describe())

    def test_stop_after_snapshot_held(self):
        marker = Path(self.tmp) / "after-listen"
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--stop-after-snapshot", "--exec", "/bin/true"],
                                      marker=marker)
        trigger = run.wait_trigger("first-listen", pid)
        self.assertEqual(run.wait_exit(), 128 + signal.SIGKILL, run.describe())

        snap = self.wait_snapshot(run, pid)
        self.assertFields(run, snap, status="ok", exit_code=0, held=True, hold="kernel",
                          resumed=False, ended=True)
        self.assertServed(run, snap, trigger)
        exits = run.exits(pid)
        self.assertEqual(len(exits), 1, run.describe())
        self.assertFields(run, exits[0], status="killed", signal=9, signal_name="SIGKILL",
                          core_dumped=False)
        self.assertLess(snap["seq"], exits[0]["seq"])
        self.assertFalse(marker.exists(), "the process ran past listen(2)")
        self.assertEqual(run.fact_values("counter"), [])

    def test_stop_after_snapshot_not_held(self):
        run, pid = self.trace_signals(["-t", "sigalrm", "--stop-after-snapshot",
                                       "--exec", "/bin/true"])
        trigger = self.send_alarm(run, pid, 0)
        self.assertEqual(run.wait_exit(), 128 + signal.SIGKILL, run.describe())

        snap = self.wait_snapshot(run, pid)
        self.assertFields(run, snap, status="ok", held=False, hold="none", resumed=None,
                          ended=True)
        self.assertServed(run, snap, trigger)
        exits = run.exits(pid)
        self.assertEqual(len(exits), 1, run.describe())
        self.assertFields(run, exits[0], status="killed", signal=9, signal_name="SIGKILL")

    def test_stop_after_failed_snapshot_resumes(self):
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--stop-after-snapshot", "--exec", "/bin/false"])
        snap = self.wait_snapshot(run, pid)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="failed", exit_code=1, resumed=True, ended=False)
        self.assertExited(run, pid, 0, comm="st-counter")

    def test_target_exits_during_request(self):
        out = Path(self.tmp) / "record.json"
        gate = Path(self.tmp) / "gate"
        template = checkpointer(out, "--gate", str(gate))
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze", "--exec", template])
        trigger = run.wait_trigger("first-listen", pid)
        self.assertIsNotNone(read_json_file(out), run.describe())
        os.kill(pid, signal.SIGKILL)
        run.wait_record(lambda r: r["type"] == "exit" and r["pid"] == pid, "the exit line")
        gate.touch()
        snap = self.wait_snapshot(run, pid)
        self.assertEqual(run.wait_exit(), 128 + signal.SIGKILL, run.describe())

        self.assertFields(run, snap, status="target-exited", held=True, hold="kernel",
                          resumed=None, ended=False)
        self.assertServed(run, snap, trigger)

    def test_snapshot_on_narrows(self):
        out = Path(self.tmp) / "record.json"
        template = checkpointer(out, "--pid", "{pid}")
        run, pid = self.trace_counter(["-t", "first-listen,first-stdin",
                                       "--snapshot-on", "first-stdin", "--freeze",
                                       "--exec", template])
        listen = run.wait_trigger("first-listen", pid)
        stdin = run.wait_trigger("first-stdin", pid)
        snap = self.wait_snapshot(run, pid)
        record = read_json_file(out)
        self.finish_counter(run, pid)

        self.assertIs(listen["held"], False)
        self.assertIs(stdin["held"], True)
        self.assertEqual(record["env"]["SNAPTRIG_TRIGGER"], "first-stdin")
        self.assertEqual(record["state"], "T")
        self.assertFields(run, snap, status="ok", held=True, hold="kernel", resumed=True)
        self.assertServed(run, snap, stdin)
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())
        self.assertEqual(run.records[0]["triggers"], ["first-listen", "first-stdin"])


class RequestSocketTest(SnapshotTestCase):

    def serve(self, reply):
        return ReplyServer(self, os.path.join(self.tmp, "checkpointer.sock"), reply)

    def snapshot_with_reply(self, reply, name):
        """Trace one first-listen request to a server at name that replies reply.

        Return the run and its snapshot line, after the run has ended.
        """
        server = ReplyServer(self, os.path.join(self.tmp, name), reply)
        run, pid = self.trace_counter(["-t", "first-listen", "--request-socket", server.path])
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        self.assertEqual(len(server.requests), 1)
        return run, snap

    def test_reply_ok(self):
        server = self.serve('{"ok":true}')
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--request-socket", server.path])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        raw = next(l for l in run.out.lines if l.startswith("{") and
                   json.loads(l)["seq"] == trigger["seq"])
        self.assertEqual(len(server.requests), 1)
        request = json.loads(server.requests[0])
        self.assertEqual(request, {
            "type": "snapshot-request", "seq": trigger["seq"], "pid": pid, "tid": pid,
            "trigger": "first-listen", "held": True, "event": json.loads(raw)})
        self.assertEqual(server.states, ["T"])
        self.assertFields(run, snap, status="ok", exit_code=None, held=True, hold="kernel",
                          resumed=True, ended=False, stderr="")
        self.assertServed(run, snap, trigger)
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())

    def test_request_not_held(self):
        server = self.serve('{"ok": true}')
        run, pid = self.trace_counter(["-t", "first-listen", "--request-socket", server.path])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        request = json.loads(server.requests[0])
        self.assertIs(request["held"], False)
        self.assertEqual(request["seq"], trigger["seq"])
        self.assertFields(run, snap, status="ok", held=False, hold="none", resumed=None)

    def test_reply_ok_after_other_members(self):
        server = self.serve('{"status":"ok","ok":true}')
        run, pid = self.trace_counter(["-t", "first-listen", "--request-socket", server.path])
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="ok", stderr="")

    def test_reply_error(self):
        server = self.serve('{"ok":false,"error":"disk full"}')
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--request-socket", server.path])
        trigger = run.wait_trigger("first-listen", pid)
        snap = self.wait_snapshot(run, pid)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="failed", reason="reply", exit_code=None,
                          held=True, resumed=True)
        self.assertEqual(snap["stderr"], "disk full")
        self.assertServed(run, snap, trigger)

    def test_reply_error_escapes_decoded(self):
        server = self.serve('{"ok":false,"error":'
                            r'"e\u00e9 smile\ud83d\ude00 ctl\u0001 slash\/ tab\t."}')
        run, pid = self.trace_counter(["-t", "first-listen", "--request-socket", server.path])
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="failed", reason="reply",
                          stderr="e\u00e9 smile\U0001f600 ctl\u0001 slash/ tab\t.")

    def test_invalid_replies_fail(self):
        """A reply that is not one object with a boolean ok fails, with the reason in stderr."""
        cases = [
            ('{"ok":"true"}', "member 'ok' is not a boolean"),
            ('{"ok":true,"ok":false}', "duplicate member 'ok'"),
            ('{"ok":true} junk', "unexpected characters after the object"),
            ('{"ok":true,"error":7}', "member 'error' is not a string"),
            ('{"status":"ok"}', "missing member 'ok'"),
            ('["ok",true]', "not a JSON object"),
        ]
        for number, (reply, reason) in enumerate(cases):
            with self.subTest(reply=reply):
                run, snap = self.snapshot_with_reply(reply, f"checkpointer{number}.sock")
                self.assertFields(run, snap, status="failed", reason="reply",
                                  stderr=f"invalid reply: {reason}: {reply}")

    def test_reply_length_limit(self):
        """A reply line of up to 4096 bytes before its newline is read, a longer one fails."""
        cases = [(4095, "ok", ""), (4096, "ok", ""),
                 (4097, "failed", "reply longer than 4096 bytes")]
        for length, status, stderr in cases:
            with self.subTest(length=length):
                reply = '{"ok":true,"x":"' + "b" * (length - 18) + '"}'
                self.assertEqual(len(reply), length)
                run, snap = self.snapshot_with_reply(reply, f"checkpointer{length}.sock")
                self.assertFields(run, snap, status=status, stderr=stderr)
                if status == "failed":
                    self.assertEqual(snap["reason"], "reply", run.describe())

    def test_no_reply_times_out(self):
        server = self.serve(None)
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--snapshot-timeout", "300ms",
                                       "--request-socket", server.path])
        trigger = run.wait_trigger("first-listen", pid)
        self.assertIsNotNone(server.wait_request())
        snap = self.wait_snapshot(run, pid, timeout=0.3 + TIMEOUT_SLACK + 1)
        self.assertRunning(pid, "after the timeout")
        self.assertIs(server.wait_peer_closed(), True)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="timeout", exit_code=None, held=True,
                          hold="kernel", resumed=True, stderr="no reply within 300 ms")
        self.assertGreaterEqual(snap["duration_ns"], 300_000_000)
        self.assertLess(snap["duration_ns"], (0.3 + TIMEOUT_SLACK) * 1e9)
        self.assertServed(run, snap, trigger)


    def assertInterruptedText(self, run, snap, at_least_ms):
        """Assert that the stderr of snap reports an interrupted request and its duration."""
        found = re.fullmatch(r"interrupted after (\d+) ms with no reply", snap["stderr"])
        self.assertIsNotNone(found, run.describe())
        self.assertGreaterEqual(int(found.group(1)), at_least_ms, run.describe())
        self.assertLess(int(found.group(1)), 10_000, run.describe())

    def test_no_reply_interrupted_launch(self):
        """SIGTERM in launch mode ends a request with no reply, and its line reports that."""
        server = self.serve(None)
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--snapshot-timeout", "10s",
                                       "--request-socket", server.path])
        trigger = run.wait_trigger("first-listen", pid)
        self.assertIsNotNone(server.wait_request())
        time.sleep(0.3)
        run.interrupt(signal.SIGTERM)
        snap = self.wait_snapshot(run, pid, timeout=TIMEOUT_SLACK + 1)
        self.assertEqual(run.wait_exit(), 128 + signal.SIGTERM, run.describe())

        self.assertFields(run, snap, status="failed", reason="interrupted", held=True,
                          resumed=True)
        self.assertServed(run, snap, trigger)
        self.assertInterruptedText(run, snap, 300)

    def test_no_reply_interrupted_attach(self):
        """SIGTERM with -p ends a request with no reply, and its line reports that."""
        server = self.serve(None)
        target = self.spawn([tool("st-signals")])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        run = self.trace(["-t", "sigalrm", "--freeze", "--snapshot-timeout", "10s",
                          "--request-socket", server.path, "-p", str(pid)])
        run.wait_start()
        trigger = self.send_alarm(run, pid, 0)
        self.assertIsNotNone(server.wait_request())
        time.sleep(0.3)
        run.interrupt(signal.SIGTERM)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertRunning(pid, "after snaptrig stopped")
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(target.wait_exit(), 0)

        snaps = run.of_type("snapshot")
        self.assertEqual(len(snaps), 1, run.describe())
        self.assertFields(run, snaps[0], status="failed", reason="interrupted", held=True,
                          resumed=True)
        self.assertServed(run, snaps[0], trigger)
        self.assertInterruptedText(run, snaps[0], 300)
    def test_closed_without_reply(self):
        server = self.serve("close")
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--request-socket", server.path])
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="failed", held=True, resumed=True,
                          stderr="the request socket closed without a reply")

    def test_socket_missing(self):
        path = os.path.join(self.tmp, "nobody.sock")
        run, pid = self.trace_counter(["-t", "first-listen", "--freeze",
                                       "--request-socket", path])
        snap = self.wait_snapshot(run, pid)
        self.assertEqual(run.wait_fact("counter"), str(COUNTER_AFTER))
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="failed", reason="start", held=True,
                          resumed=True,
                          stderr=f"cannot connect to request socket {path}: "
                          "No such file or directory")

    def test_socket_path_escaped_in_message(self):
        """A path with a newline and control bytes keeps its stderr message on one
        line, and the JSON line has the path as it is."""
        raw = os.fsencode(self.tmp) + b'/r"s\\\n\x01\xff.sock'
        path = os.fsdecode(raw)
        # JSON writes the invalid byte 0xff as U+FFFD, stderr as \xff
        in_json = raw.decode("utf-8", "replace")
        in_stderr = self.tmp + '/r"s\\\\x0a\\x01\\xff.sock'
        run, pid = self.trace_counter(["-t", "first-listen", "--request-socket", path])
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="failed", reason="start",
                          stderr=f"cannot connect to request socket {in_json}: "
                          "No such file or directory")
        self.assertIn(f"snaptrig: snapshot of process {pid}: cannot connect to request socket "
                      f"{in_stderr}: No such file or directory; start the checkpointer service "
                      "first", run.err.lines, run.describe())

    def test_socket_backlog_full(self):
        path = os.path.join(self.tmp, "busy.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(path)
        listener.listen(0)
        # connections that are never accepted fill the backlog
        while True:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.addCleanup(client.close)
            client.setblocking(False)
            try:
                client.connect(path)
            except BlockingIOError:
                break
        run, pid = self.trace_counter(["-t", "first-listen", "--request-socket", path])
        snap = self.wait_snapshot(run, pid)
        self.finish_counter(run, pid)

        self.assertFields(run, snap, status="failed", reason="start",
                          stderr=f"cannot connect to request socket {path}: "
                          "Resource temporarily unavailable")
        self.assertIn(f"snaptrig: snapshot of process {pid}: cannot connect to request socket "
                      f"{path}: Resource temporarily unavailable; the checkpointer service is "
                      "not accepting connections and its listen backlog is full",
                      run.err.lines, run.describe())

    def test_socket_missing_target_exits_at_once(self):
        """A request that never started failed, also when its process exits before the tick."""
        path = os.path.join(self.tmp, "nobody.sock")
        # the exit often comes before the tick that ends the request: try a few times
        for _ in range(3):
            run = self.trace(["-t", "first-stdin", "--request-socket", path],
                             ["/bin/cat"], stdin=subprocess.PIPE)
            pid = run.wait_start()["targets"][0]
            run.write_stdin(b"x\n")
            run.close_stdin()
            self.assertEqual(run.wait_exit(), 0, run.describe())
            snaps = run.of_type("snapshot")
            self.assertEqual(len(snaps), 1, run.describe())
            self.assertFields(run, snaps[0], pid=pid, status="failed", reason="start",
                              held=False, resumed=None,
                              stderr=f"cannot connect to request socket {path}: "
                              "No such file or directory")
            self.assertIn(f"cannot connect to request socket {path}", "\n".join(run.err.lines),
                          run.describe())


class BadInputTest(SnapshotTestCase):

    def assertUsageError(self, args, message):
        ran = Path(self.tmp) / "ran"
        run = self.trace(args, ["/usr/bin/touch", str(ran)])
        self.assertEqual(run.wait_exit(check=False), USAGE_ERROR, run.describe())
        self.assertEqual(run.err.lines, ["snaptrig: " + message], run.describe())
        self.assertEqual(run.out.lines, [], run.describe())
        self.assertFalse(ran.exists(), "COMMAND ran")

    def test_unknown_placeholder(self):
        self.assertUsageError(
            ["-t", "first-listen", "--exec", "gcore {host}"],
            "invalid template 'gcore {host}' for --exec: unknown placeholder '{host}' "
            "(use {pid}, {tid}, {trigger}, {seq}, {time}, or {{ for a brace)")

    def test_long_template_keeps_reason(self):
        template = "/bin/echo ${X} " + "{pid}" * 800
        self.assertUsageError(
            ["-t", "first-listen", "--exec", template],
            f"invalid template '{template[:200]}...' for --exec: unknown placeholder '{{X}}' "
            "(use {pid}, {tid}, {trigger}, {seq}, {time}, or {{ for a brace)")

    def test_request_socket_not_socket(self):
        plain = Path(self.tmp) / "plain-file"
        plain.write_text("")
        for path in (self.tmp, str(plain)):
            with self.subTest(path=path):
                self.assertUsageError(
                    ["-t", "first-listen", "--request-socket", path],
                    f"cannot use '{path}' for --request-socket: the file exists and is not a "
                    "socket; give the socket that the checkpointer service listens on")

    def test_request_socket_is_control(self):
        """--request-socket naming the --control socket, in any spelling, is a usage error."""
        control = os.path.join(self.tmp, "control.sock")
        os.mkdir(os.path.join(self.tmp, "dir"))
        os.symlink(self.tmp, os.path.join(self.tmp, "link"))
        spellings = [control, os.path.join(self.tmp, ".", "control.sock"),
                     os.path.join(self.tmp, "dir", "..", "control.sock"),
                     os.path.join(self.tmp, "link", "control.sock")]
        for path in spellings:
            with self.subTest(path=path):
                self.assertUsageError(
                    ["-t", "explicit", "--control", control, "--request-socket", path],
                    f"--request-socket '{path}' and --control '{control}' name the same "
                    "socket: give the socket that the checkpointer service listens on")
                self.assertFalse(os.path.exists(control), "the control socket was created")

    def test_unbalanced_brace(self):
        self.assertUsageError(["-t", "first-listen", "--exec", "sh -c 'echo {'"],
                              "invalid template 'sh -c 'echo {'' for --exec: "
                              "unbalanced brace '{' without a closing '}' in its word "
                              "(a placeholder such as {pid} has no spaces; "
                              "write {{ for a literal brace)")

    def test_unbalanced_quote(self):
        self.assertUsageError(["-t", "first-listen", "--exec", "gcore 'a b"],
                              "invalid template 'gcore 'a b' for --exec: "
                              "unbalanced single quote")

    def test_snapshot_options_need_checkpointer(self):
        for option in (["--snapshot-on", "first-listen"], ["--snapshot-timeout", "5s"],
                       ["--max-snapshots", "1"], ["--freeze"], ["--stop-after-snapshot"]):
            with self.subTest(option=option[0]):
                # a run that wrongly started COMMAND must not fail the next case
                (Path(self.tmp) / "ran").unlink(missing_ok=True)
                self.assertUsageError(["-t", "first-listen"] + option,
                                      f"{option[0]} needs a checkpointer: "
                                      "add --exec TEMPLATE or --request-socket PATH")

    def test_checkpointer_message_names_first_option(self):
        """The message names the first set of --snapshot-on, --snapshot-timeout, --freeze,
        --stop-after-snapshot and --max-snapshots."""
        self.assertUsageError(["-t", "first-listen", "--max-snapshots", "1", "--freeze"],
                              "--freeze needs a checkpointer: "
                              "add --exec TEMPLATE or --request-socket PATH")

    def test_exec_and_request_socket(self):
        self.assertUsageError(["-t", "first-listen", "--exec", "/bin/true",
                               "--request-socket", os.path.join(self.tmp, "s")],
                              "both --exec and --request-socket given: "
                              "choose one checkpointer")

    def test_snapshot_on_unselected(self):
        self.assertUsageError(["-t", "first-listen", "--snapshot-on", "sigalrm",
                               "--exec", "/bin/true"],
                              "--snapshot-on names triggers that are not selected: "
                              "sigalrm; add them to --trigger or leave them out of "
                              "--snapshot-on")
        self.assertUsageError(["-t", "first-listen", "--snapshot-on", "default",
                               "--exec", "/bin/true"],
                              "--snapshot-on names triggers that are not selected: "
                              "first-stdin,first-environ,idle,explicit; add them to --trigger "
                              "or leave them out of --snapshot-on")

    def test_snapshot_on_all_means_selected(self):
        """--snapshot-on all with a smaller -t list requests snapshots of every selected trigger."""
        run = self.trace(["-t", "bootstrap", "--snapshot-on", "all", "--freeze",
                          "--exec", "/bin/true"], ["/bin/true"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        snapshots = run.of_type("snapshot")
        self.assertEqual(len(snapshots), 1, run.describe())
        self.assertEqual(snapshots[0]["status"], "ok", run.describe())
        self.assertServed(run, snapshots[0], run.triggers("bootstrap")[0])


if __name__ == "__main__":
    unittest.main()
