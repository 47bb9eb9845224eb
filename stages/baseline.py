"""Stage `baseline`: the classic linear text classifiers, on exactly the pipeline's split, for comparison.

- `tfidf_logreg`: TF-IDF of word n-grams (sublinear tf) and a logistic regression;
- `nbsvm`: binary n-gram counts scaled by naive-Bayes log-count ratios, then a logistic regression (Wang and
  Manning 2012, "Baselines and bigrams", in its logistic-regression form).

Both read the tokens of the pipeline's own tokenizer (stages.lib.text, the model's tokens, the whole review,
no vocabulary cap, no maxlen cut), are fitted on the training split only, and are scored on the test split
and the out-of-domain set with the metric definitions `evaluate` uses (stages.lib.metrics). Their n-gram
features are counted with NumPy (stages/lib/ngrams.py: scikit-learn's vectorisers' matrices, column for column).
Writes reports/baseline/metrics.json (a DVC metrics file, beside the model's) and the test predictions.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib import catalog
from stages.lib.files import atomic_path, write_json
from stages.lib.metrics import binary_metrics, non_finite_keys, rounded
from stages.lib.ngrams import NgramCounts, tfidf
from stages.lib.params import load_params
from stages.lib.progress import QUIET

READS = (catalog.RAW_REVIEWS, catalog.RAW_OOD)
WRITES, ENGINE = (catalog.BASELINE_METRICS, catalog.BASELINE_PREDICTIONS), False
MODELS = ("tfidf_logreg", "nbsvm")


def token_strings(texts) -> list[str]:
    """Each review as its pipeline tokens joined by single spaces (the vectorisers split on spaces only)."""
    import pyarrow.compute as pc  # pyarrow: not needed by the NumPy-only stages

    from stages.lib.text import tokenize  # imports pyarrow

    return pc.binary_join(tokenize(texts), " ").to_pylist()


def _logreg(c: float, seed: int):
    from sklearn.linear_model import LogisticRegression  # scikit-learn: only the baseline needs it

    return LogisticRegression(C=c, solver="liblinear", dual=True, max_iter=1000, random_state=seed)


def fit_tfidf_logreg(counted, y: np.ndarray, cfg: dict, seed: int):
    """Returns predict(wide) -> P(positive), `wide` being texts counted by counted[0] (its `transform`).
    counted: (NgramCounts, counts) of the training texts, n-grams at least cfg["ngrams"] long and no
    document-frequency bounds, narrowed here rather than counted again."""
    counts, x = counted[0].narrowed(counted[1], cfg["ngrams"], cfg["min_df"], cfg["max_df"])
    n_docs = x.shape[0]
    model = _logreg(cfg["C"], seed).fit(tfidf(x, counts.df, n_docs), y)
    return lambda wide: model.predict_proba(tfidf(counts.select(wide), counts.df, n_docs))[:, 1]


def nb_ratios(x, y: np.ndarray, alpha: float) -> np.ndarray:
    """Naive-Bayes log-count ratio per feature: log of (p / |p|_1) / (q / |q|_1), p and q smoothed by alpha."""
    p = alpha + np.asarray(x[y == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(x[y == 0].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def fit_nbsvm(counted, y: np.ndarray, cfg: dict, seed: int):
    """Returns predict(wide) -> P(positive); counted and wide as for fit_tfidf_logreg."""
    from scipy import sparse  # SciPy: only the baseline needs it

    counts, x = counted[0].narrowed(counted[1], cfg["ngrams"])

    def binary(x):
        x = x.copy()
        x.data[:] = 1
        return x

    x = binary(x)
    scale = sparse.diags(nb_ratios(x, y, cfg["alpha"]))
    model = _logreg(cfg["C"], seed).fit(x @ scale, y)
    return lambda wide: model.predict_proba(binary(counts.select(wide)) @ scale)[:, 1]


FITTERS = {"tfidf_logreg": fit_tfidf_logreg, "nbsvm": fit_nbsvm}


def run_baselines(reviews: pd.DataFrame, ood: pd.DataFrame, params: dict, step=QUIET) -> tuple[dict, pd.DataFrame]:
    """(metrics per baseline, test predictions) for the raw reviews and out-of-domain set."""
    step.expect(2 + 2 * len(MODELS))
    step(f"tokenizing {len(reviews) + len(ood):,} texts")
    cfg, threshold = params["baseline"], params["evaluate"]["threshold"]
    train, test = reviews[reviews["split"] == "train"], reviews[reviews["split"] == "test"]
    train_text, test_text = token_strings(train["text"]), token_strings(test["text"])
    ood_text = token_strings(ood["text"]) if len(ood) else []
    y_train, y_test = train["label"].to_numpy(), test["label"].to_numpy()
    metrics, predictions = {}, pd.DataFrame({"id": test["id"].to_numpy(), "label": y_test})
    step(f"counting the n-grams of {len(train_text) + len(test_text) + len(ood_text):,} texts")
    widest = NgramCounts(max(cfg[name]["ngrams"] for name in MODELS))  # counted once, narrowed for each model
    counted = widest, widest.fit_transform(train_text)
    wide_test, wide_ood = widest.transform(test_text), widest.transform(ood_text) if len(ood) else None
    for name in MODELS:
        step(f"fitting {name}")
        predict = FITTERS[name](counted, y_train, cfg[name], params["seed"])
        step(f"scoring {name}")
        p = predict(wide_test)
        predictions[name] = p.round(6)
        metrics[name] = {"test": rounded(binary_metrics(y_test, p, threshold))}
        if len(ood):
            m = binary_metrics(ood["label"].to_numpy(), predict(wide_ood), threshold)
            metrics[name]["ood"] = rounded({k: m[k] for k in ("accuracy", "roc_auc", "n")})
    best = max(MODELS, key=lambda n: metrics[n]["test"]["accuracy"])
    metrics["best"] = {"test_accuracy": metrics[best]["test"]["accuracy"],  # numbers only: DVC diffs them
                       "test_roc_auc": max(metrics[n]["test"]["roc_auc"] for n in MODELS)}
    return metrics, predictions


def skip_reason(path: Path, limit: int | None) -> str | None:
    """Why the baselines are not fitted: more training reviews than baseline.max_train_reviews (scikit-learn's
    TF-IDF and NBSVM hold the whole corpus in memory, so a large corpus would run the machine out of it)."""
    if limit is None:
        return None
    n = int((pd.read_parquet(path, columns=["split"])["split"] == "train").sum())
    if n <= limit:
        return None
    return (f"{n:,} training reviews, more than baseline.max_train_reviews ({limit:,}): scikit-learn's TF-IDF and "
            "NBSVM hold the whole corpus in memory. Raise the limit (or set it to null) on a machine with the memory")


def main(params: dict, step=QUIET) -> None:
    reason = skip_reason(catalog.RAW_REVIEWS.path, params["baseline"]["max_train_reviews"])
    if reason is not None:  # the outputs say so, and the stages after it and the PR report go on without them
        write_json(catalog.BASELINE_METRICS.path, {"skipped": reason})
        with atomic_path(catalog.BASELINE_PREDICTIONS.path) as tmp:
            tmp.write_text("id,label\n")
        print(f"baseline: skipped, {reason}")
        return
    reviews = pd.read_parquet(catalog.RAW_REVIEWS.path)
    ood = pd.read_parquet(catalog.RAW_OOD.path)
    metrics, predictions = run_baselines(reviews, ood, params, step)
    bad = non_finite_keys({k: v for k, v in metrics.items() if k != "best"})
    if bad:
        raise SystemExit(f"baseline: refusing to write non-finite metrics: {', '.join(bad)}")
    write_json(catalog.BASELINE_METRICS.path, metrics)
    with atomic_path(catalog.BASELINE_PREDICTIONS.path) as tmp:
        predictions.to_csv(tmp, index=False, float_format="%.6f")
    print("baseline: " + "; ".join(
        f"{n} test accuracy {metrics[n]['test']['accuracy']:.4f}, ROC AUC {metrics[n]['test']['roc_auc']:.4f}"
        + (f", out-of-domain {metrics[n]['ood']['accuracy']:.4f}" if "ood" in metrics[n] else "") for n in MODELS))


if __name__ == "__main__":
    main(load_params())
