"""Coverage lines: the triggers that a path hides from snaptrig, per process."""

import unittest

from harness import SnaptrigTestCase, tool


class CoverageTest(SnaptrigTestCase):

    def test_vdso_line_for_nondet(self):
        run = self.trace(["-t", "non-deterministic-call"], [tool("st-nondet"), "-r", "1"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = run.wait_start()["targets"][0]
        lines = [line for line in run.of_type("coverage") if line["via"] == "vdso"]
        self.assertEqual(len(lines), 1, run.describe())
        line = lines[0]
        self.assertEqual(line["pid"], pid)
        self.assertEqual(line["tid"], pid)
        self.assertEqual(line["comm"], "st-nondet")
        self.assertEqual(line["triggers"], ["non-deterministic-call"])
        self.assertEqual(line["via"], "vdso")
        self.assertEqual(line["reason"], "user-space")
        self.assertNotIn("op", line)
        self.assertNotIn("error", line)
        # after the line for int $0x80, which --ia32 auto leaves unseen
        self.assertEqual(line["seq"], run.wait_start()["seq"] + 2)

    def test_ia32_off_line_for_64_bit_program(self):
        """--ia32 auto leaves int $0x80 of a 64-bit program unseen and writes a line for it."""
        run = self.trace(["-t", "first-stdin,transaction"], [tool("st-sync"), "-f", "1", self.tmp])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = run.wait_start()["targets"][0]
        lines = run.of_type("coverage")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual((lines[0]["pid"], lines[0]["comm"]), (pid, "st-sync"))
        self.assertEqual(lines[0]["triggers"], ["first-stdin", "transaction"])
        self.assertEqual((lines[0]["via"], lines[0]["reason"]), ("ia32", "off"))

    def test_no_line_when_every_path_is_hooked(self):
        run = self.trace(["-t", "first-stdin,first-listen,transaction", "--ia32", "on"],
                         [tool("st-sync"), "-f", "1", self.tmp])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(run.of_type("coverage"), [], run.describe())
        self.assertEqual(len(run.triggers("transaction")), 1, run.describe())


if __name__ == "__main__":
    unittest.main()
