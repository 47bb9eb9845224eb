"""Rounds of choices for the default model: each setting judged by its validation loss averaged over seeds 1-5,
so that one seed's luck does not choose. No test figure is computed at all.

    python -m tools.choices                 # the last round: queue + run (one at a time) + reports/choices.json
    python -m tools.choices --round "round 3"  # an earlier round
    python -m tools.choices --summary-only  # reports/choices.json from experiments already run

Each experiment runs the `train` stage only (DVC restores the data stages of a seed it has run before from
its run cache) and reads `eval.loss` of reports/train/metrics.json: the 10% of the training reviews early
stopping watches, which the seed draws anew from the training reviews. The test set is carved by
`data.split_seed`, which no run here changes, so no choice ever sees a test review.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from tools.experiments import dvc_rows, metric, newest_by_name, queue_and_run

SEEDS = [1, 2, 3, 4, 5]
# Per round: what every run of it sets (the defaults of its day, so that a rerun still means the same when the
# default has moved on) and the settings compared, each in full.
ROUNDS = {
    "round 3": {"base": ["train.optimizer=adam", "train.ngram_buckets=2097152"], "settings": {
        "nb-l2-1e-6": ["train.nb_l2=1.0e-6"],
        "nb-l2-5e-7": ["train.nb_l2=5.0e-7"],
        "nb-l2-2.5e-7": ["train.nb_l2=2.5e-7"],
        "nb-l2-1e-7": ["train.nb_l2=1.0e-7"],
        "nb-l2-0": ["train.nb_l2=0.0"],
    }},
    "round 4": {"base": [], "settings": {  # lazy Adam needs nb_l2 0: the penalty's gradient touches every row
        "adam-2m-l2-5e-7": ["train.optimizer=adam", "train.ngram_buckets=2097152", "train.nb_l2=5.0e-7"],
        "lazy-2m": ["train.optimizer=lazy_adam", "train.ngram_buckets=2097152", "train.nb_l2=0.0"],
        "lazy-8m": ["train.optimizer=lazy_adam", "train.ngram_buckets=8388608", "train.nb_l2=0.0"],
        "lazy-16m": ["train.optimizer=lazy_adam", "train.ngram_buckets=16777216", "train.nb_l2=0.0"],
    }},
}
REPORT = Path("reports/choices.json")
TRAIN_METRICS = "reports/train/metrics.json"


def experiment_name(setting: str, seed: int) -> str:
    return f"choice-{setting}-seed{seed}"


def summarise(rows: list[dict], settings: dict[str, list[str]]) -> dict:
    """Per setting: validation loss and accuracy and epochs run per seed, and the mean loss and accuracy."""
    by_name = newest_by_name(rows)
    report = {}
    for setting, sets in settings.items():
        runs = {seed: by_name[name] for seed in SEEDS if (name := experiment_name(setting, seed)) in by_name}
        per_seed = {str(seed): {"val_loss": metric(row, TRAIN_METRICS, "eval.loss"),
                                "val_accuracy": metric(row, TRAIN_METRICS, "eval.accuracy"),
                                "epochs_run": metric(row, TRAIN_METRICS, "epochs_run")} for seed, row in runs.items()}
        entry = {"set": sets, "seeds": per_seed}
        if len(per_seed) == len(SEEDS):
            for key in ("val_loss", "val_accuracy"):
                entry[f"mean_{key}"] = round(statistics.mean(r[key] for r in per_seed.values()), 6)
        report[setting] = entry
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round", choices=list(ROUNDS), default=list(ROUNDS)[-1], help="default: the last one")
    parser.add_argument("--summary-only", action="store_true", help="summarise experiments already run")
    args = parser.parse_args(argv)
    base, settings = ROUNDS[args.round]["base"], ROUNDS[args.round]["settings"]
    if not args.summary_only:
        queue_and_run({experiment_name(setting, seed): [f"seed={seed}", *base, *sets]
                       for setting, sets in settings.items() for seed in SEEDS}, targets=("train",))
    report = summarise(dvc_rows("--all-commits"), settings)
    rounds = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    rounds[args.round] = {"base": base, "settings": report}  # the other rounds' results stay as they were
    REPORT.write_text(json.dumps({r: rounds[r] for r in ROUNDS if r in rounds}, indent=2) + "\n")
    for setting, entry in report.items():
        mean = entry.get("mean_val_loss")
        print(f"{setting}: mean validation loss {mean:.4f}" if mean is not None
              else f"{setting}: {len(entry['seeds'])} of {len(SEEDS)} seeds found")
    return 0 if all("mean_val_loss" in e for e in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
