"""Small inputs in the official layouts, built by the tests themselves."""
from __future__ import annotations

import io
import os
import tarfile
import zipfile

import numpy as np

POSITIVE = ["A wonderful film.<br /><br />Great acting and a moving story!", "Excellent, loved it; would watch again.",
            "Brilliant and funny, the best movie this year.", "Superb direction, great cast, wonderful score."]
NEGATIVE = ["An awful, boring film.<br />Terrible acting.", "The worst movie I have seen; a waste of time.",
            "Dull and stupid, bad script and bad acting.", "Boring plot, poor dialogue; awful ending."]


def tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def imdb_archive() -> bytes:
    """aclImdb_v1 layout: {train,test}/{pos,neg}/<id>_<rating>.txt, plus unsup/ and a url file to ignore."""
    files = {"aclImdb/README": b"readme", "aclImdb/train/unsup/0_0.txt": b"unlabelled", "aclImdb/train/urls_pos.txt": b"x"}
    for split, offset in (("train", 0), ("test", 2)):
        for i in range(2):
            files[f"aclImdb/{split}/pos/{i}_{9 - i}.txt"] = POSITIVE[offset + i].encode()
            files[f"aclImdb/{split}/neg/{i}_{1 + i}.txt"] = NEGATIVE[offset + i].encode()
    return tar_gz(files)


GLOVE_WORDS = ["the", "film", "great", "awful", "wonderful", "boring", "movie", "acting", '"', "#", "null", "nan"]


def glove_text(dim: int, seed: int = 0) -> tuple[bytes, np.ndarray]:
    vectors = np.random.default_rng(seed).normal(size=(len(GLOVE_WORDS), dim)).astype(np.float32).round(4)
    lines = [w + " " + " ".join(repr(float(x)) for x in row) for w, row in zip(GLOVE_WORDS, vectors)]
    return ("\n".join(lines) + "\n").encode(), vectors


def glove_archive(dims=(50, 100)) -> bytes:
    return zip_bytes({f"glove.6B.{d}d.txt": glove_text(d, seed=d)[0] for d in dims})


NEUTRAL = "the a of and to is in it this that was as with for movie film story plot actor scene time".split()
GOOD = "great excellent wonderful superb brilliant loved best moving beautiful".split()
BAD = "awful boring terrible worst waste dull stupid poor bad".split()


# Reviews without a letter or digit: no token survives the tokenizer, so their padded rows are all padding.
NO_LETTERS = ["😀😍🎬🍿👍😀😍🎬🍿👍", "!!! ??? ... !!! ???", "<br /><br /><br />", "☆☆☆☆☆ ★★★★★ ☆☆☆"]


def synthetic_reviews(n: int, seed: int = 0):
    """n labelled reviews whose sentiment words carry the label; lengths vary from 5 to 60 words.
    One review in a hundred (the 51st, 151st, ...) has no letter or digit at all."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        length = int(rng.integers(5, 60))
        words = list(rng.choice(NEUTRAL, size=length))
        for pos in rng.integers(0, length, size=max(1, length // 6)):
            words[pos] = rng.choice(GOOD if label else BAD)
        text = " ".join(words).capitalize() + (". <br /><br />" if i % 3 == 0 else "!")
        rows.append((f"{text} #{i}", label))  # the number keeps texts unique
        if i % 100 == 50:
            rows[-1] = (NO_LETTERS[(i // 100) % len(NO_LETTERS)], label)
    return pd.DataFrame(rows, columns=["text", "label"])


def tiny_glove_text() -> str:
    """50-dimensional vectors for most words of synthetic_reviews."""
    words = NEUTRAL + GOOD + BAD[:-2] + ["unused"]  # two words without a vector, for OOV handling
    vectors = np.random.default_rng(1).normal(0, 0.5, size=(len(words), 50)).round(5)
    return "".join(w + " " + " ".join(map(str, v)) + "\n" for w, v in zip(words, vectors))


def tiny_project(root, params: dict, n_reviews: int = 400) -> dict:
    """A scratch project using the local source: reviews CSV and a GloVe file covering most of its words."""
    import yaml

    external = root / "data/external"
    external.mkdir(parents=True, exist_ok=True)
    synthetic_reviews(n_reviews).to_csv(external / "reviews.csv", index=False)
    (external / "glove.txt").write_text(tiny_glove_text())
    params = yaml.safe_load(yaml.safe_dump(params))  # a deep copy
    params["data"].update(source="local", local={"reviews": "data/external/reviews.csv",
                                                 "glove": "data/external/glove.txt"})
    params["tokenize"]["vocab_size"] = 60
    params["maxlen"] = 40
    params["validation"]["features"].update(min_glove_coverage=0.5, max_all_padding_share=0.05)  # 4 of 400 reviews have no letter; all might be in test
    params["train"].update(epochs=3, batch_size=16, bigram_buckets=500, ngram_buckets=5000, learning_rate=0.01)
    params["export"]["probe_words"] = ["great", "awful", "notaword"]
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder that `build(folder)` makes once per test session, copied for each pytest-xdist worker: the first
    worker to ask builds it under a lock in the session's shared temporary folder, the others wait and copy it
    (a whole tiny pipeline costs a minute of CPU; each worker building its own cost one per worker)."""
    import fcntl
    import shutil

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    source, done = shared / f"shared-{name}", shared / f"shared-{name}.built"
    with open(shared / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also when build fails
        if not done.exists():
            shutil.rmtree(source, ignore_errors=True)  # a build that failed half-way
            source.mkdir()
            build(source)
            done.touch()
    target = tmp_path_factory.mktemp(name)
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    return target
