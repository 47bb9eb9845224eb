"""Stage `tokenize`: reviews -> vocabulary and ragged token ids (no padding yet; that is `pad`'s job).

The vocabulary is fitted on the training split only, so test and out-of-domain text never leak into it.
Writes data/interim/vocab.txt (line number = id; line 0 is padding, line 1 is [UNK]), the ids of every split,
and reports/tokenize.json: coverage, OOV rate and length figures for choosing `maxlen`.

The reviews are tasks of a block of rows each, for the engine the stage is given: a task tokenizes its rows and
encodes them into its own unique tokens (`coded_rows`); here, in task order, those codes become corpus-wide
(kept in a scratch folder) and the training tokens are counted; then codes are mapped to vocabulary ids. Memory
is bounded by the block and the number of distinct tokens, not by the number of reviews.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stages.engines.local import LOCAL
from stages.lib import catalog
from stages.lib.arrays import BLOCK_ROWS, NpyWriter, open_parquet, parquet_row_count, parquet_rows
from stages.lib.files import atomic_dir, scratch_dir, write_json, write_lines
from stages.lib.params import load_params
from stages.lib.ragged import SPLITS, block_ranges, part as ragged_part
from stages.lib.text import Codebook, encode, tokenize

READS, WRITES, ENGINE = (catalog.RAW_REVIEWS, catalog.RAW_OOD), (catalog.INTERIM, catalog.TOKENIZE_REPORT), True
FIT_AT = (20, 50, 100, 200, 400)
CODE = np.dtype(np.int32)


def tokenize_splits(frames: dict[str, pd.DataFrame], vocab_size: int):
    """Every split in memory at once (tests, benchmarks): the stage's batch functions on one batch per split.
    Returns (vocabulary, {split: (ids, offsets)})."""
    book, coded = Codebook(), {}
    for name, frame in frames.items():
        coded[name] = book.encode(frame["text"].tolist())
        if name == "train":
            book.count(coded[name][0])
    vocabulary, id_of_code = book.vocabulary(vocab_size)
    return vocabulary, {name: (id_of_code[codes], offsets) for name, (codes, offsets) in coded.items()}


def coded_rows(path: str, rows: tuple[int, int]) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """One task: reviews start..stop-1 of a Parquet file of data/raw, tokenized and encoded on their own, split by
    split in file order: [(split, codes into the task's unique tokens, those tokens, offsets, labels)].
    The ood file has no split column: its reviews are split "ood"."""
    import pyarrow.compute as pc  # pyarrow: not needed by the NumPy-only stages

    names = open_parquet(path).schema_arrow.names
    table = parquet_rows(path, *rows, columns=[c for c in ("text", "label", "split") if c in names])
    out = []
    for split in ("train", "test") if "split" in table.column_names else ("ood",):
        part = table.filter(pc.equal(table.column("split"), split)) if split != "ood" else table
        if part.num_rows:
            codes, uniques, offsets = encode(tokenize(part.column("text")))
            out.append((split, codes, uniques, offsets, part.column("label").to_numpy()))
    return out


def review_tasks(rows: int = BLOCK_ROWS, engine=LOCAL) -> list[tuple[str, tuple[int, int]]]:
    """(file, rows) of data/raw in file order: reviews.parquet, then ood.parquet, where the tasks read them."""
    files = [engine.input(artefact.path) for artefact in (catalog.RAW_REVIEWS, catalog.RAW_OOD)]
    return [(path, block) for path in files for block in block_ranges(parquet_row_count(path), rows)]


class SplitCodes:
    """One split's token codes, offsets and labels appended batch by batch to raw files in a scratch folder."""

    def __init__(self, folder: Path, split: str):
        self.paths = {part: folder / f"{split}.{part}" for part in ("codes", "lengths", "labels")}
        self.files = {part: path.open("wb") for part, path in self.paths.items()}
        self.rows = self.tokens = 0

    def append(self, codes: np.ndarray, offsets: np.ndarray, labels: np.ndarray) -> None:
        self.files["codes"].write(codes.astype(CODE).tobytes())
        self.files["lengths"].write(np.diff(offsets).astype(np.int64).tobytes())
        self.files["labels"].write(labels.astype(np.int32).tobytes())
        self.rows, self.tokens = self.rows + len(labels), self.tokens + len(codes)

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def blocks(self, part: str, dtype, items: int = BLOCK_ROWS * 256):
        with self.paths[part].open("rb") as f:
            while len(block := np.fromfile(f, dtype=dtype, count=items)):
                yield block


def write_split(out: Path, split: str, codes: SplitCodes, id_of_code: np.ndarray) -> dict:
    """Map a split's codes to ids and write its .npy files; returns figures for the report."""
    figures = {"tokens": 0, "oov": 0}
    with NpyWriter(ragged_part(out, split, "ids"), (codes.tokens,), np.int32) as w:
        for block in codes.blocks("codes", CODE):
            ids = id_of_code[block]
            figures["oov"] += int((ids == 1).sum())
            w.write(ids)
    figures["tokens"] = codes.tokens
    with NpyWriter(ragged_part(out, split, "offsets"), (codes.rows + 1,), np.int64) as w:
        w.write(np.zeros(1, np.int64))
        end = 0
        for lengths in codes.blocks("lengths", np.int64):
            w.write(end + np.cumsum(lengths))
            end += int(lengths.sum())
    with NpyWriter(ragged_part(out, split, "labels"), (codes.rows,), np.int32) as w:
        for block in codes.blocks("labels", np.int32):
            w.write(block)
    return figures


def length_report(vocab_size: int, train_lengths: np.ndarray, figures: dict) -> dict:
    """Coverage and length figures. train_lengths holds one number per training review (8 bytes a review)."""
    lengths = train_lengths
    pct = np.percentile(lengths, [50, 75, 90, 95, 99]).round(1)
    train, test = figures["train"], figures["test"]
    return {
        "vocab_size": vocab_size,
        "train_token_coverage": round((train["tokens"] - train["oov"]) / train["tokens"], 6),
        "test_oov_rate": round(test["oov"] / test["tokens"], 6) if test["tokens"] else None,
        "train_tokens": int(train["tokens"]),
        "review_tokens": {"mean": round(float(lengths.mean()), 2), "min": int(lengths.min()),
                          "max": int(lengths.max()), **{f"p{p}": float(v) for p, v in zip((50, 75, 90, 95, 99), pct)}},
        "share_fitting_whole_at_maxlen": {str(m): round(float((lengths <= m).mean()), 6) for m in FIT_AT},
    }


def code_splits(params: dict, splits: dict[str, SplitCodes], engine=LOCAL) -> tuple[list[str], np.ndarray]:
    """Every task's codes made corpus-wide here, in task order, and the training tokens counted: the vocabulary
    comes from the same merge whichever engine tokenized. Returns (vocabulary, id of each code)."""
    book = Codebook()
    for parts in engine.map(_coded_rows, review_tasks(engine=engine)):
        for split, codes, uniques, offsets, labels in parts:
            codes = book.merge(codes, uniques)
            if split == "train":
                book.count(codes)
            splits[split].append(codes, offsets, labels)
        del parts, codes  # not held while the next task runs
    return book.vocabulary(params["tokenize"]["vocab_size"])


def _coded_rows(task: tuple[str, tuple[int, int]]):
    return coded_rows(*task)


def main(params: dict, engine=LOCAL) -> None:
    # Two temporary folders beside data/interim with different names: one's cleanup must not remove the other.
    interim = catalog.INTERIM.path
    with scratch_dir(interim.with_name("interim-codes"), output=interim) as scratch, atomic_dir(interim) as tmp:
        splits = {split: SplitCodes(scratch, split) for split in SPLITS}
        vocabulary, id_of_code = code_splits(params, splits, engine)
        for codes in splits.values():
            codes.close()
        write_lines(catalog.VOCABULARY.within(catalog.INTERIM, tmp), vocabulary)
        figures = {split: write_split(tmp, split, codes, id_of_code) for split, codes in splits.items()}
        train_lengths = np.fromfile(splits["train"].paths["lengths"], dtype=np.int64)
    report = length_report(len(vocabulary), train_lengths, figures)
    write_json(catalog.TOKENIZE_REPORT.path, report)
    print(f"tokenize: {len(vocabulary)} ids, train coverage {report['train_token_coverage']:.3f}, "
          f"test OOV {report['test_oov_rate']}, median review {report['review_tokens']['p50']} tokens")


if __name__ == "__main__":
    main(load_params())
