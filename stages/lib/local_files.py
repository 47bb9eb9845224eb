"""Read a user's own reviews file (`data.source: local`) and refuse what cannot be read, with a message.

Each problem names the file, and where it can, the row, the line and the column, and says what was
expected. Row numbers count reviews from 1 (the header of a CSV is line 1, so row N is line N + 1).
Content rules (blank texts, splits, balance, duplicates) are checked afterwards by `validate_raw`.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.arrays import block_rows, open_parquet
from stages.lib.encodings import DAMAGED_COMPRESSION, UNPACK, damaged_compression, looks_like, not_utf8, open_bytes

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


def read_chunks(path: Path, key: str, rows: int = CHUNK_ROWS):
    """The file as DataFrames of up to `rows` rows, read one after the other (at least one, maybe empty).

    A problem anywhere in the file is a SourceError naming the file, whenever the reading reaches it."""
    check_file(path, key)
    kind = FORMATS.get(format_suffix(path))
    if kind is None:
        raise SourceError(f"{key}: {path}: expected a {', '.join(sorted(set(FORMATS)))} file (optionally .gz)")
    check_content(path, kind)
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
        raise SourceError(not_utf8(path)) from None
    except DAMAGED_COMPRESSION as e:
        raise SourceError(damaged_compression(path, e)) from None
    except pd.errors.EmptyDataError:
        raise SourceError(f"{path}: no header line; expected columns text, label and optional split") from None
    except pd.errors.ParserError as e:
        raise SourceError(other_separator(path, kind) or f"{path}: not a valid {kind} file: {str(e).strip()} (quote "
                          "texts that hold the separator or line breaks)") from None
    except (ValueError, OSError) as e:  # pyarrow.ArrowInvalid is a ValueError too
        if kind == "JSON Lines" and isinstance(e, ValueError):  # pandas names a byte offset: find the line
            line, reason = first_bad_json_line(path)
            if line:
                raise SourceError(f"{path}, line {line}: not a JSON object ({reason}); expected one object per "
                                  'line, such as {"text": "...", "label": 1}') from None
        raise SourceError(f"{path}: not a valid {kind} file: {str(e).strip().splitlines()[0]}") from None


def check_content(path: Path, kind: str) -> None:
    """The bytes are what the name says: an archive or compressed data that nothing here unpacks (a zip, bzip2
    data named .csv) is named for what it is, before a reader calls it text in the wrong encoding; a JSON array
    named .jsonl is told to hold one object per line."""
    seen = looks_like(path)
    if seen in UNPACK:
        raise SourceError(not_utf8(path))
    if kind == "JSON Lines" and seen is None:
        with open_bytes(path) as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"["):
            raise SourceError(f"{path}: this is one JSON array, not JSON Lines; write one object per line (jq -c "
                              f"'.[]' {path.name} > {path.stem}-lines.jsonl)")


def other_separator(path: Path, kind: str) -> str | None:
    """The message for a CSV or TSV whose header is separated by another character (Excel in many European
    locales writes `;`), else None."""
    sep = "\t" if kind == "TSV" else ","
    try:
        with io.TextIOWrapper(open_bytes(path), encoding="utf-8-sig", errors="replace", newline="") as f:
            header = f.readline()
    except DAMAGED_COMPRESSION + (OSError,):
        return None
    if sep in header:
        return None
    names = {";": "';' (semicolon)", "\t": "a tab", "|": "'|'", ",": "',' (comma)"}
    for other in names:
        if other != sep and other in header:
            fix = ("name it .tsv" if other == "\t" else "name it .csv" if other == "," else
                   f"save it with {'commas' if kind == 'CSV' else 'tabs'} as the separator")
            return (f"{path}, line 1: the header {header.strip()!r} is separated by {names[other]}, not by "
                    f"{names[sep]} as a {kind} file is; {fix}")
    return None


def shown_columns(columns) -> str:
    """The columns found, at most ten of them named: a message must not grow with the file."""
    names = [str(c) for c in columns]
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "") if names else "none"


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
        kind = FORMATS.get(format_suffix(path))
        if kind in ("CSV", "TSV") and other_separator(path, kind):
            raise SourceError(other_separator(path, kind))
        raise SourceError(f"{path}: missing column(s) {', '.join(missing)}; expected text, label and optional "
                          f"split (found: {shown_columns(chunk.columns)})")
    chunk = chunk.reset_index(drop=True)
    if len(chunk) == 0 and first_row == 0:
        raise SourceError(f"{path}: no reviews, only a header; expected one review per row")
    text = chunk["text"]
    not_text = np.flatnonzero((text.notna() & ~text.map(lambda v: isinstance(v, str))).to_numpy())
    if len(not_text):  # a JSON object or list, a number in a Parquet column: refused, not stringified
        kinds = ", ".join(f"{_kind(text.iloc[i])}" for i in not_text[:SHOWN])
        raise SourceError(f"{path}: column 'text' must hold text; {len(not_text)} row(s) do not: "
                          f"{_where(first_row + not_text, path)} hold {kinds}")
    chunk["text"] = text.where(text.isna(), text.astype(str)).astype("string")
    chunk.attrs["first_row"] = first_row
    return chunk


def _kind(value) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "a list"
    if isinstance(value, (bool, np.bool_)):
        return "true/false"
    if isinstance(value, (int, float, np.number)):
        return f"the number {value.item() if isinstance(value, np.generic) else value!r}"
    return f"a {type(value).__name__}"


def _where(rows: np.ndarray, path: Path) -> str:
    """Rows (from 0) as a user finds them: row N counted from 1, and the file's own line for text files."""
    rows = [int(r) for r in rows[:SHOWN]]
    kind = FORMATS.get(format_suffix(path))
    lines = (csv_lines(path, rows, "\t" if kind == "TSV" else ",") if kind in ("CSV", "TSV")
             else json_lines(path, rows) if kind == "JSON Lines" else {})
    return ", ".join(f"row {r + 1}" + (f" (line {lines[r]})" if r in lines else "") for r in rows)


def csv_lines(path: Path, rows: list[int], sep: str) -> dict[int, int]:
    """The physical line each data row (from 0) of a CSV starts on: a quoted text may hold line breaks, so row N
    is not line N + 1. Read again from the start, only to name rows in a message."""
    wanted, found = set(rows), {}
    with io.TextIOWrapper(open_bytes(path), encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=sep)
        next(reader, None)  # the header
        start, row = reader.line_num + 1, 0
        for record in reader:
            if record:  # pandas skips blank lines
                if row in wanted:
                    found[row] = start
                    if len(found) == len(wanted):
                        break
                row += 1
            start = reader.line_num + 1
    return found


def json_lines(path: Path, rows: list[int]) -> dict[int, int]:
    """The line of each record (from 0) of a JSON Lines file, blank lines skipped."""
    wanted, found, row = set(rows), {}, 0
    with open_bytes(path) as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                if row in wanted:
                    found[row] = number
                row += 1
    return found


def first_bad_json_line(path: Path) -> tuple[int, str]:
    """(line, reason) of the first line of a JSON Lines file that is not a JSON object."""
    with open_bytes(path) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as e:
                return number, str(e).split(":")[0]
            if not isinstance(record, dict):
                return number, f"a {type(record).__name__}, not an object"
    return 0, "unknown position"


def parse_labels(labels: pd.Series, path: Path, first_row: int = 0) -> pd.Series:
    """Labels 0/1 as int64; accepted spellings: any number equal to 0 or 1 (0, 1.0, 1.00), true/false. Anything
    else is refused."""
    text = labels.astype("string").str.strip().str.lower()
    mapped = text.map({"false": 0, "true": 1})
    number = pd.to_numeric(text.where(~text.isin(["false", "true"])), errors="coerce")  # 1, 1.0, 1.00, 1e0
    mapped = mapped.fillna(number.where(number.isin([0, 1])))
    bad = np.flatnonzero(mapped.isna().to_numpy())
    if len(bad):
        values = ", ".join(repr(v) for v in labels.iloc[bad[:SHOWN]].tolist())
        among = f" of rows {first_row + 1}-{first_row + len(labels)}" if first_row else ""
        raise SourceError(f"{path}: column 'label' must hold 0 (negative) or 1 (positive); {len(bad)} row(s){among} do "
                          f"not: {_where(first_row + bad, path)} hold {values}")
    return mapped.astype("int64")
