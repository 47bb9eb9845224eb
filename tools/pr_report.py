"""Write a Markdown report comparing the workspace with a base revision, for a pull-request comment.

    make report BASE=main        # or: python -m tools.pr_report --base main --out reports/pr_report.md

It lists metrics with deltas (`dvc metrics diff`), changed params (`dvc params diff`), validation checks whose
result changed, and the plots whose data changed: as Mermaid charts GitHub draws in the comment, and side by side
by `dvc plots diff` into an HTML page that works offline, with SVG pictures; the
first line is a verdict on the main metric against the threshold in params.yaml (`report.*`).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from stages.lib.params import load_params
from tools.experiments import dvc_json
from tools.mermaid_plots import charts
from tools.offline_plots import dvc_specs, render_svgs

VALIDATION_REPORTS = ["reports/validation/raw.json", "reports/validation/features.json"]
PLOT_DIRS = ["reports/plots", "reports/train/plots"]


def git_show(rev: str, path: str) -> bytes | None:
    out = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True)
    return out.stdout if out.returncode == 0 else None


def git_files(rev: str, folder: str) -> set[str]:
    out = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, folder], capture_output=True, text=True)
    return set(out.stdout.split())


def fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def verdict(metrics: dict, metric: str, max_drop: float, margin: tuple[str, bool] | None = None) -> str:
    """The verdict line: the main metric against its base, and (when known) the margin over the baselines.
    It starts with "**Verdict: PASS**" only when every check passed (see `passed`)."""
    row = next((rows[metric] for rows in metrics.values() if metric in rows), None)
    margin_text, margin_ok = margin if margin else ("", True)
    if row is None or row.get("new") is None:
        return f"**Verdict: no value for `{metric}` in the workspace**"
    if row.get("old") is None:
        ok = margin_ok
        change = f"`{metric}` = {fmt(row['new'])} (no base value to compare)"
    else:
        delta = row["new"] - row["old"]
        ok = delta >= -max_drop and margin_ok
        change = f"`{metric}` {fmt(row['old'])} → {fmt(row['new'])} ({delta:+.4f}; allowed drop {max_drop})"
    return f"**Verdict: {'PASS' if ok else 'FAIL'}**: {change}" + (f"; {margin_text}" if margin_text else "")


def passed(verdict_line: str) -> bool:
    return verdict_line.startswith("**Verdict: PASS**")


def baseline_margin(model_metrics: dict | None, baseline_metrics: dict | None, min_margin: float):
    """(text, ok) of the model's test accuracy minus the best baseline's, or None when either is missing."""
    if not model_metrics or not baseline_metrics:
        return None
    model, best = model_metrics["test"]["accuracy"], baseline_metrics["best"]["test_accuracy"]
    margin = model - best
    ok = margin >= min_margin
    return (f"margin over the best baseline {margin:+.4f} (model {model:.4f}, best baseline {best:.4f}; "
            f"required at least {min_margin:+.4f}){'' if ok else ' FAIL'}", ok)


def read_json_file(path: str) -> dict | None:
    return json.loads(Path(path).read_text()) if Path(path).exists() else None


def metrics_section(metrics: dict) -> list[str]:
    lines = ["## Metrics", "", "| file | metric | base | workspace | change |", "| --- | --- | --- | --- | --- |"]
    for path, rows in sorted(metrics.items()):
        for name, row in sorted(rows.items()):
            diff = row.get("diff")
            lines.append(f"| {path} | {name} | {fmt(row.get('old'))} | {fmt(row.get('new'))} | "
                         f"{'' if diff is None else f'{diff:+.4f}' if isinstance(diff, float) else diff} |")
    return lines + ([""] if metrics else ["| | no metric changed | | | |", ""])


def params_section(params: dict) -> list[str]:
    lines = ["## Params", "", "| param | base | workspace |", "| --- | --- | --- |"]
    for rows in params.values():  # one entry per params file; ours is params.yaml
        for name, row in sorted(rows.items()):
            lines.append(f"| {name} | {fmt(row.get('old'))} | {fmt(row.get('new'))} |")
    return lines + ([""] if params else ["| no param changed | | |", ""])


def validation_status(result: dict | None) -> str:
    return "—" if result is None else "passed" if result["success"] else "FAILED"


def check_results(result: dict) -> dict:
    """{(suite, expectation, column): success} of a validation report."""
    return {(s["suite"], c["expectation"], c["column"]): c["success"] for s in result["suites"] for c in s["checks"]}


def validation_section(base: str) -> list[str]:
    lines = ["## Data validation", ""]
    for path in VALIDATION_REPORTS:
        now = json.loads(Path(path).read_text()) if Path(path).exists() else None
        old_bytes = git_show(base, path)
        old = json.loads(old_bytes) if old_bytes else None
        lines.append(f"- `{path}`: base {validation_status(old)}, workspace {validation_status(now)}")
        if old and now:
            before, after = check_results(old), check_results(now)
            for key in sorted(set(before) | set(after), key=str):
                if before.get(key) != after.get(key):
                    lines.append(f"  - {key[0]}: {key[1]} on `{key[2]}`: {before.get(key)} → {after.get(key)}")
    return lines + [""]


def plots_section(base: str, out_dir: Path) -> list[str]:
    changed = []
    for folder in PLOT_DIRS:
        files = {str(p) for p in Path(folder).rglob("*") if p.is_file()} | git_files(base, folder)
        for path in sorted(files):
            now = Path(path).read_bytes() if Path(path).exists() else None
            if now != git_show(base, path):
                changed.append(path)
    lines = ["## Plots", ""]
    if not changed:
        return lines + ["No plot data changed.", ""]
    subprocess.run([sys.executable, "-m", "dvc", "plots", "diff", base, "-o", str(out_dir)], capture_output=True)
    render_svgs(dvc_specs([base]), out_dir / "svg")  # static pictures of the same charts, for the artifact
    lines += [f"- `{p}`" for p in changed]
    lines += ["", f"Base `{base}` against the workspace (GitHub draws these charts in the comment):", ""]

    def read(rev: str, path: str) -> bytes | None:
        if rev == "base":
            return git_show(base, path)
        return Path(path).read_bytes() if Path(path).exists() else None

    for block in charts(read):
        lines += [block, ""]
    lines += [f"Interactive, side by side: `dvc plots diff {base}` wrote `{out_dir}/index.html` (works offline), "
              f"and SVG pictures of the same charts are in `{out_dir}/svg/`; both are attached to the CI run as an "
              "artifact.", ""]
    return lines


def build_report(base: str, params: dict, plots_dir: Path) -> tuple[str, bool]:
    """The Markdown report and whether its verdict passed."""
    metrics = dvc_json("metrics", "diff", base)
    changed_params = dvc_json("params", "diff", base)
    cfg = params["report"]
    margin = baseline_margin(read_json_file("reports/metrics.json"), read_json_file("reports/baseline/metrics.json"),
                             cfg["min_margin"])
    verdict_line = verdict(metrics, cfg["metric"], cfg["max_drop"], margin)
    lines = [f"# Pipeline report: workspace vs `{base}`", "", verdict_line, ""]
    lines += metrics_section(metrics) + params_section(changed_params) + validation_section(base)
    lines += plots_section(base, plots_dir)
    return "\n".join(lines), passed(verdict_line)


def main() -> int:
    """Write the report; exit 1 when its verdict is not PASS, so a CI job that posts it can then fail."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--out", type=Path, default=Path("reports/pr_report.md"))
    parser.add_argument("--plots-dir", type=Path, default=Path("reports/pr_plots"))
    args = parser.parse_args()
    report, ok = build_report(args.base, load_params(), args.plots_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n", encoding="utf-8")
    print(report)
    if not ok:
        print(f"pr_report: the verdict is not PASS (see the first lines of {args.out}); exit status 1",
              file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
