#!/usr/bin/python3
"""Run the snaptrig benchmark suite and write docs/bench/results.json.

Every workload runs untraced and traced in the same run, the variants
interleaved (A, B, A, B, ...), and every figure is the ratio of a traced
repetition to the untraced repetition next to it. The workloads time their
loops themselves with CLOCK_MONOTONIC, so process start-up and tracer
attach are outside the figures. report.py turns results.json into
docs/BENCH.md.
"""

import argparse
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_DIR = os.path.join(ROOT, "tools", "bench")
# The agent and the workloads, from --bin: run.sh builds the workloads and
# copies build/snaptrig there.
SNAPTRIG = None
BIN = None

# The system calls `snaptrig -t all` hooks, as strace -e trace= names.
HOOKED_CALLS = ("listen,read,readv,pread64,preadv,preadv2,recvfrom,recvmsg,recvmmsg,"
                "getrandom,clock_gettime,gettimeofday,time,open,openat,openat2,"
                "fsync,fdatasync,sync_file_range,syncfs,sync,msync,execve")
READY_TIMEOUT_S = 30


def boot_ns():
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def log(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


class Tmp:
    """A scratch directory for tracer output, removed at the end."""
    path = None

    @classmethod
    def file(cls, name):
        if cls.path is None:
            cls.path = tempfile.mkdtemp(prefix="snaptrig-bench.")
        return os.path.join(cls.path, name)


def bt_script(name, attach):
    """Return the path of a bpftrace script; attach mode filters on $1."""
    path = os.path.join(BENCH_DIR, name)
    if not attach:
        return path
    with open(path) as f:
        text = f.read().replace("cpid", "$1")
    out = Tmp.file("attach-" + name)
    with open(out, "w") as f:
        f.write(text)
    return out


# Launch-mode variants: each maps a workload argv to the command that runs it.

def untraced(argv):
    return argv


def snaptrig(*opts):
    def wrap(argv):
        return [SNAPTRIG, *opts, "-o", "/dev/null", "--", *argv]
    return wrap


def bpftrace(script):
    def wrap(argv):
        return ["bpftrace", "-o", "/dev/null", os.path.join(BENCH_DIR, script),
                "-c", " ".join(argv)]
    return wrap


def floor(mode):
    """Return a wrapper that runs argv under bench-floor's hooks.

    mode is "tp", "exit" or "raw" (floor.bpf.c) or "churn" (floor-churn.bpf.c).
    """
    obj = "floor-churn.bpf.o" if mode == "churn" else "floor.bpf.o"

    def wrap(argv):
        return [os.path.join(BIN, "bench-floor"), mode, os.path.join(BIN, obj), "--", *argv]
    return wrap


def strace(calls, seccomp):
    def wrap(argv):
        cmd = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + calls]
        if seccomp:
            cmd.append("--seccomp-bpf")
        return cmd + ["--", *argv]
    return wrap


def other_tracers():
    """Return "comm:pid" of the processes that hold BPF program or link fds.

    None of ours runs while a baseline runs, so this shows when another
    engineer's tracer on this shared machine may have slowed the baseline.
    """
    owners = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
            links = {os.readlink(f"/proc/{entry}/fd/{fd}") for fd in fds}
            if not any(l.startswith(("anon_inode:bpf-prog", "anon_inode:bpf_link",
                                     "anon_inode:bpf-link")) for l in links):
                continue
            with open(f"/proc/{entry}/comm") as f:
                owners.append(f"{f.read().strip()}:{entry}")
        except OSError:
            continue
    return sorted(owners)


def run_workload(cmd):
    """Run cmd and return the workload's JSON result line."""
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True, timeout=300)
    for line in res.stdout.splitlines():
        if line.startswith('{"op"'):
            return json.loads(line)
    raise RuntimeError(f"no result from {' '.join(cmd)} (exit {res.returncode}): "
                       f"{res.stderr.strip()[-400:]}")


def wait_for(predicate, what, proc=None):
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: tracer exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: timed out after {READY_TIMEOUT_S} s")
        time.sleep(0.01)


def perf_event_fds(pid):
    """Return how many perf event descriptors pid holds, or -1 once it is gone."""
    count = 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return -1
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[perf_event]":
                count += 1
        except OSError:
            pass
    return count


def wait_bpftrace_attached(out, proc, settle_s=0.5):
    """Wait until bpftrace has attached its probes.

    bpftrace prints "Attaching N probes..." before it attaches them and
    nothing after, and it attaches each probe through a perf event. So this
    waits for that line, then until the count of its perf event descriptors
    has not changed for settle_s.
    """
    wait_for(lambda: file_has(out, "Attaching"), "bpftrace", proc)
    last, since = None, time.monotonic()

    def settled():
        nonlocal last, since
        count = perf_event_fds(proc.pid)
        if count != last:
            last, since = count, time.monotonic()
        return time.monotonic() - since >= settle_s

    wait_for(settled, "bpftrace attach", proc)


def file_has(path, text):
    try:
        with open(path, errors="replace") as f:
            return text in f.read(65536)
    except FileNotFoundError:
        return False


def traced_by_ptrace(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1]) != 0
    return False


def stop_tracer(proc):
    """Stop a tracer with SIGINT; return how it ended ("exited" or "killed").

    A tracer that has not exited 30 s after SIGINT gets SIGKILL: its BPF
    programs and ptrace attachments end with its file descriptors.
    """
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
        return "exited"
    except subprocess.TimeoutExpired:
        log(f"tracer {proc.pid} ({proc.args[0]}) did not exit 30 s after SIGINT; killing it")
        proc.kill()
        proc.wait()
        return "killed"


# The triggers of each snaptrig kind of Attached: all of them, the idle
# trigger alone (scheduler hooks, no syscall tracepoint), all but idle, and
# first-environ alone (uprobes on libc, and the open and mmap hooks).
SNAPTRIG_KINDS = {
    "snaptrig": "all",
    "snaptrig-idle": "idle",
    "snaptrig-environ": "first-environ",
    "snaptrig-no-idle": "first-listen,first-stdin,first-environ,first-sigint,periodic-interval,"
                        "sigint,sigalrm,sigtstp,sigstop,non-deterministic-call,bootstrap,"
                        "transaction,explicit",
}

# The script of each bpftrace kind of Attached.
BPFTRACE_KINDS = {"bpftrace": "all.bt", "bpftrace-getenv": "getenv.bt"}


class Attached:
    """A tracer attached to a running pid, stopped with SIGINT on exit."""

    def __init__(self, kind, pid, out="/dev/null"):
        self.kind, self.pid, self.out = kind, pid, out
        self.proc = None
        self.out_path = None
        self.cpu_s = None
        self.stats = None

    def __enter__(self):
        if self.kind == "none":
            return self
        if self.kind in SNAPTRIG_KINDS:
            out = self.out if self.out != "/dev/null" else Tmp.file("attach.json")
            if os.path.exists(out):
                os.unlink(out)
            self.out_path = out
            self.proc = subprocess.Popen([SNAPTRIG, "-t", SNAPTRIG_KINDS[self.kind],
                                          "-p", str(self.pid), "-o", out],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            wait_for(lambda: file_has(out, '"type":"start"'), "snaptrig -p", self.proc)
        elif self.kind in BPFTRACE_KINDS:
            out = Tmp.file("attach.bt.out")
            if os.path.exists(out):
                os.unlink(out)
            self.proc = subprocess.Popen(["bpftrace", "-o", out,
                                          bt_script(BPFTRACE_KINDS[self.kind], True),
                                          str(self.pid)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            wait_bpftrace_attached(out, self.proc)
        elif self.kind == "strace":
            self.proc = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null",
                                          "-e", "trace=" + HOOKED_CALLS, "-p", str(self.pid)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            wait_for(lambda: traced_by_ptrace(self.pid), "strace -p", self.proc)
        return self

    def __exit__(self, *exc):
        if self.proc is None:
            return False
        try:
            self.cpu_s = cpu_ticks(self.proc.pid) / os.sysconf("SC_CLK_TCK")
        except OSError:
            self.cpu_s = None
        self.ending = stop_tracer(self.proc)
        if self.kind in SNAPTRIG_KINDS:
            self.stats = last_stats(self.out_path)
        return False


def last_stats(path):
    """Return the stats line of a snaptrig output file, or None."""
    stats = None
    with open(path) as f:
        for line in f:
            if '"type":"stats"' in line:
                stats = json.loads(line)
    return stats


class Sleeper:
    """A process of our own that sleeps, for tracers to attach to."""

    def __enter__(self):
        self.proc = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL)
        return self.proc.pid

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()
        return False


def interleave(name, workload, variants, reps, scale=None, keep=None):
    """Run each variant once per repetition, in order, and collect results.

    keep, when given, lists the variant labels to run; the first label (the
    baseline) always runs.
    """
    scale = scale or {}
    first = list(variants)[0]
    if keep is not None:
        variants = {k: v for k, v in variants.items() if k == first or k in keep}
    # The baseline once more, last: its ratio shows the noise of identical runs.
    variants[f"{first} (again)"] = variants[first]
    runs = {v: [] for v in variants}
    for rep in range(reps):
        for label, wrap in variants.items():
            argv = workload(scale.get(label, 1))
            others = other_tracers() if label == first else None
            t0 = time.monotonic()
            if hasattr(wrap, "run"):
                result = wrap.run(argv)
            else:
                result = run_workload(wrap(argv))
            result["wall_s"] = round(time.monotonic() - t0, 3)
            result["rep"] = rep
            if others is not None:
                result["other_bpf"] = others
            runs[label].append(result)
        log(f"{name}: repetition {rep + 1}/{reps} done")
    return summarize(name, runs, first)


class AlongsideTracer:
    """Variant runner: the workload untraced while a tracer traces a sleeper."""

    def __init__(self, kind):
        self.kind = kind

    def run(self, argv):
        with Sleeper() as pid, Attached(self.kind, pid):
            return run_workload(argv)


def summarize(name, runs, base):
    out = {"name": name, "baseline": base, "variants": {}}
    base_ns = [r["ns_per_op"] for r in runs[base]]
    for label, results in runs.items():
        ns = [r["ns_per_op"] for r in results]
        ratios = [n / b for n, b in zip(ns, base_ns)]
        out["variants"][label] = {
            "runs": results,
            "ns_per_op": stats(ns),
            "ratio": stats(ratios),
        }
    return out


def stats(values):
    values = sorted(values)
    if len(values) >= 4:
        q = statistics.quantiles(values, n=4, method="inclusive")
        q1, q3 = q[0], q[2]
    else:
        q1, q3 = values[0], values[-1]
    return {"median": statistics.median(values), "min": values[0], "max": values[-1],
            "q1": q1, "q3": q3, "n": len(values), "values": values}


def percentile(values, pct):
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * pct / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def idle_available():
    res = subprocess.run([SNAPTRIG, "-t", "idle", "-o", "/dev/null", "--", "/bin/true"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return res.returncode == 0, res.stderr.strip()


# Workload sets.

def bench_syscalls(cfg):
    results = []
    loop = os.path.join(BIN, "bench-loop")
    n = cfg.loop_n
    for op in ("getpid", "pread"):
        variants = {
            "untraced": untraced,
            "snaptrig -t all": snaptrig("-t", "all"),
            "bpftrace all.bt": bpftrace("all.bt"),
            "strace -f": strace(HOOKED_CALLS, False),
            "strace -f --seccomp-bpf": strace(HOOKED_CALLS, True),
        }
        # Diagnostics: -t sigalrm attaches no syscall tracepoint at all,
        # pread-nop.bt is an empty program on the pread64 tracepoint, and
        # the floor variants are a map lookup on a tp/syscalls or a raw_tp hook,
        # and "floor tp+exit" adds an empty sys_exit tracepoint program.
        if op == "getpid":
            variants["snaptrig -t sigalrm"] = snaptrig("-t", "sigalrm")
        else:
            variants["bpftrace pread-nop.bt"] = bpftrace("pread-nop.bt")
        variants["floor tp"] = floor("tp")
        variants["floor tp+exit"] = floor("exit")
        variants["floor raw"] = floor("raw")
        scale = {"strace -f": 1 / 50, "strace -f --seccomp-bpf": 1 / 50}
        if op == "getpid":
            scale["strace -f --seccomp-bpf"] = 1

        def workload(factor, op=op):
            return [loop, op, str(max(1000, int(n * factor)))]
        results.append(interleave(f"{op} traced", workload, variants, cfg.reps, scale,
                                  cfg.keep))

        others = {
            "no tracer": untraced,
            "snaptrig -t all -p other": AlongsideTracer("snaptrig"),
        }
        others["bpftrace all.bt other"] = AlongsideTracer("bpftrace")
        results.append(interleave(f"{op} untraced", workload, others, cfg.reps, keep=cfg.keep))

    # getenv enters no system call, but first-environ's uprobes make it trap
    # in every process. So the loops beside a tracer run a twentieth of the calls.
    others = {
        "no tracer": untraced,
        "snaptrig -t all -p other": AlongsideTracer("snaptrig"),
        "snaptrig -t first-environ -p other": AlongsideTracer("snaptrig-environ"),
        "bpftrace getenv.bt other": AlongsideTracer("bpftrace-getenv"),
    }
    scale = {label: 1 / 20 for label in others if label != "no tracer"}

    def getenv_workload(factor):
        return [loop, "getenv", str(max(1000, int(n * factor)))]
    results.append(interleave("getenv untraced", getenv_workload, others, cfg.reps, scale,
                              cfg.keep))
    return results


def bench_flood(cfg):
    loop = os.path.join(BIN, "bench-loop")
    variants = {
        "untraced": untraced,
        "snaptrig -t all": snaptrig("-t", "all"),
        "snaptrig -t all --cooldown 0s": snaptrig("-t", "all", "--cooldown", "0s"),
        "bpftrace getrandom.bt": bpftrace("getrandom.bt"),
        "strace -f": strace("getrandom", False),
        "strace -f --seccomp-bpf": strace("getrandom", True),
        "floor tp": floor("tp"),
        "floor tp+exit": floor("exit"),
    }
    scale = {"strace -f": 1 / 50, "strace -f --seccomp-bpf": 1 / 50,
             "bpftrace getrandom.bt": 1 / 10}

    def workload(factor):
        return [loop, "getrandom", str(max(1000, int(cfg.flood_n * factor)))]
    keep = None if cfg.keep is None else cfg.keep | {"bpftrace getrandom.bt"}
    return [interleave("getrandom flood", workload, variants, cfg.reps, scale, keep)]


def bench_pingpong(cfg):
    pingpong = os.path.join(BIN, "bench-pingpong")
    ok, why = idle_available()
    opts = ("-t", "idle") if ok else ("-t", "all")
    label = "snaptrig " + " ".join(opts)
    results = []
    for mode, n in (("same", cfg.pingpong_n), ("split", cfg.pingpong_split_n)):
        variants = {"untraced": untraced, label: snaptrig(*opts)}

        def workload(factor, mode=mode, n=n):
            return [pingpong, str(int(n * factor)), mode]
        res = interleave(f"pipe ping-pong {mode}", workload, variants, cfg.reps)
        res["idle_available"] = ok
        res["idle_error"] = "" if ok else why
        results.append(res)
    return results


def bench_churn(cfg):
    churn = os.path.join(BIN, "bench-churn")
    variants = {
        "untraced": untraced,
        "snaptrig -t all": snaptrig("-t", "all"),
        "snaptrig -t all --lazy-wakeup": snaptrig("-t", "all", "--lazy-wakeup"),
        "bpftrace all.bt": bpftrace("all.bt"),
        "strace -f": strace(HOOKED_CALLS, False),
        "strace -f --seccomp-bpf": strace(HOOKED_CALLS, True),
        "floor churn": floor("churn"),
    }

    def workload(factor):
        return [churn, str(int(cfg.churn_n * factor))]
    return [interleave("fork-exec-exit churn", workload, variants, cfg.reps, keep=cfg.keep)]


# Redis.

def free_port():
    for port in range(16390, 16490):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in 16390-16489 for redis-server")


def redis_benchmark(port, n):
    res = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(n),
                          "-t", "set,get", "--csv"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=600)
    rows = [line.replace('"', "").split(",") for line in res.stdout.splitlines()]
    if not rows or rows[0][0] != "test":
        raise RuntimeError(f"redis-benchmark output not understood: {res.stdout[:300]}"
                           f" {res.stderr[:300]}")
    head = rows[0]
    out = {}
    for row in rows[1:]:
        rec = dict(zip(head, row))
        out[rec["test"]] = {"rps": float(rec["rps"]), "p50_ms": float(rec["p50_latency_ms"]),
                            "p99_ms": float(rec["p99_latency_ms"])}
    return out


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def bench_redis(cfg):
    port = free_port()
    workdir = Tmp.file("redis")
    os.makedirs(workdir, exist_ok=True)
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--daemonize", "no",
                               "--dir", workdir, "--logfile", os.path.join(workdir, "log")],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    kinds = {"untraced": "none", "snaptrig -t all -p": "snaptrig",
             "snaptrig -t idle -p": "snaptrig-idle",
             "snaptrig -t all but idle -p": "snaptrig-no-idle",
             "bpftrace all.bt $1": "bpftrace", "strace -f -p": "strace"}
    if cfg.keep is not None:
        kinds = {k: v for k, v in kinds.items() if v == "none" or v in SNAPTRIG_KINDS}
    kinds["untraced (again)"] = "none"
    runs = {label: [] for label in kinds}
    try:
        wait_for(lambda: subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"],
                                        capture_output=True, text=True).stdout.strip() == "PONG",
                 "redis-server")
        redis_benchmark(port, max(1000, cfg.redis_n // 10))
        for rep in range(cfg.reps):
            for label, kind in kinds.items():
                others = other_tracers() if label == "untraced" else None
                # strace serves about a tenth of the requests per second
                requests = cfg.redis_n // 10 if kind == "strace" else cfg.redis_n
                with Attached(kind, server.pid) as tracer:
                    res = redis_benchmark(port, requests)
                res["requests"] = requests
                if others is not None:
                    res["other_bpf"] = others
                if kind in SNAPTRIG_KINDS:
                    res["agent_cpu_s"] = tracer.cpu_s
                    res["agent_records"] = tracer.stats["records"] if tracer.stats else None
                state = proc_state(server.pid)
                if state in ("T", "t"):
                    raise RuntimeError(f"redis-server {server.pid} left in state {state}")
                res["rep"] = rep
                runs[label].append(res)
            log(f"redis: repetition {rep + 1}/{cfg.reps} done")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [summarize_redis(runs, port, cfg.redis_n)]


def summarize_redis(runs, port, requests):
    out = {"name": "redis", "baseline": "untraced", "port": port, "requests": requests,
           "variants": {}}
    base = runs["untraced"]
    for label, results in runs.items():
        v = {"runs": results}
        for test in ("SET", "GET"):
            rps = [r[test]["rps"] for r in results]
            p99 = [r[test]["p99_ms"] for r in results]
            v[test] = {
                "rps": stats(rps), "p99_ms": stats(p99),
                "rps_ratio": stats([x / b[test]["rps"] for x, b in zip(rps, base)]),
                "p99_ratio": stats([x / b[test]["p99_ms"] for x, b in zip(p99, base)]),
            }
        out["variants"][label] = v
    return out


# The agent itself.

def cpu_split(pid):
    """Returns the user and system CPU ticks of pid, utime and stime of /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def cpu_ticks(pid):
    return sum(cpu_split(pid))


def proc_io(pid):
    """Return /proc/PID/io as a dict (syscw is the number of write calls)."""
    with open(f"/proc/{pid}/io") as f:
        return {k: int(v) for k, v in (line.split(": ") for line in f)}


def vm_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def vm_hwm_kib(pid):
    return vm_status_kib(pid, "VmHWM")


def rss_by_mapping(pid, top=6):
    """Return the largest resident mappings of pid as (name, KiB) pairs."""
    sizes, name = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = head[5] if len(head) > 5 else "[anonymous]"
            elif head and head[0] == "Rss:":
                sizes[name] = sizes.get(name, 0) + int(head[1])
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:top]


def wait_quiet(path, quiet_s=0.3):
    """Wait until path stops growing; return the boot time of its last growth."""
    size, last = -1, boot_ns()
    while True:
        now_size = os.path.getsize(path)
        if now_size != size:
            size, last = now_size, boot_ns()
        elif (boot_ns() - last) / 1e9 > quiet_s:
            return last
        time.sleep(0.005)


def count_flood_lines(path):
    lines = calls = lost = 0
    with open(path) as f:
        for line in f:
            if '"non-deterministic-call"' in line and '"type":"trigger"' in line:
                lines += 1
                calls += json.loads(line)["detail"]["count"]
            elif '"type":"stats"' in line:
                lost = json.loads(line)["lost"]
    return lines, calls, lost


def flood_agent_once(n):
    loop = os.path.join(BIN, "bench-loop")
    out = Tmp.file("flood.json")
    if os.path.exists(out):
        os.unlink(out)
    work = subprocess.Popen([loop, "getrandom", str(n), "--wait-usr1"], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    agent = subprocess.Popen([SNAPTRIG, "-t", "all", "--cooldown", "0s", "-p", str(work.pid),
                              "-o", out], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: file_has(out, '"type":"start"'), "snaptrig -p", agent)
        user0, sys0 = cpu_split(agent.pid)
        io0 = proc_io(agent.pid)
        go = boot_ns()
        work.send_signal(signal.SIGUSR1)
        result = json.loads(work.stdout.readline())
        last = wait_quiet(out)
        user1, sys1 = cpu_split(agent.pid)
        io1 = proc_io(agent.pid)
        hwm = vm_hwm_kib(agent.pid)
        rss = vm_status_kib(agent.pid, "VmRSS")
        rss_map = rss_by_mapping(agent.pid)
        work.send_signal(signal.SIGUSR1)
        work.wait(timeout=30)
        agent.wait(timeout=30)
    finally:
        for p in (work, agent):
            if p.poll() is None:
                p.kill()
                p.wait()
    lines, counted, lost = count_flood_lines(out)
    calls = n + n // 10
    seconds = (last - go) / 1e9
    tick_ns = 1e9 / os.sysconf("SC_CLK_TCK")
    cpu_ticks_used = (user1 - user0) + (sys1 - sys0)
    os.unlink(out)
    return {"calls": calls, "lines": lines, "counted": counted, "lost_records": lost,
            "lines_missing": max(0, calls - lines), "seconds": seconds,
            "lines_per_s": lines / seconds if seconds > 0 else None,
            "producer_calls_per_s": 1e9 / result["ns_per_op"],
            "agent_cpu_s": cpu_ticks_used * tick_ns / 1e9,
            "agent_cpu_ns_per_line": cpu_ticks_used * tick_ns / lines if lines else None,
            "agent_user_ns_per_line": (user1 - user0) * tick_ns / lines if lines else None,
            "agent_sys_ns_per_line": (sys1 - sys0) * tick_ns / lines if lines else None,
            "vm_hwm_kib": hwm, "vm_rss_kib": rss, "rss_by_mapping_kib": rss_map,
            "agent_write_calls": io1["syscw"] - io0["syscw"],
            "agent_read_calls": io1["syscr"] - io0["syscr"],
            "agent_bytes_written": io1["wchar"] - io0["wchar"]}


def flood_bpftrace_once(n):
    loop = os.path.join(BIN, "bench-loop")
    out = Tmp.file("flood.bt")
    if os.path.exists(out):
        os.unlink(out)
    work = subprocess.Popen([loop, "getrandom", str(n), "--wait-usr1"], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    errors = Tmp.file("flood.bt.err")
    with open(errors, "w") as err:
        tracer = subprocess.Popen(["bpftrace", "-o", out, bt_script("getrandom.bt", True),
                                   str(work.pid)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_bpftrace_attached(out, tracer)
        cpu0 = cpu_ticks(tracer.pid)
        go = boot_ns()
        work.send_signal(signal.SIGUSR1)
        json.loads(work.stdout.readline())
        # bpftrace may still be behind when the file pauses, and SIGINT ends it
        # at once, so it gets a longer quiet period than the agent
        last = wait_quiet(out, quiet_s=1.0)
        cpu1 = cpu_ticks(tracer.pid)
        hwm = vm_hwm_kib(tracer.pid)
        work.send_signal(signal.SIGUSR1)
        work.wait(timeout=30)
        ending = stop_tracer(tracer)
    finally:
        for p in (work, tracer):
            if p.poll() is None:
                p.kill()
                p.wait()
    lines = lost = 0
    for path in (out, errors):
        with open(path, errors="replace") as f:
            for line in f:
                if line.endswith(" getrandom\n"):
                    lines += 1
                match = re.search(r"Lost (\d+) events", line)
                if match:
                    lost += int(match.group(1))
    os.unlink(out)
    calls = n + n // 10
    seconds = (last - go) / 1e9
    return {"calls": calls, "lines": lines, "lost_reported": lost,
            "lines_missing": max(0, calls - lines), "seconds": seconds,
            "lines_per_s": lines / seconds if seconds > 0 else None,
            "cpu_s": (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK"), "vm_hwm_kib": hwm,
            "ending": ending}


class Pinger:
    """A process of our own that calls getrandom(2) every millisecond."""

    def __enter__(self):
        code = "import os, time\nwhile True:\n    os.getrandom(8)\n    time.sleep(0.001)\n"
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL)
        return self.proc.pid

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()
        return False


def bpftrace_start_once(pid):
    """Return ms from spawning `bpftrace all.bt PID` to its first line of PID's calls.

    bpftrace prints no line once it has attached, so its first event marks
    the end of its start, at most a millisecond late with a Pinger.
    """
    t0 = boot_ns()
    tracer = subprocess.Popen(["bpftrace", bt_script("all.bt", True), str(pid)],
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    t1 = None
    try:
        pending = b""
        while t1 is None and boot_ns() - t0 < READY_TIMEOUT_S * 1e9:
            ready, _, _ = select.select([tracer.stdout], [], [], 1.0)
            chunk = os.read(tracer.stdout.fileno(), 1 << 16) if ready else b""
            if ready and not chunk:
                break
            pending += chunk
            if b" non-deterministic-call " in pending:
                t1 = boot_ns()
            pending = pending[pending.rfind(b"\n") + 1:]
    finally:
        # with the pipe closed, a bpftrace blocked on writing ends by SIGPIPE
        tracer.stdout.close()
        stop_tracer(tracer)
    return (t1 - t0) / 1e6 if t1 else None


def start_time_once(pid, opts, stderr=subprocess.DEVNULL):
    t0 = boot_ns()
    agent = subprocess.Popen([SNAPTRIG, *opts, "-p", str(pid)], stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, stderr=stderr)
    try:
        line = agent.stdout.readline()
        t1 = boot_ns()
    finally:
        stop_tracer(agent)
    if b'"type":"start"' not in line:
        raise RuntimeError(f"first line of snaptrig is not a start line: {line[:200]!r}")
    return (t1 - t0) / 1e6


LOAD_TIME = re.compile(r"loading the BPF object (\w+) took ([0-9.]+) ms")
CORE_BTF_TIME = re.compile(r"the BTF for CO-RE has \d+ types for \d+ relocation roots, "
                           r"built in ([0-9.]+) ms")
CORE_BTF_STEP = "building the BTF for CO-RE"


def start_split_once(pid):
    """Start `snaptrig -vv -t all -p PID`; return its start time and each object's load in ms."""
    errors = Tmp.file("start-split.err")
    with open(errors, "w") as err:
        total = start_time_once(pid, ["-vv", "-t", "all"], stderr=err)
    with open(errors, errors="replace") as f:
        text = f.read()
    loads = {m.group(1): float(m.group(2)) for m in LOAD_TIME.finditer(text)}
    core = CORE_BTF_TIME.search(text)
    if core:
        loads[CORE_BTF_STEP] = float(core.group(1))
    os.unlink(errors)
    return total, loads


def btf_parse_ms(count):
    """Time libbpf's parse of the kernel's BTF count times in bench-btf; return the ms list."""
    out = subprocess.run([os.path.join(BIN, "bench-btf"), str(count)], check=True,
                         capture_output=True, text=True).stdout
    return [int(x) / 1e6 for x in out.split()]


def read_lines_timed(proc, clock=time.CLOCK_BOOTTIME):
    """Read proc's stdout; return (line, the clock's time at receipt) pairs."""
    fd = proc.stdout.fileno()
    pending, lines = b"", []
    while True:
        chunk = os.read(fd, 1 << 16)
        now = time.clock_gettime_ns(clock)
        if not chunk:
            return lines
        pending += chunk
        *done, pending = pending.split(b"\n")
        lines.extend((line, now) for line in done)


def traced_latency_samples(mode, count, interval_us):
    """Run `snaptrig -t all -- bench-latency MODE ...`; return its timed lines and samples."""
    samples = Tmp.file(f"latency-{mode}.txt")
    agent = subprocess.Popen([SNAPTRIG, "-t", "all", "--",
                              os.path.join(BIN, "bench-latency"), mode, str(count),
                              str(interval_us), samples],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    lines = read_lines_timed(agent)
    agent.wait(timeout=60)
    with open(samples) as f:
        return lines, [tuple(int(x) for x in line.split()) for line in f]


def latency_run(mode, count, interval_us):
    lines, before = traced_latency_samples(mode, count, interval_us)
    random_mode = mode.startswith("getrandom")
    want = "non-deterministic-call" if random_mode else "sigalrm"
    events = []
    stats_line = None
    for raw, received in lines:
        rec = json.loads(raw)
        if rec.get("type") == "stats":
            stats_line = rec
        if rec.get("type") == "trigger" and rec.get("trigger") == want:
            if random_mode and rec["detail"].get("coalesced"):
                continue
            events.append((rec["pid"], rec["boot_ns"], received))
    if random_mode:
        by_pid = {pid: (b, r) for pid, b, r in events}
        pairs = [(t, *by_pid[pid]) for pid, t in before if pid in by_pid]
    else:
        pairs = [(t, b, r) for (_, t), (_, b, r) in zip(before, events)]
    k2l = [(r - b) / 1e3 for _, b, r in pairs]
    c2l = [(r - t) / 1e3 for t, _, r in pairs]
    return {"mode": mode, "samples": count, "lines": len(events), "matched": len(pairs),
            "interval_us": interval_us, "kernel_to_line_us": micros_stats(k2l),
            "call_to_line_us": micros_stats(c2l),
            "kernel_to_written_us": written_stats(stats_line, want)}


def latency_bpftrace_run(count, interval_us):
    """Time bpftrace printing each SIGALRM of `bench-latency sigalrm`, read through a pipe."""
    samples = Tmp.file("latency-bpftrace.txt")
    tracer = subprocess.Popen(["bpftrace", os.path.join(BENCH_DIR, "sigalrm.bt"), "-c",
                               f"{os.path.join(BIN, 'bench-latency')} sigalrm {count} "
                               f"{interval_us} {samples}"],
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        lines = read_lines_timed(tracer, time.CLOCK_MONOTONIC)
        tracer.wait(timeout=60)
    finally:
        if tracer.poll() is None:
            stop_tracer(tracer)
    # bpftrace's nsecs is CLOCK_MONOTONIC, and its other output lines are not numbers
    delays = [(at - int(raw)) / 1e3 for raw, at in lines if raw.strip().isdigit()]
    return {"mode": "sigalrm", "samples": count, "matched": len(delays),
            "interval_us": interval_us, "kernel_to_line_us": micros_stats(delays)}


def micros_stats(values):
    return {"p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values) if values else None}


def written_stats(stats_line, kind):
    """Return the agent's own kernel-to-write(2) figures for one kind, in µs."""
    written = stats_line.get("latency", {}).get(kind, {}) if stats_line else {}
    return {"lines": written.get("lines", 0),
            **{k: written[k + "_ns"] / 1e3 if written else None for k in ("p50", "p99", "max")}}


# Lines of each forked child in the exec mode: (line type, trigger) by latency kind.
EXEC_KINDS = {"bootstrap": ("trigger", "bootstrap"), "first-listen": ("trigger", "first-listen"),
              "exit": ("exit", None)}


def latency_exec_run(count, interval_us):
    """Run the exec mode: each sample forks a child that execs, listens once and exits."""
    lines, samples = traced_latency_samples("exec", count, interval_us)
    children = {pid for pid, _ in samples}
    stats_line = None
    received = {kind: [] for kind in EXEC_KINDS}
    for raw, at in lines:
        rec = json.loads(raw)
        if rec.get("type") == "stats":
            stats_line = rec
        if rec.get("pid") not in children:
            continue
        for kind, (line_type, trigger) in EXEC_KINDS.items():
            if rec.get("type") == line_type and rec.get("trigger") == trigger:
                received[kind].append((at - rec["boot_ns"]) / 1e3)
    return {"mode": "exec", "samples": count, "interval_us": interval_us,
            "kinds": {kind: {"matched": len(values), "kernel_to_line_us": micros_stats(values),
                             "kernel_to_written_us": written_stats(stats_line, kind)}
                      for kind, values in received.items()}}


def checkpointer_run(count, interval_us, freeze):
    """Time SIGALRM triggers, each running bench-latency stamp as the --exec checkpointer."""
    samples = Tmp.file("latency-checkpointer.txt")
    stamps = Tmp.file("latency-stamps.txt")
    if os.path.exists(stamps):
        os.unlink(stamps)
    stamp = f"{os.path.join(BIN, 'bench-latency')} stamp {stamps}"
    agent = subprocess.Popen([SNAPTRIG, "-t", "sigalrm", "--cooldown", "0s", "--exec", stamp,
                              *(["--freeze"] if freeze else []), "-o", "/dev/null", "--",
                              os.path.join(BIN, "bench-latency"), "sigalrm", str(count),
                              str(interval_us), samples],
                             stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent.wait(timeout=120)
    with open(stamps) as f:
        delays = [(int(started) - int(boot)) / 1e3 for boot, started in
                  (line.split() for line in f)]
    return {"freeze": freeze, "samples": count, "started": len(delays),
            "interval_us": interval_us, "kernel_to_started_us": micros_stats(delays)}


# A tracer of an idle process: the first reading comes this long after its
# start. The agent reads a quiet ring buffer less often a second after its
# last record, and the idle record of a process that sleeps at attach comes
# one idle threshold (1 s by default) after the attach.
IDLE_SETTLE_S = 3.0
IDLE_S = 10.0


def task_cpu_and_wakeups(pid):
    """Return the on-CPU ns (schedstat) and voluntary switches of all threads of pid."""
    cpu = switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            cpu += int(f.read().split()[0])
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    switches += int(line.split()[1])
    return cpu, switches


def idle_cpu_once(pid, argv, ready):
    """Start a tracer of the sleeping pid; return its CPU and wakeups per second while idle."""
    tracer = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        line = tracer.stdout.readline()
        if ready not in line:
            raise RuntimeError(f"{argv[0]} printed {line[:200]!r} before {ready!r}")
        time.sleep(IDLE_SETTLE_S)
        cpu0, sw0 = task_cpu_and_wakeups(tracer.pid)
        time.sleep(IDLE_S)
        cpu1, sw1 = task_cpu_and_wakeups(tracer.pid)
    finally:
        stop_tracer(tracer)
    return {"cpu_ms_per_s": (cpu1 - cpu0) / 1e6 / IDLE_S, "wakeups_per_s": (sw1 - sw0) / IDLE_S}


def idle_cpu(cfg):
    """Return the CPU use and wakeups of each tracer while the process it traces sleeps."""
    variants = {"snaptrig -t all -p": ([SNAPTRIG, "-t", "all", "-p"], b'"type":"start"'),
                "snaptrig -p (default triggers)": ([SNAPTRIG, "-p"], b'"type":"start"')}
    if cfg.keep is None:
        variants["bpftrace all.bt $1"] = (["bpftrace", bt_script("all.bt", True)], b"Attaching")
    runs = {label: [] for label in variants}
    with Sleeper() as pid:
        for _ in range(cfg.reps):
            for label, (argv, ready) in variants.items():
                runs[label].append(idle_cpu_once(pid, [*argv, str(pid)], ready))
    return {"settle_s": IDLE_SETTLE_S, "measured_s": IDLE_S,
            "tracers": {label: {"cpu_ms_per_s": stats([r["cpu_ms_per_s"] for r in rs]),
                                "wakeups_per_s": stats([r["wakeups_per_s"] for r in rs])}
                        for label, rs in runs.items()}}


def bench_agent(cfg):
    flood = []
    peer = []
    for rep in range(cfg.reps):
        flood.append(flood_agent_once(cfg.agent_flood_n))
        if cfg.keep is None:
            # bpftrace writes about 60 k lines/s, so it gets a tenth of the calls
            peer.append(flood_bpftrace_once(cfg.agent_flood_n // 10))
        log(f"agent flood: repetition {rep + 1}/{cfg.reps} done")
    starts = {"-t all": [], "default triggers": []}
    split_total, split_loads = [], {}
    with Sleeper() as pid:
        for _ in range(cfg.reps):
            starts["-t all"].append(start_time_once(pid, ["-t", "all"]))
            starts["default triggers"].append(start_time_once(pid, []))
            total, loads = start_split_once(pid)
            split_total.append(total)
            for name, ms in loads.items():
                split_loads.setdefault(name, []).append(ms)
    split = {"start_ms": stats(split_total),
             "load_ms": {k: stats(v) for k, v in split_loads.items()},
             "btf_parse_ms": stats(btf_parse_ms(2 * cfg.reps))}
    peer_starts = []
    if cfg.keep is None:
        with Pinger() as pid:
            peer_starts = [bpftrace_start_once(pid) for _ in range(cfg.reps)]
    log("agent start time done")
    idle = idle_cpu(cfg)
    log("agent idle CPU done")
    latency = [latency_run("getrandom-pool", cfg.latency_n, 3000),
               latency_run("getrandom-fork", cfg.latency_n, 3000),
               latency_run("sigalrm", cfg.latency_n, 1000)]
    latency_exec = latency_exec_run(cfg.latency_n, 3000)
    latency_bpftrace = latency_bpftrace_run(cfg.latency_n, 1000) if cfg.keep is None else None
    started = [checkpointer_run(cfg.latency_n, 5000, freeze) for freeze in (False, True)]
    log("agent latency done")
    return [{"name": "agent", "flood": flood, "flood_bpftrace": peer,
             "start_ms": {k: stats(v) for k, v in starts.items()}, "start_split": split,
             "start_ms_bpftrace": (stats([ms for ms in peer_starts if ms is not None])
                                   if any(ms is not None for ms in peer_starts) else None),
             "idle": idle, "latency": latency, "latency_exec": latency_exec,
             "latency_bpftrace": latency_bpftrace, "checkpointer_start": started}]


def machine():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)
    hyper = re.search(r"^Hypervisor vendor:\s*(.+)$", lscpu, re.M)
    versions = {}
    for tool, args in (("bpftrace", ["--version"]), ("strace", ["-V"]),
                       ("redis-server", ["--version"])):
        try:
            versions[tool] = subprocess.run([tool, *args], capture_output=True,
                                            text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            versions[tool] = "missing"
    start = {}
    out = Tmp.file("all-triggers.json")
    subprocess.run([SNAPTRIG, "-t", "all", "-o", out, "--", "/bin/true"],
                   stdin=subprocess.DEVNULL, capture_output=True)
    with open(out) as f:
        start = json.loads(f.readline())
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "agent", "bpf",
                              "include"], capture_output=True, text=True).stdout.splitlines()
    return {"snaptrig_version": start.get("version"), "all_triggers": start.get("triggers"),
            "commit": commit or "unknown",
            "tree_state": f" with {len(changed)} changed or new files in agent/, bpf/ and "
                          "include/" if changed else "",
            "cpu_model": model.group(1).strip() if model else "unknown",
            "hypervisor": hyper.group(1).strip() if hyper else "none",
            "cpus": os.cpu_count(), "kernel": platform.release(),
            "versions": versions, "loadavg_start": os.getloadavg()}


SUITES = {"syscalls": bench_syscalls, "flood": bench_flood, "pingpong": bench_pingpong,
          "churn": bench_churn, "redis": bench_redis, "agent": bench_agent}


def config(quick):
    c = argparse.Namespace()
    c.quick = quick
    c.reps = 3 if quick else 5
    c.loop_n = 500000 if quick else 1000000
    c.flood_n = 250000 if quick else 1000000
    c.pingpong_n = 10000 if quick else 40000
    c.pingpong_split_n = 1000 if quick else 4000
    c.churn_n = 150 if quick else 500
    c.redis_n = 20000 if quick else 50000
    c.agent_flood_n = 200000 if quick else 1000000
    c.latency_n = 150 if quick else 500
    # Quick mode runs snaptrig and the bare hooks, and the bpftrace peer of the flood.
    c.keep = {"snaptrig -t all", "snaptrig -t all -p other",
              "snaptrig -t all --cooldown 0s", "floor tp", "floor tp+exit", "floor raw",
              "floor churn",
              "snaptrig -t all --lazy-wakeup"} if quick else None
    return c


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    parser.add_argument("--only", default=",".join(SUITES),
                        help="comma-separated suites: " + ",".join(SUITES))
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "bench", "results.json"))
    parser.add_argument("--bin", required=True,
                        help="directory with snaptrig and the bench-* workloads")
    args = parser.parse_args()
    # Tracers are stopped with SIGINT. A shell's `&` starts the driver with
    # SIGINT ignored. Every child would keep it, and snaptrig honors it.
    # A handler that does nothing keeps the driver deaf to SIGINT, as the
    # shell asked, and exec gives the children the default action.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda signum, frame: None)
    global SNAPTRIG, BIN
    BIN = os.path.abspath(args.bin)
    SNAPTRIG = os.path.join(BIN, "snaptrig")
    cfg = config(args.quick)
    started = time.time()
    settings = dict(vars(cfg))
    settings["keep"] = sorted(cfg.keep) if cfg.keep is not None else None
    doc = {"date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
           "command": os.environ.get("BENCH_COMMAND", " ".join(sys.argv)),
           "quick": cfg.quick, "config": settings, "machine": machine(), "results": []}
    doc["errors"] = []
    try:
        for name in args.only.split(","):
            t0 = time.monotonic()
            try:
                doc["results"].extend(SUITES[name](cfg))
            except (RuntimeError, OSError, ValueError, KeyError,
                    subprocess.SubprocessError) as err:
                # One broken suite must not cost the figures of the others.
                log(f"{name} failed: {err!r}")
                doc["errors"].append({"suite": name, "error": repr(err)})
            log(f"{name} took {time.monotonic() - t0:.0f} s")
    finally:
        if Tmp.path:
            shutil.rmtree(Tmp.path, ignore_errors=True)
    doc["machine"]["loadavg_end"] = os.getloadavg()
    doc["duration_s"] = round(time.time() - started, 1)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(doc, f, indent=1)
    log(f"wrote {args.output} after {doc['duration_s']} s")


if __name__ == "__main__":
    main()
