"""Binary classification metrics in plain NumPy (no scikit-learn dependency for six formulas)."""
from __future__ import annotations

import numpy as np
import pandas as pd

EPS = 1e-7  # clip probabilities as Keras' binary cross-entropy does


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve via the rank statistic (ties get average ranks); None with one class only."""
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    if pos == 0 or neg == 0:
        return None
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    predicted = (p > threshold).astype(int)
    tp, fp = int(((predicted == 1) & (y == 1)).sum()), int(((predicted == 1) & (y == 0)).sum())
    fn = int(((predicted == 0) & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    clipped = np.clip(p.astype(np.float64), EPS, 1 - EPS)
    return {
        "accuracy": float((predicted == y).mean()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "roc_auc": roc_auc(y, p),
        "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
        "n": int(len(y)),
    }


def curve_points(y: np.ndarray, p: np.ndarray) -> tuple[list[dict], list[dict]]:
    """ROC and precision-recall curves with one point per distinct score (every threshold that changes them).

    A fixed grid of thresholds would miss the part of the curve where many scores crowd near 0 or 1. The
    threshold of a point is the lowest score counted positive; ROC starts at (0, 0) with threshold 1.
    """
    order = np.argsort(-p, kind="stable")
    scores, labels = p[order], y[order] == 1
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # the end of each run of equal scores
    tp = np.cumsum(labels)[last_of_tie]
    fp = np.cumsum(~labels)[last_of_tie]
    pos, neg = max(int(labels.sum()), 1), max(int((~labels).sum()), 1)
    thresholds = scores[last_of_tie]
    roc = [{"threshold": 1.0, "fpr": 0.0, "tpr": 0.0}] + [
        {"threshold": round(float(t), 6), "fpr": round(int(f) / neg, 6), "tpr": round(int(c) / pos, 6)}
        for t, f, c in zip(thresholds, fp, tp)]
    prc = [{"threshold": round(float(t), 6), "recall": round(int(c) / pos, 6), "precision": round(int(c) / int(c + f), 6)}
           for t, f, c in zip(thresholds, fp, tp)]
    return roc, prc


def rounded(metrics: dict, digits: int = 6) -> dict:
    return {k: (round(v, digits) if isinstance(v, float) else v) for k, v in metrics.items()}


def non_finite_keys(metrics: dict, prefix: str = "") -> list[str]:
    """Keys (dotted) of every value in a nested metrics dict that is None, NaN or infinite."""
    bad = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            bad += non_finite_keys(value, name + ".")
        elif value is None or (isinstance(value, float) and not np.isfinite(value)):
            bad.append(name)
    return bad
