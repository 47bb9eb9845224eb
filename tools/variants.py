"""The experiments behind the README's tables, as queued DVC experiments, each one change from the default.

    python -m tools.variants                 # queue + run (one at a time) + reports/variants.json
    python -m tools.variants --summary-only  # reports/variants.json from experiments already run
    python -m tools.variants --group tutorials  # one group again; the others stay as reported

`search`: what was tried on the way to the default model, judged on the validation split (`eval.accuracy`,
`eval.loss` of reports/train/metrics.json: the 10% of the training reviews that early stopping watches);
the test figures are reported, never used to choose. `tutorials`: the tutorials' configurations.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.experiments import dvc_rows, margin, metric, newest_by_name, queue_and_run

VARIANTS = {
    "search": {
        "fasttext": ["train.model=fasttext"],
        "fasttext-previous-default": ["train.model=fasttext", "maxlen=400", "tokenize.vocab_size=20000"],
        "nb-trigrams": ["train.ngram_orders=3"],
        "nb-l2-2e-6": ["train.nb_l2=2.0e-6"],
        "nb-l2-2e-5": ["train.nb_l2=2.0e-5"],
        "nb-alpha-0.5": ["train.nb_alpha=0.5"],
        "vocab-20000": ["tokenize.vocab_size=20000"],
        "maxlen-400": ["maxlen=400"],
        "lr-0.002": ["train.learning_rate=0.002"],
        "learned-embeddings": ["embedding.pretrained=false"],
    },
    "tutorials": {
        "gap-learned": ["train.model=gap", "embedding.pretrained=false", "maxlen=400"],
        # at the default learning rate (0.005) this model's ReLUs died in the first epoch (50.0%, AUC 0.5)
        "flatten-glove-frozen-200-lr0.001": ["train.model=flatten", "embedding.trainable=false", "maxlen=200",
                                             "train.learning_rate=0.001"],
        "small-glove-frozen": ["train.max_train_samples=200", "train.model=flatten", "maxlen=100",
                               "embedding.trainable=false", "train.batch_size=32"],
        "small-learned": ["train.max_train_samples=200", "train.model=flatten", "maxlen=100",
                          "embedding.pretrained=false", "train.batch_size=32"],
        "maxlen-20": ["maxlen=20"],
    },
}
REPORT = Path("reports/variants.json")
FIGURES = {"val_accuracy": ("reports/train/metrics.json", "eval.accuracy"),
           "val_loss": ("reports/train/metrics.json", "eval.loss"),
           "test_accuracy": ("reports/metrics.json", "test.accuracy"),
           "test_roc_auc": ("reports/metrics.json", "test.roc_auc"),
           "ood_accuracy": ("reports/metrics.json", "ood.accuracy")}


def figures(row: dict) -> dict:
    out = {key: metric(row, file, dotted) for key, (file, dotted) in FIGURES.items()}
    m = margin(row)
    out["margin"] = None if m is None else round(m, 6)
    return out


def summary(rows: list[dict]) -> dict:
    by_name = newest_by_name(rows)
    report = {}
    for group, variants in VARIANTS.items():
        report[group] = {name: {"set": sets, **figures(by_name[name])} for name, sets in variants.items()
                         if name in by_name}
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--group", choices=list(VARIANTS), help="this group only; the others stay as reported")
    args = parser.parse_args(argv)
    groups = [args.group] if args.group else list(VARIANTS)
    if not args.summary_only:
        queue_and_run({name: sets for group in groups for name, sets in VARIANTS[group].items()})
    rows = dvc_rows("--all-commits")  # experiments queued from earlier commits too
    report = json.loads(REPORT.read_text()) if args.group and REPORT.exists() else {}
    report.update({group: found for group, found in summary(rows).items() if group in groups})
    default = next((r for r in rows if r["name"] == "workspace"), None)
    if default and not args.group:  # the default the `search` rows each changed one thing of
        report["default"] = figures(default)
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    found = sum(len(report.get(group, {})) for group in groups)
    print(f"variants: {found} of {sum(len(VARIANTS[g]) for g in groups)} experiments found -> {REPORT}")
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
