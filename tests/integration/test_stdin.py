"""first-stdin: the first read of the file that was stdin, by any call and fd."""

import errno
import os
import socket
import subprocess
import unittest

from harness import SnaptrigTestCase, tool

DATA = b"0123456789abcdefghijklmnopqrstuvwxyz\n"

# Python code that defines positional reads of fd 0 as raw x86-64 system
# calls, because glibc's preadv(3) makes a preadv2 call. Each one writes
# "NAME RET ERRNO".
POSITIONAL_READS = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.syscall.restype = ctypes.c_long\n"
    "buf = ctypes.create_string_buffer(8)\n"
    "iov = (ctypes.c_ulong * 2)(ctypes.addressof(buf), 8)\n"
    "offset = ctypes.c_long(0)\n"
    "_, sink = os.pipe()\n"
    "def call(name, nr, *args):\n"
    "    ret = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])\n"
    "    err = ctypes.get_errno() if ret < 0 else 0\n"
    "    os.write(1, b'%s %d %d\\n' % (name.encode(), ret, err))\n"
    "def pread64(pos): call('pread64', 17, 0, ctypes.addressof(buf), 8, pos)\n"
    "def preadv(pos): call('preadv', 295, 0, ctypes.addressof(iov), 1, pos, 0)\n"
    "def preadv2(pos): call('preadv2', 327, 0, ctypes.addressof(iov), 1, pos, 0, 0)\n"
    "def sendfile(): call('sendfile', 40, sink, 0, ctypes.addressof(offset), 8)\n"
    "def splice(): call('splice', 275, 0, ctypes.addressof(offset), sink, 0, 8, 0)\n"
    "null = os.open('/dev/null', os.O_WRONLY)\n"
    "out = os.open(os.environ['OUT_FILE'], os.O_WRONLY | os.O_CREAT, 0o600)\n"
    "def sendfile_null(): call('sendfile_null', 40, null, 0, 0, 8)\n"
    "def sendfile_pipe(): call('sendfile_pipe', 40, sink, 0, 0, 8)\n"
    "def copy_range(): call('copy_range', 326, 0, 0, out, 0, 8, 0)\n"
    "def copy_range_at(): call('copy_range_at', 326, 0, ctypes.addressof(offset), out, 0, 8, 0)\n"
    "def splice_file(): call('splice_file', 275, 0, 0, out, 0, 8, 0)\n"
    "def tee(): call('tee', 276, 0, sink, 8, 0)\n"
    "os.write(1, b'pid %d\\n' % os.getpid())\n"
)


class StdinTest(SnaptrigTestCase):

    def input_file(self):
        path = os.path.join(self.tmp, "stdin.txt")
        with open(path, "wb") as f:
            f.write(DATA)
        return path

    def run_reader(self, tool_args, stdin, data=None):
        """Trace st-stdin with tool_args until it exits; return run and pid."""
        run = self.trace(["-t", "first-stdin"], [tool("st-stdin")] + tool_args,
                         stdin=stdin)
        if data is not None:
            run.write_stdin(data)
            run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertExited(run, pid, 0, comm="st-stdin")
        return run, pid

    def assertFirstStdin(self, run, pid, fd, call, via="syscall", comm="st-stdin"):
        lines = run.triggers("first-stdin")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["pid"], pid)
        self.assertEqual(lines[0]["tid"], pid)
        self.assertEqual(lines[0]["comm"], comm)
        self.assertEqual(lines[0]["detail"], {"fd": fd, "call": call, "via": via})
        # traced from its first instruction: this read is the first for certain
        self.assertNotIn("since", lines[0])
        self.assertLess(lines[0]["seq"], run.exits(pid)[0]["seq"])

    def test_pipe_calls(self):
        for call in ("read", "readv"):
            with self.subTest(call=call):
                run, pid = self.run_reader(["-c", call], subprocess.PIPE, DATA)
                self.assertFirstStdin(run, pid, 0, call)

    def test_file_calls(self):
        path = self.input_file()
        for call in ("read", "pread64", "preadv", "preadv2"):
            with self.subTest(call=call), open(path, "rb") as stdin:
                run, pid = self.run_reader(["-c", call], stdin)
                self.assertFirstStdin(run, pid, 0, call)

    def test_socket_calls(self):
        for call in ("recvfrom", "recvmsg", "recvmmsg"):
            with self.subTest(call=call):
                ours, theirs = socket.socketpair()
                with ours, theirs:
                    ours.sendall(DATA)
                    run, pid = self.run_reader(["-c", call, "-n", "1"], theirs)
                self.assertFirstStdin(run, pid, 0, call)

    def test_dup_of_stdin(self):
        run, pid = self.run_reader(["-d"], subprocess.PIPE, DATA)
        fd = int(run.fact_values("fd")[0])
        self.assertNotEqual(fd, 0)
        self.assertFirstStdin(run, pid, fd, "read")

    def test_dup2_of_stdin(self):
        run, pid = self.run_reader(["-D", "9", "-c", "readv"], subprocess.PIPE, DATA)
        self.assertEqual(run.fact_values("fd"), ["9"])
        self.assertFirstStdin(run, pid, 9, "readv")

    def test_stdin_file_opened_again(self):
        """A new descriptor on the file that is stdin still reads stdin."""
        path = self.input_file()
        with open(path, "rb") as stdin:
            run, pid = self.run_reader(["-f", path], stdin)
        fd = int(run.fact_values("fd")[0])
        self.assertFirstStdin(run, pid, fd, "read")

    def test_descriptor_received_by_scm_rights(self):
        """stdin passed over a unix socket and read through the new descriptor."""
        script = ("import os, socket\n"
                  "ours, theirs = socket.socketpair()\n"
                  "socket.send_fds(ours, [b'x'], [0])\n"
                  "_, fds, _, _ = socket.recv_fds(theirs, 1, 1)\n"
                  "os.write(1, b'pid %d\\n' % os.getpid())\n"
                  "os.write(1, b'fd %d\\n' % fds[0])\n"
                  "os.read(fds[0], 4)\n")
        run = self.trace(["-t", "first-stdin"], ["/usr/bin/python3", "-c", script],
                         stdin=subprocess.PIPE)
        run.write_stdin(DATA)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        fd = int(run.fact_values("fd")[0])
        self.assertNotEqual(fd, 0)
        self.assertFirstStdin(run, pid, fd, "read", comm="python3")

    def run_python(self, script, stdin):
        """Trace python3 -c script until it exits; return the run and its pid."""
        run = self.trace(["-t", "first-stdin"], ["/usr/bin/python3", "-c", script],
                         stdin=stdin)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        return run, int(run.fact_values("pid")[0])

    def test_failed_recv_not_counted(self):
        """A recv on a stdin that is no socket fails with ENOTSOCK and reads nothing."""
        script = ("import ctypes, os\n"
                  "libc = ctypes.CDLL(None, use_errno=True)\n"
                  "buf = ctypes.create_string_buffer(8)\n"
                  "ret = libc.recv(0, buf, 8, 0)\n"
                  "os.write(1, b'recv %d %d\\n' % (ret, ctypes.get_errno()))\n"
                  "os.write(1, b'pid %d\\n' % os.getpid())\n"
                  "os.read(0, 4)\n")
        with open(self.input_file(), "rb") as stdin:
            run, pid = self.run_python(script, stdin)
        self.assertEqual(run.fact_values("recv"), [f"-1 {errno.ENOTSOCK}"])
        self.assertFirstStdin(run, pid, 0, "read", comm="python3")

    def run_positional(self, calls, stdin, data=None):
        """Trace POSITIONAL_READS followed by calls; return the run and its pid."""
        env = dict(os.environ, OUT_FILE=os.path.join(self.tmp, "copy.out"))
        run = self.trace(["-t", "first-stdin"],
                         ["/usr/bin/python3", "-c", POSITIONAL_READS + calls], stdin=stdin,
                         env=env)
        if data is not None:
            run.write_stdin(data)
            run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        return run, int(run.fact_values("pid")[0])

    def test_pipe_calls_fail_unread(self):
        """On a pipe, reads at an offset fail with ESPIPE, and sendfile and
        copy_file_range with EINVAL, before reading anything."""
        for call, err in (("pread64(0)", errno.ESPIPE), ("preadv(0)", errno.ESPIPE),
                          ("preadv2(0)", errno.ESPIPE), ("sendfile()", errno.ESPIPE),
                          ("splice()", errno.ESPIPE), ("sendfile_null()", errno.EINVAL),
                          ("sendfile_pipe()", errno.EINVAL), ("copy_range()", errno.EINVAL)):
            name = call.partition("(")[0]
            with self.subTest(call=name):
                run, pid = self.run_positional(call + "\nos.read(0, 4)\n",
                                               subprocess.PIPE, DATA)
                self.assertEqual(run.fact_values(name), [f"-1 {err}"])
                self.assertFirstStdin(run, pid, 0, "read", comm="python3")

    def test_socket_sendfile_needs_pipe(self):
        """From a socket, sendfile works into a pipe only; copy_file_range never does."""
        for call, result, first in (("sendfile_null()", f"-1 {errno.EINVAL}", "read"),
                                    ("copy_range()", f"-1 {errno.EINVAL}", "read"),
                                    ("sendfile_pipe()", "8 0", "sendfile")):
            name = call.partition("(")[0]
            with self.subTest(call=name):
                ours, theirs = socket.socketpair()
                with ours, theirs:
                    ours.sendall(DATA)
                    run, pid = self.run_positional(call + "\nos.read(0, 4)\n", theirs)
                self.assertEqual(run.fact_values(name), [result])
                self.assertFirstStdin(run, pid, 0, first, comm="python3")

    def test_negative_offsets_fail(self):
        """A negative offset fails with EINVAL before reading, even on a file."""
        for call, err in (("pread64(-1)", errno.EINVAL), ("preadv(-1)", errno.EINVAL),
                          ("preadv2(-2)", errno.EINVAL),
                          ("offset.value = -1; sendfile()", errno.EINVAL),
                          ("offset.value = -8; splice()", errno.EINVAL),
                          ("offset.value = -5; copy_range_at()", errno.EOVERFLOW)):
            name = call.rpartition(" ")[2].partition("(")[0]
            with self.subTest(call=name), open(self.input_file(), "rb") as stdin:
                run, pid = self.run_positional(call + "\nos.read(0, 4)\n", stdin)
                self.assertEqual(run.fact_values(name), [f"-1 {err}"])
                self.assertFirstStdin(run, pid, 0, "read", comm="python3")

    def test_pipe_calls_need_a_pipe(self):
        """splice needs a pipe on one side and tee on both: from a regular file,
        splice into a file and tee fail with EINVAL before reading."""
        for call in ("splice_file()", "tee()"):
            name = call.partition("(")[0]
            with self.subTest(call=name), open(self.input_file(), "rb") as stdin:
                run, pid = self.run_positional(call + "\nos.read(0, 4)\n", stdin)
                self.assertEqual(run.fact_values(name), [f"-1 {errno.EINVAL}"])
                self.assertFirstStdin(run, pid, 0, "read", comm="python3")

    def test_pipe_stdin_splice_and_tee_read(self):
        """From a pipe, splice into a file and tee into a pipe read, and count."""
        for call, first in (("splice_file()", "splice"), ("tee()", "tee")):
            name = call.partition("(")[0]
            with self.subTest(call=name):
                run, pid = self.run_positional(call + "\n", subprocess.PIPE, DATA)
                self.assertEqual(run.fact_values(name), ["8 0"])
                self.assertFirstStdin(run, pid, 0, first, comm="python3")

    def test_pipe_preadv2_at_position(self):
        """preadv2 with offset -1 reads at the file position, which a pipe has."""
        run, pid = self.run_positional("preadv2(-1)\n", subprocess.PIPE, DATA)
        self.assertEqual(run.fact_values("preadv2"), ["8 0"])
        self.assertFirstStdin(run, pid, 0, "preadv2", comm="python3")

    def test_file_calls_read(self):
        """On a regular file the same calls read, and the first one counts."""
        for call, first in (("pread64(4)", "pread64"), ("preadv(4)", "preadv"),
                            ("preadv2(4)", "preadv2"), ("sendfile()", "sendfile"),
                            ("splice()", "splice"), ("sendfile_null()", "sendfile"),
                            ("sendfile_pipe()", "sendfile"), ("copy_range()", "copy_file_range")):
            name = call.partition("(")[0]
            with self.subTest(call=name), open(self.input_file(), "rb") as stdin:
                run, pid = self.run_positional(call + "\n", stdin)
                self.assertEqual(run.fact_values(name), ["8 0"])
                self.assertFirstStdin(run, pid, 0, first, comm="python3")

    def test_write_only_stdin_read_fails(self):
        """A read of a stdin open only for writing fails with EBADF; a reopen reads it."""
        script = ("import os\n"
                  "try:\n"
                  "    os.read(0, 4)\n"
                  "except OSError as e:\n"
                  "    os.write(1, b'failed %d\\n' % e.errno)\n"
                  "fd = os.open('/proc/self/fd/0', os.O_RDONLY)\n"
                  "os.write(1, b'pid %d\\n' % os.getpid())\n"
                  "os.write(1, b'fd %d\\n' % fd)\n"
                  "os.read(fd, 4)\n")
        with open(self.input_file(), "ab") as stdin:
            run, pid = self.run_python(script, stdin)
        self.assertEqual(run.fact_values("failed"), [str(errno.EBADF)])
        self.assertFirstStdin(run, pid, int(run.fact_values("fd")[0]), "read", comm="python3")

    def test_each_program_reads_its_own_stdin(self):
        """A redirected command and a pipeline stage read their own fd 0."""
        path = self.input_file()
        script = "cat < /etc/hostname > /dev/null; echo hi | cat > /dev/null; head -c 1 > /dev/null"
        with open(path, "rb") as stdin:
            run = self.trace(["-t", "first-stdin,bootstrap"], ["/bin/sh", "-c", script],
                             stdin=stdin)
            self.assertEqual(run.wait_exit(), 0, run.describe())
        readers = [(line["pid"], line["comm"]) for line in run.triggers("bootstrap")
                   if line["comm"] in ("cat", "head")]
        self.assertEqual([comm for _, comm in readers], ["cat", "cat", "head"], run.describe())
        lines = run.triggers("first-stdin")
        self.assertEqual([(line["pid"], line["comm"]) for line in lines], readers,
                         run.describe())
        for line in lines:
            self.assertEqual(line["detail"], {"fd": 0, "call": "read", "via": "syscall"})

    def test_other_file_does_not_fire(self):
        other = os.path.join(self.tmp, "other.txt")
        with open(other, "wb") as f:
            f.write(DATA)
        run, pid = self.run_reader(["-f", other], subprocess.PIPE)
        self.assertEqual(run.fact_values("read"),
                         [{"call": "read", "bytes": "8"}] * 2)
        self.assertEqual(run.triggers("first-stdin"), [], run.describe())
        run.close_stdin()

    def test_child_has_own_once_bit(self):
        """The shell reads stdin, then a child it forks reads the same pipe."""
        run = self.trace(["-t", "first-stdin,bootstrap"],
                         ["/bin/sh", "-c", "read line; /bin/cat >/dev/null; exit 0"])
        start = run.wait_start()
        run.write_stdin(b"first line\nrest for cat\n")
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        shell = start["targets"][0]
        cats = [l["pid"] for l in run.triggers("bootstrap")
                if l["detail"]["filename"] == "/bin/cat"]
        self.assertEqual(len(cats), 1, run.describe())
        lines = run.triggers("first-stdin")
        self.assertEqual([l["pid"] for l in lines], [shell, cats[0]], run.describe())
        self.assertEqual(lines[0]["comm"], "sh")
        self.assertEqual(lines[1]["comm"], "cat")
        for line in lines:
            self.assertEqual(line["detail"], {"fd": 0, "call": "read", "via": "syscall"})

    def test_untraced_reader_no_line(self):
        run = self.trace(["-t", "first-stdin"], [tool("st-stdin"), "-n", "1"])
        pid = int(run.wait_fact("pid"))
        run.wait_start()
        untraced = self.spawn([tool("st-stdin"), "-n", "1"])
        untraced.proc.stdin.write(DATA)
        untraced.close_stdin()
        self.assertEqual(untraced.wait_exit(), 0, untraced.describe())
        run.write_stdin(DATA)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertFirstStdin(run, pid, 0, "read")
        self.assertNoLines(run, untraced.pid)


if __name__ == "__main__":
    unittest.main()
