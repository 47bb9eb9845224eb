"""The real dvc CLI on a scratch git repository holding a copy of the project and a tiny dataset.

Checks what users rely on: `dvc exp run -S key=value` re-runs exactly the stages that read `key` (and what
follows from changed data), metrics diffs, a queued sweep, the pull-request report, and a push/pull round
trip through a local remote into a fresh clone that then needs no recomputation.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.fixtures import built_once, tiny_project

ALL = {"check_params", "download", "validate_raw", "baseline", "tokenize", "pad", "embed", "validate_features", "train",
       "evaluate", "export"}
AFTER_PAD = {"pad", "validate_features", "train", "evaluate", "export"}
CHECK = {"check_params"}  # runs whenever params.yaml changed; its output keeps its bytes, so it re-runs nothing
PROJECT_FILES = ["stages", "tools", "dvc.yaml", ".dvcignore", ".gitignore"]


def sh(repo: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "TF_CPP_MIN_LOG_LEVEL": "2", "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env.pop("PYTHONPATH", None)  # the copy's own stages/ must be the code that runs
    out = subprocess.run(list(cmd), cwd=repo, env=env, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, sys.executable, "-m", "dvc", *args, check=check)


def exp_rows(repo: Path, key: str = "maxlen") -> list[tuple[str, object, float]]:
    """(name, the param `key`, test accuracy) of every row of `dvc exp show`: workspace, commits, experiments."""
    rows = []

    def add(name, data):
        params = (data or {}).get("params", {}).get("params.yaml", {}).get("data", {})
        metrics = (data or {}).get("metrics", {}).get("reports/metrics.json", {}).get("data", {})
        if params and metrics:
            value = params
            for part in key.split("."):
                value = value[part]
            rows.append((name, value, metrics["test"]["accuracy"]))

    for entry in json.loads(dvc(repo, "exp", "show", "--json").stdout):
        add(entry.get("name") or entry["rev"], entry.get("data"))
        for experiment in entry.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                add(rev.get("name") or rev["rev"], rev.get("data"))
    return rows


def stages_run(output: str) -> set[str]:
    """Stages that ran, or whose outputs DVC restored from its run-cache (same inputs seen before)."""
    return set(re.findall(r"Running stage '([\w-]+)'", output)) | set(
        re.findall(r"Stage '([\w-]+)' is cached - skipping run", output))


def stages_skipped(output: str) -> set[str]:
    return set(re.findall(r"Stage '([\w-]+)' didn't change, skipping", output))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A committed scratch project after a full `dvc repro`, with a local remote: built once per session and
    copied for each pytest-xdist worker. The copies share the remote (DVC writes its objects by content, whole)."""
    return built_once(tmp_path_factory, "project", build_project) / "project"


def build_project(folder: Path) -> None:
    root, storage = folder / "project", folder / "storage"
    root.mkdir()
    storage.mkdir()
    for name in PROJECT_FILES:
        src = REPO / name
        (shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__")) if src.is_dir()
         else shutil.copy(src, root / name))
    params = tiny_project(root, yaml.safe_load((REPO / "params.yaml").read_text()))
    params["train"]["epochs"] = 2
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(root, "git", "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.autostage", "true")
    # the project's plot templates, and the offline plot page that `make setup` generates
    shutil.copytree(REPO / ".dvc/plots", root / ".dvc/plots")
    dvc(root, "config", "plots.html_template", "plots/offline.html")
    dvc(root, "remote", "add", "-d", "storage", str(storage))
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "project")  # DVCLive needs a commit to exist
    out = dvc(root, "repro")
    assert stages_run(out.stdout) == ALL
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "baseline")


def reset(repo: Path) -> None:
    """Back to the committed baseline, workspace outputs included."""
    sh(repo, "git", "checkout", "-q", "-f", "main")
    sh(repo, "git", "reset", "-q", "--hard", "main")
    dvc(repo, "checkout", "-f", "-q")


def test_second_repro_is_up_to_date(repo):
    reset(repo)  # tests may run in any order on a worker (pytest -n 2)
    out = dvc(repo, "repro")
    assert stages_run(out.stdout) == set() and stages_skipped(out.stdout) == ALL


def test_exp_run_maxlen_reruns_pad_and_after_only(repo):
    reset(repo)
    out = dvc(repo, "exp", "run", "-S", "maxlen=20")
    assert stages_run(out.stdout) == AFTER_PAD | CHECK
    assert stages_skipped(out.stdout) == ALL - AFTER_PAD - CHECK

    rows = exp_rows(repo)
    assert {(name, maxlen) for name, maxlen, _ in rows} >= {("main", 40), ("workspace", 20)}
    experiments = [(maxlen, acc) for name, maxlen, acc in rows if name not in ("main", "workspace")]
    assert [m for m, _ in experiments] == [20] and 0 <= experiments[0][1] <= 1

    diff = dvc(repo, "metrics", "diff", "--md", "--all").stdout  # workspace (the experiment) vs the baseline commit
    assert "| Path" in diff and "reports/metrics.json" in diff and "test.accuracy" in diff
    params_diff = dvc(repo, "params", "diff", "--md").stdout
    assert "maxlen" in params_diff and "40" in params_diff and "20" in params_diff

    # predict scores with the workspace's model, the experiment's, and says so, with the params that differ
    head = sh(repo, "git", "rev-parse", "--short", "HEAD").stdout.strip()
    names = [name for name, _, _ in rows if name not in ("main", "workspace")]
    scored = sh(repo, sys.executable, "-m", "stages.predict", "a great film")
    assert (f"predict: scoring with models/raw_text_model.keras, experiment {names[0]} with maxlen=20 (40 at {head})"
            in scored.stderr.splitlines()), scored.stderr

    # `make exp-show`: the experiment table in 120 columns, the model's test accuracy among the first
    shown = sh(repo, "make", "-s", "-f", str(REPO / "Makefile"), "exp-show").stdout.splitlines()
    header = next(line for line in shown if "Experiment" in line).split()
    assert max(map(len, shown)) <= 120 and "test.accuracy" in header[:5] and "maxlen" in header, shown
    assert any(line.split()[:1] == ["workspace"] and "20" in line.split() for line in shown), shown
    # `make discard`: back to the committed params, metrics and model; the experiment stays listed
    model = (repo / "models/model.keras").read_bytes()
    sh(repo, "make", "-s", "-f", str(REPO / "Makefile"), "discard")
    assert sh(repo, "git", "status", "--porcelain").stdout == ""
    assert "Data and pipelines are up to date" in dvc(repo, "status").stdout
    assert (repo / "models/model.keras").read_bytes() != model  # the committed model, not the experiment's
    assert names[0] in {name for name, _, _ in exp_rows(repo)}
    scored = sh(repo, sys.executable, "-m", "stages.predict", "a great film")
    assert scored.stderr.splitlines()[-1] == (f"predict: scoring with models/raw_text_model.keras, the version "
                                               f"committed at {head}")


# Which stages read each key, as dvc.yaml declares it: `dvc status` names them the moment params.yaml changes,
# before anything runs (check_params, which reads the whole file, aside). Cheap, so every kind of key is here.
READERS = [
    ("seed", 7, {"baseline", "embed", "train", "export"}),  # not download: data.split_seed carves the test set
    ("data.split_seed", 7, {"download"}),
    ("data.test_size", 0.3, {"download"}),
    ("maxlen", 20, {"pad", "validate_features", "export"}),
    ("tokenize.vocab_size", 50, {"tokenize"}),
    ("pad.padding", "pre", {"pad", "export"}),
    ("embedding.oov_init", "zeros", {"embed"}),
    ("embedding.trainable", False, {"train"}),
    ("train.nb_l2", 3e-6, {"train"}),
    ("train.model", "fasttext", {"train", "export"}),
    ("evaluate.threshold", 0.6, {"evaluate", "baseline"}),  # the baselines' labels use the same threshold
    ("baseline.nbsvm.C", 2, {"baseline"}),
    ("export.neighbours", 3, {"export"}),
    ("validation.raw.text_chars", [5, 60000], {"validate_raw"}),
    ("validation.features.max_all_padding_share", 0.1, {"validate_features"}),
    ("engine.name", "spark", {"download", "validate_raw", "tokenize", "pad", "validate_features"}),
    ("report.max_drop", 0.01, set()),  # read by tools/pr_report.py, by no stage
]


@pytest.mark.parametrize("key, value, readers", READERS, ids=[key for key, _, _ in READERS])
def test_each_param_is_read_by_exactly_its_stages(repo, key, value, readers):
    reset(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    *path, last = key.split(".")
    node = params
    for part in path:
        node = node[part]
    assert node[last] != value, f"{key} is {value!r} already: pick another value"
    node[last] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        status = json.loads(dvc(repo, "status", "--json").stdout)
    finally:
        reset(repo)
    assert "check_params" in status
    assert set(status) - CHECK == readers, status  # the workspace was up to date: only params changed
    for stage in readers:  # and for its params, not for data
        assert [set(entry) for entry in status[stage]] == [{"changed deps"}], status[stage]
        assert list(status[stage][0]["changed deps"]) == ["params.yaml"], status[stage]


# What a real `dvc exp run -S` re-runs: the stages that read the key, then those whose input data changed.
# Training is deterministic, so an unchanged model stops the chain (validation.features: train runs again on
# the same data and writes the same model, so evaluate and export do not). `engine.name=spark` stops the same
# way after the data stages, whose Spark outputs are the local engine's bytes (tests/test_spark.py and the test
# bed prove the bytes, READERS the stages it re-runs). `maxlen` is test_exp_run_maxlen's.
PARAM_CASES = [
    ("evaluate.threshold=0.6", {"evaluate", "baseline"}),
    ("validation.features.max_all_padding_share=0.1", {"validate_features", "train"}),
    ("report.max_drop=0.01", set()),
]


@pytest.mark.parametrize("change, expected", PARAM_CASES, ids=[c for c, _ in PARAM_CASES])
def test_each_param_reruns_exactly_its_stages(repo, change, expected):
    reset(repo)
    out = dvc(repo, "exp", "run", "-S", change)
    assert stages_run(out.stdout) == expected | CHECK
    assert stages_skipped(out.stdout) == ALL - expected - CHECK


def test_a_params_typo_keeps_the_last_good_outputs_and_the_fixed_params_recover(repo):
    """`train.epoch: 1` for `train.epochs`: check_params fails before DVC removes anything of train's."""
    reset(repo)
    model = (repo / "models/model.keras").read_bytes()
    good = (repo / "params.yaml").read_text()
    params = yaml.safe_load(good)
    params["train"]["epoch"] = 1
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        out = dvc(repo, "repro", check=False)
        assert out.returncode != 0 and "train.epoch: unknown key" in out.stdout + out.stderr
        assert "Traceback" not in out.stdout + out.stderr
        assert stages_run(out.stdout) == CHECK  # nothing else was started
        assert (repo / "models/model.keras").read_bytes() == model
        changed = sh(repo, "git", "status", "--porcelain").stdout.splitlines()
        assert changed == [" M params.yaml"], changed  # no tracked report deleted, the check's output kept
        (repo / "params.yaml").write_text(good)
        out = dvc(repo, "repro")
        assert stages_run(out.stdout) <= CHECK and "Traceback" not in out.stdout + out.stderr
        assert "Data and pipelines are up to date" in dvc(repo, "status").stdout
        assert (repo / "models/model.keras").read_bytes() == model
    finally:
        (repo / "params.yaml").write_text(good)


def test_a_damaged_model_gets_advice_that_works_when_followed(repo):
    reset(repo)
    path = repo / "models/raw_text_model.keras"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    out = sh(repo, sys.executable, "-m", "stages.predict", "a good film", check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    advice = re.search(r"restore it with `(dvc checkout --force models/raw_text_model\.keras)`", out.stderr)
    assert advice, out.stderr
    dvc(repo, *advice.group(1).split()[1:])  # exactly what the message says
    assert path.read_bytes() == good
    assert sh(repo, sys.executable, "-m", "stages.predict", "a good film").returncode == 0


def test_queued_sweep(repo):
    """A sweep of two values queued and run by DVC's queue (a key whose change re-runs two short stages)."""
    reset(repo)
    dvc(repo, "exp", "run", "--queue", "-S", "evaluate.threshold=0.4,0.6")
    dvc(repo, "queue", "start", "-j", "1")
    deadline = time.time() + 900
    while time.time() < deadline:
        status = dvc(repo, "queue", "status").stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            break
        time.sleep(3)
    dvc(repo, "queue", "stop", check=False)
    assert status.count("Success") >= 2, status
    swept = {value for name, value, _ in exp_rows(repo, "evaluate.threshold") if name not in ("main", "workspace")}
    assert {0.4, 0.6} <= swept


def report(repo: Path, base: str = "HEAD~1") -> tuple[int, str]:
    out = sh(repo, sys.executable, "-m", "tools.pr_report", "--base", base, check=False)
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    return out.returncode, (repo / "reports/pr_report.md").read_text()


def commit_params(repo: Path, params: dict, message: str, repro: bool = True) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if repro:
        dvc(repo, "repro")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", message)


HOSTILE_WORDS = ["@octocat", "a|b", "<img src=x onerror=alert(1)>", "```", "<!--"]


def test_report_verdicts_on_unchanged_regressed_and_thin_margin_branches(repo):
    """The pull-request report as CI makes it, on three branches: one that changes no metric (PASS, exit 0), one
    whose test accuracy drops (FAIL, exit 1), one whose margin over the baselines is too thin (FAIL, exit 1)."""
    from tests.markdown_checks import problems

    reset(repo)
    try:
        (repo / "NOTES.md").write_text("A change that touches no stage.\n")
        sh(repo, "git", "add", "-A")
        sh(repo, "git", "commit", "-qm", "docs only")
        status, text = report(repo)
        assert status == 0 and text.startswith("# PASS: every check passed"), text[:600]
        assert re.search(r"^- \*\*PASS\*\* `test\.accuracy`: ([\d.]+) → \1 \(\+0\.0000\)", text, re.M), text[:600]
        assert re.search(r"^\| test\.accuracy \| ([\d.]+) \| \1 \| \+0\.0000 \|$", text, re.M)
        assert "| training epochs_run |" in text and "step |" not in text  # epochs run shown, DVCLive's step not
        assert re.search(r"^\| baseline: \d+ metrics \| unchanged \| unchanged \| \|$", text, re.M)  # folded
        assert "No param changed." in text and "| param |" not in text
        assert "No plot data changed." in text
        assert re.search(r"^The t-SNE map of the learned space, .*\(unchanged against [^)]*\): "
                         r"`reports/embedding_map\.svg` in the `pipeline-report` artifact", text, re.M), text[-800:]

        # a real regression: a decision threshold of 0.99 labels most reviews negative
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["evaluate"]["threshold"] = 0.99
        params["export"]["probe_words"] = params["export"]["probe_words"] + HOSTILE_WORDS
        commit_params(repo, params, "threshold 0.99, hostile probe words")
        old = json.loads(sh(repo, "git", "show", "HEAD~1:reports/metrics.json").stdout)["test"]["accuracy"]
        new = json.loads((repo / "reports/metrics.json").read_text())["test"]["accuracy"]
        assert new < old - params["report"]["max_drop"], (old, new)  # the premise: accuracy really dropped
        status, text = report(repo)
        assert status == 1 and text.startswith("# FAIL: "), text[:600]
        assert re.search(r"^- \*\*FAIL\*\* `test\.accuracy`: [\d.]+ → [\d.]+ \(-[\d.]+\)", text, re.M)
        comment = (repo / "reports/pr_comment.md").read_text()
        assert comment == text  # short enough: the comment is the whole report
        for name in ("reports/pr_report.md", "reports/neighbours.md", "reports/errors.md"):
            assert problems((repo / name).read_text()) == [], name

        # the same results with the drop allowed, but a margin over the best baseline that no model reaches
        params["report"].update(max_drop=1.0, min_margin=1.0)
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        status, text = report(repo)
        assert status == 1 and text.startswith("# FAIL: 1 of 2 checks failed"), text[:600]
        assert re.search(r"^- \*\*PASS\*\* `test\.accuracy`", text, re.M)
        assert re.search(r"^- \*\*FAIL\*\* margin over the best baseline: [+-][\d.]+ \(model [\d.]+, best baseline "
                         r"[\d.]+\); at least \+1\.0000", text, re.M)
        params["report"].update(min_margin=-1.0)  # report.* params are no stage's dependency: no repro needed
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        assert report(repo)[0] == 0
    finally:
        sh(repo, "git", "reset", "-q", "--hard", "main")
        dvc(repo, "checkout", "-f", "-q")


def test_report_between_two_commits(repo):
    """A branch that retrains (maxlen 6): params, plots and charts of both revisions, the artifact's pages."""
    reset(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["maxlen"] = 6
    params["train"]["epochs"] = 3  # the base ran 2: runs of different lengths
    commit_params(repo, params, "maxlen 6, 3 epochs")
    try:
        status, text = report(repo)
        assert status == (0 if text.startswith("# PASS") else 1), text[:300]
        assert "| maxlen | 40 | 6 |" in text
        assert text.count('title "Loss per epoch"') == 1 and 'x-axis "epoch" [1, 2]' in text  # the epochs both ran
        assert "Lines: 🟦 base, train · 🟧 base, validation · 🟩 workspace, train · 🟥 workspace, validation" in text
        assert "The chart shows epochs 1-2, which both runs have (workspace ran 3); epochs 3 on: " in text
        assert "reports/plots/roc.json" in text and (repo / "reports/pr_plots/index.html").exists()
        assert text.count("```mermaid") == 4  # loss, accuracy, ROC, precision-recall
        page = (repo / "reports/pr_plots/index.html").read_text()
        assert "<script src" not in page and "window.vegaEmbed" in page and "workspace" in page
        svgs = {p.name for p in (repo / "reports/pr_plots/svg").glob("*.svg")}
        assert {"loss.svg", "accuracy.svg", "roc.svg", "precision_recall.svg", "confusion.svg"} <= svgs
        loss_svg = (repo / "reports/pr_plots/svg/loss.svg").read_text()
        ticks = re.findall(r'aria-label="X-axis titled \'epoch\' for a discrete scale with \d+ values: ([\d, ]+)"', loss_svg)
        assert ticks == ["1, 2, 3"], ticks  # whole epochs counted from 1, each once
    finally:
        sh(repo, "git", "reset", "-q", "--hard", "HEAD~1")
        dvc(repo, "checkout", "-f", "-q")


def test_push_then_pull_into_fresh_clone_needs_no_recompute(repo, tmp_path):
    reset(repo)
    dvc(repo, "push")
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    dvc(clone, "pull")
    assert (clone / "models/model.keras").exists()
    out = dvc(clone, "repro")
    assert stages_run(out.stdout) == set(), out.stdout
    assert "Data and pipelines are up to date" in dvc(clone, "status").stdout


def test_inputs_are_tracked_by_content_and_a_fixed_input_recovers(repo):
    """An in-place edit of a local file is seen by `dvc status`; a bad one stops `dvc repro` with a message and
    leaves dvc.lock alone; once the file is fixed, `dvc repro` re-runs from download and all is up to date."""
    reset(repo)
    path = repo / "data/external/reviews.csv"
    frame = pd.read_csv(path)
    lock_before = (repo / "dvc.lock").read_text()

    path.write_bytes(frame.to_csv(index=False).replace("the", "thé").encode("latin-1", "replace"))  # same path, new bytes
    status = dvc(repo, "status").stdout
    assert re.search(r"download:\s+changed deps:\s+modified:\s+data/external", status), status
    out = dvc(repo, "repro", check=False)
    assert out.returncode != 0 and "Traceback" not in out.stdout + out.stderr
    assert re.search(r"data/external/reviews.csv, line \d+: not UTF-8 text", out.stderr), out.stderr
    assert (repo / "dvc.lock").read_text() == lock_before and list(repo.rglob(".*.tmp")) == []

    frame.assign(label=1 - frame["label"]).to_csv(path, index=False)  # fixed, and the labels flipped
    out = dvc(repo, "repro")
    assert {"download", "validate_raw", "tokenize", "train", "evaluate"} <= stages_run(out.stdout)
    manifest = json.loads((repo / "data/raw/manifest.json").read_text())
    assert manifest["inputs"]["reviews"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    labels = pd.read_parquet(repo / "data/raw/reviews.parquet")["label"].to_numpy()
    assert (labels == 1 - frame["label"].to_numpy()).all()
    assert "Data and pipelines are up to date" in dvc(repo, "status").stdout


def tracked_outputs(root: Path) -> dict[str, str]:
    """MD5 of every file under the pipeline's cached outputs, by path."""
    import hashlib

    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for folder in ("data/raw", "data/interim", "data/processed", "models") for p in (root / folder).rglob("*")
            if p.is_file()}


def store_client(store):
    import botocore.session

    return botocore.session.get_session().create_client(
        "s3", endpoint_url=store["endpoint"], region_name="us-east-1",
        aws_access_key_id=store["env"]["AWS_ACCESS_KEY_ID"], aws_secret_access_key=store["env"]["AWS_SECRET_ACCESS_KEY"])


def clone_with_store_remote(repo: Path, store, target: Path) -> Path:
    sh(target.parent, "git", "clone", "-q", str(repo), str(target))
    sh(target, sys.executable, "-m", "tools.object_store", "remote", "--endpoint", store["endpoint"])
    return target


@pytest.fixture
def store_remote(repo, object_store, monkeypatch):
    """The repo's default remote on the object store (in .dvc/config.local), and its credentials in the
    environment; afterwards the repo's own local remote is the default again."""
    for name, value in object_store["env"].items():
        monkeypatch.setenv(name, value)
    reset(repo)
    sh(repo, sys.executable, "-m", "tools.object_store", "remote", "--endpoint", object_store["endpoint"])
    try:
        yield object_store
    finally:
        (repo / ".dvc/config.local").unlink()


def test_push_to_the_object_store_and_pull_into_a_fresh_clone_gives_the_same_bytes(repo, store_remote, tmp_path):
    """The DVC remote on S3 (SeaweedFS started by tools.object_store): push from one clone, pull into another;
    nothing re-runs and every output has the same bytes. The remote's settings stay out of git."""
    object_store = store_remote
    assert "verify = true" in (repo / ".dvc/config.local").read_text()
    assert sh(repo, "git", "status", "--porcelain").stdout == ""  # config.local is git-ignored by DVC
    dvc(repo, "push")
    listed = store_client(object_store).list_objects_v2(Bucket="dvc", Prefix="cache/")
    assert listed["KeyCount"] >= 10
    clone = clone_with_store_remote(repo, object_store, tmp_path / "clone")
    dvc(clone, "pull")
    assert tracked_outputs(clone) == tracked_outputs(repo)
    assert stages_run(dvc(clone, "repro").stdout) == set()
    assert "Data and pipelines are up to date" in dvc(clone, "status").stdout
    assert dvc(repo, "push").stdout.strip().endswith("Everything is up to date.")  # nothing uploaded twice


def test_a_corrupted_object_in_the_store_fails_the_pull_with_verify_on(repo, store_remote, tmp_path):
    """Under DVC's default (verify off) a corrupted object is pulled silently; the project's remote has verify
    on, so the pull fails naming the file, and no corrupted model reaches the workspace."""
    object_store = store_remote
    dvc(repo, "push")
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    md5 = next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "models/model.keras")
    key, client = f"cache/files/md5/{md5[:2]}/{md5[2:]}", store_client(object_store)
    original = client.get_object(Bucket="dvc", Key=key)["Body"].read()
    client.put_object(Bucket="dvc", Key=key, Body=original[:-100] + b"x" * 100)  # same size, other bytes
    try:
        clone = clone_with_store_remote(repo, object_store, tmp_path / "clone")
        out = dvc(clone, "pull", check=False)
        assert out.returncode != 0 and "Traceback" not in out.stderr
        assert "Checkout failed for following targets" in out.stderr and "models/model.keras" in out.stderr
        assert not (clone / "models/model.keras").exists()
    finally:
        client.put_object(Bucket="dvc", Key=key, Body=original)
