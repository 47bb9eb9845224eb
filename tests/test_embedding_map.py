"""The picture of the learned space (stages/lib/embedding_map.py): which words, where, in which colour."""
import xml.etree.ElementTree as ET

import numpy as np

from stages.lib.embedding_map import DESCENT, ORIENTATION, choose_words, colour, map_svg, text_width, tsne_2d
from tests.conftest import REPO

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
    lists = {"w0": (["w1", "w2"], ["w2", "<b>&'"]), "w30": (["w5", "w6"], ["w5", "w6"])}
    svg = map_svg(spaces, words, sentiment, probes=["w0", "w30"], seed=3, lists=lists)
    assert svg == map_svg(spaces, words, sentiment, probes=["w0", "w30"], seed=3, lists=lists)  # same bytes
    root = ET.fromstring(svg)  # well-formed: a hostile word is text, not markup
    labels = {t.text: t.attrib for t in root.iter(f"{SVG}text") if "text-anchor" in t.attrib}
    assert {"GloVe", "trained"} <= {t.text for t in root.iter(f"{SVG}text")} and "w0" in labels  # w30: no such word
    assert labels["w0"].get("font-weight") == "bold" and "font-weight" not in labels.get("w1", {})
    assert labels["w0"]["fill"] == colour(0) == "#b2182b" and colour(1) == "#2166ac" and colour(0.5) == "#787878"
    fills = {c.attrib["fill"] for c in root.iter(f"{SVG}circle")}
    assert ORIENTATION in fills and colour(1) in fills  # "<b>&'" (a neighbour): coloured; w20 (frequent): grey
    assert all(t["fill"] == ORIENTATION for w, t in labels.items() if w in ("w20", "w25"))
    assert len(list(root.iter(f"{SVG}circle"))) == 2 * len(words)  # a dot per word in each panel
    rows = [t for t in root.iter(f"{SVG}text") if t.find(f"{SVG}tspan") is not None]  # w0's trained neighbours
    assert [s.text for s in rows[0].iter(f"{SVG}tspan")] == ["<b>&'"]  # new after training: bold; w2 was there
    assert covered_dots(svg) == []


def covered_dots(svg: str) -> list[tuple[str, float, float]]:
    """(label, dot x, dot y) for every map label whose box (DejaVu Sans' widths) meets a dot of the map."""
    root = ET.fromstring(svg)
    dots = [(float(c.attrib["cx"]), float(c.attrib["cy"]), float(c.attrib["r"])) for c in root.iter(f"{SVG}circle")]
    out = []
    for t in root.iter(f"{SVG}text"):
        if "text-anchor" not in t.attrib or t.attrib.get("class") == "title" or "font-size" not in t.attrib:
            continue
        x, y, size = float(t.attrib["x"]), float(t.attrib["y"]), float(t.attrib["font-size"])
        w = text_width(t.text, size)
        x0 = {"start": x, "end": x - w, "middle": x - w / 2}[t.attrib["text-anchor"]]
        out += [(t.text, cx, cy) for cx, cy, r in dots if x0 < cx + r and cx - r < x0 + w and y - size < cy + r
                and cy - r < y + DESCENT * size]
    return out


def test_no_label_of_the_committed_map_covers_a_dot():
    svg = (REPO / "reports/embedding_map.svg").read_text(encoding="utf-8")
    assert len(ET.fromstring(svg).findall(f"{SVG}circle")) > 100
    assert covered_dots(svg) == []


def test_a_vocabulary_of_two_words_still_gets_a_picture():
    svg = map_svg({"a": space(2), "b": space(2)}, ["x", "y"], np.array([0.2, 0.8]), [], seed=1)
    assert ET.fromstring(svg) is not None and ">x</text>" in svg
