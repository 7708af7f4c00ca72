"""Coverage lines: the triggers that a path hides from snaptrig, per process."""

import os
import subprocess
import unittest

from harness import SnaptrigTestCase, tool

# The x86-64 ELF interpreter, which can also run a program given to it.
DYNAMIC_LOADER = "/lib64/ld-linux-x86-64.so.2"

# Reads a variable through the libc linked into it, once standard input has
# a byte or ends.
STATIC_GETENV = """
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void)
{
	char go;

	printf("pid %d\\n", getpid());
	fflush(stdout);
	if (read(0, &go, 1) < 0)
		return 1;
	return getenv("HOME") ? 0 : 1;
}
"""


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


    def build_getenv(self, *flags, name="static-getenv"):
        """Build STATIC_GETENV with the gcc flags given, such as -static."""
        prog = os.path.join(self.tmp, name)
        subprocess.run(["gcc", *flags, "-x", "c", "-o", prog, "-"], input=STATIC_GETENV,
                       text=True, check=True)
        return prog

    def assertEnvironSeen(self, run):
        """Assert a run without coverage lines and with the first-environ line of its program."""
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertEqual(run.of_type("coverage"), [], run.describe())
        self.assertEqual([l["pid"] for l in run.triggers("first-environ")], [pid],
                         run.describe())

    def assertStaticLine(self, run, pid, after_seq):
        """Assert the one coverage line of pid, which marks first-environ blind in its static libc."""
        lines = run.of_type("coverage")
        self.assertEqual(len(lines), 1, run.describe())
        line = lines[0]
        self.assertEqual((line["pid"], line["tid"], line["comm"]), (pid, pid, "static-getenv"))
        self.assertEqual(line["triggers"], ["first-environ"])
        self.assertEqual((line["via"], line["reason"]), ("static", "user-space"))
        self.assertNotIn("op", line)
        self.assertNotIn("error", line)
        self.assertGreater(line["seq"], after_seq, run.describe())
        self.assertEqual(run.triggers("first-environ"), [], run.describe())

    def test_static_program_blind_environ(self):
        """A static or static-pie program reads its environment where no probe
        is, so its exec gets a coverage line for first-environ."""
        for flag in ("-static", "-static-pie"):
            with self.subTest(flag=flag):
                prog = self.build_getenv(flag)
                run = self.trace(["-t", "first-environ,bootstrap"], [prog],
                                 stdin=subprocess.DEVNULL)
                self.assertEqual(run.wait_exit(), 0, run.describe())
                pid = int(run.fact_values("pid")[0])
                bootstrap = run.triggers("bootstrap", pid=pid)
                self.assertEqual(len(bootstrap), 1, run.describe())
                self.assertStaticLine(run, pid, bootstrap[0]["seq"])

    def test_static_target_blind_environ(self):
        """A running static program that snaptrig attaches to gets the same line."""
        target = self.spawn([self.build_getenv("-static")])
        pid = int(target.wait_fact("pid"))
        run = self.trace(["-t", "first-environ", "-p", str(pid)], stdin=subprocess.DEVNULL)
        start = run.wait_start()
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertStaticLine(run, pid, start["seq"])

    def test_loader_run_as_command_no_line(self):
        """The dynamic loader run as a command has no interpreter of its own
        but loads libc for the program it runs, whose getenv is then probed."""
        prog = self.build_getenv(name="dynamic-getenv")
        run = self.trace(["-t", "first-environ"], [DYNAMIC_LOADER, prog],
                         stdin=subprocess.DEVNULL)
        self.assertEnvironSeen(run)

    def test_static_program_probed_no_line(self):
        """An --environ-probe on the static program's own getenv covers it, so
        there is a first-environ line and no coverage line."""
        prog = self.build_getenv("-static")
        run = self.trace(["-t", "first-environ", "--environ-probe", f"{prog}:getenv"], [prog],
                         stdin=subprocess.DEVNULL)
        self.assertEnvironSeen(run)


if __name__ == "__main__":
    unittest.main()
