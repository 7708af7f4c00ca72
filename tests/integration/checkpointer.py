#!/usr/bin/python3
"""Record a snapshot request as its checkpointer finds it, then exit.

Usage: checkpointer.py --out FILE [--pid PID] [--absent PATH] [--gate PATH]
                       [--fill N] [--stderr TEXT] [--exit N] [-- ARG...]

It writes one JSON object to FILE (through a temporary file and a rename,
so a reader never sees half of it):
  checkpointer  its own pid, ppid and process group id
  args          the ARGs after "--", as snaptrig expanded them
  env           every SNAPTRIG_* variable
  env_names     the name of each entry of /proc/self/environ, in order
  fds           {fd: link target} of its open descriptors
  state         the state letter of /proc/PID/stat (None if PID is gone)
  threads       {tid: state letter} of every thread in /proc/PID/task
  exe           the target of /proc/PID/exe
  absent_exists whether PATH of --absent exists
Then it waits until the --gate file exists (at most 20 s), writes TEXT to
stderr after N bytes of "x" (default 0) and exits with N of --exit
(default 0).
"""

import argparse
import json
import os
import sys
import time

GATE_WAIT = 20.0


def process_state(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def environ_names():
    with open("/proc/self/environ", "rb") as f:
        entries = f.read().split(b"\0")
    return [e.split(b"=", 1)[0].decode(errors="replace") for e in entries if e]


def open_fds():
    fds = {}
    names = os.listdir("/proc/self/fd")
    for name in names:
        try:
            fds[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the descriptor listdir itself used
    return fds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--absent")
    parser.add_argument("--gate")
    parser.add_argument("--fill", type=int, default=0)
    parser.add_argument("--stderr", default="")
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("args", nargs="*")
    opts = parser.parse_args()

    record = {
        "checkpointer": {"pid": os.getpid(), "ppid": os.getppid(),
                         "pgid": os.getpgid(0)},
        "args": opts.args,
        "env": {k: v for k, v in os.environ.items() if k.startswith("SNAPTRIG_")},
        "env_names": environ_names(),
        "fds": open_fds(),
    }
    if opts.pid is not None:
        record["state"] = process_state(opts.pid)
        try:
            tids = os.listdir(f"/proc/{opts.pid}/task")
        except OSError:
            tids = []
        record["threads"] = {tid: process_state(int(tid)) for tid in tids}
        try:
            record["exe"] = os.readlink(f"/proc/{opts.pid}/exe")
        except OSError:
            record["exe"] = None
    if opts.absent is not None:
        record["absent_exists"] = os.path.exists(opts.absent)
    tmp = opts.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f)
    os.rename(tmp, opts.out)

    if opts.gate:
        deadline = time.monotonic() + GATE_WAIT
        while not os.path.exists(opts.gate) and time.monotonic() < deadline:
            time.sleep(0.01)
    sys.stderr.write("x" * opts.fill + opts.stderr)
    sys.stderr.flush()
    return opts.exit


if __name__ == "__main__":
    sys.exit(main())
