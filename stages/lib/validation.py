"""Run a Great Expectations suite on a DataFrame and turn the result into reports a person can act on.

The result is reduced to what matters and is deterministic (no run ids or timestamps), so the JSON report
only changes when the data or the contract changed: DVC and git diffs stay meaningful.
"""
from __future__ import annotations

import logging
import sys
import warnings
from functools import partial
from pathlib import Path

import pandas as pd

from stages.lib.files import write_json, write_text
from stages.lib.markdown import md_text

EXAMPLES = 5  # offending rows shown per failed expectation


def run_suite(name: str, frame: pd.DataFrame, expectations: list, index_column: str | None,
              show_rows: bool = False) -> dict:
    """Validate `frame` against `expectations` (GX 1.x Expectation objects); return a compact result dict.

    show_rows: a small frame of observed figures (one row per split, say) is kept whole in the result, so
    reports and messages show the observed values, not only which rows failed."""
    out = combine(name, [frame_checks(name, expectations, index_column, frame)])
    if show_rows:
        out["observed_rows"] = frame.to_dict("records")
    return out


def run_suite_tasks(name: str, engine, fn, tasks, expectations: list, index_column: str | None,
                    corpus_wide: dict | None = None) -> dict:
    """One suite over a corpus that `fn` turns into a DataFrame per task, with one result, as if it were one
    frame. Each task's frame is made and validated by `engine` (where the task runs: a Spark executor validates
    its own frame with pandas, so no frame travels and Great Expectations runs no Spark job); the checks come
    back in task order and are combined here, the same way on every engine (`combine`)."""
    per_frame = list(engine.map(partial(task_checks, name, fn, expectations, index_column), tasks))
    return combine(name, per_frame, corpus_wide)


def task_checks(name: str, fn, expectations: list, index_column: str | None, task) -> list[dict]:
    """A task: fn(task)'s DataFrame, validated (a top-level function, so an engine can ship it)."""
    return frame_checks(name, expectations, index_column, fn(task))


def frame_checks(name: str, expectations: list, index_column: str | None, frame: pd.DataFrame) -> list[dict]:
    """GX's results on one pandas DataFrame, summarised, with the frame's row count."""
    warnings.filterwarnings("ignore", module="great_expectations")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx  # Great Expectations takes seconds to import
    from great_expectations.data_context.types.base import ProgressBarsConfig  # Great Expectations takes seconds to import

    key = (name, repr(expectations))
    if key not in _SUITES:  # one context per suite and process: a context per frame would grow memory
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        definition = context.data_sources.add_pandas(name).add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        _SUITES.clear()
        _SUITES[key] = definition, context.suites.add(gx.ExpectationSuite(name=name, expectations=[e.copy() for e in expectations]))
    definition, suite = _SUITES[key]
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES}
    if index_column:
        result_format["unexpected_index_column_names"] = [index_column]
    result = definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite, result_format=result_format)
    checks = [{**_summarise(r.to_json_dict(), index_column), "_rows": len(frame)} for r in result.results]
    return sorted(checks, key=_check_key)


_SUITES: dict = {}  # the suite being validated in this process, frame after frame: {key: (batch definition, suite)}


def combine(name: str, per_frame: list[list[dict]], corpus_wide: dict | None = None) -> dict:
    """One result from the checks of consecutive frames: counts of unexpected rows summed, row counts, sums and
    means combined and checked again, examples taken from the first failing frames. Rules that span frames (an
    id used twice) come from a streaming pass: `corpus_wide` maps a column to (unexpected rows, examples) for
    its uniqueness check. A single frame gives GX's own result unchanged."""
    rows = sum(checks[0]["_rows"] for checks in per_frame if checks)
    checks = [_merge(parts) for parts in zip(*per_frame)] if len(per_frame) > 1 else per_frame[0]
    if len(per_frame) > 1:
        for column, (unexpected, examples) in (corpus_wide or {}).items():
            _set_corpus_wide(checks, column, unexpected, examples, rows)
    for c in checks:
        c.pop("_counted", None)
        c.pop("_rows", None)
    return {"suite": name, "success": all(c["success"] for c in checks), "rows": rows,
            "failed": sum(not c["success"] for c in checks), "checks": checks}


def _check_key(c: dict):
    return c["expectation"], c.get("column") or ""


def _merge(parts: list[dict]) -> dict:
    """One check from the same check on consecutive frames."""
    out = dict(parts[0])
    out["success"] = all(p["success"] for p in parts)
    out["_rows"] = sum(p["_rows"] for p in parts)
    if "_counted" in out:
        out["_counted"] = sum(p["_counted"] for p in parts)
    examples = [x for p in parts for x in p.get("examples", [])][:EXAMPLES]
    if "unexpected_count" in out:
        out["unexpected_count"] = sum(p["unexpected_count"] for p in parts)
        counted = sum(p["_counted"] for p in parts)
        out["unexpected_percent"] = round(out["unexpected_count"] / counted * 100, 4) if counted else 0.0
    if "observed" in out and out["expectation"] in _COMBINE:
        observed, success = _COMBINE[out["expectation"]](parts, out["kwargs"])
        out["observed"], out["success"] = _plain(observed), bool(success)  # NumPy scalars are not JSON
    if out["success"]:
        out.pop("examples", None)
    elif examples:
        out["examples"] = examples
    errors = [p["error"] for p in parts if p.get("error")]
    if errors:
        out["error"] = errors[0]
    return out


def _between(value, kwargs: dict) -> bool:
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _combined_sum(parts, kwargs):
    total = sum(p["observed"] for p in parts)
    return total, _between(total, kwargs)


def _combined_mean(parts, kwargs):
    counted = sum(p.get("_counted", p["_rows"]) for p in parts)
    mean = sum(p["observed"] * p.get("_counted", p["_rows"]) for p in parts) / counted if counted else None
    return mean, mean is not None and _between(mean, kwargs)


def _combined_row_count(parts, kwargs):
    total = sum(p["observed"] for p in parts)
    return total, total == kwargs["value"]


_COMBINE = {"expect_table_row_count_to_equal": _combined_row_count,
            "expect_column_sum_to_be_between": _combined_sum,
            "expect_column_mean_to_be_between": _combined_mean}


def _set_corpus_wide(checks: list[dict], column: str, unexpected: int, examples: list, rows: int) -> None:
    for c in checks:
        if c["expectation"] == "expect_column_values_to_be_unique" and c["column"] == column:
            c["unexpected_count"] = int(unexpected)
            c["unexpected_percent"] = round(unexpected / c["_counted"] * 100, 4) if c.get("_counted") else 0.0
            c["success"] = unexpected == 0
            c.pop("examples", None)
            if unexpected:
                c["examples"] = examples[:EXAMPLES]


def loosen(key: str, now) -> dict:
    """An expectation's `meta` naming the params key that sets its bound: a failure says which key to change when
    the data is right and the bound is not (a small corpus, an unusual balance)."""
    return {"fix": f"if your data is right, change {key} in params.yaml (now {now})"}


def _summarise(r: dict, index_column: str | None) -> dict:
    config, res = r["expectation_config"], r.get("result") or {}
    kwargs = {k: v for k, v in config["kwargs"].items() if k not in ("batch_id", "result_format")}
    check = {"expectation": config["type"], "column": kwargs.pop("column", None), "kwargs": kwargs,
             "success": bool(r["success"])}
    if "observed_value" in res:
        check["observed"] = res["observed_value"]
    if "element_count" in res:  # rows a count or a mean is over: for combining checks of several frames
        check["_counted"] = res["element_count"] - (res.get("missing_count") or 0)
    if "unexpected_count" in res:
        check["unexpected_count"] = res["unexpected_count"]
        check["unexpected_percent"] = round(res.get("unexpected_percent") or 0.0, 4)
    rows = res.get("partial_unexpected_index_list") or []
    values = res.get("partial_unexpected_list") or []
    if not r["success"] and (rows or values):  # a failed mean or row count has no rows to show
        check["examples"] = [_shorten(_index_last(x, index_column)) for x in (rows or values)[:EXAMPLES]]
    if r.get("exception_info", {}).get("raised_exception"):
        check["error"] = r["exception_info"]["exception_message"]
    if not r["success"] and (config.get("meta") or {}).get("fix"):
        check["fix"] = config["meta"]["fix"]
    return check


def _index_last(example, index_column: str | None):
    """{'label': 7, 'id': 'r5'}: the value, then the row's id (GX on pandas gives this order, on Spark the other)."""
    if isinstance(example, dict) and index_column in example:
        return {**{k: v for k, v in example.items() if k != index_column}, index_column: example[index_column]}
    return example


def _shorten(value, limit: int = 80):
    if isinstance(value, dict):
        return {k: _shorten(v, limit) for k, v in value.items()}
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    return _plain(value)


def render_markdown(results: list[dict], title: str) -> str:
    ok = all(r["success"] for r in results)
    lines = [f"# {md_text(title)}", "", f"**{'PASSED' if ok else 'FAILED'}**", ""]
    if not ok:  # what failed, before any table
        lines += ["Failed checks:", "", *(line[2:] for line in failure_summary(results, md_text).splitlines()), ""]
    for r in sorted(results, key=lambda r: r["success"]):  # failures first
        lines += [f"## Suite `{r['suite']}`: {r['rows']} rows, {r['failed']} failed of {len(r['checks'])}", "",
                  *_observed_table(r.get("observed_rows")),
                  "| | expectation | column | expected | observed / unexpected | examples |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for c in sorted(r["checks"], key=lambda c: c["success"]):
            observed = c.get("observed", "")
            if "unexpected_count" in c:
                observed = f"{c['unexpected_count']} rows ({c['unexpected_percent']}%)"
            cells = ["ok" if c["success"] else "**FAIL**", _md(c["expectation"]), _md(c["column"]),
                     _md(c["kwargs"]), _md(observed), _md(c.get("examples", ""))]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _observed_table(rows: list[dict] | None) -> list[str]:
    if not rows:
        return []
    head = list(rows[0])
    return (["Observed:", "", "| " + " | ".join(map(_md, head)) + " |", "|" + " --- |" * len(head)]
            + ["| " + " | ".join(_md(row[k]) for k in head) + " |" for row in rows] + [""])


def _plain(value):
    """NumPy scalars as Python numbers, so messages read 0.0125, not np.float64(0.0125)."""
    return value.item() if hasattr(value, "item") else value


def _md(value) -> str:
    return md_text("" if value in ("", None, {}) else value)


def _line(value) -> str:
    return " ".join(str(value).split())  # one line on a terminal


def failure_summary(results: list[dict], text=_line) -> str:
    """One line per failed expectation: what, where, what was seen, which rows. `text` renders each value
    (md_text for the Markdown report)."""
    out = []
    for r in results:
        for c in r["checks"]:
            if c["success"]:
                continue
            what = f"{r['suite']}: {c['expectation']}" + (f" on column '{c['column']}'" if c["column"] else "")
            seen = (f"{c['unexpected_count']} unexpected rows" if "unexpected_count" in c
                    else f"observed {_plain(c.get('observed'))!r}")
            line = f"{what} {c['kwargs'] or ''}: {seen}"
            if c.get("examples"):
                line += f"; e.g. {c['examples'][:3]}"
            if c.get("error"):
                line += f"; error: {c['error']}"
            if c.get("fix"):
                line += f"; {c['fix']}"
            out.append("  - " + text(line))
        if not r["success"] and r.get("observed_rows"):
            out.append("    " + text(f"observed in {r['suite']}: " + "; ".join(
                ", ".join(f"{k} {v}" for k, v in row.items()) for row in r["observed_rows"])))
    return "\n".join(out)


def write_reports(json_path: Path | str, md_path: Path | str, results: list[dict], title: str) -> bool:
    """Write the results (JSON) and the report to read (Markdown); print a summary; return True when every suite
    passed."""
    ok = all(r["success"] for r in results)
    write_json(json_path, {"success": ok, "suites": results})
    write_text(md_path, render_markdown(results, title))
    if ok:
        print(f"{title}: all {sum(len(r['checks']) for r in results)} checks passed -> {md_path}")
    else:
        print(f"{title}: FAILED, see {md_path}\n{failure_summary(results)}", file=sys.stderr)
    return ok
