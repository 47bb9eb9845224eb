"""Read a user's own reviews file (`data.source: local`) and refuse what cannot be read, with a message.

Each problem names the file, and where it can, the row, the line and the column, and says what was
expected. Row numbers count reviews from 1 (the header of a CSV is line 1, so row N is line N + 1).
Content rules (blank texts, splits, balance, duplicates) are checked afterwards by `validate_raw`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.arrays import block_rows, open_parquet

FORMATS = {".csv": "CSV", ".tsv": "TSV", ".parquet": "Parquet", ".pq": "Parquet", ".jsonl": "JSON Lines",
           ".ndjson": "JSON Lines"}
SHOWN = 3  # offending rows named in a message
CHUNK_ROWS = block_rows(50_000)  # reviews read at a time: memory is bounded by this, not by the file's size


class SourceError(ValueError):
    """An input file is missing or does not have the expected content."""


def check_file(path: Path, key: str) -> None:
    """The file named by params key `key` exists, is a file and is not empty."""
    if not path.exists():
        raise SourceError(f"{key}: {path} does not exist (put your files in data/external/, see README)")
    if not path.is_file():
        raise SourceError(f"{key}: {path} is not a file")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: the file is empty")


def format_suffix(path: Path) -> str:
    """'.csv' for reviews.csv and reviews.csv.gz (pandas and Arrow decompress by name), else the last suffix."""
    suffixes = [x.lower() for x in path.suffixes]
    return suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else path.suffix.lower()


def first_bad_utf8_line(path: Path) -> tuple[int, str]:
    """(line number, reason) of the first line that is not UTF-8; only called once decoding has failed."""
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                return number, f"{e.reason} at byte {e.start + 1} of the line"
    return 0, "unknown position"


def read_chunks(path: Path, key: str, rows: int = CHUNK_ROWS):
    """The file as DataFrames of up to `rows` rows, read one after the other (at least one, maybe empty).

    A problem anywhere in the file is a SourceError naming the file, whenever the reading reaches it."""
    check_file(path, key)
    kind = FORMATS.get(format_suffix(path))
    if kind is None:
        raise SourceError(f"{key}: {path}: expected a {', '.join(sorted(set(FORMATS)))} file (optionally .gz)")
    try:
        if kind == "Parquet":
            file = open_parquet(path)
            batches = file.iter_batches(batch_size=rows)
            chunks = (batch.to_pandas() for batch in batches)
            empty = file.schema_arrow.empty_table().to_pandas()
        elif kind == "JSON Lines":
            chunks = pd.read_json(path, lines=True, dtype=False, encoding="utf-8", chunksize=rows)
            empty = pd.DataFrame()
        else:  # a CSV with a header only still gives one (empty) chunk with its columns
            chunks = pd.read_csv(path, sep="\t" if kind == "TSV" else ",", dtype=str, keep_default_na=False,
                                 encoding="utf-8-sig", chunksize=rows)  # -sig: a byte-order mark is not a header
            empty = pd.DataFrame()
        any_rows = False
        for chunk in chunks:
            any_rows = True
            yield chunk
        if not any_rows:
            yield empty
    except UnicodeDecodeError:
        line, reason = first_bad_utf8_line(path)
        raise SourceError(f"{path}, line {line}: not UTF-8 text ({reason}); re-save the file as UTF-8 "
                          "(e.g. iconv -f latin1 -t utf-8 in.csv > out.csv)") from None
    except pd.errors.EmptyDataError:
        raise SourceError(f"{path}: no header line; expected columns text, label and optional split") from None
    except pd.errors.ParserError as e:
        raise SourceError(f"{path}: not a valid {kind} file: {str(e).strip()} (quote texts that hold "
                          f"the separator or line breaks)") from None
    except (ValueError, OSError) as e:  # pyarrow.ArrowInvalid is a ValueError too
        raise SourceError(f"{path}: not a valid {kind} file: {str(e).strip().splitlines()[0]}") from None


def read_local_reviews(path: Path) -> pd.DataFrame:
    """The whole reviews file at once (small files, tests); the download stage reads it with iter_local_reviews."""
    chunks = list(iter_local_reviews(path))
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def iter_local_reviews(path: Path, rows: int = CHUNK_ROWS):
    """The reviews file in chunks of up to `rows` rows, each checked: columns text and label present, texts
    as strings (nulls kept: validate_raw names them). Row numbers in messages count from the file's start."""
    total = 0
    for chunk in read_chunks(path, "data.local.reviews", rows):
        chunk = checked_chunk(chunk, path, total)
        total += len(chunk)
        yield chunk


def checked_chunk(chunk: pd.DataFrame, path: Path, first_row: int) -> pd.DataFrame:
    """A chunk of the reviews file whose first row is row `first_row` (from 0): columns checked, texts as strings."""
    missing = [c for c in ("text", "label") if c not in chunk.columns]
    if missing:
        found = ", ".join(map(str, chunk.columns)) or "none"
        raise SourceError(f"{path}: missing column(s) {', '.join(missing)}; expected text, label and optional "
                          f"split (found: {found})")
    chunk = chunk.reset_index(drop=True)
    if len(chunk) == 0 and first_row == 0:
        raise SourceError(f"{path}: no reviews, only a header; expected one review per row")
    text = chunk["text"]
    chunk["text"] = text.where(text.isna(), text.astype(str)).astype("string")
    chunk.attrs["first_row"] = first_row
    return chunk


def _where(rows: np.ndarray, path: Path) -> str:
    csv_like = any(x.lower() in (".csv", ".tsv") for x in path.suffixes)
    return ", ".join(f"row {r + 1}" + (f" (line {r + 2})" if csv_like else "") for r in rows[:SHOWN])


def parse_labels(labels: pd.Series, path: Path, first_row: int = 0) -> pd.Series:
    """Labels 0/1 as int64; accepted spellings: integers, '0'/'1', 0.0/1.0, true/false. Anything else is refused."""
    text = labels.astype("string").str.strip().str.lower()
    mapped = text.map({"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1})
    bad = np.flatnonzero(mapped.isna().to_numpy())
    if len(bad):
        values = ", ".join(repr(v) for v in labels.iloc[bad[:SHOWN]].tolist())
        among = f" of rows {first_row + 1}-{first_row + len(labels)}" if first_row else ""
        raise SourceError(f"{path}: column 'label' must hold 0 (negative) or 1 (positive); {len(bad)} row(s){among} do "
                          f"not: {_where(first_row + bad, path)} hold {values}")
    return mapped.astype("int64")
