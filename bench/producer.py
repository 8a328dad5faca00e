#!/usr/bin/env python3
"""Output producer for the throughput scenario of bench/foundation.py.

    producer.py COUNT STAMPFILE exit|sleep

Builds COUNT numbered lines of 80 bytes (81 with the newline) in memory first, so that building
them is not timed, writes "t0 <CLOCK_MONOTONIC ns>" to STAMPFILE, writes all lines to stdout in
1 MiB os.write calls, writes "t1 <ns>" to STAMPFILE, then exits or sleeps forever (under a
supervisor an exit would only be answered by a restart and a second million lines).

Line i is line(i) below: a 7-digit number, a space, and 72 bytes that depend on i, so that a
verifier can tell a line that is intact from one that was cut, spliced or shifted.
"""
import os
import sys
import time

ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"  # 64 bytes
FILL = ALPHABET * 3


def line(i: int) -> bytes:
    """Line i without its newline: 80 bytes."""
    k = (i * 7) % 64
    return b"%07d " % i + FILL[k:k + 72]


def main() -> None:
    count, stampfile, after = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    data = b"".join(line(i) + b"\n" for i in range(count))
    view = memoryview(data)
    chunk = 1 << 20
    with open(stampfile, "w") as stamps:
        stamps.write(f"t0 {time.monotonic_ns()}\n")
        stamps.flush()
        for start in range(0, len(view), chunk):
            piece = view[start:start + chunk]
            while piece:
                piece = piece[os.write(1, piece):]
        stamps.write(f"t1 {time.monotonic_ns()}\n")
    if after == "sleep":
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
