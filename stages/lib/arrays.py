"""NumPy .npy files read and written a block of rows at a time, so no stage holds a whole corpus in memory.

Files are plain .npy (np.load reads them); a file written here has exactly the bytes np.save would write for
the same array. Reads use ordinary file reads (`np.fromfile` at an offset, `os.pread`), not memory maps: pages
of a mapped file count as the process's own memory until the kernel drops them, and page cache does not.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from stages.lib.storage import filesystem, is_remote, open_input


def block_rows(default: int) -> int:
    """Rows a stage handles at a time. PIPELINE_BLOCK_ROWS overrides every stage's default: the outputs must
    not change with it (tests run the stages with tiny blocks to prove that), only memory and speed do."""
    value = os.environ.get("PIPELINE_BLOCK_ROWS")
    if not value:
        return default
    if not value.strip().isdigit() or int(value) < 1:
        raise SystemExit(f"PIPELINE_BLOCK_ROWS: expected a whole number of rows, at least 1; got {value!r}")
    return int(value)


BLOCK_ROWS = block_rows(16384)  # rows per block: a few tens of MB for padded reviews of 800 ids


def npy_layout(path: Path | str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, offset of the data) of a C-ordered .npy file, read from its header only."""
    with open_input(path) as f:  # a local file, or one on the engine's storage
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if fortran:
            raise ValueError(f"{path}: Fortran-ordered arrays are not supported")
        return shape, dtype, f.tell()


def npy_rows(path: Path | str) -> int:
    return npy_layout(path)[0][0]


def read_rows(path: Path | str, start: int, stop: int) -> np.ndarray:
    """Rows start..stop-1 of a .npy file (its first axis), read from disk."""
    shape, dtype, offset = npy_layout(path)
    stop = min(stop, shape[0])
    row = int(np.prod(shape[1:], dtype=np.int64))
    count = max(0, stop - start) * row
    first = offset + start * row * dtype.itemsize
    if is_remote(path):  # a range of bytes of an object on the engine's storage
        with open_input(path) as f:
            f.seek(first)
            out = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype).copy()
    else:
        out = np.fromfile(path, dtype=dtype, count=count, offset=first)
    return out.reshape((-1, *shape[1:]))


def iter_blocks(path: Path | str, rows: int = BLOCK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, block) over a .npy file, `rows` rows at a time; an empty file yields nothing."""
    n = npy_rows(path)
    for start in range(0, n, rows):
        yield start, read_rows(path, start, start + rows)


class RowReader:
    """Random access to rows of a .npy file on disk: `reader.take(indices)` reads just those rows."""

    def __init__(self, path: Path | str):
        self.path = str(path)
        self.shape, self.dtype, self.offset = npy_layout(path)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, indices) -> np.ndarray:
        buf = bytearray(len(indices) * self.row_bytes)
        view = memoryview(buf)
        for k, i in enumerate(np.asarray(indices, dtype=np.int64)):
            at = k * self.row_bytes
            view[at:at + self.row_bytes] = os.pread(self._fd, self.row_bytes, self.offset + int(i) * self.row_bytes)
        return np.frombuffer(buf, dtype=self.dtype).reshape((len(indices), *self.shape[1:]))

    def close(self) -> None:
        os.close(self._fd)

    def __del__(self):
        try:
            self.close()
        except OSError:
            pass


class NpyWriter:
    """Write a .npy file of known shape block by block: `with NpyWriter(path, shape, dtype) as w: w.write(block)`.

    The header is written first, so the bytes equal np.save's; a short or long total is an error (our bug)."""

    def __init__(self, path: Path | str, shape: tuple[int, ...], dtype):
        self.path, self.shape, self.dtype = Path(path), tuple(int(s) for s in shape), np.dtype(dtype)
        self.written = 0

    def __enter__(self):
        self._file = self.path.open("wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        np.lib.format.write_array_header_1_0(self._file, header)  # the version np.save picks for these shapes
        return self

    def write(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.shape[1:] != self.shape[1:]:
            raise ValueError(f"{self.path}: block of shape {block.shape}, file rows of shape {self.shape[1:]}")
        self._file.write(block.tobytes())
        self.written += len(block)

    def __exit__(self, kind, value, tb):
        self._file.close()
        if kind is None and self.written != self.shape[0]:
            raise ValueError(f"{self.path}: {self.written} rows written, header says {self.shape[0]}")


def hashes_of(values) -> np.ndarray:
    """64-bit hashes of a pandas Series' values, row by row: how corpus-wide facts (duplicates, texts in both
    splits) are kept without keeping the values."""
    import pandas as pd  # pandas: not needed by the NumPy-only stages

    return pd.util.hash_array(values.to_numpy(dtype=object))


def open_parquet(path: Path | str):
    """A Parquet file to read batch by batch. pre_buffer=False: Arrow's default (True) caches every column chunk
    it has read until the file is closed, so memory would grow with the file, not with the batch. buffer_size:
    without it Arrow reads a whole column chunk at once, and a file written as one row group (pandas'
    `to_parquet` writes up to a million rows in one) would be read whole: 0.75 GB against 0.38 GB to read 500,000
    reviews of one row group in batches, measured here."""
    import pyarrow.parquet as pq  # pyarrow: not needed by the NumPy-only stages

    source = filesystem().open_input_file(str(path)[5:]) if is_remote(path) else path  # s3://: the engine's storage
    return pq.ParquetFile(source, pre_buffer=False, buffer_size=1 << 20)


def parquet_frames(path: Path | str, rows: int = BLOCK_ROWS, columns: list[str] | None = None):
    """DataFrames of exactly `rows` rows (the last one shorter) read from a Parquet file batch by batch.

    An empty file yields one empty frame with the file's columns, so checks still see its schema."""
    import pyarrow as pa  # pyarrow: not needed by the NumPy-only stages

    file = open_parquet(path)
    pending, held = [], 0
    emitted = False
    for batch in file.iter_batches(batch_size=rows, columns=columns):
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows).to_pandas()
            rest = table.slice(rows)
            pending, held, emitted = rest.to_batches(), rest.num_rows, True
    if held or not emitted:
        schema = file.schema_arrow if columns is None else pa.schema([file.schema_arrow.field(c) for c in columns])
        yield pa.Table.from_batches(pending, schema=schema).to_pandas()


def parquet_rows(path: Path | str, start: int, stop: int, columns: list[str] | None = None):
    """Rows start..stop-1 of a Parquet file as an Arrow table (a task's share of it), with the file's schema.

    The file is read as a stream from the row group that holds `start`. The stream is kept, so the next call
    that starts where this one stopped (tasks walking a file in order, as the local engine runs them) goes on
    reading it: each row group is read once, a batch at a time, as iter_batches reads a whole file."""
    # an address on the storage is keyed by content, so it never changes; a local file may
    key = ((str(path), 0) if is_remote(path) else (str(Path(path).resolve()), os.stat(path).st_mtime_ns)) + (
        tuple(columns or ()),)
    cursor = _CURSOR.get(key)
    if cursor is None or cursor.position != start:
        _CURSOR.clear()  # one stream at a time
        cursor = _CURSOR[key] = _ParquetCursor(path, start, columns)
    return cursor.take(stop - start)


class _ParquetCursor:
    def __init__(self, path: Path | str, start: int, columns: list[str] | None):
        import pyarrow as pa  # pyarrow: not needed by the NumPy-only stages

        file = open_parquet(path)
        self.schema = (file.schema_arrow if columns is None
                       else pa.schema([file.schema_arrow.field(c) for c in columns]))
        group, first = 0, 0
        while group < file.metadata.num_row_groups and first + file.metadata.row_group(group).num_rows <= start:
            first += file.metadata.row_group(group).num_rows
            group += 1
        groups = range(group, file.metadata.num_row_groups)
        self.batches = file.iter_batches(batch_size=BLOCK_ROWS, row_groups=groups, columns=columns) if groups else iter(())
        self.pending, self.position = [], first
        while self.position < start:  # skip to `start` a batch at a time (a big row group is not held whole)
            batch = next(self.batches, None)
            if batch is None:
                break
            if self.position + batch.num_rows > start:
                self.pending = [batch.slice(start - self.position)]
                self.position = start
            else:
                self.position += batch.num_rows

    def take(self, n: int):
        import pyarrow as pa  # pyarrow: not needed by the NumPy-only stages

        held = sum(b.num_rows for b in self.pending)
        while held < n:
            batch = next(self.batches, None)
            if batch is None:
                break
            self.pending.append(batch)
            held += batch.num_rows
        table = pa.Table.from_batches(self.pending, schema=self.schema)
        self.pending = table.slice(n).to_batches()
        self.position += min(n, held)
        # one chunk per column, whatever batches it came from: pandas' Arrow-backed strings keep the chunks,
        # and a Parquet file written from them would get other pages (other bytes) on another engine
        return table.slice(0, n).combine_chunks()


_CURSOR: dict = {}  # the one open stream of parquet_rows


def parquet_row_count(path: Path | str) -> int:
    return open_parquet(path).metadata.num_rows


class ArrayRows:
    """The RowReader interface over an array already in memory (tests, small data)."""

    def __init__(self, array: np.ndarray):
        self.array, self.shape, self.dtype = array, array.shape, array.dtype

    def __len__(self) -> int:
        return len(self.array)

    def take(self, indices) -> np.ndarray:
        return self.array[np.asarray(indices, dtype=np.int64)]


def as_rows(x) -> RowReader | ArrayRows:
    """Rows to take from: a .npy path is read from disk, an array is used as it is."""
    if isinstance(x, (RowReader, ArrayRows)):
        return x
    return ArrayRows(x) if isinstance(x, np.ndarray) else RowReader(x)
