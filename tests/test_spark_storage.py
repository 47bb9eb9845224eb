"""The Spark engine's storage on S3 (`engine.spark.storage`), against the project's object store (SeaweedFS) and a
real local Spark session: the executors cannot see the project's folder (each Python worker starts in a mount
namespace of its own where the folder is an empty tmpfs), so they read only what the driver staged in the store.

The data stages give the local engine's bytes, a second run uploads nothing, `predict --out` scores alike, and
a wrong secret, a missing bucket or an unreachable endpoint is one line, bounded in time, the secret never shown.
"""
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests import fixtures
from tests.conftest import REPO, free_port
from tests.test_spark import DATA_STAGES, assert_same_files, project, run

BUCKET = "dvc"


def hidden_project_python(root: Path, hidden: Path) -> dict:
    """An executor Python that cannot see `hidden`: it starts in its own mount namespace with an empty tmpfs
    mounted over the folder, as on a worker host that has the software but not the project."""
    log, wrapper = root / "workers.log", root / "python-worker"
    wrapper.write_text(f'#!/bin/sh\necho started >> "{log}"\n'
                       f'exec unshare -m sh -c \'mount -t tmpfs tmpfs "{hidden}" && exec "$0" "$@"\' '
                       f'"{sys.executable}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespaces here ({probe.stderr.strip() or 'not root'})")
    return {"PYSPARK_PYTHON": str(wrapper)}


def objects(store) -> list[str]:
    from tests.test_object_store import s3

    listed = s3(store).list_objects_v2(Bucket=BUCKET, Prefix="stage/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def with_storage(root: Path, params: dict, url: str = f"s3://{BUCKET}/stage", timeout: int = 60) -> None:
    import yaml

    params["engine"]["spark"].update(storage=url, storage_timeout=timeout)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def test_data_stages_read_only_the_store_and_write_the_local_engines_bytes(default_params, tmp_path, object_store):
    reviews = fixtures.synthetic_reviews(300)
    local, spark = tmp_path / "local", tmp_path / "spark"
    project(local, default_params, "local", reviews)
    with_storage(spark, project(spark, default_params, "spark", reviews))
    env = {**object_store["env"], **hidden_project_python(tmp_path, spark)}
    for stage in DATA_STAGES[:4]:  # Parquet, ragged and padded arrays read from the store (the test bed runs all six)
        assert run(stage, local, PIPELINE_BLOCK_ROWS="100").returncode == 0, stage
        result = run(stage, spark, PIPELINE_BLOCK_ROWS="100", **env)
        assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"
        assert object_store["env"]["AWS_SECRET_ACCESS_KEY"] not in result.stdout + result.stderr
    assert_same_files(local, spark)
    assert (tmp_path / "workers.log").read_text().count("started") >= 1  # the tasks ran in Spark's workers
    staged = objects(object_store)
    assert any(k.endswith("/reviews.parquet") for k in staged) and any(k.endswith("/train_ids.npy") for k in staged)
    # again: pad's inputs (a folder of arrays and the vocabulary file) are in the store already, by content
    assert run("pad", spark, PIPELINE_BLOCK_ROWS="100", **env).returncode == 0
    assert objects(object_store) == staged
    assert_same_files(local, spark)
    for secret_holder in ("params.yaml", "dvc.lock", "reports"):
        path = spark / secret_holder
        texts = [p.read_text(errors="replace") for p in ([path] if path.is_file() else path.rglob("*"))
                 if p.is_file()] if path.exists() else []
        assert not any(object_store["env"]["AWS_SECRET_ACCESS_KEY"] in t for t in texts)


def test_predict_out_on_spark_reads_the_file_and_model_from_the_store(tiny, tmp_path, object_store):
    root, _ = tiny
    texts = [f"a {'great wonderful' if i % 2 else 'awful boring'} film number {i}" for i in range(300)]
    pd.DataFrame({"text": texts, "id": [f"r{i}" for i in range(300)]}).to_parquet(tmp_path / "in.parquet")
    params = (root / "params.yaml").read_text()
    try:
        import yaml

        p = yaml.safe_load(params)
        p["engine"]["spark"].update(storage=f"s3://{BUCKET}/stage", storage_timeout=60)
        (root / "params.yaml").write_text(yaml.safe_dump(p))
        env = {**os.environ, "PYTHONPATH": str(REPO), **object_store["env"]}
        outs = {}
        for engine in ("local", "spark"):
            out = tmp_path / f"{engine}.parquet"
            result = subprocess.run([sys.executable, "-m", "stages.predict", "--file", str(tmp_path / "in.parquet"),
                                     "--out", str(out), "--engine", engine], cwd=root, env=env, capture_output=True,
                                    text=True, timeout=600)
            assert result.returncode == 0, result.stderr[-3000:]
            outs[engine] = pd.read_parquet(out)
        pd.testing.assert_frame_equal(outs["local"], outs["spark"])
        assert any(k.endswith("/raw_text_model.keras") for k in objects(object_store))
    finally:
        (root / "params.yaml").write_text(params)


@pytest.mark.parametrize("fault", ["a wrong secret", "a missing bucket", "an unreachable endpoint"])
def test_bad_storage_is_one_line_within_the_timeout(default_params, tmp_path, object_store, fault):
    root = tmp_path / "p"
    params = project(root, default_params, "spark", fixtures.synthetic_reviews(200))
    env = dict(object_store["env"])
    url, endpoint = f"s3://{BUCKET}/stage", env["AWS_ENDPOINT_URL"]
    if fault == "a wrong secret":
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-" + env["AWS_SECRET_ACCESS_KEY"][:6]
        expected = f"access to the bucket {BUCKET} is refused"
    elif fault == "a missing bucket":
        url, expected = "s3://no-such-bucket/stage", "the bucket no-such-bucket does not exist"
    else:
        endpoint = env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        expected = "no answer from the store within 5 s (engine.spark.storage_timeout"
    with_storage(root, params)
    assert run("download", root, **object_store["env"]).returncode == 0  # with the right storage settings
    with_storage(root, params, url, timeout=5)
    before = sorted(p.name for p in (root / "data").rglob("*"))
    started = time.monotonic()
    result = run("validate_raw", root, **env)
    elapsed = time.monotonic() - started
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert expected in lines[0] and url in lines[0] and endpoint in lines[0], lines[0]
    assert env["AWS_SECRET_ACCESS_KEY"] not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and " at java." not in result.stderr
    assert elapsed < 5 + 60, elapsed  # the param's bound, with room for Python, Spark's start and a loaded machine
    assert sorted(p.name for p in (root / "data").rglob("*")) == before  # nothing written
    assert not (root / "reports/validation/raw.json").exists()
