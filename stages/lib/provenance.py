"""Where a model file in the workspace came from, as dvc.lock and git know it.

After `dvc exp run`, the workspace holds that experiment's model: `predict` says so, with the params that
differ from HEAD, so nobody scores with an experiment's model believing it is the committed one.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import yaml

LOCK = "dvc.lock"


def git_show(rev: str, path: str) -> bytes | None:
    """The bytes of `path` at git revision `rev`, or None (no git, no such revision or file)."""
    try:
        out = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_lines(*args: str) -> list[str]:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return out.stdout.split() if out.returncode == 0 else []


def revision_problem(rev: str) -> str | None:
    """Why git revision `rev` cannot be compared with (no git repository, no commit at all, no such revision),
    or None when it can: a comparison that finds nothing must say the real cause, not "run dvc repro"."""
    def ok(*args: str) -> bool:
        try:
            return subprocess.run(["git", *args], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    if not ok("rev-parse", "--git-dir"):
        return "this folder is not a git repository, so there is no revision to compare with (git init, then commit)"
    if not ok("rev-parse", "--verify", "--quiet", "HEAD^{commit}"):
        return ("the repository has no commit yet, so there is no revision to compare with: commit the project "
                "first (git add -A && git commit -m 'first run')")
    if not ok("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"):
        return f"there is no git revision {rev!r} here (`git branch -a` lists the branches); name another one"
    return None


def flatten(tree, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}"""
    if not isinstance(tree, dict):
        return {prefix.rstrip("."): tree}
    flat = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}{key}."))
    return flat


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    """The hash DVC 3 records for a file: MD5 of its bytes."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def recorded_md5(lock_text: bytes | str | None, path: str) -> str | None:
    """The MD5 a dvc.lock text records for the output `path`, or None."""
    try:
        lock = yaml.safe_load(lock_text) if lock_text else None
    except yaml.YAMLError:
        return None
    for stage in (lock or {}).get("stages", {}).values():
        for out in stage.get("outs", []) or []:
            if out.get("path") == path:
                return out.get("md5")
    return None


def params_change(rev: str, params_text: bytes | str | None) -> str:
    """' with maxlen=20 (800 at HEAD abc1234)': the params of `params_text` that differ from those at `rev`."""
    try:
        base = flatten(yaml.safe_load(git_show(rev, "params.yaml") or b"") or {})
        ours = flatten(yaml.safe_load(params_text or b"") or {})
    except yaml.YAMLError:
        return ""
    changed = [key for key in sorted(set(base) | set(ours)) if base.get(key) != ours.get(key)]
    return (" with " + ", ".join(f"{key}={ours.get(key)} ({base.get(key)} at {rev})" for key in changed[:5])
            + (f" and {len(changed) - 5} more changed params" if len(changed) > 5 else "")) if changed else ""


def model_origin(path: Path) -> str:
    """One phrase: which run the model file at `path` comes from (empty outside a DVC project)."""
    lock = Path(LOCK)
    if not lock.is_file():
        return ""
    name = os.path.relpath(path.resolve(), Path.cwd().resolve())
    recorded = recorded_md5(lock.read_bytes(), name)
    if recorded is None:
        return "not an output dvc.lock records"
    if md5_file(path) != recorded:
        return "not the version dvc.lock records (changed since the last run; `dvc status` lists it)"
    head = git_lines("rev-parse", "--short", "HEAD")
    if not head:
        return "the version dvc.lock records (not a git repository, so no commit to name)"
    if recorded_md5(git_show("HEAD", LOCK), name) == recorded:
        return f"the version committed at {head[0]}"
    full = git_lines("rev-parse", "HEAD")[0]
    refs = git_lines("for-each-ref", "--format=%(refname)", "refs/exps")
    # Experiments based on HEAD first (DVC keeps them under refs/exps/<sha[:2]>/<sha[2:]>/<name>).
    for ref in sorted(refs, key=lambda ref: f"/{full[:2]}/{full[2:]}/" not in ref):
        if "/exec/" not in ref and recorded_md5(git_show(ref, LOCK), name) == recorded:
            return f"experiment {ref.rsplit('/', 1)[-1]}" + params_change(head[0], git_show(ref, "params.yaml"))
    params = Path("params.yaml").read_bytes() if Path("params.yaml").is_file() else None
    return "a run not committed yet" + params_change(head[0], params)
