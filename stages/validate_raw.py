"""Stage `validate_raw`: the data contract of `data/raw/`, checked with Great Expectations.

Broken data stops the pipeline here, with a report naming each failed expectation, what was observed and a
few offending rows (reports/validation/raw.md), instead of a stack trace deep inside training.
Every later stage depends on reports/validation/raw.json, so nothing runs on data that failed.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.files import read_json, read_lines
from stages.lib.params import load_params

RAW_DIR = Path("data/raw")
REPORT = Path("reports/validation/raw")


def review_checks_frame(reviews: pd.DataFrame) -> pd.DataFrame:
    """The reviews plus derived columns that turn cross-row rules into per-row expectations."""
    frame = reviews.copy()
    text = frame["text"].fillna("")
    frame["text_chars"] = text.str.len()
    frame["text_is_blank"] = text.str.strip() == ""
    splits_per_text = frame[frame["text"].notna()].groupby("text")["split"].nunique()
    frame["text_in_train_and_test"] = frame["text"].map(splits_per_text).fillna(1).astype(int) > 1
    return frame


REQUIRED_SPLITS = ("train", "test")


def splits_frame(reviews: pd.DataFrame) -> pd.DataFrame:
    """One row per required split: its row count, reviews per class and share of positive reviews.

    A split with no rows at all still gets a row (of zeros), so its absence fails an expectation."""
    rows = []
    for split in REQUIRED_SPLITS:
        labels = reviews.loc[reviews["split"] == split, "label"]
        n, positive, negative = len(labels), int((labels == 1).sum()), int((labels == 0).sum())
        rows.append({"split": split, "rows": n, "positive": positive, "negative": negative,
                     "positive_share": round(positive / n, 6) if n else 0.0})
    return pd.DataFrame(rows)


def review_expectations(params: dict, manifest: dict) -> list:
    import great_expectations.expectations as gxe

    lo_chars, hi_chars = params["validation"]["raw"]["text_chars"]
    return [
        gxe.ExpectTableColumnsToMatchSet(column_set=["id", "text", "label", "split"], exact_match=False),
        gxe.ExpectTableRowCountToEqual(value=manifest["reviews"]["rows"]),
        gxe.ExpectColumnValuesToBeOfType(column="text", type_="str"),
        gxe.ExpectColumnValuesToBeOfType(column="label", type_="int64"),
        gxe.ExpectColumnValuesToNotBeNull(column="label"),  # set expectations below skip nulls
        gxe.ExpectColumnValuesToNotBeNull(column="id"),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToNotBeNull(column="text"),
        gxe.ExpectColumnValuesToBeInSet(column="text_is_blank", value_set=[False]),
        gxe.ExpectColumnValuesToBeBetween(column="text_chars", min_value=lo_chars, max_value=hi_chars),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "test"]),
        gxe.ExpectColumnValuesToBeInSet(column="text_in_train_and_test", value_set=[False]),
    ]


def splits_expectations(params: dict, manifest: dict) -> list:
    import great_expectations.expectations as gxe

    cfg = params["validation"]["raw"]
    lo, hi = cfg["class_balance"]
    return [
        gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=cfg["min_rows_per_split"]),
        gxe.ExpectColumnValuesToBeBetween(column="positive", min_value=1),  # both classes in every split
        gxe.ExpectColumnValuesToBeBetween(column="negative", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="positive_share", min_value=lo, max_value=hi),
    ]


def glove_checks_frame(words: list[str], vectors: np.ndarray) -> pd.DataFrame:
    rows_finite = np.isfinite(vectors).all(axis=1) if vectors.ndim == 2 else np.zeros(len(words), bool)
    n = min(len(words), len(rows_finite))
    return pd.DataFrame({"word": words[:n], "vector_is_finite": rows_finite[:n],
                         "dim": np.full(n, vectors.shape[1] if vectors.ndim == 2 else 0)})


def glove_expectations(params: dict, manifest: dict, n_vectors: int) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToEqual(value=n_vectors),  # one word per vector row
        gxe.ExpectColumnValuesToNotBeNull(column="word"),
        gxe.ExpectColumnValuesToBeUnique(column="word"),
        gxe.ExpectColumnValuesToBeInSet(column="vector_is_finite", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="dim", value_set=[params["data"]["glove_dim"]]),
    ]


def validate(params: dict, manifest: dict, reviews: pd.DataFrame, ood: pd.DataFrame,
             words: list[str], vectors: np.ndarray) -> list[dict]:
    from stages.lib.validation import run_suite

    results = [
        run_suite("reviews", review_checks_frame(reviews), review_expectations(params, manifest), "id"),
        run_suite("splits", splits_frame(reviews), splits_expectations(params, manifest), "split", show_rows=True),
        run_suite("glove", glove_checks_frame(words, vectors), glove_expectations(params, manifest, len(vectors)),
                  "word"),
    ]
    if len(ood):
        import great_expectations.expectations as gxe
        results.append(run_suite("ood", ood.assign(text_is_blank=ood["text"].fillna("").str.strip() == ""), [
            gxe.ExpectTableRowCountToEqual(value=manifest["ood"]["rows"]),
            gxe.ExpectColumnValuesToNotBeNull(column="text"),
            gxe.ExpectColumnValuesToBeInSet(column="text_is_blank", value_set=[False]),
            gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
            gxe.ExpectColumnValuesToBeUnique(column="id"),
        ], "id"))
    return results


def main(params: dict) -> None:
    from stages.lib.validation import write_reports

    manifest = read_json(RAW_DIR / "manifest.json")
    reviews = pd.read_parquet(RAW_DIR / "reviews.parquet")
    ood = pd.read_parquet(RAW_DIR / "ood.parquet")
    vectors = np.load(RAW_DIR / "glove.npy", mmap_mode="r")
    words = read_lines(RAW_DIR / "glove_words.txt")
    results = validate(params, manifest, reviews, ood, words, vectors)
    if not write_reports(REPORT, results, f"Raw data validation of {inputs_named(manifest)}"):
        sys.exit(1)


def inputs_named(manifest: dict) -> str:
    """The input files as the user knows them; for the local source, ids local-N are row N of the reviews file."""
    names = dict.fromkeys(entry.get("path") or entry.get("package") or entry.get("url")
                          for entry in manifest["inputs"].values())
    note = " (review id local-N is row N of the reviews file)" if manifest["source"] == "local" else ""
    return ", ".join(n for n in names if n) + note


if __name__ == "__main__":
    main(load_params())
