"""The data stages on Apache Spark (`engine.name: spark`): a second runner of the same batch functions.

Each function here is what a stage's `main` calls instead of its local loop. The work per batch is done by
the very functions the local engine uses (`tokenize`, `ids_of_tokens`, `pad_ragged`, `review_checks_frame`,
`rows_frame`, `review_rows`), applied by Spark with `mapInArrow`; what spans the corpus (the vocabulary, texts
in both splits, class counts) is a Spark aggregation; Great Expectations validates Spark DataFrames with its
Spark datasource. Results return to the driver in order and are written by the local engine's writers, so
the outputs are byte for byte the local engine's (tests/test_spark.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from stages.lib.spark import (array_bytes, bytes_array, bytes_table, ordered_rows, single_batch, spark_session,
                              table_bytes, task_frame, task_ranges, user_error)


def kept(frame):
    """A check frame computed once and kept (memory, else disk): Great Expectations runs a Spark job per metric,
    and each would otherwise run the Python batch functions again."""
    from pyspark import StorageLevel

    return frame.persist(StorageLevel.MEMORY_AND_DISK)


def read_parquet(session, path: Path):
    """A Parquet file of the pipeline as a Spark DataFrame; a missing one is the FileNotFoundError the stage
    runner turns into "input ... not found" (Spark's own error would be a traceback)."""
    if not Path(path).exists():
        raise FileNotFoundError(2, "No such file", str(path))
    return session.read.parquet(str(Path(path).resolve()))


# --- tokenize -------------------------------------------------------------------------------------------------

def tokenize_splits(params: dict, raw_dir: Path, splits: dict) -> tuple[list[str], np.ndarray]:
    """Fill the SplitCodes of every split with vocabulary ids; return (vocabulary, id of each code: identity).

    Two passes over the reviews, both applying the pipeline's tokenizer on the executors: the first counts each
    batch's training tokens (a few rows per distinct token, not one per token, so Spark's memory stays small)
    and Spark adds the counts up; the second maps every review's tokens to the vocabulary's ids."""
    session = spark_session(params, "tokenize")  # first: without pyspark, its message
    from pyspark.sql import functions as F

    from stages.lib.text import OOV, PAD

    reviews = read_parquet(session, raw_dir / "reviews.parquet").select("text", "label", "split")
    ood = read_parquet(session, raw_dir / "ood.parquet").select("text", "label").withColumn("split", F.lit("ood"))
    # The vocabulary: training tokens by count, equal counts in code-point order (Spark compares strings as
    # UTF-8 bytes, which is code-point order), as vocabulary_from_counts does.
    counts = reviews.filter(F.col("split") == "train").mapInArrow(_token_counts, "token string, n long")
    top = (counts.groupBy("token").agg(F.sum("n").alias("count")).orderBy(F.desc("count"), F.asc("token"))
           .limit(params["tokenize"]["vocab_size"] - 2).collect())
    vocabulary = [PAD, OOV] + [row.token for row in top]
    shared = session.sparkContext.broadcast(vocabulary)
    ids = reviews.unionByName(ood).mapInArrow(lambda batches: _ids_batches(batches, shared.value),
                                              "split string, ids binary, offsets binary, labels binary")
    for row in ordered_rows(ids):
        splits[row.split].append(bytes_array(row.ids), bytes_array(row.offsets), bytes_array(row.labels))
    return vocabulary, np.arange(len(vocabulary), dtype=np.int32)


def _token_counts(batches):
    import pyarrow.compute as pc

    from stages.lib.text import tokenize

    for batch in batches:
        counts = pc.value_counts(pc.list_flatten(tokenize(batch.column("text"))))
        yield pa_batch(token=counts.field("values"), n=pc.cast(counts.field("counts"), "int64"))


def _ids_batches(batches, vocabulary: list[str]):
    import pyarrow.compute as pc

    from stages.lib.text import ids_of_tokens, tokenize

    for batch in batches:
        split = batch.column("split")
        for name in pc.unique(split).to_pylist():  # each split's reviews keep their order
            part = batch.filter(pc.equal(split, name))
            ids, offsets = ids_of_tokens(tokenize(part.column("text")), vocabulary)
            labels = part.column("label").to_numpy()
            yield single_batch({"split": name, "ids": array_bytes(ids), "offsets": array_bytes(offsets),
                                "labels": array_bytes(labels)})


def pa_batch(**columns):
    import pyarrow as pa

    return pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))


# --- pad ------------------------------------------------------------------------------------------------------

def pad_split(params: dict, session, in_dir: Path, split: str, n: int, x_writer, y_writer, rows: int) -> None:
    """Pad one split's blocks on Spark (each task reads its block from in_dir) and write them in order."""
    from stages.lib.ragged import block_ranges

    tasks = block_ranges(n, rows)
    if not tasks:
        return
    folder, maxlen, cfg = str(Path(in_dir).resolve()), params["maxlen"], params["pad"]

    def pad_blocks(batches):
        from stages.lib.ragged import ragged_block
        from stages.pad import pad_ragged

        for start, stop in task_ranges(batches):
            ids, offsets, labels = ragged_block(folder, split, start, stop)
            x = pad_ragged(ids, offsets, maxlen, cfg["padding"], cfg["truncating"])
            yield single_batch({"x": array_bytes(x), "y": array_bytes(labels)})

    frame = task_frame(session, tasks, "start long, stop long").mapInArrow(pad_blocks, "x binary, y binary")
    for row in ordered_rows(frame):
        x_writer.write(bytes_array(row.x))
        y_writer.write(bytes_array(row.y))


# --- validate_features ----------------------------------------------------------------------------------------

ROWS_SCHEMA = "row long, min_id int, max_id int, length long, label long, all_padding long"


def padded_rows_frame(session, x_path: Path, y_path: Path, rows: int):
    """The padded split's check frame (validate_features.rows_frame of every block) as a Spark DataFrame."""
    from stages.lib.arrays import npy_rows
    from stages.lib.ragged import block_ranges

    x_path, y_path = str(Path(x_path).resolve()), str(Path(y_path).resolve())
    tasks = block_ranges(npy_rows(x_path), rows)
    if not tasks:
        return session.createDataFrame([], ROWS_SCHEMA)

    def check_rows(batches):
        import pyarrow as pa

        from stages.lib.arrays import read_rows
        from stages.validate_features import rows_frame

        for start, stop in task_ranges(batches):
            frame = rows_frame(read_rows(x_path, start, stop), read_rows(y_path, start, stop), start)
            yield pa.RecordBatch.from_pandas(frame, preserve_index=False)

    return kept(task_frame(session, tasks, "start long, stop long").mapInArrow(check_rows, ROWS_SCHEMA))


# --- validate_raw ---------------------------------------------------------------------------------------------

def raw_frames(params: dict, raw_dir: Path):
    """(session, reviews, ood) of data/raw as Spark DataFrames."""
    session = spark_session(params, "validate_raw")
    return session, read_parquet(session, raw_dir / "reviews.parquet"), read_parquet(session, raw_dir / "ood.parquet")


def corpus_facts(reviews):
    """validate_raw.CorpusFacts of the reviews from Spark aggregations: rows per split and class, and the
    hashes of texts found in more than one split (the same 64-bit hashes as the local engine's)."""
    from pyspark.sql import functions as F

    from stages.validate_raw import CorpusFacts

    facts = CorpusFacts()
    for row in reviews.groupBy("split", "label").count().collect():
        facts.by_split_and_label[(row.split, row.label)] = row["count"]
    hashed = reviews.filter(F.col("text").isNotNull()).mapInArrow(_text_hashes, "hash long, split string")
    both = hashed.groupBy("hash").agg(F.countDistinct("split").alias("splits")).filter("splits > 1").collect()
    return facts, np.array([row.hash for row in both], np.int64).view(np.uint64)


def _text_hashes(batches):
    import pyarrow as pa

    from stages.lib.arrays import hashes_of

    for batch in batches:
        frame = batch.to_pandas()
        yield pa.RecordBatch.from_pydict({"hash": hashes_of(frame["text"]).view(np.int64),
                                          "split": frame["split"].to_numpy(dtype=object)})


def review_checks(reviews, texts_in_both: np.ndarray):
    """validate_raw.review_checks_frame of every batch, as a Spark DataFrame for Great Expectations."""
    from pyspark.sql.types import BooleanType, LongType, StructField, StructType

    schema = StructType(reviews.schema.fields + [StructField("text_chars", LongType()),
                                                 StructField("text_is_blank", BooleanType()),
                                                 StructField("text_in_train_and_test", BooleanType())])

    def checks(batches):
        import pyarrow as pa

        from stages.validate_raw import review_checks_frame

        for batch in batches:
            frame = review_checks_frame(batch.to_pandas(), texts_in_both)
            yield pa.RecordBatch.from_pandas(frame, preserve_index=False)

    return kept(reviews.mapInArrow(checks, schema))


def ood_checks(ood):
    """The out-of-domain reviews with validate_raw's blank-text column, as a Spark DataFrame."""
    from pyspark.sql.types import BooleanType, StructField, StructType

    return kept(ood.mapInArrow(_ood_checks, StructType(ood.schema.fields + [StructField("text_is_blank", BooleanType())])))


def _ood_checks(batches):
    import pyarrow as pa

    from stages.validate_raw import blank_texts

    for batch in batches:
        frame = batch.to_pandas()
        yield pa.RecordBatch.from_pandas(frame.assign(text_is_blank=blank_texts(frame["text"])), preserve_index=False)


# --- download -------------------------------------------------------------------------------------------------

class LocalParquetOnSpark:
    """download.LocalReviews for a Parquet file with engine.name spark: each Spark task reads a range of rows
    (local_files.parquet_rows) and applies the local engine's functions to it (checked_chunk, hashes_and_labels,
    review_rows). Ranges are the local engine's chunks, so the written file is the same, byte for byte."""

    def __init__(self, params: dict, path: Path):
        from stages.lib.arrays import open_parquet
        from stages.lib.local_files import CHUNK_ROWS
        from stages.lib.ragged import block_ranges

        self.path = Path(path).resolve()
        self.shown = Path(path)  # as the user named it, for messages
        self.session = spark_session(params, "download")
        self.tasks = block_ranges(open_parquet(self.path).metadata.num_rows, CHUNK_ROWS)

    def _run(self, work, schema: str):
        from stages.lib.local_files import SourceError

        frame = task_frame(self.session, self.tasks, "start long, stop long").mapInArrow(work, schema)
        try:
            yield from ordered_rows(frame)
        except Exception as e:  # a SourceError raised in a task arrives wrapped in Spark's own exception
            mine = user_error(e, SourceError)
            if mine is None:
                raise
            raise mine from None

    def _chunks(self):
        path, shown = self.path, self.shown

        def read(batches):
            from stages.lib.local_files import checked_chunk, parquet_rows

            for start, stop in task_ranges(batches):
                yield start, checked_chunk(parquet_rows(path, start, stop), shown, start)
        return read

    def hashes_and_labels(self):
        chunks, shown = self._chunks(), self.shown

        def work(batches):
            from stages.download import hashes_and_labels

            for _, chunk in chunks(batches):
                keys, labels = hashes_and_labels(chunk, shown)
                yield single_batch({"keys": array_bytes(keys), "labels": array_bytes(labels)})
        return [(bytes_array(r.keys), bytes_array(r.labels)) for r in self._run(work, "keys binary, labels binary")]

    def chunks(self, is_test: np.ndarray | None):
        """Arrow tables of reviews.parquet's rows in file order: download.local_review_chunks' frames, converted
        by the tasks as download.write_table would (so with the same pandas metadata)."""
        chunks, shown = self._chunks(), self.shown
        shared = self.session.sparkContext.broadcast(is_test)

        def work(batches):
            import pyarrow as pa

            from stages.download import REVIEW_SCHEMA, review_rows

            for _, chunk in chunks(batches):
                rows = review_rows(chunk, shown, shared.value)
                yield single_batch({"table": table_bytes(pa.Table.from_pandas(rows, schema=REVIEW_SCHEMA,
                                                                              preserve_index=False))})
        for row in self._run(work, "table binary"):
            yield bytes_table(row.table)


def read_imdb_on_spark(params: dict, entries: list[tuple], files_per_task: int = 2500):
    """download.read_imdb_files on Spark: each task reads a slice of the review files; returns one Arrow table
    (converted by the tasks as download.write_table converts the local engine's DataFrame)."""
    import pyarrow as pa

    session = spark_session(params, "download")
    tasks = [(start, min(start + files_per_task, len(entries))) for start in range(0, len(entries), files_per_task)]
    shared = session.sparkContext.broadcast(entries)

    def work(batches):
        import pyarrow as pa

        from stages.download import REVIEW_SCHEMA, read_imdb_files

        for start, stop in task_ranges(batches):
            frame = read_imdb_files(shared.value[start:stop])
            yield single_batch({"table": table_bytes(pa.Table.from_pandas(frame, schema=REVIEW_SCHEMA,
                                                                          preserve_index=False))})
    frame = task_frame(session, tasks, "start long, stop long").mapInArrow(work, "table binary")
    return pa.concat_tables([bytes_table(row.table) for row in ordered_rows(frame)])
