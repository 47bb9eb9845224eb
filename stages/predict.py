"""Score reviews with the exported raw-text model: `python -m stages.predict "some review" ["another"]`.

Prints, per review, the probability that it is positive. The model carries the pipeline's tokenizer, so
this is exactly what the pipeline would compute for the same text.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODEL = Path("models/raw_text_model.keras")


def load(path: Path = MODEL):
    from stages.lib.keras_files import load_model

    if not path.exists():
        raise SystemExit(f"error: {path} not found; run `make repro` (or `dvc repro export`) first")
    return load_model(path)


def score(model, reviews: list[str], batch_size: int = 1024):
    """P(positive) per review; strings go in as a tf.string tensor (Keras' predict() refuses object arrays)."""
    import numpy as np
    import tensorflow as tf

    batches = [model(tf.constant(reviews[i:i + batch_size])[:, None], training=False).numpy()[:, 0]
               for i in range(0, len(reviews), batch_size)]
    return np.concatenate(batches) if batches else np.zeros(0, np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description="Probability that each review is positive.")
    parser.add_argument("reviews", nargs="+", help="review texts")
    parser.add_argument("--model", type=Path, default=MODEL)
    args = parser.parse_args()
    for review, p in zip(args.reviews, score(load(args.model), args.reviews)):
        print(f"{p:.4f}\t{review}")


if __name__ == "__main__":
    main()
