"""Stage `embed`: the embedding matrix that puts GloVe into a Keras Embedding layer.

Row i is the GloVe vector of vocabulary word i; row 0 (padding) is zero; words GloVe lacks (and [UNK]) get
zeros or seeded normal noise at GloVe's own scale (`embedding.oov_init`). Words are matched with a hash
lookup over the whole vocabulary at once, never a Python loop over GloVe's 400,000 rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from stages.lib import catalog
from stages.lib.arrays import BLOCK_ROWS, iter_blocks
from stages.lib.files import read_lines, save_npy, write_json
from stages.lib.params import load_params

READS = (catalog.VOCABULARY, catalog.GLOVE_VECTORS, catalog.GLOVE_WORDS, catalog.TOKEN_IDS)
WRITES, ENGINE = (catalog.EMBEDDING_MATRIX, catalog.EMBEDDING_REPORT), False


def build_matrix(vocabulary: list[str], glove_words: list[str], glove: np.ndarray, oov_init: str,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (matrix float32 of shape (len(vocabulary), dim), found: bool per vocabulary row)."""
    rows = pd.Index(glove_words).get_indexer(vocabulary)  # -1 where GloVe has no such word
    rows[:2] = -1  # padding and [UNK] never take a GloVe row, even if GloVe had such a token
    found = rows >= 0
    matrix = np.zeros((len(vocabulary), glove.shape[1]), dtype=np.float32)
    matrix[found] = glove[rows[found]]
    if oov_init == "normal":
        rng = np.random.default_rng(seed)
        noise = rng.normal(float(glove.mean()), float(glove.std()), size=matrix.shape).astype(np.float32)
        matrix[~found] = noise[~found]
    matrix[0] = 0.0
    return matrix, found


def coverage(found: np.ndarray, train_id_blocks) -> dict:
    """Share of vocabulary words (padding and [UNK] excluded) with a GloVe vector, and of training tokens
    (`train_id_blocks`: the training ids, one array or block after block)."""
    blocks = [train_id_blocks] if isinstance(train_id_blocks, np.ndarray) else train_id_blocks
    hits = tokens = 0
    for ids in blocks:
        hits, tokens = hits + int(found[ids].sum()), tokens + len(ids)
    return {"vocab_words": int(len(found) - 2),
            "vocab_coverage": round(float(found[2:].mean()), 6),
            "train_token_coverage": round(hits / tokens, 6)}


def main(params: dict) -> None:
    vocabulary = read_lines(catalog.VOCABULARY.path)
    glove = np.load(catalog.GLOVE_VECTORS.path)
    matrix, found = build_matrix(vocabulary, read_lines(catalog.GLOVE_WORDS.path), glove,
                                 params["embedding"]["oov_init"], params["seed"])
    save_npy(catalog.EMBEDDING_MATRIX.path, matrix)
    train_ids = (block for _, block in iter_blocks(catalog.TOKEN_IDS.of("train"), rows=BLOCK_ROWS * 256))
    report = {**coverage(found, train_ids), "shape": list(matrix.shape)}
    write_json(catalog.EMBEDDING_REPORT.path, report)
    print(f"embed: {matrix.shape[0]} x {matrix.shape[1]}, {report['vocab_coverage']:.1%} of words and "
          f"{report['train_token_coverage']:.1%} of training tokens have a GloVe vector")


if __name__ == "__main__":
    main(load_params())
