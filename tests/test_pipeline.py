"""The whole pipeline on a tiny dataset (local source): training, evaluation, export, and determinism."""
import hashlib
import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.lib.params import ParamsError, check_params
from tests.conftest import run_pipeline
from tests.test_params import with_change

def digest(root) -> dict:
    files = sorted(p for d in ("data", "reports", "models") for p in (root / d).rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_metrics_in_range_and_agree_with_saved_predictions(tiny):
    root, params = tiny
    metrics = pd.read_json(root / "reports/metrics.json", typ="series")
    test = metrics["test"]
    predictions = pd.read_csv(root / "reports/predictions.csv")
    y, p = predictions["label"].to_numpy(), predictions["probability"].to_numpy()
    assert len(predictions) == test["n"] > 0
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert 0.0 <= test[key] <= 1.0
    assert test["log_loss"] >= 0
    predicted = (p > params["evaluate"]["threshold"]).astype(int)
    assert test["accuracy"] == pytest.approx((predicted == y).mean(), abs=1e-6)
    tp = ((predicted == 1) & (y == 1)).sum()
    assert test["precision"] == pytest.approx(tp / max(predicted.sum(), 1), abs=1e-6)
    assert test["recall"] == pytest.approx(tp / (y == 1).sum(), abs=1e-6)
    # AUC from its definition: the share of (positive, negative) pairs ranked the right way, ties half.
    pairs = [(a, b) for a, b in itertools.product(p[y == 1], p[y == 0])]
    auc = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs])
    assert test["roc_auc"] == pytest.approx(auc, abs=1e-4)
    assert test["accuracy"] > 0.6  # sentiment words carry the label in the tiny data
    buckets = metrics["test_by_length"]
    assert sum(b["n"] for b in buckets.values()) == test["n"]


def test_plots_and_reports_exist(tiny):
    root, _ = tiny
    import json
    roc = json.loads((root / "reports/plots/roc.json").read_text())["roc"]
    assert (roc[0]["fpr"], roc[0]["tpr"]) == (0.0, 0.0) and (roc[-1]["fpr"], roc[-1]["tpr"]) == (1.0, 1.0)
    assert all(a["fpr"] <= b["fpr"] and a["tpr"] <= b["tpr"] for a, b in zip(roc, roc[1:]))
    confusion = pd.read_csv(root / "reports/plots/confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted"]
    assert set(confusion["actual"]) <= {"negative", "positive"} and set(confusion["predicted"]) <= {"negative", "positive"}
    steps = pd.read_csv(root / "reports/train/plots/metrics/train/loss.tsv", sep="\t")
    assert len(steps) >= 1 and {"step", "loss"} <= set(steps.columns)
    assert (root / "reports/train/plots/metrics/eval/accuracy.tsv").exists()
    assert "Most confidently wrong" in (root / "reports/errors.md").read_text()


def test_projector_files(tiny):
    root, params = tiny
    folder = root / "reports/projector"
    vocabulary = (root / "data/interim/vocab.txt").read_text().split("\n")[:-1]
    counts = np.bincount(np.load(root / "data/interim/train_ids.npy"), minlength=len(vocabulary))
    for space in ("trained", "glove"):
        vecs = (folder / space / "vecs.tsv").read_text().splitlines()
        meta = pd.read_csv(folder / space / "meta.tsv", sep="\t", keep_default_na=False, quoting=3)
        assert list(meta.columns) == ["word", "sentiment", "count", "count_band"]  # a header row: several columns
        assert len(vecs) == len(meta) > 0
        assert all(len(line.split("\t")) == params["data"]["glove_dim"] for line in vecs)
        assert "" not in set(meta["word"])  # the padding row is left out
        assert meta["sentiment"].between(0, 1).all() and meta["sentiment"].nunique() > 1
        assert (meta["count"].to_numpy() == counts[[vocabulary.index(w) for w in meta["word"]]]).all()
    trained = pd.read_csv(folder / "trained/meta.tsv", sep="\t", keep_default_na=False, quoting=3)
    assert trained["word"].tolist() == vocabulary[1:]
    assert trained.loc[trained["word"] == "great", "sentiment"].item() > 0.5  # the tiny data's positive word
    config = (folder / "projector_config.pbtxt").read_text()
    paths = [line.split('"')[1] for line in config.splitlines() if "_path" in line]
    assert len(paths) == 4 and all((folder / p).is_file() for p in paths)
    neighbours = (root / "reports/neighbours.md").read_text()
    assert "## great" in neighbours and "not in the vocabulary" in neighbours
    svg = (root / "reports/embedding_map.svg").read_text()  # the picture: both spaces, probes in bold
    labels = re.findall(r'text-anchor="\w+" font-size="\d+" font-weight="bold" fill="#[0-9a-f]{6}">([^<]+)</text>',
                        svg)  # the maps' labels (the neighbour lists below them have no anchor)
    probes_known = [w for w in params["export"]["probe_words"] if w in vocabulary]
    assert probes_known and sorted(set(labels)) == sorted(probes_known) and len(labels) == 2 * len(probes_known)
    assert "Before training: GloVe" in svg and "After training" in svg
    assert "(not in the vocabulary)" in svg  # the lists name every probe word, one the vocabulary lacks too


def test_raw_text_model_agrees_with_pipeline(tiny):
    root, _ = tiny
    from stages.predict import load, score

    model = load(root / "models/raw_text_model.keras")
    reviews = pd.read_parquet(root / "data/raw/reviews.parquet")
    texts = reviews[reviews["split"] == "test"]["text"].tolist()
    pipeline = pd.read_csv(root / "reports/predictions.csv")["probability"].to_numpy()
    np.testing.assert_allclose(score(model, texts), pipeline, atol=2e-6)


def test_second_run_gives_identical_bytes(tiny, tmp_path):
    root, _ = tiny
    import yaml
    from tests.conftest import REPO
    run_pipeline(tmp_path, yaml.safe_load((REPO / "params.yaml").read_text()))
    first, second = digest(root), digest(tmp_path)
    assert len(first) > 30
    assert first == second


@pytest.mark.parametrize("model", ["flatten", "gap", "cnn", "bilstm", "fasttext", "nb_fasttext"])
def test_each_model_builds_and_trains(model, default_params):
    from stages.train import train

    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, size=(64, 12)).astype(np.int32)
    y = (x[:, 0] > 25).astype(np.int32)
    matrix = rng.normal(size=(50, 50)).astype(np.float32)
    params = with_change(default_params, "train.model", model)
    params["train"].update(epochs=2, batch_size=16, bigram_buckets=100, ngram_buckets=1000)
    trained, history = train(params, x, y, matrix)
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()
    p = trained.predict(x, verbose=0)
    assert p.shape == (64, 1) and ((p >= 0) & (p <= 1)).all()
    embedding = trained.get_layer("embedding").get_weights()[0]
    assert embedding.shape[1] == 50
    # export's sentiment of a word: the id alone for the models that mask padding, wherever the padding goes
    from stages.export import word_sentiment
    from stages.lib.models import MASKED

    post, pre = np.zeros((50, 12), np.int32), np.zeros((50, 12), np.int32)
    post[:, 0] = pre[:, -1] = np.arange(50)
    as_padded = {name: trained.predict(ids, verbose=0)[:, 0] for name, ids in (("post", post), ("pre", pre))}
    if model in MASKED:
        alone = word_sentiment(trained, None, [f"w{i}" for i in range(50)], model)
        for padded in as_padded.values():
            np.testing.assert_allclose(alone, padded, atol=1e-6)
    else:  # where the padding goes changes these models' scores: export pads each word as predict does
        assert np.abs(as_padded["post"] - as_padded["pre"]).max() > 1e-4


def test_frozen_glove_stays_frozen(default_params):
    from stages.train import train

    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(64, 12)).astype(np.int32)
    y = (x[:, 0] > 25).astype(np.int32)
    matrix = rng.normal(size=(50, 50)).astype(np.float32)
    params = with_change(default_params, "train.model", "flatten")
    params["embedding"].update(pretrained=True, trainable=False)
    params["train"].update(epochs=1, batch_size=16)
    trained, _ = train(params, x, y, matrix)
    np.testing.assert_array_equal(trained.get_layer("embedding").get_weights()[0], matrix)


@pytest.mark.parametrize("padding, truncating", [("pre", "pre"), ("post", "pre"), ("pre", "post")])
def test_raw_text_layer_pads_like_the_pad_stage(padding, truncating):
    import tensorflow as tf
    from stages.lib.raw_text import RawTextToIds
    from stages.lib.text import build_vocabulary, encode, tokenize
    from stages.pad import pad_ragged
    from tests.test_text import SAMPLE

    codes, uniques, offsets = encode(tokenize(SAMPLE))
    vocabulary, id_of_code = build_vocabulary(codes, uniques, 30)
    expected = pad_ragged(id_of_code[codes], offsets, 6, padding, truncating)
    layer = RawTextToIds(vocabulary, 6, padding, truncating)
    np.testing.assert_array_equal(layer(tf.constant(SAMPLE)[:, None]).numpy(), expected)


@pytest.mark.parametrize("key, value, message", [
    ("train.model", "transformer", "train.model: expected one of 'flatten', 'gap', 'cnn', 'bilstm', 'fasttext', 'nb_fasttext'"),
    ("train.dropout", -0.1, "train.dropout: expected a value >= 0.0, got -0.1"),
    ("train.lr_decay", 0, "train.lr_decay: expected a number > 0.0, got 0"),
    ("train.lr_decay", 1.5, "train.lr_decay: expected a value <= 1.0, got 1.5"),
    ("train.max_train_samples", 0, "train.max_train_samples: expected a value >= 2, got 0"),
    ("embedding.trainable", "yes", "embedding.trainable: expected true or false, got 'yes'"),
    ("evaluate.length_buckets", [200, 100], "evaluate.length_buckets: expected a list of increasing positive"),
])
def test_bad_training_params_fail_fast(default_params, key, value, message):
    with pytest.raises(ParamsError) as err:
        check_params(with_change(default_params, key, value))
    assert message in str(err.value)


def test_train_metrics_are_those_of_the_kept_epoch(tiny):
    """reports/train/metrics.json holds the epoch early stopping restored (lowest validation loss), not the last."""
    import json

    root, _ = tiny
    metrics = json.loads((root / "reports/train/metrics.json").read_text())
    curve = pd.read_csv(root / "reports/train/plots/metrics/eval/loss.tsv", sep="\t")
    best = int(curve["loss"].idxmin())
    assert metrics["step"] == int(curve["step"][best]) and metrics["epochs_run"] == len(curve)
    assert metrics["eval"]["loss"] == pytest.approx(curve["loss"][best], rel=1e-6)


def test_best_epoch_metrics_pick_the_first_lowest_validation_loss():
    from stages.train import best_epoch_metrics

    history = {"loss": [0.6, 0.4, 0.3, 0.2], "accuracy": [0.6, 0.8, 0.85, 0.9],
               "val_loss": [0.5, 0.35, 0.35, 0.4], "val_accuracy": [0.7, 0.82, 0.83, 0.81]}
    assert best_epoch_metrics(history) == {"train": {"accuracy": 0.8, "loss": 0.4},
                                           "eval": {"accuracy": 0.82, "loss": 0.35}, "step": 1, "epochs_run": 4}
    assert best_epoch_metrics(history, early_stopping=False)["step"] == 3  # patience null keeps the last epoch


def test_tensorboard_projector_loads_both_spaces_with_their_metadata_columns(tiny):
    """`tensorboard --logdir reports/projector`, as docs/models.md says, on 127.0.0.1: its Projector plugin lists
    both spaces with their shapes and serves the metadata with its header (what the page colours by)."""
    import json
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.conftest import free_port

    root, params = tiny
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "tensorboard"), "--logdir", "reports/projector",
                               "--host", "127.0.0.1", "--port", str(port)], cwd=root, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})

    def get(path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/projector/{path}", timeout=10) as answer:
            return answer.read()

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                assert json.loads(get("runs")) == ["."]
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "TensorBoard did not start in 90 s"
                time.sleep(0.5)
        spaces = {e["tensorName"]: e for e in json.loads(get("info?run=."))["embeddings"]}
        assert set(spaces) == {"trained", "glove"}
        for name, space in spaces.items():
            meta = (root / "reports/projector" / name / "meta.tsv").read_bytes()
            assert space["tensorShape"] == [len(meta.splitlines()) - 1, params["data"]["glove_dim"]]  # - the header
            served = get(f"metadata?run=.&name={name}&num_rows=100000")
            assert served.decode().splitlines() == meta.decode().splitlines()
            assert served.startswith(b"word\tsentiment\tcount\tcount_band\n")
    finally:
        server.kill()
        server.wait()
