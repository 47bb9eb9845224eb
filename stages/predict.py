"""Score reviews with the exported raw-text model.

    python -m stages.predict "An absolute masterpiece." "A waste of two hours."
    python -m stages.predict --file reviews.csv          # CSV/TSV/Parquet/JSON Lines with a `text` column
    python -m stages.predict --file reviews.txt          # any other file: one review per line (.gz too)
    cat reviews.txt | python -m stages.predict -         # standard input, one review per line
    ... --format jsonl                                   # JSON Lines instead of TSV
    python -m stages.predict --file reviews.parquet --out scores.parquet --engine spark   # on Spark's executors

Each review gets a row: its number, its `id` when the input table has an `id` column, P(positive), the label
at `--threshold`, whether it had no word the vocabulary knows (its probability is then the model's prior, not a
judgement of the text), and the text. Standard error says which model scored (path, and the commit or DVC
experiment it came from), and a progress bar follows a file when standard error is a terminal.
Reviews are read, scored and written in batches, so a file of any length runs in bounded memory. The model
carries the pipeline's tokenizer, so a review scores exactly as the pipeline would score it.

With `--out scores.parquet` a Parquet `--file` is scored in tasks of ranges of rows on an engine (`--engine
local`, or `spark` with `engine.spark` of params.yaml: each executor loads the model once and scores its tasks),
and the scores (row, id, probability, label, no_known_word; no text) are written in row order.
"""
from __future__ import annotations

import argparse
import errno
import functools
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from stages import errno_of, stop_if_interrupted
from stages.engines import open_engine
from stages.lib import catalog
from stages.lib.arrays import block_rows, open_parquet, parquet_rows
from stages.lib.encodings import DAMAGED_COMPRESSION, damaged_compression, not_utf8, open_bytes
from stages.lib.files import atomic_path
from stages.lib.keras_files import load_model
from stages.lib.params import PARAMS_FILE, load_params
from stages.lib.progress import Steps, bar as progress_bar
from stages.lib.provenance import model_origin
from stages.lib.scores import (DEFAULT_THRESHOLD, NO_TEXT, format_rows, header, labels, score, score_batch,
                               with_known_words)
from stages.lib.storage import is_remote, open_input

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODEL = catalog.RAW_TEXT_MODEL.path
TASK_ROWS = block_rows(50_000)  # reviews per task of --out: a few tens of MB of text in an executor
TABLE_FORMATS = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")


class InputError(ValueError):
    """The reviews to score cannot be read."""


def load(path: Path = MODEL):
    """The raw-text model with a second output, the token ids, to tell reviews with no known word."""
    if not path.exists():
        raise SystemExit(f"error: {path} not found; run `make repro` (or `dvc repro export`) first")
    if not path.is_file():
        raise SystemExit(f"error: {path} is not a file; --model takes a .keras file saved by `export`")
    damaged = f"error: {path} is damaged or not a model saved by this pipeline"
    fix = (f"restore it with `dvc checkout --force {path}` (the version dvc.lock records) or re-create it with "
           "`dvc repro export`")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
        if broken is not None:
            raise SystemExit(f"{damaged} (member {broken} fails its checksum); {fix}")
        model = with_known_words(load_model(path))
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise SystemExit(f"{damaged} ({e}); {fix}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"{damaged} ({str(e).splitlines()[0] if str(e) else type(e).__name__}); {fix}") from None
    return model


def _lines(stream, name: str, batch_size: int, path: Path | None = None) -> Iterator[list[str]]:
    """Batches of lines of a binary stream, each decoded as UTF-8 (a bad line is named, not guessed at)."""
    batch = []
    for number, raw in enumerate(stream, start=1):
        try:
            batch.append(raw.decode("utf-8").rstrip("\r\n"))
        except UnicodeDecodeError as e:
            if path is not None:  # a file: say what it looks like (UTF-16, Parquet, ...)
                raise InputError(not_utf8(path)) from None
            raise InputError(f"{name}, line {number}: not UTF-8 text ({e.reason}); re-encode it as UTF-8 "
                             "(e.g. iconv -f latin1 -t utf-8)") from None
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ids(column) -> list[str]:
    return ["" if i is None or i != i else str(i) for i in column]  # i != i: NaN


def _table(path: Path, batch_size: int) -> Iterator[tuple[list[str], list[str] | None]]:
    """Batches of (text, id) columns of a CSV/TSV/Parquet/JSON Lines file, read a batch at a time; ids are None
    when the file has no `id` column."""
    import pandas as pd  # pandas: not needed by the NumPy-only stages

    from stages.lib.local_files import FORMATS, SourceError, check_content, format_suffix, shown_columns  # pandas

    suffix = format_suffix(path)
    try:
        check_content(path, FORMATS[suffix])
    except SourceError as e:
        raise InputError(str(e)) from None
    try:
        if suffix in (".parquet", ".pq"):
            file = open_parquet(path)
            names = file.schema_arrow.names
            if "text" not in names:
                raise InputError(f"{path}: no column 'text' (found: {shown_columns(names)})")
            columns = ["text", "id"] if "id" in names else ["text"]
            for batch in file.iter_batches(batch_size=batch_size, columns=columns):
                texts = [str(t) if t is not None else "" for t in batch.column(0).to_pylist()]
                yield texts, _ids(batch.column(1).to_pylist()) if len(columns) == 2 else None
            return
        if suffix in (".jsonl", ".ndjson"):
            chunks = pd.read_json(path, lines=True, chunksize=batch_size, dtype=False, encoding="utf-8")
        else:
            chunks = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False,
                                 chunksize=batch_size, encoding="utf-8-sig")
        for chunk in chunks:
            if "text" not in chunk.columns:
                raise InputError(f"{path}: no column 'text' (found: {shown_columns(chunk.columns)})")
            yield (chunk["text"].fillna("").astype(str).tolist(),
                   _ids(chunk["id"].tolist()) if "id" in chunk.columns else None)
    except UnicodeDecodeError:
        raise InputError(not_utf8(path)) from None
    except DAMAGED_COMPRESSION as e:
        raise InputError(damaged_compression(path, e)) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file; expected a header with a 'text' column") from None
    except (pd.errors.ParserError, ValueError) as e:  # pyarrow.ArrowInvalid is a ValueError
        raise InputError(f"{path}: cannot be read as {suffix[1:]}: {str(e).strip().splitlines()[0]}") from None


def batches(args) -> Iterator[tuple[list[str], list[str] | None]]:
    """(texts, ids or None) a batch at a time, from --file, standard input or the arguments."""
    from stages.lib.local_files import format_suffix  # imports pandas

    if args.file is not None:
        path = args.file
        if path.is_dir():
            raise InputError(f"{path}: is a folder; --file takes one file (a table with a 'text' column, or one "
                             "review per line)")
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if not path.is_file() and format_suffix(path) in TABLE_FORMATS:  # a pipe or a device: lines only
            raise InputError(f"{path}: is a pipe or a device, not a file; a table is read from a file (lines of "
                             "text can come this way, or through '-')")
        if format_suffix(path) in TABLE_FORMATS:
            yield from _table(path, args.batch_size)
        else:
            try:
                with open_bytes(path) as f:
                    yield from ((lines, None) for lines in _lines(f, str(path), args.batch_size, path))
            except DAMAGED_COMPRESSION as e:
                raise InputError(damaged_compression(path, e)) from None
    elif args.reviews == ["-"]:  # typed at a terminal: each review is scored as soon as its line ends
        size = 1 if sys.stdin.isatty() else args.batch_size
        try:
            yield from ((lines, None) for lines in _lines(sys.stdin.buffer, "standard input", size))
        except OSError as e:  # a read error of the stream has no file name: say which stream
            raise StreamError("standard input", e) from None
    else:
        for i in range(0, len(args.reviews), args.batch_size):
            yield args.reviews[i:i + args.batch_size], None


def rows_in(path: Path | None) -> int | None:
    """How many reviews a Parquet --file holds (its footer says), for the progress bar; None otherwise."""
    from stages.lib.local_files import format_suffix  # imports pandas

    if path is None or not path.is_file() or format_suffix(path) not in (".parquet", ".pq"):
        return None
    try:
        return open_parquet(path).metadata.num_rows
    except (OSError, ValueError):  # not Parquet after all: batches() names the problem
        return None


def score_table(model, texts: list[str], first_row: int, threshold: float, ids: list[str] | None = None):
    """The rows of --out for a batch: what format_rows prints, as Arrow columns (a probability kept whole)."""
    import pyarrow as pa  # pyarrow: not needed by the NumPy-only stages

    p, unknown = score_batch(model, texts)
    label = labels(texts, p, threshold)
    judged = np.array([x != NO_TEXT for x in label], bool)
    columns = {"row": pa.array(np.arange(first_row, first_row + len(texts)), pa.int64())}
    if ids is not None:
        columns["id"] = pa.array(ids, pa.string())
    columns |= {"probability": pa.array(p.astype(np.float64), mask=~judged), "label": pa.array(label, pa.string()),
                "no_known_word": pa.array(unknown, pa.bool_())}
    return pa.table(columns)


_LOADED: dict = {}  # the model of each path, loaded once per process (an executor scores many tasks)


def local_copy(path: str) -> Path:
    """A model on the engine's storage, copied once into this process's temporary folder (Keras opens files by
    path); a local path as it is."""
    if not is_remote(path):
        return Path(path)
    target = Path(tempfile.gettempdir()) / f"predict-{path.rsplit('/', 2)[-2]}.keras"  # its content key
    if not target.exists():
        with open_input(path) as source, open(f"{target}.part", "wb") as sink:
            shutil.copyfileobj(source, sink, 8 << 20)
        os.replace(f"{target}.part", target)
    return target


def score_rows(model_path: str, path: str, threshold: float, batch_size: int, task: tuple[int, int]):
    """Scores of rows start..stop-1 of a Parquet file (one task of --out), read and scored a batch at a time."""
    import pyarrow as pa  # pyarrow: not needed by the NumPy-only stages

    if model_path not in _LOADED:
        _LOADED[model_path] = load(local_copy(model_path))
    start, stop = task
    names = open_parquet(path).schema_arrow.names
    parts = []
    for first in range(start, stop, batch_size):
        rows = parquet_rows(path, first, min(first + batch_size, stop), ["text", "id"] if "id" in names else ["text"])
        texts = [str(t) if t is not None else "" for t in rows.column("text").to_pylist()]
        ids = _ids(rows.column("id").to_pylist()) if "id" in names else None
        parts.append(score_table(_LOADED[model_path], texts, first + 1, threshold, ids))
    return pa.concat_tables(parts) if parts else None


def score_to_parquet(args) -> None:
    """--out: the Parquet --file scored in tasks of TASK_ROWS rows on the chosen engine, written in row order."""
    import pyarrow.parquet as pq  # pyarrow: not needed by the NumPy-only stages

    from stages.lib.local_files import format_suffix, shown_columns  # imports pandas

    if args.out.is_dir():
        raise SystemExit(f"error: {args.out}: is a folder; --out takes a file name such as scores.parquet")
    if format_suffix(args.file) not in (".parquet", ".pq"):
        raise SystemExit(f"error: {args.file}: --out scores a Parquet file; convert it first (docs/serving.md)")
    try:
        file = open_parquet(args.file)
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: {args.file}: cannot be read as Parquet: {str(e).splitlines()[0]}") from None
    if "text" not in file.schema_arrow.names:
        raise SystemExit(f"error: {args.file}: no column 'text' (found: {shown_columns(file.schema_arrow.names)})")
    n = file.metadata.num_rows
    tasks = [(start, min(start + TASK_ROWS, n)) for start in range(0, n, TASK_ROWS)]
    load(args.model)  # a missing or damaged model is said here, before any engine starts
    origin = model_origin(args.model)
    say(f"scoring {n:,} reviews of {args.file} with {args.model}" + (f", {origin}," if origin else "") +
        f" in {len(tasks)} task(s) on the {args.engine} engine")
    engine = open_engine(engine_params(args), "predict")
    fn = functools.partial(score_rows, engine.input(args.model), engine.input(args.file), args.threshold,
                           args.batch_size)
    bar = progress_bar(n, "predict", " reviews", when=True)
    try:
        with atomic_path(args.out) as tmp:
            writer = None
            for table in engine.map(fn, tasks):
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                bar.update(table.num_rows)
            if writer is None:  # no rows: an empty file with the columns
                writer = pq.ParquetWriter(tmp, score_table(None, [], 1, args.threshold).schema)
            writer.close()
    finally:
        bar.close()
        engine.close()
    say(f"{n:,} scores in {args.out}")


def engine_params(args) -> dict:
    """engine.* of params.yaml (the project's Spark settings), with --engine and --master on top."""
    engine = load_params()["engine"] if Path(PARAMS_FILE).exists() else {
        "spark": {"master": "local[2]", "conf": {}, "start_timeout": 60, "storage": None, "storage_timeout": 60}}
    spark = {**engine["spark"], **({"master": args.master} if args.master else {})}
    return {"engine": {"name": args.engine, "spark": spark}}


def say(message: str) -> None:
    try:
        print(f"predict: {message}", file=sys.stderr, flush=True)
    except OSError:  # standard error is full or gone: the scores matter more than the commentary
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Probability that each review is positive.")
    parser.add_argument("reviews", nargs="*", help="review texts, or - to read one review per line from stdin")
    parser.add_argument("--file", type=Path, help="CSV/TSV/Parquet/JSON Lines with a 'text' column (an 'id' "
                                                  "column is kept), or any other file with one review per line")
    parser.add_argument("--format", choices=("tsv", "jsonl"), default="tsv",
                        help="tsv: a header line and one tab-separated row per review (default); jsonl: one JSON "
                             "object per review")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="probability above which a review is positive")
    parser.add_argument("--batch-size", type=int, default=1024,
                        help="reviews read, scored and written at a time; memory grows with it (default 1024)")
    parser.add_argument("--model", type=Path, default=MODEL,
                        help=f"a raw-text model saved by the export stage (default {MODEL})")
    parser.add_argument("--out", type=Path, help="write the scores of a Parquet --file to this Parquet file "
                                                 "(row, id, probability, label, no_known_word), in tasks on --engine")
    parser.add_argument("--engine", choices=("local", "spark"), default="local",
                        help="with --out: score in this process (local, default) or on Spark's executors, with "
                             "engine.spark of params.yaml")
    parser.add_argument("--master", help="with --engine spark: the Spark master, instead of engine.spark.master")
    args = parser.parse_args(argv)
    standard_streams_open(args.reviews == ["-"])
    if (args.file is None) == (not args.reviews):
        parser.error("give review texts, '-' for standard input, or --file PATH (one of them)")
    if args.batch_size < 1 or not 0 < args.threshold < 1:
        parser.error(f"expected --batch-size >= 1 and 0 < --threshold < 1, got {args.batch_size} and {args.threshold}")
    if args.out is None and (args.engine != "local" or args.master):
        parser.error("--engine spark and --master score a Parquet --file into --out PATH.parquet")
    if args.out is not None and args.file is None:
        parser.error("--out takes the scores of a Parquet --file")
    if args.file is not None and (args.file.is_dir() or not args.file.exists()):  # before loading the model
        raise SystemExit(f"error: {args.file}: " + ("is a folder; --file takes one file (a table with a 'text' "
                         "column, or one review per line)" if args.file.is_dir() else "no such file"))
    refuse_overwriting_inputs(args)
    try:
        if args.out is not None:
            return score_to_parquet(args)
        score_to_stdout(args)
    except OSError as e:  # the machine's trouble with a file or a stream: one line, never a traceback
        raise SystemExit(f"error: {os_error(e)}") from None


def standard_streams_open(reading_stdin: bool) -> None:
    """A stream closed by the caller (`<&-`, `>&-`, `2>&-`) is None in Python: say which, before any work.
    Without standard error there is nowhere to say it, so its messages are dropped instead."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")
    if sys.stdout is None:
        raise SystemExit("error: standard output is closed; the scores are written there (redirect it to a file "
                         "or a pipe, or use --out with a Parquet --file)")
    if reading_stdin and sys.stdin is None:
        raise SystemExit("error: standard input is closed; '-' reads one review per line from it (pipe reviews "
                         "in, or give --file PATH)")


def same_file(a: Path | int, b: Path) -> bool:
    """Whether `a` (a path or an open file descriptor) is the file `b`, whatever the spelling or link."""
    try:
        return os.path.samestat(os.fstat(a) if isinstance(a, int) else os.stat(a), os.stat(b))
    except (OSError, ValueError):  # one of them does not exist (yet), or no such descriptor
        return False


def refuse_overwriting_inputs(args) -> None:
    """--out (or standard output) is never a file predict reads: the texts or the model would be lost, or a file
    that grows as it is read would never end. Checked by what the names point at, so another spelling, a
    symbolic or a hard link of the same file is refused too, before anything is written."""
    if args.out is not None:
        blocking = next((folder for folder in args.out.parents if folder.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise SystemExit(f"error: --out {args.out}: {blocking} is a file, not a folder; give --out a path in "
                             "a folder")
    inputs = [("--model", args.model)] + ([("--file", args.file)] if args.file is not None else [])
    for option, path in inputs:
        if args.out is not None and same_file(args.out, path):
            raise SystemExit(f"error: --out {args.out} is the same file as {option} {path}; writing the scores "
                             "there would destroy it: give --out another name")
        if args.out is None and same_file(1, path):
            raise SystemExit(f"error: standard output is {option} {path} itself; writing the scores there would "
                             "destroy it: redirect them to another file")


def os_error(e: OSError) -> str:
    """The line for an OSError: the file or stream it concerns, what went wrong, and the fix when there is one."""
    fix = {errno.ENOSPC: "free some disk space", errno.EDQUOT: "free some of your disk quota",
           errno.EROFS: "the file system is read-only: write elsewhere", errno.EACCES: "check its permissions",
           errno.EPERM: "check its permissions", errno.EISDIR: "it is a folder: give a file"}
    code = errno_of(e)
    where = str(e.filename) if e.filename else getattr(e, "stream", None) or "a file"
    what = os.strerror(code) if code else (str(e).splitlines()[0] if str(e) else type(e).__name__)
    return f"{where}: {what}" + (f"; {fix[code]}" if code in fix else "")


class StreamError(OSError):
    """An OSError of a standard stream (which has no file name): `stream` says which."""

    def __init__(self, stream: str, error: OSError):
        super().__init__(error.errno, error.strerror or str(error))
        self.stream = stream


def emit(text: str) -> None:
    """Write to standard output now; its errors (a full disk, a closed reader) name the stream."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()  # each batch reaches the reader as soon as it is scored
    except BrokenPipeError:
        raise
    except OSError as e:
        _silence_stdout()  # nothing more can be written there, not even at exit
        raise StreamError("standard output", e) from None


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's flush at exit finds nothing left to fail on."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")


def score_to_stdout(args) -> None:
    say(f"loading TensorFlow and {args.model}")
    with Steps("predict") as step:  # on a terminal, a clock ticks while TensorFlow loads
        step("loading")
        model = load(args.model)
    stop_if_interrupted()  # Ctrl-C while loading, even where a library swallowed it
    origin = model_origin(args.model)
    say(f"scoring with {args.model}" + (f", {origin}" if origin else ""))
    # The bar is drawn only when standard error is a terminal and the rows go elsewhere (a file, a pipe).
    bar = progress_bar(rows_in(args.file), "predict", " reviews",
                       when=args.file is not None and not sys.stdout.isatty())
    row, headed = 1, False
    try:
        for reviews, ids in batches(args):
            p, unknown = score_batch(model, reviews)
            rows = format_rows(row, reviews, p, unknown, args.threshold, args.format, ids)
            # the first batch tells whether there is an id column
            emit(header(ids is not None) + rows if args.format == "tsv" and not headed else rows)
            headed = True
            row += len(reviews)
            bar.update(len(reviews))
            stop_if_interrupted()  # Ctrl-C, even where a library swallowed it
        if args.format == "tsv" and not headed:
            emit(header(False))
        bar.close()
    except InputError as e:
        bar.close()
        raise SystemExit(f"error: {e}") from None
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.stderr.close()


if __name__ == "__main__":
    main()
    stop_if_interrupted()  # Ctrl-C after the last batch: still exit 130
