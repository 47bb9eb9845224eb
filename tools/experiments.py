"""Rows of `dvc exp show --json`: one per commit or experiment, with its params and metrics flattened.

Shared by `tools.compare` (one line per experiment) and `tools.seeds` (mean ± sd over seeds).
"""
from __future__ import annotations

import json
import subprocess
import sys

from stages.lib.provenance import flatten

PARAMS_FILE = "params.yaml"


def rows(show_json: list) -> list[dict]:
    """[{"name", "rev", "params": {dotted: value}, "metrics": {file: {dotted: value}}}] in the order DVC lists them.

    Queued or failed experiments, which have no results, are left out.
    """
    found = []

    def visit(node):
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        executor = node.get("executor") or {}
        if executor.get("state") not in (None, "success"):  # running, queued or failed: no results of its own
            return
        data = node.get("data")
        if isinstance(data, dict) and data.get("status", "Success") == "Success" and data.get("metrics"):
            params = ((data.get("params") or {}).get(PARAMS_FILE) or {}).get("data") or {}
            rev = str(node.get("rev") or data.get("rev") or "")
            found.append({"name": node.get("name") or (rev if rev == "workspace" else rev[:7]),
                          "rev": rev[:7] if rev != "workspace" else "",
                          "params": flatten(params),
                          "metrics": {f: flatten((m or {}).get("data") or {}) for f, m in data["metrics"].items()}})
        for key in ("experiments", "revs"):
            if key in node:
                visit(node[key])

    visit(show_json)
    return found


def dvc_json(*args: str):
    """The JSON output of `dvc <args> --json`; a failing dvc command is a message and exit status 1."""
    out = subprocess.run([sys.executable, "-m", "dvc", *args, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"error: dvc {' '.join(args)} failed:\n{out.stderr.strip()}")
    return json.loads(out.stdout or "{}")


def dvc_rows(*extra: str) -> list[dict]:
    return rows(dvc_json("exp", "show", "--hide-queued", *extra))


def newest_by_name(rows: list[dict]) -> dict[str, dict]:
    """{name: row}: DVC lists the newest commit first, so a name run again on a later commit is that run's."""
    found: dict[str, dict] = {}
    for row in rows:
        found.setdefault(row["name"], row)
    return found


def metric(row: dict, file: str, key: str):
    return row["metrics"].get(file, {}).get(key)


def margin(row: dict):
    """Test accuracy of the model minus that of the best baseline, or None."""
    model = metric(row, "reports/metrics.json", "test.accuracy")
    best = metric(row, "reports/baseline/metrics.json", "best.test_accuracy")
    return None if model is None or best is None else model - best


def queue_and_run(named: dict[str, list[str]], targets: tuple[str, ...] = ()) -> None:
    """Queue one DVC experiment per name with its `-S key=value` settings, then run them one at a time;
    `targets`: only these stages and what they depend on (default: the whole pipeline)."""
    for name, sets in named.items():
        options = [a for s in sets for a in ("-S", s)]
        subprocess.run([sys.executable, "-m", "dvc", "exp", "run", "--queue", "-n", name, *options, *targets],
                       check=True)
    subprocess.run([sys.executable, "-m", "dvc", "exp", "run", "--run-all", "-j", "1"], check=True)
