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

from stages.lib.arrays import block_rows, hashes_of, parquet_frames
from stages.lib.files import read_json, read_lines
from stages.lib.params import load_params
from stages.lib.validation import EXAMPLES

RAW_DIR = Path("data/raw")
VALIDATION_ROWS = block_rows(50_000)  # reviews per Great Expectations batch; results are combined into one report
REPORT = Path("reports/validation/raw")


def review_checks_frame(reviews: pd.DataFrame, texts_in_both: np.ndarray) -> pd.DataFrame:
    """The reviews plus derived columns that turn cross-row rules into per-row expectations.

    texts_in_both: hashes of the texts found in more than one split (see CorpusFacts)."""
    frame = reviews.copy()
    frame["text_chars"] = frame["text"].fillna("").str.len()
    frame["text_is_blank"] = blank_texts(frame["text"])
    frame["text_in_train_and_test"] = frame["text"].notna() & np.isin(hashes_of(frame["text"]), texts_in_both)
    return frame


def blank_texts(text: pd.Series) -> pd.Series:
    """True where a review has no text at all, or only whitespace."""
    return text.fillna("").str.strip() == ""


REQUIRED_SPLITS = ("train", "test")


class CorpusFacts:
    """What the reviews' rules need from the whole corpus, gathered batch by batch in one streaming pass:
    rows per split and class, texts seen in more than one split and ids used more than once (as hashes)."""

    def __init__(self):
        self.by_split_and_label: dict[tuple, int] = {}
        self.text_splits, self.id_hashes = [], []

    def add(self, reviews: pd.DataFrame) -> None:
        for key, n in reviews.groupby(["split", "label"], dropna=False).size().items():
            self.by_split_and_label[key] = self.by_split_and_label.get(key, 0) + int(n)
        texts = reviews[reviews["text"].notna()]
        pairs = pd.DataFrame({"text": hashes_of(texts["text"]), "split": texts["split"].to_numpy()})
        self.text_splits.append(pairs.drop_duplicates())
        self.id_hashes.append(hashes_of(reviews["id"].dropna()))

    def texts_in_both(self) -> np.ndarray:
        if not self.text_splits:
            return np.zeros(0, np.uint64)
        pairs = pd.concat(self.text_splits, ignore_index=True).drop_duplicates()
        splits_per_text = pairs.groupby("text")["split"].nunique()
        return splits_per_text.index[splits_per_text > 1].to_numpy(np.uint64)

    def duplicated_ids(self) -> tuple[np.ndarray, int]:
        """Hashes of ids used more than once, and how many rows hold them."""
        hashes = np.concatenate(self.id_hashes) if self.id_hashes else np.zeros(0, np.uint64)
        unique, counts = np.unique(hashes, return_counts=True)
        return unique[counts > 1], int(counts[counts > 1].sum())

    def count(self, split: str, label=None) -> int:
        return sum(n for (s, y), n in self.by_split_and_label.items() if s == split and (label is None or y == label))


def splits_frame(facts: CorpusFacts) -> pd.DataFrame:
    """One row per required split: its row count, reviews per class and share of positive reviews.

    A split with no rows at all still gets a row (of zeros), so its absence fails an expectation."""
    rows = []
    for split in REQUIRED_SPLITS:
        n, positive, negative = facts.count(split), facts.count(split, 1), facts.count(split, 0)
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


def frames_of(reviews, rows: int):
    """Batches of `rows` reviews: from a DataFrame (tests, small data) or a function that reads them anew."""
    if isinstance(reviews, pd.DataFrame):
        return (reviews.iloc[i:i + rows] for i in range(0, max(len(reviews), 1), rows))
    return reviews()


def validate(params: dict, manifest: dict, reviews, ood, words: list[str], vectors: np.ndarray,
             rows: int = VALIDATION_ROWS) -> list[dict]:
    """reviews, ood: DataFrames or functions that yield their batches (read twice: facts first, then the checks)."""
    from stages.lib.validation import run_suite, run_suite_batches

    facts = CorpusFacts()
    for frame in frames_of(reviews, rows):
        facts.add(frame)
    in_both = facts.texts_in_both()
    duplicated_ids = DuplicatedIds(facts)

    results = [
        run_suite_batches("reviews", (review_checks_frame(duplicated_ids.look(f), in_both) for f in frames_of(reviews, rows)),
                          review_expectations(params, manifest), "id", corpus_wide=duplicated_ids.corpus_wide()),
        run_suite("splits", splits_frame(facts), splits_expectations(params, manifest), "split", show_rows=True),
        run_suite("glove", glove_checks_frame(words, vectors), glove_expectations(params, manifest, len(vectors)),
                  "word"),
    ]
    ood_facts = CorpusFacts()
    for frame in frames_of(ood, rows):
        ood_facts.add(frame.assign(split="ood"))
    if ood_facts.count("ood"):  # a source without out-of-domain reviews has an empty table: nothing to check
        ood_ids = DuplicatedIds(ood_facts)
        ood_frames = (ood_ids.look(f).assign(text_is_blank=blank_texts(f["text"]))
                      for f in frames_of(ood, rows))
        results.append(run_suite_batches("ood", ood_frames, ood_expectations(manifest), "id",
                                         corpus_wide=ood_ids.corpus_wide()))
    return results


class DuplicatedIds:
    """Ids used more than once anywhere in the corpus (from CorpusFacts), with examples noted as batches pass by."""

    def __init__(self, facts: CorpusFacts):
        self.hashes, self.rows = facts.duplicated_ids()
        self.examples: list[dict] = []

    def look(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.rows and len(self.examples) < EXAMPLES:
            ids = frame["id"].dropna()
            self.examples.extend({"id": i} for i in ids[np.isin(hashes_of(ids), self.hashes)].tolist())
        return frame

    def corpus_wide(self) -> dict:
        return {"id": (self.rows, self.examples)}


def ood_expectations(manifest: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToEqual(value=manifest["ood"]["rows"]),
        gxe.ExpectColumnValuesToNotBeNull(column="text"),
        gxe.ExpectColumnValuesToBeInSet(column="text_is_blank", value_set=[False]),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
    ]


def parquet_reader(path: Path, rows: int):
    return lambda: parquet_frames(path, rows)


def validate_on_spark(params: dict, manifest: dict, words: list[str], vectors: np.ndarray) -> list[dict]:
    """validate() with engine.name spark: the same check frames and suites, as Spark DataFrames."""
    from stages import on_spark
    from stages.lib.validation import run_suite, run_suite_batches

    session, reviews, ood = on_spark.raw_frames(params, RAW_DIR)
    facts, in_both = on_spark.corpus_facts(reviews)
    results = [
        run_suite_batches("reviews", [on_spark.review_checks(reviews, in_both)], review_expectations(params, manifest),
                          "id"),
        run_suite("splits", splits_frame(facts), splits_expectations(params, manifest), "split", show_rows=True,
                  session=session),
        run_suite("glove", glove_checks_frame(words, vectors), glove_expectations(params, manifest, len(vectors)),
                  "word", session=session),
    ]
    if manifest["ood"]["rows"]:
        results.append(run_suite_batches("ood", [on_spark.ood_checks(ood)], ood_expectations(manifest), "id"))
    return results


def main(params: dict) -> None:
    from stages.lib.validation import write_reports

    manifest = read_json(RAW_DIR / "manifest.json")
    vectors = np.load(RAW_DIR / "glove.npy", mmap_mode="r")
    words = read_lines(RAW_DIR / "glove_words.txt")
    if params["engine"]["name"] == "spark":
        results = validate_on_spark(params, manifest, words, vectors)
    else:
        results = validate(params, manifest, parquet_reader(RAW_DIR / "reviews.parquet", VALIDATION_ROWS),
                           parquet_reader(RAW_DIR / "ood.parquet", VALIDATION_ROWS), words, vectors)
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
