"""The clock of a stage's progress line, drawn by a process of its own (started by stages/lib/progress.py).

A thread of the stage could not draw it: a C extension that holds Python's lock for seconds (liblinear's
fit in `baseline`) would stop it. Commands, one per line on standard input:

    d <text>   the line now says <text>
    h          hide the line (clear it) and answer "k" on standard output, so the stage can write above it
    s          show the line again
    q          clear the line and exit (also when standard input closes)

The line goes to standard error, which is the stage's terminal. This file imports nothing of the project.
"""
import os
import select
import signal
import sys
import time

signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the stage, which then tells us to quit


def draw(text: str, start: float) -> None:
    elapsed = int(time.monotonic() - start)
    line = f"{text} [{elapsed // 60:02d}:{elapsed % 60:02d}]"
    try:
        width = os.get_terminal_size(2).columns - 1
    except OSError:
        width = 79
    if len(line) > width > 10:  # a wrapped line could not be redrawn in place
        line = line[: width - 1] + "…"
    sys.stderr.write("\r" + line + "\x1b[K")
    sys.stderr.flush()


def clear() -> None:
    sys.stderr.write("\r\x1b[K")
    sys.stderr.flush()


def main() -> None:
    start, text, shown = time.monotonic(), sys.argv[1] if len(sys.argv) > 1 else "", True
    commands = os.fdopen(sys.stdin.fileno(), "rb", buffering=0)
    pending = b""
    draw(text, start)
    while True:
        ready, _, _ = select.select([commands], [], [], 1.0 - (time.monotonic() - start) % 1.0)
        if ready:
            data = os.read(commands.fileno(), 4096)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                if line.startswith("d "):
                    text = line[2:]
                elif line == "h":
                    clear()
                    shown = False
                    os.write(1, b"k")
                    continue
                elif line == "s":
                    shown = True
                elif line == "q":
                    clear()
                    return
                if shown:
                    draw(text, start)
        elif shown:
            draw(text, start)
    clear()


if __name__ == "__main__":
    main()
