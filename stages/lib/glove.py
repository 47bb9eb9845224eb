"""Read GloVe vectors in the official text format (`word v1 v2 ... vN`, space-separated, UTF-8).

Parsed by Arrow's multithreaded CSV reader, not by a Python loop over 400,000 lines (see benchmarks/).
Quoting is off: GloVe words include `"` and `#` and must be read as they are.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv


class GloveFormatError(ValueError):
    """A GloVe text file does not have the expected layout."""


def read_glove_text(path: Path | str, dim: int) -> tuple[list[str], np.ndarray]:
    """Return (words, vectors float32 of shape (n, dim)) from a GloVe text file."""
    path = Path(path)
    names = ["word"] + [f"v{i}" for i in range(dim)]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False, escape_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={"word": pa.string(), **{n: pa.float32() for n in names[1:]}},
                null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise GloveFormatError(f"{path}: not a GloVe file with {dim} dimensions per word: {e}") from None
    if table.num_rows == 0:
        raise GloveFormatError(f"{path}: no vectors found")
    # 4 MiB blocks keep both cores busy; to_tensor turns each block into a row-major matrix in C++.
    values = table.drop_columns(["word"]).to_batches()
    vectors = np.vstack([np.asarray(batch.to_tensor(row_major=True)) for batch in values])
    return table.column("word").to_pylist(), vectors
