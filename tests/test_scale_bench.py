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
