"""The pull-request workflows: the job that runs the branch's code has no secrets and a read-only token; the job
that comments runs none of the branch's code. Both valid against GitHub's schema and clean under zizmor."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = REPO / ".github/workflows"
REPORT, COMMENT = WORKFLOWS / "pull-request.yml", WORKFLOWS / "pr-comment.yml"
BIN = Path(sys.executable).parent


def steps_of(path: Path, job: str) -> list[dict]:
    return yaml.safe_load(path.read_text())["jobs"][job]["steps"]


def test_report_job_runs_the_branch_with_no_secrets_and_a_read_only_token():
    workflow = yaml.safe_load(REPORT.read_text())
    assert list(workflow[True]) == ["pull_request"]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {"contents": "read"} and "permissions" not in workflow["jobs"]["report"]
    assert "secrets." not in REPORT.read_text()  # not even in a step that seems harmless: the branch can change it
    steps = steps_of(REPORT, "report")
    commands = "\n".join(step.get("run", "") for step in steps)
    for needle in ("make setup", "dvc pull", "make repro", "make test", "make report"):
        assert needle in commands
    assert "gh pr comment" not in commands
    # the report is kept whatever the verdict, and only then does a failing verdict fail the job
    report = next(i for i, step in enumerate(steps) if "make report" in step.get("run", ""))
    upload = next(i for i, step in enumerate(steps) if "upload-artifact" in step.get("uses", ""))
    fail = next(i for i, step in enumerate(steps) if step.get("name") == "Fail the check when the verdict failed")
    assert report < upload < fail
    assert "|| status=$?" in steps[report]["run"] and "exit 1" in steps[fail]["run"]
    assert steps[report]["id"] in steps[fail]["env"]["STATUS"]
    kept = steps[upload]["with"]["path"].split()
    assert {"reports/pr_report.md", "reports/pr_comment.md", "reports/pr_number.txt"} <= set(kept)


def test_comment_job_runs_no_code_of_the_branch():
    workflow = yaml.safe_load(COMMENT.read_text())
    trigger = workflow[True]["workflow_run"]
    assert trigger["workflows"] == [yaml.safe_load(REPORT.read_text())["name"]] and trigger["types"] == ["completed"]
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["comment"]
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    uses = [step.get("uses", "") for step in job["steps"]]
    assert not any("checkout" in u or "setup-python" in u for u in uses)
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    for never in ("make ", "python", "pip ", "dvc ", "bash ", "source ", "./"):
        assert never not in commands, never
    download = next(step for step in job["steps"] if "download-artifact" in step.get("uses", ""))
    upload = next(step for step in steps_of(REPORT, "report") if "upload-artifact" in step.get("uses", ""))
    assert download["with"]["name"] == upload["with"]["name"]


def post_step() -> dict:
    return next(s for s in steps_of(COMMENT, "comment") if "gh pr comment" in s.get("run", ""))


@pytest.mark.parametrize("number, head, posted", [("42\n", "abc123", True), ("42", "old456", False),
                                                  ("42; touch pwned", "abc123", None), ("", "abc123", None)])
def test_comment_step_posts_only_on_the_pull_request_that_ran(tmp_path, number, head, posted):
    """The posting script itself, with a stand-in `gh` that records its calls and knows PR 42 at `head`."""
    bindir, report = tmp_path / "bin", tmp_path / "pipeline-report"
    bindir.mkdir()
    report.mkdir()
    (report / "pr_number.txt").write_text(number)
    (report / "pr_comment.md").write_text("# PASS: every check passed\n")
    log = tmp_path / "gh.log"
    gh = bindir / "gh"
    gh.write_text(f'#!/usr/bin/env bash\necho "$@" >> {log}\n'
                  f'if [ "$1" = api ]; then [ "$2" = "repos/o/r/pulls/42" ] && echo {head} || exit 1; fi\n')
    gh.chmod(0o755)
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "GH_TOKEN": "t", "GH_REPO": "o/r",
           "HEAD_SHA": "abc123"}
    out = subprocess.run(["bash", "-e", "-c", post_step()["run"]], cwd=tmp_path, env=env, capture_output=True,
                         text=True)
    calls = log.read_text() if log.exists() else ""
    assert "touch" not in calls and not (tmp_path / "pwned").exists()
    if posted is None:  # not a number: refused before anything is asked of GitHub
        assert out.returncode == 1 and calls == "" and "does not hold a pull request number" in out.stdout
    else:
        assert out.returncode == 0, out.stdout + out.stderr
        assert ("pr comment 42 --body-file pipeline-report/pr_comment.md" in calls) == posted, calls


@pytest.mark.parametrize("workflow", [REPORT, COMMENT], ids=lambda p: p.name)
def test_workflow_schema(workflow):
    out = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_workflow_static_analysis():
    zizmor = BIN / "zizmor" if (BIN / "zizmor").exists() else shutil.which("zizmor")
    out = subprocess.run([str(zizmor), "--offline", str(WORKFLOWS)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
