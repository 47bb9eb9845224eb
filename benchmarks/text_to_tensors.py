"""Benchmark: the pipeline's text-to-tensor code against the tutorials' code, side by side in one run.

    make bench          # or: python -m benchmarks.text_to_tensors [--skip-adapt]

On the 25,000 IMDB reviews of the default source (vocabulary 20,000, maxlen 200) it times:
1. tokenize + pad: ours (Arrow + NumPy) vs the legacy Keras Tokenizer + pad_sequences (tf_keras, the
   tutorials' API) vs Keras 3 TextVectorization adapted and called on a NumPy array of strings;
2. the embedding matrix from the 400,000 x 50 GloVe vectors: ours (one hash lookup) vs the tutorials' loop;
3. parsing a 400,000-line GloVe text file: ours (Arrow CSV) vs the tutorials' per-line Python loop.
Each line prints the best of three runs (one for the slow adapt baseline) in seconds, and the ratio
against its baseline measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from stages.download import from_pypi
from stages.embed import build_matrix
from stages.lib.glove import read_glove_text
from stages.lib.params import check_params
from stages.pad import pad_ragged
from stages.tokenize import tokenize_splits

VOCAB, MAXLEN = 20_000, 200


def timed(fn, repeat: int = 3):
    """Best of `repeat` runs (the usual way to time on a shared, noisy machine) and the last result."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def ours_tokenize_pad(train: pd.DataFrame, test: pd.DataFrame):
    empty = pd.DataFrame({"text": pd.Series([], dtype=str), "label": pd.Series([], dtype=int)})
    vocabulary, ragged = tokenize_splits({"train": train, "test": test, "ood": empty}, VOCAB)
    return [pad_ragged(*ragged[s], MAXLEN) for s in ("train", "test")]


def legacy_tokenizer_pad(train: pd.DataFrame, test: pd.DataFrame):
    from tf_keras.preprocessing.sequence import pad_sequences
    from tf_keras.preprocessing.text import Tokenizer

    tokenizer = Tokenizer(num_words=VOCAB, oov_token="[UNK]")
    tokenizer.fit_on_texts(train["text"].tolist())
    return [pad_sequences(tokenizer.texts_to_sequences(df["text"].tolist()), maxlen=MAXLEN, padding="post",
                          truncating="post") for df in (train, test)]


def textvectorization_on_numpy(train: pd.DataFrame, test: pd.DataFrame):
    import keras

    layer = keras.layers.TextVectorization(max_tokens=VOCAB, output_sequence_length=MAXLEN)
    layer.adapt(train["text"].to_numpy(dtype=object))
    return [np.asarray(layer(df["text"].to_numpy(dtype=object))) for df in (train, test)]


def tutorial_matrix(vocabulary: list[str], words: list[str], vectors: np.ndarray) -> np.ndarray:
    """As in the Keras pre-trained embeddings example: a dict of all vectors, then a loop over the vocabulary."""
    embeddings_index = dict(zip(words, vectors))
    matrix = np.zeros((len(vocabulary), vectors.shape[1]))
    for i, word in enumerate(vocabulary):
        vector = embeddings_index.get(word)
        if vector is not None:
            matrix[i] = vector
    return matrix


def tutorial_parse(path: Path) -> dict:
    """The tutorials' per-line loop over a GloVe text file."""
    embeddings_index = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            word, coefs = line.split(maxsplit=1)
            embeddings_index[word] = np.fromstring(coefs, "f", sep=" ")
    return embeddings_index


def write_glove_text(path: Path, words: list[str], vectors: np.ndarray) -> None:
    body = pd.DataFrame(vectors).to_csv(sep=" ", header=False, index=False, float_format="%.6g").split("\n")
    path.write_text("".join(f"{w} {line}\n" for w, line in zip(words, body)), encoding="utf-8")


REPORT = Path("reports/text_to_tensors.json")
ROWS: list[dict] = []  # what this run printed, for REPORT


def line(row: dict) -> str:
    return (f"  {row['ours']:<44} {row['ours_seconds']:7.2f} s   {row['baseline']:<46} {row['baseline_seconds']:7.2f} s"
            f"   ratio {row['baseline_seconds'] / row['ours_seconds']:6.1f}x")


def report(name: str, ours: float, baseline: float, baseline_name: str, task: str = "") -> None:
    ROWS.append({"task": task, "ours": name, "ours_seconds": round(ours, 2), "baseline": baseline_name,
                 "baseline_seconds": round(baseline, 2)})
    print(line(ROWS[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-adapt", action="store_true", help="skip the slow TextVectorization-on-NumPy baseline")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    params = check_params(yaml.safe_load(Path("params.yaml").read_text()))
    reviews, _, words, vectors, _ = from_pypi(params)
    train, test = reviews[reviews["split"] == "train"], reviews[reviews["split"] == "test"]
    header = (f"{len(reviews)} reviews ({len(train)} train), vocabulary {VOCAB}, maxlen {MAXLEN}, "
              f"GloVe {vectors.shape[0]} x {vectors.shape[1]}, {os.cpu_count()} cores")
    print(header)

    print("1. tokenize + pad")
    ours, (x_train, _) = timed(lambda: ours_tokenize_pad(train, test))
    legacy, (legacy_train, _) = timed(lambda: legacy_tokenizer_pad(train, test))
    report("ours (Arrow + NumPy)", ours, legacy, "legacy Keras Tokenizer + pad_sequences", "1. tokenize + pad")
    if not args.skip_adapt:
        adapt, _ = timed(lambda: textvectorization_on_numpy(train, test), repeat=1)
        report("ours (Arrow + NumPy)", ours, adapt, "TextVectorization adapt + call on NumPy", "1. tokenize + pad")
    assert x_train.shape == legacy_train.shape == (len(train), MAXLEN)

    print("2. embedding matrix from loaded vectors")
    vocabulary = ["", "[UNK]"] + pd.Series(words[:VOCAB * 2]).sample(VOCAB - 2, random_state=0).tolist()
    ours, (matrix, _) = timed(lambda: build_matrix(vocabulary, words, vectors, "zeros", 0))
    tutorial, reference = timed(lambda: tutorial_matrix(vocabulary, words, vectors))
    assert np.array_equal(matrix, reference.astype(np.float32))
    report("ours (pandas Index lookup)", ours, tutorial, "tutorial dict + loop", "2. embedding matrix from loaded vectors")

    print("3. parse a 400,000-line GloVe text file")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "glove.6B.50d.txt"
        write_glove_text(path, words, vectors)
        ours, (parsed_words, parsed) = timed(lambda: read_glove_text(path, 50))
        tutorial, index = timed(lambda: tutorial_parse(path))
        assert parsed_words == words and np.allclose(parsed, vectors, atol=1e-5)
        assert len(index) == len(set(words))
    report("ours (Arrow CSV reader)", ours, tutorial, "tutorial per-line loop", "3. parse a 400,000-line GloVe text file")
    REPORT.write_text(json.dumps({"command": "make bench", "header": header, "rows": ROWS}, indent=2) + "\n")


if __name__ == "__main__":
    main()
