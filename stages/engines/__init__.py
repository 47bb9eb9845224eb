"""Engines: who runs a stage's tasks. A stage describes its work as tasks and top-level functions and hands
them to the engine it is given; it never asks which engine that is (as Beam's transforms never ask for the
runner, or Kedro's nodes for theirs).

    class Engine(Protocol):
        name: str
        def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]: ...
            # fn(task) for every task, results in task order, one at a time (a generator)
        def input(self, path) -> str: ...
            # where a task reads the driver's file or folder `path`: its absolute path, or a copy on the
            # engine's storage (an s3:// address) that stages.lib.arrays and stages.lib.storage read
        def close(self) -> None: ...

`fn` must be picklable: a top-level function, or `functools.partial` of one with picklable arguments (no
closures, no lambdas), so that an engine may run it in another process or on another machine. What spans the
corpus (the vocabulary, rows per class, texts in both splits) is a merge of per-task results done by the stage,
with the same code on every engine, so the engines agree by construction. An exception raised by `fn` reaches
the stage as that exception, whichever engine ran it.

A new engine is a module with an `Engine` class and one line in `ENGINES`; no stage changes. Only the chosen
module is imported, so an engine's libraries (pyspark) stay optional.
"""
from __future__ import annotations

import importlib

ENGINES = {"local": "stages.engines.local", "spark": "stages.engines.spark"}


def open_engine(params: dict, stage: str):
    """The engine `params['engine']['name']` names, set up for `stage` (a name for logs and the Spark UI)."""
    module = importlib.import_module(ENGINES[params["engine"]["name"]])
    return module.Engine(params, stage)
