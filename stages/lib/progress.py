"""What a stage is doing, for a person at a terminal: no step is silent for more than a second or two.

The runner (`python -m stages <stage>`) opens `Steps` around every stage: one line on standard error, the stage
and what it is doing, with a clock that ticks every second, also inside a step that reports nothing of its own
(importing TensorFlow, a scikit-learn fit that holds Python's lock for seconds). A stage whose `main` takes
`step` names its steps with it (`step("fitting NBSVM")`), and may say how many there are (`step.expect(8)`).
`bar` is a plain tqdm bar for work of known size. All of it is drawn only when standard error is a terminal:
logs and captured output stay as they were.
"""
from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

TICKER = Path(__file__).with_name("ticker.py")


def on_terminal() -> bool:
    return sys.stderr.isatty()


class Steps:
    """with Steps("export") as step: step.expect(2); step("loading the model"); ...; step("writing the model")

    On a terminal the line is drawn by a small process of its own (stages/lib/ticker.py), so its clock keeps
    ticking while this one is busy in C code that holds Python's lock."""

    def __init__(self, stage: str):
        self.stage, self.done, self.total = stage, 0, None
        self.ticker = None
        self.resume("starting")

    def resume(self, doing: str) -> None:
        """Draw the line (again, after `close`: Keras' epochs are over and the stage has more to do)."""
        if self.ticker is None and on_terminal():
            self.ticker = subprocess.Popen([sys.executable, str(TICKER), f"{self.stage}: {doing}"],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def _send(self, command: str) -> bool:
        if self.ticker is None:
            return False
        try:
            self.ticker.stdin.write((command.replace("\n", " ") + "\n").encode("utf-8"))
            return True
        except OSError:  # the ticker is gone (killed with the terminal): draw nothing more
            self.ticker = None
            return False

    def expect(self, total: int) -> None:
        """The stage has `total` named steps from here on: the line counts them."""
        self.total, self.done = total, 0

    def __call__(self, doing: str) -> None:
        """The next step begins."""
        self.done += 1
        count = f" (step {self.done} of {self.total})" if self.total else ""
        self._send(f"d {self.stage}: {doing}{count}")

    def write(self, text: str, stream) -> None:
        """Other output goes above the line, which is drawn again below it."""
        hidden = self._send("h")
        if hidden:
            select.select([self.ticker.stdout], [], [], 2.0)  # the ticker's "k": the line is cleared
            os.read(self.ticker.stdout.fileno(), 1)
        stream.write(text)
        stream.flush()
        if hidden:
            self._send("s")

    def close(self) -> None:
        """Clear the line: before output that draws its own progress (Keras' epochs), and at the end."""
        if self._send("q"):
            try:
                self.ticker.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.ticker.kill()
        self.ticker = None

    def __enter__(self) -> "Steps":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Above:
    """A stream whose writes go above the Steps line (the runner puts standard output behind it)."""

    def __init__(self, stream, steps: Steps):
        self.stream, self.steps, self.pending = stream, steps, ""

    def write(self, text: str) -> int:
        """Whole lines at a time (print() writes the text and its newline separately)."""
        lines, _, self.pending = (self.pending + text).rpartition("\n")
        if lines or _:
            self.steps.write(lines + "\n", self.stream)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.steps.write(self.pending, self.stream)
            self.pending = ""
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextlib.contextmanager
def showing(stage: str) -> Iterator[Steps]:
    """A Steps line for `stage`, with standard output written above it while it is shown."""
    with Steps(stage) as step:
        above = Above(sys.stdout, step)
        try:
            with contextlib.redirect_stdout(above):
                yield step
        finally:
            above.flush()


class Quiet:
    """A stage's `step` when it is called outside the runner (tests, notebooks): nothing is drawn."""

    def __call__(self, doing: str) -> None:
        pass

    def expect(self, total: int) -> None:
        pass

    def resume(self, doing: str) -> None:
        pass

    def close(self) -> None:
        pass


QUIET = Quiet()


def bar(total: int | None, desc: str, unit: str = "it", when: bool = True) -> tqdm:
    """A progress bar on standard error (of known size unless `total` is None), drawn only on a terminal and
    `when` the caller wants it."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not (when and on_terminal()),
                dynamic_ncols=True)
