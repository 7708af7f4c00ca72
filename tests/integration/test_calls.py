"""non-deterministic-call and transaction: counted calls coalesced by cooldown."""

import collections
import os
import subprocess
import time
import unittest

from harness import SnaptrigTestCase, count_syscalls, tool

SQLITE = "/usr/bin/sqlite3"
SQL = ("create table t(x integer); "
       "begin; insert into t values(1); commit; "
       "begin; insert into t values(2); insert into t values(3); commit;")
NONDET_SYSCALLS = ["getrandom", "clock_gettime", "gettimeofday", "time"]
SYNC_SYSCALLS = ["fsync", "fdatasync", "sync_file_range", "msync", "syncfs",
                 "sync"]


def nonzero(counts):
    return {name: n for name, n in counts.items() if n}


def summed_calls(lines):
    """Add up the calls objects of lines."""
    total = collections.Counter()
    for line in lines:
        total.update(line["detail"]["calls"])
    return nonzero(total)


class CallsTest(SnaptrigTestCase):

    def assertWindowLines(self, lines, expected):
        """Check the first-and-coalesced pattern of one cooldown window.

        expected maps call names to the occurrences made within the window.
        The first occurrence gets a line with count 1; the rest come as one
        coalesced line named for the most frequent call.
        """
        total = sum(expected.values())
        self.assertEqual(len(lines), 2 if total > 1 else 1, lines)
        for line in lines:
            detail = dict(line["detail"])
            # The schema's optional "source" distinguishes syscalls from the
            # SNAPTRIG_TRANSACTION() marker; these tests make syscalls only.
            self.assertEqual(detail.pop("source", "syscall"), "syscall")
            # "via" names the path of the call that opened the window, on its line only
            if detail["coalesced"]:
                self.assertNotIn("via", detail)
            else:
                self.assertEqual(detail.pop("via"), "syscall")
            self.assertEqual(set(detail), {"call", "count", "calls", "coalesced"})
        first = lines[0]["detail"]
        self.assertEqual(first["count"], 1)
        self.assertIs(first["coalesced"], False)
        self.assertEqual(first["calls"], {first["call"]: 1})
        self.assertEqual(summed_calls(lines), nonzero(expected))
        if total > 1:
            rest = lines[1]["detail"]
            self.assertIs(rest["coalesced"], True)
            self.assertEqual(rest["count"], total - 1)
            self.assertEqual(sum(rest["calls"].values()), total - 1)
            top = max(rest["calls"].values())
            self.assertEqual(rest["calls"][rest["call"]], top)

    def nondet_expected(self, tool_args, urandom=0, random=0):
        """Count the calls st-nondet with tool_args makes, under strace."""
        counts = count_syscalls([tool("st-nondet")] + tool_args, NONDET_SYSCALLS)
        counts["open:/dev/urandom"] = urandom
        counts["open:/dev/random"] = random
        return counts

    def test_nondet_window_coalesced(self):
        args = ["-r", "4", "-c", "2", "-g", "2", "-t", "2", "-u", "1", "-R", "1"]
        expected = self.nondet_expected(args, urandom=1, random=1)
        self.assertGreaterEqual(expected["getrandom"], 4)

        run = self.trace(["-t", "non-deterministic-call", "--cooldown", "300ms"],
                         [tool("st-nondet"), "-w"] + args)
        pid = int(run.wait_fact("pid"))
        run.wait_fact("done")
        run.wait_record(lambda r: r.get("detail", {}).get("coalesced") is True,
                        "the coalesced line at the end of the window")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertExited(run, pid, 0, comm="st-nondet")

        lines = run.triggers("non-deterministic-call")
        for line in lines:
            self.assertEqual(line["pid"], pid)
            self.assertEqual(line["tid"], pid)
            self.assertEqual(line["comm"], "st-nondet")
        self.assertWindowLines(lines, expected)
        self.assertEqual(lines[0]["detail"]["call"], "getrandom")
        self.assertEqual(lines[1]["detail"]["call"], "getrandom")

    def test_text_line_lists_calls(self):
        """The coalesced text line names every call it counts, not only call=."""
        args = ["-r", "3", "-c", "2"]
        expected = self.nondet_expected(args)
        run = self.trace(["-t", "non-deterministic-call", "--format", "text"],
                         [tool("st-nondet")] + args)
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        lines = [value.split() for _, value in run.facts
                 if isinstance(value, str) and value.split()[:1] == ["non-deterministic-call"]]
        self.assertEqual(len(lines), 2, run.describe())
        rest = expected["getrandom"] - 1
        self.assertEqual(lines[0][4:], ["call=getrandom", "count=1", "coalesced=no",
                                        "source=syscall", "via=syscall"])
        self.assertEqual(lines[1][4:], ["call=getrandom", f"count={rest + expected['clock_gettime']}",
                                        "coalesced=yes",
                                        f"calls=getrandom:{rest},"
                                        f"clock_gettime:{expected['clock_gettime']}",
                                        "source=syscall"])

    def assertGetrandomWindows(self, args, cooldown, shape):
        """Run st-nondet with args and check the (count, coalesced) of each line.

        glibc's malloc seed makes one getrandom before round one, so shape
        has a line for it and the rounds' calls add up to one less.
        """
        expected = self.nondet_expected(args)
        run = self.trace(["-t", "non-deterministic-call", "--cooldown", cooldown],
                         [tool("st-nondet")] + args)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        lines = run.triggers("non-deterministic-call", pid=pid)
        got = [(l["detail"]["count"], l["detail"]["coalesced"]) for l in lines]
        total = sum(count for count, _ in shape)
        self.assertEqual(expected["getrandom"], total)
        self.assertEqual(got, shape, run.describe())
        self.assertEqual(summed_calls(lines), {"getrandom": total})

    def test_nondet_two_windows(self):
        # Round one: the malloc seed and one call; round two: one call.
        self.assertGetrandomWindows(["-r", "1", "-k", "2", "-d", "500"], "100ms",
                                    [(1, False), (1, True), (1, False)])

    def test_nondet_window_reopens_after_cooldown(self):
        """A call 1.3 cooldowns after the last window opened starts a new one.

        The hooks compare jiffies in the first part of a window. A span that
        was too long would coalesce rounds two and three.
        """
        self.assertGetrandomWindows(["-r", "1", "-k", "3", "-d", "400"], "300ms",
                                    [(1, False), (1, True), (1, False), (1, False)])

    def test_nondet_pending_before_exit(self):
        args = ["-r", "5", "-g", "1"]
        expected = self.nondet_expected(args)
        started = time.monotonic()
        run = self.trace(["-t", "non-deterministic-call", "--cooldown", "5s"],
                         [tool("st-nondet")] + args)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertLess(time.monotonic() - started, 4,
                        "the exit of the process must end the window")
        pid = int(run.fact_values("pid")[0])
        lines = run.triggers("non-deterministic-call", pid=pid)
        self.assertWindowLines(lines, expected)
        exit_line = self.assertExited(run, pid, 0)
        self.assertLess(lines[-1]["seq"], exit_line["seq"])

    def run_python(self, triggers, script):
        """Trace python3 -c script with a 5 s cooldown to its end; return the run and its pid."""
        run = self.trace(["-t", triggers, "--cooldown", "5s"], ["/usr/bin/python3", "-c", script])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        return run, run.wait_start()["targets"][0]

    def test_nondet_pending_before_exec(self):
        """Calls of an image still in its window go out under its name, before the exec."""
        script = ("import os\n"
                  "for _ in range(100):\n"
                  "    os.getrandom(8)\n"
                  "os.execv('/bin/sleep', ['sleep', '0.2'])\n")
        run, pid = self.run_python("non-deterministic-call,bootstrap", script)
        boot = [l for l in run.triggers("bootstrap", pid=pid)
                if l["detail"]["filename"] == "/bin/sleep"]
        self.assertEqual(len(boot), 1, run.describe())
        lines = run.triggers("non-deterministic-call", pid=pid)
        before = [l for l in lines if l["seq"] < boot[0]["seq"]]
        after = [l for l in lines if l["seq"] > boot[0]["seq"]]
        self.assertEqual({l["comm"] for l in before}, {"python3"}, run.describe())
        self.assertGreaterEqual(sum(l["detail"]["calls"].get("getrandom", 0) for l in before),
                                100, run.describe())
        self.assertEqual({l["comm"] for l in after} - {"sleep"}, set(), run.describe())
        self.assertLess(sum(l["detail"]["count"] for l in after), 100, run.describe())

    def test_o_path_open_not_counted(self):
        """An O_PATH descriptor of /dev/urandom reads nothing: only the real open counts."""
        script = ("import os\n"
                  "os.close(os.open('/dev/urandom', os.O_PATH))\n"
                  "os.close(os.open('/dev/urandom', os.O_RDONLY))\n")
        run, pid = self.run_python("non-deterministic-call", script)
        opens = [l["detail"]["calls"].get("open:/dev/urandom", 0)
                 for l in run.triggers("non-deterministic-call", pid=pid)]
        self.assertEqual(sum(opens), 1, run.describe())

    def test_nondet_untraced_copy_silent(self):
        run = self.trace(["-t", "non-deterministic-call", "--cooldown", "100ms"],
                         [tool("st-nondet"), "-w", "-r", "2"])
        pid = int(run.wait_fact("pid"))
        run.wait_trigger("non-deterministic-call", pid)
        untraced = self.spawn([tool("st-nondet"), "-r", "3", "-u", "2"])
        self.assertEqual(untraced.wait_exit(), 0)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertNoLines(run, untraced.pid)

    def test_transaction_calls(self):
        args = ["-f", "3", "-d", "1", "-r", "1", "-m", "1", "-a", "3", "-S", "1",
                "-s", "1", self.tmp]
        run = self.trace(["-t", "transaction", "--cooldown", "2s"],
                         [tool("st-sync")] + args)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        lines = run.triggers("transaction")
        for line in lines:
            self.assertEqual(line["pid"], pid)
            self.assertEqual(line["tid"], pid)
            self.assertEqual(line["comm"], "st-sync")
        expected = {"fsync": 3, "fdatasync": 1, "sync_file_range": 1,
                    "msync": 1, "syncfs": 1, "sync": 1}
        self.assertWindowLines(lines, expected)
        self.assertEqual(lines[0]["detail"]["call"], "fsync")
        self.assertEqual(lines[1]["detail"]["call"], "fsync")
        self.assertLess(lines[-1]["seq"], self.assertExited(run, pid, 0)["seq"])

    def test_write_out_hints_not_counted(self):
        """msync with MS_ASYNC and sync_file_range with SYNC_FILE_RANGE_WRITE alone make nothing durable."""
        for option in ("-a", "-w"):
            with self.subTest(option=option):
                run = self.trace(["-t", "transaction", "--cooldown", "100ms"],
                                 [tool("st-sync"), option, "3", self.tmp])
                self.assertEqual(run.wait_exit(), 0, run.describe())
                pid = int(run.fact_values("pid")[0])
                self.assertExited(run, pid, 0)
                self.assertEqual(run.triggers("transaction"), [], run.describe())

    def test_sqlite_commits(self):
        reference = os.path.join(self.tmp, "reference.db")
        expected = count_syscalls([SQLITE, reference, SQL], SYNC_SYSCALLS)
        self.assertGreater(sum(expected.values()), 0,
                           "sqlite3 made no durable write under strace")

        # The traced sqlite3 reads its SQL from stdin, so it is still running
        # while the untraced one commits.
        traced_db = os.path.join(self.tmp, "traced.db")
        run = self.trace(["-t", "transaction", "--cooldown", "3s"],
                         [SQLITE, traced_db])
        start = run.wait_start()
        sqlite_pid = start["targets"][0]
        untraced = self.spawn([SQLITE, os.path.join(self.tmp, "untraced.db"), SQL],
                              stdin=subprocess.DEVNULL)
        self.assertEqual(untraced.wait_exit(), 0, untraced.describe())
        run.write_stdin(SQL.encode() + b"\n")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())

        lines = run.triggers("transaction")
        for line in lines:
            self.assertEqual(line["pid"], sqlite_pid)
            self.assertEqual(line["comm"], "sqlite3")
        self.assertWindowLines(lines, expected)
        self.assertExited(run, sqlite_pid, 0, comm="sqlite3")
        self.assertNoLines(run, untraced.pid, "an untraced sqlite3")

    def test_both_classes_separate_windows(self):
        run = self.trace(["-t", "non-deterministic-call,transaction",
                          "--cooldown", "2s"],
                         [tool("st-sync"), "-f", "2", self.tmp])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        expected = count_syscalls([tool("st-sync"), "-f", "2", self.tmp],
                                  NONDET_SYSCALLS)
        self.assertWindowLines(run.triggers("transaction"), {"fsync": 2})
        self.assertWindowLines(run.triggers("non-deterministic-call"), expected)
        self.assertExited(run, pid, 0)


if __name__ == "__main__":
    unittest.main()
