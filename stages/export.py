"""Stage `export`: the learned embedding for people to look at, and a model that reads raw text.

- reports/projector/: TensorFlow Embedding Projector files, as in the TensorFlow word-embeddings tutorial:
  trained/vecs.tsv + trained/meta.tsv (one vector per line, padding row left out; the metadata with a header
  row: word, the model's sentiment for the word, its count in the training reviews and its band, to colour and
  filter by) and the GloVe vectors of the same vocabulary before training in glove/, with a
  projector_config.pbtxt, so that `tensorboard --logdir reports/projector` shows both spaces in the Projector tab.
- reports/neighbours.md: nearest words by cosine similarity of the probe words, in GloVe and trained space.
- reports/embedding_map.svg: a t-SNE map of the frequent words and the probe words with their neighbours, GloVe
  beside trained, coloured by the model's sentiment for each word (stages/lib/embedding_map.py).
- models/raw_text_model.keras: the pipeline's tokenizer + padding + the trained network, used by
  `python -m stages.predict "some review"`; reports/predict_examples.tsv: what that command prints for the
  texts of `export.examples` (the README shows it, so the example there is always this model's).
- models/serving/: the same as a TensorFlow SavedModel, for TensorFlow Serving or `tf.saved_model.load`
  in a process without this project's code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from stages.lib import catalog
from stages.lib.embedding_map import choose_words, map_svg
from stages.lib.files import atomic_dir, read_lines, write_text
from stages.lib.keras_files import load_model, save_keras_reproducibly
from stages.lib.markdown import md_text
from stages.lib.params import load_params
from stages.lib.progress import QUIET
from stages.lib.scores import DEFAULT_THRESHOLD, format_rows, header, score, score_batch, with_known_words

READS = (catalog.VOCABULARY, catalog.MODEL, catalog.EMBEDDING_MATRIX, catalog.GLOVE_WORDS, catalog.TOKEN_IDS)
WRITES = (catalog.PROJECTOR, catalog.NEIGHBOURS, catalog.RAW_TEXT_MODEL, catalog.SAVED_MODEL, catalog.EMBEDDING_MAP,
          catalog.PREDICT_EXAMPLES)
ENGINE = False
MODEL, RAW_TEXT_MODEL, SAVED_MODEL = catalog.MODEL.path, catalog.RAW_TEXT_MODEL.path, catalog.SAVED_MODEL.path
PROJECTOR, NEIGHBOURS, EMBEDDING_MAP = catalog.PROJECTOR.path, catalog.NEIGHBOURS.path, catalog.EMBEDDING_MAP.path
MAP_FREQUENT_WORDS = 40  # besides the probe words and their neighbours


def write_projector_files(folder: Path, vectors: np.ndarray, metadata: dict[str, list]) -> None:
    """vecs.tsv, and meta.tsv with a header row and a column per metadata key (the word first): the Projector
    colours and filters points by these columns."""
    assert all(len(column) == len(vectors) for column in metadata.values())
    np.savetxt(folder / "vecs.tsv", vectors, delimiter="\t", fmt="%.6g")

    def line(row) -> str:  # tabs or newlines inside a word would break the one-row-per-line format
        return "\t".join(str(v).replace("\t", " ").replace("\n", " ") for v in row) + "\n"

    rows = [metadata, *zip(*metadata.values())]  # the header (the keys), then a row per vector
    (folder / "meta.tsv").write_text("".join(map(line, rows)), encoding="utf-8")


def word_metadata(vocabulary: list[str], rows, sentiment: np.ndarray, counts: np.ndarray) -> dict[str, list]:
    """The Projector's columns for the words of `rows`: the word, the model's P(positive) for a review that is
    only the word, how often it occurs in the training reviews, and that as a band of ten (to colour by)."""
    bands = np.minimum(np.floor(np.log10(np.maximum(counts[rows], 1))), 5).astype(int)
    return {"word": [vocabulary[i] for i in rows], "sentiment": [f"{x:.3f}" for x in sentiment[rows]],
            "count": [int(c) for c in counts[rows]], "count_band": [f"1e{b}+" for b in bands]}


def projector_config(spaces: dict[str, str]) -> str:
    return "".join(f'embeddings {{\n  tensor_name: "{name}"\n  tensor_path: "{folder}/vecs.tsv"\n'
                   f'  metadata_path: "{folder}/meta.tsv"\n}}\n' for name, folder in spaces.items())


def nearest(vectors: np.ndarray, words: list[str], probe: str, k: int) -> list[tuple[str, float]] | None:
    """The k words closest to `probe` by cosine similarity (None when `probe` is not among `words`)."""
    if probe not in words:
        return None
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms == 0, 1, norms)[:, None]
    i = words.index(probe)
    similarity = unit @ unit[i]
    similarity[i] = -np.inf
    best = np.argsort(-similarity, kind="stable")[:k]
    return [(words[j], float(similarity[j])) for j in best]


def neighbours_markdown(spaces: dict[str, tuple[np.ndarray, list[str]]], probes: list[str], k: int) -> str:
    lines = ["# Nearest neighbours by cosine similarity", ""]
    for probe in probes:
        lines += [f"## {md_text(probe)}", "", "| " + " | ".join(map(md_text, spaces)) + " |",
                  "|" + " --- |" * len(spaces)]
        columns = [nearest(v, w, probe, k) for v, w in spaces.values()]
        if all(c is None for c in columns):
            lines += ["| " + " | ".join("not in the vocabulary" for _ in spaces) + " |", ""]
            continue
        for r in range(k):
            cells = ["(not in this space)" if c is None else "" if r >= len(c) else f"{md_text(c[r][0])} ({c[r][1]:.3f})"
                     for c in columns]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def word_sentiment(model, serving, vocabulary: list[str], name: str) -> np.ndarray:
    """P(positive) of a review that is only the word, for each word of the vocabulary. A model that masks padding
    (models.MASKED) gives the same for the word's id alone as for the word's review padded to maxlen, which is
    maxlen times the work (4.7 s against 0.25 s for 50,000 words at maxlen 800); the others read the padding too,
    and score each word as the raw-text model does."""
    from stages.lib.models import MASKED  # imports TensorFlow

    if name not in MASKED:
        return score(with_known_words(serving), vocabulary, 4096)
    p = np.asarray(model(np.arange(len(vocabulary), dtype=np.int32)[:, None], training=False))[:, 0]
    if not np.isfinite(p).all():
        raise SystemExit("export: the model gives a non-finite probability; it is broken, re-train it with `dvc repro`")
    return p


def main(params: dict, step=QUIET) -> None:
    step.expect(8)
    step("importing TensorFlow, loading the model")
    from stages.lib.raw_text import export_saved_model, raw_text_model  # imports TensorFlow

    vocabulary = read_lines(catalog.VOCABULARY.path)
    model = load_model(MODEL)
    trained = model.get_layer("embedding").get_weights()[0][: len(vocabulary)]  # fasttext: bigram rows follow
    glove_matrix = np.load(catalog.EMBEDDING_MATRIX.path)
    # Rows of words GloVe knows (the others hold zeros or noise, see embedding.oov_init); padding, [UNK] never.
    glove_words = set(read_lines(catalog.GLOVE_WORDS.path))
    in_glove = np.array([i >= 2 and w in glove_words for i, w in enumerate(vocabulary)])
    rows = np.flatnonzero(in_glove)

    step("finding nearest neighbours")
    spaces = {"GloVe (before training)": (glove_matrix[rows], [vocabulary[i] for i in rows]),
              f"trained ({params['train']['model']})": (trained[2:], vocabulary[2:])}
    probes, k = params["export"]["probe_words"], params["export"]["neighbours"]
    write_text(NEIGHBOURS, neighbours_markdown(spaces, probes, k))

    step("building the raw-text model")
    serving = raw_text_model(model, vocabulary, params["maxlen"], params["pad"]["padding"],
                             params["pad"]["truncating"])
    step(f"saving {RAW_TEXT_MODEL}")
    save_keras_reproducibly(serving, RAW_TEXT_MODEL)
    step(f"writing the SavedModel {SAVED_MODEL}/")
    with atomic_dir(SAVED_MODEL) as tmp:
        export_saved_model(serving, tmp)
    # After the saves: calling the model traces functions that would then be saved too, changing their bytes.
    step("writing the Projector files")
    sentiment = word_sentiment(model, serving, vocabulary, params["train"]["model"])
    counts = np.bincount(np.load(catalog.TOKEN_IDS.of("train")), minlength=len(vocabulary))
    with atomic_dir(PROJECTOR) as tmp:
        (tmp / "trained").mkdir()
        (tmp / "glove").mkdir()
        everything = np.arange(1, len(vocabulary))  # row 0 (padding) left out
        write_projector_files(tmp / "trained", trained[1:], word_metadata(vocabulary, everything, sentiment, counts))
        write_projector_files(tmp / "glove", glove_matrix[rows], word_metadata(vocabulary, rows, sentiment, counts))
        (tmp / "projector_config.pbtxt").write_text(projector_config({"trained": "trained", "glove": "glove"}))
    step(f"scoring the examples -> {catalog.PREDICT_EXAMPLES.path}")
    examples = params["export"]["examples"]
    p, unknown = score_batch(with_known_words(serving), examples)
    write_text(catalog.PREDICT_EXAMPLES.path, header(False) + format_rows(1, examples, p, unknown, DEFAULT_THRESHOLD,
                                                                           "tsv"))
    step("drawing the embedding map (t-SNE)")
    words = [vocabulary[i] for i in rows]
    drawn = choose_words(trained[rows], words, probes, k, MAP_FREQUENT_WORDS)
    drawn_words = [words[i] for i in drawn]
    lists = {probe: tuple([word for word, _ in nearest(v, w, probe, k) or []] for v, w in spaces.values())
             for probe in probes}
    write_text(EMBEDDING_MAP, map_svg({"Before training: GloVe": glove_matrix[rows][drawn],
                                       "After training": trained[rows][drawn]},
                                      drawn_words, sentiment[rows[drawn]], probes, params["seed"], lists))
    print(f"export: {len(vocabulary) - 1} trained and {len(rows)} GloVe vectors -> {PROJECTOR}/, "
          f"map of {len(drawn)} words -> {EMBEDDING_MAP}, raw-text model -> {RAW_TEXT_MODEL}, "
          f"SavedModel -> {SAVED_MODEL}/")


if __name__ == "__main__":
    main(load_params())
