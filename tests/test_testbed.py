"""The cluster path across hosts (tools.testbed: network namespaces on a bridge, 198.18.0.0/24): the object store on
`storage`, a Spark master on `master`, a worker on each of `worker1` and `worker2` (which cannot see the
project's folder, nor the scratch project), and the stages run on `driver` with `engine.spark.storage`.

The data stages give the local engine's bytes with their executors on the worker hosts; faults are caused for
real: a worker killed or cut off mid-stage (the stage finishes, same bytes), every worker lost (one line within
the timeout), the store's host cut off, a wrong secret. Everything started is stopped, and every namespace
removed, also when a test fails.
"""
import fcntl
import json
import os
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


FAST_LOSS = {"spark.network.timeout": "20s", "spark.network.timeoutInterval": "10s",
             "spark.executor.heartbeatInterval": "4s"}  # a lost host, in 20 s


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
    assert took < 6 + 15 + 20 + 60  # the fault, the timeout, the heartbeat timeout, room for a loaded machine
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
