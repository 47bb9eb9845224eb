"""What an input file that is not UTF-8 text really is, and the advice that is right for it.

A user's reviews or word vectors can arrive as Latin-1 (a spreadsheet on Windows), UTF-16 (Excel's "Unicode
text"), a Parquet file with a .csv name, or gzip data without .gz: each needs different advice, and
"convert from Latin-1" would corrupt the others. `.gz` files are looked at after decompression.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

# What a cut-short or corrupted .gz gives while it is read: the stream ends early, a block fails its check
DAMAGED_COMPRESSION = (EOFError, zlib.error, gzip.BadGzipFile)


def open_bytes(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def damaged_compression(path: Path, error: Exception) -> str:
    return (f"{path}: the compressed data is damaged or cut short ({str(error) or type(error).__name__}); "
            "copy or compress the file again (`gzip -t` checks a .gz file)")


def looks_like(path: Path) -> str | None:
    """'Parquet', 'UTF-32', 'UTF-16' or 'gzip' when the first bytes say so, else None."""
    try:
        with open_bytes(path) as f:
            head = f.read(4096)
    except DAMAGED_COMPRESSION + (OSError,):
        return None
    if head.startswith(b"PAR1"):
        return "Parquet"
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    halves = (head[0::2], head[1::2])  # ASCII text in UTF-16 without a byte-order mark: NULs in every other byte
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) >= 8 and any(
            half.count(0) > 0.9 * len(half) for half in halves)):
        return "UTF-16"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    return None


def first_bad_utf8_line(path: Path) -> tuple[int, str]:
    """(line number, reason) of the first line that is not UTF-8; only called once decoding has failed."""
    with open_bytes(path) as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                return number, f"{e.reason} at byte {e.start + 1} of the line"
    return 0, "unknown position"


def not_utf8(path: Path, fallback: str = "") -> str:
    """The message for a file that does not decode as UTF-8, with advice that is right for what it is.
    `fallback`: the advice when it looks like no known kind (default: it is probably Latin-1)."""
    kind = looks_like(path)
    if kind == "Parquet":
        return f"{path}: this is a Parquet file, not text; give it a .parquet name"
    if kind == "gzip":
        return f"{path}: this is gzip-compressed data; give it a .gz name ({path.name}.gz)"
    if kind in ("UTF-16", "UTF-32"):
        return (f"{path}: the text is {kind}, not UTF-8; re-save it as UTF-8 "
                f"(iconv -f {kind} -t UTF-8 {path.name} > {path.stem}-utf8{path.suffix})")
    line, reason = first_bad_utf8_line(path)
    advice = fallback or ("re-save the file as UTF-8 (if it is Latin-1, as spreadsheets on Windows often write: "
                          "iconv -f latin1 -t utf-8 in.csv > out.csv)")
    return f"{path}, line {line}: not UTF-8 text ({reason}); {advice}"
