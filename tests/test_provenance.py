"""Which run a model file comes from (stages/lib/provenance.py), on a scratch git repository."""
import hashlib
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from stages.lib.provenance import model_origin

MODEL = Path("models/m.keras")
ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@t"}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True, env=ENV).stdout.strip()


def workspace(model: bytes, maxlen: int, lock: bytes | None = None) -> None:
    """The model file, params.yaml and a dvc.lock recording the model's MD5 (or `lock`'s bytes' MD5)."""
    MODEL.write_bytes(model)
    Path("params.yaml").write_text(yaml.safe_dump({"maxlen": maxlen, "train": {"epochs": 3}}))
    md5 = hashlib.md5(model if lock is None else lock).hexdigest()
    Path("dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"export": {
        "cmd": "python -m stages export", "outs": [{"path": str(MODEL), "md5": md5, "size": len(model)}]}}}))


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    git("init", "-q", "-b", "main")
    workspace(b"committed model", 800)
    git("add", "-A")
    git("commit", "-qm", "baseline")
    return git("rev-parse", "HEAD")


def test_the_committed_model_names_its_commit(project):
    assert model_origin(MODEL) == f"the version committed at {project[:7]}"


def test_an_experiment_s_model_names_the_experiment_and_its_params(project):
    workspace(b"experiment model", 20)
    git("add", "-A")
    git("commit", "-qm", "exp")
    exp = git("rev-parse", "HEAD")
    git("update-ref", f"refs/exps/{project[:2]}/{project[2:]}/tidy-lark", exp)  # where `dvc exp run` keeps it
    git("reset", "-q", "--soft", project)  # the workspace keeps the experiment's files, as after `dvc exp run`
    assert model_origin(MODEL) == f"experiment tidy-lark with maxlen=20 (800 at {project[:7]})"


def test_an_uncommitted_run_and_a_changed_file_are_told_apart(project):
    workspace(b"new run", 400)
    assert model_origin(MODEL) == f"a run not committed yet with maxlen=400 (800 at {project[:7]})"
    workspace(b"edited by hand", 800, lock=b"what dvc recorded")
    assert model_origin(MODEL).startswith("not the version dvc.lock records")


def test_outside_a_dvc_project_nothing_is_claimed(project):
    Path("dvc.lock").unlink()
    assert model_origin(MODEL) == ""
