"""Word vectors in the text formats people have: GloVe, word2vec/fastText .vec, trailing spaces, words with
spaces, gzip, Windows line ends; and a message with the line number for everything else."""
import gzip

import numpy as np
import pytest

from stages.lib.glove import GloveFormatError, read_glove_text

VECTORS = np.array([[0.418, 0.24968, -0.41242], [1.5, -2.0, 3e-3], [0.0, 1.0, -1.0]], dtype=np.float32)


def lines(words, header=False, trailing="", end="\n"):
    body = "".join(f"{w} {' '.join(repr(float(x)) for x in v)}{trailing}{end}" for w, v in zip(words, VECTORS))
    return (f"{len(words)} 3{end}" if header else "") + body


@pytest.mark.parametrize("name, text, words", [
    ("glove", lines(["the", ",", "1990"]), ["the", ",", "1990"]),
    ("word2vec header", lines(["the", "film", "</s>"], header=True), ["the", "film", "</s>"]),
    ("fastText .vec", lines(["the", "film", "a"], header=True, trailing=" "), ["the", "film", "a"]),
    ("words with spaces", lines([". . .", "the", "new york"]), [". . .", "the", "new york"]),
    ("quotes and hashes", lines(['"', "#", "null"]), ['"', "#", "null"]),
    ("windows line ends", lines(["the", "film", "a"], end="\r\n"), ["the", "film", "a"]),
    ("blank lines", lines(["the", "film", "a"]) + "\n\n", ["the", "film", "a"]),
])
def test_formats_people_have(tmp_path, name, text, words):
    for path, data in ((tmp_path / "v.txt", text.encode()), (tmp_path / "v.anything", gzip.compress(text.encode()))):
        path.write_bytes(data)
        got_words, got = read_glove_text(path, 3)
        assert got_words == words, name
        np.testing.assert_array_equal(got, VECTORS)
        assert got.dtype == np.float32


def test_a_large_file_reads_the_same_through_both_paths(tmp_path):
    """Plain GloVe takes the CSV reader; the same lines with a header take the block reader."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20_000, 50)).astype(np.float32).round(5)
    words = [f"w{i}" for i in range(len(vectors))]
    body = "".join(w + " " + " ".join(f"{x:.5f}" for x in v) + "\n" for w, v in zip(words, vectors))
    (tmp_path / "plain.txt").write_text(body)
    (tmp_path / "header.vec").write_text(f"{len(words)} 50\n" + body.replace("\n", " \n"))
    for name in ("plain.txt", "header.vec"):
        got_words, got = read_glove_text(tmp_path / name, 50)
        assert got_words == words
        np.testing.assert_allclose(got, vectors, atol=1e-5)


@pytest.mark.parametrize("name, data, phrase", [
    ("smaller dimension", "the 1 2\nfilm 3 4\n", "line 1: 2 numbers after the word, expected 3"),
    ("one short line", "the 1 2 3\nfilm 1 2\na 1 2 3\n", "line 2: 2 numbers after the word, expected 3"),
    ("larger dimension", "the 1 2 3 4\nfilm 1 2 3 4\n", "line 1: a word and 4 numbers, expected 3"),
    ("header of another dimension", "2 300\nthe 1 2 3\n", "line 1: the header says 300 dimensions"),
    ("not a number", "the 1 2 3\nfilm 1 x 3\n", "line 2: field 'x' is not a number"),
    ("latin-1", "the 1 2 3\ncaf\xe9 1 2 3\n".encode("latin-1"), "line 2: not UTF-8 text"),
    ("binary word2vec", b"2 3\nthe " + np.ones(3, np.float32).tobytes() + b"\nfilm " + VECTORS[1].tobytes(),
     "binary word2vec (.bin) files are not supported"),
    ("no vectors", "\n\n", "no vectors found"),
    ("broken gzip", gzip.compress(b"the 1 2 3\n" * 1000, mtime=0)[:60], "cannot be read"),
])
def test_bad_files_name_the_line(tmp_path, name, data, phrase):
    path = tmp_path / "v.txt"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    with pytest.raises(GloveFormatError) as err:
        read_glove_text(path, 3)
    assert str(path) in str(err.value) and phrase in str(err.value), (name, str(err.value))
