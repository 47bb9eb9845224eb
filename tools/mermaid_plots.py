"""The pipeline's plots as Mermaid charts, which GitHub draws inside a pull-request comment (no image hosting,
no JavaScript from a CDN): training curves per epoch and ROC / precision-recall curves, base against workspace,
and the confusion matrices as tables.

One chart per quantity holds base and workspace together. Mermaid's xychart has no legend of its own, so the
colours of its lines (`PALETTE`) are named under it, each with a square of its colour, in the text's own size.
"""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

PALETTE = [("🟦", "#1f77b4"), ("🟧", "#ff7f0e"), ("🟩", "#2ca02c"), ("🟥", "#d62728")]  # squares of the colours
CURVE_GRID = np.linspace(0, 1, 21)  # ROC and precision-recall are drawn at these x values (interpolated)


def _number(v: float) -> str:
    return f"{v:.4g}"


def line_chart(title: str, x_label: str, xs: list, y_label: str, series: dict[str, list[float]],
               y_range: tuple[float, float] | None = None) -> str:
    """A Mermaid xychart with one line per series (at most len(PALETTE)), each with a value at every x (only
    measured points: no line is padded), and its colour legend. `y_range` shares one axis between charts."""
    assert 0 < len(series) <= len(PALETTE), "one colour per line"
    assert all(len(line) == len(xs) for line in series.values()), "a value at every x, no more, no less"
    lo, hi = y_range or value_range(series.values())
    pad = (hi - lo) * 0.05 or 0.05
    colours = ", ".join(hex_ for _, hex_ in PALETTE[:len(series)])
    if lo >= 0 and hi <= 1:  # shares and rates: keep the axis within [0, 1]
        lo_axis, hi_axis = max(0.0, lo - pad), min(1.0, hi + pad)
    else:
        lo_axis, hi_axis = lo - pad, hi + pad
    lines = ["```mermaid",
             '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + colours + '"}}}}%%',
             "xychart-beta", f'    title "{title}"',
             f'    x-axis "{x_label}" [{", ".join(_number(x) if isinstance(x, float) else str(x) for x in xs)}]',
             f'    y-axis "{y_label}" {_number(lo_axis)} --> {_number(hi_axis)}']
    lines += [f"    line [{', '.join(_number(v) for v in line)}]" for line in series.values()]
    legend = " · ".join(f"{square} {name}" for (square, _), name in zip(PALETTE, series))
    return "\n".join(lines + ["```", f"Lines: {legend}"])


def value_range(lines) -> tuple[float, float]:
    values = [v for line in lines for v in line if v is not None and np.isfinite(v)]
    return (min(values), max(values)) if values else (0.0, 1.0)


def epoch_series(tsv: bytes | None, column: str) -> list[float] | None:
    """Values per epoch from a DVCLive .tsv (columns step and the metric), or None when there is no file."""
    if not tsv:
        return None
    return pd.read_csv(io.BytesIO(tsv), sep="\t")[column].astype(float).tolist()


def curve_on_grid(points_json: bytes | None, key: str, x: str, y: str, upto: bool) -> list[float] | None:
    """A curve (list of {x, y} points under `key`) sampled at CURVE_GRID: the best y reached at an x up to the
    grid value (`upto`, ROC: true positive rate within a false positive rate) or from it on (precision-recall:
    the interpolated precision at a recall)."""
    if not points_json:
        return None
    points = json.loads(points_json)[key]
    xs = np.array([p[x] for p in points], float)
    ys = np.array([p[y] for p in points], float)
    sampled = []
    for g in CURVE_GRID:
        near = xs <= g + 1e-12 if upto else xs >= g - 1e-12
        sampled.append(float(ys[near].max()) if near.any() else float(ys[0] if upto else ys[-1]))
    return sampled


def confusion_table(csv_by_rev: dict[str, bytes | None]) -> str:
    """The confusion matrices of each revision side by side as one Markdown table of counts."""
    names = ["negative", "positive"]
    header = "| actual | " + " | ".join(f"{rev}: predicted {p}" for rev in csv_by_rev for p in names) + " |"
    cells = {a: [] for a in names}
    for data in csv_by_rev.values():
        frame = None if data is None else pd.read_csv(io.BytesIO(data)).astype(str).replace(
            {"0": "negative", "1": "positive"})  # older runs wrote 0/1 instead of the class names
        for a in names:
            cells[a] += ["—" if frame is None else str(int(((frame["actual"] == a) & (frame["predicted"] == p)).sum()))
                         for p in names]
    rows = [header, "|" + " --- |" * (1 + 2 * len(csv_by_rev))]
    rows += [f"| {a} | " + " | ".join(cells[a]) + " |" for a in names]
    return "Confusion matrix (test set):\n\n" + "\n".join(rows)


REVISIONS = ("base", "workspace")


def charts(read) -> list[str]:
    """Markdown blocks for the comment. `read(rev, path)` returns the bytes of path at rev ("base" or
    "workspace"), or None.

    One chart per quantity, base and workspace in it (each line only measured points: an xychart line has a
    value at every x). Runs of different lengths share the epochs both ran (counted from 1, as Keras prints
    them); the longer run's further epochs are named under the chart."""
    out = []
    for metric, label in (("loss", "binary cross-entropy"), ("accuracy", "accuracy")):
        series = {f"{rev}, {name}": values for rev in REVISIONS for part, name in (("train", "train"),
                                                                                      ("eval", "validation"))
                  if (values := epoch_series(read(rev, f"reports/train/plots/metrics/{part}/{metric}.tsv"), metric))}
        if not series:
            continue
        both = min(map(len, series.values()))
        chart = line_chart(f"{metric.capitalize()} per epoch", "epoch", list(range(1, both + 1)), label,
                           {name: values[:both] for name, values in series.items()})
        out.append(chart + further_epochs(series, both))
    grid = [round(float(g), 2) for g in CURVE_GRID]
    for file, key, x, y, upto, title in (("roc.json", "roc", "fpr", "tpr", True, "ROC curve (test set)"),
                                         ("precision_recall.json", "prc", "recall", "precision", False,
                                          "Precision-recall curve (test set)")):
        curves = {rev: curve for rev in REVISIONS
                  if (curve := curve_on_grid(read(rev, f"reports/plots/{file}"), key, x, y, upto))}
        if curves:
            out.append(line_chart(title, x, grid, y, curves, (0.0, 1.0)))
    out.append(confusion_table({rev: read(rev, "reports/plots/confusion.csv") for rev in REVISIONS}))
    return out


def further_epochs(series: dict[str, list[float]], shown: int, listed: int = 5) -> str:
    """A line naming what the chart leaves out when one run went on longer: its further values (up to `listed`
    epochs), else where the whole curves are."""
    longer = {name: values[shown:] for name, values in series.items() if len(values) > shown}
    if not longer:
        return ""
    runs = sorted({name.split(",")[0] for name in longer})
    ran = ", ".join(f"{rev} ran {shown + max(len(v) for n, v in longer.items() if n.startswith(rev))}"
                    for rev in runs)
    if max(map(len, longer.values())) > listed:
        rest = "the whole curves are in `dvc plots diff`'s page"
    else:
        rest = "; ".join(f"{name}: {', '.join(_number(v) for v in values)}" for name, values in longer.items())
        rest = f"epochs {shown + 1} on: {rest}"
    return f"\n\nThe chart shows epochs 1-{shown}, which both runs have ({ran}); {rest}."
