"""Time every stage of dvc.yaml: `dvc repro -f -s <stage>` in pipeline order, DVC's own bookkeeping included.

    python -m tools.stage_times      # writes reports/stage_times.json and prints a Markdown table

Running each stage once, in order, is a full `dvc repro -f`; the sum is reported as its total.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPORT = Path("reports/stage_times.json")


def main() -> int:
    stages = list(yaml.safe_load(Path("dvc.yaml").read_text())["stages"])
    seconds = {}
    for stage in stages:
        start = time.perf_counter()
        done = subprocess.run(["dvc", "repro", "-f", "-s", stage], capture_output=True, text=True)
        seconds[stage] = round(time.perf_counter() - start, 1)
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
            print(f"stage_times: {stage} failed; nothing written", file=sys.stderr)
            return 1
        print(f"{stage}: {seconds[stage]} s", flush=True)
    report = {"seconds": seconds, "total": round(sum(seconds.values()), 1), "cores": os.cpu_count(),
              "machine": platform.machine(), "command": "python -m tools.stage_times"}
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print("\n| stage | seconds |\n| --- | --- |")
    print("\n".join(f"| {s} | {v} |" for s, v in seconds.items()) + f"\n| all | {report['total']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
