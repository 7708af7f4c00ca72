"""Containers: processes in a child pid namespace, and --cgroup subtrees."""

import os
import signal
import subprocess
import time
import unittest

from harness import SNAPTRIG, SnaptrigTestCase, TIMEOUT, process_state, tool


def cgroup2_mount():
    """Return the mount point of the cgroup2 file system, or None."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2" and fields[3] == "/":
                return fields[4].encode().decode("unicode_escape")
    return None


def cgroup_of(pid):
    """Return the cgroup v2 path of pid, as in the 0:: line of /proc/PID/cgroup."""
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].rstrip("\n")
    return None


def cgroup_members(path):
    """Return the pids in path/cgroup.procs, or [] when the cgroup is gone."""
    try:
        with open(path + "/cgroup.procs", encoding="utf-8") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def children_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as f:
        return [int(p) for p in f.read().split()]


def nspid_of(pid):
    """Return the NSpid line of pid: its pid in each namespace, outermost first."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(p) for p in line.split()[1:]]
    return []


def unshare_works():
    try:
        out = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "/bin/sh",
                              "-c", "echo $$"], capture_output=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == b"1"


def wait_until(predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


class PidNamespaceTest(SnaptrigTestCase):

    def setUp(self):
        super().setUp()
        if not unshare_works():
            self.skipTest("unshare --pid --fork --mount-proc does not work here")
        self.mount = cgroup2_mount()
        if self.mount is None:
            self.skipTest("no cgroup2 file system is mounted")

    def test_inner_lines_name_both_pids(self):
        run = self.trace(["-t", "first-stdin,bootstrap"],
                         ["unshare", "--pid", "--fork", "--mount-proc", tool("st-stdin"),
                          "-n", "1"])
        start = run.wait_start()
        self.assertEqual(run.wait_fact("pid"), "1")
        outer = start["targets"][0]
        self.assertTrue(wait_until(lambda: children_of(outer)), run.describe())
        inner = children_of(outer)[0]
        self.assertEqual(nspid_of(inner), [inner, 1])
        path = cgroup_of(inner)
        cgroup_id = os.stat(self.mount + (path if path != "/" else "")).st_ino

        run.write_stdin(b"data\n")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())

        lines = run.triggers("first-stdin")
        self.assertEqual(len(lines), 1, run.describe())
        line = lines[0]
        self.assertEqual(line["pid"], inner)
        self.assertEqual(line["tid"], inner)
        self.assertEqual(line["ns_pid"], 1)
        self.assertEqual(line["ns_tid"], 1)
        self.assertEqual(line["cgroup_id"], cgroup_id)
        self.assertEqual(line["cgroup"], path)
        self.assertEqual(line["comm"], "st-stdin")
        self.assertEqual(line["detail"], {"fd": 0, "call": "read", "via": "syscall"})

        boots = [l for l in run.triggers("bootstrap") if l["pid"] == inner]
        self.assertEqual(len(boots), 1, run.describe())
        self.assertEqual(boots[0]["ns_pid"], 1)
        exit_line = self.assertExited(run, inner, 0, comm="st-stdin")
        self.assertEqual(exit_line["ns_pid"], 1)
        self.assertEqual(exit_line["ns_tid"], 1)
        self.assertEqual(exit_line["cgroup"], path)

    def test_attach_lines_name_namespace(self):
        """Lines written at attach, before any record, carry the namespace ids."""
        outer = self.spawn(["unshare", "--pid", "--fork", "--mount-proc", tool("st-stdin"),
                            "-n", "1"])
        self.assertEqual(outer.wait_fact("pid"), "1")
        inner = children_of(outer.pid)[0]
        path = cgroup_of(inner)
        cgroup_id = os.stat(self.mount + (path if path != "/" else "")).st_ino
        run = self.trace(["-t", "all", "-p", str(inner)])
        run.wait_start()
        coverage = run.wait_record(lambda r: r["type"] == "coverage" and r["pid"] == inner,
                                   f"a coverage line of {inner}")
        outer.proc.stdin.write(b"data\n")
        outer.close_stdin()
        self.assertEqual(outer.wait_exit(), 0, outer.describe())
        self.assertEqual(run.wait_exit(), 0, run.describe())

        lines = [l for l in run.of_type("coverage") if l["pid"] == inner]
        self.assertIn(coverage, lines)
        for line in lines:
            self.assertEqual(line["ns_pid"], 1, line)
            self.assertEqual(line["ns_tid"], 1, line)
            self.assertEqual(line["cgroup_id"], cgroup_id, line)
            self.assertEqual(line["cgroup"], path, line)

    def test_text_format_names_namespace(self):
        run = self.trace(["-t", "first-stdin", "--format", "text"],
                         ["unshare", "--pid", "--fork", "--mount-proc", tool("st-stdin"),
                          "-n", "1"])
        self.assertEqual(run.wait_fact("pid"), "1")
        run.write_stdin(b"data\n")
        run.close_stdin()
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        # the command may print before the start line: find that line by its text
        start = [value for name, value in run.facts
                 if name == "#" and isinstance(value, str) and value.startswith("snaptrig ")]
        self.assertEqual(len(start), 1, run.describe())
        outer = int(start[0].split()[-3])
        lines = [value.split() for _, value in run.facts
                 if isinstance(value, str) and value.split()[:1] == ["first-stdin"]]
        self.assertEqual(len(lines), 1, run.describe())
        inner = int(lines[0][1])
        self.assertNotEqual(inner, outer)
        # the command runs in the cgroup of snaptrig, which is the test's
        path = cgroup_of(os.getpid())
        self.assertEqual(lines[0][1:], [str(inner), str(inner), "st-stdin", "fd=0", "call=read",
                                        "via=syscall", "ns_pid=1", "ns_tid=1",
                                        f"cgroup={path}"])

    def test_snapshot_line_names_inner_pid(self):
        run = self.trace(["-t", "first-stdin", "--freeze", "--exec", "/bin/true"],
                         ["unshare", "--pid", "--fork", "--mount-proc", tool("st-stdin"),
                          "-n", "1"])
        start = run.wait_start()
        self.assertEqual(run.wait_fact("pid"), "1")
        outer = start["targets"][0]
        self.assertTrue(wait_until(lambda: children_of(outer)), run.describe())
        inner = children_of(outer)[0]
        path = cgroup_of(inner)
        run.write_stdin(b"data\n")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())

        snapshots = run.of_type("snapshot")
        self.assertEqual(len(snapshots), 1, run.describe())
        line = snapshots[0]
        self.assertEqual(line["status"], "ok", run.describe())
        self.assertEqual(line["pid"], inner)
        self.assertEqual(line["tid"], inner)
        self.assertEqual(line["ns_pid"], 1)
        self.assertEqual(line["ns_tid"], 1)
        self.assertEqual(line["cgroup"], path)

    def test_outer_lines_have_no_namespace(self):
        run = self.trace(["-t", "bootstrap"],
                         ["unshare", "--pid", "--fork", "--mount-proc", "/bin/true"])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        outer = start["targets"][0]
        lines = run.lines_for_pid(outer)
        self.assertTrue(lines, run.describe())
        for line in lines:
            for key in ("ns_pid", "ns_tid", "cgroup_id", "cgroup"):
                self.assertNotIn(key, line, run.describe())


    def test_agent_in_child_namespace_refuses(self):
        marker = os.path.join(self.tmp, "ran")
        out = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", SNAPTRIG,
                              "-t", "bootstrap", "--", "/bin/touch", marker],
                             capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertEqual(out.stdout, "")
        self.assertIn("cannot trace from a child pid namespace", out.stderr)
        self.assertFalse(os.path.exists(marker), "the command ran untraced")

    def test_check_in_child_namespace_reports_it(self):
        out = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", SNAPTRIG,
                              "--check", "-t", "bootstrap"],
                             capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("  missing  running in the initial pid namespace", out.stdout)
        here = subprocess.run([SNAPTRIG, "--check", "-t", "bootstrap"],
                              capture_output=True, text=True, timeout=TIMEOUT)
        self.assertIn("  ok       running in the initial pid namespace", here.stdout)


class CgroupTestCase(SnaptrigTestCase):
    """A test that makes cgroups under the cgroup2 mount and moves its programs into them."""

    def setUp(self):
        super().setUp()
        self.mount = cgroup2_mount()
        if self.mount is None:
            self.skipTest("no cgroup2 file system is mounted")

    def end_programs(self):
        """Kill the programs and runs that are left, so that their cgroups can go."""
        for program in self._procs:
            if program.poll() is None:
                program.kill()
                program.wait(TIMEOUT)


class CgroupTest(CgroupTestCase):

    def setUp(self):
        super().setUp()
        self.home = cgroup_of(os.getpid())
        self.rel = f"/snaptrig-test-{os.getpid()}-{time.monotonic_ns()}"
        self.dir = self.mount + self.rel
        os.mkdir(self.dir)
        self.cgroup_id = os.stat(self.dir).st_ino
        self.started = []
        # Runs before the base class's cleanup, so it ends the processes itself.
        self.addCleanup(self.remove_cgroup)

    def remove_cgroup(self):
        for pid in self.started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.end_programs()
        self.assertTrue(wait_until(lambda: self.members() == []),
                        f"processes left in {self.dir}: {self.members()}")
        # a test that removes the cgroup may fail before it creates it again
        if os.path.isdir(self.dir):
            os.rmdir(self.dir)

    def members(self):
        return cgroup_members(self.dir)

    def move_in(self, pid):
        with open(self.dir + "/cgroup.procs", "w", encoding="utf-8") as f:
            f.write(str(pid))

    def start_agent(self, triggers, extra=()):
        run = self.trace(["--cgroup", self.rel, "-t", triggers] + list(extra),
                         stdin=subprocess.DEVNULL)
        start = run.wait_start()
        self.assertEqual(start["mode"], "attach")
        self.assertEqual(start["cgroup"], self.rel)
        return run, start

    def listener(self):
        program = self.spawn([tool("st-listener"), "-g", "0"])
        pid = int(program.wait_fact("pid"))
        program.wait_fact("waiting")
        return program, pid

    def assertListenIn(self, run, program, pid):
        os.kill(pid, signal.SIGUSR1)
        program.wait_fact("ready")
        line = run.wait_trigger("first-listen", pid)
        self.assertEqual(line["tid"], pid)
        self.assertEqual(line["comm"], "st-listener")
        self.assertEqual(line["cgroup_id"], self.cgroup_id)
        self.assertEqual(line["cgroup"], self.rel)
        self.assertNotIn("ns_pid", line)
        self.assertEqual(line["detail"]["port"],
                         int(program.fact_values("listen")[0]["port"]))
        return line

    def assertJoin(self, run, pid, ppid, comm):
        line = run.wait_record(lambda r: r["type"] == "join" and r["pid"] == pid,
                               f"the join line of {pid}")
        self.assertEqual(line["tid"], pid)
        self.assertEqual(line["ppid"], ppid)
        self.assertEqual(line["comm"], comm)
        self.assertEqual(line["cgroup_id"], self.cgroup_id)
        self.assertEqual(line["cgroup"], self.rel)
        self.assertNotIn("ns_pid", line)
        return line

    def stop_agent(self, run):
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())

    def test_moved_in_process_joins(self):
        run, start = self.start_agent("first-listen")
        self.assertEqual(start["targets"], [])
        mover, pid = self.listener()
        outside, outside_pid = self.listener()

        self.move_in(pid)
        join = self.assertJoin(run, pid, os.getpid(), "st-listener")
        line = self.assertListenIn(run, mover, pid)
        self.assertLess(join["seq"], line["seq"])
        os.kill(outside_pid, signal.SIGUSR1)
        outside.wait_fact("ready")

        self.stop_agent(run)
        self.assertNoLines(run, outside_pid, "a process outside the cgroup")
        self.assertEqual(len(run.of_type("join")), 1, run.describe())

    def test_joiner_listening_before_join(self):
        """A process that listened before it joined gets the first-listen of an attach."""
        run, _ = self.start_agent("first-listen")
        program, pid = self.listener()
        os.kill(pid, signal.SIGUSR1)
        program.wait_fact("ready")
        port = int(program.fact_values("listen")[0]["port"])

        self.move_in(pid)
        join = self.assertJoin(run, pid, os.getpid(), "st-listener")
        line = run.wait_trigger("first-listen", pid)
        self.stop_agent(run)
        self.assertLess(join["seq"], line["seq"])
        self.assertEqual(line["source"], "attach", run.describe())
        self.assertNotIn("since", line, run.describe())
        self.assertEqual(line["detail"]["port"], port, run.describe())
        self.assertEqual(line["detail"]["address"], "127.0.0.1", run.describe())
        self.assertEqual(len(run.triggers("first-listen", pid)), 1, run.describe())

    def test_process_that_leaves_stays_traced(self):
        run, _ = self.start_agent("first-listen")
        program, pid = self.listener()
        self.move_in(pid)
        self.assertJoin(run, pid, os.getpid(), "st-listener")
        self.move_home(pid)
        os.kill(pid, signal.SIGUSR1)
        program.wait_fact("ready")
        line = run.wait_trigger("first-listen", pid)
        self.assertEqual(line["cgroup"], self.home)
        self.stop_agent(run)

    def test_member_at_start_is_traced(self):
        program, pid = self.listener()
        self.move_in(pid)
        run, start = self.start_agent("first-listen")
        self.assertEqual(start["targets"], [pid])
        self.assertListenIn(run, program, pid)
        self.stop_agent(run)
        self.assertEqual(run.of_type("join"), [], "a member at start is no joiner")

    def test_coverage_lines_name_cgroup(self):
        """Coverage lines of members at start and of joiners carry the cgroup."""
        at_start, start_pid = self.listener()
        self.move_in(start_pid)
        run, start = self.start_agent("all")
        self.assertEqual(start["targets"], [start_pid])
        joiner, join_pid = self.listener()
        self.move_in(join_pid)
        self.assertJoin(run, join_pid, os.getpid(), "st-listener")
        for program, pid in ((at_start, start_pid), (joiner, join_pid)):
            run.wait_record(lambda r, pid=pid: r["type"] == "coverage" and r["pid"] == pid,
                            f"a coverage line of {pid}")
        self.stop_agent(run)

        for pid in (start_pid, join_pid):
            lines = [l for l in run.of_type("coverage") if l["pid"] == pid]
            self.assertTrue(lines, run.describe())
            for line in lines:
                self.assertEqual(line["cgroup_id"], self.cgroup_id, line)
                self.assertEqual(line["cgroup"], self.rel, line)
                self.assertNotIn("ns_pid", line)

    def start_text_agent(self):
        """Start snaptrig on the cgroup with --format text; return it and its header words."""
        run = self.trace(["--cgroup", self.rel, "-t", "first-listen", "--format", "text"],
                         stdin=subprocess.DEVNULL)
        if run.out.wait(lambda _: self.comment_lines(run), TIMEOUT) is None:
            self.fail("timed out waiting for the text header" + run.describe())
        return run, self.comment_lines(run)[0]

    @staticmethod
    def comment_lines(run):
        """Return the words of each "#" line of a text run, without the "#"."""
        return [value.split() for name, value in run.facts
                if name == "#" and isinstance(value, str)]

    def test_text_header_of_empty_cgroup(self):
        run, header = self.start_text_agent()
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        self.assertEqual(header[2:], ["tracing", "cgroup", self.rel, "for", "first-listen"],
                         run.describe())

    def test_text_join_line(self):
        run, _ = self.start_text_agent()
        _, pid = self.listener()
        self.move_in(pid)

        def joins():
            return [w for w in self.comment_lines(run) if "join" in w[:2]]
        if run.out.wait(lambda _: joins(), TIMEOUT) is None:
            self.fail(f"timed out waiting for the join line of {pid}" + run.describe())
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())

        self.assertEqual(len(joins()), 1, run.describe())
        words = joins()[0]
        self.assertRegex(words[0], r"^\d{2}:\d{2}:\d{2}\.\d{6}$")
        self.assertEqual(words[1:], ["join", str(pid), "st-listener", f"ppid={os.getpid()}",
                                     f"cgroup={self.rel}"], run.describe())

    def test_text_header_names_members(self):
        pids = []
        for _ in range(2):
            _, pid = self.listener()
            self.move_in(pid)
            pids.append(pid)
        run, header = self.start_text_agent()
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())

        self.assertEqual(header[2:6], ["tracing", "cgroup", self.rel, "with"], run.describe())
        self.assertEqual(header[6], "pids", run.describe())
        self.assertEqual(sorted(int(p) for p in header[7].split(",")), sorted(pids))
        self.assertEqual(header[8:], ["for", "first-listen"], run.describe())

    def test_member_of_child_cgroup_is_traced(self):
        os.mkdir(self.dir + "/inner")
        self.addCleanup(os.rmdir, self.dir + "/inner")
        program, pid = self.listener()
        with open(self.dir + "/inner/cgroup.procs", "w", encoding="utf-8") as f:
            f.write(str(pid))
        self.addCleanup(self.move_home, pid)
        run, start = self.start_agent("first-listen")
        self.assertEqual(start["targets"], [pid])
        os.kill(pid, signal.SIGUSR1)
        program.wait_fact("ready")
        line = run.wait_trigger("first-listen", pid)
        self.assertEqual(line["cgroup"], self.rel + "/inner")
        self.assertEqual(line["cgroup_id"], os.stat(self.dir + "/inner").st_ino)
        self.stop_agent(run)

    def test_target_exited_snapshot_keeps_ids(self):
        """The snapshot line of a process killed during its request names its namespace and cgroup."""
        if not unshare_works():
            self.skipTest("unshare --pid --fork --mount-proc does not work here")
        outer = self.spawn(["unshare", "--pid", "--fork", "--mount-proc", tool("st-listener"),
                            "-g", "0"])
        self.assertEqual(outer.wait_fact("pid"), "1")
        outer.wait_fact("waiting")
        pid = children_of(outer.pid)[0]
        self.move_in(pid)
        run, start = self.start_agent("first-listen", ["--freeze", "--exec", "/bin/sleep 1"])
        self.assertEqual(start["targets"], [pid])
        os.kill(pid, signal.SIGUSR1)
        trigger = run.wait_trigger("first-listen", pid)
        os.kill(pid, signal.SIGKILL)
        snap = run.wait_record(lambda r: r["type"] == "snapshot", "the snapshot line")
        outer.wait_exit()
        self.stop_agent(run)

        self.assertEqual(trigger["held"], True, run.describe())
        self.assertEqual(snap["status"], "target-exited", run.describe())
        for key, value in (("ns_pid", 1), ("ns_tid", 1), ("cgroup_id", self.cgroup_id),
                           ("cgroup", self.rel)):
            self.assertEqual(trigger.get(key), value, f"trigger {key}" + run.describe())
            self.assertEqual(snap.get(key), value, f"snapshot {key}" + run.describe())

    def move_home(self, pid):
        if process_state(pid) in (None, "Z"):
            return
        with open(self.mount + self.home + "/cgroup.procs", "w", encoding="utf-8") as f:
            f.write(str(pid))

    def test_child_forked_inside_is_traced(self):
        shell = self.spawn(["/bin/sh", "-c",
                            f"read line; exec {tool('st-forker')} -n 1 -a listen"])
        self.move_in(shell.pid)
        run, start = self.start_agent("first-listen")
        self.assertEqual(start["targets"], [shell.pid])
        shell.proc.stdin.write(b"go\n")
        shell.close_stdin()
        child = int(shell.wait_fact("child"))
        self.assertEqual(shell.wait_exit(), 0, shell.describe())
        line = run.wait_trigger("first-listen", child)
        self.assertEqual(line["comm"], "st-forker")
        self.assertEqual(line["cgroup"], self.rel)
        self.stop_agent(run)
        self.assertEqual(run.of_type("join"), [], "a traced parent's child is no joiner")
        self.assertExited(run, child, 0, comm="st-forker")

    def test_clone_into_cgroup_joins(self):
        parent = self.spawn([tool("st-clone3"), self.dir, tool("st-listener"), "0"])
        run, _ = self.start_agent("first-listen")
        parent.wait_fact("pid")
        parent.proc.stdin.write(b"go\n")
        parent.proc.stdin.flush()
        pid = int(parent.wait_fact("child"))
        self.started.append(pid)
        self.assertJoin(run, pid, parent.pid, "st-clone3")
        line = run.wait_trigger("first-listen", pid)
        self.assertEqual(line["comm"], "st-listener")
        self.assertEqual(line["cgroup"], self.rel)
        self.stop_agent(run)
        self.assertNoLines(run, parent.pid, "the untraced parent")

    def pause_agent(self, run):
        """Stop the agent, so that only its BPF programs see what happens until it resumes."""
        os.kill(run.pid, signal.SIGSTOP)
        self.addCleanup(self.resume_agent, run)

    @staticmethod
    def resume_agent(run):
        try:
            os.kill(run.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass

    @staticmethod
    def wait_notice(run, text):
        """Return the first stderr line of the agent that contains text; fail if none."""
        line = run.err.wait(lambda l: text in l)
        if line is None:
            run.test.fail(f"timed out waiting for '{text}' on stderr" + run.describe())
        return line

    def recreate_cgroup(self):
        """Remove the cgroup and create one at the same path; return its id."""
        old_id = self.cgroup_id
        os.rmdir(self.dir)
        os.mkdir(self.dir)
        self.cgroup_id = os.stat(self.dir).st_ino
        self.assertNotEqual(self.cgroup_id, old_id)
        return self.cgroup_id

    def test_recreated_cgroup_traces_mover(self):
        """A process that enters a cgroup created again at the path joins, even unseen by the agent."""
        run, _ = self.start_agent("bootstrap")
        # stopped, the agent cannot notice the new cgroup, so only the kernel side can
        self.pause_agent(run)
        self.recreate_cgroup()
        shell = subprocess.run(["/bin/sh", "-c", f"echo $$; echo $$ > {self.dir}/cgroup.procs; "
                                "exec /bin/true"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(shell.returncode, 0, shell.stderr)
        pid = int(shell.stdout)
        self.resume_agent(run)

        join = self.assertJoin(run, pid, os.getpid(), "sh")
        line = run.wait_trigger("bootstrap", pid)
        run.wait_record(lambda r: r["type"] == "exit" and r["pid"] == pid,
                        f"the exit line of {pid}")
        self.stop_agent(run)
        self.assertExited(run, pid, 0, comm="true")
        self.assertLess(join["seq"], line["seq"])
        self.assertEqual(line["comm"], "true")
        self.assertEqual(line["cgroup_id"], self.cgroup_id)
        self.assertEqual(line["cgroup"], self.rel)
        self.assertEqual(len(run.of_type("join")), 1, run.describe())

    def test_recreated_cgroup_notices(self):
        run, _ = self.start_agent("first-listen")
        os.rmdir(self.dir)
        removed = self.wait_notice(run, "was removed")
        # several checks of the path pass while it is missing
        time.sleep(0.5)
        os.mkdir(self.dir)
        new_id = os.stat(self.dir).st_ino
        created = self.wait_notice(run, "was created again")
        self.stop_agent(run)

        self.assertEqual(removed, f"snaptrig: cgroup {self.rel} was removed; the processes "
                         "traced from it stay traced until they exit, and a cgroup created "
                         f"again at {self.rel} will be traced")
        self.assertEqual(created, f"snaptrig: cgroup {self.rel} was created again (id {new_id}); "
                         "tracing the processes in it")
        self.assertEqual(len([l for l in run.err.lines if "was removed" in l]), 1,
                         run.describe())

    def test_recreated_cgroup_notices_escape_path(self):
        rel = self.rel + "/\x1b[31mred\x01"
        path = self.mount + rel
        os.mkdir(path)
        run = self.trace(["--cgroup", rel, "-t", "first-listen"], stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_start()["cgroup"], rel)
        os.rmdir(path)
        removed = self.wait_notice(run, "was removed")
        os.mkdir(path)
        self.addCleanup(os.rmdir, path)
        created = self.wait_notice(run, "was created again")
        self.stop_agent(run)

        escaped = self.rel + "/\\x1b[31mred\\x01"
        self.assertIn(f"cgroup {escaped} was removed;", removed)
        self.assertIn(f"created again at {escaped} will be traced", removed)
        self.assertIn(f"cgroup {escaped} was created again", created)
        for line in (removed, created):
            self.assertFalse(any(ord(ch) < 0x20 for ch in line), repr(line))

    def test_member_of_recreated_cgroup_traced(self):
        """A process already in the new cgroup when the agent notices it gets the lines of -p."""
        # too long for the kernel side's path comparison, so only the agent's walk can find it
        rel = self.rel + "/" + "d" * 250
        path = self.mount + rel
        os.mkdir(path)
        run = self.trace(["--cgroup", rel, "-t", "first-listen"], stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_start()["cgroup"], rel)
        program, pid = self.listener()
        os.kill(pid, signal.SIGUSR1)
        program.wait_fact("ready")
        port = int(program.fact_values("listen")[0]["port"])
        os.rmdir(path)
        self.wait_notice(run, "was removed")

        self.pause_agent(run)
        os.mkdir(path)
        self.addCleanup(os.rmdir, path)
        new_id = os.stat(path).st_ino
        with open(path + "/cgroup.procs", "w", encoding="utf-8") as f:
            f.write(str(pid))
        self.addCleanup(self.move_home, pid)
        self.resume_agent(run)

        join = run.wait_record(lambda r: r["type"] == "join" and r["pid"] == pid,
                               f"the join line of {pid}")
        line = run.wait_trigger("first-listen", pid)
        self.wait_notice(run, "was created again")
        self.stop_agent(run)
        self.assertEqual(join["tid"], pid)
        self.assertEqual(join["ppid"], os.getpid())
        self.assertEqual(join["comm"], "st-listener")
        self.assertEqual(join["cgroup_id"], new_id)
        self.assertEqual(join["cgroup"], rel)
        self.assertLess(join["seq"], line["seq"])
        self.assertEqual(line["source"], "attach", run.describe())
        self.assertEqual(line["detail"]["port"], port, run.describe())
        self.assertEqual(line["cgroup_id"], new_id)
        self.assertEqual(len(run.of_type("join")), 1, run.describe())
        self.assertEqual(len(run.triggers("first-listen", pid)), 1, run.describe())

    def test_absolute_path_accepted(self):
        program, pid = self.listener()
        self.move_in(pid)
        run = self.trace(["--cgroup", self.dir, "-t", "first-listen"],
                         stdin=subprocess.DEVNULL)
        start = run.wait_start()
        self.assertEqual(start["cgroup"], self.rel)
        self.assertEqual(start["targets"], [pid])
        self.stop_agent(run)

    def make_sub_cgroups(self, *names):
        for name in names:
            os.mkdir(f"{self.dir}/{name}")
            self.addCleanup(os.rmdir, f"{self.dir}/{name}")

    def test_dot_components_resolved(self):
        self.make_sub_cgroups("sub", "other")
        name = self.rel[1:]
        for path in (f"./{name}/sub", f"{name}/other/../sub", f"{self.mount}//{name}/./sub"):
            with self.subTest(path=path):
                run = self.trace(["--cgroup", path, "-t", "first-listen"],
                                 stdin=subprocess.DEVNULL)
                self.assertEqual(run.wait_start()["cgroup"], self.rel + "/sub")
                self.stop_agent(run)

    def test_dot_path_follows_recreated_cgroup(self):
        """The kernel side compares the resolved path when a cgroup is created again."""
        self.make_sub_cgroups("other")
        sub = self.dir + "/sub"
        os.mkdir(sub)
        self.addCleanup(lambda: os.path.isdir(sub) and os.rmdir(sub))
        run = self.trace(["--cgroup", f".{self.rel}/other/../sub", "-t", "bootstrap"],
                         stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_start()["cgroup"], self.rel + "/sub")
        # stopped, the agent cannot notice the new cgroup, so only the kernel side can
        self.pause_agent(run)
        os.rmdir(sub)
        os.mkdir(sub)
        shell = subprocess.run(["/bin/sh", "-c", f"echo $$; echo $$ > {sub}/cgroup.procs; "
                                "exec /bin/true"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(shell.returncode, 0, shell.stderr)
        pid = int(shell.stdout)
        self.resume_agent(run)

        join = run.wait_record(lambda r: r["type"] == "join" and r["pid"] == pid,
                               f"the join line of {pid}")
        self.assertEqual(join["cgroup"], self.rel + "/sub")
        self.assertEqual(join["cgroup_id"], os.stat(sub).st_ino)
        run.wait_trigger("bootstrap", pid)
        self.stop_agent(run)

    def test_path_resolving_outside_mount_rejected(self):
        parent = os.path.dirname(self.mount)
        self.assertCgroupRejected(
            "..", f"it resolves to {parent}, outside the cgroup2 mount {self.mount}; "
            f"give a directory under {self.mount}, or a path relative to it")

    def assertCgroupRejected(self, path, message):
        out = subprocess.run([str(SNAPTRIG), "--cgroup", path], capture_output=True,
                             text=True, timeout=TIMEOUT)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertEqual(out.stdout, "")
        self.assertEqual(out.stderr.splitlines(), [f"snaptrig: invalid --cgroup '{path}': "
                                                   + message])

    def test_path_outside_mount_named(self):
        """The error for an absolute path outside the mount names the mount, not a joined path."""
        path = "/no-such-dir-outside-cgroup2/snaptrig-test"
        self.assertCgroupRejected(
            path, f"not under the cgroup2 mount {self.mount}, and no cgroup {path} "
            f"exists below its root; give a directory under {self.mount}, or a path "
            "relative to it as in the 0:: line of /proc/PID/cgroup")

    def test_missing_relative_cgroup_named(self):
        self.assertCgroupRejected(
            "no-such-cgroup", f"no cgroup /no-such-cgroup exists below the cgroup2 mount "
            f"{self.mount}; give a path relative to it as in the 0:: line of "
            "/proc/PID/cgroup, or a directory under it")

    def test_missing_cgroup_under_mount_named(self):
        path = self.dir + "/no-such-cgroup"
        self.assertCgroupRejected(
            path, f"{path} is not a cgroup v2 directory; give a path under "
            f"{self.mount} or relative to it")

    def test_invalid_paths_rejected(self):
        for path in ("/tmp", "/no-such-cgroup-here", self.rel + "/../x", ""):
            with self.subTest(path=path):
                out = subprocess.run([str(SNAPTRIG), "--cgroup", path],
                                     capture_output=True, timeout=TIMEOUT)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn(b"invalid --cgroup", out.stderr)
                self.assertEqual(out.stdout, b"")


class CgroupNamespaceTest(CgroupTestCase):
    """snaptrig in a cgroup namespace of its own, as in a container run with --pid=host."""

    def setUp(self):
        super().setUp()
        # the namespace's root, which contains the agent, and the --cgroup target below it
        self.root = f"{self.mount}/snaptrig-test-ns-{os.getpid()}-{time.monotonic_ns()}"
        self.dir = self.root + "/app"
        os.mkdir(self.root)
        # Runs after the cleanups added later, and before the base class's.
        self.addCleanup(self.remove_cgroups)
        os.mkdir(self.dir)
        self.cgroup_id = os.stat(self.dir).st_ino

    def remove_cgroups(self):
        self.end_programs()
        for path in (self.dir, self.root):
            self.assertTrue(wait_until(lambda p=path: cgroup_members(p) == []),
                            f"processes left in {path}: {cgroup_members(path)}")
            if os.path.isdir(path):
                os.rmdir(path)

    def start_agent(self, triggers):
        """Start snaptrig in self.root, in a new cgroup namespace with cgroup2 mounted again."""
        inner = f'umount {self.mount} && mount -t cgroup2 none {self.mount} && exec "$@"'
        outer = (f"echo $$ > {self.root}/cgroup.procs && "
                 f'exec unshare --cgroup --mount /bin/sh -c \'{inner}\' sh "$@"')
        run = self.trace(["--cgroup", "app", "-t", triggers], stdin=subprocess.DEVNULL,
                         wrapper=["/bin/sh", "-c", outer, "sh"])
        start = run.wait_start()
        self.assertEqual(start["mode"], "attach")
        self.assertEqual(start["cgroup"], "/app")
        self.assertEqual(start["targets"], [])
        self.assertEqual(cgroup_of(run.pid), "/" + os.path.basename(self.root))
        return run

    def move_in(self, pid):
        with open(self.dir + "/cgroup.procs", "w", encoding="utf-8") as f:
            f.write(str(pid))

    def assertJoin(self, run, pid, comm):
        line = run.wait_record(lambda r: r["type"] == "join" and r["pid"] == pid,
                               f"the join line of {pid}")
        self.assertEqual(line["tid"], pid)
        self.assertEqual(line["ppid"], os.getpid())
        self.assertEqual(line["comm"], comm)
        self.assertEqual(line["cgroup_id"], self.cgroup_id)
        # the path as the agent's cgroup namespace shows it
        self.assertEqual(line["cgroup"], "/app")
        return line

    def stop_agent(self, run):
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual([l for l in run.err.lines if "warning" in l], [], run.describe())

    def test_moved_in_process_joins(self):
        run = self.start_agent("first-listen")
        program = self.spawn([tool("st-listener"), "-g", "0"])
        pid = int(program.wait_fact("pid"))
        program.wait_fact("waiting")

        self.move_in(pid)
        join = self.assertJoin(run, pid, "st-listener")
        os.kill(pid, signal.SIGUSR1)
        program.wait_fact("ready")
        line = run.wait_trigger("first-listen", pid)
        self.stop_agent(run)
        self.assertLess(join["seq"], line["seq"])
        self.assertEqual(line["cgroup_id"], self.cgroup_id)
        self.assertEqual(line["cgroup"], "/app")
        self.assertEqual(line["detail"]["port"],
                         int(program.fact_values("listen")[0]["port"]))
        self.assertEqual(len(run.of_type("join")), 1, run.describe())

    def test_recreated_cgroup_traces_mover(self):
        """The kernel side finds the cgroup created again by its path from the hierarchy's root."""
        run = self.start_agent("bootstrap")
        # stopped, the agent cannot notice the new cgroup, so only the kernel side can
        os.kill(run.pid, signal.SIGSTOP)
        self.resume_later(run.pid)
        old_id = self.cgroup_id
        os.rmdir(self.dir)
        os.mkdir(self.dir)
        self.cgroup_id = os.stat(self.dir).st_ino
        self.assertNotEqual(self.cgroup_id, old_id)
        shell = subprocess.run(["/bin/sh", "-c", f"echo $$; echo $$ > {self.dir}/cgroup.procs; "
                                "exec /bin/true"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(shell.returncode, 0, shell.stderr)
        pid = int(shell.stdout)
        os.kill(run.pid, signal.SIGCONT)

        join = self.assertJoin(run, pid, "sh")
        line = run.wait_trigger("bootstrap", pid)
        run.wait_record(lambda r: r["type"] == "exit" and r["pid"] == pid,
                        f"the exit line of {pid}")
        self.stop_agent(run)
        self.assertExited(run, pid, 0, comm="true")
        self.assertLess(join["seq"], line["seq"])
        self.assertEqual(line["cgroup_id"], self.cgroup_id)
        self.assertEqual(line["cgroup"], "/app")
        self.assertEqual(len(run.of_type("join")), 1, run.describe())


if __name__ == "__main__":
    unittest.main()
