"""The machine's own troubles: Ctrl-C in a stage or in `predict`, and a disk that fills up while a stage writes.
Each ends in one line of message and a non-zero exit, with no traceback and no temporaries, and a later run
recovers."""
import errno
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_stage
from tests.handled import handled
from tests.fixtures import tiny_project

ENV = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
handled("The machine", "a full disk while a stage writes", "a read-only output folder", "Ctrl-C in training",
        "Ctrl-C in predict", "Ctrl-C that a library swallowed", module="test_interrupts")


def leftovers(root: Path) -> list[str]:
    return [str(p) for p in root.rglob(".*.tmp")]


def run_until(root: Path, last: str) -> None:
    for stage in ("check_params", "download", "validate_raw", "tokenize", "pad", "embed", "validate_features"):
        result = run_stage(stage, root)
        assert result.returncode == 0, result.stderr[-2000:]
        if stage == last:
            return


def wait_for(proc: subprocess.Popen, needle: bytes, seconds: float) -> bytes:
    """Output of proc until `needle` appears in it (or the time is up)."""
    seen, deadline = b"", time.time() + seconds
    while needle not in seen and time.time() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            seen += os.read(proc.stdout.fileno(), 65536)
    return seen


def test_ctrl_c_during_training_says_interrupted_and_leaves_nothing(tmp_path, default_params):
    params = tiny_project(tmp_path, default_params)
    params["train"].update(epochs=500, patience=None)  # long enough to be interrupted in the middle
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    run_until(tmp_path, "validate_features")
    proc = subprocess.Popen([sys.executable, "-m", "stages", "train"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = wait_for(proc, b"Epoch 3/", 120)
    assert b"Epoch 3/" in seen, seen[-2000:]
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert leftovers(tmp_path) == [] and not (tmp_path / "models").exists()
    assert not (tmp_path / "reports/train").exists()


def test_ctrl_c_in_predict_says_interrupted(tiny):
    root, _ = tiny
    proc = subprocess.Popen([sys.executable, "-m", "stages.predict", "-"], cwd=root, env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(3)  # loading the model, or waiting for reviews on standard input: either way, Ctrl-C
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 130 and lines[-1] == "interrupted", err.decode()[-2000:]
    assert all(line.startswith("predict: ") for line in lines[:-1])  # which model it was loading, nothing else


# Python runs the Ctrl-C handler in whatever code the main thread is in, and libraries run code under a bare
# `except:` (TensorFlow's finalizers, Keras' structure checks): there the handler's exit is swallowed. These
# scripts are such a library, in a process that installed the handler as `python -m stages ...` does.
AS_A_STAGE = "import sys; sys.argv[:1] = ['-m']; import stages\n"
SWALLOW = """
def swallowed_ctrl_c():
    import os, signal
    try:
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))  # the handler runs here, in Python code under the bare except
    except:  # noqa: E722
        pass
"""


def run_script(root: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", AS_A_STAGE + SWALLOW + script], cwd=root, env=ENV,
                          capture_output=True, text=True, timeout=300)


def test_ctrl_c_that_a_library_swallowed_still_commits_no_output(tmp_path):
    result = run_script(tmp_path, """
from stages.lib.files import atomic_dir, atomic_path
with atomic_dir("reports/train") as folder:
    (folder / "metrics.json").write_text("{}")
    with atomic_path("models/model.keras") as tmp:
        tmp.write_text("half")
        swallowed_ctrl_c()
        tmp.write_text("whole")
    print("committed")
""")
    assert result.returncode == 130 and result.stderr.strip().splitlines() == ["interrupted"], result.stderr
    assert "committed" not in result.stdout
    assert leftovers(tmp_path) == [] and not (tmp_path / "models/model.keras").exists()
    assert not (tmp_path / "reports/train").exists()


def test_ctrl_c_that_a_library_swallowed_stops_training_at_that_step(tmp_path):
    result = run_script(tmp_path, """
import keras, numpy as np, tensorflow as tf
from stages.lib.loop import build_for_training, fit
x, y = np.zeros((64, 3), np.float32), np.zeros(64, np.float32)
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
build_for_training(model, x[:1], y[:1])

class Steps(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print("step", batch, flush=True)
        if batch == 2:
            swallowed_ctrl_c()

fit(model, tf.distribute.get_strategy(), data, data, epochs=50, steps=8, callbacks=[Steps()], verbose=0)
print("trained")
""")
    assert result.returncode == 130 and result.stderr.strip().splitlines()[-1] == "interrupted", result.stderr
    assert result.stdout.split() == ["step", "0", "step", "1", "step", "2"], result.stdout



def test_ctrl_c_that_a_library_swallowed_while_predict_loads_still_exits_130(tmp_path):
    result = subprocess.run([sys.executable, "-c", AS_A_STAGE + SWALLOW + """
import stages.predict as predict
predict.load = lambda path: swallowed_ctrl_c()  # the model's loading, in a library that swallows the interrupt
predict.main(["-"])
print("scored")
"""], cwd=tmp_path, env=ENV, input="a fine film\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 130 and result.stderr.strip().splitlines()[-1] == "interrupted", result.stderr
    assert result.stdout == "", result.stdout  # no header, no rows


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB tmpfs of its own (needs root, as CI is); skipped with the reason where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True,
                         text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a small file system here ({out.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill the file system to the last byte; returns the filler file."""
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC
    return filler


def test_a_full_disk_is_a_message_and_the_next_run_recovers(small_disk, default_params):
    tiny_project(small_disk, default_params)
    run_until(small_disk, "validate_raw")
    filler = fill(small_disk)
    result = run_stage("tokenize", small_disk)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "No space left on device; free some disk space, then run `dvc repro` again" in result.stderr
    # the output the stage was writing is named, never its temporary (the user never sees those)
    assert result.stderr.startswith("tokenize: data/interim: ") and ".tmp" not in result.stderr, result.stderr
    assert leftovers(small_disk) == [] and not (small_disk / "data/interim").exists()
    filler.unlink()
    result = run_stage("tokenize", small_disk)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (small_disk / "data/interim/vocab.txt").exists()


def test_a_read_only_output_folder_names_the_output_and_the_next_run_recovers(small_disk, default_params):
    tiny_project(small_disk, default_params)
    run_until(small_disk, "validate_raw")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        result = run_stage("tokenize", small_disk)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.startswith("tokenize: data/interim: Read-only file system; the file system is read-only")
    assert ".tmp" not in result.stderr and leftovers(small_disk) == []
    result = run_stage("tokenize", small_disk)
    assert result.returncode == 0, result.stderr[-2000:]
