"""ROC and precision-recall points: one per distinct score, as scikit-learn computes them."""
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from stages.lib.metrics import curve_points


def scores():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.25), 0, 1).round(2)  # rounded: many ties, some exactly 0 and 1
    p[:40] = 0.999  # a crowd of confident scores, which a fixed threshold grid would lump together
    return y, p


def test_roc_has_a_point_per_distinct_score_and_matches_sklearn():
    y, p = scores()
    roc, _ = curve_points(y, p)
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    assert len(roc) == len(np.unique(p)) + 1
    np.testing.assert_allclose([r["fpr"] for r in roc], fpr, atol=1e-6)
    np.testing.assert_allclose([r["tpr"] for r in roc], tpr, atol=1e-6)
    area = np.trapezoid([r["tpr"] for r in roc], [r["fpr"] for r in roc])
    assert abs(area - roc_auc_score(y, p)) < 1e-5


def test_precision_recall_reaches_every_recall_and_matches_sklearn():
    y, p = scores()
    _, prc = curve_points(y, p)
    precision, recall, thresholds = precision_recall_curve(y, p, drop_intermediate=False)
    # scikit-learn lists thresholds ascending and appends the (recall 0, precision 1) end point
    np.testing.assert_allclose([r["recall"] for r in prc], recall[:-1][::-1], atol=1e-6)
    np.testing.assert_allclose([r["precision"] for r in prc], precision[:-1][::-1], atol=1e-6)
    np.testing.assert_allclose([r["threshold"] for r in prc], thresholds[::-1], atol=1e-6)
    assert prc[-1]["recall"] == 1.0 and min(r["recall"] for r in prc) < 0.1
