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
import subprocess
import sys
from pathlib import Path

import yaml

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


def run(name: str, embedding: dict, workdir: Path, step) -> dict:
    root = workdir / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "data/external").mkdir(parents=True)
    shutil.copy(HERE / "reviews.csv", root / "data/external/reviews.csv")
    params = overlay(yaml.safe_load((REPO / "params.yaml").read_text()), yaml.safe_load((HERE / "params.yaml").read_text()))
    params["embedding"].update(embedding)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    for stage in stage_names():
        step(f"{name} embeddings, stage {stage}")
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

    with showing("example") as step:
        step.expect(len(RUNS) * len(stage_names()))
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
