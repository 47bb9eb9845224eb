"""How much do the results move with the seed? Queue DVC experiments over several seeds and summarise them.

    python -m tools.seeds                 # queue + run (one at a time) + summary, seeds 1..5
    python -m tools.seeds --summary-only  # the summary of experiments already run

Two configurations: the default, and the tutorials' 200-review experiment (frozen GloVe, `flatten`). The seed
changes what training draws: the validation split, the initial weights, the shuffling. The test set is carved by
`data.split_seed` and stays the same for every seed.
The summary (mean ± sample standard deviation per configuration) goes to reports/seeds.json and stdout.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from tools.experiments import dvc_rows, metric, newest_by_name, queue_and_run

CONFIGS = {
    "default": [],
    "small-200": ["train.max_train_samples=200", "train.model=flatten", "maxlen=100", "embedding.trainable=false",
                  "train.batch_size=32"],
}
METRICS = {"test.accuracy": ("reports/metrics.json", "test.accuracy"),
           "test.roc_auc": ("reports/metrics.json", "test.roc_auc"),
           "ood.accuracy": ("reports/metrics.json", "ood.accuracy"),
           "baseline.test_accuracy": ("reports/baseline/metrics.json", "best.test_accuracy")}
REPORT = Path("reports/seeds.json")


def experiment_name(config: str, seed: int) -> str:
    return f"{config}-seed{seed}"


def experiments(rows: list[dict]) -> dict[str, dict]:
    """{experiment name: {metric: value}} from the rows of `tools.experiments`."""
    return {name: {key: metric(row, file, dotted) for key, (file, dotted) in METRICS.items()}
            for name, row in newest_by_name(rows).items()}


def summarise(runs: dict[str, dict], seeds: list[int]) -> dict:
    """Per configuration: the seeds found, and mean and sample standard deviation of every metric."""
    summary = {}
    for config in CONFIGS:
        rows = [runs[name] for s in seeds if (name := experiment_name(config, s)) in runs]
        summary[config] = {"runs": len(rows)}
        for metric in METRICS:
            values = [r[metric] for r in rows if r.get(metric) is not None]
            if len(values) >= 2:
                summary[config][metric] = {"mean": round(statistics.mean(values), 6),
                                           "std": round(statistics.stdev(values), 6),
                                           "min": min(values), "max": max(values)}
        values = [r["test.accuracy"] - r["baseline.test_accuracy"] for r in rows
                  if r.get("test.accuracy") is not None and r.get("baseline.test_accuracy") is not None]
        if len(values) >= 2:
            summary[config]["margin"] = {"mean": round(statistics.mean(values), 6),
                                         "std": round(statistics.stdev(values), 6),
                                         "min": round(min(values), 6), "max": round(max(values), 6)}
    return summary


def markdown(summary: dict) -> str:
    keys = [*METRICS, "margin"]
    lines = ["| configuration | runs | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for config, row in summary.items():
        cells = [f"{100 * row[k]['mean']:.2f} ± {100 * row[k]['std']:.2f}" if k in row else "n/a" for k in keys]
        lines.append(f"| {config} | {row['runs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n(percentage points: mean ± sample standard deviation over the seeds)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--summary-only", action="store_true", help="summarise experiments already run")
    args = parser.parse_args(argv)
    if not args.summary_only:
        queue_and_run({experiment_name(config, seed): [f"seed={seed}", *sets]
                       for config, sets in CONFIGS.items() for seed in args.seeds})
    summary = summarise(experiments(dvc_rows("--all-commits")), args.seeds)  # experiments of earlier commits too
    if not any(row["runs"] for row in summary.values()):
        print("seeds: no experiment named like default-seed1 found; run without --summary-only", file=sys.stderr)
        return 1
    REPORT.write_text(json.dumps({"seeds": args.seeds, "configs": CONFIGS, "summary": summary}, indent=2,
                                 sort_keys=True) + "\n")
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
