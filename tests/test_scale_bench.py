"""benchmarks/scale.py: the N-fold corpora it feeds the pipeline and the verdict it prints."""
import pandas as pd

from benchmarks.scale import ratios, table, write_corpus


def test_corpus_n_holds_n_copies_with_the_same_sentences(tmp_path):
    reviews = pd.DataFrame({"text": ["One. Two! Three?", "Just one sentence"], "label": [1, 0],
                            "split": ["train", "test"]})
    write_corpus(reviews, 3, tmp_path / "r.parquet")
    corpus = pd.read_parquet(tmp_path / "r.parquet")
    assert len(corpus) == 6 and corpus["label"].tolist() == [1, 0] * 3
    assert corpus["split"].tolist() == ["train", "test"] * 3
    assert corpus["text"].tolist()[:2] == reviews["text"].tolist()  # the first copy as it is
    for text in corpus["text"][::2]:
        assert sorted(text.split(" ")) == sorted("One. Two! Three?".split(" "))
    assert len(set(corpus["text"][::2])) > 1  # sentences reordered in some copies


def test_targets_are_judged_against_1x_of_the_same_run():
    runs = {"1": {"tokenize": (2.0, 0.5), "train": (10.0, 1.0)},
            "10": {"tokenize": (24.0, 0.6), "train": (130.0, 2.5)}}
    result = ratios(runs)
    assert result["10"]["tokenize"]["time_ratio"] == 12.0 and result["10"]["tokenize"]["time_ok"]  # 12 <= 1.2 x 10
    assert not result["10"]["train"]["time_ok"] and not result["10"]["train"]["memory_ok"]  # 13x, 2.5 GB
    rows = {line.split(" | ")[0].strip("| "): line for line in table(result).splitlines()}
    assert "target missed" in rows["train"] and "target missed" not in rows["tokenize"]


def test_engine_comparison_hashes_only_the_data_stages_outputs_and_sees_a_difference(tmp_path):
    from benchmarks.scale import engine_table, output_hashes

    for engine in ("local", "spark"):
        for name in ("data/raw/reviews.parquet", "data/interim/vocab.txt", "reports/tokenize.json",
                     "reports/metrics.json", "data/external/reviews.parquet"):
            (tmp_path / engine / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / engine / name).write_text(name)
    (tmp_path / "spark/data/interim/vocab.txt").write_text("other")
    (tmp_path / "spark/reports/metrics.json").write_text("not a data stage's output")
    local, spark = output_hashes(tmp_path / "local"), output_hashes(tmp_path / "spark")
    assert sorted(local) == ["data/interim/vocab.txt", "data/raw/reviews.parquet", "reports/tokenize.json"]
    assert [name for name in local if local[name] != spark[name]] == ["data/interim/vocab.txt"]

    stage = {"local": {"seconds": 2.0, "peak_gb": 0.5}, "spark": {"seconds": 10.0, "peak_gb": 1.5}, "time_ratio": 5.0}
    results = {"1": {"stages": {s: stage for s in ("download", "validate_raw", "tokenize", "pad", "embed",
                                                   "validate_features")}}}
    lines = engine_table(results).splitlines()
    assert lines[2] == "| download | 2.0 / 0.50 | 10.0 / 1.50 (5.0x) |"
    assert lines[-1] == "| all | 12.0 | 60.0 (5.0x) |"


def test_the_largest_corpus_is_one_row_group_as_pandas_writes_it(tmp_path):
    import pyarrow.parquet as pq

    reviews = pd.DataFrame({"text": ["One. Two!", "Three."], "label": [1, 0], "split": ["train", "test"]})
    write_corpus(reviews, 4, tmp_path / "one.parquet", one_group=True)
    write_corpus(reviews, 4, tmp_path / "four.parquet")
    assert pq.ParquetFile(tmp_path / "one.parquet").metadata.num_row_groups == 1
    assert pq.ParquetFile(tmp_path / "four.parquet").metadata.num_row_groups == 4
    assert pd.read_parquet(tmp_path / "one.parquet").equals(pd.read_parquet(tmp_path / "four.parquet"))
