"""The engine contract, the same for every engine in the registry: tasks' results in task order, a task's error
raised as that error, the same check frames, and corpus-wide results merged alike. Spark runs as local[2] here;
tests/test_spark.py runs the whole data pipeline on it and compares every output byte."""
import importlib.util
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from stages.engines import ENGINES, open_engine
from stages.engines.local import LOCAL
from stages.lib.local_files import SourceError
from tests.conftest import REPO

needs = {"spark": pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                                     reason="no pyspark: run `make setup-spark`")}


@pytest.fixture(scope="module", params=sorted(ENGINES), ids=sorted(ENGINES))
def engine(request):
    if request.param in needs and needs[request.param].args[0]:
        pytest.skip(needs[request.param].kwargs["reason"])
    params = {**yaml.safe_load((REPO / "params.yaml").read_text()),
              "engine": {"name": request.param, "spark": {"master": "local[2]", "conf": {}, "start_timeout": 60,
                                                                         "storage": None, "storage_timeout": 60}}}
    engine = open_engine(params, "contract")
    yield engine
    engine.close()


def block(scale: int, task: tuple[int, int]) -> np.ndarray:
    start, stop = task
    return np.arange(start, stop) * scale


def fails_at(bad: int, task: int) -> int:
    if task == bad:
        raise SourceError(f"data/external/reviews.csv: row {task} is bad")
    return task


def frame_of(task: int) -> pd.DataFrame:
    return pd.DataFrame({"task": np.full(3, task, np.int64), "value": np.arange(3, dtype=np.int64) + 10 * task,
                         "text": [f"t{task}-{i}" for i in range(3)]})




def test_map_keeps_task_order(engine):
    tasks = [(start, min(start + 7, 60)) for start in range(0, 60, 7)]
    results = list(engine.map(partial(block, 3), tasks))
    assert [len(r) for r in results] == [b - a for a, b in tasks]
    assert np.concatenate(results).tolist() == (np.arange(60) * 3).tolist()
    assert list(engine.map(partial(block, 3), [])) == []


def test_a_tasks_error_arrives_as_that_error(engine):
    with pytest.raises(SourceError, match=r"reviews.csv: row 5 is bad"):
        list(engine.map(partial(fails_at, 5), range(9)))
    assert list(engine.map(partial(fails_at, -1), range(4))) == [0, 1, 2, 3]  # the engine still works afterwards


def test_a_suite_over_tasks_is_one_result_and_the_same_on_every_engine(engine):
    """Each task's frame is made and validated where the task runs; the combined result is the local engine's,
    and as the whole frame's: counts, means and examples across tasks."""
    import great_expectations.expectations as gxe

    from stages.engines.local import LOCAL
    from stages.lib.validation import run_suite, run_suite_tasks

    expectations = [gxe.ExpectTableRowCountToEqual(value=15), gxe.ExpectColumnValuesToBeBetween(column="value", max_value=30),
                    gxe.ExpectColumnMeanToBeBetween(column="value", min_value=0, max_value=100)]
    result = run_suite_tasks("t", engine, frame_of, range(5), expectations, "text")
    assert result == run_suite_tasks("t", LOCAL, frame_of, range(5), expectations, "text")
    whole = run_suite("t", pd.concat([frame_of(t) for t in range(5)], ignore_index=True), expectations, "text")
    assert (result["rows"], result["failed"]) == (whole["rows"], whole["failed"]) == (15, 1)
    by_name = {c["expectation"]: c for c in result["checks"]}
    assert by_name["expect_column_values_to_be_between"]["unexpected_count"] == 5  # values 31-42 of tasks 3 and 4
    assert by_name["expect_column_mean_to_be_between"]["observed"] == pytest.approx(21.0)


def test_corpus_wide_results_are_the_same_merge_on_every_engine(engine, tmp_path):
    """tokenize's vocabulary and validate_raw's corpus facts from a Parquet file of 5 row groups."""
    from stages import tokenize, validate_raw
    from stages.lib.text import Codebook

    texts = [f"word{i % 7} common {'rare' if i == 3 else 'x'}" for i in range(50)]
    table = pa.table({"id": [f"r{i}" for i in range(50)], "text": texts, "label": [i % 2 for i in range(50)],
                      "split": ["test" if i % 5 == 0 else "train" for i in range(50)]})
    path = tmp_path / "reviews.parquet"
    pq.write_table(table, path, row_group_size=10)

    def vocabulary_and_facts(runner):
        book = Codebook()
        tasks = [(a, min(a + 13, 50)) for a in range(0, 50, 13)]  # across row-group boundaries
        for parts in runner.map(partial(tokenize.coded_rows, str(path)), tasks):
            for split, codes, uniques, _, _ in parts:
                merged = book.merge(codes, uniques)
                if split == "train":
                    book.count(merged)
        facts, _ = validate_raw.corpus_facts(str(path), 13, None, runner)
        return book.vocabulary(6)[0], facts.by_split_and_label, facts.texts_in_both().tolist()

    vocabulary, counts, in_both = vocabulary_and_facts(engine)
    assert (vocabulary, counts, in_both) == vocabulary_and_facts(LOCAL)
    assert vocabulary[:4] == ["", "[UNK]", "common", "x"] and counts[("test", 0)] == 5 and len(in_both) == 7


def test_parquet_rows_are_the_same_table_however_the_file_is_walked(tmp_path):
    """A task's rows do not depend on the tasks before it in the same process: one chunk per column, equal."""
    from stages.lib.arrays import parquet_rows

    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"id": list(range(70_000)), "text": [f"review {i}" * (i % 5) for i in range(70_000)]}),
                   path, row_group_size=30_000)
    walked = [parquet_rows(path, a, min(a + 25_000, 70_000)) for a in range(0, 70_000, 25_000)]  # in order
    jumped = [parquet_rows(path, a, min(a + 25_000, 70_000)) for a in (50_000, 0, 25_000)]  # fresh each time
    for table, other in zip(walked, [jumped[1], jumped[2], jumped[0]]):
        assert table.equals(other) and all(column.num_chunks == 1 for column in table.columns)
    assert [t.column("id")[0].as_py() for t in walked] == [0, 25_000, 50_000] and walked[2].num_rows == 20_000
