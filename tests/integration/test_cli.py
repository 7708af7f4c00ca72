"""Command line: usage errors, launch failures, exit codes, start line, output."""

import concurrent.futures
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import time
import unittest

from harness import (CANONICAL_TRIGGERS, DEFAULT_TRIGGERS, ROOT, SNAPTRIG, TIMEOUT,
                     SnaptrigTestCase, parse_output, tool, unix_listener)

TRUE = "/bin/true"
SHELL = "/bin/sh"
MAN_PAGE = ROOT / "docs" / "snaptrig.8"


def reaped_pid():
    """Return the pid of a child that has exited and been reaped."""
    child = subprocess.Popen([TRUE])
    child.wait()
    return child.pid


def read_connection(listener):
    """Accept one connection on listener and return every byte it carries."""
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(TIMEOUT)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def line_shape(lines):
    """Return the type, trigger and keys of each line, which do not depend on pids or times."""
    return [(l["type"], l.get("trigger"), sorted(l), sorted(l.get("detail", {})))
            for l in lines]


class CliTest(SnaptrigTestCase):

    def test_install_and_uninstall(self):
        """make install puts the agent, header, man page and docs under DESTDIR,
        and make uninstall removes every one of them."""
        root = os.path.join(self.tmp, "root")
        expected = sorted(["sbin/snaptrig", "include/snaptrig.h", "share/man/man8/snaptrig.8",
                           "share/doc/snaptrig/snaptrig.schema.json",
                           "share/doc/snaptrig/README.md", "share/doc/snaptrig/BENCH.md",
                           "share/doc/snaptrig/control-protocol.md",
                           "share/doc/snaptrig/request-protocol.md"])
        subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"DESTDIR={root}",
                        "PREFIX=/usr"], check=True, capture_output=True, timeout=60)
        installed = sorted(os.path.relpath(os.path.join(d, f), os.path.join(root, "usr"))
                           for d, _, files in os.walk(root) for f in files)
        self.assertEqual(installed, expected)
        # the page points to BENCH.md where this PREFIX put it
        with open(os.path.join(root, "usr/share/man/man8/snaptrig.8"), encoding="utf-8") as f:
            page = f.read()
        self.assertIn(".IR /usr/share/doc/snaptrig );", page)
        self.assertNotIn("/usr/local", page)
        subprocess.run(["make", "-s", "-C", str(ROOT), "uninstall", f"DESTDIR={root}",
                        "PREFIX=/usr"], check=True, capture_output=True, timeout=60)
        left = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]
        self.assertEqual(left, [])

    def run_agent(self, args):
        """Run snaptrig to completion; return (exit code, stdout, stderr lines)."""
        proc = subprocess.run([str(SNAPTRIG)] + args, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=TIMEOUT)
        return (proc.returncode, proc.stdout.decode(errors="replace"),
                proc.stderr.decode(errors="replace").splitlines())

    def assertUsageError(self, args, *fragments, code=2):
        rc, out, err = self.run_agent(args)
        context = f"snaptrig {args}: stderr {err!r}"
        self.assertEqual(rc, code, context)
        self.assertEqual(out, "", context)
        self.assertEqual(len(err), 1, context)
        self.assertTrue(err[0].startswith("snaptrig: "), context)
        for fragment in fragments:
            self.assertIn(fragment, err[0], context)

    def test_unknown_trigger(self):
        self.assertUsageError(["-t", "foo", "--", TRUE], "invalid trigger 'foo'",
                              "first-listen")
        self.assertUsageError(["-t", "first-listen,nosuch", "--", TRUE],
                              "'nosuch'")

    def test_bad_durations(self):
        for option in ("--cooldown", "--snapshot-interval", "--idle-threshold"):
            for value in ("5", "abc", "5h", "-1s", "1.5.5s", "ms", "1 s"):
                with self.subTest(option=option, value=value):
                    self.assertUsageError([option, value, "--", TRUE],
                                          f"invalid duration '{value}' for {option}")

    def test_duration_past_limit(self):
        """A duration past 365 days gets one message, however far past."""
        for value in ("525601m", "999999999m", "18446744073709551616ns"):
            with self.subTest(value=value):
                self.assertUsageError(["--cooldown", value, "--", TRUE],
                                      f"invalid duration '{value}' for --cooldown: out of "
                                      "range (at most 365 days)")

    def test_period_minimum(self):
        for option in ("--snapshot-interval", "--idle-threshold"):
            for value in ("0s", "1ns", "999us", "0.0009s"):
                with self.subTest(option=option, value=value):
                    self.assertUsageError([option, value, "--", TRUE],
                                          f"invalid duration '{value}' for {option}: "
                                          "must be at least 1ms")

    def test_period_minimum_accepted(self):
        for option, key in (("--snapshot-interval", "snapshot_interval_ns"),
                            ("--idle-threshold", "idle_threshold_ns")):
            with self.subTest(option=option):
                run = self.trace(["-t", "bootstrap", option, "1ms"], [TRUE])
                self.assertEqual(run.wait_exit(), 0, run.describe())
                self.assertEqual(run.records[0][key], 1_000_000)

    def test_missing_unit_message(self):
        self.assertUsageError(["--cooldown", "5", "--", TRUE], "missing unit")

    def test_missing_option_value(self):
        for option in ("--cooldown", "--snapshot-interval", "--idle-threshold",
                       "-t", "--trigger", "-p", "-o", "--format"):
            with self.subTest(option=option):
                self.assertUsageError([option])

    def test_unknown_option_and_format(self):
        self.assertUsageError(["--bogus", "--", TRUE], "--bogus")
        self.assertUsageError(["--format", "xml", "--", TRUE], "xml")

    def test_no_command_no_pid(self):
        self.assertUsageError([])

    def test_pid_not_found(self):
        pid = reaped_pid()
        self.assertUsageError(["-p", str(pid)], f"process {pid} not found")
        self.assertUsageError(["-p", "abc"], "abc")

    def test_command_not_found(self):
        missing = os.path.join(self.tmp, "no-such-program")
        self.assertUsageError(["--", missing], missing, "not found", code=127)
        self.assertUsageError(["--", "snaptrig-no-such-command"],
                              "'snaptrig-no-such-command'", "not found", code=127)

    def test_command_not_executable(self):
        path = os.path.join(self.tmp, "not-executable")
        with open(path, "w", encoding="ascii") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(path, 0o644)
        rc, _, err = self.run_agent(["--", path])
        self.assertEqual(rc, 126, err)
        self.assertTrue(err and err[-1].startswith("snaptrig: "), err)
        rc, _, err = self.run_agent(["--", self.tmp])
        self.assertEqual(rc, 126, err)

    def write_command(self, name, data, mode=0o755):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def test_command_exec_format_error(self):
        """A file the kernel cannot execute is not run with /bin/sh."""
        bad_elf = self.write_command("bad-elf", b"\x7fELFgarbage")
        no_shebang = self.write_command("no-shebang", b"echo ran; exit 3\n")
        env = dict(os.environ, PATH=self.tmp + ":/usr/bin:/bin")
        for command in (bad_elf, no_shebang, "bad-elf"):
            with self.subTest(command=command):
                proc = subprocess.run([str(SNAPTRIG), "-t", "bootstrap", "--", command],
                                      stdin=subprocess.DEVNULL, capture_output=True,
                                      text=True, env=env, timeout=TIMEOUT)
                err = proc.stderr.splitlines()
                self.assertEqual(proc.returncode, 126, err)
                self.assertNotIn("ran", proc.stdout)
                self.assertEqual(err, [f"snaptrig: cannot execute COMMAND '{command}': "
                                       "Exec format error; give a program built for this "
                                       "machine, or a script with a #! line"])

    def test_command_script_with_shebang(self):
        script = self.write_command("script", b"#!/bin/sh\necho ran\nexit 5\n")
        env = dict(os.environ, PATH=self.tmp + ":/usr/bin:/bin")
        for command in (script, "script"):
            with self.subTest(command=command):
                run = self.trace(["-t", "bootstrap"], [command], env=env)
                self.assertEqual(run.wait_exit(), 5, run.describe())
                self.assertEqual(run.fact_values("ran"), [""], run.describe())
                self.assertEqual(run.triggers("bootstrap")[0]["detail"]["filename"], script)

    def test_command_missing_interpreter(self):
        """A script whose #! interpreter is missing is found: the message names the interpreter."""
        script = self.write_command("no-interp", b"#!/nonexistent/interp\necho ran\n")
        env = dict(os.environ, PATH=self.tmp + ":/usr/bin:/bin")
        for command, path in ((script, script), ("no-interp", script)):
            with self.subTest(command=command):
                proc = subprocess.run([str(SNAPTRIG), "--", command], stdin=subprocess.DEVNULL,
                                      capture_output=True, text=True, env=env, timeout=TIMEOUT)
                self.assertEqual(proc.returncode, 127, proc.stderr)
                self.assertEqual(proc.stderr.splitlines(),
                                 [f"snaptrig: cannot execute COMMAND '{command}' ({path}): "
                                  "the interpreter on its #! line or its dynamic loader "
                                  "was not found"])

    def test_command_in_path_not_executable(self):
        self.write_command("plain", b"#!/bin/sh\nexit 0\n", mode=0o644)
        env = dict(os.environ, PATH=self.tmp + ":/usr/bin:/bin")
        proc = subprocess.run([str(SNAPTRIG), "--", "plain"], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, env=env, timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 126, proc.stderr)
        self.assertEqual(proc.stderr.splitlines(),
                         ["snaptrig: cannot execute COMMAND 'plain': Permission denied"])

    def test_exit_code_passthrough(self):
        run = self.trace(["-t", "bootstrap"], [SHELL, "-c", "exit 7"])
        start = run.wait_start()
        self.assertEqual(run.wait_exit(), 7, run.describe())
        self.assertExited(run, start["targets"][0], 7, comm="sh")

    def test_killed_exit_code(self):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with self.subTest(signal=sig.name):
                run = self.trace(["-t", "bootstrap"],
                                 [SHELL, "-c", f"kill -{sig.name[3:]} $$"])
                start = run.wait_start()
                self.assertEqual(run.wait_exit(), 128 + sig, run.describe())
                exits = run.exits(start["targets"][0])
                self.assertEqual(len(exits), 1, run.describe())
                self.assertEqual(exits[0]["status"], "killed")
                self.assertEqual(exits[0]["signal"], int(sig))
                self.assertEqual(exits[0]["signal_name"], sig.name)
                self.assertIs(exits[0]["core_dumped"], False)

    def test_start_line_launch(self):
        command = [tool("st-nondet"), "-r", "1"]
        run = self.trace([], command)
        pid = int(run.wait_fact("pid"))
        self.assertEqual(run.wait_exit(), 0, run.describe())
        start = run.records[0]
        expected = {
            "version": "0.1.0", "schema_version": 1, "agent_pid": run.pid,
            "mode": "launch", "triggers": DEFAULT_TRIGGERS, "targets": [pid],
            "command": command, "cooldown_ns": 1_000_000_000,
            "snapshot_interval_ns": 10_000_000_000,
            "idle_threshold_ns": 1_000_000_000, "follow": True, "lazy_wakeup": False,
        }
        for key, value in expected.items():
            self.assertEqual(start[key], value, key)
        self.assertEqual(start["seq"], 1)

    def test_durations_parsed(self):
        cases = [("--cooldown", "250ms", "cooldown_ns", 250_000_000),
                 ("--cooldown", "500us", "cooldown_ns", 500_000),
                 ("--cooldown", "750ns", "cooldown_ns", 750),
                 ("--snapshot-interval", "1.5s", "snapshot_interval_ns", 1_500_000_000),
                 ("--snapshot-interval", "2m", "snapshot_interval_ns", 120_000_000_000),
                 ("--idle-threshold", "0.25s", "idle_threshold_ns", 250_000_000),
                 ("--idle-threshold", "3s", "idle_threshold_ns", 3_000_000_000)]
        for option, value, key, ns in cases:
            with self.subTest(option=option, value=value):
                run = self.trace(["-t", "bootstrap", option, value], [TRUE])
                self.assertEqual(run.wait_exit(), 0, run.describe())
                self.assertEqual(run.records[0][key], ns)

    def start_triggers(self, args):
        run = self.trace(args, [TRUE])
        self.assertEqual(run.wait_exit(), 0, run.describe())
        return run.records[0]["triggers"]

    def test_trigger_aliases(self):
        self.assertEqual(
            self.start_triggers(["-t", " CTRL-C ,alarm", "-t", "ctrlz,Stop,first-intr"]),
            ["first-sigint", "sigint", "sigalrm", "sigtstp", "sigstop"])
        self.assertEqual(
            self.start_triggers(["--trigger", "first-ctrlc,intr,timer,ctrl-z"]),
            ["first-sigint", "sigint", "sigalrm", "sigtstp"])
        self.assertEqual(self.start_triggers(["-t", "first-ctrl-c,ctrlc"]),
                         ["first-sigint", "sigint"])

    def test_trigger_sets(self):
        self.assertEqual(self.start_triggers(["-t", "all"]), CANONICAL_TRIGGERS)
        self.assertEqual(self.start_triggers(["-t", "default"]), DEFAULT_TRIGGERS)
        self.assertEqual(self.start_triggers(["-t", "sigint,default,sigint"]),
                         ["first-listen", "first-stdin", "first-environ", "idle",
                          "sigint", "explicit"])
        self.assertEqual(self.start_triggers(["-t", "bootstrap,first-listen"]),
                         ["first-listen", "bootstrap"])

    def test_help_and_version(self):
        rc, out, _ = self.run_agent(["-h"])
        self.assertEqual(rc, 0)
        self.assertIn("--trigger", out)
        rc, out, _ = self.run_agent(["--version"])
        self.assertEqual(rc, 0)
        self.assertIn("0.1.0", out)

    def test_help_matches_man_page(self):
        """Each usage form of --help is in the SYNOPSIS, and the ring size has its range."""
        rc, out, _ = self.run_agent(["--help"])
        self.assertEqual(rc, 0)
        self.assertIn("power\n                              of two from 4K to 1G", out)
        man = subprocess.run(["man", "-l", "-P", "cat", str(MAN_PAGE)], capture_output=True,
                             env=dict(os.environ, MANWIDTH="200"), timeout=TIMEOUT)
        self.assertEqual(man.returncode, 0, man.stderr)
        text = man.stdout.decode()
        synopsis = text[text.index("SYNOPSIS"):text.index("DESCRIPTION")]
        forms = [l.split("snaptrig ", 1)[1] for l in out.split("\n\n")[0].splitlines()]
        self.assertEqual(len(forms), 5, out)
        for form in forms:
            with self.subTest(form=form):
                self.assertIn("snaptrig " + form, " ".join(synopsis.split()))

    def test_man_page_describes_triggers(self):
        """The man page's TRIGGERS section has a heading for each trigger of -t all."""
        rc, out, err = self.run_agent(["-t", "all", "--", TRUE])
        self.assertEqual(rc, 0, err)
        triggers = json.loads(out.splitlines()[0])["triggers"]
        self.assertEqual(len(triggers), 14, triggers)
        man = subprocess.run(["man", "-l", "-P", "cat", str(MAN_PAGE)], capture_output=True,
                             env=dict(os.environ, MANWIDTH="200"), timeout=TIMEOUT)
        self.assertEqual(man.returncode, 0, man.stderr)
        text = man.stdout.decode()
        section = text[text.index("\nTRIGGERS\n"):text.index("\nOUTPUT\n")]
        # past the opening paragraph, a heading is indented less than its text, and man puts
        # a short heading and its text on one line, two or more spaces apart
        entries = section.split("\n\n", 1)[1]
        headings = [re.split(r"\s{2,}", l.strip())[0] for l in entries.splitlines()
                    if l.startswith(" " * 7) and not l.startswith(" " * 8)]
        described = [name.strip() for h in headings for name in h.split(",")]
        self.assertEqual(sorted(described), sorted(triggers), section)

    def test_help_snapshot_on_sets(self):
        """--help describes the all and default sets of --snapshot-on separately."""
        rc, out, _ = self.run_agent(["--help"])
        self.assertEqual(rc, 0)
        self.assertIn("      --snapshot-on LIST      triggers that request snapshots, each selected\n"
                      "                              with -t (without it: every selected trigger);\n"
                      "                              all means every selected trigger, default the\n"
                      "                              default trigger set\n", out)

    def test_help_and_version_write_failure(self):
        """A failed write of --help or --version output is an error, not status 0."""
        for option, name in (("--help", "--help"), ("-V", "--version")):
            with self.subTest(option=option), open("/dev/full", "w") as full:
                proc = subprocess.run([str(SNAPTRIG), option], stdin=subprocess.DEVNULL,
                                      stdout=full, stderr=subprocess.PIPE, text=True,
                                      timeout=TIMEOUT)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertEqual(proc.stderr, f"snaptrig: writing the {name} output failed: "
                                 "No space left on device\n")

    def test_help_and_version_closed_stdout(self):
        """--help or --version with standard output closed is an error, not status 0."""
        for option, name in (("--help", "--help"), ("-V", "--version")):
            with self.subTest(option=option):
                proc = subprocess.run([str(SNAPTRIG), option], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, timeout=TIMEOUT,
                                      preexec_fn=lambda: os.close(1))
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertEqual(proc.stderr, f"snaptrig: writing the {name} output failed: "
                                 "standard output is closed\n")

    def test_help_and_version_reject_operands(self):
        cases = [(["--version", "extra"], "'extra' after --version"),
                 (["-V", "--", TRUE], f"'{TRUE}' after --version"),
                 (["--help", "extra"], "'extra' after --help"),
                 (["-h", "-t", "all", TRUE], f"'{TRUE}' after --help")]
        for args, fragment in cases:
            with self.subTest(args=args):
                self.assertUsageError(args, "unexpected argument " + fragment,
                                      "it takes none")

    def test_check_passes_here(self):
        rc, out, err = self.run_agent(["--check"])
        self.assertEqual(rc, 0, out + "\n".join(err))
        rc, out, err = self.run_agent(["--check", "-t", "all"])
        self.assertEqual(rc, 0, out + "\n".join(err))
        # this kernel has the kfuncs of the guard, so its line must read ok
        self.assertIn("  ok       kernel resume of held processes if snaptrig and its watchdog "
                      "die (bpf_send_signal_task)", out.splitlines(), out)
        # and the io_uring tracepoints, so the io_uring object loads, with the task cast
        self.assertIn("  ok       io_uring programs (tp_btf) load and attach", out.splitlines(), out)

    def run_check_unprivileged(self, args):
        """Run snaptrig --check as uid and gid 65534 (nobody); return (exit code, stdout lines)."""
        if not shutil.which("setpriv"):
            self.skipTest("setpriv (util-linux) is not installed")
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                               "--clear-groups", str(SNAPTRIG), "--check"] + args,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=TIMEOUT)
        return proc.returncode, proc.stdout.splitlines()

    def test_check_without_root_skips_probes(self):
        """Without root no BPF probe can pass, so only the two file checks may print ok."""
        rc, out = self.run_check_unprivileged([])
        self.assertEqual(rc, 1, out)
        ok = [line for line in out if line.startswith("  ok ")]
        self.assertEqual(ok, ["  ok       kernel BTF (/sys/kernel/btf/vmlinux)",
                              "  ok       running in the initial pid namespace"], out)
        self.assertIn("  skipped  tracefs, ring buffer, tracepoints, uprobes, BPF helpers "
                      "and program loads (probing them needs root)", out)
        self.assertEqual(out[-1], "these requested triggers cannot work: "
                         + ",".join(DEFAULT_TRIGGERS), out)

    def test_tracefs_unreadable_fails_start(self):
        """With every capability it needs but no access to tracefs, start fails with the reason."""
        caps = "-all,+bpf,+perfmon,+kill,+sys_ptrace"
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               f"--inh-caps={caps}", f"--ambient-caps={caps}",
                               str(SNAPTRIG), "-t", "first-listen", "--", TRUE],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertEqual(proc.stderr.splitlines(), [
            "snaptrig: cannot read /sys/kernel/tracing/events: Permission denied; the syscall "
            "tracepoints are listed there: run as root, give this user read access to "
            "tracefs, or add CAP_DAC_READ_SEARCH"])

    def test_tracefs_readable_by_capability(self):
        """CAP_DAC_READ_SEARCH gives the access to tracefs that a non-root user lacks."""
        caps = "-all,+bpf,+perfmon,+kill,+sys_ptrace,+dac_read_search"
        output = os.path.join(self.tmp, "capability.json")
        # the output file goes to a directory that uid 65534 can write
        os.chmod(self.tmp, 0o777)
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               f"--inh-caps={caps}", f"--ambient-caps={caps}",
                               str(SNAPTRIG), "-t", "first-listen", "-o", output, "--",
                               tool("st-listener"), "0"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        port = int(re.search(r"^listen fd=\d+ family=inet port=(\d+)", proc.stdout,
                             re.MULTILINE).group(1))
        with open(output) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(lines[0]["type"], "start")
        self.assertEqual(lines[0]["triggers"], ["first-listen"])
        listens = [line for line in lines if line.get("trigger") == "first-listen"]
        self.assertEqual(len(listens), 1, lines)
        self.assertEqual(listens[0]["comm"], "st-listener")
        self.assertEqual(listens[0]["detail"]["port"], port)
        self.assertEqual(lines[-1]["type"], "stats")
        self.assertEqual(lines[-1]["triggers"]["first-listen"], 1)

    def test_missing_capabilities_named(self):
        """Root without CAP_KILL, CAP_SYS_PTRACE and CAP_SYS_ADMIN: each is named, none traced."""
        caps = "-all,+bpf,+perfmon"
        cases = (("first-listen", "CAP_KILL, CAP_SYS_PTRACE"),
                 ("first-environ", "CAP_KILL, CAP_SYS_PTRACE, CAP_SYS_ADMIN (for the uprobes "
                                   "of first-environ, explicit and transaction)"))
        for triggers, missing in cases:
            with self.subTest(triggers=triggers):
                proc = subprocess.run(["setpriv", f"--inh-caps={caps}", f"--ambient-caps={caps}",
                                       f"--bounding-set={caps}",
                                       str(SNAPTRIG), "-t", triggers, "--", TRUE],
                                      stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                      timeout=TIMEOUT)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertEqual(proc.stdout, "")
                self.assertEqual(proc.stderr.splitlines(), [
                    f"snaptrig: missing {missing}: run as root, or add the missing capabilities"])

    def run_with_fd_limit(self, soft, hard, args):
        """Run snaptrig under an open-files limit; return (exit code, stdout, stderr lines)."""
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        proc = subprocess.run([str(SNAPTRIG)] + args, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT,
                              preexec_fn=limit)
        return proc.returncode, proc.stdout, proc.stderr.splitlines()

    def test_low_soft_fd_limit_raised(self):
        """A soft limit of 64 is raised for the agent, and COMMAND gets 64 back."""
        checkpointer = os.path.join(self.tmp, "checkpointer-limit")
        output = os.path.join(self.tmp, "limit.jsonl")
        # the JSON lines go to a file, so COMMAND's output on stdout cannot come before the start line
        rc, out, err = self.run_with_fd_limit(64, 4096, [
            "-t", "all", "--snapshot-on", "bootstrap", "-o", output,
            "--exec", f"/bin/sh -c 'ulimit -Sn > {checkpointer}'",
            "--", "/bin/sh", "-c", "echo soft=$(ulimit -Sn) hard=$(ulimit -Hn)"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, [])
        self.assertEqual(out, "soft=64 hard=4096\n")
        with open(output, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(lines[0]["type"], "start", lines)
        self.assertEqual(lines[-1]["type"], "stats", lines)
        with open(checkpointer, encoding="ascii") as f:
            self.assertEqual(f.read(), "64\n")

    def test_ignored_stop_signal_logged(self):
        """With -v, a SIGINT ignored at start, as a script's & does, is named on stderr."""
        def ignore_sigint():
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        proc = subprocess.run([str(SNAPTRIG), "-v", "-t", "sigalrm", "--", TRUE],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT, preexec_fn=ignore_sigint)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        ignored = [line for line in proc.stderr.splitlines() if "was ignored" in line]
        self.assertEqual(ignored, ["snaptrig: SIGINT was ignored when snaptrig started (as under "
                                   "nohup or a script's &), so it stays ignored and cannot stop "
                                   "snaptrig or COMMAND"])
        proc = subprocess.run([str(SNAPTRIG), "-v", "-t", "sigalrm", "--", TRUE],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT)
        self.assertNotIn("was ignored", proc.stderr)

    def test_low_hard_fd_limit_warned(self):
        rc, out, err = self.run_with_fd_limit(150, 150, ["-t", "all", "--", TRUE])
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "")
        self.assertEqual(err[0], "snaptrig: warning: the open-files limit is 150 (ulimit -Hn); "
                         "snaptrig needs about 210 descriptors with -t all, and two more per "
                         "marker place; if a load or attach fails with 'Too many open files', "
                         "raise it", err)
        self.assertIn("Too many open files", err[1], err)

    def test_check_disables_requested_only(self):
        rc, out = self.run_check_unprivileged(["-t", "first-listen,sigint"])
        self.assertEqual(rc, 1, out)
        self.assertEqual(out[0], "snaptrig 0.1.0: checking the kernel for: "
                         "first-listen,sigint", out)
        missing = [line for line in out if line.startswith("  missing ")]
        self.assertEqual(missing, ["  missing  running as root "
                                   "(disables: first-listen,sigint)",
                                   "  missing  capabilities of a run (CAP_BPF, CAP_PERFMON, "
                                   "CAP_KILL, CAP_SYS_PTRACE, CAP_SYS_ADMIN for uprobes) "
                                   "(disables: first-listen,sigint)"], out)

    def test_check_takes_no_target(self):
        output = os.path.join(self.tmp, "check.out")
        for targets in (["--", TRUE], ["-p", str(os.getpid())], ["--cgroup", "/"],
                        ["-o", output]):
            with self.subTest(targets=targets):
                self.assertUsageError(["--check"] + targets, "--check probes the kernel "
                                      "and traces nothing: give no -p, --cgroup, -o or COMMAND")
        self.assertFalse(os.path.exists(output), "--check created its -o file")
        for snapshot in (["--freeze"], ["--exec", TRUE], ["--request-socket", output],
                         ["--max-snapshots", "1"]):
            with self.subTest(snapshot=snapshot):
                self.assertUsageError(["--check"] + snapshot, "--check probes the kernel and "
                                      "requests no snapshot: give no --exec, --request-socket "
                                      "or other snapshot option")

    def test_output_file_appended(self):
        path = os.path.join(self.tmp, "out.jsonl")
        old_umask = os.umask(0o022)
        try:
            for _ in range(2):
                run = self.trace(["-o", path, "-t", "bootstrap"], [TRUE])
                self.assertEqual(run.wait_exit(check=False), 0, run.describe())
                self.assertEqual(run.records, [], "JSON went to stdout")
        finally:
            os.umask(old_umask)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
        with open(path, encoding="utf-8") as f:
            lines = [json.loads(l) for l in f]
        self.assertEqual([l["type"] for l in lines].count("start"), 2)
        self.assertEqual([l["type"] for l in lines].count("stats"), 2)
        self.assertEqual(lines[0]["type"], "start")
        self.assertEqual(lines[-1]["type"], "stats")

    def test_output_file_deleted_reported(self):
        """Deleting the --output file mid-run gives one message; lines go to the open file."""
        path = os.path.join(self.tmp, "out.jsonl")
        agent = subprocess.Popen([str(SNAPTRIG), "-o", path, "-t", "bootstrap", "--",
                                  "/bin/sleep", "2.5"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.register(agent)
        deadline = time.monotonic() + TIMEOUT
        while not (os.path.exists(path) and os.path.getsize(path)):
            self.assertLess(time.monotonic(), deadline, "no start line in the output file")
            time.sleep(0.05)
        os.unlink(path)
        _, err = agent.communicate(timeout=TIMEOUT)
        self.assertEqual(agent.returncode, 0, err)
        self.assertEqual(err.splitlines(), [
            f"snaptrig: output file {path} was deleted: lines go on to the deleted file, which "
            "no other process can open; restart snaptrig to write a new one"])
        self.assertFalse(os.path.exists(path))

    def test_output_file_cut_line_ended(self):
        """A file whose last line has no newline gets one before the start line."""
        path = os.path.join(self.tmp, "out.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write('{"type":"trigger","seq":')
        run = self.trace(["-o", path, "-t", "bootstrap"], [TRUE])
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        self.assertEqual(lines[0], '{"type":"trigger","seq":')
        self.assertEqual(lines[-1], "", "the file does not end with a newline")
        types = [json.loads(l)["type"] for l in lines[1:-1]]
        self.assertEqual(types, ["start", "trigger", "exit", "stats"])

    def test_output_dash_is_stdout(self):
        """-o - writes to standard output, also beside --control, and -o ./- to a file."""
        control = os.path.join(self.tmp, "control.sock")
        for extra in ([], ["--control", control]):
            with self.subTest(extra=extra):
                run = self.trace(["-o", "-", "-t", "bootstrap"] + extra, [TRUE], cwd=self.tmp)
                self.assertEqual(run.wait_exit(), 0, run.describe())
                self.assertEqual([l["type"] for l in run.records],
                                 ["start", "trigger", "exit", "stats"], run.describe())
                self.assertEqual(os.listdir(self.tmp), [], "a file was left in the directory")
        run = self.trace(["-o", "./-", "-t", "bootstrap"], [TRUE], cwd=self.tmp)
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        self.assertEqual(run.records, [], "JSON went to stdout")
        with open(os.path.join(self.tmp, "-"), encoding="utf-8") as f:
            self.assertEqual([json.loads(l)["type"] for l in f],
                             ["start", "trigger", "exit", "stats"])

    def test_output_open_failure(self):
        path = os.path.join(self.tmp, "no-such-dir", "out.jsonl")
        rc, _, err = self.run_agent(["-o", path, "--", TRUE])
        self.assertEqual(rc, 1, err)
        self.assertTrue(err and err[-1].startswith("snaptrig: "), err)
        self.assertTrue(any(path in line for line in err), err)

    def test_closed_stdout_fails(self):
        """With standard output closed and no --output, no line could be written."""
        marker = os.path.join(self.tmp, "ran")
        proc = subprocess.run(["/bin/sh", "-c", 'exec "$0" -t bootstrap -- /bin/touch "$1" >&-',
                               str(SNAPTRIG), marker],
                              stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TIMEOUT)
        err = proc.stderr.decode(errors="replace").splitlines()
        self.assertEqual(proc.returncode, 1, err)
        self.assertEqual(err, ["snaptrig: cannot write output: standard output is closed; "
                               "open it or give --output FILE"])
        self.assertFalse(os.path.exists(marker), "COMMAND ran")
        # with --output the closed stdout does not matter
        path = os.path.join(self.tmp, "out.jsonl")
        proc = subprocess.run(["/bin/sh", "-c",
                               'exec "$0" -o "$1" -t bootstrap -- /bin/touch "$2" >&-',
                               str(SNAPTRIG), path, marker],
                              stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(os.path.exists(marker), "COMMAND did not run")
        with open(path, encoding="utf-8") as f:
            types = [json.loads(line)["type"] for line in f]
        self.assertEqual(types[0], "start")
        self.assertEqual(types[-1], "stats")
        self.assertEqual(types.count("trigger"), 1, types)

    def test_closed_stdin_reaches_command(self):
        """COMMAND gets the closed stdin that snaptrig got, not /dev/null."""
        proc = subprocess.run(["/bin/sh", "-c", 'exec "$0" -t first-stdin -- "$1" <&-',
                               str(SNAPTRIG), tool("st-stdin")],
                              capture_output=True, timeout=TIMEOUT)
        err = proc.stderr.decode(errors="replace")
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn("st-stdin: read on fd 0 failed: Bad file descriptor", err)
        lines = [json.loads(l) for l in proc.stdout.decode().splitlines() if l.startswith("{")]
        self.assertEqual([l["type"] for l in lines if l["type"] == "trigger"], [], lines)
        self.assertEqual(lines[-1]["type"], "stats")

    def assertOutputOpenFails(self, path, reason, command=(TRUE,)):
        """Assert that snaptrig -o path exits 1 with only the message for reason."""
        rc, out, err = self.run_agent(["-o", path, "--", *command])
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "")
        self.assertEqual(err, [f"snaptrig: cannot open output '{path}': {reason}"])

    def test_output_directory_named(self):
        self.assertOutputOpenFails(self.tmp, "the path is a directory; give the path of a "
                                   "file in it, which snaptrig creates if missing")

    def test_output_and_control_same_path(self):
        """One path for -o and --control is a usage error before any file is made."""
        path = os.path.join(self.tmp, "same")
        self.assertUsageError(["-o", path, "--control", path, "--", TRUE],
                              f"-o '{path}' and --control '{path}' name the same file: "
                              "give each its own path")
        self.assertFalse(os.path.exists(path), "the output file was created")
        # so is a second spelling of a file that does not exist yet
        other = os.path.join(self.tmp, ".", "same")
        self.assertUsageError(["-o", path, "--control", other, "--", TRUE],
                              f"-o '{path}' and --control '{other}' name the same file")
        self.assertFalse(os.path.exists(path), "the output file was created")
        # an existing file reached by two spellings is the same file too
        with open(path, "w", encoding="utf-8"):
            pass
        other = os.path.join(self.tmp, ".", "same")
        self.assertUsageError(["-o", path, "--control", other, "--", TRUE],
                              f"-o '{path}' and --control '{other}' name the same file")
        self.assertEqual(os.path.getsize(path), 0)

    def test_socket_path_dash_rejected(self):
        """- means standard output for -o, so --control and --request-socket reject it."""
        for option in ("--control", "--request-socket"):
            with self.subTest(option=option):
                self.assertUsageError([option, "-", "--", TRUE],
                                      f"invalid path '-' for {option}: a unix socket needs a "
                                      "file path; write ./- for a socket named -")
        self.assertFalse(os.path.exists("-"), "a file named - was created")

    def test_output_fifo_without_reader(self):
        """An open of a FIFO without a reader would wait for ever, so it fails at once."""
        path = os.path.join(self.tmp, "out.fifo")
        os.mkfifo(path)
        self.assertOutputOpenFails(path, "no process has the FIFO open for reading; "
                                   "start the reader first")

    def test_output_fifo_with_reader(self):
        path = os.path.join(self.tmp, "out.fifo")
        os.mkfifo(path)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            rc, _, err = self.run_agent(["-o", path, "-t", "bootstrap", "--", TRUE])
            data = b""
            while chunk := os.read(fd, 65536):
                data += chunk
        finally:
            os.close(fd)
        self.assertEqual(rc, 0, err)
        lines = [json.loads(l) for l in data.decode().splitlines()]
        self.assertEqual([l["type"] for l in lines], ["start", "trigger", "exit", "stats"])

    def trace_listener(self, output, listen_path):
        """Trace st-listener on the unix socket listen_path, with lines to output.

        Return the listener's pid, its "listen" fact and snaptrig's pid.
        """
        run = self.trace(["-o", output, "-t", "bootstrap,first-listen"],
                         [tool("st-listener"), "-u", listen_path])
        pid = int(run.wait_fact("pid"))
        listen = run.wait_fact("listen")
        run.close_stdin()
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        self.assertEqual(run.records, [], "JSON went to stdout")
        return pid, listen, run.pid

    def test_output_unix_socket(self):
        """A listening unix socket gets the lines that a file gets."""
        path = os.path.join(self.tmp, "out.jsonl")
        self.trace_listener(path, os.path.join(self.tmp, "listen-file.sock"))
        with open(path, "rb") as f:
            file_lines = parse_output(self, f.read())
        # a path that does not fit in sun_path (107 bytes) works too
        long_dir = os.path.join(self.tmp, "d" * 120)
        os.mkdir(long_dir)
        for i, directory in enumerate((self.tmp, long_dir)):
            output = os.path.join(directory, "out.sock")
            with self.subTest(output=output):
                listener = unix_listener(self, output)
                with concurrent.futures.ThreadPoolExecutor(1) as pool:
                    received = pool.submit(read_connection, listener)
                    pid, listen, agent_pid = self.trace_listener(
                        output, os.path.join(self.tmp, f"listen-{i}.sock"))
                    lines = parse_output(self, received.result(TIMEOUT))
                self.assertEqual([l["seq"] for l in lines], list(range(1, len(lines) + 1)))
                self.assertEqual(line_shape(lines), line_shape(file_lines))
                start = lines[0]
                self.assertEqual(start["type"], "start")
                self.assertEqual(start["agent_pid"], agent_pid)
                self.assertEqual(start["targets"], [pid])
                triggers = [l for l in lines if l["type"] == "trigger"]
                self.assertEqual([(l["trigger"], l["pid"], l["tid"]) for l in triggers],
                                 [("bootstrap", pid, pid), ("first-listen", pid, pid)])
                self.assertEqual(triggers[0]["detail"]["filename"], tool("st-listener"))
                self.assertEqual(triggers[0]["detail"]["ppid"], agent_pid)
                detail = triggers[1]["detail"]
                self.assertEqual(detail["fd"], int(listen["fd"]))
                self.assertEqual(detail["family"], "unix")
                self.assertEqual(detail["path"], listen["path"])
                self.assertEqual(detail["backlog"], int(listen["backlog"]))
                exits = [l for l in lines if l["type"] == "exit"]
                self.assertEqual([(l["pid"], l["exit_code"]) for l in exits], [(pid, 0)])
                self.assertEqual(lines[-1]["type"], "stats")
                self.assertEqual(lines[-1]["triggers"], {"bootstrap": 1, "first-listen": 1})

    def test_output_socket_without_listener(self):
        """A socket file that no process listens on fails before COMMAND runs."""
        path = os.path.join(self.tmp, "out.sock")
        # closing the listener leaves the socket file, as a reader that exited does
        unix_listener(self, path).close()
        marker = os.path.join(self.tmp, "ran")
        self.assertOutputOpenFails(path, "no process listens on the unix socket; start the "
                                   "reader first", ("/bin/touch", marker))
        self.assertFalse(os.path.exists(marker), "COMMAND ran")

    def test_output_socket_not_stream(self):
        for kind in (socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
            with self.subTest(kind=kind.name):
                path = os.path.join(self.tmp, f"{kind.name}.sock")
                unix_listener(self, path, kind)
                self.assertOutputOpenFails(path, "the unix socket is not a stream socket; "
                                           "the reader must listen on a SOCK_STREAM socket")

    def test_output_socket_backlog_full(self):
        """A reader that accepts no connection makes connect() fail, not wait."""
        path = os.path.join(self.tmp, "out.sock")
        unix_listener(self, path, backlog=0)
        queued = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(queued.close)
        queued.connect(path)
        self.assertOutputOpenFails(path, "the listen backlog of the unix socket is full; "
                                   "check that the reader accepts connections")

    def test_text_format(self):
        path = os.path.join(self.tmp, "out.txt")
        run = self.trace(["--format", "text", "-o", path, "-t", "first-listen"],
                         [tool("st-listener"), "0"])
        pid = int(run.wait_fact("pid"))
        port = run.wait_fact("listen")["port"]
        run.close_stdin()
        self.assertEqual(run.wait_exit(check=False), 0, run.describe())
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.assertTrue(lines[0].startswith("#"), lines)
        self.assertTrue(lines[-1].startswith("#"), lines)
        triggers = [l for l in lines if not l.startswith("#")]
        self.assertEqual(len(triggers), 1, lines)
        line = triggers[0]
        self.assertRegex(line[:15], r"^\d{2}:\d{2}:\d{2}\.\d{6}$")
        self.assertEqual(line[15:17], "  ")
        self.assertEqual(line[17:41], "first-listen".ljust(24))
        fields = line[41:].split()
        self.assertEqual(fields[:3], [str(pid), str(pid), "st-listener"])
        self.assertIn(f"port={port}", fields)

    def test_strings_escaped(self):
        """A comm with control bytes and invalid UTF-8 still gives valid JSON."""
        name = b"st-\n\t\x01\xffx"
        path = os.path.join(os.fsencode(self.tmp), name)
        shutil.copy(tool("st-listener"), path)
        run = self.trace(["-t", "first-listen,bootstrap"],
                         [os.fsdecode(path), "0"])
        pid = int(run.wait_fact("pid"))
        run.wait_trigger("first-listen", pid)
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())
        comm = name.decode("utf-8", errors="replace")
        self.assertEqual(run.triggers("first-listen")[0]["comm"], comm)
        boot = run.triggers("bootstrap")[0]
        self.assertEqual(boot["detail"]["filename"],
                         path.decode("utf-8", errors="replace"))
        raw = [l for l in run.out.lines if '"first-listen"' in l and "comm" in l]
        self.assertRegex(raw[0], re.compile(r'\\n\\t\\u0001(\ufffd|\\ufffd)x', re.I))


if __name__ == "__main__":
    unittest.main()
