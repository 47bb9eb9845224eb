"""Time a forced `dvc repro -f` as a person runs it, and each of its stages, DVC's own bookkeeping included.

    python -m tools.stage_times      # writes reports/stage_times.json and prints a Markdown table

The total is the wall time of the one command. A stage's time runs from DVC's "Running stage" line for it to the
next one (the last stage's, to the command's end), so it includes hashing and caching its outputs. Then it times
what a person tuning params waits for, `dvc exp run -S maxlen=20`, in a git worktree of HEAD brought up to date
from the DVC cache (so this workspace keeps its params and outputs); the experiment is removed afterwards.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPORT = Path("reports/stage_times.json")
EXPERIMENT = ["maxlen=20"]
# The project's speed targets on 2 cores, in seconds; the report gives each measured figure as a ratio to its
# target (above 1: not met). Training against fastText is `make bench-peers`' ratio, measured in its own run.
TARGETS = {"total": 60.0, "experiment": 20.0, "baseline": 15.0}


NAME = "stage-times-experiment"
RUNNING = re.compile(r"^Running stage '([^']+)'")


def timed_stages(*command: str) -> tuple[float, dict[str, float]]:
    """(seconds of `command`, seconds per stage from DVC's "Running stage" lines as they appear); a failing
    command ends the tool with its output's tail, writing nothing."""
    start = time.perf_counter()
    starts, output = {}, []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
        for line in run.stdout:
            output.append(line)
            if match := RUNNING.match(line):
                starts[match[1]] = time.perf_counter()
    end = time.perf_counter()
    if run.returncode != 0:
        raise SystemExit(f"{''.join(output)[-4000:]}\nstage_times: {' '.join(command)} failed; nothing written")
    ends = [*list(starts.values())[1:], end]
    return round(end - start, 1), {name: round(e - s, 1) for (name, s), e in zip(starts.items(), ends)}


def timed(*command: str, cwd: str | None = None) -> float:
    """Seconds `command` took; a failing command ends the tool with its output's tail, writing nothing."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"{done.stdout[-2000:]}{done.stderr[-2000:]}\n"
                         f"stage_times: {' '.join(command)} failed; nothing written")
    return round(time.perf_counter() - start, 1)


# What a stage pays before its work, timed alone: the two heavy imports (Keras imports TensorFlow: train, evaluate
# and export; Great Expectations: validate_raw and validate_features).
IMPORTS = {"tensorflow": "import keras", "great_expectations": "import great_expectations"}


def import_seconds(statement: str, runs: int = 3) -> float:
    """The median wall seconds of a fresh `python -c <statement>`."""
    return sorted(timed(sys.executable, "-c", statement) for _ in range(runs))[runs // 2]


def time_experiment(sets: list[str]) -> float:
    """Seconds of `dvc exp run -S <sets>` in a worktree of HEAD whose outputs came from the DVC cache."""
    where = tempfile.mkdtemp(prefix="stage-times-")
    cache = subprocess.run(["dvc", "cache", "dir"], capture_output=True, text=True).stdout.strip()
    try:
        timed("git", "worktree", "add", "--detach", "-q", where, "HEAD")
        timed("dvc", "cache", "dir", "--local", cache, cwd=where)
        timed("dvc", "checkout", "-q", cwd=where)
        return timed("dvc", "exp", "run", "-n", NAME, *[a for s in sets for a in ("-S", s)], cwd=where)
    finally:
        subprocess.run(["dvc", "exp", "remove", NAME], capture_output=True)
        subprocess.run(["git", "worktree", "remove", "--force", where], capture_output=True)
        shutil.rmtree(where, ignore_errors=True)


def main() -> int:
    # dvc, and the `python` of dvc.yaml's commands, from this interpreter's environment, activated or not
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    total, seconds = timed_stages("dvc", "repro", "-f")
    missing = set(yaml.safe_load(Path("dvc.yaml").read_text())["stages"]) - set(seconds)
    if missing:
        raise SystemExit(f"stage_times: `dvc repro -f` ran no stage {', '.join(sorted(missing))}; nothing written")
    print("\n".join(f"{stage}: {s} s" for stage, s in seconds.items()), flush=True)
    experiment = time_experiment(EXPERIMENT)
    print(f"dvc exp run -S {' -S '.join(EXPERIMENT)}: {experiment} s", flush=True)
    report = {"seconds": seconds, "total": total, "cores": os.cpu_count(),
              "machine": platform.machine(), "command": "python -m tools.stage_times",
              "experiment": {"set": EXPERIMENT, "seconds": experiment},
              "imports": {name: import_seconds(statement) for name, statement in IMPORTS.items()}}
    measured = {"total": report["total"], "experiment": experiment, "baseline": seconds.get("baseline")}
    report["targets"] = {key: {"seconds": target, "measured": measured[key],
                               "ratio": round(measured[key] / target, 2)} for key, target in TARGETS.items()
                         if measured[key] is not None}
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print("\n| stage | seconds |\n| --- | --- |")
    print("\n".join(f"| {s} | {v} |" for s, v in seconds.items()) + f"\n| all | {report['total']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
