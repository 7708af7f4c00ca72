"""io_uring requests: triggers for which no system call tracepoint fires."""

import errno
import json
import os
import shlex
import socket
import subprocess
import time
import unittest
from pathlib import Path

from harness import PYTHON, TIMEOUT, SnaptrigTestCase, count_syscalls, tool

CHECKPOINTER = Path(__file__).resolve().parent / "checkpointer.py"

DATA = b"0123456789abcdefghijklmnopqrstuvwxyz\n"
URING_TRIGGERS = "first-listen,first-stdin,non-deterministic-call,transaction"
# st-uring registers a descriptor at this index of the ring's file table
FIXED_INDEX = 1
LISTEN_BACKLOG = 7
# A SIGSTOP that the SQ thread sent to itself let 19 of 44 SQPOLL first-listen
# runs exit before the snapshot (2-CPU KVM guest), so the test repeats the trigger.
SQPOLL_HOLD_RUNS = 40


def io_uring_disabled():
    """kernel.io_uring_disabled: 0 allowed, 1 root and io_uring_group only, 2 off."""
    try:
        with open("/proc/sys/kernel/io_uring_disabled", encoding="ascii") as f:
            return int(f.read())
    except FileNotFoundError:
        return 0


class UringTest(SnaptrigTestCase):

    def setUp(self):
        super().setUp()
        # The tests run as root, which value 1 still allows.
        if io_uring_disabled() == 2:
            self.skipTest("io_uring is disabled: kernel.io_uring_disabled is 2")

    def run_uring(self, uring_args, triggers="first-stdin", stdin=subprocess.PIPE,
                  data=None, agent_args=()):
        """Trace st-uring with uring_args until it exits; return run and pid."""
        run = self.trace(list(agent_args) + ["-t", triggers],
                         [tool("st-uring")] + uring_args, stdin=stdin)
        if data is not None:
            run.write_stdin(data)
            run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        # the last thread to exit may be an io_uring thread; the line names the process
        self.assertExited(run, pid, 0, comm="st-uring")
        return run, pid

    def assertOneTrigger(self, run, name, pid, detail, tid=None, comm="st-uring"):
        lines = run.triggers(name)
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["pid"], pid)
        self.assertEqual(lines[0]["tid"], pid if tid is None else tid)
        self.assertEqual(lines[0]["comm"], comm)
        self.assertEqual(lines[0]["detail"], detail)
        self.assertLess(lines[0]["seq"], run.exits(pid)[0]["seq"])
        return lines[0]

    def test_pipe_reads(self):
        for op in ("read", "readv", "read_fixed", "read_multishot"):
            with self.subTest(op=op):
                run, pid = self.run_uring(["-o", op, "read"], data=DATA)
                self.assertOneTrigger(run, "first-stdin", pid,
                                      {"fd": 0, "call": op, "via": "io_uring"})

    def test_socket_reads(self):
        for op in ("recv", "recvmsg"):
            with self.subTest(op=op):
                ours, theirs = socket.socketpair()
                with ours, theirs:
                    ours.sendall(DATA)
                    run, pid = self.run_uring(["-o", op, "-n", "1", "read"], stdin=theirs)
                self.assertOneTrigger(run, "first-stdin", pid,
                                      {"fd": 0, "call": op, "via": "io_uring"})

    def test_fixed_file_reads(self):
        """A registered stdin is found in the ring's file table; fd is its index."""
        for op in ("read", "read_multishot"):
            with self.subTest(op=op):
                run, pid = self.run_uring(["-F", "-o", op, "read"], data=DATA)
                self.assertEqual(run.fact_values("fixed"), [str(FIXED_INDEX)])
                self.assertOneTrigger(run, "first-stdin", pid,
                                      {"fd": FIXED_INDEX, "call": op, "via": "io_uring",
                                       "fixed": True})

    def test_splice_and_tee(self):
        for mode in ("splice", "tee"):
            for fixed in (False, True):
                with self.subTest(mode=mode, fixed=fixed):
                    args = (["-F"] if fixed else []) + [mode]
                    run, pid = self.run_uring(args, data=DATA)
                    detail = {"fd": 0, "call": mode, "via": "io_uring"}
                    if fixed:
                        detail.update(fd=FIXED_INDEX, fixed=True)
                    self.assertOneTrigger(run, "first-stdin", pid, detail)

    def test_pipe_reads_at_offset(self):
        """A read request at an explicit offset reads a pipe, which ignores the offset."""
        for op in ("read", "readv", "read_fixed"):
            with self.subTest(op=op):
                run, pid = self.run_uring(["-O", "0", "-o", op, "-n", "1", "read"], data=DATA)
                self.assertEqual(run.fact_values("read"), [{"op": op, "bytes": "8"}])
                self.assertOneTrigger(run, "first-stdin", pid,
                                      {"fd": 0, "call": op, "via": "io_uring"})

    def test_offset_below_minus_one_fails(self):
        """Reads at offset -5 fail with EINVAL before reading, on a pipe too,
        and so does a SPLICE from a file. READ_MULTISHOT ignores its offset."""
        for op in ("read", "readv", "read_fixed"):
            with self.subTest(op=op):
                run, pid = self.run_uring(["-k", "-O", "-5", "-n", "1", "-o", op, "read"],
                                          data=DATA)
                self.assertEqual(run.fact_values("failed"),
                                 [{"op": op, "errno": str(errno.EINVAL)}])
                self.assertEqual(run.triggers("first-stdin"), [], run.describe())
        path = os.path.join(self.tmp, "stdin.txt")
        with open(path, "wb") as f:
            f.write(DATA)
        with open(path, "rb") as stdin:
            run, pid = self.run_uring(["-k", "-O", "-5", "-n", "1", "splice"], stdin=stdin)
        self.assertEqual(run.fact_values("failed"),
                         [{"op": "splice", "errno": str(errno.EINVAL)}])
        self.assertEqual(run.triggers("first-stdin"), [], run.describe())
        run, pid = self.run_uring(["-O", "-5", "-o", "read_multishot", "read"], data=DATA)
        self.assertTrue(run.fact_values("read"), run.describe())
        self.assertOneTrigger(run, "first-stdin", pid,
                              {"fd": 0, "call": "read_multishot", "via": "io_uring"})

    def test_pipe_splice_at_offset_fails(self):
        """A SPLICE from a pipe at an offset fails with ESPIPE before reading."""
        for fixed in (False, True):
            with self.subTest(fixed=fixed):
                args = (["-F"] if fixed else []) + ["-k", "-O", "0", "-n", "1", "splice"]
                run, pid = self.run_uring(args, data=DATA)
                self.assertEqual(run.fact_values("failed"),
                                 [{"op": "splice", "errno": str(errno.ESPIPE)}])
                self.assertEqual(run.triggers("first-stdin"), [], run.describe())

    def test_splice_and_tee_need_a_pipe(self):
        """A SPLICE needs a pipe on one side and a TEE on both: from a regular
        file into a file the SPLICE fails with EINVAL, and from a pipe into a
        file the TEE does, before reading. A SPLICE from a pipe into a file reads."""
        out = os.path.join(self.tmp, "out")
        path = os.path.join(self.tmp, "stdin.txt")
        with open(path, "wb") as f:
            f.write(DATA)
        with open(path, "rb") as stdin:
            run, pid = self.run_uring(["-k", "-n", "1", "-W", out, "splice"], stdin=stdin)
        self.assertEqual(run.fact_values("failed"),
                         [{"op": "splice", "errno": str(errno.EINVAL)}])
        self.assertEqual(run.triggers("first-stdin"), [], run.describe())

        run, pid = self.run_uring(["-k", "-n", "1", "-W", out, "tee"], data=DATA)
        self.assertEqual(run.fact_values("failed"), [{"op": "tee", "errno": str(errno.EINVAL)}])
        self.assertEqual(run.triggers("first-stdin"), [], run.describe())

        run, pid = self.run_uring(["-n", "1", "-W", out, "splice"], data=DATA)
        self.assertEqual(run.fact_values("splice"), [{"bytes": "8"}])
        self.assertOneTrigger(run, "first-stdin", pid,
                              {"fd": 0, "call": "splice", "via": "io_uring"})

    def test_file_splice_at_offset(self):
        path = os.path.join(self.tmp, "stdin.txt")
        with open(path, "wb") as f:
            f.write(DATA)
        with open(path, "rb") as stdin:
            run, pid = self.run_uring(["-O", "4", "-n", "1", "splice"], stdin=stdin)
        self.assertEqual(run.fact_values("splice"), [{"bytes": "8"}])
        self.assertOneTrigger(run, "first-stdin", pid,
                              {"fd": 0, "call": "splice", "via": "io_uring"})

    def test_reopened_stdin_read(self):
        """An IORING_OP_OPENAT of /proc/self/fd/0 gives a descriptor of stdin."""
        run, pid = self.run_uring(["-R", "read"], data=DATA)
        fd = int(run.fact_values("fd")[0])
        self.assertNotEqual(fd, 0)
        self.assertOneTrigger(run, "first-stdin", pid,
                              {"fd": fd, "call": "read", "via": "io_uring"})

    def test_installed_fixed_file_read(self):
        """A descriptor that IORING_OP_FIXED_FD_INSTALL makes of stdin is stdin's."""
        run, pid = self.run_uring(["install"], data=DATA)
        fd = int(run.fact_values("fd")[0])
        self.assertNotEqual(fd, 0)
        self.assertOneTrigger(run, "first-stdin", pid,
                              {"fd": fd, "call": "read", "via": "syscall"})

    def test_sqpoll_read_names_sq_thread(self):
        """The SQ thread submits: pid is the ring's owner, tid the SQ thread."""
        run, pid = self.run_uring(["-P", "read"], data=DATA)
        sq_tid = int(run.fact_values("sqthread")[0])
        self.assertNotEqual(sq_tid, pid)
        self.assertOneTrigger(run, "first-stdin", pid,
                              {"fd": 0, "call": "read", "via": "io_uring"},
                              tid=sq_tid, comm=f"iou-sqp-{pid}")

    def test_sqpoll_single_issuer_names_owner(self):
        """A single-issuer ring records its submitting task, which the line names."""
        run, pid = self.run_uring(["-P", "-S", "read"], data=DATA)
        self.assertEqual(len(run.fact_values("sqthread")), 1)
        self.assertOneTrigger(run, "first-stdin", pid,
                              {"fd": 0, "call": "read", "via": "io_uring"})

    def test_listen(self):
        for fixed in (False, True):
            with self.subTest(fixed=fixed):
                args = (["-F"] if fixed else []) + ["listen"]
                run, pid = self.run_uring(args, triggers="first-listen",
                                          stdin=subprocess.DEVNULL)
                fact = run.fact_values("listen")[0]
                self.assertEqual(int(fact["backlog"]), LISTEN_BACKLOG)
                fd = FIXED_INDEX if fixed else int(fact["fd"])
                detail = {"fd": fd, "backlog": LISTEN_BACKLOG, "via": "io_uring",
                          "family": "inet", "address": "127.0.0.1", "port": int(fact["port"])}
                if fixed:
                    detail["fixed"] = True
                self.assertOneTrigger(run, "first-listen", pid, detail)

    def assertUringListen(self, run, pid, address):
        """Assert one first-listen line over io_uring, for the socket st-uring reported."""
        fact = run.fact_values("listen")[0]
        self.assertNotEqual(int(fact["port"]), 0)
        self.assertOneTrigger(run, "first-listen", pid, {
            "fd": int(fact["fd"]), "backlog": LISTEN_BACKLOG, "via": "io_uring",
            "family": "inet", "address": address, "port": int(fact["port"])})

    def test_listen_unbound_names_port(self):
        """A listen that binds the port itself: the line names that port."""
        run, pid = self.run_uring(["-U", "listen"], triggers="first-listen",
                                  stdin=subprocess.DEVNULL)
        self.assertUringListen(run, pid, "0.0.0.0")

    def test_failed_listen_not_counted(self):
        """A listen that fails is no first-listen, so the next one that succeeds is."""
        run, pid = self.run_uring(["-D", "listen"], triggers="first-listen",
                                  stdin=subprocess.DEVNULL)
        self.assertEqual(run.fact_values("failed"), [{"op": "listen", "errno": "95"}])
        self.assertUringListen(run, pid, "127.0.0.1")

    def test_sqpoll_listen(self):
        run, pid = self.run_uring(["-P", "listen"], triggers="first-listen",
                                  stdin=subprocess.DEVNULL)
        sq_tid = int(run.fact_values("sqthread")[0])
        fact = run.fact_values("listen")[0]
        self.assertOneTrigger(run, "first-listen", pid, {
            "fd": int(fact["fd"]), "backlog": LISTEN_BACKLOG, "via": "io_uring",
            "family": "inet", "address": "127.0.0.1", "port": int(fact["port"])},
            tid=sq_tid, comm=f"iou-sqp-{pid}")

    def test_sync_window(self):
        """Three each of fsync, fdatasync and sync_file_range in one window.

        The three sync_file_range requests with SYNC_FILE_RANGE_WRITE alone
        that come last only start the write-out, and do not count.
        """
        run, pid = self.run_uring(["-n", "3", "sync", self.tmp], triggers="transaction",
                                  stdin=subprocess.DEVNULL)
        lines = run.triggers("transaction", pid=pid)
        self.assertEqual(len(lines), 2, run.describe())
        for line in lines:
            self.assertEqual(line["tid"], pid)
            self.assertEqual(line["comm"], "st-uring")
        self.assertEqual(lines[0]["detail"], {
            "call": "fsync", "count": 1, "calls": {"fsync": 1}, "coalesced": False,
            "source": "syscall", "via": "io_uring"})
        # a tie names the call that comes first in the agent's call order
        self.assertEqual(lines[1]["detail"], {
            "call": "fdatasync", "count": 8,
            "calls": {"fsync": 2, "fdatasync": 3, "sync_file_range": 3}, "coalesced": True,
            "source": "syscall"})

    def test_open_urandom(self):
        """Each open of /dev/urandom opens its own window at --cooldown 0s."""
        run, pid = self.run_uring(["-n", "3", "open"], triggers="non-deterministic-call",
                                  stdin=subprocess.DEVNULL, agent_args=["--cooldown", "0s"])
        self.assertEqual(len(run.fact_values("fd")), 3)
        lines = run.triggers("non-deterministic-call", pid=pid)
        opens = [line for line in lines if line["detail"]["call"] == "open:/dev/urandom"]
        others = [line for line in lines if line not in opens]
        self.assertEqual(len(opens), 3, run.describe())
        for line in opens:
            self.assertEqual(line["tid"], pid)
            self.assertEqual(line["comm"], "st-uring")
            self.assertEqual(line["detail"], {
                "call": "open:/dev/urandom", "count": 1, "calls": {"open:/dev/urandom": 1},
                "coalesced": False, "source": "syscall", "via": "io_uring"})
        # libc makes the only system calls of the class, such as malloc's getrandom
        expected = count_syscalls([tool("st-uring"), "-n", "3", "open"],
                                  ["getrandom", "clock_gettime", "gettimeofday", "time"])
        # a call made as the agent reads the counters comes in a coalesced line, without via
        self.assertEqual(sum(line["detail"]["count"] for line in others),
                         sum(expected.values()), run.describe())
        for line in others:
            if not line["detail"]["coalesced"]:
                self.assertEqual(line["detail"]["via"], "syscall")

    def test_sqpoll_open_urandom(self):
        run, pid = self.run_uring(["-P", "-n", "2", "open"], triggers="non-deterministic-call",
                                  stdin=subprocess.DEVNULL, agent_args=["--cooldown", "0s"])
        sq_tid = int(run.fact_values("sqthread")[0])
        opens = [line for line in run.triggers("non-deterministic-call", pid=pid)
                 if line["detail"]["call"] == "open:/dev/urandom"]
        self.assertEqual(len(opens), 2, run.describe())
        for line in opens:
            self.assertEqual(line["tid"], sq_tid)
            self.assertEqual(line["comm"], f"iou-sqp-{pid}")
            self.assertEqual(line["detail"]["via"], "io_uring")

    def read_checkpoint(self, path):
        deadline = time.monotonic() + TIMEOUT
        while not path.exists():
            if time.monotonic() > deadline:
                self.fail(f"{path} not written by the checkpointer")
            time.sleep(0.02)
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def test_freeze_holds_submitter(self):
        """--freeze stops the process at the request, for plain and SQPOLL rings."""
        for args in (["read"], ["-P", "read"]):
            with self.subTest(args=args):
                out = Path(self.tmp) / ("record-%d.json" % len(args))
                template = " ".join(shlex.quote(w) for w in
                                    [PYTHON, str(CHECKPOINTER), "--out", str(out),
                                     "--pid", "{pid}"])
                run, pid = self.run_uring(args, data=DATA,
                                          agent_args=["--freeze", "--exec", template])
                line = run.triggers("first-stdin")[0]
                self.assertIs(line["held"], True)
                self.assertEqual(self.read_checkpoint(out)["state"], "T")
                snaps = run.of_type("snapshot")
                self.assertEqual(len(snaps), 1, run.describe())
                self.assertEqual(snaps[0]["status"], "ok")
                self.assertEqual(snaps[0]["pid"], pid)

    def test_freeze_holds_sqpoll_listen(self):
        """--freeze keeps an SQPOLL first-listen process stopped until the checkpointer ends.

        The SQ thread submits the LISTEN, and the owner's thread, which waits
        for its completion and then exits, must stop too.
        """
        template_words = [PYTHON, str(CHECKPOINTER), "--pid", "{pid}"]
        for attempt in range(SQPOLL_HOLD_RUNS):
            with self.subTest(attempt=attempt):
                out = Path(self.tmp) / f"listen-{attempt}.json"
                template = " ".join(shlex.quote(w) for w in
                                    template_words + ["--out", str(out)])
                run, pid = self.run_uring(["-P", "listen"], triggers="first-listen",
                                          stdin=subprocess.DEVNULL,
                                          agent_args=["--freeze", "--exec", template])
                sq_tid = int(run.fact_values("sqthread")[0])
                line = run.triggers("first-listen")[0]
                self.assertEqual(line["tid"], sq_tid)
                self.assertIs(line["held"], True)
                snaps = run.of_type("snapshot")
                self.assertEqual(len(snaps), 1, run.describe())
                self.assertEqual(snaps[0]["hold"], "kernel")
                self.assertEqual(snaps[0]["status"], "ok", run.describe())
                record = self.read_checkpoint(out)
                self.assertEqual(record["state"], "T")
                self.assertIn(str(pid), record["threads"])
                self.assertIn(str(sq_tid), record["threads"])
                for tid, state in record["threads"].items():
                    self.assertEqual(state, "T", f"thread {tid}")
                # the process exits only after the agent resumes it
                exit_line = run.exits(pid)[0]
                self.assertGreater(exit_line["seq"], snaps[0]["seq"])

    def test_undecoded_read_coverage_line(self):
        """IORING_OP_READV_FIXED is not decoded: one coverage line, no trigger."""
        run, pid = self.run_uring(["-o", "readv_fixed", "read"], data=DATA)
        self.assertEqual(run.triggers(), [], run.describe())
        lines = [line for line in run.of_type("coverage") if line["via"] == "io_uring"]
        self.assertEqual(len(lines), 1, run.describe())
        line = lines[0]
        self.assertEqual((line["pid"], line["tid"], line["comm"]), (pid, pid, "st-uring"))
        self.assertEqual(line["triggers"], ["first-stdin"])
        self.assertEqual(line["via"], "io_uring")
        self.assertEqual(line["reason"], "undecoded")
        self.assertEqual(line["op"], int(run.fact_values("opcode")[0]))
        stats = run.of_type("stats")
        self.assertEqual(len(stats), 1, run.describe())
        # exec, exit and one coverage record for two undecoded reads
        self.assertEqual(stats[0]["records"], 3, run.describe())
        self.assertEqual(stats[0]["lost"], 0)

    def test_descriptor_received_by_recvmsg(self):
        """stdin received with SCM_RIGHTS through IORING_OP_RECVMSG, then read."""
        run, pid = self.run_uring(["rights"], data=DATA)
        fd = int(run.fact_values("fd")[0])
        self.assertNotEqual(fd, 0)
        self.assertOneTrigger(run, "first-stdin", pid,
                              {"fd": fd, "call": "read", "via": "syscall"})

    def test_uring_cmd_on_stdin_coverage_line(self):
        run, pid = self.run_uring(["cmd"], data=DATA)
        self.assertEqual(run.triggers("first-stdin"), [], run.describe())
        lines = [line for line in run.of_type("coverage") if line["via"] == "io_uring"]
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual((lines[0]["pid"], lines[0]["comm"]), (pid, "st-uring"))
        self.assertEqual(lines[0]["triggers"], ["first-stdin"])
        self.assertEqual(lines[0]["reason"], "undecoded")

    def test_unselected_triggers_silent(self):
        run, pid = self.run_uring(["read"], triggers="transaction", data=DATA)
        self.assertEqual(run.triggers(), [], run.describe())

    def test_untraced_process_silent(self):
        run = self.trace(["-t", URING_TRIGGERS], [tool("st-uring"), "-n", "1", "read"])
        pid = int(run.wait_fact("pid"))
        # the first read is submitted and waits for data in the kernel
        run.wait_trigger("first-stdin", pid)
        path = os.path.join(self.tmp, "stdin.txt")
        with open(path, "wb") as f:
            f.write(DATA)
        untraced = []
        for args in (["read"], ["-P", "read"], ["-F", "splice"], ["listen"],
                     ["sync", self.tmp], ["open"]):
            with open(path, "rb") as stdin:
                program = self.spawn([tool("st-uring")] + args, stdin=stdin)
                self.assertEqual(program.wait_exit(), 0, program.describe())
            untraced.append(program.pid)
        run.write_stdin(DATA)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        for other in untraced:
            self.assertNoLines(run, other)
        self.assertEqual(len(run.triggers("first-stdin")), 1, run.describe())
        self.assertEqual({line["pid"] for line in run.triggers()}, {pid})


if __name__ == "__main__":
    unittest.main()
