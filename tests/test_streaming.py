"""Bounded memory: the data stages read and write a block of rows at a time, and their outputs must not depend on
the block size. The tiny project is run with blocks of 7 rows (so every split spans many blocks, Great
Expectations validates many batches, the vocabulary is counted across batches) and each output is compared with
what the same functions give on whole in-memory arrays."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.xdist_group("streaming")  # one module fixture (the data stages in blocks): on one worker

from tests.conftest import REPO
from tests.fixtures import tiny_project

DATA_STAGES = ["download", "validate_raw", "tokenize", "pad", "embed", "validate_features"]


def run_in_blocks(stage: str, cwd, rows: int):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_BLOCK_ROWS": str(rows)}
    result = subprocess.run([sys.executable, "-m", "stages", stage], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def blocked(tmp_path_factory, default_params_module):
    root = tmp_path_factory.mktemp("blocks")
    params = tiny_project(root, default_params_module)
    for stage in DATA_STAGES:
        run_in_blocks(stage, root, rows=7)
    return root, params


@pytest.fixture(scope="module")
def default_params_module():
    import yaml

    return yaml.safe_load((REPO / "params.yaml").read_text())


def as_json(obj):
    return json.loads(json.dumps(obj))


def test_raw_tables_equal_the_whole_file_read_at_once(blocked, monkeypatch):
    from stages.download import from_local

    root, params = blocked
    monkeypatch.chdir(root)
    chunks, *_ = from_local(params)
    whole = pd.concat(list(chunks), ignore_index=True)
    written = pd.read_parquet(root / "data/raw/reviews.parquet")
    pd.testing.assert_frame_equal(written, whole.astype(written.dtypes.to_dict()), check_dtype=False)
    assert pd.api.types.is_integer_dtype(written["label"]) and len(written) == 400


def test_ids_and_padded_arrays_equal_the_in_memory_functions(blocked):
    from stages.lib.ragged import load_ragged
    from stages.pad import pad_ragged
    from stages.tokenize import tokenize_splits

    root, params = blocked
    reviews = pd.read_parquet(root / "data/raw/reviews.parquet")
    frames = {"train": reviews[reviews["split"] == "train"], "test": reviews[reviews["split"] == "test"],
              "ood": pd.read_parquet(root / "data/raw/ood.parquet")}
    vocabulary, ragged = tokenize_splits(frames, params["tokenize"]["vocab_size"])
    assert (root / "data/interim/vocab.txt").read_text().split("\n")[:-1] == vocabulary
    interim, padded_dir = root / "data/interim", root / "data/processed/padded"
    for split, (ids, offsets) in ragged.items():
        labels = frames[split]["label"].to_numpy().astype(np.int32)
        padded = pad_ragged(ids, offsets, params["maxlen"], params["pad"]["padding"], params["pad"]["truncating"])
        # every file holds exactly the bytes np.save writes for the whole in-memory array: same hash, same dvc.lock
        for path, array in ((interim / f"{split}_ids.npy", ids.astype(np.int32)),
                            (interim / f"{split}_offsets.npy", offsets.astype(np.int64)),
                            (interim / f"{split}_labels.npy", labels),
                            (padded_dir / f"{split}_x.npy", padded), (padded_dir / f"{split}_y.npy", labels)):
            assert sha256(path.read_bytes()) == sha256(npy_bytes(array)), path
        np.testing.assert_array_equal(load_ragged(interim, split)[0], ids)
    assert len(ragged["train"][1]) - 1 > 7 * 10  # the training split really spanned many blocks


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def npy_bytes(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_validation_reports_equal_one_frame_validated_at_once(blocked, monkeypatch):
    from stages.lib.files import read_json, read_lines
    from stages.validate_features import validate as validate_features
    from stages.validate_raw import validate as validate_raw

    root, params = blocked
    monkeypatch.chdir(root)
    raw = root / "data/raw"
    whole = validate_raw(params, read_json(raw / "manifest.json"), pd.read_parquet(raw / "reviews.parquet"),
                         pd.read_parquet(raw / "ood.parquet"), read_lines(raw / "glove_words.txt"),
                         np.load(raw / "glove.npy"), rows=10 ** 9)
    assert read_json(root / "reports/validation/raw.json")["suites"] == as_json(whole)
    assert whole[0]["rows"] == 400 and whole[0]["success"]

    padded = root / "data/processed/padded"
    arrays = {s: (np.load(padded / f"{s}_x.npy"), np.load(padded / f"{s}_y.npy")) for s in ("train", "test", "ood")}
    whole = validate_features(params, arrays, np.load(root / "data/processed/embedding_matrix.npy"),
                              read_json(root / "reports/embedding.json"),
                              read_json(root / "reports/tokenize.json")["vocab_size"], rows=10 ** 9)
    assert read_json(root / "reports/validation/features.json")["suites"] == as_json(whole)


def test_embedding_coverage_counted_in_blocks_equals_the_whole(blocked):
    from stages.embed import build_matrix, coverage
    from stages.lib.files import read_json, read_lines

    root, params = blocked
    vocabulary = read_lines(root / "data/interim/vocab.txt")
    matrix, found = build_matrix(vocabulary, read_lines(root / "data/raw/glove_words.txt"),
                                 np.load(root / "data/raw/glove.npy"), params["embedding"]["oov_init"], params["seed"])
    np.testing.assert_array_equal(np.load(root / "data/processed/embedding_matrix.npy"), matrix)
    report = read_json(root / "reports/embedding.json")
    assert {k: report[k] for k in coverage(found, np.load(root / "data/interim/train_ids.npy"))} == \
        coverage(found, np.load(root / "data/interim/train_ids.npy"))


def test_training_from_the_file_equals_training_from_the_array(tmp_path, default_params_module):
    """The training matrix is read from disk batch by batch; the batches, and so the model, are the same."""
    from stages.train import train

    rng = np.random.default_rng(0)
    x = rng.integers(2, 40, size=(120, 10)).astype(np.int32)
    y = (x[:, 0] > 20).astype(np.int32)
    np.save(tmp_path / "x.npy", x)
    params = json.loads(json.dumps(default_params_module))
    params["train"].update(epochs=2, batch_size=16, bigram_buckets=100, ngram_buckets=1000)
    matrix = rng.normal(size=(50, 50)).astype(np.float32)
    from_array, history_array = train(params, x, y, matrix)
    from_file, history_file = train(params, tmp_path / "x.npy", y, matrix)
    assert history_array == history_file
    for a, b in zip(from_array.get_weights(), from_file.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_a_bad_block_size_is_a_message(tmp_path, default_params_module, value):
    tiny_project(tmp_path, default_params_module, n_reviews=40)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_BLOCK_ROWS": value}
    result = subprocess.run([sys.executable, "-m", "stages", "download"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"PIPELINE_BLOCK_ROWS: expected a whole number of rows, at least 1; got '{value}'" in result.stderr
    assert not (tmp_path / "data/raw").exists()


def test_predicting_from_the_file_equals_predicting_from_the_array_without_warnings(tmp_path):
    """evaluate predicts the padded file block by block: the same probabilities as from the array, and no
    Keras warning that the input "ran out of data" (a dataset of unknown length would print one)."""
    import warnings

    from stages.evaluate import predict
    from stages.lib.models import build_model

    x = np.random.default_rng(0).integers(0, 30, size=(2500, 12)).astype(np.int32)
    np.save(tmp_path / "x.npy", x)
    model = build_model("fasttext", 30, 8, 12, 0.1, None, True, 50, 1, 100, 2, 0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from_file = predict(model, tmp_path / "x.npy")
    np.testing.assert_array_equal(from_file, predict(model, x))
    assert len(from_file) == 2500
    assert not [w for w in caught if "ran out of data" in str(w.message)], [str(w.message) for w in caught]
