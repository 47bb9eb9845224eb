"""Stage `validate_raw`: the data contract of `data/raw/`, checked with Great Expectations.

Broken data stops the pipeline here, with a report naming each failed expectation, what was observed and a
few offending rows (reports/validation/raw.md), instead of a stack trace deep inside training.
Every later stage depends on reports/validation/raw.json, so nothing runs on data that failed.
"""
from __future__ import annotations

import sys
from functools import partial

import numpy as np
import pandas as pd

from stages.engines.local import LOCAL
from stages.lib import catalog
from stages.lib.arrays import block_rows, hashes_of, parquet_row_count, parquet_rows
from stages.lib.files import read_json, read_lines
from stages.lib.params import load_params
from stages.lib.validation import EXAMPLES, loosen

READS = (catalog.RAW_MANIFEST, catalog.GLOVE_VECTORS, catalog.GLOVE_WORDS, catalog.RAW_REVIEWS, catalog.RAW_OOD)
WRITES, ENGINE = (catalog.VALIDATION_RAW, catalog.VALIDATION_RAW_MD), True
VALIDATION_ROWS = block_rows(50_000)  # reviews per Great Expectations batch; results are combined into one report


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
        self.text_splits, self.id_hashes, self.text_labels = [], [], []

    def add(self, reviews: pd.DataFrame) -> None:
        for key, n in reviews.groupby(["split", "label"], dropna=False).size().items():
            self.by_split_and_label[key] = self.by_split_and_label.get(key, 0) + int(n)
        texts = reviews[reviews["text"].notna()]
        pairs = pd.DataFrame({"text": hashes_of(texts["text"]), "split": texts["split"].to_numpy()})
        self.text_splits.append(pairs.drop_duplicates())
        labelled = pd.DataFrame({"text": pairs["text"], "label": texts["label"].to_numpy()})
        self.text_labels.append(labelled.drop_duplicates())
        self.id_hashes.append(hashes_of(reviews["id"].dropna()))

    def merge(self, other: "CorpusFacts") -> None:
        """Add the facts of other rows (another task's)."""
        for key, n in other.by_split_and_label.items():
            self.by_split_and_label[key] = self.by_split_and_label.get(key, 0) + n
        self.text_splits += other.text_splits
        self.id_hashes += other.id_hashes
        self.text_labels += other.text_labels

    def texts_with_both_labels(self) -> int:
        """How many distinct texts occur with more than one label (the same review, called positive and negative)."""
        if not self.text_labels:
            return 0
        pairs = pd.concat(self.text_labels, ignore_index=True).drop_duplicates()
        return int((pairs.groupby("text")["label"].nunique() > 1).sum())

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
    import great_expectations.expectations as gxe  # Great Expectations takes seconds to import

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
        gxe.ExpectColumnValuesToBeBetween(column="text_chars", min_value=lo_chars, max_value=hi_chars,
                                          meta=loosen("validation.raw.text_chars", [lo_chars, hi_chars])),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "test"]),
        gxe.ExpectColumnValuesToBeInSet(column="text_in_train_and_test", value_set=[False]),
    ]


def splits_expectations(params: dict, manifest: dict) -> list:
    import great_expectations.expectations as gxe  # Great Expectations takes seconds to import

    cfg = params["validation"]["raw"]
    lo, hi = cfg["class_balance"]
    return [
        gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=cfg["min_rows_per_split"],
                                          meta=loosen("validation.raw.min_rows_per_split", cfg["min_rows_per_split"])),
        gxe.ExpectColumnValuesToBeBetween(column="positive", min_value=1),  # both classes in every split
        gxe.ExpectColumnValuesToBeBetween(column="negative", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="positive_share", min_value=lo, max_value=hi,
                                          meta=loosen("validation.raw.class_balance", [lo, hi])),
    ]


def glove_checks_frame(words: list[str], vectors: np.ndarray) -> pd.DataFrame:
    rows_finite = np.isfinite(vectors).all(axis=1) if vectors.ndim == 2 else np.zeros(len(words), bool)
    n = min(len(words), len(rows_finite))
    return pd.DataFrame({"word": words[:n], "vector_is_finite": rows_finite[:n],
                         "dim": np.full(n, vectors.shape[1] if vectors.ndim == 2 else 0)})


def glove_expectations(params: dict, manifest: dict, n_vectors: int) -> list:
    import great_expectations.expectations as gxe  # Great Expectations takes seconds to import

    return [
        gxe.ExpectTableRowCountToEqual(value=n_vectors),  # one word per vector row
        gxe.ExpectColumnValuesToNotBeNull(column="word"),
        gxe.ExpectColumnValuesToBeUnique(column="word"),
        gxe.ExpectColumnValuesToBeInSet(column="vector_is_finite", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="dim", value_set=[params["data"]["glove_dim"]],
                                        meta=loosen("data.glove_dim", params["data"]["glove_dim"])),
    ]


def rows_of(source, rows: int, start: int) -> pd.DataFrame:
    """One task's rows: reviews start..start+rows-1 of a DataFrame (tests, small data) or of a Parquet file."""
    if isinstance(source, pd.DataFrame):
        return source.iloc[start:start + rows]
    return parquet_rows(source, start, start + rows).to_pandas()


def facts_of(source, rows: int, split: str | None, start: int) -> CorpusFacts:
    """One task: the CorpusFacts of its rows (`split` names the split of a file that has no split column)."""
    frame = rows_of(source, rows, start)
    facts = CorpusFacts()
    facts.add(frame if split is None else frame.assign(split=split))
    return facts


def review_checks(source, rows: int, texts_in_both: np.ndarray, start: int) -> pd.DataFrame:
    return review_checks_frame(rows_of(source, rows, start), texts_in_both)


def ood_checks(source, rows: int, start: int) -> pd.DataFrame:
    frame = rows_of(source, rows, start)
    return frame.assign(text_is_blank=blank_texts(frame["text"]))


def ids_among(source, rows: int, hashes: np.ndarray, start: int) -> list:
    """One task: the ids of its rows whose hash is among `hashes` (examples of ids used twice)."""
    ids = rows_of(source, rows, start)["id"].dropna()
    return ids[np.isin(hashes_of(ids), hashes)].tolist()


def validate(params: dict, manifest: dict, reviews, ood, words: list[str], vectors: np.ndarray,
             rows: int = VALIDATION_ROWS, engine=LOCAL) -> list[dict]:
    """reviews, ood: DataFrames or paths of Parquet files, read `rows` at a time: each block is a task for
    `engine`, first for the corpus-wide facts (merged here), then for the check frames."""
    from stages.lib.validation import run_suite, run_suite_tasks  # imports pandas; Great Expectations when it runs

    facts, tasks = corpus_facts(reviews, rows, None, engine)
    in_both = facts.texts_in_both()
    if conflicting := facts.texts_with_both_labels():  # noise a model cannot learn: worth a word, not a stop
        print(f"validate_raw: warning: {conflicting:,} review text(s) occur with both labels, 0 and 1; check the "
              "labels of the duplicated reviews", file=sys.stderr)
    results = [
        run_suite_tasks("reviews", engine, partial(review_checks, reviews, rows, in_both), tasks,
                        review_expectations(params, manifest), "id",
                        corpus_wide=duplicated_ids(facts, reviews, rows, tasks, engine)),
        # small frames at hand on the driver: validated here, on every engine
        run_suite("splits", splits_frame(facts), splits_expectations(params, manifest), "split", show_rows=True),
        run_suite("glove", glove_checks_frame(words, vectors), glove_expectations(params, manifest, len(vectors)),
                  "word"),
    ]
    ood_facts, ood_tasks = corpus_facts(ood, rows, "ood", engine)
    if ood_facts.count("ood"):  # a source without out-of-domain reviews has an empty table: nothing to check
        results.append(run_suite_tasks("ood", engine, partial(ood_checks, ood, rows), ood_tasks,
                                       ood_expectations(manifest), "id",
                                       corpus_wide=duplicated_ids(ood_facts, ood, rows, ood_tasks, engine)))
    return results


def corpus_facts(source, rows: int, split: str | None, engine) -> tuple[CorpusFacts, range]:
    """The facts of the whole source, merged from its tasks in order; and the tasks (first rows of the blocks,
    at least one, so an empty source still has its columns checked)."""
    n = len(source) if isinstance(source, pd.DataFrame) else parquet_row_count(source)
    tasks = range(0, max(n, 1), rows)
    facts = CorpusFacts()
    for part in engine.map(partial(facts_of, source, rows, split), tasks):
        facts.merge(part)
    return facts, tasks


def duplicated_ids(facts: CorpusFacts, source, rows: int, tasks, engine) -> dict:
    """The uniqueness of ids across the whole corpus (GX sees one block at a time on the local engine): how many
    rows hold an id used more than once, and the first few such ids in file order."""
    hashes, n = facts.duplicated_ids()
    examples = []
    if n:
        for ids in engine.map(partial(ids_among, source, rows, hashes), tasks):
            examples.extend({"id": i} for i in ids[:EXAMPLES - len(examples)])
    return {"id": (n, examples)}


def ood_expectations(manifest: dict) -> list:
    import great_expectations.expectations as gxe  # Great Expectations takes seconds to import

    return [
        gxe.ExpectTableRowCountToEqual(value=manifest["ood"]["rows"]),
        gxe.ExpectColumnValuesToNotBeNull(column="text"),
        gxe.ExpectColumnValuesToBeInSet(column="text_is_blank", value_set=[False]),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
    ]


def main(params: dict, engine=LOCAL) -> None:
    from stages.lib.validation import write_reports  # imports pandas; Great Expectations when it runs

    manifest = read_json(catalog.RAW_MANIFEST.path)
    vectors = np.load(catalog.GLOVE_VECTORS.path, mmap_mode="r")
    words = read_lines(catalog.GLOVE_WORDS.path)
    reviews, ood = (engine.input(artefact.path) for artefact in (catalog.RAW_REVIEWS, catalog.RAW_OOD))
    results = validate(params, manifest, reviews, ood, words, vectors, engine=engine)
    if not write_reports(catalog.VALIDATION_RAW.path, catalog.VALIDATION_RAW_MD.path, results, f"Raw data validation of {inputs_named(manifest)}"):
        sys.exit(1)


def inputs_named(manifest: dict) -> str:
    """The input files as the user knows them; for the local source, ids local-N are row N of the reviews file."""
    names = dict.fromkeys(entry.get("path") or entry.get("package") or entry.get("url")
                          for entry in manifest["inputs"].values())
    note = " (review id local-N is row N of the reviews file)" if manifest["source"] == "local" else ""
    return ", ".join(n for n in names if n) + note


if __name__ == "__main__":
    main(load_params())
