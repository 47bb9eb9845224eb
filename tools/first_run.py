"""A newcomer's first `make repro`, timed: a fresh clone of HEAD, the install included, on a pseudo-terminal.

    python -m tools.first_run [--pip-cache off|warm]

Clones the committed HEAD into a temporary folder, runs `make repro` there as a person at a terminal would, and
writes reports/first_run.json: the whole time, the install's share (until pip's last line), the pipeline's, and
the longest silence of the output with the line before it. With `--pip-cache off` (the default) pip downloads
every wheel, as on a new machine; `warm` uses pip's own cache. The README's first screen is generated from it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.silences import silences, timed_output

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "reports/first_run.json"
INSTALLED = re.compile(rb"pip: requirements-test\.txt installed \((\d+) pinned")
CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run(pip_cache: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="first-run-") as scratch:
        clone = Path(scratch) / "imdb-embeddings"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(REPO)))
        if pip_cache == "off":
            env["PIP_NO_CACHE_DIR"] = "1"
        start = time.monotonic()
        code, chunks = timed_output(["make", "repro"], cwd=clone, env=env, timeout=3600)
        total = time.monotonic() - start
        if code != 0:
            text = CONTROL.sub("", b"".join(data for _, data in chunks).decode("utf-8", "replace"))
            sys.exit(f"first_run: `make repro` in a fresh clone failed (exit {code}):\n{text[-3000:]}")
    installed = next((at for at, data in chunks if INSTALLED.search(data)), None)
    if installed is None:
        sys.exit("first_run: pip's last line (`pip: requirements-test.txt installed ...`) never came")
    gap, at, line = max(silences(chunks, total))
    return {"command": "make repro", "from": "a fresh clone of HEAD", "pip_cache": pip_cache, "cores": os.cpu_count(),
            "seconds": round(total, 1), "install_seconds": round(installed, 1),
            "pipeline_seconds": round(total - installed, 1), "longest_silence_seconds": round(gap, 1),
            "longest_silence_after": CONTROL.sub("", line).strip()[-120:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip-cache", choices=("off", "warm"), default="off")
    args = parser.parse_args(argv)
    report = run(args.pip_cache)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"first_run: {report['seconds']:.0f} s ({report['install_seconds']:.0f} s install, "
          f"{report['pipeline_seconds']:.0f} s pipeline); longest silence {report['longest_silence_seconds']} s "
          f"after {report['longest_silence_after']!r}; written to {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
