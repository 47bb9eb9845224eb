"""Stage `validate_features`: the contract of the tensors that training reads, checked with Great Expectations.

Padded arrays: ids inside [0, vocab_size) (the vocabulary's real size: a small corpus has fewer words than
tokenize.vocab_size allows), every row exactly `maxlen` long, labels aligned with rows and in
{0, 1}, and not too many rows that are padding only. Embedding matrix: the right shape, finite, padding row
zero, GloVe coverage at least `validation.features.min_glove_coverage`. A failure writes a readable report
(reports/validation/features.md), exits non-zero, and nothing downstream runs.
"""
from __future__ import annotations

import sys
from functools import partial

import numpy as np
import pandas as pd

from stages.engines.local import LOCAL
from stages.lib import catalog
from stages.lib.arrays import block_rows, npy_rows, read_rows
from stages.lib.files import read_json
from stages.lib.params import load_params
from stages.lib.ragged import SPLITS
from stages.lib.validation import loosen

READS = (catalog.PADDED_X, catalog.PADDED_Y, catalog.EMBEDDING_MATRIX, catalog.EMBEDDING_REPORT,
         catalog.TOKENIZE_REPORT)
WRITES, ENGINE = (catalog.VALIDATION_FEATURES, catalog.VALIDATION_FEATURES_MD), True
VALIDATION_ROWS = block_rows(50_000)  # reviews per Great Expectations batch; results are combined into one report


def rows_frame(x: np.ndarray, y: np.ndarray, first_row: int = 0) -> pd.DataFrame:
    """One row per padded review: its smallest and largest id, length, label, and whether it is all padding."""
    x2 = x.reshape(len(x), -1) if x.ndim != 2 else x
    n = len(x2)
    labels = np.full(n, -1, dtype=np.int64)
    labels[:min(n, len(y))] = y[:n]  # a missing label shows up as -1, outside {0, 1}
    return pd.DataFrame({
        "row": first_row + np.arange(n), "min_id": x2.min(axis=1, initial=0), "max_id": x2.max(axis=1, initial=0),
        "length": np.full(n, x2.shape[1]), "label": labels, "all_padding": (x2 == 0).all(axis=1).astype(int)})


def rows_expectations(params: dict, n_labels: int, vocab_size: int) -> list:
    import great_expectations.expectations as gxe  # Great Expectations takes seconds to import

    limit = params["validation"]["features"]["max_all_padding_share"]
    return [
        gxe.ExpectTableRowCountToEqual(value=n_labels),  # one label per row
        gxe.ExpectColumnValuesToBeBetween(column="min_id", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="max_id", max_value=vocab_size - 1),
        gxe.ExpectColumnValuesToBeInSet(column="length", value_set=[params["maxlen"]]),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        gxe.ExpectColumnMeanToBeBetween(column="all_padding", max_value=limit,
                                        meta=loosen("validation.features.max_all_padding_share", limit)),
        gxe.ExpectColumnSumToBeBetween(column="all_padding", min_value=0),  # reports the count of such rows
    ]


def matrix_frame(matrix: np.ndarray, coverage: dict) -> pd.DataFrame:
    m = matrix if matrix.ndim == 2 else matrix.reshape(len(matrix), -1)
    return pd.DataFrame({"rows": [m.shape[0]], "dim": [m.shape[1]], "finite": [bool(np.isfinite(m).all())],
                         "padding_row_zero": [bool(len(m) and not m[0].any())],
                         "vocab_coverage": [coverage["vocab_coverage"]]})


def matrix_expectations(params: dict, vocab_size: int) -> list:
    import great_expectations.expectations as gxe  # Great Expectations takes seconds to import

    return [
        gxe.ExpectColumnValuesToBeInSet(column="rows", value_set=[vocab_size]),
        gxe.ExpectColumnValuesToBeInSet(column="dim", value_set=[params["data"]["glove_dim"]]),
        gxe.ExpectColumnValuesToBeInSet(column="finite", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="padding_row_zero", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="vocab_coverage",
                                          min_value=params["validation"]["features"]["min_glove_coverage"],
                                          meta=loosen("validation.features.min_glove_coverage",
                                                      params["validation"]["features"]["min_glove_coverage"])),
    ]


def block_frame(x, y, rows: int, start: int) -> pd.DataFrame:
    """One task: the check frame of reviews start..start+rows-1 of a split, from arrays or from .npy files."""
    if isinstance(x, np.ndarray):
        return rows_frame(x[start:start + rows], y[start:start + rows], start)
    return rows_frame(read_rows(x, start, start + rows), read_rows(y, start, start + rows), start)


def validate(params: dict, arrays: dict, matrix: np.ndarray, coverage: dict, vocab_size: int,
             rows: int = VALIDATION_ROWS, engine=LOCAL) -> list[dict]:
    """arrays: {split: (ids, labels)} as arrays or as paths of .npy files (read `rows` reviews at a time).
    vocab_size: the ids the vocabulary really has (reports/tokenize.json), at most tokenize.vocab_size.
    engine: who builds and validates each block's check frame (a task)."""
    from stages.lib.validation import run_suite, run_suite_tasks  # imports pandas; Great Expectations when it runs

    results = []
    for split, (x, y) in arrays.items():
        n, n_labels = ((len(x), len(y)) if isinstance(x, np.ndarray) else (npy_rows(x), npy_rows(y)))
        if n or split != "ood":
            if not isinstance(x, np.ndarray):  # tasks may run in another process, folder or machine
                x, y = engine.input(x), engine.input(y)
            # at least one block, so an empty split is still checked (and fails its row count)
            results.append(run_suite_tasks(f"padded_{split}", engine, partial(block_frame, x, y, rows),
                                           range(0, max(n, 1), rows), rows_expectations(params, n_labels, vocab_size),
                                           "row"))
    results.append(run_suite("embedding_matrix", matrix_frame(matrix, coverage), matrix_expectations(params, vocab_size),
                             None, show_rows=True))
    return results


def main(params: dict, engine=LOCAL) -> None:
    from stages.lib.validation import write_reports  # imports pandas; Great Expectations when it runs

    arrays = {split: (catalog.PADDED_X.of(split), catalog.PADDED_Y.of(split)) for split in SPLITS}
    results = validate(params, arrays, np.load(catalog.EMBEDDING_MATRIX.path), read_json(catalog.EMBEDDING_REPORT.path),
                       read_json(catalog.TOKENIZE_REPORT.path)["vocab_size"], engine=engine)
    if not write_reports(catalog.VALIDATION_FEATURES.path, catalog.VALIDATION_FEATURES_MD.path, results,
                         "Feature validation"):
        sys.exit(1)


if __name__ == "__main__":
    main(load_params())
