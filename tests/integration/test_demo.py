"""The README's demo: st-demo and every line it causes."""

import time
import unittest

from harness import SnaptrigTestCase, count_syscalls, tool

TRIGGERS = ("first-listen,first-stdin,non-deterministic-call,transaction,"
            "sigalrm,bootstrap")
NONDET_SYSCALLS = ["getrandom", "clock_gettime", "gettimeofday", "time"]


class DemoTest(SnaptrigTestCase):

    def test_demo_lines(self):
        with open("/dev/null", "rb") as devnull:
            expected = count_syscalls([tool("st-demo"), self.tmp], NONDET_SYSCALLS,
                                      stdin=devnull)
        started = time.monotonic()
        run = self.trace(["-t", TRIGGERS, "--cooldown", "5s"],
                         [tool("st-demo"), self.tmp])
        run.write_stdin(b"hello\n")
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertLess(time.monotonic() - started, 5)

        pid = int(run.fact_values("pid")[0])
        port = int(run.fact_values("port")[0])
        self.assertEqual(run.fact_values("stdin"), ["read 6 bytes"])

        boots = run.triggers("bootstrap")
        self.assertEqual(len(boots), 2, run.describe())
        self.assertEqual(boots[0]["pid"], pid)
        self.assertEqual(boots[0]["detail"], {"filename": tool("st-demo"),
                                              "ppid": run.pid, "old_tid": pid})
        child = boots[1]["pid"]
        self.assertEqual(boots[1]["detail"], {"filename": "/bin/true",
                                              "ppid": pid, "old_tid": child})

        listens = run.triggers("first-listen")
        self.assertEqual(len(listens), 1, run.describe())
        self.assertEqual(listens[0]["detail"], {
            "fd": listens[0]["detail"]["fd"], "backlog": 8, "via": "syscall", "family": "inet",
            "address": "127.0.0.1", "port": port})

        reads = run.triggers("first-stdin")
        self.assertEqual(len(reads), 1, run.describe())
        self.assertEqual(reads[0]["pid"], pid)
        self.assertEqual(reads[0]["detail"], {"fd": 0, "call": "read", "via": "syscall"})

        calls = {}
        for line in run.triggers("non-deterministic-call"):
            for name, n in line["detail"]["calls"].items():
                calls[name] = calls.get(name, 0) + n
        self.assertEqual(calls, {k: v for k, v in expected.items() if v})

        syncs = run.triggers("transaction")
        self.assertEqual(len(syncs), 1, run.describe())
        detail = dict(syncs[0]["detail"])
        # docs/snaptrig.schema.json adds an optional "source" to transaction
        # details: "syscall" here, "marker" for SNAPTRIG_TRANSACTION().
        self.assertEqual(detail.pop("source", "syscall"), "syscall")
        self.assertEqual(detail, {"call": "fsync", "count": 1,
                                              "calls": {"fsync": 1},
                                              "coalesced": False, "via": "syscall"})

        alarms = run.triggers("sigalrm")
        self.assertEqual(len(alarms), 1, run.describe())
        self.assertEqual(alarms[0]["tid"], pid)
        self.assertEqual(alarms[0]["detail"], {
            "signal": 14, "name": "SIGALRM", "code": -6, "thread": True,
            "result": "delivered",
            "sender": {"pid": pid, "tid": pid, "comm": "st-demo"}})

        self.assertExited(run, child, 0, comm="true")
        self.assertExited(run, pid, 0, comm="st-demo")


if __name__ == "__main__":
    unittest.main()
