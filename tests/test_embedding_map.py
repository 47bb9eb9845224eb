"""The picture of the learned space (stages/lib/embedding_map.py): which words, where, in which colour."""
import xml.etree.ElementTree as ET

import numpy as np

from stages.lib.embedding_map import choose_words, colour, map_svg, tsne_2d

SVG = "{http://www.w3.org/2000/svg}"


def space(n: int = 60, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim))


def test_probes_come_first_then_their_neighbours_then_the_frequent_words():
    vectors = space()
    vectors[10] = vectors[3] * 2 + 0.01  # word 10 is word 3's nearest neighbour by cosine
    words = [f"w{i}" for i in range(60)]
    chosen = choose_words(vectors, words, ["w3", "absent"], neighbours=2, frequent=5)
    assert chosen[:2] == [3, 10] and len(chosen) == len(set(chosen))
    assert chosen[3:] == [0, 1, 2, 4]  # the five most frequent rows, w3 already drawn


def test_the_layout_is_the_same_every_run():
    vectors = space()
    first, second = tsne_2d(vectors, seed=42), tsne_2d(vectors, seed=42)
    assert first.shape == (60, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, second)


def test_the_picture_labels_the_words_and_colours_them_by_sentiment():
    words = [f"w{i}" for i in range(30)] + ["<b>&'"]
    sentiment = np.linspace(0, 1, 31)
    spaces = {"GloVe": space(31, seed=1), "trained": space(31, seed=2)}
    svg = map_svg(spaces, words, sentiment, probes=["w0", "w30"], seed=3)
    assert svg == map_svg(spaces, words, sentiment, probes=["w0", "w30"], seed=3)  # same bytes
    root = ET.fromstring(svg)  # well-formed: a hostile word is text, not markup
    texts = {t.text: t.attrib for t in root.iter(f"{SVG}text")}
    assert {"GloVe", "trained", "<b>&'"} <= set(texts)
    assert texts["w0"].get("font-weight") == "bold" and "font-weight" not in texts["w1"]
    assert texts["w0"]["fill"] == colour(0) == "#b2182b" and texts["<b>&'"]["fill"] == colour(1) == "#2166ac"
    assert colour(0.5) == "#787878"
    assert len(list(root.iter(f"{SVG}circle"))) == 2 * len(words)  # a dot per word in each panel


def test_a_vocabulary_of_two_words_still_gets_a_picture():
    svg = map_svg({"a": space(2), "b": space(2)}, ["x", "y"], np.array([0.2, 0.8]), [], seed=1)
    assert ET.fromstring(svg) is not None and ">x</text>" in svg
