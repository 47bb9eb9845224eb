"""`make bench-peers` (benchmarks/peers.py) on the tiny project: every peer fitted on the model's split, ratios
against the default model trained in the same run, and a broken fastText binding caught."""
import json

import numpy as np
import pytest

from benchmarks import peers
from tests.conftest import REPO


def test_peers_are_measured_beside_the_default_model(tiny, monkeypatch):
    root, params = tiny
    monkeypatch.chdir(root)
    report = peers.run(params, list(peers.PEERS))
    results = report["results"]
    assert list(results) == ["default", *peers.PEERS]
    for name, row in results.items():
        assert 0 <= row["test_accuracy"] <= 1 and row["train_seconds"] >= 0 and row["cpu_seconds"] >= 0
        assert row["ood_accuracy"] is None or 0 <= row["ood_accuracy"] <= 1
        assert row["ratios"]["test_accuracy"] == pytest.approx(row["test_accuracy"] / results["default"]["test_accuracy"],
                                                               abs=1e-4)
    assert {k: v for k, v in results["default"]["ratios"].items() if v is not None} == {
        "test_accuracy": 1.0, "roc_auc": 1.0, "train_seconds": 1.0, **({} if results["default"]["ood_accuracy"] is None
                                                                       else {"ood_accuracy": 1.0})}
    for name, (_, grid) in peers.PEERS.items():  # every setting of the grid tried, the chosen one named
        assert results[name]["settings"] == len(peers.settings_of(grid)) > 1
        assert results[name]["chosen"].split(" (")[0] in {peers.spelled(s) for s in peers.settings_of(grid)}
        assert 0 <= results[name]["validation_accuracy"] <= 1
    assert "| fasttext |" in peers.table(report)


def test_every_peer_gets_at_least_the_defaults_search_budget():
    """The default's last round of choices (reports/choices.json) against each peer's grid."""
    rounds = json.loads((REPO / peers.CHOICES).read_text())
    last = len(rounds[list(rounds)[-1]]["settings"])
    assert last >= 2
    for name, (_, grid) in peers.PEERS.items():
        assert len(peers.settings_of(grid)) >= last, name
    report = json.loads((REPO / peers.REPORT).read_text())["results"]  # the committed run used these grids
    assert {name: row.get("settings") for name, row in report.items()} == {
        "default": last, **{name: len(peers.settings_of(grid)) for name, (_, grid) in peers.PEERS.items()}}


def test_a_binding_whose_batches_disagree_with_single_texts_is_refused():
    def broken(texts):  # what a NumPy 2 binding got wrong: the batch's probabilities shifted
        p = np.array([0.9 if "good" in t else 0.1 for t in texts])
        return np.roll(p, 1) if len(texts) > 1 else p

    with pytest.raises(SystemExit, match="batch probabilities differ"):
        peers.sane_batches(broken, ["good film", "bad film", "bad acting"])
    peers.sane_batches(lambda texts: np.array([0.5] * len(texts)), ["a", "b"])  # a sane one passes
