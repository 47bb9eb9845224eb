"""The peers a practitioner would pick instead of the default model, on exactly its split, in one run.

    make bench-peers                  # python -m benchmarks.peers: prints a table, writes reports/peers.json

Run from a project after `dvc repro` (it reads data/raw, data/processed and params.yaml). Each peer is fitted
on the training split with its hyper-parameters chosen on the model's own validation carve (the same seeded
rows `train` holds out), then refitted on the whole training split and scored on the test split and the
out-of-domain sentences with `evaluate`'s metric definitions:

- fastText, the official library (the `fasttext-numpy2` binding, pinned in requirements-test.txt), one thread
  (so its result does not depend on thread timing), over learning rate, epochs, dimension and word n-grams; its
  batch and one-by-one probabilities are compared first, since a binding has been seen to give wrong batch
  probabilities;
- NBSVM: binary n-grams scaled by naive-Bayes ratios, logistic regression (the `baseline` stage's own);
- LinearSVC and SGD (modified Huber) on TF-IDF n-grams, from scikit-learn.

Each peer's grid (PEERS) has at least as many settings as the default's last round of choices; reports/peers.json
records the count per model, the default's included, and the validation accuracy of the setting chosen.

The default model is trained in the same run by the `train` stage's own function with the params as they are,
so every ratio (accuracy, AUC, out-of-domain accuracy, training seconds) compares figures measured side by side.
Training time is wall time of the fit on this machine, with CPU seconds beside it; tokenizing is shared.
"""
from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from stages.baseline import fit_nbsvm, token_strings
from stages.lib.ngrams import NgramCounts, tfidf
from stages.lib.metrics import binary_metrics
from stages.lib.params import load_params
from stages.train import split_train_validation

REPORT = Path("reports/peers.json")
CHOICES = Path("reports/choices.json")


class Timer:
    """Wall and CPU seconds of a block (CPU: this process, all its threads)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def fit_fasttext(train: list[str], y: np.ndarray, setting: dict, seed: int):
    """predict(texts) -> P(positive) of a fastText classifier (lr, epoch, dim, wordNgrams from `setting`), one
    thread, so its result does not depend on thread timing."""
    import fasttext  # the benchmark's own dependency

    order = np.random.default_rng(seed).permutation(len(train))  # fastText reads the file in order, and ours
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:  # comes grouped by label
        f.writelines(f"__label__{y[i]} {train[i]}\n" for i in order)
    try:
        model = fasttext.train_supervised(f.name, **setting, thread=1, seed=seed, verbose=0)
    finally:
        os.unlink(f.name)

    def predict(texts: list[str]) -> np.ndarray:
        labels, probs = model.predict([t.replace("\n", " ") for t in texts], k=2)
        return np.array([dict(zip(ls, ps)).get("__label__1", 0.0) for ls, ps in zip(labels, probs)], np.float64)

    return predict


def sane_batches(predict, texts: list[str]) -> None:
    """Batch probabilities must be the one-by-one ones, and probabilities."""
    batch = predict(texts)
    alone = np.array([predict([t])[0] for t in texts])
    if not (np.allclose(batch, alone, atol=1e-5) and ((batch >= 0) & (batch <= 1)).all()):
        raise SystemExit(f"peers: fastText's batch probabilities differ from its one-by-one ones "
                         f"(largest difference {np.abs(batch - alone).max():.3g}): the binding is broken")


def fit_tfidf(kind: str, train: list[str], y: np.ndarray, setting: dict, seed: int):
    """predict(texts) -> a score (not a probability: AUC and the sign are what count) of a linear model on TF-IDF
    of 1-to-`ngrams`-grams: LinearSVC (`C`), or SGD with the modified Huber loss (`alpha`)."""
    from sklearn.linear_model import SGDClassifier  # scikit-learn: benchmarks and the baseline only
    from sklearn.svm import LinearSVC

    counts, x = counted(tuple(train), setting["ngrams"])
    counts, x = counts.narrowed(x, setting["ngrams"], min_df=2, max_df=0.9)
    x = tfidf(x, counts.df, len(train))
    model = (LinearSVC(C=setting["C"], random_state=seed) if kind == "svm" else
             SGDClassifier(loss="modified_huber", alpha=setting["alpha"], max_iter=50, tol=None,
                           random_state=seed)).fit(x, y)
    return lambda texts: 1 / (1 + np.exp(-model.decision_function(tfidf(counts.transform(list(texts)), counts.df,
                                                                        len(train)))))


@functools.lru_cache(maxsize=4)
def counted(train: tuple[str, ...], ngrams: int):
    """(NgramCounts, counts) of 1-to-`ngrams`-grams without bounds, shared by the settings that differ only in C
    or alpha; each peer narrows them (stages.baseline's fitters take them so). Emptied before each timed fit, so
    that a peer's time includes counting its features."""
    counts = NgramCounts(ngrams)
    return counts, counts.fit_transform(list(train))


def fit_nbsvm_texts(train: list[str], y: np.ndarray, setting: dict, seed: int):
    """predict(texts) -> P(positive) of the `baseline` stage's NBSVM, on 1-to-`ngrams`-grams."""
    widest, x = counted(tuple(train), setting["ngrams"])
    predict = fit_nbsvm((widest, x), y, setting, seed)
    return lambda texts: predict(widest.transform(list(texts)))


# name: (fit(train, y, setting, seed), grid). Each peer gets a grid of the size of the default's own search
# (reports/choices.json), over the knobs its users tune: fastText's learning rate, epochs, dimension and word
# n-grams; C (or alpha) and the n-gram range of the linear models.
PEERS = {
    "fasttext": (fit_fasttext, {"lr": [0.25, 0.5, 1.0], "epoch": [5, 15], "dim": [50, 100], "wordNgrams": [2, 3]}),
    "nbsvm": (lambda t, y, s, seed: fit_nbsvm_texts(t, y, {**s, "alpha": 1}, seed), {"C": [0.5, 1, 4], "ngrams": [2, 3]}),
    "linear_svc": (lambda t, y, s, seed: fit_tfidf("svm", t, y, s, seed), {"C": [0.1, 0.3, 1.0, 3.0], "ngrams": [2, 3]}),
    "sgd_huber": (lambda t, y, s, seed: fit_tfidf("sgd", t, y, s, seed), {"alpha": [1e-5, 3e-5, 1e-4], "ngrams": [2, 3]}),
}


def settings_of(grid: dict) -> list[dict]:
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def spelled(setting: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items())


def default_model(params: dict) -> dict:
    """The default model, trained here by the train stage's own function, scored as `evaluate` scores it."""
    from stages.evaluate import predict
    from stages.train import train

    padded = Path("data/processed/padded")
    y = np.load(padded / "train_y.npy")
    with Timer() as t:
        model, history = train(params, padded / "train_x.npy", y, np.load("data/processed/embedding_matrix.npy"))
    test = binary_metrics(np.load(padded / "test_y.npy"), predict(model, padded / "test_x.npy"), 0.5)
    ood_y = np.load(padded / "ood_y.npy")
    ood = binary_metrics(ood_y, predict(model, padded / "ood_x.npy"), 0.5)["accuracy"] if len(ood_y) else None
    best = int(np.argmin(history["val_loss"]))  # early stopping restores this epoch's weights
    rounds = json.loads(CHOICES.read_text()) if CHOICES.exists() else {}
    last = rounds[list(rounds)[-1]]["settings"] if rounds else {}
    return {"test_accuracy": test["accuracy"], "roc_auc": test["roc_auc"], "ood_accuracy": ood,
            "train_seconds": t.wall, "cpu_seconds": t.cpu, "settings": len(last),
            "validation_accuracy": round(float(history["val_accuracy"][best]), 6),
            "chosen": f"params.yaml, {len(history['loss'])} epochs (best of {len(last)} settings x "
                      "5 seeds on validation loss, the last round of reports/choices.json)"}


def run(params: dict, peers: list[str]) -> dict:
    reviews = pd.read_parquet("data/raw/reviews.parquet", columns=["text", "label", "split"])
    ood = pd.read_parquet("data/raw/ood.parquet", columns=["text", "label"])
    train, test = reviews[reviews["split"] == "train"], reviews[reviews["split"] == "test"]
    texts = {"train": token_strings(train["text"]), "test": token_strings(test["text"]),
             "ood": token_strings(ood["text"])}
    y = {"train": train["label"].to_numpy(), "test": test["label"].to_numpy(), "ood": ood["label"].to_numpy()}
    fit_rows, val_rows = split_train_validation(len(train), params["train"]["validation_split"], None, params["seed"])
    fit_texts, val_texts = ([texts["train"][i] for i in rows] for rows in (fit_rows, val_rows))
    results = {"default": default_model(params)}
    print(f"default: {results['default']}", flush=True)
    for name in peers:
        fit, grid = PEERS[name]
        settings = settings_of(grid)
        validation = []
        for setting in settings:  # chosen on the validation carve only
            predict = fit(fit_texts, y["train"][fit_rows], setting, params["seed"])
            validation.append(binary_metrics(y["train"][val_rows], predict(val_texts), 0.5)["accuracy"])
            print(f"  {name} {spelled(setting)}: validation accuracy {validation[-1]:.4f}", flush=True)
        best = settings[int(np.argmax(validation))]  # the first of equals
        counted.cache_clear()
        with Timer() as t:
            predict = fit(texts["train"], y["train"], best, params["seed"])
        if name == "fasttext":
            sane_batches(predict, texts["test"][:200])
        test_metrics = binary_metrics(y["test"], predict(texts["test"]), 0.5)
        ood_accuracy = binary_metrics(y["ood"], predict(texts["ood"]), 0.5)["accuracy"] if len(y["ood"]) else None
        results[name] = {"test_accuracy": test_metrics["accuracy"], "roc_auc": test_metrics["roc_auc"],
                         "ood_accuracy": ood_accuracy, "train_seconds": t.wall, "cpu_seconds": t.cpu,
                         "settings": len(settings), "validation_accuracy": round(max(validation), 6),
                         "chosen": f"{spelled(best)} (best of {len(settings)} on validation)"}
        print(f"{name}: {results[name]}", flush=True)
    base = results["default"]
    for row in results.values():
        row["ratios"] = {key: None if row[key] is None else round(row[key] / base[key], 4) for key in
                         ("test_accuracy", "roc_auc", "ood_accuracy", "train_seconds")}
        for key in ("test_accuracy", "roc_auc", "ood_accuracy"):
            row[key] = None if row[key] is None else round(float(row[key]), 6)
        row["train_seconds"], row["cpu_seconds"] = round(row["train_seconds"], 1), round(row["cpu_seconds"], 1)
    return {"results": results, "cores": os.cpu_count(), "command": "make bench-peers",
            "split": {"train": len(fit_rows), "validation": len(val_rows), "test": len(test), "ood": len(ood)}}


def table(report: dict) -> str:
    rows = ["| model | settings tried | validation accuracy | test accuracy | ROC AUC | out-of-domain | training s (CPU s) "
            "| ratios to default: accuracy / AUC / out-of-domain / time | chosen on validation |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in report["results"].items():
        q = {k: "—" if v is None else f"{v:.4f}" for k, v in r["ratios"].items()}
        ood = "—" if r["ood_accuracy"] is None else f"{100 * r['ood_accuracy']:.1f}%"
        rows.append(f"| {name} | {r['settings']} | {100 * r['validation_accuracy']:.2f}% "
                    f"| {100 * r['test_accuracy']:.2f}% | {r['roc_auc']:.4f} | {ood} "
                    f"| {r['train_seconds']:g} ({r['cpu_seconds']:g}) | {q['test_accuracy']} / {q['roc_auc']} / "
                    f"{q['ood_accuracy']} / {q['train_seconds']} | {r['chosen']} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    report = run(load_params(), args.peers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))


if __name__ == "__main__":
    main()
