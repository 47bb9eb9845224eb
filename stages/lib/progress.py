"""What a stage is doing, for a person at a terminal: no step is silent for more than a second or two.

`Steps` is a tqdm bar over a stage's named steps whose clock ticks every second, also inside a step that
cannot report progress of its own (importing TensorFlow, one scikit-learn fit). `bar` is a plain tqdm bar for
work of known size. Both draw only when standard error is a terminal: logs and captured output stay quiet.
"""
from __future__ import annotations

import sys
import threading

from tqdm import tqdm

TICK = 1.0  # seconds between redraws of a step's clock


def on_terminal() -> bool:
    return sys.stderr.isatty()


class Steps:
    """with Steps("export", 5) as step: step("loading the model"); ...; step("writing the SavedModel")"""

    def __init__(self, stage: str, total: int):
        self.stage = stage
        self.bar = tqdm(total=total, desc=stage, file=sys.stderr, disable=not on_terminal(),
                        bar_format="{desc} [step {n_fmt} of {total_fmt}, {elapsed}]", dynamic_ncols=True)
        self.started = False
        self._stop = threading.Event()
        self._clock = threading.Thread(target=self._tick, daemon=True)
        if not self.bar.disable:
            self._clock.start()

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            self.bar.refresh()

    def __call__(self, doing: str) -> None:
        """The next step begins: the previous one is counted as done."""
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_description_str(f"{self.stage}: {doing}")

    def close(self) -> None:
        """Before other output (Keras' own progress bar) takes the terminal; safe to call twice."""
        if not self._stop.is_set():
            self._stop.set()
            if self.started:
                self.bar.update(1)
            self.bar.close()

    def __enter__(self) -> "Steps":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bar(total: int, desc: str, unit: str = "it") -> tqdm:
    """A progress bar of known size on standard error, drawn only on a terminal."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not on_terminal(), dynamic_ncols=True)
