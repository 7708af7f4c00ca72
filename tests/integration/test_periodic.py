"""periodic-interval: numbered lines per process at the snapshot interval."""

import calendar
import re
import subprocess
import time
import unittest

from harness import SNAPTRIG, TIMEOUT, SnaptrigTestCase

SLEEP = "/bin/sleep"
# how far test_clock_set_moves_time sets the system clock ahead, and back
CLOCK_STEP_NS = 100_000_000
# a line's "time" against boot_ns plus the offset the test reads itself
OFFSET_SLACK_NS = 1_000_000


def time_ns(text):
    """Parse an RFC 3339 UTC time with 9 fraction digits to ns since the epoch."""
    seconds = calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1_000_000_000 + int(text[20:29])


def realtime_offset_ns():
    """Return CLOCK_REALTIME minus CLOCK_BOOTTIME, as snaptrig maps boot_ns to time."""
    return time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def step_clock(delta_ns):
    """Set the system clock delta_ns away from where it is now."""
    time.clock_settime_ns(time.CLOCK_REALTIME,
                          time.clock_gettime_ns(time.CLOCK_REALTIME) + delta_ns)


class PeriodicTest(SnaptrigTestCase):

    def test_interval_within_cooldown_warned(self):
        """A snapshot interval no longer than the cooldown gets a warning, since
        the cooldown then skips about every other periodic request."""
        cases = [("1s", "1s", True), ("500ms", "1s", True), ("2s", "1s", False),
                 ("1s", "0s", False)]
        for interval, cooldown, warned in cases:
            with self.subTest(interval=interval, cooldown=cooldown):
                result = subprocess.run([str(SNAPTRIG), "-t", "periodic-interval",
                                         "--snapshot-interval", interval, "--cooldown", cooldown,
                                         "--exec", "/bin/true", "--", "/bin/true"],
                                        stdin=subprocess.DEVNULL, capture_output=True,
                                        text=True, timeout=TIMEOUT)
                expected = [f"snaptrig: warning: --snapshot-interval {interval} is not longer "
                            f"than --cooldown {cooldown}, which counts from the end of each "
                            "snapshot request, so about every other periodic-interval request "
                            "will be skipped; make the interval longer or the cooldown shorter"]
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stderr.splitlines(), expected if warned else [])

    def assertNumbered(self, lines, interval_ns, run):
        self.assertEqual([l["detail"]["number"] for l in lines],
                         list(range(1, len(lines) + 1)), run.describe())
        for line in lines:
            self.assertEqual(line["detail"]["interval_ns"], interval_ns)
        for before, after in zip(lines, lines[1:]):
            gap = after["boot_ns"] - before["boot_ns"]
            self.assertGreater(gap, interval_ns // 2, run.describe())
            self.assertLess(gap, interval_ns * 2, run.describe())

    def test_interval_lines(self):
        run = self.trace(["-t", "periodic-interval", "--snapshot-interval", "200ms"],
                         [SLEEP, "1.1"])
        start = run.wait_start()
        self.assertEqual(start["snapshot_interval_ns"], 200_000_000)
        untraced = self.spawn([SLEEP, "0.5"])
        self.assertEqual(untraced.wait_exit(), 0)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertNoLines(run, untraced.pid, "an untraced sleep")
        pid = start["targets"][0]
        lines = run.triggers("periodic-interval", pid=pid)
        # 1.1 s of sleep contains five 200 ms intervals; one more or one less
        # allows for when the first interval starts.
        self.assertIn(len(lines), (4, 5, 6), run.describe())
        self.assertNumbered(lines, 200_000_000, run)
        for line in lines:
            self.assertEqual(line["comm"], "sleep")
        self.assertExited(run, pid, 0, comm="sleep")
        self.assertLess(lines[-1]["seq"], run.exits(pid)[0]["seq"])

    def test_numbers_per_process(self):
        run = self.trace(["-t", "periodic-interval", "--snapshot-interval", "150ms"],
                         ["/bin/sh", "-c", f"{SLEEP} 0.5; {SLEEP} 0.5; exit 0"])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        shell = start["targets"][0]
        pids = sorted({l["pid"] for l in run.triggers("periodic-interval")})
        self.assertIn(shell, pids)
        children = [p for p in pids if p != shell]
        self.assertEqual(len(children), 2, run.describe())
        for pid in pids:
            lines = run.triggers("periodic-interval", pid=pid)
            self.assertNumbered(lines, 150_000_000, run)
        self.assertGreater(len(run.triggers("periodic-interval", pid=shell)),
                           len(run.triggers("periodic-interval", pid=children[0])))

    def test_not_selected_no_lines(self):
        run = self.trace(["-t", "first-listen", "--snapshot-interval", "100ms"],
                         [SLEEP, "0.5"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(run.triggers("periodic-interval"), [])


    def test_clock_set_moves_time(self):
        """After a set of the system clock, "time" follows the new wall clock
        while boot_ns goes on. The test sets the clock 100 ms ahead for about
        a second and then back."""
        run = self.trace(["-v", "-t", "periodic-interval", "--snapshot-interval", "50ms"],
                         [SLEEP, "3"])
        run.wait_start()
        pid = run.wait_record(lambda r: r["type"] == "trigger" and r["detail"].get("number") == 8,
                              "the 8th periodic-interval line")["pid"]
        offsets = [(0, realtime_offset_ns())]
        restore = [CLOCK_STEP_NS]

        def step_back():
            if restore:
                step_clock(-restore.pop())
        self.addCleanup(step_back)
        step_clock(CLOCK_STEP_NS)
        offsets.append((time.clock_gettime_ns(time.CLOCK_BOOTTIME), realtime_offset_ns()))
        time.sleep(1)
        step_back()
        offsets.append((time.clock_gettime_ns(time.CLOCK_BOOTTIME), realtime_offset_ns()))
        self.assertEqual(run.wait_exit(), 0, run.describe())

        self.assertAlmostEqual(offsets[1][1] - offsets[0][1], CLOCK_STEP_NS,
                               delta=OFFSET_SLACK_NS)
        self.assertAlmostEqual(offsets[2][1], offsets[0][1], delta=OFFSET_SLACK_NS)
        moves = [float(m) for m in re.findall(
            r"^snaptrig: the system clock was set: the time of later lines moves by ([-+][0-9.]+) s$",
            "\n".join(run.err.lines), re.M)]
        self.assertEqual(len(moves), 2, run.describe())
        self.assertAlmostEqual(moves[0], CLOCK_STEP_NS / 1e9, delta=OFFSET_SLACK_NS / 1e9)
        self.assertAlmostEqual(moves[1], -CLOCK_STEP_NS / 1e9, delta=OFFSET_SLACK_NS / 1e9)
        # Lines made within 20 ms of a set may still carry the offset before it.
        checked = [0, 0, 0]
        for line in run.triggers("periodic-interval", pid=pid):
            for period, (since, offset) in enumerate(offsets):
                end = offsets[period + 1][0] if period + 1 < len(offsets) else None
                if line["boot_ns"] < since + 20_000_000:
                    continue
                if end and line["boot_ns"] > end:
                    continue
                self.assertAlmostEqual(time_ns(line["time"]), line["boot_ns"] + offset,
                                       delta=OFFSET_SLACK_NS, msg=str(line) + run.describe())
                checked[period] += 1
        self.assertGreater(min(checked), 5, f"lines checked per period {checked}")

if __name__ == "__main__":
    unittest.main()
