"""Stage `pad`: ragged token ids -> fixed-length int32 arrays of `maxlen`, as Keras' pad_sequences does.

NumPy only (no TensorFlow import): the rows are cut and placed with index arithmetic, not a Python loop.
Reviews are read and written a block of rows at a time, so memory does not grow with the corpus. Each block is
a task for the engine the stage is given (`pad_block`); the blocks come back in order and are written here.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from stages.engines.local import LOCAL
from stages.lib import catalog
from stages.lib.arrays import BLOCK_ROWS, NpyWriter
from stages.lib.files import atomic_dir
from stages.lib.params import load_params
from stages.lib.ragged import SPLITS, block_ranges, ragged_block, ragged_rows

READS, WRITES, ENGINE = (catalog.INTERIM,), (catalog.PADDED,), True  # the tasks read the ragged ids there


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


def pad_block(folder: str, split: str, maxlen: int, padding: str, truncating: str,
              rows: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One task: reviews start..stop-1 of a split read from `folder`, padded; returns (x, labels)."""
    ids, offsets, labels = ragged_block(folder, split, *rows)
    return pad_ragged(ids, offsets, maxlen, padding, truncating), labels


def main(params: dict, engine=LOCAL) -> None:
    maxlen, cfg = params["maxlen"], params["pad"]
    folder = engine.input(catalog.INTERIM.path)  # tasks may run in another process, folder or machine
    with atomic_dir(catalog.PADDED.path) as tmp:
        for split in SPLITS:
            n = ragged_rows(catalog.INTERIM.path, split)
            pad = partial(pad_block, folder, split, maxlen, cfg["padding"], cfg["truncating"])
            with NpyWriter(catalog.PADDED_X.within(catalog.PADDED, tmp, split), (n, maxlen), np.int32) as x, \
                    NpyWriter(catalog.PADDED_Y.within(catalog.PADDED, tmp, split), (n,), np.int32) as y:
                for x_block, y_block in engine.map(pad, block_ranges(n, BLOCK_ROWS)):
                    x.write(x_block)
                    y.write(y_block)
                    del x_block, y_block  # not held while the next block is padded
    print(f"pad: maxlen {maxlen}, padding {cfg['padding']}, truncating {cfg['truncating']} -> {catalog.PADDED.path}/")


if __name__ == "__main__":
    main(load_params())
