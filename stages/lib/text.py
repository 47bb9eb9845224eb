"""One tokenizer, two engines: Arrow for the pipeline (vectorised, fast), TensorFlow for the exported model.

Both apply the same steps with the same RE2 regular expressions (Arrow and TensorFlow both use RE2):
lower-case (Unicode), HTML line breaks to spaces, apostrophes dropped ("don't" -> "dont", as Keras'
default standardisation does), every run of characters that are not letters or digits to one space, then
split on spaces. tests/test_text.py checks that both give identical ids.

Two steps exist only to make the engines agree where their lower-casing differs: TensorFlow (ICU) lowers
"İ" to "i" plus a combining dot and a final "Σ" to "ς", Arrow to "i" and "σ"; so combining marks are
dropped and "ς" is read as "σ". (Precomposed letters such as "é" are single code points and stay as they are.)
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PAD, OOV = "", "[UNK]"  # ids 0 and 1, as in Keras' TextVectorization
STANDARDIZE_STEPS = [
    (r"<br\s*/?>", " "),                 # HTML line breaks, common in IMDB reviews
    (r"['’‘`\p{M}]", ""),                # apostrophes ("don't" -> "dont") and combining marks
    (r"ς", "σ"),                         # final sigma, see above
    (r"[^\p{L}\p{N}]+", " "),            # punctuation, symbols and whitespace -> one space
]


def _tokenize_chunk(texts: pa.Array) -> pa.ListArray:
    x = pc.utf8_lower(texts)
    for pattern, replacement in STANDARDIZE_STEPS:
        x = pc.replace_substring_regex(x, pattern, replacement)
    return _drop_empty(pc.ascii_split_whitespace(x))  # only ASCII spaces are left between tokens


def _drop_empty(lists: pa.ListArray) -> pa.ListArray:
    """Arrow's split keeps '' at the edges (" a " -> ['', 'a', '']); TensorFlow's does not. Drop them."""
    flat = pc.list_flatten(lists)
    keep = pc.greater(pc.binary_length(flat), 0)
    rows = pc.list_parent_indices(lists).filter(keep).to_numpy()
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=len(lists)), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), flat.filter(keep))


def tokenize(texts, threads: int | None = None) -> pa.ListArray:
    """Token lists of `texts` (a sequence or Arrow array of strings) with the Arrow engine.

    Arrow's kernels release the GIL, so slices of the corpus are standardised on all cores at once.
    """
    texts = pa.array(texts, type=pa.string())
    if isinstance(texts, pa.ChunkedArray):  # what pandas' Arrow-backed strings convert to
        texts = texts.combine_chunks()
    threads = max(1, min(threads or os.cpu_count() or 1, len(texts) // 1000 or 1))
    size = -(-len(texts) // threads)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(_tokenize_chunk, [texts.slice(i * size, size) for i in range(threads)]))
    return pa.concat_arrays(parts) if len(parts) > 1 else parts[0]


def encode(tokens: pa.ListArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hash every token once: (codes int32 per token, unique tokens as an object array, offsets int64)."""
    encoded = pc.list_flatten(tokens).dictionary_encode()
    offsets = tokens.offsets.to_numpy().astype(np.int64)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return codes, encoded.dictionary.to_numpy(zero_copy_only=False), offsets - offsets[0]


def build_vocabulary(codes: np.ndarray, uniques: np.ndarray, vocab_size: int) -> tuple[list[str], np.ndarray]:
    """Vocabulary from the codes of the training tokens: padding, OOV, then the most frequent tokens, equal
    counts broken alphabetically. Returns (vocabulary, id_of_code) where id_of_code maps codes to ids."""
    return vocabulary_from_counts(np.bincount(codes, minlength=len(uniques)), uniques, vocab_size)


def vocabulary_from_counts(counts: np.ndarray, uniques: np.ndarray, vocab_size: int) -> tuple[list[str], np.ndarray]:
    """build_vocabulary from training counts per code (counts[c] = occurrences of token uniques[c])."""
    counts = np.pad(counts, (0, len(uniques) - len(counts)))
    seen = np.flatnonzero(counts)
    order = seen[np.lexsort((uniques[seen].astype(str), -counts[seen]))][: vocab_size - 2]
    id_of_code = np.ones(len(uniques), dtype=np.int32)  # everything else is OOV (1)
    id_of_code[order] = np.arange(2, len(order) + 2, dtype=np.int32)
    return [PAD, OOV] + uniques[order].tolist(), id_of_code


class Codebook:
    """Token codes that stay the same from one batch of reviews to the next, for tokenizing a corpus in batches.

    `encode(texts)` tokenizes a batch and gives every token the code of its first appearance in the corpus;
    `count(codes)` adds training tokens to the counts the vocabulary is built from. Memory grows with the number
    of distinct tokens, not of reviews. The vocabulary depends only on tokens and counts, never on batch sizes.
    """

    def __init__(self):
        self.code_of: dict[str, int] = {}
        self.counts = np.zeros(0, np.int64)

    def encode(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """(codes int32 per token, offsets int64 per review starting at 0) of a batch of texts."""
        codes, local_uniques, offsets = encode(tokenize(texts))
        return self.merge(codes, local_uniques), offsets

    def merge(self, codes: np.ndarray, local_uniques: np.ndarray) -> np.ndarray:
        """Corpus-wide codes of a batch encoded on its own (`encode`: codes into the batch's unique tokens)."""
        code_of = self.code_of
        global_code = np.array([code_of.setdefault(t, len(code_of)) for t in local_uniques.tolist()], np.int32)
        return global_code[codes] if len(codes) else codes

    def count(self, codes: np.ndarray) -> None:
        counts = np.bincount(codes, minlength=len(self.code_of))
        counts[: len(self.counts)] += self.counts
        self.counts = counts

    def vocabulary(self, vocab_size: int) -> tuple[list[str], np.ndarray]:
        uniques = np.array(list(self.code_of), dtype=object)  # a dict keeps insertion order: code order
        return vocabulary_from_counts(self.counts, uniques, vocab_size)


def ids_of_tokens(tokens: pa.ListArray, vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """(ids int32 per token, offsets int64 per review from 0) of token lists with a vocabulary (position = id;
    a token not in it is OOV, 1); tokens never hold '' (padding)."""
    ids = pc.fill_null(pc.index_in(pc.list_flatten(tokens), value_set=pa.array(vocabulary, pa.string())), 1)
    offsets = tokens.offsets.to_numpy().astype(np.int64)
    return ids.to_numpy(zero_copy_only=False).astype(np.int32), offsets - offsets[0]


def ids_for(texts, vocabulary: list[str]) -> list[list[int]]:
    """Token ids of a few texts with a saved vocabulary (for tests and small inputs)."""
    ids, offsets = ids_of_tokens(tokenize(texts), vocabulary)
    return [ids[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]


def tf_standardize(texts):
    """The same standardisation in TensorFlow, for the model that reads raw text."""
    import tensorflow as tf  # TensorFlow takes seconds to import

    x = tf.strings.lower(texts, encoding="utf-8")
    for pattern, replacement in STANDARDIZE_STEPS:
        x = tf.strings.regex_replace(x, pattern, replacement)
    return x


def make_vectorizer(vocabulary: list[str], maxlen: int | None = None):
    """A Keras TextVectorization giving the pipeline's ids (ragged, or cut/padded at the end to `maxlen`)."""
    import keras  # Keras imports TensorFlow

    return keras.layers.TextVectorization(
        standardize=tf_standardize, split="whitespace", vocabulary=vocabulary, output_mode="int",
        ragged=maxlen is None, output_sequence_length=maxlen)
