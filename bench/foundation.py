#!/usr/bin/env python3
"""Scenario benchmark of the foundation (issue 2): respawn latency, output throughput, idle cost.

Run it through bench/foundation.sh, which builds the tree and guards the clean-up. Every figure is
printed next to a baseline measured in the same run, on the same machine, the same way:

1. Respawn. A worker (/bin/sh -c 'echo ready; exec sleep 1000') is SIGKILLed --kills times; for each
   kill we time, on CLOCK_MONOTONIC, kill() -> the kernel's exit of the victim -> the kernel's fork
   of the replacement by the supervisor ("the new pid exists") -> the replacement's first line read
   back from the supervisor's stdout. Kernel times come from the proc connector (netlink, the
   kernel stamps each fork/exec/exit event with ktime_get_ns(), which is CLOCK_MONOTONIC), so
   nothing polls and the supervisor is not disturbed. Baselines: the same program started directly
   (spawn -> first line read from its pipe), and minisup.py, a 100-line Python supervisor (one epoll
   loop, pidfd per worker), measured exactly like ufork.
2. Output throughput. producer.py builds --lines numbered 80-byte lines in memory, stamps t0, then
   writes them in 1 MiB writes. The end is the moment the last line is in the output file (the
   file's tail is checked every millisecond). Through `ufork run -w 1` to a file, against
   `producer > file` and `producer | cat > file`; medians of --rounds interleaved rounds; every
   file is checked line by line: each number 0..N-1 exactly once, each line intact after its tag.
3. Idle cost. `ufork run -w 16 -- sleep 1000` and `minisup.py 16 -- sleep 1000`, side by side:
   after they settle, CPU time (utime+stime, /proc/PID/stat, and the per-thread schedstat sum in
   ns) over --idle-seconds, wake-ups per thread, and VmRSS.
"""
import argparse
import os
import re
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import producer  # noqa: E402  (line(i), the expected content of line i)

WORKER = ["/bin/sh", "-c", "echo ready; exec sleep 1000"]
PYTHON = sys.executable
MS = 1e6  # ns per ms
CLK_TCK = os.sysconf("SC_CLK_TCK")


def now() -> int:
    return time.monotonic_ns()


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Processes: everything started here is recorded (pid and start time) so that it can be ended
# here, or by foundation.sh's trap if this helper itself dies.

def start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Processes:
    def __init__(self, pidfile: str) -> None:
        self.pidfile = pidfile
        self.popens: list[subprocess.Popen] = []
        self.others: dict[int, str] = {}  # pid -> start time (workers of the supervisors)

    def _record(self, pid: int) -> str | None:
        st = start_time(pid)
        if st is not None:
            with open(self.pidfile, "a") as f:
                f.write(f"{pid} {st}\n")
        return st

    def start(self, argv: list[str], **kw) -> subprocess.Popen:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        self.popens.append(p)
        self._record(p.pid)
        return p

    def note(self, pid: int) -> None:
        if pid not in self.others:
            st = self._record(pid)
            if st is not None:
                self.others[pid] = st

    def stop(self, p: subprocess.Popen, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL to its whole group after timeout seconds."""
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"pid {p.pid} still running {timeout:.0f} s after SIGTERM: SIGKILL")
        self._kill_group(p.pid)
        p.wait(5)

    @staticmethod
    def _kill_group(pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def cleanup(self) -> None:
        for p in self.popens:
            try:
                self.stop(p, timeout=5)
            except Exception as e:  # keep going: the rest must be ended too
                log(f"cleanup of pid {p.pid}: {e}")
        for pid, st in self.others.items():
            if start_time(pid) == st:
                self._kill_group(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# ---------------------------------------------------------------------------------------------
# The kernel's process events (proc connector). Needs CAP_NET_ADMIN (root) and the initial pid
# namespace; checked at start, and without it the respawn figures fall back to log lines.

PROC_EVENT_FORK, PROC_EVENT_EXEC, PROC_EVENT_EXIT = 0x1, 0x2, 0x80000000


class ProcEvents:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)  # NETLINK_CONNECTOR
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((0, 1))  # CN_IDX_PROC multicast group
        op = struct.pack("=I", 1)  # PROC_CN_MCAST_LISTEN
        cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(op), 0) + op  # CN_IDX_PROC, CN_VAL_PROC
        self.sock.send(struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn)  # NLMSG_DONE
        self.sock.setblocking(False)
        self.forks: dict[int, tuple[int, int]] = {}  # child pid -> (ns, parent tgid)
        self.execs: dict[int, list[int]] = {}  # pid -> [ns, ...]
        self.exits: dict[int, int] = {}  # pid -> ns

    def pump(self) -> None:
        while True:
            try:
                d = self.sock.recv(65536)
            except BlockingIOError:
                return
            if len(d) < 52:
                continue
            what, _cpu, ts = struct.unpack_from("=IIQ", d, 36)
            if what == PROC_EVENT_FORK:
                _ppid, ptgid, cpid, ctgid = struct.unpack_from("=iiii", d, 52)
                if cpid == ctgid:  # a process, not a thread
                    self.forks[cpid] = (ts, ptgid)
            elif what == PROC_EVENT_EXEC:
                pid, tgid = struct.unpack_from("=ii", d, 52)
                self.execs.setdefault(tgid, []).append(ts)
            elif what == PROC_EVENT_EXIT:
                pid, tgid = struct.unpack_from("=ii", d, 52)
                if pid == tgid:
                    self.exits[pid] = ts

    def works(self) -> bool:
        p = subprocess.Popen(["/bin/true"])
        p.wait()
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            self.pump()
            if p.pid in self.forks and p.pid in self.exits:
                return True
            time.sleep(0.01)
        return False


def open_events() -> ProcEvents | None:
    try:
        ev = ProcEvents()
        if ev.works():
            return ev
        log("proc connector events do not match our pids (pid namespace?): kernel times unavailable")
    except OSError as e:
        log(f"proc connector unavailable ({e}): kernel times unavailable")
    return None


# ---------------------------------------------------------------------------------------------
# 1. Respawn latency

class LineReader:
    """Reads a supervisor's stdout without blocking and timestamps each whole line on arrival."""

    def __init__(self, stream) -> None:
        self.fd = stream.fileno()
        os.set_blocking(self.fd, False)
        self.partial = b""
        self.eof = False

    def read(self) -> list[tuple[int, bytes]]:
        out = []
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            if not data:
                self.eof = True
                break
            ts = now()
            lines = (self.partial + data).split(b"\n")
            self.partial = lines.pop()
            out.extend((ts, line) for line in lines)
        return out


STARTED = re.compile(rb"^\[(?:ufork|minisup)\] w0: started pid (\d+)")
READY = re.compile(rb"^\[w0 (\d+)\] ready$")


def respawn(name: str, argv: list[str], kills: int, settle_s: float, events: ProcEvents | None,
            procs: Processes) -> dict:
    """Kill w0 `kills` times; per kill, the times from kill() to exit, fork, log line, ready line."""
    p = procs.start(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reader = LineReader(p.stdout)
    sel = selectors.DefaultSelector()
    sel.register(reader.fd, selectors.EVENT_READ)
    if events:
        sel.register(events.sock, selectors.EVENT_READ)
    started: dict[int, int] = {}
    ready: dict[int, int] = {}
    recent: list[bytes] = []  # the supervisor's last lines, for the error message

    def pump(until_ns: int, done) -> bool:
        while True:
            if events:
                events.pump()
            for ts, line in reader.read():
                recent[:] = (recent + [line])[-8:]
                if m := STARTED.match(line):
                    started[int(m[1])] = ts
                    procs.note(int(m[1]))
                elif m := READY.match(line):
                    ready[int(m[1])] = ts
            if done():
                return True
            if reader.eof or now() >= until_ns:
                return False
            sel.select(max(0.0, (until_ns - now()) / 1e9))

    samples = []
    try:
        if not pump(now() + int(20e9), lambda: len(ready) > 0):
            raise RuntimeError(f"{name}: no worker said ready within 20 s")
        victim = next(iter(ready))
        for k in range(kills):
            # Let the worker count as stable (respawn.conf: reset-after = 100ms) and vary the phase.
            pump(now() + int((settle_s + 0.05 * (k % 5) / 4) * 1e9), lambda: False)
            t_kill = now()
            os.kill(victim, signal.SIGKILL)
            known = set(ready)
            if not pump(t_kill + int(5e9), lambda: set(ready) - known):
                raise RuntimeError(f"{name}: no replacement said ready within 5 s of kill {k + 1} (pid {victim}); "
                                   f"exited: {p.poll()}; its last lines: {recent}")
            new = (set(ready) - known).pop()
            if events:  # the exit and fork events may trail the line by a moment
                pump(now() + int(0.2e9), lambda: victim in events.exits and new in events.forks)
            s = {"kill": t_kill, "ready": ready[new], "new": new}
            if events and victim in events.exits and new in events.forks:
                fork_ts, parent = events.forks[new]
                if parent != p.pid:
                    raise RuntimeError(f"{name}: pid {new} was forked by {parent}, not by {p.pid}")
                execs = events.execs.get(new, [None])
                # The worker execs `sleep` right after its `echo ready`: that exec marks the line as written.
                s.update(exit=events.exits[victim], fork=fork_ts, exec=execs[0], echoed=execs[-1])
            samples.append(s)
            victim = new
        # the arbiter's own "started pid" line may trail its worker's first line (Akka logs asynchronously)
        pump(now() + int(0.3e9), lambda: all(s["new"] in started for s in samples))
        for s in samples:
            s["logged"] = started.get(s["new"])
    finally:
        sel.close()
        procs.stop(p)
    result = summarize_respawn(samples)
    result["series"] = [round((s["fork"] - s["exit"]) / MS, 1) if s.get("fork") else None for s in samples]
    result["series_ready"] = [round((s["ready"] - s["kill"]) / MS, 1) for s in samples]
    return result


def summarize_respawn(samples: list[dict]) -> dict:
    def dist(key_from: str, key_to: str) -> tuple | None:
        xs = sorted((s[key_to] - s[key_from]) / MS for s in samples if s.get(key_from) and s.get(key_to))
        if len(xs) != len(samples):
            return None
        return xs[len(xs) // 2], xs[int(len(xs) * 0.9)], xs[-1]

    return {
        "n": len(samples),
        "kill_exit": dist("kill", "exit"),
        "exit_fork": dist("exit", "fork"),
        "kill_fork": dist("kill", "fork"),
        "fork_exec": dist("fork", "exec"),
        "fork_ready": dist("fork", "ready"),
        "echo": dist("echoed", "ready"),
        "kill_logged": dist("kill", "logged"),
        "kill_ready": dist("kill", "ready"),
        "exit_ready": dist("exit", "ready"),
    }


def bare_start(runs: int, events: ProcEvents | None, procs: Processes) -> dict:
    """The worker program started directly: spawn -> pid exists, spawn -> first line read."""
    to_line, to_fork = [], []
    for _ in range(runs):
        t0 = now()
        p = subprocess.Popen(WORKER, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True)
        procs.popens.append(p)
        line = p.stdout.readline()
        t1 = now()
        if line != b"ready\n":
            raise RuntimeError(f"bare start printed {line!r}")
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(5)
        p.stdout.close()
        procs.popens.remove(p)
        to_line.append((t1 - t0) / MS)
        if events:
            deadline = time.monotonic() + 0.2
            while p.pid not in events.forks and time.monotonic() < deadline:
                events.pump()
                time.sleep(0.001)
            if p.pid in events.forks:
                to_fork.append((events.forks[p.pid][0] - t0) / MS)
    return {"line": statistics.median(to_line), "fork": statistics.median(to_fork) if to_fork else None}


# ---------------------------------------------------------------------------------------------
# 2. Output throughput

def read_stamps(path: str) -> dict[str, int]:
    try:
        with open(path) as f:
            return {k: int(v) for k, v in (l.split() for l in f if l.strip())}
    except (OSError, ValueError):
        return {}


def wait_for_tail(path: str, last: bytes, p: subprocess.Popen, timeout_s: float, on_t0=None, stamp=None) -> int | None:
    """Checks every millisecond whether the file ends with `last`; the time it first did.
    Calls on_t0() once, as soon as the producer has stamped t0 in the file `stamp`."""
    deadline = now() + int(timeout_s * 1e9)
    size = -1
    fd = None
    try:
        while now() < deadline:
            if fd is None:
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    pass
            if fd is not None:
                st = os.fstat(fd).st_size
                if st != size:
                    size = st
                    ts = now()
                    if size >= len(last) and os.pread(fd, len(last), size - len(last)) == last:
                        return ts
            if on_t0 and os.path.exists(stamp) and "t0" in read_stamps(stamp):
                on_t0()
                on_t0 = None
            if p.poll() is not None and p.returncode != 0:
                return None
            time.sleep(0.001)
        return None
    finally:
        if fd is not None:
            os.close(fd)


AKKA_LOG = re.compile(rb"^\[(DEBUG|INFO|WARNING|ERROR)\]\[\d")


def verify(path: str, n: int, tagged: bool) -> dict:
    """Every number 0..n-1 exactly once, each line intact after its tag."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    seen = bytearray(n)
    mangled = logs = stderr_lines = 0
    examples = []
    akka_logs = []

    def bad(line: bytes) -> None:
        nonlocal mangled
        mangled += 1
        if len(examples) < 3:
            examples.append(line[:120])

    pids = set()
    line_of = producer.line
    for ln in lines:
        if tagged:
            if ln.startswith(b"[ufork] ") or ln.startswith(b"[minisup] "):
                logs += 1
                continue
            if AKKA_LOG.match(ln):  # the arbiter's own log line in Akka's stdout format, not a worker's
                akka_logs.append(ln[:120])
                continue
            k = ln.find(b"] ")
            tag = ln[:k]
            if not (ln.startswith(b"[w0 ") and k > 4 and tag[4:].isdigit()):
                if ln.startswith(b"[w0 ") and tag.endswith(b" err"):
                    stderr_lines += 1
                else:
                    bad(ln)
                continue
            pids.add(tag)
            body = ln[k + 2:]
        else:
            body = ln
        if len(body) != 80 or not body[:7].isdigit():
            bad(ln)
            continue
        i = int(body[:7])
        if i >= n or body != line_of(i):
            bad(ln)
            continue
        if seen[i] < 255:
            seen[i] += 1
    if tail:
        bad(b"(no newline at the end) " + tail)
    return {
        "examples": examples,
        "akka_logs": akka_logs,
        "lost": seen.count(0),
        "dup": sum(c - 1 for c in seen if c > 1),
        "mangled": mangled,
        "logs": logs,
        "stderr": stderr_lines,
        "worker_pids": len(pids),
    }


def throughput_once(kind: str, n: int, work: str, ufork: str, procs: Processes) -> dict:
    out, stamp = os.path.join(work, f"tp-{kind}.out"), os.path.join(work, f"tp-{kind}.stamp")
    for f in (out, stamp):
        if os.path.exists(f):
            os.unlink(f)
    prod = [PYTHON, os.path.join(HERE, "producer.py"), str(n), stamp]
    last = producer.line(n - 1) + b"\n"
    with open(out, "wb") as dest, open(os.path.join(work, f"tp-{kind}.err"), "wb") as err:
        if kind == "ufork":
            p = procs.start([ufork, "run", "-w", "1", "--", *prod, "sleep"], stdout=dest, stderr=err)
        elif kind == "file":
            p = procs.start([*prod, "exit"], stdout=dest, stderr=err)
        else:  # "cat"
            sh = " ".join(map(quote, prod)) + " exit | cat > " + quote(out)
            p = procs.start(["/bin/sh", "-c", sh], stdout=subprocess.DEVNULL, stderr=err)
    cpu = []
    try:
        on_t0 = (lambda: cpu.append(sample_cpu(p.pid)["ticks"])) if kind == "ufork" else None
        t_end = wait_for_tail(out, last, p, 60, on_t0, stamp)
        stamps = read_stamps(stamp)
        if t_end is None or "t0" not in stamps:
            raise RuntimeError(f"throughput {kind}: the last line never reached {out}")
        if cpu:
            cpu.append(sample_cpu(p.pid)["ticks"])
        # wait for the producer's own end stamp (it follows the last write)
        deadline = time.monotonic() + 10
        while "t1" not in stamps and time.monotonic() < deadline:
            time.sleep(0.005)
            stamps = read_stamps(stamp)
    finally:
        procs.stop(p)
    result = verify(out, n, tagged=kind == "ufork")
    result["rate"] = n / ((t_end - stamps["t0"]) / 1e9)
    result["seconds"] = (t_end - stamps["t0"]) / 1e9
    result["producer_seconds"] = (stamps.get("t1", t_end) - stamps["t0"]) / 1e9
    if len(cpu) == 2:
        result["arbiter_cpu_s"] = (cpu[-1] - cpu[0]) / CLK_TCK
    os.unlink(out)
    return result


def quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------------------------------------
# 3. Idle cost

def sample_cpu(pid: int) -> dict:
    """utime+stime of the process (ticks), and per thread: name, run time (ns), voluntary switches."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run_ns = int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                vol = next(int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches"))
            threads[tid] = (comm, run_ns, vol)
        except (OSError, StopIteration):
            pass
    return {"ticks": int(fields[11]) + int(fields[12]), "threads": threads}


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kib = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return kib / 1024


def idle(ufork: str, workers: int, seconds: float, settle_s: float, procs: Processes) -> dict:
    sups = {
        "ufork": [ufork, "run", "-w", str(workers), "--", "sleep", "1000"],
        "minisup": [PYTHON, os.path.join(HERE, "minisup.py"), str(workers), "--", "sleep", "1000"],
    }
    ps, readers, up = {}, {}, {}
    t0 = now()
    try:
        for name, argv in sups.items():
            ps[name] = procs.start(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            readers[name] = LineReader(ps[name].stdout)
        pids = {name: set() for name in sups}
        deadline = now() + int(30e9)
        while len(up) < len(sups) and now() < deadline:
            for name, r in readers.items():
                for ts, line in r.read():
                    if m := re.match(rb"^\[(?:ufork|minisup)\] w\d+: started pid (\d+)", line):
                        pids[name].add(int(m[1]))
                        procs.note(int(m[1]))
                        if len(pids[name]) == workers:
                            up[name] = (ts - t0) / 1e9
            time.sleep(0.005)
        if len(up) < len(sups):
            raise RuntimeError(f"idle: not all {workers} workers started within 30 s: {up}")
        time.sleep(settle_s)
        before = {name: (now(), sample_cpu(p.pid)) for name, p in ps.items()}
        time.sleep(seconds)
        after = {name: (now(), sample_cpu(p.pid)) for name, p in ps.items()}
        result = {}
        for name, p in ps.items():
            (ta, a), (tb, b) = before[name], after[name]
            scale = 30e9 / (tb - ta)  # per 30 s
            threads = []
            for tid, (comm, run_b, vol_b) in b["threads"].items():
                _, run_a, vol_a = a["threads"].get(tid, (comm, 0, 0))
                threads.append((comm, tid, (run_b - run_a) / MS * scale, (vol_b - vol_a) * scale / 30))
            threads.sort(key=lambda t: (-t[3], -t[2]))
            alive = sum(1 for pid in pids[name] if start_time(pid) is not None)
            result[name] = {
                "cpu_ms": (b["ticks"] - a["ticks"]) * 1000 / CLK_TCK * scale,
                "sched_ms": sum(t[2] for t in threads),
                "wakeups_per_s": sum(t[3] for t in threads),
                "threads": threads,
                "nthreads": len(threads),
                "rss": rss_mib(p.pid),
                "up_s": up[name],
                "alive": alive,
            }
        return result
    finally:
        for p in ps.values():
            procs.stop(p)


# ---------------------------------------------------------------------------------------------
# Machine load: the figures are only as good as the machine is quiet.

def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    total = sum(v[:8])  # up to steal; guest time is already in user
    return total - idle, total


class MachineLoad:
    """How busy all CPUs were (every process, ours included) between start() and the call."""

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self.t0 = machine_jiffies()

    def busy_cores(self) -> float:
        b1, t1 = machine_jiffies()
        b0, t0 = self.t0
        return (b1 - b0) / max(1, t1 - t0) * os.cpu_count()


def background_load(seconds: float = 2.0) -> float:
    """Cores kept busy by other work before we start anything."""
    m = MachineLoad()
    time.sleep(seconds)
    return m.busy_cores()


def fmt_ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} ms"


def fmt_dist(d: tuple | None) -> str:
    return "n/a" if d is None else f"p50 {d[0]:6.2f}  p90 {d[1]:6.2f}  max {d[2]:6.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ufork", required=True, help="the ufork executable")
    ap.add_argument("--work", required=True, help="a scratch directory")
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--idle-workers", type=int, default=16)
    ap.add_argument("--only", choices=["respawn", "throughput", "idle"], action="append")
    args = ap.parse_args()
    only = set(args.only or ["respawn", "throughput", "idle"])

    procs = Processes(os.path.join(args.work, "pids"))

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    rows = []
    loads = {}
    try:
        log(f"machine: {os.cpu_count()} cores, {os.uname().release}; ufork = {args.ufork}")
        loads["before the run (2 s)"] = background_load()
        log(f"background: {loads['before the run (2 s)']:.2f} of {os.cpu_count()} cores busy before we start; "
            f"load average {open('/proc/loadavg').read().split()[0]}")
        for phase, run in (("respawn", run_respawn), ("throughput", run_throughput), ("idle", run_idle)):
            if phase in only:
                m = MachineLoad()
                rows += run(args, procs)
                loads[phase] = m.busy_cores()
                log(f"   machine busy during {phase}: {loads[phase]:.2f} of {os.cpu_count()} cores (all processes, ours included)")
    finally:
        procs.cleanup()
    print_summary(rows)
    print("machine busy (cores, all processes): " + ", ".join(f"{k} {v:.2f}" for k, v in loads.items()))
    # Our own share: respawn and idle keep well under half a core busy; throughput uses both.
    noisy = [k for k, limit in (("before the run (2 s)", 0.2), ("respawn", 0.5), ("idle", 0.3)) if loads.get(k, 0) > limit]
    if noisy:
        print(f"WARNING: other work kept the machine busy ({', '.join(noisy)}): latency tails and throughput "
              "are noisy (more so for ufork's multi-threaded path than for one-thread baselines); rerun on a quiet machine")
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0 if all(r[5] != "MISS" for r in rows) else 1


def run_respawn(args, procs: Processes) -> list:
    log(f"1. respawn: {args.kills} SIGKILLs of w0 = {' '.join(WORKER)}")
    events = open_events()
    conf = os.path.join(HERE, "respawn.conf")
    ours = respawn("ufork", [args.ufork, "run", "-w", "1", "--config", conf, "--", *WORKER],
                   args.kills, 0.25, events, procs)
    mini = respawn("minisup", [PYTHON, os.path.join(HERE, "minisup.py"), "1", "--", *WORKER],
                   args.kills, 0.25, events, procs)
    bare = bare_start(args.kills, events, procs)
    if events:
        events.sock.close()
    for name, r in (("ufork run", ours), ("minisup.py", mini)):
        log(f"   {name:10}  kill() -> exit        {fmt_dist(r['kill_exit'])}")
        log(f"   {name:10}  exit -> new pid       {fmt_dist(r['exit_fork'])}")
        log(f"   {name:10}  kill() -> new pid     {fmt_dist(r['kill_fork'])}")
        log(f"   {name:10}  new pid -> 1st exec   {fmt_dist(r['fork_exec'])}")
        log(f"   {name:10}  new pid -> line read  {fmt_dist(r['fork_ready'])}")
        log(f"   {name:10}  line written -> read  {fmt_dist(r['echo'])}  (written: the exec of sleep after echo)")
        log(f"   {name:10}  kill() -> 'started'   {fmt_dist(r['kill_logged'])}")
        log(f"   {name:10}  kill() -> line read   {fmt_dist(r['kill_ready'])}")
    for name, r in (("ufork run", ours), ("minisup.py", mini)):
        log(f"   {name:10}  exit -> new pid, kill by kill (ms): {r['series']}")
        log(f"   {name:10}  kill -> line read, kill by kill (ms): {r['series_ready']}")
    log(f"   bare start  spawn -> pid exists {fmt_ms(bare['fork'])}, spawn -> 'ready' read {fmt_ms(bare['line'])} (median)")
    med = lambda r, k: r[k][0] if r[k] else None  # noqa: E731
    p90 = lambda r, k: r[k][1] if r[k] else None  # noqa: E731
    kf = med(ours, "exit_fork") if ours["exit_fork"] else med(ours, "kill_logged")
    kf_label = "death -> new pid exists" if ours["exit_fork"] else "kill -> 'started' logged (upper bound)"
    return [
        (f"respawn: {kf_label}, p50 of {ours['n']}", kf, med(mini, "exit_fork") if mini["exit_fork"] else med(mini, "kill_logged"),
         "minisup.py", "ms", "<= 20 ms", lambda x: x <= 20),
        (f"respawn: {kf_label}, p90", p90(ours, "exit_fork"), p90(mini, "exit_fork"),
         "minisup.py", "ms", "<= 20 ms", lambda x: x <= 20),
        ("respawn: kill -> replacement's 1st line echoed", med(ours, "kill_ready"), bare["line"],
         "bare start -> 1st line", "ms", "-", None),
        ("respawn: kill -> replacement's 1st line echoed", med(ours, "kill_ready"), med(mini, "kill_ready"),
         "minisup.py", "ms", "-", None),
    ]


def run_throughput(args, procs: Processes) -> list:
    n = args.lines
    log(f"2. throughput: {n:,} lines of 80 bytes, {args.rounds} interleaved rounds")
    log("   ufork = ufork run -w 1 > file; file = producer > file; cat = producer | cat > file")
    runs = {"ufork": [], "file": [], "cat": []}
    for r in range(args.rounds):
        for kind in runs:
            res = throughput_once(kind, n, args.work, args.ufork, procs)
            runs[kind].append(res)
            extra = f", arbiter CPU {res['arbiter_cpu_s']:.2f} s" if "arbiter_cpu_s" in res else ""
            log(f"   round {r + 1} {kind:6}  {res['rate'] / 1e6:5.2f} M lines/s  ({res['seconds'] * 1000:.0f} ms; "
                f"producer's writes took {res['producer_seconds'] * 1000:.0f} ms{extra})  lost {res['lost']} "
                f"dup {res['dup']} mangled {res['mangled']} stderr {res['stderr']}")
            for ex in res["examples"]:
                log(f"      mangled: {ex!r}")
            for ex in res["akka_logs"]:
                log(f"      arbiter log line in Akka's format, not '[ufork] ': {ex!r}")
    med = {k: statistics.median(x["rate"] for x in v) for k, v in runs.items()}
    cpu = {k: statistics.median(x["arbiter_cpu_s"] for x in v) for k, v in runs.items() if "arbiter_cpu_s" in v[0]}
    log("   medians: " + ", ".join(f"{k} {v / 1e6:.2f} M lines/s" for k, v in med.items())
        + "; arbiter CPU per run: " + ", ".join(f"{k} {v:.2f} s" for k, v in cpu.items()))
    bad = {k: (sum(x["lost"] for x in v), sum(x["dup"] for x in v), sum(x["mangled"] for x in v)) for k, v in runs.items()}
    ok = lambda x: x >= 0.5  # noqa: E731
    return [
        ("output lines/s, ufork run -w 1 > file", med["ufork"], med["file"], "producer > file", "lines/s", ">= 0.5x", None),
        ("output lines/s, ufork run -w 1 > file", med["ufork"], med["cat"], "producer | cat > file", "lines/s", ">= 0.5x", ok),
        ("output lines lost/dup/mangled (all rounds)", "%d/%d/%d" % bad["ufork"], "%d/%d/%d" % bad["cat"],
         "producer | cat > file", "count", "0/0/0", lambda s: s == "0/0/0"),
    ]


def run_idle(args, procs: Processes) -> list:
    w = args.idle_workers
    log(f"3. idle: {w} x sleep 1000 under ufork run and minisup.py side by side, {args.idle_seconds:.0f} s")
    res = idle(args.ufork, w, args.idle_seconds, 3.0, procs)
    for name, r in res.items():
        log(f"   {name:8} {w} workers up in {r['up_s']:.2f} s, {r['alive']} alive at the end; CPU {r['cpu_ms']:.0f} ms "
            f"per 30 s (schedstat {r['sched_ms']:.1f} ms); {r['wakeups_per_s']:.0f} wake-ups/s over "
            f"{r['nthreads']} threads; VmRSS {r['rss']:.1f} MiB")
        for comm, tid, ms, wps in r["threads"][:6]:
            if wps >= 0.5 or ms >= 0.5:
                log(f"       thread {tid:>7} {comm:24} {wps:7.1f} wake-ups/s  {ms:7.2f} ms CPU per 30 s")
    u, m = res["ufork"], res["minisup"]
    return [
        (f"idle CPU per 30 s, {w} workers (stat)", u["cpu_ms"], m["cpu_ms"], "minisup.py", "ms", "< 300 ms", lambda x: x < 300),
        (f"idle CPU per 30 s, {w} workers (schedstat)", u["sched_ms"], m["sched_ms"], "minisup.py", "ms", "< 300 ms", lambda x: x < 300),
        ("idle wake-ups per second", u["wakeups_per_s"], m["wakeups_per_s"], "minisup.py", "/s", "-", None),
        ("idle arbiter RSS", u["rss"], m["rss"], "minisup.py", "MiB", "< 100 MiB", lambda x: x < 100),
        (f"{w} workers up", u["up_s"], m["up_s"], "minisup.py", "s", "-", None),
    ]


def print_summary(rows: list) -> None:
    def fmt(x, unit):
        if x is None:
            return "n/a"
        if isinstance(x, str):
            return x
        if unit == "lines/s":
            return f"{x / 1e6:.2f} M/s"
        if unit == "/s":
            return f"{x:.0f}/s"
        return f"{x:.2f} {unit}" if x < 100 else f"{x:.0f} {unit}"

    table = []
    for i, (figure, ours, base, base_name, unit, target, check) in enumerate(rows):
        ratio = f"{ours / base:.2f}x" if isinstance(ours, float) and isinstance(base, float) and base > 0 else "-"
        verdict = "-" if check is None or ours is None else ("ok" if check(ours if unit != "lines/s" else ours / base) else "MISS")
        rows[i] = (figure, ours, base, base_name, unit, verdict)
        table.append((figure, fmt(ours, unit), f"{fmt(base, unit)} ({base_name})", ratio, target, verdict))
    head = ("figure", "ufork.NET", "baseline", "ratio", "target", "")
    widths = [max(len(r[c]) for r in table + [head]) for c in range(6)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print("ratio = ufork.NET / baseline (latency, CPU, RSS: lower is better; lines/s: higher is better)")


if __name__ == "__main__":
    sys.exit(main())
