"""The pull-request workflow: valid YAML, valid against GitHub's workflow schema, clean under zizmor."""
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

WORKFLOW = REPO / ".github/workflows/pull-request.yml"
BIN = Path(sys.executable).parent


def test_workflow_runs_the_report_on_pull_requests():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = workflow["jobs"]["report"]["steps"]
    commands = "\n".join(step.get("run", "") for step in steps)
    for needle in ("make setup", "dvc pull", "make repro", "make report", "gh pr comment"):
        assert needle in commands
    assert workflow["permissions"]["pull-requests"] == "write"
    # the comment is posted whatever the verdict, and only then does a failing verdict fail the job
    names = [step.get("name", "") for step in steps]
    report = next(i for i, step in enumerate(steps) if "make report" in step.get("run", ""))
    post = next(i for i, step in enumerate(steps) if "gh pr comment" in step.get("run", ""))
    fail = names.index("Fail the check when the verdict failed")
    assert report < post < fail
    assert "|| status=$?" in steps[report]["run"] and "exit 1" in steps[fail]["run"]
    assert steps[report]["id"] in steps[fail]["env"]["STATUS"]


def test_workflow_schema():
    out = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_workflow_static_analysis():
    zizmor = BIN / "zizmor" if (BIN / "zizmor").exists() else shutil.which("zizmor")
    out = subprocess.run([str(zizmor), "--offline", str(WORKFLOW)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
