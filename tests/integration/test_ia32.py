"""ia32 system calls: a 32-bit program, and int $0x80 in a 64-bit one."""

import errno
import json
import os
import socket
import subprocess
import unittest

from harness import SnaptrigTestCase, bpf_fd_ids, tool

DATA = b"0123456789abcdefghijklmnopqrstuvwxyz\n"
IA32_TRIGGERS = "first-listen,first-stdin,non-deterministic-call,transaction"


def calls_detail(call, count, coalesced, via=None):
    """Return the detail of a non-deterministic-call or transaction line."""
    detail = {"call": call, "count": count, "calls": {call: count},
              "coalesced": coalesced, "source": "syscall"}
    if via is not None:
        detail["via"] = via
    return detail


def program_names(pid):
    """Return the names of the BPF programs that process pid has open."""
    ids = bpf_fd_ids(pid, "prog")
    out = subprocess.run(["bpftool", "prog", "show", "-j"], check=True,
                         capture_output=True, timeout=30).stdout
    return sorted(p["name"] for p in json.loads(out or b"[]") if p["id"] in ids)


class Ia32Test(SnaptrigTestCase):

    def run_tool(self, argv, stdin=subprocess.PIPE, data=None, args=None):
        """Trace argv until it exits with 0; return the run and its pid.

        int $0x80 in a 64-bit program is seen only with --ia32 on; a 32-bit
        program gets the hook with the default, --ia32 auto.
        """
        ia32 = ["--ia32", "on"] if argv[0] == tool("st-int80") else []
        run = self.trace(["-t", IA32_TRIGGERS] + ia32 + (args or []), argv, stdin=stdin)
        if data is not None:
            run.write_stdin(data)
            run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        return run, pid

    def assertOneTrigger(self, run, name, pid, comm, detail):
        lines = run.triggers(name)
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual(lines[0]["pid"], pid)
        self.assertEqual(lines[0]["tid"], pid)
        self.assertEqual(lines[0]["comm"], comm)
        self.assertEqual(lines[0]["detail"], detail)
        self.assertLess(lines[0]["seq"], run.exits(pid)[0]["seq"])

    def listen_detail(self, fd, port, via):
        return {"fd": fd, "backlog": 16, "via": via, "family": "inet",
                "address": "127.0.0.1", "port": port}

    def test_int80_read_stdin(self):
        run, pid = self.run_tool([tool("st-int80"), "-n", "2", "read"], data=DATA)
        self.assertEqual(run.fact_values("call"), [{"name": "read", "ret": "8"}] * 2)
        self.assertOneTrigger(run, "first-stdin", pid, "st-int80",
                              {"fd": 0, "call": "read", "via": "ia32"})
        self.assertExited(run, pid, 0, comm="st-int80")

    def test_int80_pipe_pread_fails(self):
        """pread64 of a pipe fails with ESPIPE before reading, so the read after it counts."""
        run, pid = self.run_tool([tool("st-int80"), "pread"], data=DATA)
        self.assertEqual(run.fact_values("call"), [
            {"name": "pread64", "ret": str(-errno.ESPIPE)}, {"name": "read", "ret": "8"}])
        self.assertOneTrigger(run, "first-stdin", pid, "st-int80",
                              {"fd": 0, "call": "read", "via": "ia32"})
        self.assertExited(run, pid, 0, comm="st-int80")

    def test_int80_file_pread(self):
        path = os.path.join(self.tmp, "stdin.txt")
        with open(path, "wb") as f:
            f.write(DATA)
        with open(path, "rb") as stdin:
            run, pid = self.run_tool([tool("st-int80"), "pread"], stdin=stdin)
        self.assertEqual(run.fact_values("call"), [
            {"name": "pread64", "ret": "8"}, {"name": "read", "ret": "8"}])
        self.assertOneTrigger(run, "first-stdin", pid, "st-int80",
                              {"fd": 0, "call": "pread64", "via": "ia32"})
        self.assertExited(run, pid, 0, comm="st-int80")

    def test_int80_listen(self):
        for mode in ("listen", "socketcall"):
            with self.subTest(mode=mode):
                run, pid = self.run_tool([tool("st-int80"), "-n", "2", mode],
                                         stdin=subprocess.DEVNULL)
                first, second = run.fact_values("listen")
                self.assertNotEqual(first["port"], second["port"])
                self.assertOneTrigger(run, "first-listen", pid, "st-int80",
                                      self.listen_detail(int(first["fd"]),
                                                         int(first["port"]), "ia32"))

    def test_int80_getrandom_own_windows(self):
        """With a 1 ns cooldown every call has a line of its own."""
        run, pid = self.run_tool([tool("st-int80"), "-n", "3", "getrandom"],
                                 stdin=subprocess.DEVNULL, args=["--cooldown", "1ns"])
        lines = run.triggers("non-deterministic-call", pid=pid)
        ia32 = [l for l in lines if l["detail"].get("via") == "ia32"]
        libc = [l for l in lines if l["detail"].get("via") != "ia32"]
        self.assertEqual([l["detail"] for l in ia32],
                         [calls_detail("getrandom", 1, False, "ia32")] * 3,
                         run.describe())
        # glibc's own calls at start take the x86-64 table
        for line in libc:
            self.assertEqual(line["detail"]["via"], "syscall", run.describe())
        for line in lines:
            self.assertEqual(line["tid"], pid)
            self.assertEqual(line["comm"], "st-int80")

    def test_int80_fsync_coalesced(self):
        run, pid = self.run_tool([tool("st-int80"), "-n", "3", "fsync"],
                                 stdin=subprocess.DEVNULL, args=["--cooldown", "5s"])
        lines = run.triggers("transaction")
        self.assertEqual([l["detail"] for l in lines],
                         [calls_detail("fsync", 1, False, "ia32"),
                          calls_detail("fsync", 2, True)], run.describe())
        for line in lines:
            self.assertEqual(line["pid"], pid)
            self.assertEqual(line["tid"], pid)
            self.assertEqual(line["comm"], "st-int80")

    def test_int80_open_urandom(self):
        run, pid = self.run_tool([tool("st-int80"), "-n", "2", "urandom"],
                                 stdin=subprocess.DEVNULL, args=["--cooldown", "1ns"])
        lines = [l for l in run.triggers("non-deterministic-call", pid=pid)
                 if l["detail"]["call"] == "open:/dev/urandom"]
        self.assertEqual([l["detail"] for l in lines],
                         [calls_detail("open:/dev/urandom", 1, False, "ia32")] * 2,
                         run.describe())

    def test_int80_open_other_name(self):
        """The open is judged by the file it opened, not by the path named."""
        link = os.path.join(self.tmp, "random-link")
        os.symlink("/dev/random", link)
        run, pid = self.run_tool([tool("st-int80"), "-f", link, "urandom"],
                                 stdin=subprocess.DEVNULL, args=["--cooldown", "1ns"])
        lines = [l for l in run.triggers("non-deterministic-call", pid=pid)
                 if l["detail"]["call"].startswith("open:")]
        self.assertEqual([l["detail"] for l in lines],
                         [calls_detail("open:/dev/random", 1, False, "ia32")],
                         run.describe())

    def test_int80_failed_open_not_counted(self):
        run, pid = self.run_tool([tool("st-int80"), "-d", "urandom"], stdin=subprocess.DEVNULL,
                                 args=["--cooldown", "1ns"])
        self.assertEqual(run.fact_values("call"), [{"name": "open", "ret": "-20"}])
        lines = [l for l in run.triggers("non-deterministic-call", pid=pid)
                 if l["detail"]["call"].startswith("open:")]
        self.assertEqual(lines, [], run.describe())

    def test_syscall_path_beside_ia32(self):
        """The same calls through the x86-64 table keep "via": "syscall"."""
        run, pid = self.run_tool([tool("st-int80"), "-s", "read"], data=DATA)
        self.assertOneTrigger(run, "first-stdin", pid, "st-int80",
                              {"fd": 0, "call": "read", "via": "syscall"})
        run, pid = self.run_tool([tool("st-int80"), "-s", "listen"],
                                 stdin=subprocess.DEVNULL)
        listen = run.fact_values("listen")[0]
        self.assertOneTrigger(run, "first-listen", pid, "st-int80",
                              self.listen_detail(int(listen["fd"]), int(listen["port"]),
                                                 "syscall"))
        run, pid = self.run_tool([tool("st-int80"), "-s", "-n", "3", "fsync"],
                                 stdin=subprocess.DEVNULL, args=["--cooldown", "5s"])
        self.assertEqual([l["detail"] for l in run.triggers("transaction")],
                         [calls_detail("fsync", 1, False, "syscall"),
                          calls_detail("fsync", 2, True)], run.describe())

    def test_ia32_binary_read_stdin(self):
        run, pid = self.run_tool([tool("st-ia32"), "read"], data=DATA)
        self.assertOneTrigger(run, "first-stdin", pid, "st-ia32",
                              {"fd": 0, "call": "read", "via": "ia32"})
        self.assertExited(run, pid, 0, comm="st-ia32")

    def test_ia32_binary_recv_stdin(self):
        ours, theirs = socket.socketpair()
        with ours, theirs:
            ours.sendall(DATA)
            run, pid = self.run_tool([tool("st-ia32"), "recv"], stdin=theirs)
        self.assertOneTrigger(run, "first-stdin", pid, "st-ia32",
                              {"fd": 0, "call": "recv", "via": "ia32"})

    def test_ia32_binary_listen(self):
        run, pid = self.run_tool([tool("st-ia32"), "listen"], stdin=subprocess.DEVNULL)
        fd = int(run.fact_values("fd")[0])
        port = int(run.fact_values("port")[0])
        self.assertOneTrigger(run, "first-listen", pid, "st-ia32",
                              self.listen_detail(fd, port, "ia32"))

    def test_ia32_binary_random(self):
        """A program without libc makes only the calls it names."""
        run, pid = self.run_tool([tool("st-ia32"), "random"], stdin=subprocess.DEVNULL,
                                 args=["--cooldown", "5s"])
        lines = run.triggers("non-deterministic-call")
        self.assertEqual([l["detail"] for l in lines],
                         [calls_detail("getrandom", 1, False, "ia32"),
                          calls_detail("open:/dev/urandom", 1, True)], run.describe())
        for line in lines:
            self.assertEqual(line["pid"], pid)
            self.assertEqual(line["tid"], pid)
            self.assertEqual(line["comm"], "st-ia32")

    def test_ia32_sync_file_range_waits_only(self):
        """Of a 32-bit sync_file_range with SYNC_FILE_RANGE_WRITE alone and one that waits, one counts."""
        path = os.path.join(self.tmp, "data")
        with open(path, "wb") as f:
            f.write(DATA)
        with open(path, "rb") as stdin:
            run, pid = self.run_tool([tool("st-ia32"), "sync"], stdin=stdin,
                                     args=["--cooldown", "0s"])
        lines = run.triggers("transaction")
        self.assertEqual([l["detail"] for l in lines],
                         [calls_detail("sync_file_range", 1, False, "ia32")], run.describe())
        self.assertEqual((lines[0]["pid"], lines[0]["tid"], lines[0]["comm"]),
                         (pid, pid, "st-ia32"))

    def assertCoverage(self, run, pid, reason):
        lines = run.of_type("coverage")
        ia32 = [line for line in lines if line["via"] == "ia32" and line["reason"] == reason]
        self.assertEqual(len(ia32), 1, run.describe())
        self.assertEqual((ia32[0]["pid"], ia32[0]["tid"]), (pid, pid))
        self.assertEqual(ia32[0]["comm"], "st-ia32")
        self.assertEqual(ia32[0]["triggers"], IA32_TRIGGERS.split(","))
        self.assertEqual(ia32[0]["reason"], reason)
        return ia32[0]

    def test_ia32_off_coverage_line(self):
        run, pid = self.run_tool([tool("st-ia32"), "read"], data=DATA, args=["--ia32", "off"])
        self.assertCoverage(run, pid, "off")
        self.assertEqual(run.triggers("first-stdin"), [], run.describe())
        self.assertExited(run, pid, 0, comm="st-ia32")

    def test_ia32_exec_held_until_hooked(self):
        """A 32-bit image exec'd by a traced shell waits for the hook: its first call counts.

        st-ia32 recv makes one recv(2) on stdin right after it starts, and
        the data is there already, so a late hook would see no read at all.
        """
        ours, theirs = socket.socketpair()
        with ours, theirs:
            ours.sendall(DATA)
            # no trigger that uprobes serve, so only the ia32 hook stops the exec
            run = self.trace(["-t", "first-stdin,sigstop"],
                             ["/bin/sh", "-c", f"exec {tool('st-ia32')} recv"], stdin=theirs)
            self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertOneTrigger(run, "first-stdin", pid, "st-ia32",
                              {"fd": 0, "call": "recv", "via": "ia32"})
        # the shell's coverage line marks its own int $0x80 calls as unseen; the image has none
        self.assertEqual([(l["comm"], l["via"], l["reason"]) for l in run.of_type("coverage")],
                         [("sh", "ia32", "off")], run.describe())
        # the kernel's stop of the hold is no sigstop trigger
        self.assertEqual(run.triggers("sigstop"), [], run.describe())
        self.assertExited(run, pid, 0, comm="st-ia32")

    def test_two_agents_report_early_resume(self):
        """Two agents stop one exec: the one whose stop the other ended reports late-hook.

        Each agent stops the new 32-bit image at its exec and loads the hook,
        and the first to finish resumes the image for both. The other must
        see the first read or write a late-hook coverage line, and it does
        both when the image reads only after the hook is attached.
        """
        go = os.path.join(self.tmp, "go")
        ours, theirs = socket.socketpair()
        with ours, theirs:
            ours.sendall(DATA)
            first = self.trace(["-t", "first-stdin"],
                               ["/bin/sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done; "
                                f"exec {tool('st-ia32')} recv"], stdin=theirs)
            pid = first.wait_start()["targets"][0]
            second = self.trace(["-t", "first-stdin", "-p", str(pid)])
            second.wait_start()
            with open(go, "w", encoding="ascii"):
                pass
            self.assertEqual(first.wait_exit(), 0, first.describe())
        self.assertEqual(second.wait_exit(), 0, second.describe())
        for run in (first, second):
            seen = [l for l in run.triggers("first-stdin", pid=pid)
                    if l["detail"].get("via") == "ia32"]
            late = [l for l in run.of_type("coverage")
                    if l["pid"] == pid and l["reason"] == "late-hook"]
            self.assertLessEqual(len(seen), 1, run.describe())
            self.assertLessEqual(len(late), 1, run.describe())
            self.assertTrue(seen or late, run.describe())

    def test_int80_not_seen_by_default(self):
        """--ia32 auto leaves the hook off for 64-bit programs, whose int $0x80 is not seen."""
        run = self.trace(["-t", IA32_TRIGGERS], [tool("st-int80"), "read"])
        run.write_stdin(DATA)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(run.triggers("first-stdin"), [], run.describe())
        self.assertEqual([(line["via"], line["reason"]) for line in run.of_type("coverage")],
                         [("ia32", "off"), ("vdso", "user-space")])

    def test_auto_defers_hook_load(self):
        """--ia32 auto loads the hook only once a 32-bit image runs; --ia32 on at start."""
        for mode, loaded in (("auto", False), ("on", True)):
            with self.subTest(mode=mode):
                run = self.trace(["-t", IA32_TRIGGERS, "--ia32", mode],
                                 [tool("st-int80"), "read"])
                run.wait_start()
                names = program_names(run.proc.pid)
                # the main object's programs are there either way
                self.assertIn("handle_exec", names)
                self.assertEqual("handle_sys_exit" in names, loaded, names)
                run.write_stdin(DATA)
                run.close_stdin()
                self.assertEqual(run.wait_exit(), 0, run.describe())

    def test_int80_not_seen_with_ia32_off(self):
        """--ia32 off writes the coverage line for a 64-bit program too.

        Its int $0x80 calls are not seen.
        """
        run = self.trace(["-t", IA32_TRIGGERS, "--ia32", "off"], [tool("st-int80"), "read"])
        run.write_stdin(DATA)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        pid = int(run.fact_values("pid")[0])
        self.assertEqual(run.triggers("first-stdin"), [], run.describe())
        self.assertEqual([(line["pid"], line["comm"], line["via"], line["reason"])
                          for line in run.of_type("coverage")],
                         [(pid, "st-int80", "ia32", "off"),
                          (pid, "st-int80", "vdso", "user-space")], run.describe())

    def test_untraced_ia32_no_line(self):
        run = self.trace(["-t", IA32_TRIGGERS, "--ia32", "on"], [tool("st-int80"), "read"])
        pid = int(run.wait_fact("pid"))
        run.wait_start()
        reader = self.spawn([tool("st-ia32"), "read"])
        reader.proc.stdin.write(DATA)
        reader.close_stdin()
        self.assertEqual(reader.wait_exit(), 0, reader.describe())
        self.assertNoLines(run, reader.pid)
        for argv in ([tool("st-ia32"), "listen"], [tool("st-ia32"), "random"],
                     [tool("st-int80"), "-n", "2", "fsync"],
                     [tool("st-int80"), "socketcall"]):
            untraced = self.spawn(argv, stdin=subprocess.DEVNULL)
            self.assertEqual(untraced.wait_exit(), 0, untraced.describe())
            self.assertNoLines(run, untraced.pid)
        run.write_stdin(DATA)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertOneTrigger(run, "first-stdin", pid, "st-int80",
                              {"fd": 0, "call": "read", "via": "ia32"})


if __name__ == "__main__":
    unittest.main()
