"""The idle trigger: every thread of a process blocked for the idle threshold.

The programs come from tools/st-idle.c. A short threshold keeps the tests
fast; margins cover the agent waking up on a busy two-core machine.
"""

import os
import signal
import socket
import subprocess
import time
import unittest

from harness import SNAPTRIG, TIMEOUT, SnaptrigTestCase, tool, wait_state

GCORE = "/usr/bin/gcore"
THRESHOLD = "200ms"
THRESHOLD_NS = 200_000_000
# How late after the threshold an idle line may be written. The kernel's
# timer fires on time; this covers a loaded machine.
LATE_NS = 100_000_000
# How long a test watches for lines that must not come: three thresholds.
WATCH_S = 3 * THRESHOLD_NS / 1e9 + 0.1
# Processes in the tests of many at once, and how long all their idle lines
# may take: the kernel can fail to allocate some idle timers, and the agent
# arms those again every 100 ms.
MANY = 300
MANY_WAIT_S = 10


class IdleTest(SnaptrigTestCase):

    def launch(self, *args):
        run = self.trace(["-t", "idle", "--idle-threshold", THRESHOLD],
                         [tool("st-idle")] + list(args))
        start = run.wait_start()
        self.assertEqual(start["triggers"], ["idle"])
        self.assertEqual(start["idle_threshold_ns"], THRESHOLD_NS)
        return run, int(run.wait_fact("pid"))

    def assertIdleLine(self, run, line, pid, threads):
        """Check one idle line of pid: fields, and written on time."""
        self.assertEqual(line["pid"], pid, run.describe())
        self.assertEqual(line["comm"], "st-idle")
        self.assertEqual(set(line["detail"]), {"threads", "idle_ns"}, run.describe())
        self.assertEqual(line["detail"]["threads"], threads, run.describe())
        idle_ns = line["detail"]["idle_ns"]
        self.assertGreaterEqual(idle_ns, THRESHOLD_NS, run.describe())
        self.assertLess(idle_ns, THRESHOLD_NS + LATE_NS, run.describe())

    def finish(self, run, pid):
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertExited(run, pid, 0, comm="st-idle")

    def test_accept_server_twice(self):
        run, pid = self.launch("accept")
        port = int(run.wait_fact("port"))
        first = run.wait_trigger("idle", pid)
        self.assertIdleLine(run, first, pid, 1)
        self.assertEqual(first["tid"], pid)

        # still blocked in accept: no second line without running first
        time.sleep(WATCH_S)
        self.assertEqual(len(run.triggers("idle")), 1, run.describe())

        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        run.wait_fact("accepted")
        run.wait_record(lambda r: len(run.triggers("idle")) == 2, "a second idle line")
        second = run.triggers("idle")[1]
        self.assertIdleLine(run, second, pid, 1)
        # the second idle period began after the connection woke the server
        self.assertGreater(second["boot_ns"] - second["detail"]["idle_ns"],
                           first["boot_ns"], run.describe())

        self.finish(run, pid)
        self.assertEqual(len(run.triggers("idle")), 2, run.describe())

    def test_busy_loop_never_idle(self):
        run, pid = self.launch("busy")
        run.wait_fact("ready")
        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertEqual(run.triggers("idle"), [], run.describe())

    def test_one_busy_thread_never_idle(self):
        run, pid = self.launch("threads", "3", "busy")
        run.wait_fact("ready")
        self.assertEqual(len(run.fact_values("tid")), 3)
        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertEqual(run.triggers("idle"), [], run.describe())

    def test_all_threads_blocked_once(self):
        run, pid = self.launch("threads", "3", "blocked")
        run.wait_fact("ready")
        tids = {int(t) for t in run.fact_values("tid")}
        line = run.wait_trigger("idle", pid)
        self.assertIdleLine(run, line, pid, 4)
        self.assertIn(line["tid"], tids | {pid})

        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertEqual(len(run.triggers("idle")), 1, run.describe())

    def held_snapshot_run(self, *args):
        """Trace a blocked st-idle with --freeze and the true checkpointer."""
        run = self.trace(["-t", "idle", "--idle-threshold", THRESHOLD, "--freeze",
                          "--exec", "/bin/true", "--cooldown", "0s"] + list(args),
                         [tool("st-idle"), "sleep"])
        pid = int(run.wait_fact("pid"))
        run.wait_fact("ready")
        return run, pid

    def test_idle_snapshot_no_idle_again(self):
        """The hold of an idle snapshot wakes the threads, which is no new idle period."""
        run, pid = self.held_snapshot_run()
        run.wait_trigger("idle", pid)
        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertEqual(len(run.triggers("idle")), 1, run.describe())
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())

    def test_periodic_snapshot_no_idle_again(self):
        """Neither is the hold of a periodic snapshot of an idle process."""
        run, pid = self.held_snapshot_run("-t", "periodic-interval", "--snapshot-interval",
                                          "400ms", "--snapshot-on", "periodic-interval")
        run.wait_trigger("idle", pid)
        deadline = time.monotonic() + 10
        while len(run.triggers("periodic-interval")) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertGreaterEqual(len(run.triggers("periodic-interval")), 4, run.describe())
        self.assertEqual([s["status"] for s in run.of_type("snapshot")][:4], ["ok"] * 4,
                         run.describe())
        self.assertEqual(len(run.triggers("idle")), 1, run.describe())

    @unittest.skipUnless(os.access(GCORE, os.X_OK), "gcore (Debian package gdb) is not installed")
    def test_gcore_without_hold_no_idle_again(self):
        """gcore's attach wakes every thread of an idle process, which is no new idle period."""
        run = self.trace(["-t", "idle", "--idle-threshold", THRESHOLD, "--cooldown", "0s",
                          "--snapshot-timeout", "30s",
                          "--exec", f"{GCORE} -o {self.tmp}/core {{pid}}"],
                         [tool("st-idle"), "threads", "3", "blocked"])
        pid = int(run.wait_fact("pid"))
        run.wait_fact("ready")
        run.wait_trigger("idle", pid)
        snap = run.wait_record(lambda r: r["type"] == "snapshot", "the snapshot line", 30)
        # a new idle period after the dump would have its line within this
        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertEqual(snap["status"], "ok", run.describe())
        self.assertEqual(snap["held"], False, run.describe())
        self.assertEqual(len(run.triggers("idle")), 1, run.describe())
        self.assertEqual(len(run.of_type("snapshot")), 1, run.describe())
        self.assertEqual(os.listdir(self.tmp), [f"core.{pid}"])

    def test_run_before_hold_idle_again(self):
        """A process that ran after its idle line and before a hold is idle again after it."""
        control = f"{self.tmp}/control.sock"
        run, pid = self.held_snapshot_run("-t", "explicit", "--snapshot-on", "explicit",
                                          "--control", control)
        run.wait_trigger("idle", pid)
        # the read wakes the process; the hold comes before the threshold ends
        run.write_stdin(b"x\n")
        request = subprocess.run([str(SNAPTRIG), "--control", control, "--request-snapshot",
                                  str(pid)], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(request.returncode, 0, request.stderr)
        self.assertTrue(run.out.wait(lambda _: len(run.triggers("idle", pid)) == 2, TIMEOUT),
                        "no idle line after the hold" + run.describe())
        # a second hold of the idle process makes no third idle line
        request = subprocess.run([str(SNAPTRIG), "--control", control, "--request-snapshot",
                                  str(pid)], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(request.returncode, 0, request.stderr)
        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertEqual(len(run.triggers("idle", pid)), 2, run.describe())
        snaps = run.of_type("snapshot")
        self.assertEqual([(s["status"], s["hold"]) for s in snaps], [("ok", "agent")] * 2,
                         run.describe())

    def test_threads_exit_runnable(self):
        # threads that exit while runnable must give back their count
        run, pid = self.launch("thread-exit", "4")
        run.wait_fact("joined")
        line = run.wait_trigger("idle", pid)
        self.assertIdleLine(run, line, pid, 1)
        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertEqual(len(run.triggers("idle")), 1, run.describe())

    def test_churn_then_blocked_once(self):
        # thousands of blocks, wakeups, migrations and short-lived threads:
        # a count that drifted either way would make the line early or never
        run, pid = self.launch("churn", "6", "1000")
        run.wait_fact("settled")
        line = run.wait_trigger("idle", pid)
        self.assertIdleLine(run, line, pid, 7)
        lines = run.out.lines
        idle_at = next(i for i, text in enumerate(lines) if '"trigger":"idle"' in text)
        self.assertGreater(idle_at, lines.index("settled"),
                           "idle line before the threads settled" + run.describe())
        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertEqual(len(run.triggers("idle")), 1, run.describe())

    def test_forked_child(self):
        run, pid = self.launch("fork")
        child = int(run.wait_fact("child"))
        run.wait_fact("ready")
        self.assertIdleLine(run, run.wait_trigger("idle", child), child, 1)
        self.assertIdleLine(run, run.wait_trigger("idle", pid), pid, 1)
        time.sleep(WATCH_S)
        self.finish(run, pid)
        self.assertExited(run, child, 0, comm="st-idle")
        self.assertEqual(len(run.triggers("idle", pid=child)), 1, run.describe())
        self.assertEqual(len(run.triggers("idle", pid=pid)), 1, run.describe())

    def test_exec_from_thread(self):
        # the exec'ing thread takes over the pid; its state must follow it
        run, pid = self.launch("exec-thread")
        run.wait_fact("ready")
        line = run.wait_trigger("idle", pid)
        self.assertIdleLine(run, line, pid, 1)
        self.assertEqual(line["tid"], pid)
        exec_lines = run.of_type("exec")
        self.assertEqual(len(exec_lines), 2, run.describe())
        self.assertNotEqual(exec_lines[1]["old_tid"], pid)
        self.assertGreater(line["boot_ns"], exec_lines[1]["boot_ns"])
        self.finish(run, pid)

    def test_leader_exited_threads(self):
        """The idle line of a process whose main thread exited counts its live thread only."""
        run = self.trace(["-t", "idle", "--idle-threshold", THRESHOLD], [tool("st-leader-exit")])
        pid = int(run.wait_fact("pid"))
        tid = int(run.wait_fact("tid"))
        self.assertEqual(wait_state(pid, {"Z"}), "Z")
        line = run.wait_trigger("idle", pid)
        # the thread whose block or exit began the period: either one
        self.assertIn(line["tid"], (pid, tid), run.describe())
        self.assertEqual(line["detail"]["threads"], 1, run.describe())
        run.write_stdin(b"go\n")
        self.assertEqual(run.wait_exit(), 7, run.describe())
        self.assertExited(run, pid, 7, comm="st-leader-exit")

    def test_attach_sleeping_process(self):
        target = self.spawn([tool("st-idle"), "sleep"])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        self.assertEqual(wait_state(pid, {"S"}), "S")
        run = self.trace(["-p", str(pid), "-t", "idle", "--idle-threshold", THRESHOLD],
                         stdin=subprocess.DEVNULL)
        start = run.wait_start()

        line = run.wait_trigger("idle", pid)
        self.assertIdleLine(run, line, pid, 1)
        # blocked before the attach, so idle counts from the attach
        since = line["boot_ns"] - line["detail"]["idle_ns"]
        self.assertLessEqual(since, start["boot_ns"], run.describe())
        self.assertLess(line["boot_ns"] - start["boot_ns"], THRESHOLD_NS + LATE_NS,
                        run.describe())

        time.sleep(WATCH_S)
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("idle")), 1, run.describe())
        self.assertEqual(run.exits(), [], "a detached target did not exit")
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0)

    def test_attach_many_sleeping_processes(self):
        """Each of hundreds of attached sleeping processes gets one idle line."""
        sleepers = [subprocess.Popen(["/bin/sleep", "60"]) for _ in range(MANY)]
        for sleeper in sleepers:
            self.addCleanup(sleeper.wait)
            self.addCleanup(sleeper.kill)
        pids = [sleeper.pid for sleeper in sleepers]
        for pid in pids:
            self.assertEqual(wait_state(pid, {"S"}), "S")
        run = self.trace(["-p", ",".join(map(str, pids)), "-t", "idle",
                          "--idle-threshold", THRESHOLD], stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_start()["targets"], pids)
        # a timer the kernel could not allocate is armed again 100 ms later
        deadline = time.monotonic() + MANY_WAIT_S
        while {l["pid"] for l in run.triggers("idle")} != set(pids):
            self.assertLess(time.monotonic(), deadline, run.describe())
            time.sleep(0.1)
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(sorted(l["pid"] for l in run.triggers("idle")), sorted(pids),
                         run.describe())

    def test_many_sleeping_children(self):
        """Each of hundreds of children forked while traced gets one idle line."""
        script = f"i=0; while [ $i -lt {MANY} ]; do /bin/sleep 3 & i=$((i + 1)); done; wait"
        run = self.trace(["-t", "idle", "--idle-threshold", THRESHOLD], ["/bin/sh", "-c", script])
        self.assertEqual(run.wait_exit(timeout=TIMEOUT + MANY_WAIT_S), 0, run.describe())
        exited = sorted(l["pid"] for l in run.of_type("exit"))
        self.assertEqual(len(exited), MANY + 1, run.describe())
        self.assertEqual(sorted(l["pid"] for l in run.triggers("idle")), exited, run.describe())

    def test_attach_busy_thread_never_idle(self):
        # the spinning thread is seeded runnable from its /proc state
        target = self.spawn([tool("st-idle"), "threads", "2", "busy"])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        run = self.trace(["-p", str(pid), "-t", "idle", "--idle-threshold", THRESHOLD],
                         stdin=subprocess.DEVNULL)
        run.wait_start()
        time.sleep(WATCH_S)
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(run.triggers("idle"), [], run.describe())
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0)

    def test_attach_threads_blocked_once(self):
        target = self.spawn([tool("st-idle"), "threads", "3", "blocked"])
        pid = int(target.wait_fact("pid"))
        target.wait_fact("ready")
        run = self.trace(["-p", str(pid), "-t", "idle", "--idle-threshold", THRESHOLD],
                         stdin=subprocess.DEVNULL)
        start = run.wait_start()
        line = run.wait_trigger("idle", pid)
        self.assertIdleLine(run, line, pid, 4)
        self.assertLess(line["boot_ns"] - start["boot_ns"], THRESHOLD_NS + LATE_NS,
                        run.describe())
        time.sleep(WATCH_S)
        run.interrupt(signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("idle")), 1, run.describe())
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0)

    def test_not_selected(self):
        run = self.trace(["-t", "first-listen"], [tool("st-idle"), "sleep"])
        pid = int(run.wait_fact("pid"))
        run.wait_fact("ready")
        time.sleep(1.2)  # the default threshold is 1 s
        self.finish(run, pid)
        self.assertEqual(run.triggers("idle"), [], run.describe())


if __name__ == "__main__":
    unittest.main()
