"""The Keras word-embedding tutorial's example through the whole pipeline: `make example`.

    python -m examples.keras_tutorial [--workdir examples/keras_tutorial/runs]

For each of two runs, learned embeddings and frozen GloVe vectors, it makes a scratch project in the work
folder (this folder's reviews.csv under data/external/; the repository's params.yaml with this folder's
params.yaml laid over it, and the run's change), runs every
stage of dvc.yaml there in order with the pipeline's own runner (`python -m stages <name>`), and prints what
the tutorial prints: the vocabulary, the padded documents and the accuracy, here on four held-out phrases.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

import stages
from stages.lib.params import read_yaml  # PyYAML, refusing a key given twice

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RUNS = {"learned": {"pretrained": False, "trainable": True}, "glove": {"pretrained": True, "trainable": False}}


def stage_names() -> list[str]:
    return list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])


def overlay(base: dict, changes: dict) -> dict:
    """`base` with the keys of `changes` replaced, nested mappings merged key by key."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = overlay(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


class Progress:
    """One line per stage on standard error, terminal or not (a CI log, `make example > out.txt`): how far it is,
    the time so far and, from the stages done, about how long is left."""

    def __init__(self, total: int):
        self.total, self.done, self.start = total, 0, time.monotonic()

    def next(self, doing: str) -> None:
        elapsed = time.monotonic() - self.start
        left = f", about {elapsed / self.done * (self.total - self.done):.0f} s left" if self.done else ""
        self.done += 1
        print(f"example: [{self.done}/{self.total}] {doing} ({elapsed:.0f} s so far{left})", file=sys.stderr,
              flush=True)


progress = Progress(0)


def run(name: str, embedding: dict, workdir: Path, step) -> dict:
    root = workdir / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "data/external").mkdir(parents=True)
    shutil.copy(HERE / "reviews.csv", root / "data/external/reviews.csv")
    params = overlay(read_yaml((REPO / "params.yaml").read_text()), read_yaml((HERE / "params.yaml").read_text()))
    params["embedding"].update(embedding)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    for stage in stage_names():
        step(f"{name} embeddings, stage {stage}")
        progress.next(f"{name} embeddings: {stage}")
        result = subprocess.run([sys.executable, "-m", "stages", stage], cwd=root, env=env, capture_output=True,
                                text=True)
        if result.returncode != 0:
            sys.exit(f"{name}: stage {stage} failed:\n{result.stderr.strip()}")
    return {"tokenize": json.loads((root / "reports/tokenize.json").read_text()),
            "train": json.loads((root / "reports/train/metrics.json").read_text()),
            "metrics": json.loads((root / "reports/metrics.json").read_text()), "root": root}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=HERE / "runs")
    args = parser.parse_args(argv)
    from stages.lib.progress import showing  # a line with a ticking clock, on a terminal only

    signal.signal(signal.SIGINT, stages._interrupted)  # Ctrl-C: "interrupted", exit status 130, no traceback
    global progress
    progress = Progress(len(RUNS) * len(stage_names()))
    print(f"example: {progress.total} stages ({len(RUNS)} runs of {len(stage_names())}), each a Python process that "
          "loads its libraries; a few minutes on 2 cores, longer on a busy machine", file=sys.stderr, flush=True)
    with showing("example") as step:
        step.expect(progress.total)
        for name, embedding in RUNS.items():
            print(summary(name, run(name, embedding, args.workdir.resolve(), step)))


def summary(name: str, out: dict) -> str:
    """What the tutorial prints: the vocabulary, the accuracy; and where the run's files are."""
    vocabulary = (out["root"] / "data/interim/vocab.txt").read_text().split("\n")[2:-1]
    test = out["metrics"]["test"]
    root = out["root"].relative_to(Path.cwd()) if out["root"].is_relative_to(Path.cwd()) else out["root"]
    return (f"{name}: vocabulary of {len(vocabulary)} words ({', '.join(vocabulary)}) and 2 reserved ids "
            f"(padding, [UNK]); training accuracy {out['train']['train']['accuracy']:.2f}; "
            f"test accuracy {test['accuracy']:.2f} on {test['n']} phrases -> {root}")

if __name__ == "__main__":
    main()
    stages.stop_if_interrupted()  # Ctrl-C that a library swallowed: still exit 130
