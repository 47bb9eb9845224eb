"""Temporaries live where git ignores them, nothing reads them, and the next run cleans those of a killed run."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from stages.lib.files import atomic_dir, atomic_path
from tests.conftest import REPO, run_stage


def git(root, *args):
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def test_a_stage_killed_with_sigkill_leaves_nothing_git_sees_and_the_next_run_cleans_up(tiny, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(tiny[0], root)
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    git(root, "init", "-q")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)  # else DVCLive would
    git(root, "add", "-A")
    assert git(root, "status", "--porcelain") != ""  # reports, params and data/external are visible to git
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    model_before = (root / "models/model.keras").read_bytes()

    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "stages", "train"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(root.glob("reports/.train.*.tmp")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    leftovers = list(root.rglob(".*.tmp"))
    assert leftovers, "train finished before it could be killed"
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""  # git ignores the leftovers
    assert (root / "models/model.keras").read_bytes() == model_before  # the old outputs are still whole
    assert (root / "reports/train/metrics.json").exists()

    result = run_stage("train", root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(root.rglob(".*.tmp")) == []
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""  # same bytes as before the kill


def test_stale_temporaries_of_a_target_are_removed_by_the_next_write(tmp_path):
    stale_dir = tmp_path / ".out.abc123.tmp"
    stale_dir.mkdir()
    (stale_dir / "half.npy").write_bytes(b"x")
    stale_file = tmp_path / ".file.json.xyz.tmp"
    stale_file.write_text("{")
    other = tmp_path / ".other.json.q.tmp"  # another target's temporary (maybe a live writer): left alone
    other.write_text("")
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "done.txt").write_text("ok")
    with atomic_path(tmp_path / "file.json") as tmp:
        tmp.write_text("{}")
    assert not stale_dir.exists() and not stale_file.exists() and other.exists()
    assert (tmp_path / "out/done.txt").read_text() == "ok" and (tmp_path / "file.json").read_text() == "{}"


def test_a_failed_write_leaves_the_old_output_and_no_temporary(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out/old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("killed halfway")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.txt"]
    assert list(tmp_path.glob(".*.tmp")) == []
