"""What people compare across experiments, one line each, narrow enough for a terminal:

    make compare          # = python -m tools.compare

Experiment, the params that define a configuration, test accuracy, ROC AUC, out-of-domain accuracy and the
margin over the best baseline. Only params that differ between the listed rows get a column (`--all-params`
shows the usual set anyway). `dvc exp show` has every param, metric and dependency, for the full picture.
"""
from __future__ import annotations

import argparse
import sys

from stages.lib.provenance import revision_problem
from tools.experiments import dvc_rows, margin, metric

KEY_PARAMS = ["train.model", "maxlen", "tokenize.vocab_size", "embedding.pretrained", "embedding.trainable",
              "train.max_train_samples", "seed"]
SHORT = {"train.model": "model", "tokenize.vocab_size": "vocab", "embedding.pretrained": "glove",
         "embedding.trainable": "tuned", "train.max_train_samples": "train_n"}
RESULTS = [("test acc", "reports/metrics.json", "test.accuracy"), ("AUC", "reports/metrics.json", "test.roc_auc"),
           ("ood acc", "reports/metrics.json", "ood.accuracy")]


def cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def table(rows: list[dict], all_params: bool = False) -> str:
    params = [p for p in KEY_PARAMS if all_params or len({repr(r["params"].get(p)) for r in rows}) > 1]
    header = ["Experiment", *(SHORT.get(p, p) for p in params), *(name for name, _, _ in RESULTS), "margin"]
    lines = [[f"{r['name']}" + (f" ({r['rev']})" if r["rev"] and not r["name"].startswith(r["rev"]) else "") for r in rows]]
    body = []
    for r, name in zip(rows, lines[0]):
        m = margin(r)
        body.append([name, *(cell(r["params"].get(p)) for p in params),
                     *(cell(metric(r, f, k)) for _, f, k in RESULTS), "-" if m is None else f"{m:+.4f}"])
    widths = [max(len(x) for x in column) for column in zip(header, *body)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, body)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all-params", action="store_true", help="show every key param, not only those that differ")
    parser.add_argument("-A", "--all-commits", action="store_true", help="experiments of every commit (dvc exp show -A)")
    args = parser.parse_args(argv)
    rows = dvc_rows(*(["-A"] if args.all_commits else []))
    if not rows:
        problem = revision_problem("HEAD")  # with no commit, DVC lists nothing, though the metrics may be there
        print(f"compare: {problem or 'no results yet; run `make repro` or `dvc exp run`'}", file=sys.stderr)
        return 1
    print(table(rows, args.all_params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
