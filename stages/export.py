"""Stage `export`: the learned embedding for people to look at, and a model that reads raw text.

- reports/projector/: TensorFlow Embedding Projector files, as in the TensorFlow word-embeddings tutorial:
  trained/vecs.tsv + trained/meta.tsv (one vector / one word per line, padding row left out, no header) and
  the GloVe vectors of the same vocabulary before training in glove/, with a projector_config.pbtxt, so that
  `tensorboard --logdir reports/projector` shows both spaces in the Projector tab.
- reports/neighbours.md: nearest words by cosine similarity of the probe words, in GloVe and trained space.
- models/raw_text_model.keras: the pipeline's tokenizer + padding + the trained network, used by
  `python -m stages.predict "some review"`.
- models/serving/: the same as a TensorFlow SavedModel, for TensorFlow Serving or `tf.saved_model.load`
  in a process without this project's code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from stages.lib.files import atomic_dir, read_lines, write_text
from stages.lib.keras_files import load_model, save_keras_reproducibly
from stages.lib.markdown import md_text
from stages.lib.params import load_params

MODEL, RAW_TEXT_MODEL = Path("models/model.keras"), Path("models/raw_text_model.keras")
SAVED_MODEL = Path("models/serving")
PROJECTOR, NEIGHBOURS = Path("reports/projector"), Path("reports/neighbours.md")


def write_projector_files(folder: Path, vectors: np.ndarray, words: list[str]) -> None:
    """vecs.tsv and meta.tsv; a one-column metadata file has no header line."""
    assert len(vectors) == len(words)
    np.savetxt(folder / "vecs.tsv", vectors, delimiter="\t", fmt="%.6g")
    # Tabs or newlines inside a word would break the one-word-per-line format.
    (folder / "meta.tsv").write_text("".join(w.replace("\t", " ").replace("\n", " ") + "\n" for w in words),
                                     encoding="utf-8")


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


def main(params: dict) -> None:
    from stages.lib.raw_text import export_saved_model, raw_text_model  # imports TensorFlow

    vocabulary = read_lines("data/interim/vocab.txt")
    model = load_model(MODEL)
    trained = model.get_layer("embedding").get_weights()[0][: len(vocabulary)]  # fasttext: bigram rows follow
    glove_matrix = np.load("data/processed/embedding_matrix.npy")
    # Rows of words GloVe knows (the others hold zeros or noise, see embedding.oov_init); padding and [UNK] never.
    glove_words = set(read_lines("data/raw/glove_words.txt"))
    in_glove = np.array([i >= 2 and w in glove_words for i, w in enumerate(vocabulary)])

    with atomic_dir(PROJECTOR) as tmp:
        (tmp / "trained").mkdir()
        (tmp / "glove").mkdir()
        write_projector_files(tmp / "trained", trained[1:], vocabulary[1:])  # row 0 (padding) left out
        rows = np.flatnonzero(in_glove)
        write_projector_files(tmp / "glove", glove_matrix[rows], [vocabulary[i] for i in rows])
        (tmp / "projector_config.pbtxt").write_text(projector_config({"trained": "trained", "glove": "glove"}))

    rows = np.flatnonzero(in_glove)
    spaces = {"GloVe (before training)": (glove_matrix[rows], [vocabulary[i] for i in rows]),
              f"trained ({params['train']['model']})": (trained[2:], vocabulary[2:])}
    write_text(NEIGHBOURS, neighbours_markdown(spaces, params["export"]["probe_words"], params["export"]["neighbours"]))

    serving = raw_text_model(model, vocabulary, params["maxlen"], params["pad"]["padding"], params["pad"]["truncating"])
    save_keras_reproducibly(serving, RAW_TEXT_MODEL)
    with atomic_dir(SAVED_MODEL) as tmp:
        export_saved_model(serving, tmp)
    print(f"export: {len(vocabulary) - 1} trained and {len(rows)} GloVe vectors -> {PROJECTOR}/, "
          f"raw-text model -> {RAW_TEXT_MODEL}, SavedModel -> {SAVED_MODEL}/")


if __name__ == "__main__":
    main(load_params())
