"""What an input file that is not UTF-8 text really is, and the advice that is right for it.

A user's reviews or word vectors can arrive as Latin-1 (a spreadsheet on Windows), UTF-16 (Excel's "Unicode
text"), a Parquet file with a .csv name, or gzip data without .gz: each needs different advice, and
"convert from Latin-1" would corrupt the others. `.gz` files are looked at after decompression.
"""
from __future__ import annotations

import gzip
import zipfile
import zlib
from pathlib import Path

# What a cut-short or corrupted .gz gives while it is read: the stream ends early, a block fails its check
DAMAGED_COMPRESSION = (EOFError, zlib.error, gzip.BadGzipFile)


def open_bytes(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def damaged_compression(path: Path, error: Exception) -> str:
    return (f"{path}: the compressed data is damaged or cut short ({str(error) or type(error).__name__}); "
            "copy or compress the file again (`gzip -t` checks a .gz file)")


# What the first bytes of a file say it is, when it is not text: the kinds a user's file may really be
MAGIC = [(b"PAR1", "Parquet"), (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"BZh", "bzip2"),
         (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"7z\xbc\xaf\x27\x1c", "7z")]
# Compressed or archived data that is read by no reader here: it has to be unpacked first
UNPACK = {"zip": "unzip {name}", "bzip2": "bunzip2 -k {name}", "xz": "unxz -k {name}", "zstd": "unzstd {name}",
          "7z": "7z x {name}", "tar": "tar -xf {name}"}


def looks_like(path: Path) -> str | None:
    """'Parquet', 'zip', 'bzip2', 'xz', 'zstd', '7z', 'tar', 'UTF-32', 'UTF-16' or 'gzip' when the first bytes
    say so, else None."""
    try:
        with open_bytes(path) as f:
            head = f.read(4096)
    except DAMAGED_COMPRESSION + (OSError,):
        return None
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    if head[257:262] == b"ustar":
        return "tar"
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    halves = (head[0::2], head[1::2])  # ASCII text in UTF-16 without a byte-order mark: NULs in every other byte
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) >= 8 and any(
            half.count(0) > 0.9 * len(half) for half in halves)):
        return "UTF-16"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    return None


def packed(path: Path) -> str | None:
    """The message for a file that is an archive or compressed data no reader here unpacks (zip, bzip2, xz,
    zstd, 7z, tar), whatever its name says; None for anything else."""
    kind = looks_like(path)
    if kind not in UNPACK:
        return None
    inside = ""
    if kind == "zip":  # GloVe as Stanford ships it, or a spreadsheet (.xlsx is a zip too): say what it holds
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            inside = (" (an Excel workbook; save it as CSV)" if any(n.startswith("xl/") for n in names)
                      else f" holding {shown}" if names else " with no files")
        except (zipfile.BadZipFile, OSError):
            pass
    return (f"{path}: this is a {kind} archive{inside}, not text; unpack it ({UNPACK[kind].format(name=path.name)}) "
            "and name the file it holds" if kind in ("zip", "7z", "tar") else
            f"{path}: this is {kind}-compressed data, not text; decompress it ({UNPACK[kind].format(name=path.name)}) "
            "and name the result")


def first_bad_utf8_line(path: Path) -> tuple[int, str, bytes]:
    """(line number, reason, the bytes that fail) of the first line that is not UTF-8; only called once decoding
    has failed."""
    with open_bytes(path) as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                return number, f"{e.reason} at byte {e.start + 1} of the line", line[e.start:e.end]
    return 0, "unknown position", b""


def legacy_encoding(bad: bytes) -> str:
    """cp1252 (Windows' Western encoding) when a failing byte is one of its printable characters in 0x80-0x9f
    (curly quotes, dashes, the euro sign), where Latin-1 has control characters; else latin1."""
    return "cp1252" if any(0x80 <= b <= 0x9f and b not in (0x81, 0x8d, 0x8f, 0x90, 0x9d) for b in bad) else "latin1"


def not_utf8(path: Path, fallback: str = "") -> str:
    """The message for a file that does not decode as UTF-8, with advice that is right for what it is.
    `fallback`: the advice when it looks like no known kind (default: the legacy encoding it looks like)."""
    kind = looks_like(path)
    if kind == "Parquet":
        return f"{path}: this is a Parquet file, not text; give it a .parquet name"
    if kind == "gzip":
        return f"{path}: this is gzip-compressed data; give it a .gz name ({path.name}.gz)"
    if kind in UNPACK:
        return packed(path)
    if kind in ("UTF-16", "UTF-32"):
        return (f"{path}: the text is {kind}, not UTF-8; re-save it as UTF-8 "
                f"(iconv -f {kind} -t UTF-8 {path.name} > {path.stem}-utf8{path.suffix})")
    line, reason, bad = first_bad_utf8_line(path)
    legacy = legacy_encoding(bad)
    named = {"cp1252": "Windows-1252 (cp1252), as Windows programs often write",
             "latin1": "Latin-1, as spreadsheets on Windows often write"}[legacy]
    advice = fallback or (f"re-save the file as UTF-8 (it looks like {named}: "
                          f"iconv -f {legacy} -t utf-8 {path.name} > {path.stem}-utf8{path.suffix})")
    return f"{path}, line {line}: not UTF-8 text ({reason}); {advice}"
