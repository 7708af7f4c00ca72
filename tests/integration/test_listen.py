"""first-listen: once per process, with the address of the socket."""

import http.client
import errno
import os
import re
import signal
import socket
import subprocess
import threading
import unittest

from harness import PYTHON, SnaptrigTestCase, tool


def own_comm():
    with open("/proc/self/comm", encoding="utf-8") as f:
        return f.read().rstrip("\n")


def ipv6_loopback_works():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class ListenTest(SnaptrigTestCase):

    def run_listener(self, tool_args, triggers="first-listen"):
        """Trace st-listener with tool_args until it has listened on all sockets.

        Returns the run and the tool's pid; the tool waits for stdin to close.
        """
        run = self.trace(["-t", triggers], [tool("st-listener")] + tool_args)
        pid = int(run.wait_fact("pid"))
        run.wait_fact("ready")
        run.wait_trigger("first-listen", pid)
        return run, pid

    def finish(self, run, pid):
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertExited(run, pid, 0, comm="st-listener")

    def test_two_sockets_fire_once(self):
        run, pid = self.run_listener(["0", "0"])
        untraced = self.spawn([tool("st-listener"), "0", "0"])
        untraced.wait_fact("ready")
        untraced.close_stdin()
        self.assertEqual(untraced.wait_exit(), 0)
        self.finish(run, pid)

        first, second = run.fact_values("listen")
        lines = run.triggers("first-listen")
        self.assertEqual(len(lines), 1, run.describe())
        line = lines[0]
        self.assertEqual(line["pid"], pid)
        self.assertEqual(line["tid"], pid)
        self.assertEqual(line["comm"], "st-listener")
        self.assertEqual(line["detail"], {
            "fd": int(first["fd"]),
            "backlog": 16,
            "via": "syscall",
            "family": "inet",
            "address": "127.0.0.1",
            "port": int(first["port"]),
        })
        self.assertNotEqual(first["port"], second["port"])
        self.assertNoLines(run, untraced.pid)

    def run_python(self, script):
        """Trace python3 -c script with -t first-listen until it exits 0; return the run."""
        run = self.trace(["-t", "first-listen"], ["/usr/bin/python3", "-c", script],
                         stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        return run

    def assertOneListen(self, run, backlog, address):
        """Assert one first-listen line on the socket whose fd and port the script wrote."""
        lines = run.triggers("first-listen")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["detail"], {
            "fd": int(run.fact_values("fd")[0]), "backlog": backlog, "via": "syscall",
            "family": "inet", "address": address,
            "port": int(run.fact_values("port")[0])})

    def test_port_bound_by_listen(self):
        """listen(2) on an unbound socket picks the port; the line names it."""
        script = ("import os, socket\n"
                  "s = socket.socket()\n"
                  "s.listen(3)\n"
                  "os.write(1, b'port %d\\n' % s.getsockname()[1])\n"
                  "os.write(1, b'fd %d\\n' % s.fileno())\n")
        run = self.run_python(script)
        self.assertOneListen(run, 3, "0.0.0.0")

    def test_failed_listen_not_counted(self):
        """A listen(2) that fails listens on nothing; the next one is the first."""
        script = ("import os, socket\n"
                  "datagram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  "datagram.bind(('127.0.0.1', 0))\n"
                  "try:\n"
                  "    datagram.listen(2)\n"
                  "except OSError as e:\n"
                  "    os.write(1, b'failed %d\\n' % e.errno)\n"
                  "s = socket.socket()\n"
                  "s.bind(('127.0.0.1', 0))\n"
                  "s.listen(5)\n"
                  "os.write(1, b'port %d\\n' % s.getsockname()[1])\n"
                  "os.write(1, b'fd %d\\n' % s.fileno())\n")
        run = self.run_python(script)
        self.assertEqual(run.fact_values("failed"), [str(errno.EOPNOTSUPP)])
        self.assertOneListen(run, 5, "127.0.0.1")

    def test_backlog_in_detail(self):
        run, pid = self.run_listener(["-b", "3", "0"])
        self.finish(run, pid)
        detail = run.triggers("first-listen")[0]["detail"]
        self.assertEqual(detail["backlog"], 3)

    @unittest.skipUnless(ipv6_loopback_works(), "IPv6 loopback is not configured")
    def test_inet6_address(self):
        run, pid = self.run_listener(["-6", "0"])
        self.finish(run, pid)
        facts = run.fact_values("listen")[0]
        lines = run.triggers("first-listen")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["detail"], {
            "fd": int(facts["fd"]),
            "backlog": 16,
            "via": "syscall",
            "family": "inet6",
            "address": "::1",
            "port": int(facts["port"]),
        })

    def test_unix_path(self):
        path = os.path.join(self.tmp, "listen.sock")
        run, pid = self.run_listener(["-u", path])
        self.finish(run, pid)
        facts = run.fact_values("listen")[0]
        lines = run.triggers("first-listen")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["detail"], {
            "fd": int(facts["fd"]),
            "backlog": 16,
            "via": "syscall",
            "family": "unix",
            "path": path,
        })

    def test_unix_abstract_name(self):
        name = f"snaptrig-test-{os.getpid()}"
        run, pid = self.run_listener(["-U", name])
        self.finish(run, pid)
        lines = run.triggers("first-listen")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["detail"]["family"], "unix")
        self.assertEqual(lines[0]["detail"]["path"], "@" + name)

    def run_unix_listen(self, name, text=False):
        """Trace python3 listening on the unix socket name (bytes); return the run.

        bind(2) gets exactly the bytes of name, with no '\\0' after a path,
        which Python's own bind() would reject for a 108-byte path.
        """
        script = ("import ctypes, os, socket\n"
                  "libc = ctypes.CDLL(None, use_errno=True)\n"
                  "s = socket.socket(socket.AF_UNIX)\n"
                  f"address = socket.AF_UNIX.to_bytes(2, 'little') + {name!r}\n"
                  "if libc.bind(s.fileno(), address, len(address)):\n"
                  "    raise OSError(ctypes.get_errno(), 'bind failed')\n"
                  "s.listen(2)\n"
                  "os.write(1, b'fd %d\\n' % s.fileno())\n")
        args = ["-t", "first-listen"] + (["--format", "text"] if text else [])
        run = self.trace(args, [PYTHON, "-c", script], stdin=subprocess.DEVNULL)
        self.assertEqual(run.wait_exit(check=not text), 0, run.describe())
        return run

    def test_unix_name_every_byte(self):
        """Every byte of a name reaches the line, '\\0' included, escaped as JSON."""
        long_path = os.path.join(self.tmp, "")
        long_path += "p" * (108 - len(long_path))
        cases = [
            (b"\0ab\0c\n\xff=", "@ab\0c\n\ufffd="),
            (b"\0" + b"n" * 107, "@" + "n" * 107),
            (b"\0", "@"),
            (os.fsencode(long_path), long_path),
        ]
        for name, path in cases:
            with self.subTest(name=name):
                run = self.run_unix_listen(name)
                lines = run.triggers("first-listen")
                self.assertEqual(len(lines), 1, run.describe())
                self.assertEqual(lines[0]["detail"], {
                    "fd": int(run.fact_values("fd")[0]), "backlog": 2, "via": "syscall",
                    "family": "unix", "path": path})

    def test_unix_name_text_format(self):
        """The text format writes each byte of the name outside printable ASCII as \\xNN."""
        run = self.run_unix_listen(b"\0ab\0c\n\xff= ", text=True)
        words = [value.split() for _, value in run.facts
                 if isinstance(value, str) and value.split()[:1] == ["first-listen"]]
        self.assertEqual(len(words), 1, run.describe())
        self.assertEqual(words[0][4:], [
            f"fd={run.fact_values('fd')[0]}", "family=unix",
            "path=@ab\\x00c\\x0a\\xff\\x3d\\x20", "backlog=2", "via=syscall"])

    def test_inet_then_unix_fires_once(self):
        path = os.path.join(self.tmp, "second.sock")
        run, pid = self.run_listener(["0", "-u", path])
        self.finish(run, pid)
        lines = run.triggers("first-listen")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["detail"]["family"], "inet")

    def test_children_have_own_once_bit(self):
        run = self.trace(["-t", "first-listen"],
                         [tool("st-forker"), "-n", "2", "-a", "listen", "-P"])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        parent = int(run.fact_values("pid")[0])
        children = [int(c) for c in run.fact_values("child")]
        self.assertEqual(len(children), 2, run.describe())
        for pid in [parent] + children:
            lines = run.triggers("first-listen", pid=pid)
            self.assertEqual(len(lines), 1, f"pid {pid}" + run.describe())
            self.assertEqual(lines[0]["tid"], pid)
            self.assertEqual(lines[0]["comm"], "st-forker")
            self.assertEqual(lines[0]["detail"]["family"], "inet")
            self.assertEqual(lines[0]["detail"]["address"], "127.0.0.1")
            self.assertEqual(lines[0]["detail"]["backlog"], 4)
        self.assertEqual(len(run.triggers("first-listen")), 3)

    def test_default_set_has_first_listen(self):
        run = self.trace([], [tool("st-listener"), "0"])
        pid = int(run.wait_fact("pid"))
        start = run.wait_start()
        self.assertEqual(start["triggers"], ["first-listen", "first-stdin",
                                             "first-environ", "idle", "explicit"])
        run.wait_trigger("first-listen", pid)
        self.finish(run, pid)
        self.assertEqual(len(run.triggers("first-listen")), 1)


class HttpServerTest(SnaptrigTestCase):

    def test_http_server_listen_and_sigint(self):
        run = self.trace(
            ["-t", "bootstrap,first-listen,first-sigint,sigint"],
            [PYTHON, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
            stdin=subprocess.DEVNULL, cwd=self.tmp)
        start = run.wait_start()
        server = start["targets"][0]
        serving = run.out.wait(lambda l: l.startswith("Serving HTTP on "))
        self.assertIsNotNone(serving, run.describe())
        port = int(re.search(r" port (\d+) ", serving).group(1))
        run.wait_trigger("first-listen", server)
        # A served request shows the server is inside serve_forever(), where
        # SIGINT ends it with exit code 0. Sent earlier, the KeyboardInterrupt
        # would kill it with SIGINT instead.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/")
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            conn.close()

        os.kill(server, signal.SIGINT)
        self.assertEqual(run.wait_exit(), 0, run.describe())

        boots = run.triggers("bootstrap", server)
        self.assertEqual(len(boots), 1, run.describe())
        self.assertEqual(boots[0]["detail"], {
            "filename": PYTHON, "ppid": run.pid, "old_tid": server})
        listens = run.triggers("first-listen")
        self.assertEqual(len(listens), 1, run.describe())
        self.assertEqual(listens[0]["pid"], server)
        self.assertEqual(listens[0]["detail"]["family"], "inet")
        self.assertEqual(listens[0]["detail"]["address"], "127.0.0.1")
        self.assertEqual(listens[0]["detail"]["port"], port)
        self.assertEqual(listens[0]["detail"]["backlog"], 5)

        sender = {"pid": os.getpid(), "tid": threading.get_native_id(),
                  "comm": own_comm()}
        for name in ("first-sigint", "sigint"):
            lines = run.triggers(name)
            self.assertEqual(len(lines), 1, name + run.describe())
            self.assertEqual(lines[0]["pid"], server)
            self.assertEqual(lines[0]["detail"], {
                "signal": 2, "name": "SIGINT", "code": 0, "thread": False,
                "result": "delivered", "sender": sender})
        self.assertExited(run, server, 0)
        exit_line = run.exits(server)[0]
        self.assertGreater(exit_line["seq"], run.triggers("sigint")[0]["seq"])


if __name__ == "__main__":
    unittest.main()
