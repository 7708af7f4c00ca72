"""Operator requests on the control socket (--control, --request-snapshot)."""

import json
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time
import unittest

from harness import PYTHON, SNAPTRIG, TIMEOUT, SnaptrigTestCase, tool

# Seconds a client may read none of its replies before snaptrig disconnects
# it (CONTROL_STALL_S in agent/control.h).
STALL_S = 10
# Connections snaptrig serves at once, and the seconds without a request
# after which one may lose its place to a new client (CONTROL_MAX_CLIENTS and
# CONTROL_EVICT_IDLE_S in agent/control.c).
MAX_CLIENTS = 32
EVICT_IDLE_S = 10
# Seconds without a new explicit line after which snaptrig is taken to have
# stopped carrying out a client's requests.
SETTLE_S = 0.3
# uid and gid of the user 'nobody', which may not connect to a root socket of mode 0600
NOBODY_UID = 65534


class Client:
    """One connection to the control socket, reading reply lines."""

    def __init__(self, test, path, wait_for_backlog=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # a socket with a timeout fails with EAGAIN on a full listen backlog
        self.sock.settimeout(None if wait_for_backlog else TIMEOUT)
        self.sock.connect(path)
        self.sock.settimeout(TIMEOUT)
        self.replies = self.sock.makefile("rb")
        test.addCleanup(self.close)

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        line = self.replies.readline()
        if not line.endswith(b"\n"):
            raise AssertionError(f"no complete reply line, got {line!r}")
        return json.loads(line)

    def request(self, obj):
        self.send(json.dumps(obj).encode() + b"\n")
        return self.reply()

    def fill(self, line):
        """Send copies of line until the socket takes no more; return the bytes sent."""
        self.sock.setblocking(False)
        data = line * 1000
        sent = 0
        try:
            while True:
                sent += self.sock.send(data)
        except BlockingIOError:
            pass
        self.sock.settimeout(TIMEOUT)
        return sent

    def count_lines_until_closed(self):
        """Read until snaptrig closes the connection; return the complete lines read."""
        data = b""
        try:
            while chunk := self.sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
        return data.count(b"\n")

    def close(self):
        self.replies.close()
        self.sock.close()


class ControlTest(SnaptrigTestCase):

    def start(self, triggers="explicit"):
        """Trace a waiting st-marker with a control socket; return run, pid, path."""
        path = os.path.join(self.tmp, "control.sock")
        run = self.trace(["-t", triggers, "--control", path],
                         [tool("st-marker"), "-n", "0", "-w"])
        run.wait_start()
        pid = int(run.wait_fact("pid"))
        return run, pid, path

    def finish(self, run):
        run.close_stdin()
        self.assertEqual(run.wait_exit(), 0, run.describe())

    def wait_explicit_settled(self, run):
        """Wait until explicit lines came and then none for SETTLE_S; return their number."""
        deadline = time.monotonic() + TIMEOUT
        count = 0
        while time.monotonic() < deadline:
            time.sleep(SETTLE_S)
            now = len(run.triggers("explicit"))
            if now and now == count:
                return now
            count = now
        self.fail("explicit lines did not stop coming" + run.describe())

    def wait_error_line(self, run, pattern, timeout):
        """Return the match of the first stderr line that matches pattern."""
        line = run.err.wait(lambda l: re.fullmatch(pattern, l), timeout)
        self.assertIsNotNone(line, f"no stderr line matches {pattern}" + run.describe())
        return re.fullmatch(pattern, line)

    def request_snapshot(self, path, pid):
        result = subprocess.run([str(SNAPTRIG), "--control", path, "--request-snapshot",
                                 str(pid)], capture_output=True, text=True,
                                timeout=TIMEOUT)
        lines = result.stdout.splitlines()
        reply = json.loads(lines[0]) if len(lines) == 1 else None
        return result, reply

    def test_snapshot_request(self):
        run, pid, path = self.start()
        result, reply = self.request_snapshot(path, pid)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(reply["ok"], True)
        self.assertEqual(reply["request"], "snapshot")
        self.assertEqual(reply["pid"], pid)
        self.assertIsInstance(reply["id"], int)
        line = run.wait_trigger("explicit", pid)
        self.assertEqual(line["seq"], reply["seq"])
        self.finish(run)
        lines = run.triggers("explicit")
        self.assertEqual(len(lines), 1, run.describe())
        self.assertEqual((lines[0]["pid"], lines[0]["tid"]), (pid, pid))
        self.assertEqual(lines[0]["comm"], "st-marker")
        self.assertEqual(lines[0]["detail"], {"source": "operator"})
        # the agent made the line, so it has no kernel time to measure from
        latency = run.records[-1]["latency"]
        self.assertNotIn("explicit", latency, run.describe())
        self.assertEqual(latency["exit"]["lines"], 1, run.describe())

    def test_list_names_child_forked_when_quiet(self):
        """A list request names a child forked after a quiet second at once: the
        request wakes the agent, which reads the fork record before it replies."""
        path = os.path.join(self.tmp, "control.sock")
        script = ("import os, sys, time\n"
                  "time.sleep(1.5)\n"
                  "child = os.fork()\n"
                  "if child == 0:\n"
                  "    time.sleep(2)\n"
                  "    os._exit(0)\n"
                  "print('child', child, flush=True)\n"
                  "os.waitpid(child, 0)\n")
        run = self.trace(["-t", "explicit", "--control", path], [PYTHON, "-c", script],
                         stdin=subprocess.DEVNULL)
        parent = run.wait_start()["targets"][0]
        child = int(run.wait_fact("child"))
        reply = Client(self, path).request({"request": "list", "id": 1})
        self.assertEqual(reply["pids"], sorted([parent, child]), run.describe())
        self.assertEqual(run.wait_exit(), 0, run.describe())

    def test_thread_id_names_its_process(self):
        """A snapshot request for a thread's id snapshots its process, as -p does."""
        path = os.path.join(self.tmp, "control.sock")
        run = self.trace(["-t", "explicit", "--control", path], [tool("st-signals")])
        run.wait_start()
        pid = int(run.wait_fact("pid"))
        run.wait_fact("ready")
        tids = [int(t) for t in run.fact_values("tid")]
        self.assertEqual(len(tids), 3, run.describe())
        thread = next(t for t in tids if t != pid)
        result, reply = self.request_snapshot(path, thread)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(reply["ok"], True, reply)
        self.assertEqual(reply["pid"], pid)
        line = run.wait_trigger("explicit", pid)
        self.assertEqual(line["seq"], reply["seq"])
        self.assertEqual((line["pid"], line["tid"]), (pid, pid))
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(run.wait_exit(), 0, run.describe())
        self.assertEqual(len(run.triggers("explicit")), 1, run.describe())

    def test_socket_mode_and_removal(self):
        run, pid, path = self.start()
        st = os.lstat(path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.finish(run)
        self.assertFalse(os.path.exists(path), "the socket must go at exit")

    def test_bad_requests_change_nothing(self):
        run, pid, path = self.start()
        result, reply = self.request_snapshot(path, os.getpid())
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(reply["ok"], False)
        self.assertEqual(reply["error"], f"pid {os.getpid()} is not traced")

        client = Client(self, path)
        bad_lines = [
            (b'{"request":"snapshot","pid":' + str(pid).encode() + b'\n',
             "expected ',' or '}'"),
            (b'not json\n', "must be a JSON object"),
            (b'{"request":"snapshot","pid":"' + str(pid).encode() + b'"}\n',
             "must be an integer"),
            (b'{"request":"snapshot","pid":' + str(pid).encode() + b',"force":1}\n',
             "unknown member"),
            (b'{"request":"snapshot"}\n', "needs member 'pid'"),
            (b'{"request":"snapshot","pid":' + b"7" * 5000 + b'}\n',
             "longer than 4096 bytes"),
        ]
        for data, message in bad_lines:
            with self.subTest(line=data[:60]):
                client.send(data)
                reply = client.reply()
                self.assertEqual(reply["ok"], False, reply)
                self.assertIn(message, reply["error"])
        # the connection still works after the errors
        reply = client.request({"request": "list", "id": "after"})
        self.assertEqual(reply, {"ok": True, "id": "after", "request": "list",
                                 "pids": [pid]})
        reply = client.request({"request": "stats"})
        self.assertEqual(reply["triggers"], {"explicit": 0})
        self.assertEqual(reply["traced"], 1)
        self.assertEqual(reply["dropped_lines"], 0)
        self.finish(run)
        self.assertEqual(run.triggers("explicit"), [], run.describe())

    def test_error_replies_echo_id(self):
        run, pid, path = self.start()
        client = Client(self, path)
        cases = [
            (b'{"request":"bogus","id":9}',
             {"ok": False, "id": 9,
              "error": "unknown request 'bogus': use snapshot, stats or list"}),
            (b'{"request":"snapshot","pid":"' + str(pid).encode() + b'","id":"s"}',
             {"ok": False, "id": "s", "error": "member 'pid' must be an integer"}),
            (b'{"force":1,"request":"list","id":-3}',
             {"ok": False, "id": -3,
              "error": "unknown member 'force': use request, pid or id"}),
            (b'{"request":"stats","pid":1,"id":10}',
             {"ok": False, "id": 10,
              "error": "member 'pid' is valid only with request snapshot"}),
            (b'{"request":"snapshot","pid":2147483648,"id":11}',
             {"ok": False, "id": 11,
              "error": "member 'pid' 2147483648 out of range (1 to 2147483647)"}),
            (b'{"request":"snapshot","pid":1,"id":13}',
             {"ok": False, "id": 13, "error": "pid 1 is not traced"}),
            (b'{"request":"snapshot","pid":0,"id":12}',
             {"ok": False, "id": 12,
              "error": "member 'pid' 0 out of range (1 to 2147483647)"}),
            # no complete object, or no valid id: nothing to echo
            (b'{"request":"list","id":9',
             {"ok": False, "error": "expected ',' or '}' after member 'id'"}),
            (b'{"request":"bogus","id":1.5}',
             {"ok": False, "error": "unknown request 'bogus': use snapshot, stats or list"}),
        ]
        for line, expected in cases:
            with self.subTest(line=line):
                client.send(line + b"\n")
                self.assertEqual(client.reply(), expected)
        self.finish(run)
        self.assertEqual(run.triggers("explicit"), [], run.describe())

    def test_line_of_exactly_4096_bytes(self):
        run, pid, path = self.start()
        client = Client(self, path)
        body = b'{"request":"list","id":"x"}'
        line = body[:-1] + b" " * (4096 - len(body)) + b"}"
        self.assertEqual(len(line), 4096)
        client.send(line + b"\n")
        self.assertEqual(client.reply()["ok"], True)
        client.send(line[:-1] + b" }\n")
        self.assertIn("longer than 4096 bytes", client.reply()["error"])
        self.assertEqual(client.request({"request": "list"})["pids"], [pid])
        self.finish(run)

    def test_overlong_line_echoes_complete_object_id(self):
        run, pid, path = self.start()
        client = Client(self, path)
        body = b'{"request":"list","id":9}'
        for padding in (b" ", b"x"):
            with self.subTest(padding=padding):
                client.send(body + padding * (4097 - len(body)) + b"\n")
                self.assertEqual(client.reply(), {
                    "ok": False, "id": 9, "error": "request line longer than 4096 bytes"})
        # an object that ends past the limit is cut there, so it has no id to echo
        client.send(b'{"id":"cut","request":"list","pad":"' + b"y" * 5000 + b'"}\n')
        self.assertEqual(client.reply(), {
            "ok": False, "error": "request line longer than 4096 bytes"})
        self.assertEqual(client.request({"request": "list"})["pids"], [pid])
        self.finish(run)

    def test_ids_and_order(self):
        run, pid, path = self.start()
        client = Client(self, path)
        client.send(b'{"request":"list","id":"a"}\n{"id":2,"request":"stats"}\n'
                    b'{"request":"snapshot","pid":' + str(pid).encode() + b',"id":"\\u00e9"}\n')
        first, second, third = client.reply(), client.reply(), client.reply()
        self.assertEqual((first["id"], first["request"]), ("a", "list"))
        self.assertEqual((second["id"], second["request"]), (2, "stats"))
        self.assertEqual((third["id"], third["request"], third["ok"]),
                         ("\u00e9", "snapshot", True))
        self.finish(run)
        self.assertEqual(len(run.triggers("explicit", pid)), 1, run.describe())

    def test_pipelined_requests_all_answered(self):
        """Requests sent at once, before any reply is read, each get their reply."""
        run, pid, path = self.start()
        client = Client(self, path)
        count = 3000
        data = b"".join(b'{"request":"snapshot","pid":%d,"id":%d}\n' % (pid, i)
                        for i in range(count))
        send_errors = []

        def send_all():
            try:
                client.send(data)
            except OSError as exc:
                send_errors.append(exc)
        sender = threading.Thread(target=send_all)
        sender.start()
        # read only once snaptrig has stopped, so the replies pile up unread
        self.wait_explicit_settled(run)
        replies = [client.reply() for _ in range(count)]
        sender.join(TIMEOUT)
        self.assertEqual(send_errors, [])
        self.assertEqual([r["id"] for r in replies], list(range(count)))
        self.assertEqual([r for r in replies if r["ok"] is not True], [])
        self.finish(run)
        lines = run.triggers("explicit", pid)
        self.assertEqual(len(lines), count, "one explicit line per request")
        self.assertEqual([r["seq"] for r in replies], [l["seq"] for l in lines])
        self.assertEqual([l for l in run.err.lines if "disconnected" in l], [])

    def test_client_not_reading_disconnected(self):
        """A client that reads no reply for 10 s is disconnected, and the others are served."""
        run, pid, path = self.start()
        stalled = Client(self, path)
        line = b'{"request":"snapshot","pid":%d}\n' % pid
        started = time.monotonic()
        sent = stalled.fill(line)
        executed = self.wait_explicit_settled(run)
        sent += stalled.fill(line)
        # snaptrig stopped reading requests, so the last ones wait in the socket
        self.assertLess(executed, sent // len(line), run.describe())
        self.assertEqual(len(run.triggers("explicit")), executed)

        other = Client(self, path)
        self.assertEqual(other.request({"request": "list", "id": 1}),
                         {"ok": True, "id": 1, "request": "list", "pids": [pid]})
        match = self.wait_error_line(
            run, f"snaptrig: control client pid {os.getpid()} uid {os.getuid()} "
            rf"disconnected: it read no reply for {STALL_S} s; unsent replies: (\d+)",
            STALL_S + TIMEOUT)
        self.assertGreaterEqual(time.monotonic() - started, STALL_S)
        unsent = int(match.group(1))
        received = stalled.count_lines_until_closed()
        self.assertEqual(received + unsent, executed, "every request had its reply queued")
        self.assertEqual(other.request({"request": "list"})["pids"], [pid])
        self.finish(run)
        self.assertEqual(len(run.triggers("explicit")), executed,
                         "requests left unread are not carried out")

    def test_client_closing_unread_logged(self):
        """A client that leaves with replies unread is logged, and its unread requests dropped."""
        run, pid, path = self.start()
        client = Client(self, path)
        client.fill(b'{"request":"snapshot","pid":%d}\n' % pid)
        executed = self.wait_explicit_settled(run)
        client.close()
        self.wait_error_line(
            run, f"snaptrig: control client pid {os.getpid()} uid {os.getuid()} "
            "disconnected: sending a reply failed: (Broken pipe|Connection reset by peer); "
            r"unsent replies: [1-9]\d*", TIMEOUT)
        self.assertEqual(Client(self, path).request({"request": "list"})["pids"], [pid])
        self.finish(run)
        self.assertEqual(len(run.triggers("explicit")), executed, run.describe())

    def test_full_table_evicts_idle_client(self):
        """With every place taken, a new client is rejected until one was idle for
        10 s, and then the client idle longest loses its place."""
        run, pid, path = self.start()
        # one at a time, so that the listen backlog of 16 never fills
        clients = []
        for i in range(MAX_CLIENTS):
            clients.append(Client(self, path))
            self.assertEqual(clients[i].request({"request": "list", "id": i})["id"], i)
        first_quiet = time.monotonic()
        rejected = Client(self, path)
        self.assertEqual(rejected.reply(), {"ok": False, "error": "too many control clients"})
        self.assertEqual(rejected.count_lines_until_closed(), 0)
        self.wait_error_line(
            run, f"snaptrig: control client pid {os.getpid()} uid {os.getuid()} rejected: "
            f"{MAX_CLIENTS} clients are connected, the limit, and none was idle for "
            f"{EVICT_IDLE_S} s", TIMEOUT)
        # client 0 stays active, so client 1 is the one idle longest
        time.sleep(EVICT_IDLE_S / 2)
        self.assertEqual(clients[0].request({"request": "list"})["pids"], [pid])
        time.sleep(max(0, first_quiet + EVICT_IDLE_S + 0.5 - time.monotonic()))

        newcomer = Client(self, path)
        self.assertEqual(newcomer.request({"request": "list", "id": "new"}),
                         {"ok": True, "id": "new", "request": "list", "pids": [pid]})
        self.assertEqual(clients[1].count_lines_until_closed(), 0)
        self.wait_error_line(
            run, f"snaptrig: control client pid {os.getpid()} uid {os.getuid()} "
            rf"disconnected: it sent nothing for {EVICT_IDLE_S} s and its place went to a "
            "new client; unsent replies: 0", TIMEOUT)
        for i in (0, 2, MAX_CLIENTS - 1):
            self.assertEqual(clients[i].request({"request": "list"})["pids"], [pid])
        self.finish(run)

    def test_full_table_quiet_partial_requests(self):
        """Quiet clients with partial requests keep their places, and the
        rejection log line gives that reason."""
        run, pid, path = self.start()
        clients = []
        for i in range(MAX_CLIENTS):
            clients.append(Client(self, path))
            self.assertEqual(clients[i].request({"request": "list", "id": i})["id"], i)
            clients[i].send(b'{"request":')
        time.sleep(EVICT_IDLE_S + 0.5)
        rejected = Client(self, path)
        self.assertEqual(rejected.reply(), {"ok": False, "error": "too many control clients"})
        self.wait_error_line(
            run, f"snaptrig: control client pid {os.getpid()} uid {os.getuid()} rejected: "
            f"{MAX_CLIENTS} clients are connected, the limit, and none can lose its place "
            f"because {MAX_CLIENTS} of them sent nothing for {EVICT_IDLE_S} s but hold a "
            "partial request or unsent replies", TIMEOUT)
        # the partial requests are still there to be completed
        clients[0].send(b'"list"}\n')
        self.assertEqual(clients[0].reply()["pids"], [pid])
        self.finish(run)

    def test_full_table_client_prints_rejection(self):
        """With every place taken, --request-snapshot prints the rejection reply,
        even when the server closed before the request was sent."""
        run, pid, path = self.start()
        clients = []
        for i in range(MAX_CLIENTS):
            clients.append(Client(self, path))
            self.assertEqual(clients[i].request({"request": "list", "id": i})["id"], i)
        for attempt in range(40):
            # a request now and then keeps every place from being evicted
            if attempt % 10 == 0:
                for client in clients:
                    self.assertEqual(client.request({"request": "list"})["pids"], [pid])
            with self.subTest(attempt=attempt):
                result, reply = self.request_snapshot(path, pid)
                self.assertEqual(result.stdout,
                                 '{"ok":false,"error":"too many control clients"}\n')
                self.assertEqual(result.stderr, "")
                self.assertEqual(result.returncode, 1)
        self.assertEqual(run.triggers("explicit"), [])
        self.finish(run)

    def test_closed_clients_free_places(self):
        """A closed client's place is freed before a new client is rejected."""
        run, pid, path = self.start()
        closers, rounds = 4, 300
        stop = threading.Event()

        def connect_and_close():
            for _ in range(rounds):
                if stop.is_set():
                    return
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                # blocking, so that a full listen backlog makes connect() wait
                sock.settimeout(None)
                sock.connect(path)
                sock.close()

        threads = [threading.Thread(target=connect_and_close) for _ in range(closers)]
        for thread in threads:
            thread.start()
        replies = []
        try:
            while any(thread.is_alive() for thread in threads):
                client = Client(self, path, wait_for_backlog=True)
                replies.append(client.request({"request": "list", "id": len(replies)}))
                client.close()
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        self.assertTrue(replies)
        self.assertEqual(replies, [{"ok": True, "id": i, "request": "list", "pids": [pid]}
                                   for i in range(len(replies))])
        self.finish(run)
        rejected = [line for line in run.err.lines if "rejected" in line]
        self.assertEqual(rejected, [], run.describe())

    def test_clients_at_once_partial_lines(self):
        run, pid, path = self.start()
        request = b'{"request":"snapshot","pid":' + str(pid).encode() + b'}\n'
        slow = Client(self, path)
        slow.send(request[:10])
        disconnected = Client(self, path)
        disconnected.send(request[:-1])  # all but the newline, then it disconnects
        disconnected.close()
        quick = Client(self, path)
        self.assertEqual(quick.request({"request": "list"})["pids"], [pid])
        slow.send(request[10:20])
        self.assertEqual(quick.request({"request": "stats"})["triggers"], {"explicit": 0})
        slow.send(request[20:])
        reply = slow.reply()
        self.assertEqual(reply["ok"], True, reply)
        line = run.wait_trigger("explicit", pid)
        self.assertEqual(line["seq"], reply["seq"])
        self.finish(run)
        self.assertEqual(len(run.triggers("explicit")), 1,
                         "the client that left mid-line must not count" + run.describe())

    def test_explicit_not_selected(self):
        run, pid, path = self.start(triggers="first-listen")
        result, reply = self.request_snapshot(path, pid)
        self.assertEqual(result.returncode, 1)
        self.assertIn("explicit trigger is not selected", reply["error"])
        self.finish(run)

    def test_existing_file_kept(self):
        path = os.path.join(self.tmp, "not-a-socket")
        with open(path, "w", encoding="ascii") as f:
            f.write("keep me\n")
        result = subprocess.run([str(SNAPTRIG), "--control", path, "--", "/bin/true"],
                                capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("is not a socket", result.stderr)
        with open(path, encoding="ascii") as f:
            self.assertEqual(f.read(), "keep me\n")

    def test_bad_directory_named(self):
        """A socket path in a missing directory or under a file names the fix."""
        missing_dir = os.path.join(self.tmp, "no-such-dir")
        file = os.path.join(self.tmp, "file")
        with open(file, "w", encoding="ascii") as f:
            f.write("keep me\n")
        cases = [
            (os.path.join(missing_dir, "control.sock"),
             f"cannot listen on '{missing_dir}/control.sock' for --control: No such "
             f"file or directory; create the directory '{missing_dir}' or choose "
             "another path"),
            (os.path.join(file, "control.sock"),
             f"cannot use '{file}/control.sock' for --control: Not a directory; "
             f"'{file}' is not a directory: choose another path"),
        ]
        for path, message in cases:
            with self.subTest(path=path):
                result = subprocess.run([str(SNAPTRIG), "--control", path, "--",
                                         "/bin/true"], capture_output=True, text=True,
                                        timeout=TIMEOUT)
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertEqual(result.stdout, "")
                self.assertEqual(result.stderr.splitlines(), ["snaptrig: " + message])

    def test_socket_in_use_kept(self):
        run, pid, path = self.start()
        result = subprocess.run([str(SNAPTRIG), "--control", path, "--", "/bin/true"],
                                capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("another process listens on it", result.stderr)
        self.assertEqual(Client(self, path).request({"request": "list"})["pids"], [pid])
        self.finish(run)

    def test_client_permission_denied(self):
        """A user without write permission on the socket gets a hint about permissions."""
        os.chmod(self.tmp, 0o755)
        path = os.path.join(self.tmp, "control.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(path)
        listener.listen(1)
        os.chmod(path, 0o600)
        result = subprocess.run([str(SNAPTRIG), "--control", path, "--request-snapshot", "1"],
                                capture_output=True, text=True, timeout=TIMEOUT,
                                user=NOBODY_UID, group=NOBODY_UID)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr,
                         f"snaptrig: cannot connect to the control socket '{path}': "
                         "Permission denied; the socket has mode 0600, so run this as the "
                         "user that runs snaptrig, and check search permission on the "
                         "directories of its path\n")

    def test_client_usage_errors(self):
        cases = [
            (["--request-snapshot", "1"], 2, "needs --control"),
            (["--control", "/x", "--request-snapshot", "0"], 2, "invalid pid"),
            (["--control", "/x", "--request-snapshot", "1", "--", "/bin/true"], 2,
             "give no COMMAND"),
            (["--control", "/x", "-t", "all", "--request-snapshot", "1"], 2,
             "-t applies to tracing; give only --control and -v"),
            (["--control", "/x", "--request-snapshot", "1", "-v", "--freeze"], 2,
             "--freeze applies to tracing"),
            (["--control", "/x", "--request-snapshot", "1", "--cooldown=2s"], 2,
             "--cooldown applies to tracing"),
            (["--control", os.path.join(self.tmp, "none.sock"), "--request-snapshot",
              "1"], 1, "cannot connect"),
        ]
        for args, code, message in cases:
            with self.subTest(args=args):
                result = subprocess.run([str(SNAPTRIG)] + args, capture_output=True,
                                        text=True, timeout=TIMEOUT)
                self.assertEqual(result.returncode, code, result.stderr)
                self.assertIn(message, result.stderr)


if __name__ == "__main__":
    unittest.main()
