"""The longest silences of a command as a person at a terminal sees them.

    python -m tools.silences [--over 5] -- dvc exp run -S maxlen=20

Runs the command under a pseudo-terminal (so progress bars draw as they would for a person), records when each
piece of output arrives, and prints the gaps longer than --over seconds with the line that ended each.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time


def timed_output(command: list[str], cwd=None, env=None, timeout: float = 1800) -> tuple[int, list[tuple[float, bytes]]]:
    """(exit code, [(seconds since start, bytes)]) of `command` run with a pseudo-terminal as stdout and stderr."""
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a real terminal has a size
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=child, stderr=child,
                               close_fds=True)
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([parent], [], [], 1.0)
        if ready:
            try:
                data = os.read(parent, 65536)
            except OSError:  # the child closed the terminal
                data = b""
            if not data:
                break
            chunks.append((time.monotonic() - start, data))
        elif process.poll() is not None:
            break
        if time.monotonic() - start > timeout:
            process.kill()
            break
    os.close(parent)
    return process.wait(), chunks


def silences(chunks: list[tuple[float, bytes]], end: float | None = None) -> list[tuple[float, float, str]]:
    """(gap, at, the last line before it) for every gap between pieces of output, from the start to `end`."""
    out, last, text = [], 0.0, ""
    for at, data in chunks + ([(end, b"")] if end is not None else []):
        line = text.replace("\r", "\n").rstrip("\n").rsplit("\n", 1)[-1]
        out.append((at - last, last, line))
        last, text = at, text + data.decode("utf-8", "replace")
        text = text[-2000:]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--over", type=float, default=5.0, help="report silences longer than this (seconds)")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    start = time.monotonic()
    code, chunks = timed_output(args.command)
    gaps = silences(chunks, time.monotonic() - start)
    for gap, at, line in gaps:
        if gap > args.over:
            print(f"{gap:6.1f} s silent from {at:6.1f} s, after: {line[-100:]!r}")
    print(f"exit {code}; longest silence {max((g for g, _, _ in gaps), default=0):.1f} s", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
