"""explicit and transaction through the markers of include/snaptrig.h."""

import os
import shutil
import subprocess
import time
import unittest

from harness import PYTHON, ROOT, TIMEOUT, SnaptrigTestCase, tool, wait_state

MARKER_SOURCE = """
#include "snaptrig.h"
void mark(void) { SNAPTRIG_SNAPSHOT(); SNAPTRIG_TRANSACTION(); }
"""

# A program whose markers are in a shared library. It waits before the first
# one, because the agent examines the libraries a little after the exec.
LIBRARY_MAIN = """
#include <stdio.h>
#include <unistd.h>
void mark(void);
int main(void)
{
	char go;

	printf("pid %d\\n", getpid());
	fflush(stdout);
	/* the library's markers are attached a while after the exec */
	if (read(0, &go, 1) != 1)
		return 1;
	mark();
	mark();
	return 0;
}
"""

# The same, reaching the library's markers first thing.
LIBRARY_AT_START = """
#include <stdio.h>
#include <unistd.h>
void mark(void);
int main(void)
{
	mark();
	mark();
	printf("pid %d\\n", getpid());
	return 0;
}
"""

# Waits until standard input has a byte or ends, loads the library named by
# its first argument with dlopen(3), waits the milliseconds of its second,
# and reaches the library's markers.
DLOPEN_MAIN = """
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	void (*mark)(void);
	void *lib;
	char go;

	printf("pid %d\\n", getpid());
	fflush(stdout);
	if (argc != 3 || read(0, &go, 1) < 0)
		return 2;
	lib = dlopen(argv[1], RTLD_NOW);
	if (!lib)
		return 1;
	mark = (void (*)(void))dlsym(lib, "mark");
	if (!mark)
		return 1;
	usleep(atoi(argv[2]) * 1000);
	mark();
	mark();
	return 0;
}
"""

# Runs a copy of /bin/true, deletes it, and copies a marker program until the
# copy gets the deleted file's inode number, then runs that copy once.
REUSE_INODE = """
import os, shutil, subprocess, sys
folder, marker = sys.argv[1], sys.argv[2]
for attempt in range(20):
    plain = os.path.join(folder, f"plain{attempt}")
    shutil.copy("/bin/true", plain)
    subprocess.run([plain], check=True)
    number = os.stat(plain).st_ino
    os.unlink(plain)
    marked = os.path.join(folder, f"marked{attempt}")
    shutil.copy(marker, marked)
    if os.stat(marked).st_ino == number:
        out = subprocess.run([marked, "-n", "1"], capture_output=True, text=True, check=True)
        print("reused", out.stdout.split()[1], flush=True)
        break
    os.unlink(marked)
"""

# Two snapshot places and one transaction place, each reached once.
SPLIT_MARKERS = """
#include "snaptrig.h"
int main(void)
{
	SNAPTRIG_SNAPSHOT();
	SNAPTRIG_SNAPSHOT();
	SNAPTRIG_TRANSACTION();
	return 0;
}
"""


def has_stapsdt_note(path):
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True,
                         check=True).stdout
    return ".note.stapsdt" in out


class ExplicitTest(SnaptrigTestCase):

    def test_snapshot_marker_count(self):
        run = self.trace(["-t", "explicit"], [tool("st-marker"), "-n", "4"])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = start["targets"][0]
        lines = run.triggers("explicit")
        self.assertEqual(len(lines), 4, run.describe())
        for line in lines:
            self.assertEqual((line["pid"], line["tid"]), (pid, pid))
            self.assertEqual(line["comm"], "st-marker")
            self.assertEqual(line["detail"], {"source": "marker"})
        self.assertExited(run, pid, 0, comm="st-marker")

    def test_default_triggers_include_explicit(self):
        run = self.trace([], [tool("st-marker"), "-n", "2", "-p", "1"])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertIn("explicit", start["triggers"])
        self.assertEqual(len(run.triggers("explicit", start["targets"][0])), 2,
                         run.describe())

    def test_transaction_marker_count(self):
        run = self.trace(["-t", "transaction", "--cooldown", "100ms"],
                         [tool("st-marker"), "-n", "0", "-m", "7", "-p", "30"])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = start["targets"][0]
        lines = run.triggers("transaction")
        self.assertGreaterEqual(len(lines), 2, run.describe())
        for line in lines:
            self.assertEqual(line["pid"], pid)
            self.assertEqual(line["detail"]["source"], "marker")
            self.assertEqual(line["detail"]["call"], "marker")
            self.assertEqual(set(line["detail"]["calls"]), {"marker"})
        self.assertEqual(sum(l["detail"]["count"] for l in lines), 7, run.describe())
        self.assertIs(lines[0]["detail"]["coalesced"], False)
        self.assertEqual(lines[0]["detail"]["count"], 1)

    def test_text_transaction_marker_source(self):
        """A text transaction line from a marker has source=marker, as JSON does."""
        run = self.trace(["-t", "transaction", "--cooldown", "0s", "--format", "text"],
                         [tool("st-marker"), "-n", "0", "-m", "2", "-p", "30"])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        lines = [value.split() for _, value in run.facts
                 if isinstance(value, str) and value.split()[:1] == ["transaction"]]
        self.assertEqual(len(lines), 2, run.describe())
        for line in lines:
            self.assertEqual(line[4:], ["call=marker", "count=1", "coalesced=no",
                                        "source=marker"])

    def test_snapshot_not_transaction(self):
        """Only the selected trigger's marker reports."""
        run = self.trace(["-t", "explicit"], [tool("st-marker"), "-n", "1", "-m", "3"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("explicit")), 1, run.describe())
        self.assertEqual(run.triggers("transaction"), [])

    def test_exec_later_is_attached(self):
        """A traced process that execs st-marker later is attached at its exec.

        st-marker places its first marker at once: the exec of an image the
        agent has not examined waits stopped until its markers are attached.
        """
        run = self.trace(["-t", "explicit"],
                         [tool("st-getenv"), "-n", "0", "-f", "1", "-x",
                          tool("st-marker"), "-d", "0", "-p", "0", "-n", "3"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        children = [int(c) for c in run.fact_values("child")]
        self.assertEqual(len(children), 1, run.describe())
        lines = run.triggers("explicit")
        self.assertEqual([l["pid"] for l in lines], children * 3, run.describe())
        self.assertTrue(all(l["comm"] == "st-marker" for l in lines))

    def test_marker_sites_full(self):
        """Past --marker-sites places, later files are skipped, without a crash.

        Each copy of st-marker is a file of its own with two marker places,
        so 4 copies fill 8 places. The 5th copy's marker is not seen, and a
        copy attached before still is.
        """
        copies = []
        for i in range(5):
            path = os.path.join(self.tmp, f"marker{i}")
            shutil.copy(tool("st-marker"), path)
            copies.append(path)
        script = os.path.join(self.tmp, "run-all.sh")
        with open(script, "w", encoding="ascii") as f:
            f.write("#!/bin/sh\n")
            for path in copies[:-1]:
                f.write(f"{path} -n 0 -m 0 -d 0 -p 0 || exit 1\n")
            f.write(f"{copies[-1]} -n 1 -d 0 -p 0 || exit 1\n")
            f.write(f"{copies[0]} -n 1 -d 0 -p 0 || exit 1\n")
        os.chmod(script, 0o755)
        run = self.trace(["-t", "explicit,transaction", "--marker-sites", "8"], [script])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pids = [int(p) for p in run.fact_values("pid")]
        self.assertEqual(len(pids), 6, run.describe())
        lines = run.triggers("explicit")
        self.assertEqual([l["pid"] for l in lines], [pids[-1]], run.describe())
        full = [l for l in run.err.lines if "marker limit reached" in l]
        self.assertEqual(len(full), 1, run.describe())
        self.assertEqual(full[0], "snaptrig: marker limit reached: 8 of --marker-sites 8 places "
                         "are in use, so the snapshot marker (1 place) and the transaction "
                         f"marker (1 place) in {copies[-1]} are not attached, and no marker "
                         "of a file examined later will be (raise --marker-sites to at least "
                         "10)")

    def test_marker_limit_names_kind(self):
        """A file whose snapshot places fit and whose transaction place does not.

        The markers of a file are attached one kind at a time, so the two
        SNAPTRIG_SNAPSHOT() places fill --marker-sites 2 and still report,
        and only the transaction marker is named as not attached.
        """
        prog = os.path.join(self.tmp, "split-markers")
        subprocess.run(["gcc", "-x", "c", "-I", str(ROOT / "include"), "-o", prog, "-"],
                       input=SPLIT_MARKERS, text=True, check=True)
        run = self.trace(["-t", "explicit,transaction", "--marker-sites", "2"], [prog])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = start["targets"][0]
        self.assertEqual([l["pid"] for l in run.triggers("explicit")], [pid, pid],
                         run.describe())
        self.assertEqual(run.triggers("transaction"), [], run.describe())
        self.assertEqual(run.err.lines, [
            "snaptrig: marker limit reached: 2 of --marker-sites 2 places are in use, so the "
            f"transaction marker (1 place) in {prog} is not attached, and no marker of a file "
            "examined later will be (raise --marker-sites to at least 3)"])

    def test_marker_in_library(self):
        lib = os.path.join(self.tmp, "libmark.so")
        prog = os.path.join(self.tmp, "uses-libmark")
        subprocess.run(["gcc", "-shared", "-fPIC", "-x", "c", "-I", str(ROOT / "include"),
                        "-o", lib, "-"], input=MARKER_SOURCE, text=True, check=True)
        subprocess.run(["gcc", "-x", "c", "-o", prog, "-", "-L", self.tmp, "-lmark",
                        "-Wl,-rpath," + self.tmp], input=LIBRARY_MAIN, text=True,
                       check=True)
        run = self.trace(["-t", "explicit", "-v"], [prog])
        # the agent examines the libraries 100 ms after the exec, later on a busy machine
        attached = f"snaptrig: attached the snapshot marker in {lib}"
        self.assertIsNotNone(run.err.wait(lambda line: line == attached), run.describe())
        run.write_stdin(b"g")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        lines = run.triggers("explicit")
        self.assertEqual([l["pid"] for l in lines], [pid, pid], run.describe())

    def test_dlopen_under_strace(self):
        """A process under strace is not stopped at the mmap of a new library
        and closes its descriptor at once. Its markers are attached all the
        same, and so are the markers of a later process."""
        first = self.build_marker_library()
        second = os.path.join(self.tmp, "libmark2.so")
        shutil.copy(first, second)
        prog = self.build_dlopen_program()
        script = ('strace -f -qq -o /dev/null "$0" "$1" 300 && "$0" "$2" 300')
        run = self.trace(["-t", "explicit"], ["/bin/sh", "-c", script, prog, first, second],
                         stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pids = [int(p) for p in run.fact_values("pid")]
        self.assertEqual(len(pids), 2, run.describe())
        self.assertEqual([l["pid"] for l in run.triggers("explicit")],
                         [pids[0], pids[0], pids[1], pids[1]], run.describe())

    def test_new_file_at_reused_inode(self):
        """A new program that the file system gave a deleted program's inode
        number is examined as a new file, so its markers are attached."""
        run = self.trace(["-t", "explicit"],
                         [PYTHON, "-c", REUSE_INODE, self.tmp, tool("st-marker")],
                         stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        reused = run.fact_values("reused")
        self.assertEqual(len(reused), 1, "no copy got a deleted file's inode number in 20 tries"
                         + run.describe())
        self.assertEqual([l["pid"] for l in run.triggers("explicit")], [int(reused[0])],
                         run.describe())

    def build_dlopen_program(self):
        """Build DLOPEN_MAIN, which reaches the markers of a library it loads with dlopen(3)."""
        prog = os.path.join(self.tmp, "uses-dlopen")
        subprocess.run(["gcc", "-x", "c", "-o", prog, "-", "-ldl"], input=DLOPEN_MAIN,
                       text=True, check=True)
        return prog

    def build_marker_library(self):
        """Build libmark.so, whose mark() reaches a snapshot and a transaction marker."""
        lib = os.path.join(self.tmp, "libmark.so")
        subprocess.run(["gcc", "-shared", "-fPIC", "-x", "c", "-I", str(ROOT / "include"),
                        "-o", lib, "-"], input=MARKER_SOURCE, text=True, check=True)
        return lib

    def test_marker_in_library_at_start(self):
        """Markers of a library that no process had mapped, reached before main
        does anything else, are seen, because the process waits at the library's mmap."""
        lib = self.build_marker_library()
        prog = os.path.join(self.tmp, "marks-at-start")
        subprocess.run(["gcc", "-x", "c", "-o", prog, "-", "-L", self.tmp, "-lmark",
                        "-Wl,-rpath," + self.tmp], input=LIBRARY_AT_START, text=True,
                       check=True)
        run = self.trace(["-t", "explicit,transaction"], [prog], stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertEqual([(l["trigger"], l["pid"]) for l in run.triggers()],
                         [("explicit", pid), ("transaction", pid)] * 2, run.describe())

    def test_marker_in_dlopen_library(self):
        """Markers of a library loaded with dlopen(3) long after the exec are seen."""
        lib = self.build_marker_library()
        prog = self.build_dlopen_program()
        run = self.trace(["-t", "explicit"], [prog, lib, "0"])
        pid = int(run.wait_fact("pid"))
        # past the rescan of the libraries that the dynamic loader mapped
        time.sleep(0.3)
        run.write_stdin(b"g")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        lines = run.triggers("explicit")
        self.assertEqual([l["pid"] for l in lines], [pid, pid], run.describe())
        self.assertEqual([l["detail"]["source"] for l in lines], ["marker", "marker"])

    def attach_to_marker(self, flags, delete_file=False):
        """Attach to an st-marker with flags that places two markers; return its pid and lines.

        With delete_file, a copy of st-marker runs and its file is deleted first.
        """
        program = tool("st-marker")
        if delete_file:
            program = os.path.join(self.tmp, "st-marker-copy")
            shutil.copy(tool("st-marker"), program)
        target = self.spawn([program, *flags, "-g", "-n", "2", "-w"])
        pid = int(target.wait_fact("pid"))
        if delete_file:
            os.unlink(program)
        if "-l" in flags:
            self.assertEqual(wait_state(pid, {"Z"}), "Z")
        run = self.trace(["-p", str(pid), "-t", "explicit"], stdin=subprocess.DEVNULL)
        run.wait_start()
        # the markers come once the agent is attached, however long that took
        target.proc.stdin.write(b"g")
        target.proc.stdin.flush()
        target.wait_fact("done", timeout=TIMEOUT)
        target.close_stdin()
        self.assertEqual(target.wait_exit(), 0)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        lines = run.triggers("explicit")
        self.assertEqual([l["pid"] for l in lines], [pid, pid], run.describe())
        return pid, lines

    def test_attach_running_process(self):
        pid, lines = self.attach_to_marker([])
        self.assertEqual([l["tid"] for l in lines], [pid, pid])

    def test_attach_deleted_executable(self):
        """The markers of a running program whose file was deleted are attached."""
        pid, lines = self.attach_to_marker([], delete_file=True)
        self.assertEqual([l["tid"] for l in lines], [pid, pid])

    def test_attach_leader_exited(self):
        """Markers are found in a process whose main thread has exited."""
        pid, lines = self.attach_to_marker(["-l"])
        self.assertNotIn(pid, [l["tid"] for l in lines])

    def test_untraced_marker_silent(self):
        run = self.trace(["-t", "explicit"], [tool("st-marker"), "-n", "1", "-w"])
        pid = int(run.wait_fact("pid"))
        run.wait_trigger("explicit", pid)
        other = self.spawn([tool("st-marker"), "-n", "3", "-p", "1"])
        self.assertEqual(other.wait_exit(), 0)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertNoLines(run, other.pid)
        self.assertEqual(len(run.triggers("explicit")), 1, run.describe())

    def test_header_with_sdt(self):
        obj = os.path.join(self.tmp, "with.o")
        subprocess.run(["gcc", "-c", "-x", "c", "-I", str(ROOT / "include"), "-o", obj, "-"],
                       input=MARKER_SOURCE, text=True, check=True)
        self.assertTrue(has_stapsdt_note(obj))

    def test_header_pedantic_builds(self):
        """The markers build without a warning under -pedantic -Werror with
        gcc and clang, as C and as C++."""
        compilers = [["gcc", "-x", "c", "-std=c99"], ["gcc", "-x", "c", "-std=c11"],
                     ["g++", "-x", "c++", "-std=c++17"], ["clang", "-x", "c", "-std=c99"],
                     ["clang", "-x", "c", "-std=c11"], ["clang++", "-x", "c++", "-std=c++17"]]
        for compiler in compilers:
            with self.subTest(compiler=" ".join(compiler)):
                obj = os.path.join(self.tmp, "pedantic.o")
                result = subprocess.run(compiler + ["-c", "-pedantic", "-Wall", "-Wextra",
                                                    "-Werror", "-I", str(ROOT / "include"),
                                                    "-o", obj, "-"],
                                        input=MARKER_SOURCE, text=True, capture_output=True)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertTrue(has_stapsdt_note(obj))

    def test_header_without_sdt(self):
        """With no <sys/sdt.h> on the include path the macros compile to nothing."""
        obj = os.path.join(self.tmp, "without.o")
        subprocess.run(["gcc", "-nostdinc", "-c", "-x", "c", "-Wall", "-Werror",
                        "-I", str(ROOT / "include"), "-o", obj, "-"],
                       input=MARKER_SOURCE, text=True, check=True)
        self.assertFalse(has_stapsdt_note(obj))
        obj = os.path.join(self.tmp, "disabled.o")
        subprocess.run(["gcc", "-DSNAPTRIG_NO_MARKERS", "-c", "-x", "c",
                        "-I", str(ROOT / "include"), "-o", obj, "-"],
                       input=MARKER_SOURCE, text=True, check=True)
        self.assertFalse(has_stapsdt_note(obj))


if __name__ == "__main__":
    unittest.main()
