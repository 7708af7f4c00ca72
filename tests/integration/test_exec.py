"""bootstrap and exec lines, and following children."""

import json
import os
import re
import signal
import subprocess
import time
import unittest

from harness import SNAPTRIG, TIMEOUT, SnaptrigTestCase, process_state, tool

SHELL = "/bin/sh"
TRUE = "/bin/true"
TIMEOUT_PROGRAM = "/usr/bin/timeout"
# The shell waits for a line on stdin, so an untraced copy can run while it
# is traced. Neither /bin/true is the last command, so the shell forks for
# both instead of replacing itself with the second.
SCRIPT = f"read line; true; {TRUE}; {TRUE}; exit 3"
# A COMMAND that ignores SIGTERM and prints its pid.
def pending_signals(pid):
    """Return the signals pending for process pid as a whole and for its main thread."""
    found = set()
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("ShdPnd:", "SigPnd:")):
                mask = int(line.split()[1], 16)
                found |= {n for n in range(1, 65) if mask & (1 << (n - 1))}
    return found


IGNORES_SIGTERM = ["/usr/bin/python3", "-c",
                   "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "print('pid', os.getpid(), flush=True); time.sleep(60)"]


class ExecTest(SnaptrigTestCase):

    def run_script(self, args):
        run = self.trace(args, [SHELL, "-c", SCRIPT])
        start = run.wait_start()
        untraced = self.spawn([SHELL, "-c", SCRIPT])
        untraced.proc.stdin.write(b"go\n")
        untraced.close_stdin()
        self.assertEqual(untraced.wait_exit(), 3, untraced.describe())
        run.write_stdin(b"go\n")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 3, run.describe())
        self.assertEqual(len(start["targets"]), 1)
        self.assertNoLines(run, untraced.pid, "an untraced shell")
        return run, start["targets"][0]

    def children(self, run, shell):
        pids = sorted({r["pid"] for r in run.records
                       if "pid" in r and r["pid"] != shell})
        return pids

    def test_bootstrap_per_exec(self):
        run, shell = self.run_script(["-t", "bootstrap"])
        lines = run.triggers("bootstrap")
        self.assertEqual(len(lines), 3, run.describe())
        self.assertEqual(lines[0]["pid"], shell)
        self.assertEqual(lines[0]["tid"], shell)
        self.assertEqual(lines[0]["comm"], "sh")
        self.assertEqual(lines[0]["detail"],
                         {"filename": SHELL, "ppid": run.pid, "old_tid": shell})

        children = self.children(run, shell)
        self.assertEqual(len(children), 2, run.describe())
        for line, child in zip(lines[1:], children):
            self.assertEqual(line["pid"], child)
            self.assertEqual(line["tid"], child)
            self.assertEqual(line["comm"], "true")
            self.assertEqual(line["detail"],
                             {"filename": TRUE, "ppid": shell, "old_tid": child})
            self.assertExited(run, child, 0, comm="true")
            self.assertLess(line["seq"], run.exits(child)[0]["seq"])
        shell_exit = self.assertExited(run, shell, 3, comm="sh")
        self.assertEqual(shell_exit["seq"], run.records[-2]["seq"],
                         "the shell exits last, right before the stats line")
        self.assertEqual(run.of_type("exec"), [], "bootstrap replaces exec lines")

    def assertExitNamesProcess(self, argv, code):
        """Run st-renamed with argv: its exit line names the process and a thread of it."""
        run = self.trace(["-t", "bootstrap"], [tool("st-renamed")] + argv)
        self.assertEqual(run.wait_exit(), code, run.describe())
        pid = int(run.wait_fact("pid"))
        tids = [int(tid) for tid in run.fact_values("tid")]
        self.assertEqual(len(tids), 3, run.describe())
        exit_line = self.assertExited(run, pid, code, comm="st-renamed")
        self.assertIn(exit_line["tid"], [pid] + tids, run.describe())
        return exit_line, pid, tids

    def test_exit_line_leader_comm(self):
        """A worker named worker-N exits last: the exit line still has the process's comm."""
        exit_line, _, tids = self.assertExitNamesProcess(["leader-first"], 3)
        self.assertIn(exit_line["tid"], tids)

    def test_exit_line_comm_after_return(self):
        """main() returns while renamed threads run: the exit line has the process's comm."""
        for _ in range(3):
            self.assertExitNamesProcess([], 0)

    def test_signal_ends_run_after_command_exits(self):
        """COMMAND exits and leaves a traced child: SIGTERM ends the run."""
        run = self.trace(["-t", "bootstrap"],
                         [SHELL, "-c", "sleep 60 & echo pid $!; exit 0"])
        child = int(run.wait_fact("pid"))
        self.addCleanup(self.end_pid, child)
        shell = run.wait_start()["targets"][0]
        run.wait_record(lambda r: r["type"] == "exit" and r["pid"] == shell,
                        "the exit line of COMMAND")
        self.assertIsNone(run.proc.poll(), "snaptrig ended with a traced child left")
        run.interrupt(signal.SIGTERM)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(process_state(child), "S", "the child is left running")
        self.assertEqual(run.exits(child), [], run.describe())

    def test_signal_ends_run_when_command_exits(self):
        """One SIGTERM ends the run once COMMAND exits, though its child lives on."""
        script = "sleep 60 </dev/null >/dev/null 2>&1 & echo pid $!; wait"
        run = self.trace(["-t", "bootstrap"], [SHELL, "-c", script])
        child = int(run.wait_fact("pid"))
        self.addCleanup(self.end_pid, child)
        shell = run.wait_start()["targets"][0]
        run.wait_trigger("bootstrap", child)
        run.interrupt(signal.SIGTERM)
        self.assertEqual(run.wait_exit(timeout=20), 128 + signal.SIGTERM, run.describe())
        exits = run.exits(shell)
        self.assertEqual(len(exits), 1, run.describe())
        self.assertEqual((exits[0]["status"], exits[0]["signal"]),
                         ("killed", signal.SIGTERM))
        self.assertEqual(run.records[-1]["type"], "stats", run.describe())
        self.assertEqual(process_state(child), "S", "the child is left running")
        self.assertEqual(run.exits(child), [], run.describe())

    def test_signal_grace_ends_run(self):
        """COMMAND that ignores SIGTERM: snaptrig leaves it running after 5 s."""
        run = self.trace(["-t", "bootstrap"], IGNORES_SIGTERM)
        pid = int(run.wait_fact("pid"))
        self.addCleanup(self.end_pid, pid)
        run.wait_start()
        sent = time.monotonic()
        run.interrupt(signal.SIGTERM)
        self.assertEqual(run.wait_exit(timeout=20), 128 + signal.SIGTERM, run.describe())
        self.assertGreaterEqual(time.monotonic() - sent, 5.0)
        self.assertIn(f"snaptrig: COMMAND (pid {pid}) is still running 5 s after Terminated; "
                      "detaching and leaving it running", run.err.lines)
        self.assertEqual(process_state(pid), "S", "COMMAND is left running")
        self.assertEqual(run.exits(pid), [], run.describe())
        self.assertEqual(run.records[-1]["type"], "stats", run.describe())

    def test_second_signal_ends_grace(self):
        """A second SIGTERM ends the run at once, with a message that COMMAND is left running."""
        run = self.trace(["-t", "bootstrap"], IGNORES_SIGTERM)
        pid = int(run.wait_fact("pid"))
        self.addCleanup(self.end_pid, pid)
        run.wait_start()
        run.interrupt(signal.SIGTERM)
        self.wait_signal_read(run, signal.SIGTERM)
        run.interrupt(signal.SIGTERM)
        self.assertEqual(run.wait_exit(timeout=20), 128 + signal.SIGTERM, run.describe())
        self.assertEqual(run.err.lines, [f"snaptrig: received Terminated again; detaching and "
                                         f"leaving COMMAND (pid {pid}) running"], run.describe())
        self.assertEqual(process_state(pid), "S", "COMMAND is left running")

    def test_group_notification_signals_ignored(self):
        """COMMAND's kill(0, SIGUSR1) and the like reach snaptrig too and leave it tracing."""
        names = ["SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGPWR",
                 "SIGXFSZ"]
        script = ("import os, signal, subprocess, sys\n"
                  f"for name in {names!r}:\n"
                  "    sig = getattr(signal, name)\n"
                  "    signal.signal(sig, lambda *a: None)\n"
                  "    os.kill(0, sig)\n"
                  "signal.signal(signal.SIGRTMIN + 1, lambda *a: None)\n"
                  "os.kill(0, signal.SIGRTMIN + 1)\n"
                  f"subprocess.run(['{TRUE}'])\n"
                  "sys.exit(4)\n")
        run = self.trace(["-t", "bootstrap"], ["/usr/bin/python3", "-c", script],
                         new_session=True)
        self.assertEqual(run.wait_exit(), 4, run.describe())
        command = run.wait_start()["targets"][0]
        self.assertExited(run, command, 4)
        true_lines = [l for l in run.triggers("bootstrap") if l["detail"]["filename"] == TRUE]
        self.assertEqual(len(true_lines), 1, run.describe())
        self.assertExited(run, true_lines[0]["pid"], 0, comm="true")
        self.assertEqual(run.records[-1]["type"], "stats", run.describe())
        self.assertEqual(run.err.lines, [], run.describe())

    def assertLateChildTraced(self, before):
        """Run COMMAND: before, then a child that execs /bin/true 0.5 s later, then exit 0.

        Assert that snaptrig traced that child to its end and wrote no message.
        """
        script = f"{before}; (sleep 0.5; exec {TRUE}) </dev/null >/dev/null 2>&1 & exit 0"
        run = self.trace(["-t", "bootstrap"], [SHELL, "-c", script], new_session=True)
        self.assertEqual(run.wait_exit(timeout=20), 0, run.describe())
        true_lines = [l for l in run.triggers("bootstrap") if l["detail"]["filename"] == TRUE]
        self.assertEqual(len(true_lines), 1, run.describe())
        self.assertExited(run, true_lines[0]["pid"], 0, comm="true")
        # the shell may report a child's death: only snaptrig's own lines count
        self.assertEqual([l for l in run.err.lines if l.startswith("snaptrig")], [],
                         run.describe())

    def test_group_sigterm_from_command_ignored(self):
        """COMMAND's kill(0, SIGTERM) is no request to stop: its later child is traced."""
        self.assertLateChildTraced("trap 'echo trapped' TERM; kill -TERM 0")

    def test_group_sigterm_from_dying_child_ignored(self):
        """A child that dies of its own kill(0, SIGTERM) at once: snaptrig keeps tracing."""
        killer = ("import os, signal; signal.signal(signal.SIGTERM, signal.SIG_DFL); "
                  "os.kill(0, signal.SIGTERM)")
        self.assertLateChildTraced(f"trap '' TERM; /usr/bin/python3 -c '{killer}'")

    def test_signal_then_group_copy_once(self):
        """A SIGTERM to snaptrig, then the same sender's SIGTERM to the group, count as one."""
        script = ("import os, signal, sys, time\n"
                  "got = []\n"
                  "signal.signal(signal.SIGTERM, lambda *a: got.append(1))\n"
                  "print('pid', os.getpid(), flush=True)\n"
                  "while not got:\n"
                  "    time.sleep(0.01)\n"
                  "time.sleep(0.3)\n"
                  "sys.exit(0)\n")
        run = self.trace(["-t", "bootstrap"], ["/usr/bin/python3", "-c", script],
                         new_session=True)
        pid = int(run.wait_fact("pid"))
        run.wait_start()
        # as timeout(1) does: the process first, then its whole group
        run.interrupt(signal.SIGTERM)
        self.wait_signal_read(run, signal.SIGTERM)
        os.killpg(run.proc.pid, signal.SIGTERM)
        self.assertEqual(run.wait_exit(timeout=20), 0, run.describe())
        self.assertExited(run, pid, 0)
        self.assertEqual(run.err.lines, [], run.describe())

    def test_background_timeout_one_sigint(self):
        """timeout(1) signals snaptrig, then its own group: COMMAND gets one SIGINT."""
        script = ("import os, signal, time\n"
                  "got = []\n"
                  "signal.signal(signal.SIGINT, lambda *a: got.append(1))\n"
                  "print('pid', os.getpid(), flush=True)\n"
                  "while not got:\n"
                  "    time.sleep(0.01)\n"
                  "time.sleep(0.3)\n"
                  "print('sigints', len(got), flush=True)\n")
        # the race between snaptrig's read and timeout's second kill goes either way
        for attempt in range(8):
            # timeout(1) without --foreground makes a process group of its own
            run = self.trace(["-t", "sigint"], ["/usr/bin/python3", "-c", script],
                             wrapper=[TIMEOUT_PROGRAM, "20"])
            pid = int(run.wait_fact("pid"))
            run.wait_start()
            run.interrupt(signal.SIGINT)
            self.assertEqual(run.wait_exit(timeout=20), 0, run.describe())
            self.assertEqual(run.fact_values("sigints"), ["1"],
                             f"attempt {attempt}" + run.describe())
            lines = run.triggers("sigint", pid=pid)
            self.assertEqual(len(lines), 1, f"attempt {attempt}" + run.describe())
            self.assertEqual(lines[0]["detail"]["sender"]["pid"], run.proc.pid)
            self.assertEqual(lines[0]["detail"]["sender"]["comm"], "timeout")
            self.assertExited(run, pid, 0)

    def test_ignored_sigchld_and_sigpipe_passed_on(self):
        """A parent's ignored SIGCHLD and SIGPIPE: snaptrig still reaps, COMMAND keeps both."""
        wrapper = "trap '' CHLD PIPE; exec \"$0\" \"$@\""
        result = subprocess.run(["/bin/bash", "-c", wrapper, str(SNAPTRIG), "-t", "bootstrap",
                                 "--", "/bin/grep", "SigIgn", "/proc/self/status"],
                                capture_output=True, timeout=TIMEOUT, check=False)
        out = result.stdout.decode()
        self.assertEqual(result.returncode, 0, out)
        lines = out.splitlines()
        self.assertEqual(json.loads(lines[-1])["type"], "stats", out)
        ignored = int(next(l for l in lines if l.startswith("SigIgn:")).split()[1], 16)
        self.assertTrue(ignored & (1 << (signal.SIGCHLD - 1)), out)
        self.assertTrue(ignored & (1 << (signal.SIGPIPE - 1)), out)

    def test_sighup_ignored_at_start_stays_ignored(self):
        """Under nohup, SIGHUP leaves snaptrig tracing, and SIGTERM still ends the run."""
        wrapper = "trap '' HUP; exec \"$0\" \"$@\""
        proc = subprocess.Popen(["/bin/bash", "-c", wrapper, str(SNAPTRIG), "-t", "bootstrap",
                                 "--", SHELL, "-c", "echo pid $$; exec sleep 30"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        self.register(proc)
        first = proc.stdout.readline()
        while not first.startswith(b"pid "):
            first = proc.stdout.readline()
            self.assertNotEqual(first, b"", "COMMAND printed no pid")
        os.kill(proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        self.assertIsNone(proc.poll(), "snaptrig ended on an ignored SIGHUP")
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM, err)
        self.assertEqual(json.loads(out.splitlines()[-1])["type"], "stats", out)
        self.assertEqual(err, b"")

    def test_passed_on_signal_requests_nothing(self):
        """The SIGINT snaptrig passes on to COMMAND is a trigger line but no snapshot request."""
        script = ("import os, signal, time\n"
                  "got = []\n"
                  "signal.signal(signal.SIGINT, lambda *a: got.append(1))\n"
                  "print('pid', os.getpid(), flush=True)\n"
                  "while not got:\n"
                  "    time.sleep(0.01)\n")
        run = self.trace(["-t", "sigint", "--freeze", "--exec", "/bin/true"],
                         ["/usr/bin/python3", "-c", script], new_session=True)
        pid = int(run.wait_fact("pid"))
        run.wait_start()
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        lines = run.triggers("sigint", pid=pid)
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["detail"]["sender"]["pid"], run.proc.pid)
        self.assertIs(lines[0]["held"], False)
        self.assertEqual(run.of_type("snapshot"), [], run.describe())

    def test_signal_ends_later_requests(self):
        """A snapshot request that starts after the signal ends at once, so COMMAND can exit."""
        flag = os.path.join(self.tmp, "signalled")
        script = (f"trap 'touch {flag}; {TRUE}; exit 0' TERM; "
                  "sleep 60 </dev/null >/dev/null 2>&1 & echo pid $!; wait")
        # only the checkpointer of a request after the trap's touch waits
        template = f"/bin/sh -c 'test -e {flag} && exec sleep 30; exit 0'"
        run = self.trace(["-t", "bootstrap", "--freeze", "--exec", template],
                         [SHELL, "-c", script])
        child = int(run.wait_fact("pid"))
        self.addCleanup(self.end_pid, child)
        run.wait_record(lambda r: r["type"] == "snapshot" and r["pid"] == child,
                        "the snapshot line of the child")
        run.interrupt(signal.SIGTERM)
        self.assertEqual(run.wait_exit(timeout=20), 0, run.describe())
        self.assertFalse(any("still running" in l for l in run.err.lines), run.describe())
        true_pid = [l["pid"] for l in run.triggers("bootstrap")
                    if l["detail"]["filename"] == TRUE]
        self.assertEqual(len(true_pid), 1, run.describe())
        snapshots = [l for l in run.of_type("snapshot") if l["pid"] == true_pid[0]]
        self.assertEqual(len(snapshots), 1, run.describe())
        self.assertEqual((snapshots[0]["status"], snapshots[0]["reason"]),
                         ("failed", "interrupted"), run.describe())

    def wait_signal_read(self, run, sig):
        """Wait until snaptrig has read sig: two pending copies would merge into one."""
        deadline = time.monotonic() + TIMEOUT
        while sig in pending_signals(run.proc.pid):
            self.assertLess(time.monotonic(), deadline, f"snaptrig never read signal {sig}")
            time.sleep(0.001)

    @staticmethod
    def end_pid(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def test_exec_lines_without_bootstrap(self):
        run, shell = self.run_script(["-t", "first-listen"])
        execs = run.of_type("exec")
        self.assertEqual(len(execs), 3, run.describe())
        first = execs[0]
        self.assertEqual((first["pid"], first["tid"], first["comm"]),
                         (shell, shell, "sh"))
        self.assertEqual((first["filename"], first["ppid"], first["old_tid"]),
                         (SHELL, run.pid, shell))
        children = self.children(run, shell)
        self.assertEqual(len(children), 2, run.describe())
        for line, child in zip(execs[1:], children):
            self.assertEqual((line["pid"], line["tid"], line["comm"]),
                             (child, child, "true"))
            self.assertEqual((line["filename"], line["ppid"], line["old_tid"]),
                             (TRUE, shell, child))
            self.assertNotIn("trigger", line)
            self.assertNotIn("detail", line)
        self.assertEqual(run.triggers(), [])

    def test_lazy_wakeup_lines_wait_for_drain(self):
        """With --lazy-wakeup the exec and exit records wake no one: the same lines
        come, each after the agent's next drain, which runs every 10 ms."""
        script = f"for i in 1 2 3 4 5 6 7 8 9 10 11 12; do {TRUE}; done"
        run = self.trace(["-t", "sigalrm", "--lazy-wakeup"], [SHELL, "-c", script])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertIs(run.records[0]["lazy_wakeup"], True)
        shell = run.wait_start()["targets"][0]
        children = self.children(run, shell)
        self.assertEqual(len(children), 12, run.describe())
        self.assertEqual([(l["pid"], l["filename"]) for l in run.of_type("exec")],
                         [(shell, SHELL)] + [(child, TRUE) for child in children])
        self.assertEqual(sorted(l["pid"] for l in run.exits()), sorted(children + [shell]))
        exits = run.of_type("stats")[0]["latency"]["exit"]
        self.assertEqual(exits["lines"], 13)
        # a woken agent writes a line within tens of microseconds
        self.assertGreaterEqual(exits["p50_ns"], 1000000, run.describe())

    def test_last_command_forked(self):
        """dash 0.5.12 forks even for the last command of -c, so both exec."""
        run = self.trace(["-t", "bootstrap"], [SHELL, "-c", f"true; {TRUE}"])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        shell = start["targets"][0]
        lines = run.triggers("bootstrap")
        self.assertEqual([l["detail"]["filename"] for l in lines], [SHELL, TRUE],
                         run.describe())
        self.assertEqual(lines[0]["pid"], shell)
        self.assertEqual(lines[1]["detail"]["ppid"], shell)
        self.assertExited(run, lines[1]["pid"], 0, comm="true")
        self.assertExited(run, shell, 0, comm="sh")

    def test_exec_from_thread(self):
        """An exec from a non-leader thread keeps the leader's pid."""
        run = self.trace(["-t", "bootstrap"], [tool("st-forker"), "-x"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        exec_tid = int(run.fact_values("exec-tid")[0])
        self.assertNotEqual(exec_tid, pid)
        lines = run.triggers("bootstrap")
        self.assertEqual(len(lines), 2, run.describe())
        self.assertEqual(lines[0]["detail"], {"filename": tool("st-forker"),
                                              "ppid": run.pid, "old_tid": pid})
        self.assertEqual((lines[1]["pid"], lines[1]["tid"], lines[1]["comm"]),
                         (pid, pid, "true"))
        self.assertEqual(lines[1]["detail"], {"filename": TRUE, "ppid": run.pid,
                                              "old_tid": exec_tid})
        # The old leader's exit during the exec is not the process's exit.
        self.assertExited(run, pid, 0, comm="true")
        self.assertEqual(len(run.of_type("exit")), 1, run.describe())

    def test_text_bootstrap_names_exec_thread(self):
        """Text lines name the exec'ing thread only when it was not the leader."""
        run = self.trace(["-t", "bootstrap", "--format", "text"], [tool("st-forker"), "-x"])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        exec_tid = int(run.fact_values("exec-tid")[0])
        lines = [[name] + value.split() for name, value in run.facts
                 if isinstance(value, str) and value.split()[:1] == ["bootstrap"]]
        self.assertEqual(len(lines), 2, run.describe())
        self.assertEqual(lines[0][2:], [str(pid), str(pid), "st-forker",
                                        f"filename={tool('st-forker')}", f"ppid={run.pid}"])
        self.assertEqual(lines[1][2:], [str(pid), str(pid), "true", f"filename={TRUE}",
                                        f"ppid={run.pid}", f"old_tid={exec_tid}"])
        # the end of the run: a latency line per kind, then the counts
        tail = run.out.lines[-3:]
        pattern = r"^# latency {} lines={} p50=[0-9.]+us p99=[0-9.]+us max=[0-9.]+us$"
        self.assertRegex(tail[0], pattern.format("bootstrap", 2))
        self.assertRegex(tail[1], pattern.format("exit", 1))
        self.assertEqual(tail[2], "# 3 records, 0 lost")

    def test_text_exec_names_exec_thread(self):
        """Without bootstrap, the text exec line names the exec'ing thread too."""
        run = self.trace(["-t", "sigint", "--format", "text"], [tool("st-forker"), "-x"])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        exec_tid = int(run.fact_values("exec-tid")[0])
        execs = [line.split()[2:] for line in run.out.lines
                 if re.match(r"# \d\d:\d\d:\d\d\.\d{6} exec ", line)]
        self.assertEqual(execs, [["exec", str(pid), tool("st-forker")],
                                 ["exec", str(pid), TRUE, f"old_tid={exec_tid}"]],
                         run.describe())

    def test_exec_from_thread_keeps_once_bits(self):
        """A thread's exec keeps the process's once bits: a second listen is no first."""
        listen = ("import socket\n"
                  "s = socket.socket()\n"
                  "s.bind(('127.0.0.1', 0))\n"
                  "s.listen(4)\n")
        script = (listen +
                  "import os, threading\n"
                  "os.write(1, b'pid %d\\n' % os.getpid())\n"
                  "def run():\n"
                  "    os.write(1, b'exec-tid %d\\n' % threading.get_native_id())\n"
                  f"    os.execv('/usr/bin/python3', ['python3', '-c', {listen!r}])\n"
                  "threading.Thread(target=run).start()\n"
                  "threading.Event().wait()\n")
        run = self.trace(["-t", "bootstrap,first-listen"], ["/usr/bin/python3", "-c", script])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        exec_tid = int(run.fact_values("exec-tid")[0])
        self.assertNotEqual(exec_tid, pid)
        boots = run.triggers("bootstrap")
        self.assertEqual([(l["pid"], l["tid"], l["detail"]["old_tid"]) for l in boots],
                         [(pid, pid, pid), (pid, pid, exec_tid)], run.describe())
        listens = run.triggers("first-listen")
        self.assertEqual(len(listens), 1, run.describe())
        self.assertEqual(listens[0]["pid"], pid)
        self.assertEqual(listens[0]["detail"]["backlog"], 4)
        self.assertLess(listens[0]["seq"], boots[1]["seq"])
        self.assertExited(run, pid, 0, comm="python3")
        self.assertEqual(len(run.of_type("exit")), 1, run.describe())

    # Forks a child that execs /bin/true and prints each wait status of it
    # that waitpid(2) with WUNTRACED returns, as an interactive shell gets them.
    WAIT_UNTRACED = ("import os, sys\n"
                     "if sys.argv[1] == 'tty':\n"
                     "    os.setsid()\n"
                     "    leader, follower = os.openpty()\n"
                     "    os.close(os.open(os.ttyname(follower), os.O_RDWR))\n"
                     "child = os.fork()\n"
                     "if child == 0:\n"
                     "    os.execv('/bin/true', ['true'])\n"
                     "while True:\n"
                     "    _, status = os.waitpid(child, os.WUNTRACED)\n"
                     "    if os.WIFSTOPPED(status):\n"
                     "        os.write(1, b'wait stopped\\n')\n"
                     "        continue\n"
                     "    os.write(1, b'wait exited %d\\n' % os.WEXITSTATUS(status))\n"
                     "    break\n")

    def resumed_at_exec(self, run):
        """Return the pids that the -vv log names as resumed after an exec stop."""
        return [int(line.split()[3].rstrip(":")) for line in run.err.lines
                if line.startswith("snaptrig: resuming process ")
                and line.endswith(": the hooks of its new image are attached")]

    def test_exec_stops_until_probed(self):
        """A new image without a terminal waits at its exec until its probes are attached."""
        run = self.trace(["-vv", "-t", "explicit"],
                         ["/usr/bin/python3", "-c", self.WAIT_UNTRACED, "none"],
                         stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        child = [r["pid"] for r in run.of_type("exec") if r["comm"] == "true"]
        self.assertEqual(len(child), 1, run.describe())
        self.assertEqual(self.resumed_at_exec(run), child, run.describe())
        # the parent may or may not wait while the child is stopped
        self.assertIn(run.fact_values("wait"), (["stopped", "exited 0"], ["exited 0"]),
                      run.describe())

    def test_exec_with_terminal_not_stopped(self):
        """A process with a controlling terminal runs on at its exec, so job control is unaffected."""
        run = self.trace(["-vv", "-t", "explicit,sigstop"],
                         ["/usr/bin/python3", "-c", self.WAIT_UNTRACED, "tty"],
                         stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len([r for r in run.of_type("exec") if r["comm"] == "true"]), 1,
                         run.describe())
        self.assertEqual(self.resumed_at_exec(run), [], run.describe())
        self.assertEqual(run.fact_values("wait"), ["exited 0"], run.describe())
        self.assertEqual(run.of_type("trigger"), [], run.describe())

    @unittest.skipUnless(os.access("/usr/bin/gdb", os.X_OK), "gdb is not installed")
    def test_exec_under_debugger_not_stopped(self):
        """A ptraced process runs on at its exec, so its debugger gets no SIGSTOP or SIGCONT."""
        run = self.trace(["-vv", "-t", "explicit"],
                         ["/usr/bin/gdb", "-q", "-batch", "-ex", "run", "--args", TRUE],
                         stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        inferior = [r["pid"] for r in run.of_type("exec") if r["comm"] == "true"]
        self.assertEqual(len(inferior), 1, run.describe())
        # gdb's own helpers, such as iconv, are no debuggee and may stop
        self.assertNotIn(inferior[0], self.resumed_at_exec(run), run.describe())
        self.assertTrue(any("exited normally" in line for line in run.out.lines),
                        run.describe())

    def test_no_follow(self):
        run, shell = self.run_script(["-t", "bootstrap", "--no-follow"])
        self.assertIs(run.records[0]["follow"], False)
        lines = run.triggers("bootstrap")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["pid"], shell)
        self.assertEqual(lines[0]["detail"]["filename"], SHELL)
        self.assertEqual(self.children(run, shell), [], run.describe())
        self.assertExited(run, shell, 3, comm="sh")

    def test_follow_is_default(self):
        run, shell = self.run_script(["-t", "bootstrap"])
        self.assertIs(run.records[0]["follow"], True)
        # the start line is dated before the exec of COMMAND that follows it
        self.assertLess(run.records[0]["boot_ns"], run.triggers("bootstrap")[0]["boot_ns"])
        self.assertEqual(len(self.children(run, shell)), 2)

    def test_child_calls_before_exec(self):
        run = self.trace(["-t", "bootstrap,non-deterministic-call",
                          "--cooldown", "2s"],
                         [tool("st-forker"), "-n", "2", "-a", "getrandom", "-e"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        parent = int(run.fact_values("pid")[0])
        children = [int(c) for c in run.fact_values("child")]
        self.assertEqual(len(children), 2, run.describe())
        for child in children:
            boots = run.triggers("bootstrap", pid=child)
            self.assertEqual(len(boots), 1, run.describe())
            self.assertEqual(boots[0]["detail"],
                             {"filename": TRUE, "ppid": parent, "old_tid": child})
            calls = run.triggers("non-deterministic-call", pid=child)
            self.assertGreaterEqual(len(calls), 1, run.describe())
            self.assertEqual(calls[0]["comm"], "st-forker")
            self.assertEqual(calls[0]["detail"]["call"], "getrandom")
            self.assertEqual(calls[0]["detail"]["count"], 1)
            self.assertLess(calls[0]["seq"], boots[0]["seq"])
            self.assertExited(run, child, 0, comm="true")
        self.assertExited(run, parent, 0, comm="st-forker")


if __name__ == "__main__":
    unittest.main()
