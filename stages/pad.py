"""Stage `pad`: ragged token ids -> fixed-length int32 arrays of `maxlen`, as Keras' pad_sequences does.

NumPy only (no TensorFlow import): the rows are cut and placed with index arithmetic, not a Python loop.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from stages.lib.files import atomic_dir, save_npy
from stages.lib.params import load_params
from stages.lib.ragged import SPLITS, load_ragged

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
    with atomic_dir(OUT_DIR) as tmp:
        for split in SPLITS:
            ids, offsets, labels = load_ragged(IN_DIR, split)
            save_npy(tmp / f"{split}_x.npy", pad_ragged(ids, offsets, maxlen, cfg["padding"], cfg["truncating"]))
            save_npy(tmp / f"{split}_y.npy", labels)
    print(f"pad: maxlen {maxlen}, padding {cfg['padding']}, truncating {cfg['truncating']} -> {OUT_DIR}/")


if __name__ == "__main__":
    main(load_params())
