"""train.distribute: the same training under tf.distribute, checked on a CPU split into two logical devices."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.conftest import REPO, free_port

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    # Two logical CPU devices, set before TensorFlow starts: what a machine with two GPUs looks like to mirrored.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from stages.train import strategy_for, train

    params, x_path = json.loads(sys.argv[1]), sys.argv[2]
    y = np.load(sys.argv[3])
    strategy = strategy_for(params["train"]["distribute"])
    model, history = train(params, x_path, y, np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32))
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "val_accuracy": history["val_accuracy"],
                      "loss": history["loss"]}))
""")


def synthetic(tmp_path):
    """Reviews of ids 2-49 where word 5 marks a positive review and word 6 a negative one."""
    rng = np.random.default_rng(0)
    x = rng.integers(7, 50, size=(600, 12)).astype(np.int32)
    y = rng.integers(0, 2, size=600).astype(np.int32)
    x[:, 3] = np.where(y == 1, 5, 6)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path / "x.npy", tmp_path / "y.npy"


def run_training(tmp_path, params, distribute):
    params = json.loads(json.dumps(params))
    params["train"].update(model="nb_fasttext", distribute=distribute, epochs=3, patience=None, batch_size=32,
                           bigram_buckets=100, ngram_buckets=1000, learning_rate=0.01)
    params["embedding"]["pretrained"] = False
    x, y = synthetic(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(params), str(x), str(y)], env=env,
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("distribute, replicas", [("mirrored", 2), ("none", 1)])
def test_training_on_two_logical_devices_learns(tmp_path, default_params, distribute, replicas):
    out = run_training(tmp_path, default_params, distribute)
    assert out["replicas"] == replicas
    assert all(np.isfinite(out["loss"])) and out["loss"][-1] < out["loss"][0]
    assert 0.9 <= out["val_accuracy"][-1] <= 1.0  # word 5 or 6 gives the label away


def test_multi_worker_without_tf_config_is_a_message(tmp_path, default_params, monkeypatch):
    from stages.train import strategy_for

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit, match="TF_CONFIG is not set"):
        strategy_for("multi_worker")


@pytest.mark.parametrize("config, chief", [
    (None, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}, True),
])
def test_only_the_chief_writes_outputs(monkeypatch, config, chief):
    from stages.train import is_chief

    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert is_chief() is chief


@pytest.mark.parametrize("distribute", ["none", "mirrored"])
def test_tf_config_without_multi_worker_is_an_error_naming_both(monkeypatch, distribute):
    """A worker process started with TF_CONFIG but train.distribute none trained alone and wrote no model."""
    from stages.train import refuse_a_stray_cluster

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
                                                "task": {"type": "worker", "index": 1}}))
    with pytest.raises(SystemExit, match=f"TF_CONFIG is set .* but train.distribute is {distribute}"):
        refuse_a_stray_cluster(distribute)
    refuse_a_stray_cluster("multi_worker")  # what TF_CONFIG is for
    monkeypatch.delenv("TF_CONFIG")
    refuse_a_stray_cluster(distribute)  # nothing to refuse


CLUSTER = {"worker": ["198.18.0.21:2222", "198.18.0.22:2222"]}


@pytest.mark.parametrize("index, message, blamed", [
    # the chief, whose coordination service saw worker 1's heartbeats stop (worker 1 killed)
    (0, "{{function_node __wrapped__CollectiveReduceV2_Nordering_token_1_device_/job:worker/replica:0/task:0/device:"
        "CPU:0}} Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks are "
        "unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\n", "worker 1 (198.18.0.22:2222)"),
    # worker 1, whose heartbeats to the chief's coordination service went unanswered (the chief's link cut)
    (1, "{{function_node __wrapped__CollectiveReduceV2_Nordering_token_1_device_/job:worker/replica:0/task:1/device:"
        "CPU:0}} Collective ops is aborted by: Deadline Exceeded\n\nRPC: /tensorflow.CoordinationService/Heartbeat",
     "worker 0 (198.18.0.21:2222)"),
    (0, "cluster check alive failed, /job:worker/replica:0/task:1 is down", "worker 1 (198.18.0.22:2222)"),
    (0, "Socket closed", "a machine (198.18.0.21:2222, 198.18.0.22:2222)"),  # nothing named: every address
])
def test_the_lost_machine_is_named_by_its_address(monkeypatch, index, message, blamed):
    """TensorFlow's messages (copied from the test bed's runs) name tasks; the user knows addresses."""
    from stages.train import lost_peer

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": index}}))
    assert lost_peer(message) == blamed


def test_a_machine_that_never_joins_is_one_line_within_the_peer_timeout(tmp_path, default_params):
    """multi_worker started on one of two machines: TensorFlow would wait for the other forever."""
    import time

    from tests.fixtures import tiny_project

    params = tiny_project(tmp_path, default_params)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for stage in ["download", "validate_raw", "tokenize", "pad", "embed"]:
        done = subprocess.run([sys.executable, "-m", "stages", stage], cwd=tmp_path, env=env, capture_output=True)
        assert done.returncode == 0, done.stderr[-2000:]
    params["train"].update(distribute="multi_worker", peer_timeout=5)
    (tmp_path / "params.yaml").write_text(__import__("yaml").safe_dump(params))
    addresses = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]  # nothing will listen on the second
    env["TF_CONFIG"] = json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": 0}})
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "stages", "train"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    took = time.monotonic() - started
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr[-3000:]
    assert lines[0] == (f"train: not every machine of TF_CONFIG ({', '.join(addresses)}) joined within 5 s "
                        "(train.peer_timeout); start `python -m stages train` on each of them, with the same params")
    assert took < 5 + 60  # the timeout, and TensorFlow's import on a loaded machine
    assert not (tmp_path / "models").exists() and not (tmp_path / "reports/train").exists()
