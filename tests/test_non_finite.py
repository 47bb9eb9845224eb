"""Never a non-finite number: reviews with no token train to finite losses in every model, a loss that turns
NaN anyway stops training with an error, and evaluate refuses to write NaN metrics."""
import json
import shutil

import numpy as np
import pytest

from stages.lib.metrics import binary_metrics, non_finite_keys
from stages.lib.text import build_vocabulary, encode, tokenize
from stages.pad import pad_ragged
from tests.conftest import run_stage
from tests.fixtures import NO_LETTERS, synthetic_reviews
from tests.test_params import with_change


def corpus_with_empty_reviews(n=400, maxlen=30):
    """Padded ids of n synthetic reviews, 1% of which have no letter or digit (all-padding rows)."""
    reviews = synthetic_reviews(n)
    assert reviews["text"].isin(NO_LETTERS).mean() == pytest.approx(0.01)
    codes, uniques, offsets = encode(tokenize(reviews["text"]))
    vocabulary, id_of_code = build_vocabulary(codes, uniques, 60)
    x = pad_ragged(id_of_code[codes], offsets, maxlen)
    assert (x == 0).all(axis=1).sum() == n // 100
    return x, reviews["label"].to_numpy().astype(np.int32), len(vocabulary)


@pytest.mark.parametrize("model", ["flatten", "gap", "cnn", "bilstm", "fasttext", "nb_fasttext"])
def test_every_model_stays_finite_with_empty_reviews(model, default_params):
    from stages.train import train

    x, y, vocab_size = corpus_with_empty_reviews()
    matrix = np.random.default_rng(0).normal(size=(vocab_size, 50)).astype(np.float32)
    matrix[0] = 0
    params = with_change(default_params, "train.model", model)
    params["train"].update(epochs=3, batch_size=16, bigram_buckets=100, ngram_buckets=1000, learning_rate=0.01)
    trained, history = train(params, x, y, matrix)
    assert all(np.isfinite(history[k]).all() for k in ("loss", "val_loss")), history
    p = trained.predict(x, verbose=0)[:, 0]
    assert np.isfinite(p).all()
    metrics = binary_metrics(y, p, 0.5)
    assert non_finite_keys(metrics) == [] and metrics["accuracy"] > 0.5


def test_a_non_finite_loss_stops_training(default_params):
    from stages.lib.models import NonFiniteLossError
    from stages.train import train

    x, y, vocab_size = corpus_with_empty_reviews()
    matrix = np.full((vocab_size, 50), np.nan, dtype=np.float32)  # poisoned start: the loss is NaN at once
    params = with_change(default_params, "train.model", "fasttext")
    params["train"].update(epochs=2, batch_size=16, bigram_buckets=100, ngram_buckets=1000)
    with pytest.raises(NonFiniteLossError, match="epoch 1, batch 1: training loss is nan"):
        train(params, x, y, matrix)


def test_non_finite_keys_names_every_bad_value():
    metrics = {"test": {"accuracy": 0.9, "roc_auc": None, "log_loss": float("nan")}, "ood": {"n": 3},
               "x": float("inf")}
    assert non_finite_keys(metrics) == ["test.roc_auc", "test.log_loss", "x"]


def test_evaluate_refuses_a_nan_model_and_writes_nothing(tiny, tmp_path):
    """A model whose weights are NaN: evaluate exits non-zero, names the metrics, and leaves the reports as they were."""
    from stages.lib.keras_files import load_model, save_keras_reproducibly

    root, _ = tiny
    work = tmp_path / "work"
    shutil.copytree(root, work)
    model = load_model(work / "models/model.keras")
    model.get_layer("positive").set_weights([np.full_like(w, np.nan) for w in model.get_layer("positive").get_weights()])
    save_keras_reproducibly(model, work / "models/model.keras")
    before = {p: (work / p).read_bytes() for p in ("reports/metrics.json", "reports/predictions.csv", "reports/plots/roc.json")}
    result = run_stage("evaluate", work)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "non-finite probability for" in result.stderr and "nothing was written" in result.stderr
    assert {p: (work / p).read_bytes() for p in before} == before
    assert json.loads((work / "reports/metrics.json").read_text())["test"]["accuracy"] > 0.5
