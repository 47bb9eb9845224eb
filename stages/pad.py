"""Stage `pad`: ragged token ids -> fixed-length int32 arrays of `maxlen`, as Keras' pad_sequences does.

NumPy only (no TensorFlow import): the rows are cut and placed with index arithmetic, not a Python loop.
Reviews are read and written a block of rows at a time, so memory does not grow with the corpus.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from stages.lib.arrays import BLOCK_ROWS, NpyWriter
from stages.lib.files import atomic_dir
from stages.lib.params import load_params
from stages.lib.ragged import SPLITS, iter_ragged, ragged_rows

IN_DIR, OUT_DIR = Path("data/interim"), Path("data/processed/padded")


def pad_ragged(ids: np.ndarray, offsets: np.ndarray, maxlen: int, padding: str = "post",
               truncating: str = "post") -> np.ndarray:
    """Rows of `ids` split at `offsets`, cut and padded with 0 to `maxlen` (pre/post as in pad_sequences)."""
    lengths = np.diff(offsets)
    kept = np.minimum(lengths, maxlen)
    # truncating='pre' drops the beginning of a long row (keeps its last maxlen ids), 'post' drops the end.
    src_start = offsets[:-1] + (lengths - kept if truncating == "pre" else 0)
    # padding='pre' puts the zeros before the ids, 'post' after them.
    dst_start = maxlen - kept if padding == "pre" else np.zeros_like(kept)
    rows = np.repeat(np.arange(len(kept)), kept)
    within = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    out = np.zeros((len(kept), maxlen), dtype=np.int32)
    out[rows, np.repeat(dst_start, kept) + within] = ids[np.repeat(src_start, kept) + within]
    return out


def main(params: dict) -> None:
    maxlen, cfg = params["maxlen"], params["pad"]
    session = None
    if params["engine"]["name"] == "spark":  # Spark pads the blocks; they are written here, in order
        from stages.lib.spark import spark_session
        from stages.on_spark import pad_split
        session = spark_session(params, "pad")
    with atomic_dir(OUT_DIR) as tmp:
        for split in SPLITS:
            n = ragged_rows(IN_DIR, split)
            with NpyWriter(tmp / f"{split}_x.npy", (n, maxlen), np.int32) as x, \
                    NpyWriter(tmp / f"{split}_y.npy", (n,), np.int32) as y:
                if session is not None:
                    pad_split(params, session, IN_DIR, split, n, x, y, BLOCK_ROWS)
                    continue
                for ids, offsets, labels in iter_ragged(IN_DIR, split):
                    x.write(pad_ragged(ids, offsets, maxlen, cfg["padding"], cfg["truncating"]))
                    y.write(labels)
    print(f"pad: maxlen {maxlen}, padding {cfg['padding']}, truncating {cfg['truncating']} -> {OUT_DIR}/")


if __name__ == "__main__":
    main(load_params())
