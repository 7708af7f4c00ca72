"""periodic-interval: numbered lines per process at the snapshot interval."""

import subprocess
import unittest

from harness import SNAPTRIG, TIMEOUT, SnaptrigTestCase

SLEEP = "/bin/sleep"


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


if __name__ == "__main__":
    unittest.main()
