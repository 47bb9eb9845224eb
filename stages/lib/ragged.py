"""Ragged token ids on disk: one flat int32 array of ids plus int64 offsets (row i is ids[offsets[i]:offsets[i+1]]).

Plain .npy files (not .npz, whose zip headers carry timestamps) so that equal data gives equal bytes.
Stages read them a block of rows at a time (`iter_ragged`), so memory does not grow with the corpus.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from stages.lib.arrays import BLOCK_ROWS, npy_rows, read_rows
from stages.lib.catalog import SPLITS, TOKEN_IDS, TOKEN_LABELS, TOKEN_OFFSETS
from stages.lib.files import save_npy
from stages.lib.storage import join

PARTS = {"ids": TOKEN_IDS, "offsets": TOKEN_OFFSETS, "labels": TOKEN_LABELS}  # the catalog's file of each part


def part(folder: Path | str, split: str, name: str) -> Path:
    """The file of one part of a split in `folder` (data/interim, a temporary folder that becomes it, or its
    copy on the engine's storage)."""
    return join(folder, PARTS[name].of(split).name)


def save_ragged(folder: Path, split: str, ids: np.ndarray, offsets: np.ndarray, labels: np.ndarray) -> None:
    save_npy(part(folder, split, "ids"), ids.astype(np.int32))
    save_npy(part(folder, split, "offsets"), offsets.astype(np.int64))
    save_npy(part(folder, split, "labels"), labels.astype(np.int32))


def load_ragged(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole split in memory (tests and small data); stages use iter_ragged."""
    return tuple(np.load(part(folder, split, name)) for name in ("ids", "offsets", "labels"))


def ragged_rows(folder: Path, split: str) -> int:
    return npy_rows(part(folder, split, "labels"))


def iter_ragged(folder: Path, split: str, rows: int = BLOCK_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(ids, offsets starting at 0, labels) of `rows` reviews at a time, read from disk."""
    folder = Path(folder)
    n = ragged_rows(folder, split)
    for start in range(0, n, rows):
        yield ragged_block(folder, split, start, min(start + rows, n))


def block_ranges(n: int, rows: int = BLOCK_ROWS) -> list[tuple[int, int]]:
    """(start, stop) of consecutive blocks of `rows` rows covering n rows: the tasks a Spark engine spreads."""
    return [(start, min(start + rows, n)) for start in range(0, n, rows)]


def ragged_block(folder: Path, split: str, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, offsets from 0, labels) of reviews start..stop-1 of a split, read from disk."""
    offsets = read_rows(part(folder, split, "offsets"), start, stop + 1)
    ids = read_rows(part(folder, split, "ids"), int(offsets[0]), int(offsets[-1]))
    return ids, offsets - offsets[0], read_rows(part(folder, split, "labels"), start, stop)
