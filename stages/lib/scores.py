"""Scores of raw text as `predict` prints them: P(positive), the label, whether the vocabulary knew any word.

Shared by `predict` (every review it scores) and `export` (the examples of reports/predict_examples.tsv, shown in
the README), so an example shown is what the command prints.
"""
from __future__ import annotations

import json

import numpy as np

NO_TEXT = "no text"  # the label of a review that is null, empty or only whitespace
DEFAULT_THRESHOLD = 0.5  # predict's --threshold


def with_known_words(model):
    """The raw-text model with a second output, the token ids, to tell reviews with no known word."""
    import keras  # Keras imports TensorFlow

    return keras.Model(model.inputs, [model.outputs[0], model.get_layer("text_to_ids").output])


def score_batch(model, reviews: list[str]):
    """(P(positive), no_known_word) per review; strings go in as a tf.string tensor (predict() refuses them)."""
    import tensorflow as tf  # TensorFlow takes seconds to import

    if not reviews:
        return np.zeros(0, np.float32), np.zeros(0, bool)
    p, ids = model(tf.constant(reviews)[:, None], training=False)
    p, ids = p.numpy()[:, 0], ids.numpy()
    if not np.isfinite(p).all():
        raise SystemExit("error: the model gives a non-finite probability; it is broken, re-train it with `dvc repro`")
    return p, (ids <= 1).all(axis=1)  # ids 0 (padding) and 1 ([UNK]) only


def score(model, reviews: list[str], batch_size: int = 1024):
    """P(positive) of every review, in batches."""
    parts = [score_batch(model, reviews[i:i + batch_size])[0] for i in range(0, len(reviews), batch_size)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def header(with_ids: bool) -> str:
    return "\t".join(["row"] + ["id"] * with_ids + ["probability", "label", "no_known_word", "text"]) + "\n"


def labels(reviews: list[str], p, threshold: float) -> list[str]:
    """positive / negative at `threshold`; NO_TEXT for a review with no text (null, empty or blank): the model
    would only see padding, and a label there would be a guess."""
    return [("positive" if prob > threshold else "negative") if text.strip() else NO_TEXT
            for text, prob in zip(reviews, p)]


def format_rows(first_row: int, reviews: list[str], p, unknown, threshold: float, fmt: str,
                ids: list[str] | None = None) -> str:
    """One line per review, with the input's id when there is one. A review with no text (null, empty or blank)
    gets no probability and no label: the model would only see padding, and a label there would be a guess."""
    out = []
    for i, (text, prob, none_known, label) in enumerate(zip(reviews, p, unknown, labels(reviews, p, threshold))):
        judged = label != NO_TEXT
        if fmt == "jsonl":
            record = {"row": first_row + i} | ({"id": ids[i]} if ids is not None else {})
            record |= {"probability": round(float(prob), 6) if judged else None, "label": label,
                       "no_known_word": bool(none_known), "text": text}
            out.append(json.dumps(record, ensure_ascii=False))
        else:
            cells = [str(first_row + i)] + ([one_line(ids[i])] if ids is not None else [])
            cells += [f"{prob:.4f}" if judged else "", label, str(bool(none_known)).lower(), one_line(text)]
            out.append("\t".join(cells))
    return "".join(line + "\n" for line in out)
