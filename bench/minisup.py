#!/usr/bin/env python3
"""A minimal pre-fork supervisor, the baseline of bench/foundation.py.

    minisup.py N -- PROGRAM [ARGS...]

About the least a supervisor can do and still do `ufork run`'s job: keep N copies of PROGRAM alive,
each leading its own session with stdout and stderr on pipes, echo their whole lines as
"[w<slot> <pid>] line" ("... err]" for stderr), and start a replacement at once when one dies.
One thread and one epoll set holding the pipes and a pidfd per worker, so a death is an event, not
a poll. SIGTERM or SIGINT: SIGKILL the workers and exit. No backoff, heartbeats or escaping.
"""
import os
import selectors
import signal
import subprocess
import sys


class MiniSupervisor:
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.out = sys.stdout.buffer
        self.sel = selectors.DefaultSelector()
        self.workers: dict[int, subprocess.Popen] = {}
        self.partial: dict[int, bytes] = {}

    def spawn(self, slot: int) -> None:
        p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        self.workers[slot] = p
        self.sel.register(os.pidfd_open(p.pid), selectors.EVENT_READ, ("exit", slot, p))
        for stream, tag in ((p.stdout, b""), (p.stderr, b" err")):
            os.set_blocking(stream.fileno(), False)
            self.sel.register(stream.fileno(), selectors.EVENT_READ, ("out", b"[w%d %d%s] " % (slot, p.pid, tag), stream))
        self.out.write(b"[minisup] w%d: started pid %d\n" % (slot, p.pid))
        self.out.flush()

    def drain(self, fd: int, prefix: bytes, final: bool) -> None:
        chunks = []
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                break
            if not data:
                final = True
                break
            chunks.append(data)
        lines = (self.partial.pop(fd, b"") + b"".join(chunks)).split(b"\n")
        rest = lines.pop()
        if rest and final:
            lines.append(rest)
        elif rest:
            self.partial[fd] = rest
        if lines:
            self.out.write(b"".join(prefix + line + b"\n" for line in lines))
            self.out.flush()

    def reap(self, pidfd: int, slot: int, p: subprocess.Popen) -> None:
        self.sel.unregister(pidfd)
        os.close(pidfd)
        p.wait()
        for stream in (p.stdout, p.stderr):
            prefix = self.sel.get_key(stream.fileno()).data[1]
            self.drain(stream.fileno(), prefix, True)
            self.sel.unregister(stream.fileno())
            stream.close()
        self.out.write(b"[minisup] w%d: pid %d exited with %d\n" % (slot, p.pid, p.returncode))
        self.spawn(slot)

    def serve(self, n: int) -> None:
        for slot in range(n):
            self.spawn(slot)
        while True:
            for key, _ in self.sel.select():
                if self.sel.get_map().get(key.fd) is not key:
                    continue  # a reap earlier in this batch closed that fd, and a new worker may have its number
                kind, arg, obj = key.data
                if kind == "out":
                    self.drain(key.fd, arg, False)
                else:
                    self.reap(key.fd, arg, obj)

    def kill_all(self) -> None:
        for p in self.workers.values():
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: minisup.py N -- PROGRAM [ARGS...]")

    def stop(*_):
        raise SystemExit(0)  # a handler that returned would let select() resume (PEP 475)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sup = MiniSupervisor(sys.argv[3:])
    try:
        sup.serve(int(sys.argv[1]))
    finally:
        sup.kill_all()


if __name__ == "__main__":
    main()
