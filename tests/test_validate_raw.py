"""validate_raw: Great Expectations suites on the reviews and GloVe; failures are named with their rows."""
import numpy as np
import pandas as pd
import pytest

from stages.download import build_manifest
from stages.lib.validation import failure_summary, render_markdown, write_reports
from stages.validate_raw import validate
from tests import fixtures


@pytest.fixture
def clean():
    texts = fixtures.POSITIVE + fixtures.NEGATIVE
    reviews = pd.DataFrame({"id": [f"r{i}" for i in range(8)], "text": texts, "label": [1] * 4 + [0] * 4,
                            "split": ["train", "train", "test", "test"] * 2})
    words = fixtures.GLOVE_WORDS
    vectors = np.ones((len(words), 50), np.float32)
    ood = reviews.head(0)[["id", "text", "label"]]
    return reviews, ood, words, vectors


@pytest.fixture
def default_params(default_params):
    default_params["validation"]["raw"]["min_rows_per_split"] = 2  # the clean data has 4 reviews per split
    return default_params


def run(params, reviews, ood, words, vectors):
    manifest = build_manifest("local", {}, reviews, ood, words, vectors)
    return validate(params, manifest, reviews, ood, words, vectors)


def test_clean_data_passes(default_params, clean):
    results = run(default_params, *clean)
    assert all(r["success"] for r in results), failure_summary(results)


def test_corrupted_reviews_fail_with_each_problem_named(default_params, clean, tmp_path):
    reviews, ood, words, vectors = clean
    bad = reviews.copy()
    bad["label"] = bad["label"].astype("int64")
    bad.loc[1, "text"] = None                      # a null text
    bad.loc[2, "label"] = 2                        # a label outside {0, 1}
    bad.loc[3, "id"] = "r0"                        # a duplicated id
    bad.loc[6, "text"] = bad.loc[0, "text"]        # a train text (r0) also in test (r6)
    manifest = build_manifest("local", {}, reviews, ood, words, vectors)
    results = validate(default_params, manifest, bad, ood, words, vectors)
    assert not write_reports(tmp_path / "raw.json", tmp_path / "raw.md", results, "Raw data validation")

    failed = {(c["expectation"], c["column"]): c for r in results for c in r["checks"] if not c["success"]}
    assert failed[("expect_column_values_to_not_be_null", "text")]["unexpected_count"] == 1
    assert failed[("expect_column_values_to_be_in_set", "label")]["examples"] == [{"label": 2, "id": "r2"}]
    assert {"id": "r0"} in failed[("expect_column_values_to_be_unique", "id")]["examples"]
    both = failed[("expect_column_values_to_be_in_set", "text_in_train_and_test")]
    assert {e["id"] for e in both["examples"]} == {"r0", "r6"}
    report = (tmp_path / "raw.md").read_text()
    for needle in ("FAILED", "text_in_train_and_test", "'label': 2", "'id': 'r0'", "expect_column_values_to_not_be_null"):
        assert needle in report
    assert (tmp_path / "raw.json").exists()


def test_glove_problems_are_caught(default_params, clean):
    reviews, ood, words, vectors = clean
    vectors = vectors.copy()
    vectors[3, 7] = np.nan
    words = words[:-1] + [words[0]]  # a duplicated word
    results = run(default_params, reviews, ood, words, vectors)
    glove = next(r for r in results if r["suite"] == "glove")
    failed = {(c["expectation"], c["column"]) for c in glove["checks"] if not c["success"]}
    assert failed == {("expect_column_values_to_be_in_set", "vector_is_finite"),
                      ("expect_column_values_to_be_unique", "word")}


def test_wrong_dimension_and_imbalance_are_caught(default_params, clean):
    reviews, ood, words, vectors = clean
    unbalanced = reviews.assign(label=[1, 1, 1, 1, 1, 1, 0, 0])
    params = {**default_params, "data": {**default_params["data"], "glove_dim": 100}}
    results = run(params, unbalanced, ood, words, vectors)
    failed = {r["suite"] for r in results if not r["success"]}
    assert failed == {"glove", "splits"}
    markdown = render_markdown(results, "t")
    assert "positive_share" in markdown
    # the report leads with what failed, and the observed share, before any table
    head = markdown[:markdown.index("## Suite")]
    assert "**FAILED**" in head and "Failed checks:" in head
    assert "glove: expect_column_values_to_be_in_set on column 'dim'" in head
    assert "splits: expect_column_values_to_be_between on column 'positive_share'" in head
    assert "positive_share 0.75" in head or "positive_share 0.5" in head
    assert markdown.index("## Suite `glove`") < markdown.index("## Suite `reviews`")  # failed suites first


@pytest.mark.parametrize("change, observed", [
    (lambda r: r.assign(split="train"), "split test, rows 0, positive 0, negative 0"),       # no test split
    (lambda r: r.assign(split="test"), "split train, rows 0"),                               # no train split
    (lambda r: r.assign(label=[1, 1, 1, 1, 0, 0, 1, 1]), "split test, rows 4, positive 4, negative 0"),  # one class
    (lambda r: r.iloc[[0, 1, 2, 3, 4, 5, 6]], "split test, rows 3, positive 2, negative 1"),  # too few rows
])
def test_every_split_needs_rows_of_both_classes(default_params, clean, change, observed):
    reviews, ood, words, vectors = clean
    default_params["validation"]["raw"].update(min_rows_per_split=4, class_balance=[0.0, 1.0])
    results = run(default_params, change(reviews).reset_index(drop=True), ood, words, vectors)
    splits = next(r for r in results if r["suite"] == "splits")
    assert not splits["success"]
    assert observed in failure_summary(results)
    assert "| split | rows | positive | negative | positive_share |" in render_markdown(results, "t")


def test_batches_give_the_report_of_the_whole_frame(default_params, clean):
    """The stage validates a corpus a batch at a time; rules that span batches (an id used twice, a text in
    train and in test, row counts, class balance) must come out as if the corpus were one frame."""
    reviews, ood, words, vectors = clean
    bad = reviews.copy()
    bad.loc[1, "text"] = None                      # a null text (batch 1)
    bad.loc[6, "id"] = "r0"                        # an id of batch 1 used again in batch 3
    bad.loc[7, "text"] = bad.loc[0, "text"]        # a train text of batch 1 in test in batch 3
    manifest = build_manifest("local", {}, reviews, ood, words, vectors)
    whole = validate(default_params, manifest, bad, ood, words, vectors)
    batched = validate(default_params, manifest, bad, ood, words, vectors, rows=3)
    for w, b in zip(whole, batched):
        assert b["rows"] == w["rows"] and b["success"] == w["success"] and b["failed"] == w["failed"]
        for cw, cb in zip(w["checks"], b["checks"]):
            without_examples = lambda c: {k: v for k, v in c.items() if k != "examples"}
            assert without_examples(cb) == without_examples(cw)
            assert sorted(map(str, cb.get("examples", []))) == sorted(map(str, cw.get("examples", [])))
    failed = {c["column"] for r in batched for c in r["checks"] if not c["success"]}
    assert failed == {"id", "text", "text_chars", "text_is_blank", "text_in_train_and_test"}


def test_out_of_domain_ids_used_twice_across_batches_fail(default_params, clean):
    reviews, _, words, vectors = clean
    ood = reviews[["id", "text", "label"]].assign(id=[f"o{i}" for i in range(7)] + ["o0"])  # o0 in batch 1 and 3
    manifest = build_manifest("local", {}, reviews, ood, words, vectors)
    whole = validate(default_params, manifest, reviews, ood, words, vectors)
    batched = validate(default_params, manifest, reviews, ood, words, vectors, rows=3)
    unique = [next(c for c in r["checks"] if c["expectation"] == "expect_column_values_to_be_unique")
              for r in (whole[-1], batched[-1])]
    assert whole[-1]["suite"] == batched[-1]["suite"] == "ood"
    assert unique[0]["unexpected_count"] == unique[1]["unexpected_count"] == 2
    assert unique[1]["examples"] == [{"id": "o0"}, {"id": "o0"}] and not batched[-1]["success"]


def test_the_same_text_with_both_labels_is_counted_across_tasks():
    """A review text labelled 0 in one place and 1 in another is noise no model can learn: validate_raw warns
    with the count (texts, not rows), also when the two rows fall in different tasks."""
    import pandas as pd

    from stages.validate_raw import CorpusFacts

    def facts(texts, labels):
        f = CorpusFacts()
        f.add(pd.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": texts, "label": labels,
                            "split": "train"}))
        return f

    first = facts(["good", "bad", "same", "twice", None], [1, 0, 1, 1, 0])
    first.merge(facts(["same", "twice", "twice", "other"], [0, 1, 1, 0]))
    assert first.texts_with_both_labels() == 1  # "same"; "twice" always 1; a null text is no text
    assert facts(["a", "b"], [0, 1]).texts_with_both_labels() == 0
