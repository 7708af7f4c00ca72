"""Signal triggers: first-sigint, sigint, sigalrm, sigtstp, sigstop."""

import ctypes
import os
import re
import signal
import struct
import threading
import time
import unittest

from harness import TIMEOUT, SnaptrigTestCase, process_state, tool, wait_state

SIGNAL_TRIGGERS = "first-sigint,sigint,sigalrm,sigtstp,sigstop"
SI_USER = 0
SI_QUEUE = -1
SI_TKILL = -6
SI_KERNEL = 0x80
SYS_RT_SIGQUEUEINFO = 129  # x86_64


def own_comm():
    with open("/proc/self/comm", encoding="utf-8") as f:
        return f.read().rstrip("\n")


def python_sender():
    """The sender fields of a signal this test process sends with os.kill."""
    return {"pid": os.getpid(), "tid": threading.get_native_id(),
            "comm": own_comm()}


def rt_sigqueueinfo(pid, sig, code):
    """Send sig to pid by rt_sigqueueinfo(2) with si_code code, and return the call's result."""
    libc = ctypes.CDLL(None, use_errno=True)
    # si_signo, si_errno, si_code, padding, then si_pid and si_uid (x86_64)
    info = struct.pack("iiiiii", sig, 0, code, 0, os.getpid(), os.getuid()).ljust(128, b"\0")
    return libc.syscall(SYS_RT_SIGQUEUEINFO, pid, int(sig), info)


class SignalsTest(SnaptrigTestCase):

    def start_signals(self, tool_args=(), triggers=SIGNAL_TRIGGERS):
        """Trace st-signals; return the run, its pid and its three tids."""
        run = self.trace(["-t", triggers], [tool("st-signals")] + list(tool_args))
        pid = int(run.wait_fact("pid"))
        run.wait_fact("ready")
        tids = [int(run.wait_fact("tid", index=i)) for i in range(3)]
        self.assertEqual(tids[0], pid)
        run.wait_start()
        return run, pid, tids

    def send(self, run, pid, sig, handled_before):
        """Send sig to pid and wait until the tool has handled it."""
        os.kill(pid, sig)
        return run.wait_fact("got", index=handled_before)

    def stop_tool(self, run, pid):
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertExited(run, pid, 0, comm="st-signals")

    def assertSignalLine(self, line, pid, tid, sig, code, thread, result, sender):
        """Assert a signal line, with sender None for a line without one."""
        self.assertEqual(line["pid"], pid)
        self.assertEqual(line["tid"], tid)
        self.assertEqual(line["comm"], "st-signals")
        detail = {"signal": int(sig), "name": sig.name, "code": code,
                  "thread": thread, "result": result}
        if sender is not None:
            detail["sender"] = sender
        self.assertEqual(line["detail"], detail)

    def test_sigint_twice(self):
        run, pid, _ = self.start_signals()
        got = self.send(run, pid, signal.SIGINT, 0)
        self.assertEqual(got["tid"], str(pid))
        run.wait_trigger("sigint", pid)
        self.send(run, pid, signal.SIGINT, 1)
        self.stop_tool(run, pid)

        sender = python_sender()
        firsts = run.triggers("first-sigint")
        self.assertEqual(len(firsts), 1, run.describe())
        self.assertSignalLine(firsts[0], pid, pid, signal.SIGINT, SI_USER,
                              False, "delivered", sender)
        lines = run.triggers("sigint")
        self.assertEqual(len(lines), 2, run.describe())
        for line in lines:
            self.assertSignalLine(line, pid, pid, signal.SIGINT, SI_USER,
                                  False, "delivered", sender)
        self.assertEqual(run.triggers("sigalrm"), [])
        self.assertEqual(run.triggers("sigtstp"), [])

    def test_tgkill_one_thread(self):
        run, pid, tids = self.start_signals()
        killer = self.spawn([tool("st-tgkill"), str(pid), str(tids[2]), "SIGALRM"])
        self.assertEqual(killer.wait_exit(), 0, killer.describe())
        self.assertEqual(killer.fact_values("pid"), [str(killer.pid)])
        got = run.wait_fact("got")
        self.assertEqual(got, {"signal": "SIGALRM", "tid": str(tids[2]), "count": "1"})
        run.wait_trigger("sigalrm", pid)
        self.stop_tool(run, pid)

        lines = run.triggers("sigalrm")
        self.assertEqual(len(lines), 1, run.describe())
        sender = {"pid": killer.pid, "tid": killer.pid, "comm": "st-tgkill"}
        self.assertSignalLine(lines[0], pid, tids[2], signal.SIGALRM, SI_TKILL,
                              True, "delivered", sender)

    def test_tgkill_sigint_second_thread(self):
        run, pid, tids = self.start_signals()
        killer = self.spawn([tool("st-tgkill"), str(pid), str(tids[1]), "INT"])
        self.assertEqual(killer.wait_exit(), 0, killer.describe())
        run.wait_fact("got")
        run.wait_trigger("sigint", pid)
        self.stop_tool(run, pid)
        sender = {"pid": killer.pid, "tid": killer.pid, "comm": "st-tgkill"}
        for name in ("first-sigint", "sigint"):
            lines = run.triggers(name)
            self.assertEqual(len(lines), 1, name + run.describe())
            self.assertSignalLine(lines[0], pid, tids[1], signal.SIGINT,
                                  SI_TKILL, True, "delivered", sender)

    def test_sigqueue_sender(self):
        run, pid, _ = self.start_signals()
        queuer = self.spawn([tool("st-tgkill"), "-q", str(pid), "SIGALRM"])
        self.assertEqual(queuer.wait_exit(), 0, queuer.describe())
        run.wait_fact("got")
        run.wait_trigger("sigalrm", pid)
        self.stop_tool(run, pid)
        lines = run.triggers("sigalrm")
        self.assertEqual(len(lines), 1, run.describe())
        sender = {"pid": queuer.pid, "tid": queuer.pid, "comm": "st-tgkill"}
        self.assertSignalLine(lines[0], pid, pid, signal.SIGALRM, SI_QUEUE,
                              False, "delivered", sender)

    def test_sigqueueinfo_codes_sender(self):
        """rt_sigqueueinfo(2) with each code: a sender unless the kernel uses it too."""
        codes = {-1: True, -3: True, -42: True, -60: True,    # SI_QUEUE, SI_MESGQ, a free code, SI_ASYNCNL
                 -2: False, -4: False, -5: False, -7: False}  # SI_TIMER to SI_DETHREAD
        run, pid, _ = self.start_signals()
        for i, code in enumerate(codes):
            self.assertEqual(rt_sigqueueinfo(pid, signal.SIGALRM, code), 0, f"code {code}")
            run.wait_fact("got", index=i)
            run.wait_record(lambda r, n=i + 1: len(run.triggers("sigalrm")) == n,
                            f"the sigalrm line of code {code}")
        self.stop_tool(run, pid)
        lines = run.triggers("sigalrm")
        self.assertEqual([l["detail"]["code"] for l in lines], list(codes), run.describe())
        for line, (code, has_sender) in zip(lines, codes.items()):
            self.assertSignalLine(line, pid, pid, signal.SIGALRM, code, False, "delivered",
                                  python_sender() if has_sender else None)

    def test_kernel_timer_no_sender(self):
        run, pid, _ = self.start_signals(["-A", "100", "-n", "1"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertExited(run, pid, 0, comm="st-signals")
        lines = run.triggers("sigalrm")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["pid"], pid)
        self.assertEqual(lines[0]["tid"], pid)
        self.assertEqual(lines[0]["detail"], {
            "signal": int(signal.SIGALRM), "name": "SIGALRM", "code": SI_KERNEL,
            "thread": False, "result": "delivered"})

    def test_sigtstp_handled(self):
        run, pid, _ = self.start_signals()
        self.send(run, pid, signal.SIGTSTP, 0)
        run.wait_trigger("sigtstp", pid)
        self.assertNotEqual(process_state(pid), "T")
        self.stop_tool(run, pid)
        lines = run.triggers("sigtstp")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertSignalLine(lines[0], pid, pid, signal.SIGTSTP, SI_USER,
                              False, "delivered", python_sender())

    def test_sigstop_then_sigcont(self):
        run, pid, _ = self.start_signals()
        self.resume_later(pid)
        os.kill(pid, signal.SIGSTOP)
        self.assertEqual(wait_state(pid, {"T"}), "T")
        run.wait_trigger("sigstop", pid)
        os.kill(pid, signal.SIGCONT)
        self.assertIn(wait_state(pid, {"S", "R"}), {"S", "R"})
        self.stop_tool(run, pid)
        lines = run.triggers("sigstop")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertSignalLine(lines[0], pid, pid, signal.SIGSTOP, SI_USER,
                              False, "delivered", python_sender())
        self.assertEqual(run.fact_values("got"), [], "SIGSTOP has no handler")

    def test_blocked_sigalrm_pending(self):
        run, pid, _ = self.start_signals(["-b"])
        os.kill(pid, signal.SIGALRM)
        run.wait_trigger("sigalrm", pid)
        os.kill(pid, signal.SIGALRM)
        run.wait_record(lambda r: len(run.triggers("sigalrm")) == 2,
                        "the second sigalrm line")
        os.kill(pid, signal.SIGUSR1)
        got = run.wait_fact("got")
        self.assertEqual(got, {"signal": "SIGALRM", "tid": str(pid), "count": "1"})
        self.stop_tool(run, pid)
        self.assertEqual(len(run.fact_values("got")), 1,
                         "a pending SIGALRM is delivered once")
        lines = run.triggers("sigalrm")
        self.assertEqual([l["detail"]["result"] for l in lines],
                         ["delivered", "pending"], run.describe())

    def test_text_line_result_and_sender(self):
        """The text signal line has result= and the sender's tid, as the JSON line has."""
        run = self.trace(["-t", "sigalrm", "--format", "text"], [tool("st-signals"), "-b"])
        pid = int(run.wait_fact("pid"))
        run.wait_fact("ready")

        def sigalrm_lines():
            return [line.split() for line in run.out.lines
                    if line[16:].split()[:1] == ["sigalrm"]]

        os.kill(pid, signal.SIGALRM)
        self.assertIsNotNone(run.out.wait(lambda _: len(sigalrm_lines()) == 1, TIMEOUT),
                             run.describe())
        os.kill(pid, signal.SIGALRM)
        self.assertIsNotNone(run.out.wait(lambda _: len(sigalrm_lines()) == 2, TIMEOUT),
                             run.describe())
        os.kill(pid, signal.SIGUSR1)
        run.wait_fact("got")
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        sender = python_sender()
        lines = sigalrm_lines()
        self.assertEqual(len(lines), 2, run.describe())
        for line, result in zip(lines, ("delivered", "pending")):
            with self.subTest(result=result):
                self.assertEqual(line[1:5], ["sigalrm", str(pid), str(pid), "st-signals"])
                self.assertEqual(line[5:], ["signal=SIGALRM", f"code={SI_USER}", "thread=no",
                                            f"result={result}", f"sender={sender['pid']}",
                                            f"sender_tid={sender['tid']}",
                                            f"sender_comm={sender['comm']}"])

    def test_ignored_signal_no_line(self):
        run, pid, _ = self.start_signals(["-I", str(int(signal.SIGALRM))])
        os.kill(pid, signal.SIGALRM)
        # SIGINT is handled, so its line shows the agent has seen both.
        self.send(run, pid, signal.SIGINT, 0)
        run.wait_trigger("sigint", pid)
        self.stop_tool(run, pid)
        self.assertEqual(run.triggers("sigalrm"), [], run.describe())
        self.assertEqual(len(run.triggers("sigint")), 1)

    def test_ignored_signal_under_ptrace_no_line(self):
        """An ignored signal of a ptraced process reaches its tracer as
        delivered, and is discarded all the same, so it makes no line."""
        run = self.trace(["-t", SIGNAL_TRIGGERS],
                         ["strace", "-f", "-qq", "-o", "/dev/null", tool("st-signals"),
                          "-I", str(int(signal.SIGALRM))])
        pid = int(run.wait_fact("pid"))
        run.wait_fact("ready")
        run.wait_start()
        os.kill(pid, signal.SIGALRM)
        # SIGINT is handled, so its line shows the agent has seen both.
        self.send(run, pid, signal.SIGINT, 0)
        run.wait_trigger("sigint", pid)
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(run.triggers("sigalrm"), [], run.describe())
        self.assertEqual([l["pid"] for l in run.triggers("sigint")], [pid], run.describe())

    def test_count_then_exit_untraced_silent(self):
        run, pid, _ = self.start_signals(["-n", "3"])
        untraced = self.spawn([tool("st-signals"), "-n", "3"])
        untraced.wait_fact("ready")
        for i, sig in enumerate((signal.SIGINT, signal.SIGALRM, signal.SIGTSTP)):
            os.kill(untraced.pid, sig)
            untraced.wait_fact("got", index=i)
            self.send(run, pid, sig, i)
        self.assertEqual(untraced.wait_exit(), 0)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertExited(run, pid, 0, comm="st-signals")
        for name in ("first-sigint", "sigint", "sigalrm", "sigtstp"):
            self.assertEqual(len(run.triggers(name, pid=pid)), 1,
                             name + run.describe())
        self.assertEqual(run.triggers("sigstop"), [])
        self.assertNoLines(run, untraced.pid)

    def test_unselected_signals_no_line(self):
        run, pid, _ = self.start_signals(triggers="sigalrm")
        self.send(run, pid, signal.SIGINT, 0)
        self.send(run, pid, signal.SIGTSTP, 1)
        self.send(run, pid, signal.SIGALRM, 2)
        run.wait_trigger("sigalrm", pid)
        self.stop_tool(run, pid)
        self.assertEqual([l["trigger"] for l in run.triggers()], ["sigalrm"])

    def test_stats_latency_of_delayed_lines(self):
        run, pid, _ = self.start_signals(triggers="sigalrm")
        self.send(run, pid, signal.SIGALRM, 0)
        run.wait_trigger("sigalrm", pid)
        # with the agent stopped, the next two records wait in the ring buffer
        self.resume_later(run.pid)
        os.kill(run.pid, signal.SIGSTOP)
        self.assertEqual(wait_state(run.pid, {"T"}), "T")
        self.send(run, pid, signal.SIGALRM, 1)
        self.send(run, pid, signal.SIGALRM, 2)
        stopped = 0.3
        time.sleep(stopped)
        os.kill(run.pid, signal.SIGCONT)
        self.stop_tool(run, pid)
        lines = run.triggers("sigalrm")
        self.assertEqual(len(lines), 3, run.describe())
        stats = run.records[-1]
        latency = stats["latency"]
        self.assertEqual(sorted(latency), ["exec", "exit", "sigalrm"], run.describe())
        self.assertEqual(latency["exec"]["lines"], len(run.of_type("exec")))
        self.assertEqual(latency["exit"]["lines"], 1)
        self.assertEqual(latency["sigalrm"]["lines"], 3)
        # the second and third lines waited at least as long as the agent was stopped
        self.assertGreaterEqual(latency["sigalrm"]["p50_ns"], stopped * 1e9, latency)
        self.assertLessEqual(latency["sigalrm"]["max_ns"], stats["boot_ns"] - lines[1]["boot_ns"])
        self.assertLess(latency["sigalrm"]["max_ns"], 10e9, latency)

    def test_killed_by_signal_exit_line(self):
        run, pid, _ = self.start_signals()
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(run.wait_exit(), 128 + signal.SIGKILL, run.describe())
        exits = run.exits(pid)
        self.assertEqual(len(exits), 1, run.describe())
        self.assertEqual(exits[0]["status"], "killed")
        self.assertEqual(exits[0]["signal"], int(signal.SIGKILL))
        self.assertEqual(exits[0]["signal_name"], "SIGKILL")
        self.assertIs(exits[0]["core_dumped"], False)
        self.assertNotIn("exit_code", exits[0])


    def test_text_exit_line_core_dumped(self):
        """A text exit line has core_dumped=yes when the kernel wrote a core file."""
        with open("/proc/sys/kernel/core_pattern", encoding="utf-8") as f:
            if f.read().startswith("|"):
                self.skipTest("core_pattern pipes cores to a program, which may not write one")
        script = f"echo pid $$ && ulimit -c unlimited && cd {self.tmp} && kill -ABRT $$"
        run = self.trace(["-t", "sigint", "--format", "text"], ["/bin/sh", "-c", script])
        self.assertEqual(run.wait_exit(check=False), 128 + signal.SIGABRT, run.describe())
        pid = run.fact_values("pid")[0]
        exits = [line.split()[2:] for line in run.out.lines
                 if re.match(r"# \d\d:\d\d:\d\d\.\d{6} exit ", line)]
        self.assertEqual(exits, [["exit", pid, "sh", "killed", "by", "SIGABRT",
                                  "core_dumped=yes"]], run.describe())

if __name__ == "__main__":
    unittest.main()
