"""Stage `evaluate`: the trained model on the held-out test set (and out-of-domain sentences when present).

Writes reports/metrics.json (accuracy, precision, recall, F1, ROC AUC, log loss; out-of-domain accuracy and
AUC; accuracy by review length), the data of the plots dvc.yaml declares (ROC, precision-recall, confusion
matrix) under reports/plots/, every test prediction in reports/predictions.csv, and reports/errors.md: the
test reviews the model got most confidently wrong.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib import catalog
from stages.lib.arrays import npy_layout, parquet_frames, read_rows
from stages.lib.files import atomic_path, write_json, write_text
from stages.lib.keras_files import load_model
from stages.lib.markdown import md_text
from stages.lib.metrics import binary_metrics, curve_points, non_finite_keys, rounded
from stages.lib.params import load_params
from stages.lib.progress import QUIET, bar as progress_bar

READS = (catalog.MODEL, catalog.PADDED_X, catalog.PADDED_Y, catalog.TOKEN_OFFSETS, catalog.RAW_REVIEWS)
WRITES = (catalog.METRICS, catalog.PREDICTIONS, catalog.ROC, catalog.PRECISION_RECALL, catalog.CONFUSION,
          catalog.ERRORS)
ENGINE = False


def progress_callback(rows: int, batch: int, desc: str):
    """A Keras callback that moves a progress bar (drawn on a terminal only) a batch at a time."""
    import keras  # Keras imports TensorFlow

    class Bar(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.bar = progress_bar(rows, desc, " reviews")

        def on_predict_batch_end(self, index, logs=None):
            self.bar.update(min(batch, rows - self.bar.n))

        def on_predict_end(self, logs=None):
            self.bar.close()

    return Bar()


def predict(model, x, batch: int = 1024, desc: str | None = None) -> np.ndarray:
    """P(positive) per row of x: padded ids as an array, or a .npy path read `batch` rows at a time from disk;
    with `desc`, a progress bar of that name on a terminal.

    Batches come from our own tf.data pipeline: Keras' input path for NumPy arrays uses a parallel map that
    prints an alarming (harmless) E0000 line from TensorFlow's graph rewriting."""
    import tensorflow as tf  # TensorFlow takes seconds to import

    if isinstance(x, np.ndarray):
        if len(x) == 0:
            return np.zeros(0, np.float32)
        return model.predict(tf.data.Dataset.from_tensor_slices(x).batch(batch), verbose=0)[:, 0]
    shape, dtype, _ = npy_layout(x)
    if shape[0] == 0:
        return np.zeros(0, np.float32)
    callbacks = [progress_callback(shape[0], batch, desc)] if desc else []
    # A dataset of known length (not from_generator), so Keras does not warn that the input "ran out of data".
    blocks = tf.data.Dataset.range(0, shape[0], batch).map(
        lambda start: tf.ensure_shape(tf.numpy_function(lambda s: read_rows(x, s, s + batch), [start],
                                                        tf.as_dtype(dtype), stateful=False), (None, *shape[1:])))
    return model.predict(blocks, verbose=0, callbacks=callbacks)[:, 0]


def length_buckets(lengths: np.ndarray, bounds: list[int]) -> tuple[np.ndarray, list[str]]:
    names = [f"<= {bounds[0]}"] + [f"{a + 1}-{b}" for a, b in zip(bounds, bounds[1:])] + [f"> {bounds[-1]}"]
    return np.searchsorted(bounds, lengths, side="left"), names


def accuracy_by_length(y, p, lengths, bounds, threshold) -> dict:
    bucket, names = length_buckets(lengths, bounds)
    correct = (p > threshold).astype(int) == y
    return {name: {"accuracy": round(float(correct[bucket == i].mean()), 6), "n": int((bucket == i).sum())}
            for i, name in enumerate(names) if (bucket == i).any()}


def most_confidently_wrong(test: pd.DataFrame, n: int) -> pd.DataFrame:
    wrong = test[test["predicted"] != test["label"]].copy()
    wrong["confidence"] = (wrong["probability"] - 0.5).abs()
    return wrong.sort_values(["confidence", "id"], ascending=[False, True]).head(n)


def texts_of(ids: list[str], path: Path = catalog.RAW_REVIEWS.path) -> dict[str, str]:
    """The texts of a few reviews, found by reading the reviews file a batch at a time."""
    wanted, found = set(ids), {}
    for frame in parquet_frames(path, columns=["id", "text"]):
        hits = frame[frame["id"].isin(wanted)]
        found.update(zip(hits["id"], hits["text"]))
    return found


def errors_markdown(test: pd.DataFrame, wrong: pd.DataFrame, texts: dict[str, str]) -> str:
    """test: id, label, probability, predicted of every test review; wrong: the rows to show
    (most_confidently_wrong); texts: the text of each of them."""
    lines = ["# Most confidently wrong test reviews", "",
             f"{int((test['predicted'] != test['label']).sum())} of {len(test)} test reviews are misclassified; "
             f"the {len(wrong)} the model was surest about:", ""]
    for row in wrong.itertuples():
        text = " ".join(str(texts[row.id]).replace("<br />", " ").split())
        shown = md_text(text[:400]) + ("..." if len(text) > 400 else "")
        lines += [f"## {md_text(row.id)}: label {'positive' if row.label else 'negative'}, "
                  f"P(positive) = {row.probability:.4f}", "", f"> {shown}", ""]
    return "\n".join(lines)


def main(params: dict, step=QUIET) -> None:
    cfg = params["evaluate"]
    step("importing TensorFlow, loading the model")
    model = load_model(catalog.MODEL.path)
    x, y = catalog.PADDED_X.of("test"), np.load(catalog.PADDED_Y.of("test"))  # x is read from disk, block by block
    step.close()  # the bars of the scoring below take the terminal
    p = predict(model, x, desc="evaluate: scoring the test reviews")
    if not np.isfinite(p).all():
        raise SystemExit(f"evaluate: the model gives a non-finite probability for {int((~np.isfinite(p)).sum())} of "
                         f"{len(p)} test reviews; nothing was written (re-train it: `dvc repro -f train`)")
    lengths = np.diff(np.load(catalog.TOKEN_OFFSETS.of("test")))  # tokens before padding or cutting
    metrics = {"test": rounded(binary_metrics(y, p, cfg["threshold"])),
               "test_by_length": accuracy_by_length(y, p, lengths, cfg["length_buckets"], cfg["threshold"])}
    ood_y = np.load(catalog.PADDED_Y.of("ood"))
    if len(ood_y):
        ood = binary_metrics(ood_y, predict(model, catalog.PADDED_X.of("ood"), desc="evaluate: scoring out of domain"),
                             cfg["threshold"])
        metrics["ood"] = rounded({k: ood[k] for k in ("accuracy", "roc_auc", "n")})
    bad = non_finite_keys(metrics)
    if bad:  # nothing is written: a NaN metric would look like a result in `dvc metrics diff`
        raise SystemExit(f"evaluate: refusing to write {catalog.METRICS.path}: {', '.join(bad)} not a finite number "
                         f"(a model predicting NaN, or a test set with one class: {metrics['test']['n']} reviews)")
    roc, prc = curve_points(y, p)

    reviews = pd.read_parquet(catalog.RAW_REVIEWS.path, columns=["id", "label", "split"])  # texts stay on disk
    test = reviews[reviews["split"] == "test"].reset_index(drop=True)  # the order tokenize wrote
    test = test.assign(probability=p.round(6), predicted=(p > cfg["threshold"]).astype(int), tokens=lengths)
    write_json(catalog.METRICS.path, metrics)
    with atomic_path(catalog.PREDICTIONS.path) as tmp:
        test[["id", "label", "probability", "predicted", "tokens"]].to_csv(tmp, index=False, float_format="%.6f")
    write_json(catalog.ROC.path, {"roc": roc})
    write_json(catalog.PRECISION_RECALL.path, {"prc": prc})
    with atomic_path(catalog.CONFUSION.path) as tmp:
        names = np.array(["negative", "positive"])  # the class names, not 0/1, on the matrix's axes
        pd.DataFrame({"actual": names[y], "predicted": names[test["predicted"]]}).to_csv(tmp, index=False)
    wrong = most_confidently_wrong(test, cfg["errors_shown"])
    write_text(catalog.ERRORS.path, errors_markdown(test, wrong, texts_of(wrong["id"].tolist())))
    t = metrics["test"]
    print(f"evaluate: test accuracy {t['accuracy']:.4f}, F1 {t['f1']:.4f}, ROC AUC {t['roc_auc']:.4f}"
          + (f"; out-of-domain accuracy {metrics['ood']['accuracy']:.4f}" if "ood" in metrics else ""))


if __name__ == "__main__":
    main(load_params())
