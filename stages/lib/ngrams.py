"""Word n-gram count matrices, vectorised: the features of the `baseline` stage's linear models.

The matrices are scikit-learn's `CountVectorizer(ngram_range=(1, n))` and `TfidfVectorizer(..., sublinear_tf=True)`
on the same tokens, up to the order of the columns (tests/test_ngrams.py compares them), in a fraction of the time:
an n-gram is an int64 key made of its words' ids, counted with NumPy, instead of a Python string per n-gram.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def split_tokens(texts: list[str]):
    """Texts whose tokens are joined by single spaces (stages.baseline.token_strings) -> an Arrow list array."""
    import pyarrow as pa  # pyarrow: not needed by the NumPy-only stages
    import pyarrow.compute as pc

    lists = pc.split_pattern(pa.array(texts, pa.large_string()), " ")
    flat = lists.flatten()
    keep = pc.not_equal(pc.utf8_length(flat), 0)  # an empty text is one empty token to Arrow, none to us
    if pc.all(keep).as_py() is not False:
        return lists
    docs = np.repeat(np.arange(len(lists)), np.diff(lists.offsets.to_numpy()))[keep.to_numpy(zero_copy_only=False)]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(docs, minlength=len(lists)))])
    return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), flat.filter(keep))


class NgramCounts:
    """Fitted on training texts: the vocabulary of their 1..`n`-grams, kept when in at least `min_df` and at most
    `max_df` (a share) of the texts; `transform` gives a texts x n-grams count matrix (CSR, float64)."""

    def __init__(self, n: int, min_df: int = 1, max_df: float = 1.0):
        self.n, self.min_df, self.max_df = n, min_df, max_df

    def fit_transform(self, texts: list[str]):
        import pyarrow.compute as pc  # pyarrow: not needed by the NumPy-only stages

        lists = split_tokens(texts)
        encoded = pc.dictionary_encode(lists.flatten())
        self.words = encoded.dictionary
        ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        self._check_range(len(self.words))
        keys, docs = self._keys(ids, lists.offsets.to_numpy())
        columns, self.keys = pd.factorize(keys, sort=True)  # hashing: a third of np.unique's sort here
        x = self._matrix(docs, columns, len(texts), len(self.keys))
        df = np.bincount(x.indices, minlength=x.shape[1])
        keep = (df >= self.min_df) & (df <= self.max_df * len(texts))
        self.keys, self.df = self.keys[keep], df[keep]
        return columns_of(x, np.flatnonzero(keep))

    def narrowed(self, counts, n: int, min_df: int = 1, max_df: float = 1.0):
        """(NgramCounts, matrix) for 1..n-grams (n <= self.n) with those bounds, from this one's training matrix
        `counts`, without counting again: keys sort shorter n-grams first, so theirs are the leading columns."""
        if n > self.n or self.min_df > 1 or self.max_df < 1:
            raise ValueError("a narrowed vocabulary needs a wider one fitted without document-frequency bounds")
        width = int(np.searchsorted(self.keys, self._base(len(self.words), n + 1)))
        df, texts = self.df[:width], counts.shape[0]
        keep = np.flatnonzero((df >= min_df) & (df <= max_df * texts))
        narrow = NgramCounts(n, min_df, max_df)
        narrow.words, narrow.keys, narrow.df = self.words, self.keys[:width][keep], df[keep]
        narrow.wide = keep  # its columns among this one's: see `select`
        return narrow, columns_of(counts, keep)

    def select(self, wide_counts):
        """The counts of a narrowed vocabulary (`narrowed`), from those of the vocabulary it was narrowed from:
        texts counted once for several narrowings."""
        return columns_of(wide_counts, self.wide)

    def transform(self, texts: list[str]):
        import pyarrow.compute as pc  # pyarrow: not needed by the NumPy-only stages

        lists = split_tokens(texts)
        ids = pc.fill_null(pc.index_in(lists.flatten(), value_set=self.words), -1)
        keys, docs = self._keys(ids.to_numpy(zero_copy_only=False).astype(np.int64), lists.offsets.to_numpy())
        columns = np.searchsorted(self.keys, keys)
        found = columns < len(self.keys)
        found[found] = self.keys[columns[found]] == keys[found]
        return self._matrix(docs[found], columns[found], len(texts), len(self.keys))

    def names(self) -> list[str]:
        """Each column's n-gram, its words joined by spaces (for tests and inspection)."""
        words, size, out = self.words.to_pylist(), len(self.words), []
        for key in self.keys.tolist():
            order = next(k for k in range(1, self.n + 1) if key < self._base(size, k + 1))
            key -= self._base(size, order)
            ids = [(key // size ** (order - 1 - j)) % size for j in range(order)]
            out.append(" ".join(words[i] for i in ids))
        return out

    @staticmethod
    def _base(size: int, order: int) -> int:
        """Keys of `order`-grams start after those of every shorter order: sum of size**k for k < order."""
        return sum(size ** k for k in range(1, order))

    def _check_range(self, size: int) -> None:
        if self._base(size, self.n + 1) >= 2 ** 63:
            raise ValueError(f"{size:,} distinct words make {self.n}-gram keys beyond 64 bits")

    def _keys(self, ids: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(key, text number) of every 1..n-gram inside a text whose words are all known (id >= 0)."""
        size = len(self.words)
        docs = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        keys, owners = [], []
        for order in range(1, self.n + 1):
            starts = np.arange(max(len(ids) - order + 1, 0))
            valid = docs[starts] == docs[starts + order - 1] if order > 1 else np.ones(len(starts), bool)
            key = np.zeros(len(starts), np.int64)
            for j in range(order):
                part = ids[starts + j]
                valid &= part >= 0
                key = key * size + part
            keys.append(key[valid] + self._base(size, order))
            owners.append(docs[starts[valid]])
        return np.concatenate(keys), np.concatenate(owners)

    @staticmethod
    def _matrix(docs: np.ndarray, columns: np.ndarray, rows: int, width: int):
        from scipy import sparse  # SciPy: only the baseline needs it

        x = sparse.csr_matrix((np.ones(len(docs)), (docs, columns)), shape=(rows, width))  # duplicates summed
        x.sort_indices()
        return x


def columns_of(x, columns: np.ndarray):
    """x[:, columns] of a CSR matrix for increasing column numbers, sorted indices kept: a remapping of x's indices
    (SciPy's fancy column indexing multiplies by a selection matrix)."""
    from scipy import sparse  # SciPy: only the baseline needs it

    new = np.full(x.shape[1], -1, np.int64)
    new[columns] = np.arange(len(columns))
    mapped = new[x.indices]
    kept = mapped >= 0
    indptr = np.concatenate([[0], np.cumsum(kept)])[x.indptr]
    return sparse.csr_matrix((x.data[kept], mapped[kept], indptr), shape=(x.shape[0], len(columns)))


def tfidf(counts, df: np.ndarray, texts: int):
    """scikit-learn's TfidfVectorizer(sublinear_tf=True) weights (smooth idf, rows of unit L2 norm) of counts."""
    from sklearn.preprocessing import normalize  # scikit-learn: only the baseline needs it

    x = counts.copy()
    x.data = 1 + np.log(x.data)
    x = x.multiply(np.log((1 + texts) / (1 + df)) + 1).tocsr()
    return normalize(x)
