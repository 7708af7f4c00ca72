"""Attach mode (-p): tracing running processes, detaching, following exits."""

import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from harness import (PYTHON, SNAPTRIG, TIMEOUT, SnaptrigTestCase, log_pid, process_state,
                     tool, wait_state)

# The start of each holder program below: raise the descriptor limit to
# hold count descriptors (argv[1]) and a few more, or exit saying why not.
RAISE_LIMIT = """
import os, resource, socket, subprocess, sys
count = int(sys.argv[1])


def raise_limit(need, what):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        hard = need  # root with CAP_SYS_RESOURCE may raise it up to fs.nr_open
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as err:
        sys.exit(f"cannot raise the descriptor limit to {hard} for {count} {what}: {err}")
"""

# Loopback connections that make /proc/PID/net/tcp long, so that reading it
# takes tens of milliseconds. Each one takes two descriptors of the holder.
HELD_CONNECTIONS = 8000

# Run in a new network namespace: bring lo up, hold connections to its own
# listening socket, then run argv[2:] in the same namespace and exit with its
# status.
CONNECTION_HOLDER = RAISE_LIMIT + """
raise_limit(2 * count + 64, "connections")
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(128)
sockets = []
for _ in range(count):
    sockets.append(socket.create_connection(server.getsockname()))
    sockets.append(server.accept()[0])
server.close()
sys.exit(subprocess.run(sys.argv[2:]).returncode)
"""

# Descriptors that make /proc/PID/fd long, so that listing it takes tens of
# milliseconds.
HELD_DESCRIPTORS = 15000

# Open descriptors of /dev/null, then run argv[2:] with them inherited and
# exit with its status.
DESCRIPTOR_HOLDER = RAISE_LIMIT + """
raise_limit(count + 64, "descriptors")
for _ in range(count):
    os.set_inheritable(os.open("/dev/null", os.O_RDONLY), True)
sys.exit(subprocess.run(sys.argv[2:], close_fds=False).returncode)
"""

# Sockets ahead of the listening one: more than 4096, so that a scan with a
# fixed table of 4096 sockets misses it.
HELD_SOCKETS = 4200

# Open UDP sockets, then run argv[2:] with them inherited and exit with its
# status.
SOCKET_HOLDER = RAISE_LIMIT + """
raise_limit(count + 64, "sockets")
sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
for s in sockets:
    s.set_inheritable(True)
sys.exit(subprocess.run(sys.argv[2:], close_fds=False).returncode)
"""

def descriptor_of(pid, path):
    """Return the number of a descriptor of process pid that refers to path, or None."""
    fds = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fds)
    except OSError:
        return None
    for name in names:
        try:
            if os.readlink(os.path.join(fds, name)) == path:
                return name
        except OSError:
            continue
    return None


def position_of(pid, path):
    """Return the file offset of process pid's descriptor on path, or None."""
    fd = descriptor_of(pid, path)
    if fd is None:
        return None
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as f:
            return int(f.readline().split()[1])
    except (OSError, IndexError, ValueError):
        return None


class AttachTest(SnaptrigTestCase):

    def attach(self, pids, triggers):
        run = self.trace(["-p", ",".join(str(p) for p in pids), "-t", triggers],
                         stdin=subprocess.DEVNULL)
        start = run.wait_start()
        self.assertEqual(start["mode"], "attach")
        self.assertEqual(start["targets"], list(pids))
        self.assertNotIn("command", start)
        self.assertEqual(start["agent_pid"], run.pid)
        return run

    def assertStillRunning(self, program):
        self.assertIsNone(program.proc.poll(), "the target exited on detach")
        self.assertIn(process_state(program.pid), {"S", "R"},
                      "the target must be left running")

    def wait_agent_opens(self, run, path):
        """Poll the agent's descriptors until one of them refers to path."""
        deadline = time.monotonic() + TIMEOUT
        while descriptor_of(run.pid, path) is None:
            if time.monotonic() > deadline:
                self.fail(f"snaptrig did not open {path}" + run.describe())
            time.sleep(0.001)

    def wait_agent_reopens(self, run, path):
        """Poll the agent until it reads the directory path a second time.

        A second opening starts at offset 0, below where the first one ended.
        """
        deadline = time.monotonic() + TIMEOUT
        last = None
        while True:
            position = position_of(run.pid, path)
            if position is not None and last is not None and position < last:
                return
            if position is not None:
                last = position
            if time.monotonic() > deadline:
                self.fail(f"snaptrig did not read {path} twice" + run.describe())
            time.sleep(0.0005)

    def end_during_load(self, run, target):
        """Kill target once the agent has begun to load its programs."""
        self.wait_agent_opens(run, "anon_inode:bpf-prog")
        target.proc.kill()
        target.proc.wait()

    def test_traced_parent_timeout_stops_agent(self):
        """timeout(1) ends a snaptrig that traces timeout itself: a signal
        from snaptrig's parent counts even when the parent is traced."""
        started = time.monotonic()
        wrapper = subprocess.Popen(["/usr/bin/timeout", "-s", "TERM", "2", "/bin/sh", "-c",
                                    f'exec {SNAPTRIG} -t first-listen -p "$PPID"'],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        self.register(wrapper)
        try:
            code = wrapper.wait(TIMEOUT + 5)
        except subprocess.TimeoutExpired:
            # end the snaptrig that this test started, timeout's only child
            with open(f"/proc/{wrapper.pid}/task/{wrapper.pid}/children", encoding="ascii") as f:
                for child in f.read().split():
                    os.kill(int(child), signal.SIGKILL)
            self.fail("snaptrig ignored the SIGTERM of timeout(1), its traced parent")
        err = wrapper.stderr.read().decode(errors="replace")
        # 124: timeout's status when it had to signal its command
        self.assertEqual(code, 124, err)
        self.assertLess(time.monotonic() - started, TIMEOUT)
        self.assertNotIn("ignoring", err)

    def agent_wakeups(self, pid, seconds):
        """The agent's voluntary context switches over seconds: one per sleep it wakes from."""
        def switches():
            with open(f"/proc/{pid}/task/{pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        return int(line.split()[1])
            self.fail(f"no voluntary_ctxt_switches in /proc/{pid}/task/{pid}/status")
        before = switches()
        time.sleep(seconds)
        return switches() - before

    def test_quiet_agent_drains_every_100ms(self):
        """A second after the last record, the agent reads the ring every 100 ms
        instead of every 10 ms. With --lazy-wakeup it keeps reading every 10 ms."""
        counts = {}
        for extra in ([], ["--lazy-wakeup"]):
            target = self.spawn(["/bin/sleep", "30"])
            run = self.trace(["-p", str(target.pid), "-t", "sigalrm", *extra],
                             stdin=subprocess.DEVNULL)
            run.wait_start()
            time.sleep(1.5)
            counts[bool(extra)] = self.agent_wakeups(run.pid, 2.0)
            # the sleep ends by the signal, and its line still wakes the agent
            os.kill(target.pid, signal.SIGALRM)
            self.assertEqual(run.wait_exit(), 0, run.describe())
            self.assertEqual([l["pid"] for l in run.triggers("sigalrm")], [target.pid])
        # 20 reads in 2 s, against 200 at 10 ms
        self.assertGreaterEqual(counts[False], 10, counts)
        self.assertLessEqual(counts[False], 40, counts)
        self.assertGreaterEqual(counts[True], 100, counts)

    def test_target_exits_during_load(self):
        """A target checked at start that exits before the attach is only not traced."""
        target = self.spawn(["/bin/sleep", "30"])
        run = self.trace(["-p", str(target.pid), "-t", "all"], stdin=subprocess.DEVNULL)
        self.end_during_load(run, target)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(run.records[0]["targets"], [], run.describe())
        self.assertEqual(run.err.lines, [f"snaptrig: process {target.pid} exited before "
                                         "snaptrig could attach (-p); not traced"])
        self.assertEqual(run.exits(target.pid), [])

    def test_text_header_target_exited(self):
        """The text header says that no process is traced when the only target exited."""
        target = self.spawn(["/bin/sleep", "30"])
        run = self.trace(["-p", str(target.pid), "-t", "first-listen", "--format", "text"],
                         stdin=subprocess.DEVNULL)
        self.end_during_load(run, target)
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        self.assertEqual(run.out.lines[0],
                         f"# snaptrig 0.1.0 tracing no process (pid {target.pid} exited "
                         "before the attach) for first-listen", run.describe())

    def test_other_target_still_traced(self):
        exited = self.spawn(["/bin/sleep", "30"])
        running = self.spawn(["/bin/sleep", "30"])
        run = self.trace(["-p", f"{exited.pid},{running.pid}", "-t", "all"],
                         stdin=subprocess.DEVNULL)
        self.end_during_load(run, exited)
        start = run.wait_start()
        self.assertEqual(start["targets"], [running.pid], run.describe())
        os.kill(running.pid, signal.SIGTERM)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        exits = run.exits(running.pid)
        self.assertEqual(len(exits), 1, run.describe())
        self.assertEqual(exits[0]["status"], "killed")
        self.assertEqual(run.exits(exited.pid), [])

    def test_text_header_names_targets(self):
        targets = [self.spawn(["/bin/sleep", "30"]) for _ in range(2)]
        pids = [t.pid for t in targets]
        run = self.trace(["-p", f"{pids[0]},{pids[1]}", "-t", "first-listen",
                          "--format", "text"], stdin=subprocess.DEVNULL)

        def headers():
            return [v.split() for n, v in run.facts if n == "#" and isinstance(v, str)]
        if run.out.wait(lambda _: headers(), TIMEOUT) is None:
            self.fail("timed out waiting for the text header" + run.describe())
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        self.assertEqual(headers()[0][2:], ["tracing", "pids", f"{pids[0]},{pids[1]}", "for",
                                            "first-listen"], run.describe())

    def assertListenSinceAttach(self, run, target, pid):
        """Assert the kernel's first-listen line of st-listener's first socket."""
        line = run.wait_trigger("first-listen", pid)
        first = target.fact_values("listen")[0]
        self.assertEqual(line["tid"], pid)
        self.assertEqual(line["comm"], "st-listener")
        self.assertEqual(line["detail"], {
            "fd": int(first["fd"]), "backlog": 16, "via": "syscall", "family": "inet",
            "address": "127.0.0.1", "port": int(first["port"])})
        # it may have listened before the attach, so the line is marked
        self.assertEqual(line["since"], "attach")
        self.assertNotIn("source", line)

    def test_listen_then_detach(self):
        target = self.spawn([tool("st-listener"), "-g", "0", "0"])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("waiting")
        other = self.spawn([tool("st-listener"), "-g", "0"])
        other.wait_fact("waiting")
        run = self.attach([pid], "first-listen")

        os.kill(other.pid, signal.SIGUSR1)
        other.wait_fact("ready")
        os.kill(pid, signal.SIGUSR1)
        target.wait_fact("ready")
        self.assertListenSinceAttach(run, target, pid)

        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertStillRunning(target)
        self.assertEqual(len(run.triggers("first-listen")), 1, run.describe())
        self.assertEqual(run.exits(), [], "a detached target did not exit")
        self.assertNoLines(run, other.pid, "a process not attached to")

        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0)

    def spawn_held_listener(self, holder):
        """Start st-listener -g -B under the holder command; return it and its pid."""
        target = self.spawn(holder + [tool("st-listener"), "-g", "-B", "0"])
        pid = int(target.wait_fact("pid", timeout=60))
        # st-listener is the holder's child, which the cleanup does not know
        log_pid(pid)
        self.addCleanup(self._kill_pid, pid)
        target.wait_fact("waiting")
        return target, pid

    def listen_while_open(self, run, target, pid, path, hint):
        """Make target listen, check that the agent still had path open, stop the agent."""
        os.kill(pid, signal.SIGUSR1)
        target.wait_fact("ready")
        self.assertIsNotNone(descriptor_of(run.pid, path),
                             f"snaptrig had closed {path} before the listen, so the test "
                             f"missed the window; {hint}" + run.describe())
        self.assertListenSinceAttach(run, target, pid)

        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("first-listen", pid=pid)), 1, run.describe())
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0, target.describe())

    def test_listen_during_proc_scan(self):
        """A listen while the agent reads /proc for past listens gets one line."""
        for program in ("unshare", "ip"):
            if shutil.which(program) is None:
                self.skipTest(f"{program} not found: install util-linux and iproute2")
        target, pid = self.spawn_held_listener(["unshare", "--net", PYTHON, "-c",
                                                CONNECTION_HOLDER, str(HELD_CONNECTIONS)])
        run = self.trace(["-p", str(pid), "-t", "first-listen"], stdin=subprocess.DEVNULL)
        # The table lists listening sockets first, so the listen comes after
        # the agent has read past them and before it has read the table's end.
        tcp = f"/proc/{pid}/net/tcp"
        self.wait_agent_opens(run, tcp)
        self.listen_while_open(run, target, pid, tcp, "raise HELD_CONNECTIONS")

    def test_listen_seen_by_scan_and_kernel(self):
        """A listen in both the kernel's view and the /proc scan gets one line."""
        target, pid = self.spawn_held_listener([PYTHON, "-c", DESCRIPTOR_HOLDER,
                                                str(HELD_DESCRIPTORS)])
        run = self.trace(["-p", str(pid), "-t", "first-listen"], stdin=subprocess.DEVNULL)
        # The agent lists the descriptors for copies of stdin before it creates
        # the kernel entry, and again for sockets before it reads the socket
        # tables. A listen during the second listing is seen by the kernel and
        # is in the tables when the agent reads them.
        fds = f"/proc/{pid}/fd"
        self.wait_agent_reopens(run, fds)
        self.listen_while_open(run, target, pid, fds, "raise HELD_DESCRIPTORS")

    def test_signals_then_sigterm(self):
        target = self.spawn([tool("st-signals")])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        tids = [int(t) for t in target.fact_values("tid")]
        run = self.attach([pid], "first-sigint,sigint,sigalrm,sigtstp")

        for i, sig in enumerate((signal.SIGINT, signal.SIGALRM, signal.SIGTSTP)):
            os.kill(pid, sig)
            target.wait_fact("got", index=i)
        killer = self.spawn([tool("st-tgkill"), str(pid), str(tids[1]), "INT"])
        self.assertEqual(killer.wait_exit(), 0, killer.describe())
        target.wait_fact("got", index=3)
        run.wait_record(lambda r: len(run.triggers("sigint")) == 2, "two sigint lines")
        run.wait_trigger("sigtstp", pid)

        run.interrupt(signal.SIGTERM)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertStillRunning(target)
        for name, count in (("first-sigint", 1), ("sigint", 2), ("sigalrm", 1),
                            ("sigtstp", 1)):
            self.assertEqual(len(run.triggers(name, pid=pid)), count,
                             name + run.describe())
        second = run.triggers("sigint")[1]
        self.assertEqual(second["tid"], tids[1])
        self.assertIs(second["detail"]["thread"], True)
        self.assertEqual(second["detail"]["sender"],
                         {"pid": killer.pid, "tid": killer.pid, "comm": "st-tgkill"})

        os.kill(pid, signal.SIGTERM)
        self.assertEqual(target.wait_exit(), 0)

    def test_stdin_then_target_exits(self):
        target = self.spawn([tool("st-stdin"), "-g", "-n", "1"])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("waiting")
        run = self.attach([pid], "first-stdin")

        os.kill(pid, signal.SIGUSR1)
        target.proc.stdin.write(b"attached\n")
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0, target.describe())
        self.assertEqual(run.wait_exit(), 0, run.describe())

        lines = run.triggers("first-stdin")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["pid"], pid)
        self.assertEqual(lines[0]["tid"], pid)
        self.assertEqual(lines[0]["detail"], {"fd": 0, "call": "read", "via": "syscall"})
        self.assertEqual(lines[0]["since"], "attach")
        self.assertExited(run, pid, 0, comm="st-stdin")

    def assertAtAttach(self, run, line, pid, comm, detail):
        self.assertEqual(line["pid"], pid)
        self.assertEqual(line["tid"], pid)
        self.assertEqual(line["comm"], comm)
        self.assertEqual(line["source"], "attach")
        self.assertNotIn("since", line)
        self.assertEqual(line["detail"], detail)
        # written right after the start line, at the attach time
        self.assertEqual(line["seq"], run.wait_start()["seq"] + 1)

    def attach_to_listener(self, args, detail_of):
        """Attach to an st-listener that listens already; check the one line."""
        target = self.spawn([tool("st-listener")] + args)
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        facts = target.fact_values("listen")[0]
        run = self.attach([pid], "first-listen")
        line = run.wait_trigger("first-listen", pid)
        self.assertAtAttach(run, line, pid, "st-listener", detail_of(facts))

        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("first-listen")), 1, run.describe())
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0)

    def test_listening_before_attach(self):
        self.attach_to_listener(["0"], lambda facts: {
            "fd": int(facts["fd"]), "family": "inet", "address": "127.0.0.1",
            "port": int(facts["port"])})

    def test_listening_behind_many_sockets(self):
        """A listening socket past thousands of other sockets is found."""
        target = self.spawn([PYTHON, "-c", SOCKET_HOLDER, str(HELD_SOCKETS),
                             tool("st-listener"), "0"])
        pid = int(target.wait_fact("pid", timeout=60))
        target.wait_fact("ready")
        facts = target.fact_values("listen")[0]
        self.assertGreater(int(facts["fd"]), HELD_SOCKETS)
        run = self.attach([pid], "first-listen")
        line = run.wait_trigger("first-listen", pid)
        self.assertAtAttach(run, line, pid, "st-listener", {
            "fd": int(facts["fd"]), "family": "inet", "address": "127.0.0.1",
            "port": int(facts["port"])})
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("first-listen")), 1, run.describe())
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0)

    def test_unix_listening_before_attach(self):
        path = os.path.join(self.tmp, "attach here.sock")  # /proc shows it with the space
        # the space splits st-listener's "listen fd=N ... path=P" fact: read fd from the text
        self.attach_to_listener(["-u", path], lambda facts: {
            "fd": int(re.search(r"fd=(\d+)", facts).group(1)), "family": "unix", "path": path})

    def spawn_abstract_listener(self, name, prefix=()):
        """Run python3 listening on the abstract unix socket name (bytes); return it, pid, fd.

        prefix is a command that execs python3 in the same process, such as unshare -n.
        """
        script = ("import os, socket, sys\n"
                  "s = socket.socket(socket.AF_UNIX)\n"
                  f"s.bind({name!r})\n"
                  "s.listen(2)\n"
                  "os.write(1, b'pid %d\\nfd %d\\n' % (os.getpid(), s.fileno()))\n"
                  "sys.stdin.read()\n")
        target = self.spawn(list(prefix) + [PYTHON, "-c", script])
        return target, int(target.wait_fact("pid")), int(target.wait_fact("fd"))

    def test_abstract_name_before_attach(self):
        """/proc/net/unix shows '\\0' as '@' and ends at '\\n', but the line has every byte."""
        for prefix in ([], ["/usr/bin/unshare", "-n"]):
            with self.subTest(prefix=prefix):
                target, pid, fd = self.spawn_abstract_listener(b"\0ab\0c\n\xff=", prefix)
                run = self.attach([pid], "first-listen")
                line = run.wait_trigger("first-listen", pid)
                self.assertAtAttach(run, line, pid, "python3", {
                    "fd": fd, "family": "unix", "path": "@ab\0c\n\ufffd="})
                run.interrupt(signal.SIGINT)
                self.assertEqual(run.wait_exit(), 0, run.describe())
                target.close_stdin()
                self.assertEqual(target.wait_exit(), 0)

    def text_line_at_attach(self, pid, trigger):
        """Attach to pid with --format text; return the words of the trigger's line."""
        run = self.trace(["-p", str(pid), "-t", trigger, "--format", "text"],
                         stdin=subprocess.DEVNULL)

        def words():
            return [v.split() for _, v in run.facts
                    if isinstance(v, str) and v.split()[:1] == [trigger]]
        if run.out.wait(lambda _: words(), TIMEOUT) is None:
            self.fail(f"timed out waiting for a {trigger} text line" + run.describe())
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        return words()[0]

    def spawn_file_reader(self, reader):
        """Run python3 code reader with stdin from a file; return it and its pid."""
        data = os.path.join(self.tmp, "input")
        with open(data, "w", encoding="ascii") as f:
            f.write("0123456789\n")
        with open(data, "rb") as stdin:
            target = self.spawn(["/usr/bin/python3", "-c", reader], stdin=stdin)
        return target, int(target.wait_fact("pid"))

    def test_text_lines_at_attach(self):
        """The text format shows no backlog, call or via for what /proc cannot show."""
        listener = self.spawn([tool("st-listener"), "0"])
        pid = int(listener.wait_fact("pid"))
        listener.wait_fact("ready")
        facts = listener.fact_values("listen")[0]
        self.assertEqual(self.text_line_at_attach(pid, "first-listen"),
                         ["first-listen", str(pid), str(pid), "st-listener",
                          f"fd={facts['fd']}", "family=inet", "address=127.0.0.1",
                          f"port={facts['port']}", "source=attach"])
        listener.close_stdin()
        self.assertEqual(listener.wait_exit(), 0)

        _, pid = self.spawn_file_reader("import os, time\n"
                                        "os.read(0, 4)\n"
                                        "os.write(1, b'pid %d\\n' % os.getpid())\n"
                                        "time.sleep(60)\n")
        self.assertEqual(self.text_line_at_attach(pid, "first-stdin"),
                         ["first-stdin", str(pid), str(pid), "python3", "fd=0",
                          "source=attach"])

    def test_stdin_file_read_before_attach(self):
        reader = ("import os, signal, sys\n"
                  "os.read(0, 4)\n"
                  "os.write(1, b'pid %d\\n' % os.getpid())\n"
                  "signal.signal(signal.SIGUSR1, lambda *a: None)\n"
                  "signal.pause()\n"
                  "os.read(0, 4)\n"
                  "os.write(1, b'done\\n')\n")
        target, pid = self.spawn_file_reader(reader)
        run = self.attach([pid], "first-stdin")
        line = run.wait_trigger("first-stdin", pid)
        self.assertAtAttach(run, line, pid, "python3", {"fd": 0})

        # the read after the attach is not the first one
        os.kill(pid, signal.SIGUSR1)
        target.wait_fact("done")
        self.assertEqual(target.wait_exit(), 0, target.describe())
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("first-stdin")), 1, run.describe())
        self.assertExited(run, pid, 0, comm="python3")

    def test_leader_exited_thread_runs(self):
        """A process whose main thread called pthread_exit() is still traced."""
        target = self.spawn([tool("st-leader-exit")])
        pid = int(target.wait_fact("pid"))
        tid = int(target.wait_fact("tid"))
        self.assertEqual(wait_state(pid, {"Z"}), "Z")
        run = self.attach([pid], "non-deterministic-call")
        target.proc.stdin.write(b"go\n")
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 7)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        lines = run.triggers("non-deterministic-call")
        self.assertEqual([(line["pid"], line["tid"]) for line in lines], [(pid, tid)],
                         run.describe())
        self.assertEqual(lines[0]["detail"]["call"], "getrandom")
        self.assertExited(run, pid, 7, comm="st-leader-exit")

    def test_leader_exited_prior_state(self):
        """The listening socket and read stdin of a zombie leader's process are found."""
        path = os.path.join(self.tmp, "stdin.txt")
        with open(path, "w", encoding="ascii") as f:
            f.write("ab")
        with open(path, "rb") as stdin:
            target = self.spawn([tool("st-leader-exit"), "prior"], stdin=stdin)
        pid = int(target.wait_fact("pid"))
        # the main thread prints the listen fact before it starts the second thread
        target.wait_fact("tid")
        facts = target.fact_values("listen")[0]
        self.assertEqual(wait_state(pid, {"Z"}), "Z")
        run = self.attach([pid], "first-listen,first-stdin")
        listen = run.wait_trigger("first-listen", pid)
        stdin_line = run.wait_trigger("first-stdin", pid)
        self.assertAtAttach(run, listen, pid, "st-leader-exit", {
            "fd": int(facts["fd"]), "family": "inet", "address": "127.0.0.1",
            "port": int(facts["port"])})
        self.assertEqual(stdin_line["source"], "attach")
        self.assertEqual(stdin_line["detail"], {"fd": 0})
        os.kill(pid, signal.SIGUSR1)
        self.assertEqual(target.wait_exit(), 7)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("first-listen")), 1, run.describe())
        self.assertEqual(len(run.triggers("first-stdin")), 1, run.describe())
        self.assertExited(run, pid, 7, comm="st-leader-exit")

    def test_target_killed_agent_exits_zero(self):
        target = self.spawn([tool("st-signals")])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        run = self.attach([pid], "sigint")
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(target.wait_exit(), -signal.SIGKILL)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        exits = run.exits(pid)
        self.assertEqual(len(exits), 1, run.describe())
        self.assertEqual(exits[0]["status"], "killed")
        self.assertEqual(exits[0]["signal"], int(signal.SIGKILL))
        self.assertEqual(exits[0]["signal_name"], "SIGKILL")
        self.assertEqual(run.triggers(), [])

    def test_exits_when_all_targets_exit(self):
        targets = [self.spawn([tool("st-listener"), "0"]) for _ in range(2)]
        pids = [int(t.wait_fact("pid")) for t in targets]
        for target in targets:
            target.wait_fact("ready")
        run = self.trace(["-p", str(pids[0]), "-p", str(pids[1]),
                          "-t", "first-listen"], stdin=subprocess.DEVNULL)
        start = run.wait_start()
        self.assertEqual(start["targets"], pids)

        targets[0].close_stdin()
        self.assertEqual(targets[0].wait_exit(), 0)
        run.wait_record(lambda r: r["type"] == "exit" and r["pid"] == pids[0],
                        "the exit line of the first target")
        self.assertIsNone(run.proc.poll(), "snaptrig exited with a target left")
        targets[1].close_stdin()
        self.assertEqual(targets[1].wait_exit(), 0)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        for pid in pids:
            self.assertExited(run, pid, 0, comm="st-listener")
        # both listened before the attach: one line each, found at attach
        lines = run.triggers("first-listen")
        self.assertEqual([(line["pid"], line["source"]) for line in lines],
                         [(pids[0], "attach"), (pids[1], "attach")], run.describe())


if __name__ == "__main__":
    unittest.main()
