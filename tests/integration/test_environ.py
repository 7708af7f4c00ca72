"""first-environ: the first read of the environment, once per process."""

import os
import re
import shutil
import subprocess
import unittest

from harness import PYTHON, SNAPTRIG, SnaptrigTestCase, tool

PYTHON_GETENV = "import os; os.getenv('SNAPTRIG_TEST_VARIABLE')"

# Reads one variable first thing, through the libc that its run path finds.
GETENV_AT_START = """
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void)
{
	const char *value = getenv("SNAPTRIG_TEST_VARIABLE");

	printf("pid %d\\n", getpid());
	return value ? 0 : 1;
}
"""


# A library function that walks environ itself, as a JVM does, and a program
# that calls it.
SETTING_LIBRARY = """
extern char **environ;
int read_setting(void)
{
	int count = 0;

	for (char **entry = environ; *entry; entry++)
		count++;
	return count;
}
"""
SETTING_MAIN = """
#include <stdio.h>
#include <unistd.h>
int read_setting(void);
int main(void)
{
	printf("pid %d\\n", getpid());
	return read_setting() > 0 ? 0 : 1;
}
"""


class EnvironTest(SnaptrigTestCase):

    def run_tool(self, tool_args, extra=()):
        """Trace st-getenv until it exits; return the run and its pid."""
        run = self.trace(["-t", "first-environ"] + list(extra),
                         [tool("st-getenv")] + tool_args)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertExited(run, pid, 0, comm="st-getenv")
        return run, pid

    def assertOneEnviron(self, run, pid, detail, comm="st-getenv"):
        lines = run.triggers("first-environ")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["pid"], pid)
        self.assertEqual(lines[0]["tid"], pid)
        self.assertEqual(lines[0]["comm"], comm)
        self.assertEqual(lines[0]["detail"], detail)
        self.assertLess(lines[0]["seq"], run.exits(pid)[0]["seq"])
        return lines[0]

    def test_getenv_once(self):
        run, pid = self.run_tool(["-n", "1000", "-v", "SNAPTRIG_TEST_VARIABLE"])
        self.assertOneEnviron(run, pid, {"source": "getenv",
                                         "name": "SNAPTRIG_TEST_VARIABLE"})

    def test_secure_getenv(self):
        run, pid = self.run_tool(["-s", "-n", "3", "-v", "LANG"])
        self.assertOneEnviron(run, pid, {"source": "secure_getenv", "name": "LANG"})

    def test_long_name_cut(self):
        """A variable name is cut to its first 63 bytes."""
        for length, expected in ((62, 62), (63, 63), (64, 63), (100, 63), (400, 63)):
            with self.subTest(length=length):
                run, pid = self.run_tool(["-n", "1", "-v", "N" * length])
                self.assertOneEnviron(run, pid, {"source": "getenv", "name": "N" * expected})

    def test_once_per_child(self):
        run, pid = self.run_tool(["-n", "5", "-v", "HOME", "-f", "2"])
        children = [int(c) for c in run.fact_values("child")]
        self.assertEqual(len(children), 2, run.describe())
        lines = run.triggers("first-environ")
        self.assertEqual(sorted(l["pid"] for l in lines), sorted([pid] + children),
                         run.describe())
        for line in lines:
            self.assertEqual(line["tid"], line["pid"])
            self.assertEqual(line["detail"], {"source": "getenv", "name": "HOME"})
        for child in children:
            self.assertExited(run, child, 0, comm="st-getenv")

    def test_child_after_exec(self):
        """A child that execs Python gets its own line, from Python's libc calls."""
        run, pid = self.run_tool(["-n", "0", "-f", "1", "-x", PYTHON, "-c",
                                  PYTHON_GETENV])
        children = [int(c) for c in run.fact_values("child")]
        self.assertEqual(len(children), 1, run.describe())
        lines = run.triggers("first-environ")
        self.assertEqual([l["pid"] for l in lines], children, run.describe())
        self.assertEqual(lines[0]["comm"], "python3")
        self.assertEqual(lines[0]["detail"]["source"], "getenv")

    def test_python_os_getenv(self):
        run = self.trace(["-t", "first-environ"], [PYTHON, "-c", PYTHON_GETENV])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = start["targets"][0]
        lines = run.triggers("first-environ")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual((lines[0]["pid"], lines[0]["tid"]), (pid, pid))
        self.assertEqual(lines[0]["comm"], "python3")
        # Python reads its own variables (PYTHONHOME, ...) before the script runs.
        self.assertEqual(lines[0]["detail"]["source"], "getenv")
        self.assertIsInstance(lines[0]["detail"]["name"], str)
        self.assertEqual(set(lines[0]["detail"]), {"source", "name"})
        self.assertExited(run, pid, 0, comm="python3")

    def test_proc_self_environ(self):
        run, pid = self.run_tool(["-n", "0", "-p"])
        self.assertOneEnviron(run, pid, {"source": "proc-file"})

    def test_proc_pid_environ(self):
        run, pid = self.run_tool(["-n", "0", "-P"])
        self.assertOneEnviron(run, pid, {"source": "proc-file"})

    def test_cat_proc_self_environ(self):
        """cat opens /proc/self/environ, but its setlocale() calls getenv first.

        The shell execs cat in place (same pid) and reads no variable itself;
        the redirection keeps cat's output off the JSON lines.
        """
        run = self.trace(["-t", "first-environ"],
                         ["/bin/sh", "-c", "exec cat /proc/self/environ >/dev/null"])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = start["targets"][0]
        lines = run.triggers("first-environ")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["pid"], pid)
        self.assertEqual(lines[0]["comm"], "cat")
        self.assertEqual(lines[0]["detail"]["source"], "getenv")
        self.assertExited(run, pid, 0, comm="cat")

    def test_environ_probe(self):
        binary = tool("st-getenv")
        run, pid = self.run_tool(["-n", "0", "-c"],
                                 ["--environ-probe", f"{binary}:st_read_config"])
        self.assertOneEnviron(run, pid, {"source": "probe", "binary": binary,
                                         "symbol": "st_read_config"})

    def test_environ_probe_library_mode_0644(self):
        """A shared library without the execute bit, as Debian installs most, can be probed."""
        lib = os.path.join(self.tmp, "libsetting.so")
        subprocess.run(["gcc", "-shared", "-fPIC", "-x", "c", "-o", lib, "-"],
                       input=SETTING_LIBRARY, text=True, check=True)
        os.chmod(lib, 0o644)
        prog = os.path.join(self.tmp, "uses-setting")
        subprocess.run(["gcc", "-x", "c", "-o", prog, "-", "-L", self.tmp, "-lsetting",
                        "-Wl,-rpath," + self.tmp], input=SETTING_MAIN, text=True, check=True)
        run = self.trace(["-t", "first-environ", "--environ-probe", f"{lib}:read_setting"],
                         [prog], stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertOneEnviron(run, pid, {"source": "probe", "binary": lib,
                                         "symbol": "read_setting"}, comm="uses-setting")

    def test_environ_probe_text_line(self):
        """The text line of a probe names its binary and symbol, as the JSON line does."""
        binary = tool("st-getenv")
        run = self.trace(["-t", "first-environ", "--format", "text",
                          "--environ-probe", f"{binary}:st_read_config"],
                         [binary, "-n", "0", "-c"])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        lines = [line.split() for line in run.out.lines
                 if line[16:].split()[:1] == ["first-environ"]]
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0][1:5], ["first-environ", str(pid), str(pid), "st-getenv"])
        self.assertEqual(lines[0][5:], ["source=probe", f"binary={binary}",
                                        "symbol=st_read_config"])

    def test_text_empty_comm_and_name(self):
        """An empty comm is written \\x00 in its column, and an empty name keeps name=."""
        run = self.trace(["-t", "first-environ", "--format", "text"],
                         [tool("st-getenv"), "-N", "", "-v", "", "-n", "1"])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        lines = [line.split(" ") for line in run.out.lines
                 if line[16:].split()[:1] == ["first-environ"]]
        self.assertEqual(len(lines), 1, run.describe())
        # the text line pads the trigger name to 24 columns, which leaves empty words
        words = [word for word in lines[0] if word]
        self.assertEqual(words[1:], ["first-environ", str(pid), str(pid), "\\x00",
                                     "source=getenv", "name="])
        exits = [line.split(" ") for line in run.out.lines
                 if re.match(r"# \d\d:\d\d:\d\d\.\d{6} exit ", line)]
        self.assertEqual(len(exits), 1, run.describe())
        self.assertEqual(exits[0][2:], ["exit", str(pid), "\\x00", "code=0"])

    def test_empty_comm_and_name_json(self):
        run = self.trace(["-t", "first-environ"],
                         [tool("st-getenv"), "-N", "", "-v", "", "-n", "1"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertExited(run, pid, 0, comm="")
        self.assertOneEnviron(run, pid, {"source": "getenv", "name": ""}, comm="")

    def test_libc_without_getenv_reported(self):
        """A mapped libc.so.6 whose getenv cannot be probed gets one line on stderr."""
        fake = os.path.join(self.tmp, "libc.so.6")
        shutil.copy("/usr/lib/x86_64-linux-gnu/libm.so.6", fake)
        run = self.trace(["-t", "first-environ"],
                         ["/usr/bin/env", f"LD_PRELOAD={fake}", "/bin/sleep", "0.3"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(run.err.lines, [
            f"snaptrig: attaching the first-environ uprobe on getenv in {fake} failed: No such "
            "file or directory; first-environ does not see the processes that use this libc"])

    def test_getenv_in_new_libc(self):
        """A getenv right at the start, in a libc that no process had mapped
        before (a copy, as in a container image), is the process's first-environ."""
        libc = subprocess.run(["gcc", "-print-file-name=libc.so.6"], capture_output=True,
                              text=True, check=True).stdout.strip()
        shutil.copy(os.path.realpath(libc), os.path.join(self.tmp, "libc.so.6"))
        prog = os.path.join(self.tmp, "getenv-first")
        subprocess.run(["gcc", "-x", "c", "-o", prog, "-", "-Wl,-rpath," + self.tmp],
                       input=GETENV_AT_START, text=True, check=True)
        env = dict(os.environ, SNAPTRIG_TEST_VARIABLE="1")
        for round_number in range(3):
            with self.subTest(round_number=round_number):
                run = self.trace(["-t", "first-environ"], [prog], env=env)
                self.assertEqual(run.wait_exit(), 0, run.describe())
                pid = int(run.fact_values("pid")[0])
                self.assertOneEnviron(run, pid, {"source": "getenv",
                                                 "name": "SNAPTRIG_TEST_VARIABLE"},
                                      comm="getenv-first")

    def test_getenv_in_32_bit_program(self):
        """A 32-bit program's getenv right at the start is seen, with the name
        that the i386 calling convention passes on the stack."""
        prog = os.path.join(self.tmp, "getenv-first")
        subprocess.run(["gcc", "-m32", "-x", "c", "-o", prog, "-"], input=GETENV_AT_START,
                       text=True, check=True)
        env = dict(os.environ, SNAPTRIG_TEST_VARIABLE="1")
        run = self.trace(["-t", "first-environ"], [prog], env=env)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertOneEnviron(run, pid, {"source": "getenv", "name": "SNAPTRIG_TEST_VARIABLE"},
                              comm="getenv-first")

    def test_environ_probe_missing_symbol(self):
        run = self.trace(["-t", "first-environ", "--environ-probe",
                          tool("st-getenv") + ":no_such_symbol"],
                         [tool("st-getenv"), "-n", "0"])
        # a symbol the binary does not define is a bad value, like a bad path
        self.assertEqual(run.wait_exit(check=False), 2, run.describe())
        self.assertTrue(any("no_such_symbol" in l for l in run.err.lines),
                        run.describe())

    def test_environ_probe_bad_value(self):
        for value in ("no-colon", ":sym", "bin:", "/no/such/binary:sym"):
            with self.subTest(value=value):
                result = subprocess.run(
                    [str(SNAPTRIG), "-t", "first-environ",
                     "--environ-probe", value, "--", "/bin/true"],
                    capture_output=True, text=True, timeout=10)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn("--environ-probe", result.stderr)

    def probe_error(self, value):
        """Run snaptrig with --environ-probe value and return its status and stderr."""
        result = subprocess.run(
            [str(SNAPTRIG), "-t", "first-environ", "--environ-probe", value,
             "--", "/bin/true"],
            capture_output=True, text=True, timeout=10)
        return result.returncode, result.stderr

    def test_environ_probe_imported_symbol(self):
        binary = tool("st-getenv")
        status, err = self.probe_error(f"{binary}:getenv")
        self.assertEqual(status, 2, err)
        self.assertEqual(
            err,
            f"snaptrig: invalid probe '{binary}:getenv' for --environ-probe: "
            f"'{binary}' only imports getenv and does not define it; give the "
            f"library that defines it (ldd {binary} lists them)\n")

    def test_environ_probe_not_elf(self):
        script = os.path.join(self.tmp, "script")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(script, 0o755)
        status, err = self.probe_error(f"{script}:getenv")
        self.assertEqual(status, 2, err)
        self.assertEqual(
            err,
            f"snaptrig: invalid probe '{script}:getenv' for --environ-probe: "
            f"'{script}' is not an ELF file; give a program or shared library\n")

    def test_environ_probe_directory(self):
        status, err = self.probe_error(f"{self.tmp}:getenv")
        self.assertEqual(status, 2, err)
        self.assertEqual(
            err,
            f"snaptrig: invalid probe '{self.tmp}:getenv' for --environ-probe: "
            f"'{self.tmp}' is a directory; give the path of a program or "
            f"shared library\n")

    def test_attach_running_process(self):
        target = self.spawn([tool("st-getenv"), "-d", "1500", "-v", "TERM", "-w"])
        pid = int(target.wait_fact("pid"))
        run = self.trace(["-p", str(pid), "-t", "first-environ"],
                         stdin=subprocess.DEVNULL)
        run.wait_start()
        line = run.wait_trigger("first-environ", pid)
        self.assertEqual(line["detail"], {"source": "getenv", "name": "TERM"})
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("first-environ")), 1, run.describe())

    def test_untraced_process_silent(self):
        run = self.trace(["-t", "first-environ"], [tool("st-getenv"), "-n", "1", "-w"])
        pid = int(run.wait_fact("pid"))
        run.wait_trigger("first-environ", pid)
        other = self.spawn([tool("st-getenv"), "-n", "10"])
        self.assertEqual(other.wait_exit(), 0)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertNoLines(run, other.pid)
        self.assertEqual(len(run.triggers("first-environ")), 1, run.describe())


if __name__ == "__main__":
    unittest.main()
