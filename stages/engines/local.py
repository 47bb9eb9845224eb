"""The local engine (`engine.name: local`): tasks run one after another in this process, lazily, so a stage
holds one task's result at a time."""
from __future__ import annotations


class Engine:
    name = "local"

    def __init__(self, params: dict | None = None, stage: str = ""):
        pass

    def map(self, fn, tasks):
        return (fn(task) for task in tasks)

    def frames(self, fn, tasks, schema=None):
        """Great Expectations validates each task's frame in turn; results are combined into one report."""
        return self.map(fn, tasks)

    def whole(self, frame):
        return frame

    def close(self) -> None:
        pass


LOCAL = Engine()  # for functions called without an engine (tests, benchmarks, small data)
