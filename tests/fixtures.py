"""Small inputs in the official layouts, built by the tests themselves."""
from __future__ import annotations

import io
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
