"""The cluster path across hosts (tools.testbed: network namespaces on a bridge, 198.18.0.0/24): the object store on
`storage`, a Spark master on `master`, a worker on each of `worker1` and `worker2` (which cannot see the
project's folder, nor the scratch project), and the stages run on `driver` with `engine.spark.storage`.

The data stages give the local engine's bytes with their executors on the worker hosts, and `predict --out` on
the cluster the local scores; faults are caused for real: a worker killed or cut off mid-stage (the stage
finishes, same bytes), every worker lost (one line within the timeout), the store's host cut off, a wrong secret.
Two TensorFlow workers on the worker hosts train one model from clones filled by `dvc pull`, and a peer killed
or cut off mid-training ends the other in one line. Everything started is stopped, and every namespace removed,
also when a test fails.
"""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests import fixtures
from tests.conftest import REPO
from tests.test_spark import DATA_STAGES, assert_same_files, project
from tools import testbed
from tools.spark_cluster import alive, daemon, stop_pids

pytestmark = pytest.mark.xdist_group("testbed")  # one module fixture of hosts: its tests on one pytest worker
MASTER = f"spark://{testbed.HOSTS['master']}:7077"
WEBUI = f"http://{testbed.HOSTS['master']}:8080"
STORE = f"http://{testbed.HOSTS['storage']}:8333"


def record() -> dict:
    with urllib.request.urlopen(f"{WEBUI}/json/", timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    """The hosts up, the store on `storage`, a master on `master` and a worker on each worker host."""
    if os.geteuid() != 0 or subprocess.run(["ip", "-V"], capture_output=True).returncode != 0:
        pytest.skip("the test bed needs root and iproute2 (.ci/run installs iproute2)")
    from stages.engines.spark import check_installed

    check_installed()  # JAVA_HOME: the runtime of requirements-spark.txt
    # One test bed on the machine at a time: the hosts' names and addresses are fixed, and pytest-xdist may
    # set this fixture up in both of its workers (each waits here for the other's to be taken down).
    lock = open("/tmp/imdb-testbed.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    root = tmp_path_factory.mktemp("bed")
    projects = root / "projects"  # the scratch projects of the tests: hidden from the worker hosts
    projects.mkdir()
    testbed.up()
    processes = {}
    try:
        store = subprocess.run(testbed.command("storage", [sys.executable, "-m", "tools.object_store", "start",
                                                           "--host", testbed.HOSTS["storage"], "--port", "8333"]),
                               cwd=root, capture_output=True, text=True, timeout=120,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
        assert store.returncode == 0, store.stderr + store.stdout
        env = dict(line.removeprefix("export ").split("=", 1) for line in store.stdout.splitlines()
                   if line.startswith("export "))
        state = json.loads((root / ".object-store/store.json").read_text())
        processes["storage"] = state["pid"]
        base = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_DAEMON_JAVA_OPTS": "-Dspark.port.maxRetries=0"}
        processes["master"] = daemon(
            "org.apache.spark.deploy.master.Master",
            ["--host", testbed.HOSTS["master"], "--port", "7077", "--webui-port", "8080"], root / "logs/master.log",
            {**base, "SPARK_LOCAL_IP": testbed.HOSTS["master"], "SPARK_LOG_DIR": str(root / "logs")},
            on=lambda argv: testbed.command("master", argv)).pid
        wait(lambda: record().get("status") == "ALIVE", "the master")
        for host in ("worker1", "worker2"):
            work = root / host
            work.mkdir()
            processes[host] = daemon(
                "org.apache.spark.deploy.worker.Worker",
                [MASTER, "--host", testbed.HOSTS[host], "--cores", "1", "--memory", "1g", "--webui-port", "0",
                 "--work-dir", str(work)], root / f"logs/{host}.log",
                {**base, "SPARK_LOCAL_IP": testbed.HOSTS[host], "SPARK_LOG_DIR": str(work)},
                on=lambda argv, h=host: testbed.command(h, argv, hidden=(projects,))).pid
        wait(lambda: sum(w["state"] == "ALIVE" for w in record()["workers"]) == 2, "2 live workers")
        yield {"root": root, "projects": projects, "env": env, "processes": processes}
    finally:
        stop_pids([pid for pid in processes.values() if alive(pid)], grace=5)
        testbed.down(quiet=True)
        left = [ns for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
                if ns.startswith(f"{testbed.PREFIX}-")]
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        assert not left


def wait(ready, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no {what} after {seconds} s")


def on_driver(stage: str, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_BLOCK_ROWS": "37",
                   "AWS_ENDPOINT_URL": STORE, **env}
    return subprocess.run(testbed.command("driver", [sys.executable, "-m", "stages", stage]), cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=timeout)


def executors_on(root: Path) -> set[str]:
    """The worker hosts whose work folders hold an executor of some application."""
    return {host for host in ("worker1", "worker2") if list((root / host).glob("app-*/*/stderr"))}


def test_data_stages_across_hosts_write_the_local_engines_bytes(default_params, tmp_path, bed):
    reviews = fixtures.synthetic_reviews(300)
    local, spark = tmp_path / "local", bed["projects"] / "identical"
    project(local, default_params, "local", reviews)
    params = project(spark, default_params, "spark", reviews)
    params["engine"]["spark"].update(master=MASTER, storage="s3://dvc/stage", start_timeout=30)
    (spark / "params.yaml").write_text(yaml.safe_dump(params))
    for stage in DATA_STAGES:
        environment = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_BLOCK_ROWS": "37"}
        assert subprocess.run([sys.executable, "-m", "stages", stage], cwd=local, env=environment).returncode == 0
        result = on_driver(stage, spark, bed["env"])
        assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"
        assert bed["env"]["AWS_SECRET_ACCESS_KEY"] not in result.stdout + result.stderr
    assert_same_files(local, spark)
    assert executors_on(bed["root"]) == {"worker1", "worker2"}  # the tasks ran on the worker hosts


def test_predict_out_on_the_cluster_scores_as_the_local_engine(tf_clones, bed):
    """`predict --file --out --engine spark` on the driver: the file and the model are staged in the store and
    scored on the worker hosts (which cannot see the driver's project); the scores equal the local engine's."""
    import pandas as pd

    root = tf_clones["origin"]
    texts = [f"a {'great wonderful' if i % 2 else 'awful boring'} film number {i}" for i in range(300)]
    pd.DataFrame({"text": texts, "id": [f"r{i}" for i in range(300)]}).to_parquet(root / "in.parquet")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["engine"]["spark"].update(storage="s3://dvc/stage", master=MASTER)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    applications = {host: set((bed["root"] / host).glob("app-*")) for host in ("worker1", "worker2")}
    environment = {**os.environ, **tf_clones["env"]}
    environment.pop("PYTHONPATH", None)
    scores = {}
    for engine in ("local", "spark"):
        argv = [sys.executable, "-m", "stages.predict", "--file", "in.parquet", "--out", f"{engine}.parquet",
                "--engine", engine]
        result = subprocess.run(testbed.command("driver", argv), cwd=root, env=environment, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        scores[engine] = pd.read_parquet(root / f"{engine}.parquet")
    pd.testing.assert_frame_equal(scores["local"], scores["spark"])
    ran = [host for host in applications if set((bed["root"] / host).glob("app-*")) - applications[host]]
    assert ran, "no worker host ran the scoring"  # one task (300 rows): one executor's host at least
    # (here, before the tests below kill the Spark workers)


def spark_project(bed, default_params, name: str, start_timeout: int = 60, **conf) -> Path:
    root = bed["projects"] / name
    params = project(root, default_params, "spark", fixtures.synthetic_reviews(300))
    params["engine"]["spark"].update(master=MASTER, storage="s3://dvc/stage", start_timeout=start_timeout,
                                     conf={**params["engine"]["spark"]["conf"], **conf})
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def host_pids(host: str) -> list[int]:
    """Every process of a host (its network namespace): the worker JVM, its executors, their Python workers."""
    out = subprocess.run(["ip", "netns", "pids", testbed.namespace(host)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def during(stage: str, root: Path, bed, fault, after: float = 6) -> subprocess.CompletedProcess:
    """Run `stage` on the driver and cause `fault` `after` seconds into it (its executors are at work then)."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_BLOCK_ROWS": "5", "AWS_ENDPOINT_URL": STORE,
                   **bed["env"]}
    proc = subprocess.Popen(testbed.command("driver", [sys.executable, "-m", "stages", stage]), cwd=root,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    fault()
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


FAST_LOSS = {"spark.network.timeout": "12s", "spark.network.timeoutInterval": "6s",
             "spark.executor.heartbeatInterval": "2s"}  # a lost host, in 12 s


@pytest.mark.parametrize("fault", ["link cut", "worker killed"])
def test_a_worker_lost_mid_stage_and_the_stage_still_writes_the_same_bytes(default_params, tmp_path, bed, fault):
    local = tmp_path / "local"
    project(local, default_params, "local", fixtures.synthetic_reviews(300))
    root = spark_project(bed, default_params, fault.replace(" ", "-"), **FAST_LOSS)
    environment = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_BLOCK_ROWS": "5"}
    for stage in ("download", "validate_raw"):
        assert subprocess.run([sys.executable, "-m", "stages", stage], cwd=local, env=environment).returncode == 0
    downloaded = on_driver("download", root, bed["env"])
    assert downloaded.returncode == 0, downloaded.stderr[-3000:]
    if fault == "link cut":
        result = during("validate_raw", root, bed, lambda: testbed.cut("worker2"))
        testbed.cut("worker2", "up")
    else:
        result = during("validate_raw", root, bed, lambda: [os.kill(p, 9) for p in host_pids("worker2")])
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("reports/validation/raw.json", "reports/validation/raw.md"):
        assert (root / name).read_bytes() == (local / name).read_bytes(), name


def test_every_worker_lost_mid_stage_is_one_line_within_the_timeout(default_params, bed):
    root = spark_project(bed, default_params, "all-lost", start_timeout=15, **FAST_LOSS)
    assert on_driver("download", root, bed["env"]).returncode == 0
    started = time.monotonic()
    result = during("validate_raw", root, bed,
                    lambda: [os.kill(p, 9) for h in ("worker1", "worker2") for p in host_pids(h)])
    took = time.monotonic() - started
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr[-3000:]
    assert f"engine.spark.master {MASTER!r}: no live executor for 15 s (engine.spark.start_timeout)" in lines[0]
    assert took < 6 + 15 + 12 + 60  # the fault, the timeout, the heartbeat timeout, room for a loaded machine
    assert not (root / "reports/validation/raw.json").exists() and not list(root.rglob(".*.tmp"))


@pytest.mark.parametrize("fault", ["the store's host cut off", "a wrong secret"])
def test_bad_storage_across_hosts_is_one_line_and_the_secret_is_never_shown(default_params, bed, fault):
    root = spark_project(bed, default_params, fault.split()[-1])
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["engine"]["spark"]["storage_timeout"] = 8
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    env = dict(bed["env"])
    if fault == "a wrong secret":
        env["AWS_SECRET_ACCESS_KEY"] = "wrong-" + env["AWS_SECRET_ACCESS_KEY"][:8]
        expected = "access to the bucket dvc is refused"
    else:
        testbed.cut("storage")
        expected = "no answer from the store within 8 s"
    try:
        started = time.monotonic()
        result = on_driver("download", root, env)  # a Parquet reviews file: its tasks read it from the store
        took = time.monotonic() - started
    finally:
        testbed.cut("storage", "up")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr[-3000:]
    assert expected in lines[0] and STORE in lines[0] and "s3://dvc/stage" in lines[0], lines[0]
    assert env["AWS_SECRET_ACCESS_KEY"] not in result.stderr and bed["env"]["AWS_SECRET_ACCESS_KEY"] not in result.stderr
    assert took < 8 + 60
    assert not (root / "data/raw").exists()


TF_PORT = 2222  # each host has its own ports: the same on both


def tf_config(index: int) -> str:
    addresses = [f"{testbed.HOSTS[h]}:{TF_PORT}" for h in ("worker1", "worker2")]
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})


@pytest.fixture(scope="module")
def tf_clones(bed):
    """A committed scratch project whose inputs of `train` were made by `dvc repro` on the driver and pushed to
    the object store; a clone of it for each worker host, filled there with `dvc pull` (each host sees its own
    clone only), and the single-process training's metrics of the same params to compare with."""
    import numpy as np
    import pandas as pd

    from tests.fixtures import tiny_project
    from tests.test_dvc_cli import PROJECT_FILES, sh

    origin = bed["projects"] / "tf-origin"
    origin.mkdir()
    for name in PROJECT_FILES:
        source = REPO / name
        (shutil.copytree(source, origin / name, ignore=shutil.ignore_patterns("__pycache__")) if source.is_dir()
         else shutil.copy(source, origin / name))
    params = tiny_project(origin, yaml.safe_load((REPO / "params.yaml").read_text()), n_reviews=2000)
    reviews = pd.read_csv(origin / "data/external/reviews.csv")
    flip = np.random.default_rng(3).random(len(reviews)) < 0.2  # a fifth of the labels noise: accuracy can differ
    reviews.loc[flip, "label"] = 1 - reviews.loc[flip, "label"]
    reviews.to_csv(origin / "data/external/reviews.csv", index=False)
    params["train"].update(epochs=3, patience=None, distribute="multi_worker", peer_timeout=15)
    (origin / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {"AWS_ENDPOINT_URL": STORE, **bed["env"]}

    def on(host, root, *argv, timeout=300):
        environment = {**os.environ, **env, "DVC_NO_ANALYTICS": "1",
                       "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # dvc's `python`
        environment.pop("PYTHONPATH", None)  # the clone's own stages/ is the code that runs
        out = subprocess.run(testbed.command(host, list(argv), hidden=hidden_from(host), cwd=root), cwd=root,
                             env=environment, capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, f"{host}: {' '.join(argv)}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
        return out

    clones = {host: bed["root"] / f"clone-{host}" for host in ("worker1", "worker2")}

    def hidden_from(host):  # a worker host sees its own clone, not the other's
        return tuple(path for name, path in clones.items() if name != host)

    sh(origin, "git", "init", "-q", "-b", "main")
    on("driver", origin, sys.executable, "-m", "dvc", "init", "-q")
    on("driver", origin, sys.executable, "-m", "tools.object_store", "remote", "--endpoint", STORE)
    on("driver", origin, sys.executable, "-m", "dvc", "repro", "-q", "validate_features")
    sh(origin, "git", "add", "-A")
    sh(origin, "git", "commit", "-qm", "inputs of train")
    on("driver", origin, sys.executable, "-m", "dvc", "push", "-q")
    single = dict(yaml.safe_load((origin / "params.yaml").read_text()))
    single["train"]["distribute"] = "none"
    (origin / "params.yaml").write_text(yaml.safe_dump(single, sort_keys=False))
    on("driver", origin, sys.executable, "-m", "stages", "train")
    alone = json.loads((origin / "reports/train/metrics.json").read_text())
    on("driver", origin, sys.executable, "-m", "stages", "export")  # the raw-text model, for predict
    for clone in clones.values():
        sh(bed["root"], "git", "clone", "-q", str(origin), str(clone))
    for host, clone in clones.items():
        on(host, clone, sys.executable, "-m", "tools.object_store", "remote", "--endpoint", STORE)
        on(host, clone, sys.executable, "-m", "dvc", "pull", "-q", "--with-deps", "validate_features")
        assert (clone / "data/processed/embedding_matrix.npy").exists() and not (clone / "models").exists()
    yield {"clones": clones, "alone": alone, "env": env, "hidden_from": hidden_from, "origin": origin}


def train_on(host: str, tf_clones, index: int) -> subprocess.Popen:
    environment = {**os.environ, **tf_clones["env"], "TF_CONFIG": tf_config(index)}
    environment.pop("PYTHONPATH", None)
    return subprocess.Popen(testbed.command(host, [sys.executable, "-m", "stages", "train"],
                                            hidden=tf_clones["hidden_from"](host), cwd=tf_clones["clones"][host]),
                            cwd=tf_clones["clones"][host], env=environment, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_hosts_train_one_model_from_clones_filled_by_dvc_pull(tf_clones):
    """multi_worker across two hosts, each in its own clone: both finish, only the chief writes, and the accuracy
    is within a point of one process's on the same data."""
    runs = [train_on(host, tf_clones, index) for index, host in enumerate(("worker1", "worker2"))]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, err[-3000:]
    chief, worker = tf_clones["clones"]["worker1"], tf_clones["clones"]["worker2"]
    assert (chief / "models/model.keras").exists() and not (worker / "models").exists()
    assert "the chief writes the model" in outputs[1][0]
    together = json.loads((chief / "reports/train/metrics.json").read_text())
    assert together["epochs_run"] == tf_clones["alone"]["epochs_run"] == 3
    assert 0.6 < tf_clones["alone"]["eval"]["accuracy"] < 0.95  # the noise shows: neither chance nor perfect
    assert abs(together["eval"]["accuracy"] - tf_clones["alone"]["eval"]["accuracy"]) <= 0.01


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize("fault", ["the other host's trainer killed", "the other host cut off"])
def test_a_peer_lost_mid_training_ends_the_other_in_one_line_and_keeps_the_last_model(tf_clones, fault):
    chief = tf_clones["clones"]["worker1"]
    params = yaml.safe_load((chief / "params.yaml").read_text())
    params["train"]["epochs"] = 200  # longer than the test waits
    for clone in tf_clones["clones"].values():
        (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    model = chief / "models/model.keras"
    kept = model.read_bytes() if model.exists() else None
    runs = [train_on(host, tf_clones, index) for index, host in enumerate(("worker1", "worker2"))]
    survivor, lost = (runs[0], runs[1]) if "killed" in fault else (runs[1], runs[0])
    blamed = "worker 1 (198.18.0.22:2222)" if "killed" in fault else "worker 0 (198.18.0.21:2222)"
    try:
        time.sleep(25)  # TensorFlow imported, the cluster gathered, epochs under way
        assert survivor.poll() is None and lost.poll() is None, "training ended before the fault"
        started = time.monotonic()
        if "killed" in fault:
            lost.kill()
        else:
            testbed.cut("worker1")
        out, err = survivor.communicate(timeout=15 + 120)
        took = time.monotonic() - started
    finally:
        testbed.cut("worker1", "up")
        try:  # the cut-off chief loses its peer too: it ends by itself (and removes its temporaries)
            lost.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            pass
        for run in runs:
            run.kill()
            run.communicate()
    if "cut off" in fault:
        assert lost.returncode == 1, lost.returncode  # its own end (the test's SIGKILL would give -9)
    line = one_line(subprocess.CompletedProcess(survivor.args, survivor.returncode, out, err))
    assert survivor.returncode == 1 and line.startswith(f"train: {blamed} of the multi_worker cluster stopped"), line
    assert "train.peer_timeout" in line and "models/model.keras is the last one trained" in line
    assert took < 15 + 60, took  # the peer timeout, and room for a loaded machine
    assert (model.read_bytes() if model.exists() else None) == kept
    assert not list(chief.rglob(".*.tmp")) and not (tf_clones["clones"]["worker2"] / "models").exists()
