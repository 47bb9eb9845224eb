"""Read word vectors from the text formats people have, vectorised (no Python loop per line).

Accepted, plain or gzip-compressed (detected from the first bytes, whatever the file is called):
- GloVe text: `word v1 ... vN` per line, space-separated, UTF-8 (glove.6B.*.txt, glove.840B.300d.txt);
- word2vec / fastText text (`.vec`): the same after a first line `<count> <dim>`;
- trailing spaces (fastText writes one after every vector) and blank lines;
- words that contain spaces (glove.840B has `. . .`): the last `dim` fields are the vector, the rest the word.

The common case (plain GloVe: a word without spaces and `dim` numbers per line) goes through Arrow's
multithreaded CSV reader. Anything else is read in blocks of whole lines, each split into lines and fields by
Arrow's string kernels and converted to float32 in C++. A line that does not fit (binary word2vec, a
different dimension, a field that is not a number, bytes that are not UTF-8) is reported with its number.
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from stages.lib.encodings import looks_like, not_utf8, packed

BLOCK = 1 << 24  # bytes per block: large enough for Arrow to be efficient, small enough to bound memory
NUMBER = r"^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|nan|inf|infinity)$"
BINARY_HINT = ("binary word2vec (.bin) files are not supported: convert to text first, e.g. with gensim "
               "KeyedVectors.load_word2vec_format(path, binary=True).save_word2vec_format(out, binary=False)")


class GloveFormatError(ValueError):
    """A word-vector file does not have the expected layout."""


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open(path: Path):
    return gzip.open(path, "rb") if _is_gzip(path) else path.open("rb")


def _blocks(f):
    """Yield blocks of whole lines (bytes ending in '\\n', or the end of the file)."""
    rest = b""
    while chunk := f.read(BLOCK):
        chunk = rest + chunk
        cut = chunk.rfind(b"\n") + 1
        if cut == 0:
            rest = chunk
            continue
        yield chunk[:cut]
        rest = chunk[cut:]
    if rest:
        yield rest


def _decode(block: bytes, path: Path, first_line: int) -> str:
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError as e:
        line = first_line + block.count(b"\n", 0, e.start)
        bad_line = block[block.rfind(b"\n", 0, e.start) + 1:e.start + 64]
        if looks_like(Path(path)) is not None:  # UTF-16, a Parquet file, gzip without .gz: advice of its own
            raise GloveFormatError(not_utf8(Path(path))) from None
        binary = any(b < 32 and b not in b"\t\r\n" for b in bad_line)  # raw float bytes, not a text encoding
        hint = BINARY_HINT if binary else "re-save it as UTF-8 (if it is Latin-1: iconv -f latin1 -t utf-8 in > out)"
        raise GloveFormatError(f"{path}, line {line}: not UTF-8 text ({e.reason}); {hint}") from None


def _header_dim(line: str) -> int | None:
    """The dimension announced by a word2vec/fastText header line `<count> <dim>`, else None."""
    m = re.fullmatch(r"\s*(\d+)\s+(\d+)\s*", line)
    return int(m.group(2)) if m else None


def _parse_block(text: str, dim: int, path: Path, first_line: int) -> tuple[pa.Array, np.ndarray]:
    """Words and (n, dim) float32 vectors of the non-blank lines of `text`; line numbers start at `first_line`."""
    lines = pc.split_pattern(pa.array([text]), "\n")[0].values
    line_numbers = np.arange(first_line, first_line + len(lines))
    lines = pc.utf8_rtrim(lines, "\r\n\t ")  # fastText's trailing space, Windows line ends
    keep = pc.greater(pc.utf8_length(lines), 0).to_numpy(zero_copy_only=False)
    lines, line_numbers = lines.filter(pa.array(keep)), line_numbers[keep]
    if len(lines) == 0:
        return pa.array([], pa.string()), np.zeros((0, dim), np.float32)
    # A file of a larger dimension would parse, the extra numbers glued to the word. Words with spaces are
    # rare, so when no line of the block has exactly dim + 1 fields, the file has another dimension.
    n_total = pc.count_substring(lines, " ").to_numpy() + 1
    if n_total.min() > dim + 1:
        raise GloveFormatError(f"{path}, line {line_numbers[0]}: a word and {n_total[0] - 1} numbers, expected "
                               f"{dim} (data.glove_dim)")
    # From the right: exactly `dim` numbers, and whatever is left (spaces included) is the word.
    fields = pc.split_pattern(lines, " ", max_splits=dim, reverse=True)
    n_fields = pc.list_value_length(fields).to_numpy()
    short = np.flatnonzero(n_fields < dim + 1)
    if len(short):
        i = short[0]
        raise GloveFormatError(f"{path}, line {line_numbers[i]}: {n_fields[i] - 1} numbers after the word, "
                               f"expected {dim} (data.glove_dim)" + (f"; {len(short)} such lines" if len(short) > 1 else ""))
    flat = pc.list_flatten(fields)
    starts = np.arange(len(lines)) * (dim + 1)
    words = flat.take(pa.array(starts))
    # A word with spaces whose last part is a number is a line with a number too many ("the 0.1 ... 0.5 0.7"
    # read as the word "the 0.1"), not a word of glove.840B (". . .").
    extra = pc.match_substring_regex(words, " " + NUMBER[1:], ignore_case=True)  # " <number>" at the end
    extra = np.flatnonzero(extra.to_numpy(zero_copy_only=False))
    if len(extra):
        i = extra[0]
        raise GloveFormatError(f"{path}, line {line_numbers[i]}: a word and {n_total[i] - 1} numbers, expected "
                               f"{dim} (data.glove_dim)" + (f"; {len(extra)} such lines" if len(extra) > 1 else ""))
    values_idx = (starts[:, None] + np.arange(1, dim + 1)).ravel()
    values = flat.take(pa.array(values_idx))
    try:
        vectors = pc.cast(values, pa.float32()).to_numpy(zero_copy_only=False).reshape(len(lines), dim)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.match_substring_regex(values, NUMBER, ignore_case=True).to_numpy(zero_copy_only=False)
        bad = int(np.flatnonzero(~ok)[0]) if (~ok).any() else 0
        raise GloveFormatError(f"{path}, line {line_numbers[bad // dim]}: field {values[bad].as_py()!r} is not "
                               f"a number; expected a word then {dim} numbers") from None
    broken = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(broken):
        i = broken[0]
        value = vectors[i][~np.isfinite(vectors[i])][0]
        raise GloveFormatError(f"{path}, line {line_numbers[i]}: the vector of {words[i].as_py()!r} holds {value}; "
                               f"expected {dim} finite numbers" + (f"; {len(broken)} such lines" if len(broken) > 1 else ""))
    return words, vectors


def read_glove_text(path: Path | str, dim: int) -> tuple[list[str], np.ndarray]:
    """Return (words, vectors float32 of shape (n, dim)) from a GloVe or word2vec/fastText text file."""
    path = Path(path)
    if looks_like(path) in ("Parquet", "zip", "bzip2", "xz", "zstd", "7z", "tar"):  # Stanford ships GloVe zipped
        raise GloveFormatError(packed(path) or not_utf8(path))
    try:
        return _read_plain_glove(path, dim)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, EOFError):
        return _read_any_text(path, dim)  # the exact reason (and line) comes from the general reader


def _read_plain_glove(path: Path, dim: int) -> tuple[list[str], np.ndarray]:
    """Plain GloVe with Arrow's CSV reader (no quoting: GloVe words include `"` and `#`); raises on anything else."""
    names = ["word"] + [f"v{i}" for i in range(dim)]
    with pa.input_stream(path, compression="gzip" if _is_gzip(path) else None) as stream:
        table = pacsv.read_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False, escape_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={"word": pa.string(), **{n: pa.float32() for n in names[1:]}},
                null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False))
    if table.num_rows == 0:
        raise pa.ArrowInvalid("empty")
    # 4 MiB blocks keep both cores busy; to_tensor turns each block into a row-major matrix in C++.
    values = table.drop_columns(["word"]).to_batches()
    vectors = np.vstack([np.asarray(batch.to_tensor(row_major=True)) for batch in values])
    if not np.isfinite(vectors).all():  # the general reader names the line
        raise pa.ArrowInvalid("a non-finite value")
    return table.column("word").to_pylist(), vectors


def _read_any_text(path: Path, dim: int) -> tuple[list[str], np.ndarray]:
    words, vectors = [], []
    line = 1
    with _open(path) as f:
        try:
            for i, block in enumerate(_blocks(f)):
                text = _decode(block, path, line)
                start = line
                line += text.count("\n")
                if i == 0:
                    first, _, after = text.partition("\n")
                    header = _header_dim(first)
                    if header is not None:
                        if header != dim:
                            raise GloveFormatError(f"{path}, line 1: the header says {header} dimensions, "
                                                   f"expected {dim} (data.glove_dim)")
                        text, start = after, start + 1
                w, v = _parse_block(text, dim, path, start)
                words.append(w)
                vectors.append(v)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise GloveFormatError(f"{path}: cannot be read ({e})") from None
    n = sum(len(v) for v in vectors)
    if n == 0:
        raise GloveFormatError(f"{path}: no vectors found; expected lines of a word then {dim} numbers")
    return pa.chunked_array(words, pa.string()).to_pylist(), np.concatenate(vectors)
