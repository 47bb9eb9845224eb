"""Spark as an operator runs it: a standalone master and a worker (separate JVMs on 127.0.0.1, started by
`python -m tools.spark_cluster`), the data stages run on it with the local engine's bytes, and masters that
cannot be reached or never accept the application end in one message, without a traceback or a Java process
left behind.
"""
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests import fixtures
from tests.conftest import REPO
from tests.test_distribute import free_port
from tools.spark_cluster import alive
from tests.test_spark import DATA_STAGES, SPARK_STAGES, assert_same_files, project, run


def cluster_tool(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "tools.spark_cluster", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def record(webui: str) -> dict:
    with urllib.request.urlopen(f"{webui}/json/", timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A master and one worker of 2 cores, as `make spark-cluster` starts them; stopped by their process ids."""
    root = tmp_path_factory.mktemp("cluster")
    port, webui_port = free_port(), free_port()
    started = cluster_tool(root, "start", "--workers", "1", "--cores", "2", "--port", str(port),
                           "--webui-port", str(webui_port))
    assert started.returncode == 0, started.stderr[-3000:]
    state = json.loads((root / ".spark/cluster.json").read_text())
    yield state
    stopped = cluster_tool(root, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not any(alive(pid) for pid in state["pids"])  # the JVMs are gone (or zombies, no init reaps here)
    assert not (root / ".spark/cluster.json").exists()


def test_the_data_stages_on_a_standalone_cluster_write_the_local_engines_bytes(default_params, tmp_path, cluster):
    reviews = fixtures.synthetic_reviews(300)
    local, spark = tmp_path / "local", tmp_path / "spark"
    project(local, default_params, "local", reviews)
    params = project(spark, default_params, "spark", reviews)
    params["engine"]["spark"]["master"] = cluster["master"]
    (spark / "params.yaml").write_text(yaml.safe_dump(params))
    stages = DATA_STAGES[:2]  # a file and Great Expectations' checks; tests/test_testbed.py runs all six on a cluster
    for stage in stages:
        assert run(stage, local).returncode == 0, stage
        result = run(stage, spark)
        assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"
    assert_same_files(local, spark)

    # The master's record: an application per Spark stage, each of which ran executors on the worker.
    state = record(cluster["webui"])
    apps = {app["name"].removeprefix("imdb-embeddings "): app["id"] for app in state["completedapps"]}
    assert set(stages) <= set(apps) <= SPARK_STAGES
    (worker,) = state["workers"]
    assert worker["host"] == "127.0.0.1" and worker["state"] == "ALIVE"
    ran = {executor["appid"] for executor in record(worker["webuiaddress"])["finishedexecutors"]}
    assert {apps[stage] for stage in stages} <= ran


def java_drivers(cwd: Path) -> set[int]:
    """The pyspark driver JVMs running in folder `cwd` (a stage's JVM works in the stage's folder): those of this
    test, not those that the tests on the other pytest worker start meanwhile."""
    pids = set()
    for proc in Path("/proc").iterdir():
        try:
            if (proc.name.isdigit() and b"pyspark-shell" in (proc / "cmdline").read_bytes()
                    and Path(os.readlink(proc / "cwd")) == cwd.resolve() and alive(int(proc.name))):
                pids.add(int(proc.name))
        except OSError:
            pass
    return pids


def spark_project(tmp_path: Path, default_params: dict, master: str, start_timeout: int) -> Path:
    root = tmp_path / "p"
    params = project(root, default_params, "spark", fixtures.synthetic_reviews(50))
    params["engine"]["spark"].update(master=master, start_timeout=start_timeout)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def test_a_master_nobody_answers_is_one_message(default_params, tmp_path):
    master = f"spark://127.0.0.1:{free_port()}"
    root = spark_project(tmp_path, default_params, master, 60)
    start = time.monotonic()
    result = run("download", root)
    assert time.monotonic() - start < 30
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"engine.spark.master {master!r}: no Spark master answers" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (root / "data/raw").exists()


def test_a_master_that_never_accepts_the_application_is_one_message_within_the_timeout(default_params, tmp_path):
    """Something listens on the port but never speaks Spark: Spark's client would wait about a minute."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held = []
    threading.Thread(target=lambda: [held.append(listener.accept()) for _ in range(10)], daemon=True).start()
    master = f"spark://127.0.0.1:{listener.getsockname()[1]}"
    root = spark_project(tmp_path, default_params, master, 8)
    start = time.monotonic()
    result = run("download", root)
    took = time.monotonic() - start
    listener.close()
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"engine.spark.master {master!r}: the master did not accept the application within 8 s" in result.stderr
    assert "engine.spark.start_timeout" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert took < 8 + 30  # the timeout, plus starting Python and the JVM
    assert java_drivers(root) == set()  # no JVM left behind
    assert not (root / "data/raw").exists()


def test_scoring_a_parquet_file_on_the_cluster_gives_the_local_scores(tiny, tmp_path, cluster):
    """`predict --engine spark --out`: tasks of 300 rows on the worker's executors, in row order, the scores
    `predict --file` prints on one machine (4 decimals), a blank review without a probability."""
    import pandas as pd

    root, _ = tiny
    reviews = fixtures.synthetic_reviews(1000).assign(id=[f"r{i}" for i in range(1000)])
    reviews.loc[7, "text"] = "  "
    reviews[["id", "text"]].to_parquet(tmp_path / "in.parquet", row_group_size=1000)  # one row group
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_BLOCK_ROWS": "300"}

    def predict(*args):
        return subprocess.run([sys.executable, "-m", "stages.predict", "--file", str(tmp_path / "in.parquet"), *args],
                              cwd=root, env=env, capture_output=True, text=True, timeout=600)

    printed = predict()
    assert printed.returncode == 0, printed.stderr[-3000:]
    local = pd.read_csv(io.StringIO(printed.stdout), sep="\t", dtype=str, keep_default_na=False)
    scored = predict("--out", str(tmp_path / "scores.parquet"), "--engine", "spark", "--master", cluster["master"])
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert "in 4 task(s) on the spark engine" in scored.stderr and "Traceback" not in scored.stderr
    spark = pd.read_parquet(tmp_path / "scores.parquet")
    assert spark["row"].tolist() == list(range(1, 1001)) and spark["id"].tolist() == local["id"].tolist()
    assert [f"{p:.4f}" if p == p else "" for p in spark["probability"]] == local["probability"].tolist()
    assert spark["label"].tolist() == local["label"].tolist() and spark.loc[7, "label"] == "no text"
    assert spark["no_known_word"].map(str).str.lower().tolist() == local["no_known_word"].tolist()
    assert len(set(local["label"])) == 3  # positive, negative and no text: the comparison means something

    apps = [app for app in record(cluster["webui"])["completedapps"] if app["name"] == "imdb-embeddings predict"]
    assert apps  # scored by the cluster's executors, not in the driver


def test_a_cluster_on_a_port_in_use_is_refused_before_any_jvm_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cluster_tool(tmp_path, "start", "--workers", "1", "--port", str(port),
                              "--webui-port", str(free_port()))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"127.0.0.1:{port} is in use" in result.stderr and "--port" in result.stderr
    assert not (tmp_path / ".spark/cluster.json").exists()


def test_a_cluster_with_no_live_worker_is_one_message_within_the_timeout(default_params, tmp_path):
    """A master with no worker accepts the application and would keep its job waiting forever: the stage
    gives up after engine.spark.start_timeout with one line naming the master, and writes nothing."""
    port, webui_port = free_port(), free_port()
    started = cluster_tool(tmp_path, "start", "--workers", "0", "--port", str(port), "--webui-port", str(webui_port))
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        master = f"spark://127.0.0.1:{port}"
        root = spark_project(tmp_path, default_params, master, 10)
        local = yaml.safe_load((root / "params.yaml").read_text())
        local["engine"]["name"] = "local"
        (root / "params.yaml").write_text(yaml.safe_dump(local))
        for stage in ("download", "tokenize"):  # the inputs of pad, on the local engine
            assert run(stage, root).returncode == 0, stage
        local["engine"]["name"] = "spark"
        (root / "params.yaml").write_text(yaml.safe_dump(local))
        start = time.monotonic()
        result = run("pad", root)
        took = time.monotonic() - start
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr[-3000:]
        assert f"engine.spark.master {master!r}: no live executor for 10 s (engine.spark.start_timeout)" in lines[0]
        assert took < 10 + 60  # the timeout, plus starting Python, the JVM and the session on a loaded machine
        assert not (root / "data/processed/padded").exists() and not list(root.rglob(".*.tmp"))
    finally:
        cluster_tool(tmp_path, "stop")
