"""The local engine (`engine.name: local`): tasks run one after another in this process, lazily, so a stage
holds one task's result at a time."""
from __future__ import annotations


from pathlib import Path


class Engine:
    name = "local"

    def __init__(self, params: dict | None = None, stage: str = ""):
        pass

    def input(self, path) -> str:
        """Where a task reads `path`: here, by its absolute path (a task may run in another folder)."""
        return str(Path(path).resolve())

    def map(self, fn, tasks):
        return (fn(task) for task in tasks)

    def close(self) -> None:
        pass


LOCAL = Engine()  # for functions called without an engine (tests, benchmarks, small data)
