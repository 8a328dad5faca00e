#!/usr/bin/env python3
"""Health-monitoring figures of issue 3, in one run:

1. Hang detection overshoot: a worker beats every 100 ms, then goes silent; the arbiter's timeout is
   1 s. Overshoot = (moment the arbiter's kill line reaches us) - (worker's last beat) - timeout.
   Both moments are read from the same clock (time.time() on this machine). 10 hangs, median and max.
2. Heartbeat cost: the arbiter's CPU time (utime + stime from /proc/PID/stat) over 30 s with 64
   workers each beating once a second, against the same 64 workers that do not beat.

usage: bench/health.py [path/to/ufork]   (default: Release build, built if missing)
"""
import os, re, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UFORK = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "src/UFork.Host/bin/Release/net10.0/ufork")
TICKS = os.sysconf("SC_CLK_TCK")

HANGING_WORKER = r"""
import os, sys, time
beat = int(os.environ["UFORK_HEARTBEAT_FD"])
for _ in range(5):
    os.write(beat, b".")
    last = time.time()
    time.sleep(0.1)
print("last-beat %.6f" % last, flush=True)
time.sleep(60)
"""

BEATING_WORKER = r"""
import os, time
beat = int(os.environ["UFORK_HEARTBEAT_FD"])
while True:
    os.write(beat, b".")
    time.sleep(1)
"""


def config(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    f.write(text)
    f.close()
    return f.name


def start(args):
    return subprocess.Popen([UFORK] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def hang_overshoot(hangs=10, timeout=1.0):
    conf = config(f"ufork.heartbeat {{ required = on, timeout = {int(timeout * 1000)}ms, interval = 100ms }}")
    proc = start(["run", "-w", "1", "--config", conf, "--", sys.executable, "-c", HANGING_WORKER])
    overshoots, last_beat, deadline = [], None, time.time() + hangs * (timeout + 2) + 20
    try:
        while len(overshoots) < hangs and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            now = time.time()
            if m := re.search(r"last-beat ([\d.]+)", line):
                last_beat = float(m.group(1))
            elif "sent no heartbeat for" in line and last_beat is not None:
                overshoots.append((now - last_beat - timeout) * 1000)
                last_beat = None
    finally:
        stop(proc)
    return overshoots


def heartbeat_cpu(workers=64, seconds=30, beating=True):
    conf = config("ufork.heartbeat.required = %s\nufork.shutdown.grace = 2s" % ("on" if beating else "off"))
    worker = BEATING_WORKER if beating else "import time; time.sleep(3600)"
    proc = start(["run", "-w", str(workers), "--config", conf, "--", sys.executable, "-c", worker])
    started, deadline = 0, time.time() + 120
    try:
        while started < workers and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            started += "started pid" in line
        # Drain the pipe in the background so the arbiter never blocks on us.
        drain = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
        time.sleep(2)  # settle: the last workers' first beats
        before = cpu_seconds(proc.pid)
        time.sleep(seconds)
        used = cpu_seconds(proc.pid) - before
        rss = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{proc.pid}/status").read()).group(1)) // 1024
    finally:
        stop(proc)
        drain.wait(timeout=10)
    return started, used, rss


def main():
    if not os.path.exists(UFORK):
        subprocess.run(["dotnet", "build", "-c", "Release", "-nologo", "-v", "quiet",
                        os.path.join(ROOT, "src/UFork.Host")], check=True)
    overshoots = hang_overshoot()
    beating = heartbeat_cpu(beating=True)
    silent = heartbeat_cpu(beating=False)
    print()
    print("figure                                         ours            baseline          target")
    if overshoots:
        print(f"hang overshoot past a 1 s timeout, median/max  "
              f"{statistics.median(overshoots):5.0f} / {max(overshoots):4.0f} ms   "
              f"ufork +570 ms, gunicorn +1010 ms   < 100 ms   ({len(overshoots)} hangs)")
    else:
        print("hang overshoot: no hang observed")
    for name, (n, used, rss) in (("64 workers beating every 1 s", beating), ("64 workers not beating (baseline)", silent)):
        print(f"{name:<38} arbiter CPU {used * 1000:5.0f} ms / 30 s = {used / 30 * 100:4.2f}% of a core, RSS {rss} MiB ({n} started)")
    ratio = beating[1] / silent[1] if silent[1] > 0 else float("inf")
    print(f"heartbeat cost ratio (beating / not beating) {ratio:.2f}; target: beating < 2% of one core")


if __name__ == "__main__":
    main()
