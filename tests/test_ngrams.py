"""stages/lib/ngrams.py against scikit-learn's vectorisers on the same tokens: the same matrices, column for
column (matched by n-gram), for fitting and for texts with unseen words."""
import numpy as np
import pytest

from stages.baseline import token_strings
from stages.lib.ngrams import columns_of, NgramCounts, tfidf
from tests import fixtures


def _vectorizer(kind: str, ngrams: int, **options):
    """scikit-learn's vectoriser on the pipeline's space-joined tokens: the reference."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    cls = TfidfVectorizer if kind == "tfidf" else CountVectorizer
    return cls(token_pattern=r"[^ ]+", lowercase=False, ngram_range=(1, ngrams), dtype=np.float64, **options)


def by_name(matrix, names: list[str]) -> dict[str, np.ndarray]:
    dense = matrix.toarray()
    return {name: dense[:, i] for i, name in enumerate(names)}


def same(ours, our_names, theirs, their_names) -> None:
    assert sorted(our_names) == sorted(their_names)
    a, b = by_name(ours, our_names), by_name(theirs, their_names)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.fixture(scope="module")
def texts():
    reviews = fixtures.synthetic_reviews(300)
    tokens = token_strings(reviews["text"])
    return tokens[:200], tokens[200:] + ["", "unseenword another unseen", tokens[0]]


@pytest.mark.parametrize("n, min_df, max_df", [(1, 1, 1.0), (2, 2, 0.9), (3, 1, 1.0), (3, 3, 0.5)])
def test_counts_are_scikit_learns(texts, n, min_df, max_df):
    train, other = texts
    ours = NgramCounts(n, min_df, max_df)
    theirs = _vectorizer("count", n, min_df=min_df, max_df=max_df)
    x = ours.fit_transform(train)
    assert x.shape[1] > 50 and x.max() > 1  # words repeat: counts, not flags
    names, their_names = ours.names(), list(theirs.fit(train).get_feature_names_out())
    same(x, names, theirs.transform(train), their_names)
    same(ours.transform(other), names, theirs.transform(other), their_names)


def test_tfidf_is_scikit_learns(texts):
    train, other = texts
    ours = NgramCounts(2, 2, 0.9)
    theirs = _vectorizer("tfidf", 2, min_df=2, max_df=0.9, sublinear_tf=True)
    x = tfidf(ours.fit_transform(train), ours.df, len(train))
    their_x = theirs.fit_transform(train)
    same(x, ours.names(), their_x, list(theirs.get_feature_names_out()))
    same(tfidf(ours.transform(other), ours.df, len(train)), ours.names(), theirs.transform(other),
         list(theirs.get_feature_names_out()))


def test_too_many_words_for_64_bit_keys_is_refused():
    counts = NgramCounts(3)
    with pytest.raises(ValueError, match="beyond 64 bits"):
        counts._check_range(3_000_000)


def test_a_narrowed_vocabulary_is_the_one_counted_for_fewer_words(texts):
    train, other = texts
    wide = NgramCounts(3)
    x = wide.fit_transform(train)
    narrow, narrow_x = wide.narrowed(x, 2, 2, 0.9)
    direct = NgramCounts(2, 2, 0.9)
    direct_x = direct.fit_transform(train)
    assert narrow.names() == direct.names() and (narrow.df == direct.df).all()
    assert (narrow_x != direct_x).nnz == 0
    assert (narrow.transform(other) != direct.transform(other)).nnz == 0
    selected = narrow.select(wide.transform(other))  # other texts counted once, at the widest
    assert (selected != direct.transform(other)).nnz == 0 and selected.has_sorted_indices
    with pytest.raises(ValueError, match="without document-frequency bounds"):
        direct.narrowed(direct_x, 1)


def test_columns_of_a_count_matrix_are_scipys_column_indexing(texts):
    x = NgramCounts(2).fit_transform(texts[0])
    for columns in (np.arange(0, x.shape[1], 3), np.array([], int), np.arange(x.shape[1]), np.array([x.shape[1] - 1])):
        picked = columns_of(x, columns)
        assert picked.shape == (x.shape[0], len(columns))
        assert (picked != x[:, columns]).nnz == 0
