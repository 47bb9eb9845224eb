"""The `baseline` stage (TF-IDF + logistic regression, NBSVM) on the tiny dataset, and the report's margin line."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from stages.baseline import MODELS, nb_ratios, token_strings
from stages.lib.metrics import binary_metrics
from stages.lib.text import tokenize
from tools.pr_report import margin_check, metric_check, verdict_lines


def test_baseline_metrics_in_range_and_recomputed_from_saved_predictions(tiny):
    root, params = tiny
    metrics = json.loads((root / "reports/baseline/metrics.json").read_text())
    predictions = pd.read_csv(root / "reports/baseline/predictions.csv")
    model_predictions = pd.read_csv(root / "reports/predictions.csv")
    assert predictions["id"].tolist() == model_predictions["id"].tolist()  # the same test reviews as the model
    y = predictions["label"].to_numpy()
    for name in MODELS:
        test = metrics[name]["test"]
        assert test["n"] == len(predictions) > 0 and 0.6 < test["accuracy"] <= 1 and 0.5 < test["roc_auc"] <= 1
        again = binary_metrics(y, predictions[name].to_numpy(), params["evaluate"]["threshold"])
        for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"):
            assert test[key] == pytest.approx(again[key], abs=2e-6), (name, key)
        assert "ood" not in metrics[name]  # the local source has no out-of-domain set
    assert metrics["best"]["test_accuracy"] == max(metrics[n]["test"]["accuracy"] for n in MODELS)


def test_baselines_read_the_pipeline_tokens():
    texts = ["Don't miss it!<br />A <b>GREAT</b> film", "😀"]
    assert token_strings(texts) == [" ".join(t) for t in tokenize(texts).to_pylist()] == ["dont miss it a b great b film", ""]


def test_nb_ratios_match_the_formula():
    x = sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1]]))
    y = np.array([1, 1, 0])
    p, q = np.array([3, 2, 1]), np.array([1, 2, 2])  # alpha 1 plus the counts per class
    np.testing.assert_allclose(nb_ratios(x, y, 1.0), np.log((p / p.sum()) / (q / q.sum())))


def test_margin_and_metric_checks_and_verdict():
    model, baseline = {"test": {"accuracy": 0.92}}, {"best": {"test_accuracy": 0.9172}}
    check = margin_check(model, baseline, 0.0)
    assert check.status == "PASS" and check.figures.startswith("+0.0028 (model 0.9200, best baseline 0.9172)")
    assert margin_check(model, baseline, 0.005).status == "FAIL"
    assert margin_check(model, None, 0.0).status == "not checked"
    same = {"reports/metrics.json": {"test.accuracy": {"old": 0.92, "new": 0.92, "diff": 0.0}}}
    drop = {"reports/metrics.json": {"test.accuracy": {"old": 0.92, "new": 0.91, "diff": -0.01}}}
    assert metric_check(same, "test.accuracy", 0.005).status == "PASS"  # unchanged is a pass
    assert metric_check(drop, "test.accuracy", 0.005).status == "FAIL"
    assert metric_check(drop, "test.accuracy", 0.02).status == "PASS"
    assert metric_check({}, "test.accuracy", 0.005).status == "FAIL"  # no value in the workspace
    assert metric_check({"reports/metrics.json": {"test.accuracy": {"old": None, "new": 0.9}}}, "test.accuracy",
                        0.005).status == "PASS"  # a new metric has nothing to drop from
    lines, ok = verdict_lines([metric_check(same, "test.accuracy", 0.005), margin_check(model, baseline, 0.01)],
                              "main")
    assert not ok and lines[0].startswith("# FAIL: 1 of 2 checks failed")
    assert lines[2].startswith("- **PASS** `test.accuracy`: 0.9200 → 0.9200 (+0.0000)")
    assert lines[3].startswith("- **FAIL** margin over the best baseline: +0.0028") and "at least +0.0100" in lines[3]
    lines, ok = verdict_lines([metric_check(same, "test.accuracy", 0.005), margin_check(model, None, 0.0)], "main")
    assert ok and lines[0].startswith("# PASS") and "**not checked** margin" in lines[3]



def test_a_corpus_above_max_train_reviews_skips_the_baselines_with_a_message(tmp_path, default_params, monkeypatch):
    from stages import baseline

    raw = tmp_path / "data/raw"
    raw.mkdir(parents=True)
    pd.DataFrame({"id": ["a", "b", "c"], "text": ["good", "bad", "fine"], "label": [1, 0, 1],
                  "split": ["train", "train", "test"]}).to_parquet(raw / "reviews.parquet")
    monkeypatch.chdir(tmp_path)
    assert baseline.skip_reason(raw / "reviews.parquet", None) is None
    assert baseline.skip_reason(raw / "reviews.parquet", 2) is None  # 2 training reviews: at the limit
    default_params["baseline"]["max_train_reviews"] = 1
    baseline.main(default_params)
    skipped = json.loads((tmp_path / "reports/baseline/metrics.json").read_text())["skipped"]
    assert skipped.startswith("2 training reviews, more than baseline.max_train_reviews (1)")
    assert (tmp_path / "reports/baseline/predictions.csv").read_text() == "id,label\n"
    check = margin_check({"test": {"accuracy": 0.9}}, {"skipped": skipped}, 0.0)
    assert check.status == "not checked" and "skipped" in check.figures
