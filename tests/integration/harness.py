"""Shared helpers of the integration tests.

The tests run build/snaptrig against the programs in build/tools and check
its JSON lines. In launch mode the traced command inherits snaptrig's stdout,
so one pipe carries both: lines that start with "{" are snaptrig's, every
other line is a fact the traced program printed ("pid 123", "tid 124", ...).

Every process a test starts is registered with the test and killed by pid in
its cleanup, after a SIGCONT so that none is left stopped.
"""

import glob
import inspect
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SNAPTRIG_BUILD", ROOT / "build"))
SNAPTRIG = Path(os.environ.get("SNAPTRIG", BUILD / "snaptrig"))
TOOLS = Path(os.environ.get("SNAPTRIG_TOOLS", BUILD / "tools"))
SCHEMA_PATH = ROOT / "docs" / "snaptrig.schema.json"
SCHEMA_CHECK = ROOT / "tests" / "schema" / "check.py"
PYTHON = "/usr/bin/python3"

# Seconds to wait for a line that must come. Lines usually arrive within
# milliseconds; the margin covers loading the BPF objects on a busy machine.
TIMEOUT = float(os.environ.get("SNAPTRIG_TEST_TIMEOUT", "10"))

# File the runner reads after the suite to check that no process the tests
# started is left stopped.
PID_LOG = os.environ.get("SNAPTRIG_TEST_PID_LOG")

CANONICAL_TRIGGERS = [
    "first-listen", "first-stdin", "first-environ", "first-sigint", "idle",
    "periodic-interval", "sigint", "sigalrm", "sigtstp", "sigstop",
    "non-deterministic-call", "bootstrap", "transaction", "explicit",
]
DEFAULT_TRIGGERS = ["first-listen", "first-stdin", "first-environ", "idle",
                    "explicit"]
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$")


def tool(name):
    """Return the path of a program built from tools/NAME.c."""
    return str(TOOLS / name)


def log_pid(pid):
    if PID_LOG:
        with open(PID_LOG, "a", encoding="ascii") as f:
            f.write(f"{pid}\n")


def process_state(pid):
    """Return the one-letter state of pid from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def process_start_seconds(pid):
    """Return when pid started, in seconds of CLOCK_BOOTTIME, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    # starttime is field 22 of proc_pid_stat(5), the 20th after the comm.
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def bpf_fd_ids(pid, kind):
    """Return the ids of the BPF objects of kind ("prog" or "map") that process pid has open."""
    ids = set()
    for path in glob.glob(f"/proc/{pid}/fdinfo/*"):
        try:
            with open(path, encoding="ascii") as f:
                match = re.search(rf"^{kind}_id:\s+(\d+)$", f.read(), re.M)
        except OSError:
            continue
        if match:
            ids.add(int(match.group(1)))
    return ids


def wait_state(pid, states, timeout=TIMEOUT):
    """Wait until pid is in one of states; return the last state seen."""
    deadline = time.monotonic() + timeout
    state = process_state(pid)
    while state not in states and time.monotonic() < deadline:
        time.sleep(0.01)
        state = process_state(pid)
    return state


def parse_fact(line):
    """Split a tool line into its name and value.

    "pid 12" gives ("pid", "12"); "listen fd=3 port=80" gives
    ("listen", {"fd": "3", "port": "80"}).
    """
    name, _, rest = line.partition(" ")
    words = rest.split()
    if words and all("=" in w for w in words):
        return name, dict(w.split("=", 1) for w in words)
    return name, rest


def count_syscalls(argv, names, stdin=subprocess.DEVNULL):
    """Count the system calls in names that argv makes, with strace -f.

    Tests use it for calls that libc makes on its own (glibc's malloc calls
    getrandom once per process to seed its tcache), so expected counts come
    from the program that runs and not from a guess about its libc.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run(["strace", "-f", "-qq", "-o", out.name,
                        "-e", "trace=" + ",".join(names)] + list(argv),
                       stdin=stdin, stdout=subprocess.DEVNULL, check=True,
                       timeout=TIMEOUT)
        counts = dict.fromkeys(names, 0)
        for line in out:
            match = re.match(r"^(?:\d+\s+)?(\w+)\(", line)
            if match and match.group(1) in counts:
                counts[match.group(1)] += 1
    return counts


class LineReader:
    """Collect the lines of a pipe in a thread, so waits can time out."""

    def __init__(self, stream, on_line=None):
        self.lines = []
        self.bad_utf8 = []
        self.closed = False
        self._on_line = on_line
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(stream,),
                                        daemon=True)
        self._thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            try:
                line = raw.decode("utf-8").rstrip("\n")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                self.bad_utf8.append(raw)
            with self._cond:
                if self._on_line:
                    self._on_line(line, raw)
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait(self, predicate, timeout=TIMEOUT):
        """Return the first collected item that predicate accepts, or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for item in self.lines:
                    if predicate(item):
                        return item
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def join(self, timeout=TIMEOUT):
        self._thread.join(timeout)


class SchemaValidator:
    """Validate lines against docs/snaptrig.schema.json.

    tests/schema/check.py parses each raw line more strictly than json.loads
    does (duplicate keys, UTF-8, integers) and then applies the schema. Its
    check_line is used when it is there. Otherwise the jsonschema package
    validates the parsed line against the schema file. Until the schema file
    exists only the checks of check_line_contract run.
    """

    def __init__(self):
        self._check_line = None
        self._validator = None
        if not SCHEMA_PATH.exists():
            return
        import jsonschema
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        self._validator = cls(schema, format_checker=jsonschema.FormatChecker())
        if SCHEMA_CHECK.exists():
            sys.path.insert(0, str(SCHEMA_CHECK.parent))
            try:
                import check as schema_check
            finally:
                sys.path.pop(0)
            check_line = getattr(schema_check, "check_line", None)
            if callable(check_line) and \
                    len(inspect.signature(check_line).parameters) == 2:
                self._check_line = check_line

    def errors(self, obj, raw):
        """Return a list of messages about one line; empty when it is valid.

        obj is the parsed line, raw its bytes with the newline.
        """
        if self._check_line is not None:
            return list(self._check_line(self._validator, raw)[1])
        if self._validator is not None:
            return [e.message for e in self._validator.iter_errors(obj)]
        return []


_VALIDATOR = None


def validator():
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = SchemaValidator()
    return _VALIDATOR


SIGNAL_TRIGGERS = {"first-sigint", "sigint", "sigalrm", "sigtstp", "sigstop"}
DETAIL_KEYS = {
    "first-stdin": {"fd", "call"},
    "non-deterministic-call": {"call", "count", "calls", "coalesced"},
    "transaction": {"call", "count", "calls", "coalesced"},
    "bootstrap": {"filename", "ppid", "old_tid"},
    "periodic-interval": {"interval_ns", "number"},
}


def check_line_contract(obj):
    """Return the ways obj breaks the line contract that the tests rely on."""
    problems = []
    for key, kind in (("type", str), ("seq", int), ("time", str),
                      ("boot_ns", int)):
        if not isinstance(obj.get(key), kind):
            problems.append(f"field {key!r} missing or not {kind.__name__}")
    if isinstance(obj.get("time"), str) and not TIME_RE.match(obj["time"]):
        problems.append(f"time {obj['time']!r} is not RFC 3339 UTC with 9 digits")
    if obj.get("type") == "trigger":
        for key in ("trigger", "pid", "tid", "comm", "detail"):
            if key not in obj:
                problems.append(f"trigger line without {key!r}")
        trig = obj.get("trigger")
        detail = obj.get("detail") or {}
        need = DETAIL_KEYS.get(trig, set())
        if trig in SIGNAL_TRIGGERS:
            need = {"signal", "name", "code", "thread", "result"}
        if trig == "first-listen":
            need = {"fd", "backlog", "family", "via"}
        if obj.get("source") == "attach":
            # found in /proc at attach: no call, so no backlog, call or via
            need = {"fd", "family"} if trig == "first-listen" else {"fd"}
        if detail == {"reconciled": True}:
            # a once-trigger whose record was lost: the kernel kept only the fact
            need = set()
        missing = need - set(detail)
        if missing:
            problems.append(f"{trig} detail without {sorted(missing)}")
    return problems


def unix_listener(test, path, kind=socket.SOCK_STREAM, backlog=1):
    """Bind a unix socket of kind at path and return it, closed at cleanup.

    A stream or seqpacket socket listens with backlog, and its accept()
    raises TimeoutError after TIMEOUT seconds. A path longer than sun_path
    (107 bytes) is bound through /proc/self/fd and a descriptor of its
    directory.
    """
    sock = socket.socket(socket.AF_UNIX, kind)
    test.addCleanup(sock.close)
    if len(os.fsencode(path)) < 108:
        sock.bind(path)
    else:
        directory = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY)
        try:
            sock.bind(f"/proc/self/fd/{directory}/{os.path.basename(path)}")
        finally:
            os.close(directory)
    if kind != socket.SOCK_DGRAM:
        sock.listen(backlog)
    sock.settimeout(TIMEOUT)
    return sock


def parse_output(test, data):
    """Parse the JSON lines in data, asserting the line contract and schema."""
    test.assertTrue(data.endswith(b"\n"), f"output ends inside a line: {data[-200:]!r}")
    lines = []
    for raw in (piece + b"\n" for piece in data[:-1].split(b"\n")):
        obj = json.loads(raw)
        test.assertEqual(check_line_contract(obj) + validator().errors(obj, raw), [], raw)
        lines.append(obj)
    return lines


class TracedRun:
    """One snaptrig process and the lines it and its traced command print."""

    def __init__(self, test, args, command=None, stdin=subprocess.PIPE,
                 env=None, cwd=None, allow_lost=False, new_session=False, wrapper=()):
        self.test = test
        # Flood tests overflow the ring buffer on purpose and check the lost
        # lines themselves, so check_stream skips its "no lost lines" rule.
        self.allow_lost = allow_lost
        # wrapper: a program that runs snaptrig, such as ["timeout", "20"], or a
        # command that ends with exec "$@", so that snaptrig keeps its pid
        self.argv = list(wrapper) + [str(SNAPTRIG)] + list(args)
        if command is not None:
            self.argv += ["--"] + list(command)
        self.records = []
        self.facts = []
        self.invalid = []
        self.started_boot_s = time.clock_gettime(time.CLOCK_BOOTTIME)
        # new_session: a process group of its own, which COMMAND may signal as a whole
        self.proc = subprocess.Popen(self.argv, stdin=stdin,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd,
                                     start_new_session=new_session)
        test.register(self.proc)
        test.register_run(self)
        self.out = LineReader(self.proc.stdout, self._sort_line)
        self.err = LineReader(self.proc.stderr)
        self.returncode = None
        # Checked after the test body, so that a line the schema rejects
        # does not hide what else the test finds.
        test.addCleanup(self.assert_lines_valid)

    def _sort_line(self, line, raw):
        # snaptrig writes each line with one write(2), but a traced program
        # may write a line in pieces (python3 -u writes the text and the
        # newline apart), so a JSON line can follow a partial program line.
        glued = raw.find(b'{"type":')
        if glued > 0:
            self.facts.append(parse_fact(raw[:glued].decode("utf-8", "replace")))
            raw = raw[glued:]
            line = raw.decode("utf-8", "replace").rstrip("\n")
        if not line.startswith("{"):
            self.facts.append(parse_fact(line))
            return
        try:
            obj = json.loads(line)
        except ValueError as exc:
            self.invalid.append(f"not JSON ({exc}): {line}")
            return
        if not isinstance(obj, dict):
            self.invalid.append(f"not an object: {line}")
            return
        for problem in check_line_contract(obj) + validator().errors(obj, raw):
            self.invalid.append(f"{problem}: {line}")
        self.records.append(obj)

    @property
    def pid(self):
        return self.proc.pid

    def describe(self):
        """Return the command and everything it printed, for failure messages."""
        return ("\ncommand: " + " ".join(self.argv) +
                "\nstdout:\n  " + "\n  ".join(self.out.lines) +
                "\nstderr:\n  " + "\n  ".join(self.err.lines))

    def wait_record(self, predicate, description, timeout=TIMEOUT):
        """Return the first JSON line predicate accepts; fail the test if none."""
        found = self.out.wait(lambda _: any(predicate(r) for r in self.records),
                              timeout)
        if found is None:
            self.test.fail(f"timed out after {timeout} s waiting for {description}"
                           + self.describe())
        return next(r for r in self.records if predicate(r))

    def wait_start(self):
        return self.wait_record(lambda r: r["type"] == "start", "the start line")

    def wait_trigger(self, name, pid=None, timeout=TIMEOUT):
        def match(r):
            return (r["type"] == "trigger" and r["trigger"] == name and
                    (pid is None or r["pid"] == pid))
        return self.wait_record(match, f"a {name} line for pid {pid}", timeout)

    def wait_fact(self, name, timeout=TIMEOUT, index=0):
        """Return the value of the index-th fact called name from the command."""
        def enough(_):
            return len([v for n, v in self.facts if n == name]) > index
        if self.out.wait(enough, timeout) is None:
            self.test.fail(f"timed out waiting for '{name}' from the command"
                           + self.describe())
        return [v for n, v in self.facts if n == name][index]

    def fact_values(self, name):
        return [v for n, v in self.facts if n == name]

    def close_stdin(self):
        if self.proc.stdin:
            self.proc.stdin.close()

    def write_stdin(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def interrupt(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=TIMEOUT, check=True):
        """Wait for snaptrig to exit; return its exit code.

        With check, also assert the stream rules every run must keep.
        """
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.test.fail(f"snaptrig did not exit within {timeout} s"
                           + self.describe())
        self.out.join()
        self.err.join()
        if check:
            self.check_stream()
        return self.returncode

    def check_stream(self):
        """Assert the rules of a whole output stream of a run that ended."""
        t = self.test
        t.assertTrue(self.records, "no JSON line" + self.describe())
        t.assertEqual([r["seq"] for r in self.records],
                      list(range(1, len(self.records) + 1)),
                      "seq must start at 1 and grow by 1" + self.describe())
        t.assertEqual(self.records[0]["type"], "start", self.describe())
        t.assertEqual(self.records[-1]["type"], "stats", self.describe())
        t.assertEqual(len([r for r in self.records if r["type"] == "start"]), 1)
        t.assertEqual(len([r for r in self.records if r["type"] == "stats"]), 1)
        start, stats = self.records[0], self.records[-1]
        if not self.allow_lost:
            t.assertEqual(self.of_type("lost"), [], "lost lines" + self.describe())
            t.assertEqual(stats["lost"], 0, self.describe())
        written = {name: len(self.triggers(name)) for name in start["triggers"]}
        t.assertEqual(stats["triggers"], written,
                      "stats.triggers must count the trigger lines written"
                      + self.describe())
        t.assertEqual([r for r in self.of_type("trigger")
                       if r["trigger"] not in start["triggers"]], [],
                      "lines of triggers that were not selected")
        # latency counts the lines made from kernel records, a subset of each kind
        for kind, figures in stats["latency"].items():
            lines = (self.of_type(kind) if kind in ("exec", "exit")
                     else self.triggers(kind))
            t.assertLessEqual(figures["lines"], len(lines), kind + self.describe())
            t.assertLessEqual(figures["p50_ns"], figures["p99_ns"], kind)
            t.assertLessEqual(figures["p99_ns"], figures["max_ns"], kind)
            # every delay ended before the stats line took its time
            t.assertLessEqual(figures["max_ns"],
                              stats["boot_ns"] - min(r["boot_ns"] for r in lines),
                              kind + ": a delay longer than the run" + self.describe())

    def assert_lines_valid(self):
        """Assert that every line was valid JSON, UTF-8 and matched the schema."""
        self.test.assertEqual(self.out.bad_utf8, [], "lines that are not UTF-8")
        self.test.assertEqual(self.invalid, [], "invalid lines" + self.describe())

    def traced_pids(self):
        """Return the live pids this run traced that started after the run.

        The start time check keeps a pid that the kernel reused for another
        process out of the set.
        """
        pids = {r["pid"] for r in self.records if isinstance(r.get("pid"), int)}
        for record in self.records:
            if record.get("type") == "start" and record.get("mode") == "launch":
                pids.update(record.get("targets", []))
        for value in self.fact_values("pid"):
            if value.isdigit():
                pids.add(int(value))
        return {pid for pid in pids
                if (process_start_seconds(pid) or 0) >= self.started_boot_s - 1}

    def of_type(self, kind):
        return [r for r in self.records if r["type"] == kind]

    def triggers(self, name=None, pid=None):
        return [r for r in self.records
                if r["type"] == "trigger" and (name is None or r["trigger"] == name)
                and (pid is None or r["pid"] == pid)]

    def exits(self, pid=None):
        return [r for r in self.of_type("exit") if pid is None or r["pid"] == pid]

    def lines_for_pid(self, pid):
        return [r for r in self.records if r.get("pid") == pid]


class Program:
    """A program a test runs directly: a target to attach to, or an untraced copy."""

    def __init__(self, test, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE):
        self.test = test
        self.argv = list(argv)
        self.proc = subprocess.Popen(self.argv, stdin=stdin, stdout=stdout,
                                     stderr=subprocess.PIPE)
        test.register(self.proc)
        self.facts = []
        self.out = LineReader(self.proc.stdout, self._add) if self.proc.stdout else None
        self.err = LineReader(self.proc.stderr)

    def _add(self, line, raw):
        self.facts.append(parse_fact(line))

    @property
    def pid(self):
        return self.proc.pid

    def describe(self):
        out = self.out.lines if self.out else []
        return ("\nprogram: " + " ".join(self.argv) + "\nstdout:\n  " +
                "\n  ".join(out) + "\nstderr:\n  " + "\n  ".join(self.err.lines))

    def wait_fact(self, name, timeout=TIMEOUT, index=0):
        def enough(_):
            return len([v for n, v in self.facts if n == name]) > index
        if self.out.wait(enough, timeout) is None:
            self.test.fail(f"timed out waiting for '{name}'" + self.describe())
        return [v for n, v in self.facts if n == name][index]

    def fact_values(self, name):
        return [v for n, v in self.facts if n == name]

    def close_stdin(self):
        if self.proc.stdin:
            self.proc.stdin.close()

    def wait_exit(self, timeout=TIMEOUT):
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.test.fail(f"program did not exit within {timeout} s" + self.describe())
        if self.out:
            self.out.join()
        self.err.join()
        return code


class SnaptrigTestCase(unittest.TestCase):
    """Base class: starts snaptrig and programs, and cleans up after them."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("snaptrig needs root to load BPF programs")
        if not SNAPTRIG.exists():
            self.fail(f"{SNAPTRIG} not found: run make first")
        self._procs = []
        self._runs = []
        self.tmp = tempfile.mkdtemp(prefix="snaptrig-test-")
        # Cleanups run last-in first-out: kill the processes, then remove files.
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self._kill_all)

    def register(self, proc):
        self._procs.append(proc)
        log_pid(proc.pid)

    def register_run(self, run):
        self._runs.append(run)

    @staticmethod
    def _kill_pid(pid):
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return

    def _kill_all(self):
        # Processes snaptrig launched for this test are not children of the
        # test, and a failed test may leave them behind: kill them by pid.
        for run in self._runs:
            if run.proc.poll() is not None and not run.records:
                continue
            for pid in run.traced_pids():
                if process_state(pid) not in (None, "Z"):
                    log_pid(pid)
                    self._kill_pid(pid)
        for proc in reversed(self._procs):
            if proc.poll() is None:
                self._kill_pid(proc.pid)
                try:
                    proc.wait(TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
        # Closing a pipe blocks while its reader thread is inside readline,
        # so only stdin is closed here; the readers end at end of file.
        for proc in self._procs:
            if proc.stdin:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass

    def trace(self, args, command=None, **kwargs):
        """Start snaptrig with args, launching command when given."""
        return TracedRun(self, args, command, **kwargs)

    def spawn(self, argv, **kwargs):
        """Start a program that snaptrig does not launch."""
        return Program(self, argv, **kwargs)

    def resume_later(self, pid):
        """Make sure pid, stopped by this test, gets SIGCONT in cleanup."""
        self.addCleanup(self._cont, pid)

    @staticmethod
    def _cont(pid):
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass

    def assertNoLines(self, run, pid, label="an untraced program"):
        self.assertEqual(run.lines_for_pid(pid), [],
                         f"{label} (pid {pid}) caused lines" + run.describe())

    def assertExited(self, run, pid, code=0, comm=None):
        """Assert exactly one exit line for pid, with the given exit code."""
        exits = run.exits(pid)
        self.assertEqual(len(exits), 1, f"exit lines for {pid}" + run.describe())
        self.assertEqual(exits[0]["status"], "exited")
        self.assertEqual(exits[0]["exit_code"], code)
        self.assertIs(exits[0]["core_dumped"], False)
        if comm is not None:
            self.assertEqual(exits[0]["comm"], comm)
        return exits[0]
