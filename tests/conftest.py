import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# TensorFlow's C++ log lines (oneDNN banner, absl's pre-init warning, I/W/E0000 lines): none may reach a user
TF_LOG_NOISE = re.compile(r"^.*(?:oneDNN custom operations|absl::InitializeLog|^[IWE]\d{4} \d\d:\d\d:\d\d).*$", re.M)
STAGES = list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])  # in pipeline order

# Two tiers. `slow`: the real dvc CLI, whole tiny pipelines, Spark sessions running the stages, the browser, and
# the stage or predict subprocesses of the bad-input checks (seconds each). `make test-fast` runs the rest;
# `make test` (CI) runs both. Measured with `pytest --durations`; a test that needs the tiny pipeline is slow.
SLOW_MODULES = {"test_dvc_cli", "test_spark", "test_example", "test_pipeline", "test_browser", "test_bad_inputs",
                "test_predict", "test_temporaries", "test_streaming", "test_distribute", "test_non_finite",
                "test_interrupts", "test_predict_streams", "test_object_store", "test_spark_storage", "test_testbed", "test_progress", "test_peers", "test_spark_cluster"}
SLOW_FIXTURES = {"tiny"}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: seconds to minutes each (dvc CLI, pipelines, Spark, browser); "
                                       "`make test-fast` leaves them out")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """`--dist loadgroup` keeps an `xdist_group` on one worker by a suffix pytest-xdist adds to the node ids; with a
    pytest whose node ids take no suffix (9.2 with pytest-xdist 3.8) the group is spread over the workers silently.
    Each test of a group fails then, before its fixtures are set up."""
    groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group")})
    if groups and getattr(item.config.option, "loadgroup", False) and not item.nodeid.endswith("@" + "_".join(groups)):
        pytest.fail(f"its xdist_group {groups} is not applied by this pytest and pytest-xdist: pin the versions of "
                    "requirements-test.txt", pytrace=False)


# `TEST_TIMES=reports/testbed.json pytest tests/test_testbed.py` (`make testbed-times`): each passed test's time
# (its call, and the setup of the fixtures it was first to need), for the figures docs/scale.md shows.
_TIMES: dict = {}


def pytest_runtest_logreport(report):
    if os.environ.get("TEST_TIMES") and report.passed and report.when in ("setup", "call"):
        name = report.nodeid.split("::", 1)[-1]
        _TIMES.setdefault(name, {"setup": 0.0, "call": 0.0})[report.when] = round(report.duration, 1)


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("TEST_TIMES")
    if path and _TIMES and not hasattr(session.config, "workerinput"):  # the controller, under pytest-xdist too
        import json
        import platform

        Path(path).write_text(json.dumps({"command": f"TEST_TIMES={path} pytest {' '.join(session.config.args)}",
                                          "cores": os.cpu_count(), "machine": platform.machine(),
                                          "all_passed": exitstatus == 0, "tests": _TIMES}, indent=2) + "\n")


@pytest.fixture
def default_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def run_stage(module: str, cwd: Path, params: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m stages <module>` in `cwd` (a scratch project), as DVC would."""
    if params is not None:
        (cwd / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS"):  # the stages' own defaults must keep them quiet
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "stages", module], cwd=cwd, env=env,
                          capture_output=True, text=True)


def run_pipeline(root: Path, default_params: dict, **train) -> dict:
    """All stages of dvc.yaml, in order, on the tiny dataset in `root`; returns the params used."""
    from tests.fixtures import tiny_project

    params = tiny_project(root, default_params)
    params["train"].update(train)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    for stage in STAGES:
        result = run_stage(stage, root)
        assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"
        noise = TF_LOG_NOISE.findall(result.stdout + result.stderr)
        assert not noise, f"{stage} printed TensorFlow/absl log lines: {noise[:3]}"
    return params


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A scratch project after a full run of the pipeline on the tiny dataset (1% of reviews without letters),
    built once per session and copied for each worker."""
    from tests.fixtures import built_once

    root = built_once(tmp_path_factory, "tiny", lambda folder: run_pipeline(
        folder, yaml.safe_load((REPO / "params.yaml").read_text())))
    return root, yaml.safe_load((root / "params.yaml").read_text())


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def object_store_tool(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m tools.object_store ...` run in `folder` (its .object-store/ lives there)."""
    return subprocess.run([sys.executable, "-m", "tools.object_store", *args], cwd=folder, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


@pytest.fixture(scope="module")
def object_store(tmp_path_factory):
    """A SeaweedFS S3 store started with the project's tool in a folder of its own; stopped afterwards, also when
    a test failed. Yields the endpoint, the bucket and the AWS_* variables that reach it."""
    folder = tmp_path_factory.mktemp("store")
    out = object_store_tool(folder, "start", "--port", str(free_port()))
    assert out.returncode == 0, out.stderr + out.stdout
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines()
                   if line.startswith("export "))
    try:
        yield {"folder": folder, "endpoint": exports["AWS_ENDPOINT_URL"], "bucket": "dvc", "env": exports}
    finally:
        object_store_tool(folder, "stop")
