"""Write a Markdown report comparing the workspace with a base revision, for a pull-request comment.

    make report BASE=main        # or: python -m tools.pr_report --base main --out reports/pr_report.md

It lists metrics with deltas (`dvc metrics diff`; the baselines' unchanged ones folded into one line), changed
params (`dvc params diff`), validation checks whose result changed, and the plots whose data changed: as Mermaid
charts GitHub draws in the comment (one per quantity, base and workspace together), and side by side by `dvc plots
diff` into an HTML page that works offline, with SVG pictures. The embedding map is shown when the workflow gives
its address (`PR_REPORT_MAP_URL`). The first line is the verdict in a word (PASS or FAIL), then one line per
check: the main metric against its base, and the margin over the best baseline (thresholds in params.yaml,
`report.*`). Every piece of text from data, params or file names goes through `md_text`. The comment
(`--comment`) is the report cut to fit GitHub's limit.
"""
from __future__ import annotations

import argparse
import json
import fnmatch
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from stages.lib.markdown import md_text
from stages.lib.params import load_params
from stages.lib.provenance import git_show, revision_problem
from tools.experiments import dvc_json
from tools.mermaid_plots import charts
from tools.offline_plots import dvc_specs, render_svgs

VALIDATION_REPORTS = ["reports/validation/raw.json", "reports/validation/features.json"]
PLOT_DIRS = ["reports/plots", "reports/train/plots"]
ARTIFACT = "pipeline-report"  # the CI artifact with the whole report and the rendered plots
GITHUB_LIMIT = 65_536  # characters in one comment
COMMENT_LIMIT = 60_000  # ours: room for what the posting job adds


def git_files(rev: str, folder: str) -> set[str]:
    out = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, folder], capture_output=True, text=True)
    return set(out.stdout.split())


def fmt(value) -> str:
    """A metric or param value for a table cell: floats to 4 places, text made safe for Markdown."""
    if value is None:
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else md_text(value)


class Check(NamedTuple):
    name: str
    status: str  # PASS, FAIL, or "not checked"
    figures: str


def metric_check(metrics: dict, metric: str, max_drop: float) -> Check:
    """The main metric against its base: FAIL when it dropped by more than max_drop or has no value now."""
    row = next((rows[metric] for rows in metrics.values() if metric in rows), None)
    name = f"`{md_text(metric)}`"
    if row is None or row.get("new") is None:
        return Check(name, "FAIL", "no value in the workspace: run `dvc repro` (or `dvc pull`) first")
    if row.get("old") is None:
        return Check(name, "PASS", f"{fmt(row['new'])}, no base value to compare with")
    delta = row["new"] - row["old"]
    return Check(name, "PASS" if delta >= -max_drop else "FAIL",
                 f"{fmt(row['old'])} → {fmt(row['new'])} ({delta:+.4f}); a drop of at most {max_drop} is allowed "
                 "(`report.max_drop`)")


def margin_check(model_metrics: dict | None, baseline_metrics: dict | None, min_margin: float) -> Check:
    """The model's test accuracy minus the best baseline's, against report.min_margin."""
    name = "margin over the best baseline"
    if not model_metrics or not baseline_metrics:
        missing = "reports/metrics.json" if not model_metrics else "reports/baseline/metrics.json"
        return Check(name, "not checked", f"no `{missing}` in the workspace")
    if "skipped" in baseline_metrics:
        return Check(name, "not checked", f"the baselines were skipped: {baseline_metrics['skipped']}")
    model, best = model_metrics["test"]["accuracy"], baseline_metrics["best"]["test_accuracy"]
    margin = model - best
    return Check(name, "PASS" if margin >= min_margin else "FAIL",
                 f"{margin:+.4f} (model {model:.4f}, best baseline {best:.4f}); at least {min_margin:+.4f} is "
                 "required (`report.min_margin`)")


def verdict_lines(checks: list[Check], base: str) -> tuple[list[str], bool]:
    """The report's head: the overall result in a word on the first line, then one line per check."""
    ok = all(c.status != "FAIL" for c in checks)
    failed = sum(c.status == "FAIL" for c in checks)
    summary = ("every check passed" if ok else f"{failed} of {len(checks)} checks failed")
    lines = [f"# {'PASS' if ok else 'FAIL'}: {summary} (workspace against {md_text(base)})", ""]
    lines += [f"- **{c.status}** {c.name}: {c.figures}" for c in checks]
    return lines + [""], ok


def read_json_file(path: str) -> dict | None:
    return json.loads(Path(path).read_text()) if Path(path).exists() else None


# The metrics a reviewer reads, in this order (fnmatch patterns); other metrics are listed only when they changed.
# DVCLive's `step` (the index of the kept epoch) and the review counts `n` are bookkeeping, never listed.
REVIEWER_METRICS = [
    ("reports/metrics.json", ["test.accuracy", "test.roc_auc", "test.f1", "test.log_loss", "ood.accuracy",
                              "ood.roc_auc"]),
    ("reports/baseline/metrics.json", ["best.*", "*.test.accuracy", "*.ood.accuracy"]),
    ("reports/train/metrics.json", ["epochs_run", "eval.accuracy", "eval.loss"]),
]


def bookkeeping(name: str) -> bool:
    return name == "step" or name == "n" or name.endswith(".n")


def reviewer_rows(metrics: dict) -> list[tuple[str, str, dict]]:
    """(file, metric, row) to show: the reviewer's metrics first, then any other metric that changed."""
    shown, seen = [], set()
    for path, patterns in REVIEWER_METRICS:
        rows = metrics.get(path, {})
        for pattern in patterns:
            for name in sorted(n for n in rows if fnmatch.fnmatchcase(n, pattern) and (path, n) not in seen):
                shown.append((path, name, rows[name]))
                seen.add((path, name))
    for path, rows in sorted(metrics.items()):
        for name, row in sorted(rows.items()):
            if (path, name) not in seen and not bookkeeping(name) and row.get("old") != row.get("new"):
                shown.append((path, name, row))
    return shown


# How a metric's file is named in the table (no file column: the model's own metrics need no name)
FILE_LABELS = {"reports/metrics.json": "", "reports/baseline/metrics.json": "baseline ",
               "reports/train/metrics.json": "training "}
FOLDED = {"reports/baseline/metrics.json": "baseline"}  # unchanged rows of these files: one line, not one each


def metrics_section(metrics: dict) -> list[str]:
    lines = ["## Metrics", "", "| metric | base | workspace | change |", "| --- | --- | --- | --- |"]
    shown, folded = reviewer_rows(metrics), {}
    for path, name, row in shown:
        if path in FOLDED and row.get("old") == row.get("new"):
            folded.setdefault(path, []).append(name)
            continue
        diff = row.get("diff")
        change = ("" if diff is None else f"{diff:+.4f}" if isinstance(diff, float)
                  else f"{diff:+d}" if isinstance(diff, int) else md_text(diff))
        label = FILE_LABELS.get(path, f"{path} ")
        lines.append(f"| {md_text(label + name)} | {fmt(row.get('old'))} | {fmt(row.get('new'))} | {change} |")
    for path, names in folded.items():
        lines.append(f"| {FOLDED[path]}: {len(names)} metrics | unchanged | unchanged | |")
    return lines + ([""] if shown else ["| no metric | | | |", ""])


def params_section(params: dict) -> list[str]:
    rows = [(name, row) for by_file in params.values() for name, row in sorted(by_file.items())]
    if not rows:  # one entry per params file in `dvc params diff`; ours is params.yaml
        return ["## Params", "", "No param changed.", ""]
    lines = ["## Params", "", "| param | base | workspace |", "| --- | --- | --- |"]
    lines += [f"| {md_text(name)} | {fmt(row.get('old'))} | {fmt(row.get('new'))} |" for name, row in rows]
    return lines + [""]


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
                    lines.append("  - " + md_text(f"{key[0]}: {key[1]} on {key[2]}: {before.get(key)} → "
                                                  f"{after.get(key)}"))
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
    lines += [f"- {md_text(p)}" for p in changed]
    lines += ["", f"Base ({md_text(base)}) and workspace together, a chart per quantity (GitHub draws them here):", ""]

    def read(rev: str, path: str) -> bytes | None:
        if rev == "base":
            return git_show(base, path)
        return Path(path).read_bytes() if Path(path).exists() else None

    for block in charts(read):
        lines += [block, ""]
    lines += [f"Interactive, base and workspace in one chart each: `dvc plots diff` wrote {md_text(out_dir)}/index.html"
              " "
              f"(works offline), and SVG pictures of the same charts are in {md_text(out_dir)}/svg/; both are in the "
              f"`{ARTIFACT}` artifact of the CI run.", ""]
    return lines


def embedding_map_section(base: str, path: str = "reports/embedding_map.svg", url: str = "") -> list[str]:
    """The picture of the learned space: shown when `url` (`PR_REPORT_MAP_URL`, set by the workflow to the
    branch's committed picture) can be linked, else named: GitHub shows no picture from an artifact."""
    if not Path(path).exists():
        return []
    changed = git_show(base, path) != Path(path).read_bytes()
    lines = ["## Embedding map", "",
             f"The t-SNE map of the learned space, GloVe beside trained ({'changed' if changed else 'unchanged'} "
             f"against {md_text(base)}): `{path}` in the `{ARTIFACT}` artifact of the CI run.", ""]
    if url.startswith(("https://", "file://")) and not any(c in url for c in "()<> \n\"'"):
        lines += [f"![The embedding map: words before and after training, coloured by sentiment]({url})", ""]
    return lines


def build_report(base: str, params: dict, plots_dir: Path) -> tuple[str, bool]:
    """The Markdown report and whether its verdict passed."""
    metrics = dvc_json("metrics", "diff", base, "--all")  # --all: unchanged metrics too, the verdict needs them
    changed_params = dvc_json("params", "diff", base)
    cfg = params["report"]
    checks = [metric_check(metrics, cfg["metric"], cfg["max_drop"]),
              margin_check(read_json_file("reports/metrics.json"), read_json_file("reports/baseline/metrics.json"),
                           cfg["min_margin"])]
    lines, ok = verdict_lines(checks, base)
    lines += metrics_section(metrics) + params_section(changed_params) + validation_section(base)
    lines += plots_section(base, plots_dir)
    lines += embedding_map_section(base, url=os.environ.get("PR_REPORT_MAP_URL", ""))
    return "\n".join(lines), ok


def fit_comment(report: str, limit: int = COMMENT_LIMIT) -> str:
    """The report cut to `limit` characters at a line outside any code fence, with a note that names the
    artifact holding the whole report (GitHub refuses a comment over 65,536 characters)."""
    if len(report) <= limit:
        return report
    note = (f"\n\n**The comment is cut here** (GitHub takes {GITHUB_LIMIT:,} characters at most): the whole report is "
            f"`reports/pr_report.md` in the `{ARTIFACT}` artifact of this workflow run.")
    kept, size, fenced, safe = [], 0, False, 0
    for line in report.split("\n"):
        size += len(line) + 1
        if size > limit - len(note):
            break
        kept.append(line)
        fenced ^= line.startswith("```")
        safe = safe if fenced else len(kept)
    return "\n".join(kept[:safe]).rstrip() + note


def main() -> int:
    """Write the report and the comment; exit 1 when the verdict failed, so a CI job that posts it can then fail."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--out", type=Path, default=Path("reports/pr_report.md"), help="the whole report")
    parser.add_argument("--comment", type=Path, default=Path("reports/pr_comment.md"),
                        help=f"the report cut to {COMMENT_LIMIT:,} characters, for the pull-request comment")
    parser.add_argument("--plots-dir", type=Path, default=Path("reports/pr_plots"))
    args = parser.parse_args()
    problem = revision_problem(args.base)
    if problem:
        print(f"pr_report: {problem}", file=sys.stderr)
        return 2
    report, ok = build_report(args.base, load_params(), args.plots_dir)
    for path, text in ((args.out, report), (args.comment, fit_comment(report))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    print(report)
    if not ok:
        print(f"pr_report: FAIL (see the first lines of {args.out}); exit status 1", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
