"""Ragged token ids on disk: one flat int32 array of ids plus int64 offsets (row i is ids[offsets[i]:offsets[i+1]]).

Plain .npy files (not .npz, whose zip headers carry timestamps) so that equal data gives equal bytes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from stages.lib.files import save_npy

SPLITS = ("train", "test", "ood")


def save_ragged(folder: Path, split: str, ids: np.ndarray, offsets: np.ndarray, labels: np.ndarray) -> None:
    save_npy(folder / f"{split}_ids.npy", ids.astype(np.int32))
    save_npy(folder / f"{split}_offsets.npy", offsets.astype(np.int64))
    save_npy(folder / f"{split}_labels.npy", labels.astype(np.int32))


def load_ragged(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.load(folder / f"{split}_{part}.npy") for part in ("ids", "offsets", "labels"))
