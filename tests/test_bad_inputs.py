"""Every bad input a user can bring gets a message, not a traceback: one table, through the real stage runner.

Each case breaks one thing of a tiny working project (a file, a param), runs the stages in pipeline order
until one fails, and checks: the stage that failed, a non-zero exit, a phrase of the message (naming the file,
row, column or key), no Python traceback, no temporaries left behind, and no half-written output.
"""
import bz2
import gzip
import json
import lzma
import os

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, STAGES, run_stage
from tests.handled import handled
from tests.fixtures import synthetic_reviews, tiny_glove_text, tiny_project

REVIEWS, GLOVE = "data/external/reviews.csv", "data/external/glove.txt"


def reviews_csv(change):
    """A breaker that rewrites the reviews CSV after applying `change` to its DataFrame."""
    def breaker(root, params):
        frame = pd.read_csv(root / REVIEWS, dtype=str, keep_default_na=False)
        change(frame).to_csv(root / REVIEWS, index=False)
    return breaker


def write(relpath, data, point=None):
    """A breaker that writes `data` to `relpath` (and points params key `point` at it)."""
    def breaker(root, params):
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        if point:
            params["data"]["local"][point] = relpath
    return breaker


def set_param(key, value):
    def breaker(root, params):
        node = params
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    return breaker


def with_split(test_labels=None):
    """An explicit split column: the first 60 rows are the test split (optionally with other labels)."""
    def change(frame):
        frame["split"] = ["test"] * 60 + ["train"] * (len(frame) - 60)
        if test_labels is not None:
            frame.loc[:59, "label"] = test_labels
        return frame
    return change


def stanford_refused(root, params):
    import socket
    with socket.socket() as s:  # a port nothing listens on: the connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    params["data"]["source"] = "stanford"
    params["data"]["stanford"].update(imdb_url=f"http://127.0.0.1:{port}/aclImdb_v1.tar.gz", retries=0,
                                      cache_dir=str(root / "cache"), timeout=5)


def glove_lines(transform):
    def breaker(root, params):
        (root / GLOVE).write_text(transform(tiny_glove_text()))
    return breaker


def glove_zip(root, params):
    """GloVe as Stanford ships it: a zip of one text file per dimension."""
    import zipfile

    with zipfile.ZipFile(root / "data/external/glove.6B.zip", "w") as archive:
        archive.writestr("glove.6B.50d.txt", tiny_glove_text())
        archive.writestr("glove.6B.100d.txt", "")
    params["data"]["local"]["glove"] = "data/external/glove.6B.zip"


def folder_as_reviews(root, params):
    (root / "data/external/folder.csv").mkdir()
    params["data"]["local"]["reviews"] = "data/external/folder.csv"


def reviews_as(name, make_bytes):
    """A breaker that replaces the reviews file by `name`, made from the CSV's DataFrame by make_bytes."""
    def breaker(root, params):
        frame = pd.read_csv(root / REVIEWS, dtype=str, keep_default_na=False)
        (root / "data/external" / name).write_bytes(make_bytes(frame))
        params["data"]["local"]["reviews"] = f"data/external/{name}"
    return breaker


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def jsonl_with_object_text(frame):
    lines = [json.dumps({"text": t, "label": int(y)}) for t, y in zip(frame["text"], frame["label"])]
    lines[4] = json.dumps({"text": {"body": frame["text"][4]}, "label": 1})
    return ("\n".join(lines) + "\n").encode()


def jsonl_broken(frame):
    lines = [json.dumps({"text": t, "label": int(y)}) for t, y in zip(frame["text"], frame["label"])]
    lines.insert(2, "")  # a blank line: line numbers are the file's own
    lines[9] = lines[9].replace('"label"', "label")
    return ("\n".join(lines) + "\n").encode()


def multiline_csv_bad_label(frame):
    frame = frame.assign(text=frame["text"] + "\nsecond line of the review")
    frame.loc[149, "label"] = "maybe"
    return frame.to_csv(index=False).encode()


def first_value_nan(text):
    word, _, rest = text.partition(" ")
    return word + " nan " + rest.partition(" ")[2]


CP1252 = "text,label\n" + "".join(f"\u201cGreat\u201d film number {i} \u2013 a must,{i % 2}\n" for i in range(200))
LATIN1 = "text,label\n" + "".join(f"Caf\xe9 film number {i}, d\xe9j\xe0 vu,{i % 2}\n" for i in range(200))
FEW_LETTERS = [("😀" * 12 if i % 10 == 0 else t, label) for i, (t, label) in
               enumerate(synthetic_reviews(200).itertuples(index=False))]

CASES = [
    # id, breaker, stage that must fail, phrase of its message
    ("labels pos/neg", reviews_csv(lambda f: f.assign(label=f["label"].map({"1": "pos", "0": "neg"}))),
     "download", "column 'label' must hold 0 (negative) or 1 (positive); 200 row(s) do not: row 1 (line 2)"),
    ("label 0.5", reviews_csv(lambda f: f.assign(label=["0.5"] + f["label"].tolist()[1:])),
     "download", "row 1 (line 2) hold '0.5'"),
    ("empty label", reviews_csv(lambda f: f.assign(label=f["label"].tolist()[:2] + [""] + f["label"].tolist()[3:])),
     "download", "row 3 (line 4) hold ''"),
    ("header-only CSV", write(REVIEWS, "text,label\n"), "download", "reviews.csv: no reviews, only a header"),
    ("empty file", write(REVIEWS, ""), "download", "data/external/reviews.csv: the file is empty"),
    ("Latin-1 file", write(REVIEWS, LATIN1.encode("latin-1")), "download",
     "reviews.csv, line 2: not UTF-8 text"),
    ("no text column", reviews_csv(lambda f: f.rename(columns={"text": "review"})), "download",
     "missing column(s) text; expected text, label and optional split (found: review, label)"),
    ("unclosed quote", write(REVIEWS, 'text,label\n"good film,1\nbad film,0\n'), "download",
     "reviews.csv: not a valid CSV file"),
    ("damaged parquet", write("data/external/reviews.parquet", os.urandom(2000), "reviews"), "download",
     "reviews.parquet: not a valid Parquet file"),
    ("spreadsheet", write("data/external/reviews.xlsx", b"PK\x03\x04", "reviews"), "download",
     "reviews.xlsx: expected a"),
    ("missing file", set_param("data.local.reviews", "data/external/nope.csv"), "download",
     "data.local.reviews: data/external/nope.csv does not exist"),
    ("a folder", folder_as_reviews, "download", "data.local.reviews: data/external/folder.csv is not a file"),
    ("file outside data/external", set_param("data.local.reviews", "reviews.csv"), "check_params",
     "data.local.reviews: expected a path under data/external/"),
    ("wrong param type", set_param("validation.raw.min_rows_per_split", "ten"), "check_params",
     "validation.raw.min_rows_per_split: expected an integer"),
    ("GloVe of another dimension", glove_lines(lambda t: t.replace("\n", " 0.5\n")), "download",
     "glove.txt, line 1: a word and 51 numbers, expected 50 (data.glove_dim)"),
    ("binary word2vec", write(GLOVE, b"3 50\nthe " + np.ones(50, np.float32).tobytes() + b"\n"), "download",
     "binary word2vec (.bin) files are not supported"),
    ("GloVe field not a number", glove_lines(lambda t: t.replace(" 0.", " O.", 1)), "download",
     "is not a number; expected a word then 50 numbers"),
    ("empty GloVe", write(GLOVE, ""), "download", "glove.txt: the file is empty"),
    ("truncated gzip reviews", reviews_as("reviews.csv.gz", lambda f: gzip.compress(
        f.to_csv(index=False).encode())[:1500]), "download", "reviews.csv.gz: the compressed data is damaged or cut short"),
    ("not gzip but named .gz", reviews_as("reviews.csv.gz", lambda f: b"\x1f\x8b" + os.urandom(500)), "download",
     "reviews.csv.gz: the compressed data is damaged or cut short"),
    ("JSON object as a text", reviews_as("reviews.jsonl", jsonl_with_object_text), "download",
     "column 'text' must hold text; 1 row(s) do not: row 5 (line 5) hold an object"),
    ("numbers as texts", reviews_as("reviews.parquet", lambda f: parquet_bytes(f.assign(text=np.arange(len(f)) * 1.5))),
     "download", "column 'text' must hold text; 200 row(s) do not: row 1, row 2, row 3 hold the number 0.0"),
    ("broken JSON Lines", reviews_as("reviews.jsonl", jsonl_broken), "download",
     "reviews.jsonl, line 10: not a JSON object"),
    ("multi-line texts, bad label", reviews_as("reviews.csv", multiline_csv_bad_label), "download",
     "row 150 (line 300) hold 'maybe'"),
    ("Parquet named .csv", reviews_as("reviews.csv", parquet_bytes), "download",
     "reviews.csv: this is a Parquet file, not text; give it a .parquet name"),
    ("UTF-16 CSV", reviews_as("reviews.csv", lambda f: f.to_csv(index=False).encode("utf-16")), "download",
     "reviews.csv: the text is UTF-16, not UTF-8; re-save it as UTF-8 (iconv -f UTF-16"),
    ("UTF-16 GloVe", write(GLOVE, tiny_glove_text().encode("utf-16")), "download",
     "glove.txt: the text is UTF-16, not UTF-8; re-save it as UTF-8 (iconv -f UTF-16"),
    ("truncated gzip GloVe", write("data/external/glove.txt.gz", gzip.compress(tiny_glove_text().encode())[:300],
                                   "glove"), "download", "glove.txt.gz: cannot be read"),
    ("stanford, connection refused", stanford_refused, "download", "cannot connect"),
    ("no train split", reviews_csv(lambda f: f.assign(split="test")), "validate_raw", "split train, rows 0"),
    ("test split of one class", reviews_csv(with_split(test_labels="1")), "validate_raw",
     "split test, rows 60, positive 60, negative 0"),
    ("too few rows per split", set_param("validation.raw.min_rows_per_split", 500), "validate_raw",
     "on column 'rows' {'min_value': 500"),
    ("unbalanced classes", reviews_csv(lambda f: f.assign(label=["1"] * 130 + f["label"].tolist()[130:])),
     "validate_raw", "change validation.raw.class_balance in params.yaml (now [0.4, 0.6])"),
    ("semicolon-separated CSV", reviews_as("reviews.csv", lambda f: f.to_csv(index=False, sep=";").encode()),
     "download", "reviews.csv, line 1: the header 'text;label' is separated by ';' (semicolon), not by ','"),
    ("Windows-1252 CSV", write(REVIEWS, CP1252.encode("cp1252")), "download",
     "reviews.csv, line 2: not UTF-8 text (invalid start byte at byte 1 of the line); re-save the file as UTF-8 "
     "(it looks like Windows-1252 (cp1252)"),
    ("bzip2 data named .csv", reviews_as("reviews.csv", lambda f: bz2.compress(f.to_csv(index=False).encode())),
     "download", "reviews.csv: this is bzip2-compressed data, not text; decompress it (bunzip2 -k reviews.csv)"),
    ("xz data named .jsonl", reviews_as("reviews.jsonl", lambda f: lzma.compress(f.to_json(orient="records", lines=True).encode())),
     "download", "reviews.jsonl: this is xz-compressed data, not text"),
    ("a JSON array named .jsonl", reviews_as("reviews.jsonl", lambda f: f.to_json(orient="records").encode()),
     "download", "reviews.jsonl: this is one JSON array, not JSON Lines; write one object per line"),
    ("GloVe as Stanford zips it", glove_zip, "download",
     "glove.6B.zip: this is a zip archive holding glove.6B.50d.txt, glove.6B.100d.txt, not text; unpack it"),
    ("a vector with one number too many", glove_lines(lambda t: "\n".join(
        line + " 0.25" if i == 2 else line for i, line in enumerate(t.splitlines())) + "\n"),
     "download", "glove.txt, line 3: a word and 51 numbers, expected 50 (data.glove_dim)"),
    ("NaN param", set_param("train.dropout", float("nan")), "check_params",
     "train.dropout: expected a finite number, got .nan"),
    ("infinite param", set_param("evaluate.threshold", float("inf")), "check_params",
     "evaluate.threshold: expected a finite number, got .inf"),
    ("NaN in a range param", set_param("validation.raw.class_balance", [float("nan"), 0.6]), "check_params",
     "validation.raw.class_balance[0]: expected a finite number, got .nan"),
    ("a params key given twice", lambda root, params: (lambda text: text + "seed: 7\n"), "check_params",
     "key 'seed' given twice in one mapping (lines "),
    ("unknown split value", reviews_csv(lambda f: f.assign(split=["valid"] + ["train"] * 139 + ["test"] * 60)),
     "validate_raw", "column 'split'"),
    ("blank text", reviews_csv(lambda f: f.assign(text=["   "] + f["text"].tolist()[1:])), "validate_raw",
     "column 'text_is_blank'"),
    ("same text in train and test", reviews_csv(lambda f: with_split()(f.assign(text=[f["text"][70]] + f["text"].tolist()[1:]))),
     "validate_raw", "column 'text_in_train_and_test'"),
    ("NaN in GloVe", glove_lines(first_value_nan), "download", "glove.txt, line 1: the vector of "),
    ("duplicate GloVe word", glove_lines(lambda t: t + t.splitlines()[0] + "\n"), "validate_raw",
     "expect_column_values_to_be_unique on column 'word'"),
    ("GloVe of other words", glove_lines(lambda t: "".join("x" + line + "\n" for line in t.splitlines())),
     "validate_features", "column 'vocab_coverage'"),
    ("10% of reviews without letters", write(REVIEWS, pd.DataFrame(FEW_LETTERS, columns=["text", "label"]).to_csv(index=False)),
     "validate_features", "column 'all_padding'"),
]


# The class of each case, for docs/data.md's list (tests/handled.py); test_every_case_has_a_class keeps it whole
GROUPS = {
    "A mistake in params.yaml": ["wrong param type", "NaN param", "infinite param", "NaN in a range param",
                                 "a params key given twice", "file outside data/external"],
    "Empty, missing or misplaced files": ["header-only CSV", "empty file", "missing file", "a folder", "spreadsheet",
                                          "empty GloVe"],
    "Another encoding or format than the name says": [
        "Latin-1 file", "Windows-1252 CSV", "UTF-16 CSV", "UTF-16 GloVe", "Parquet named .csv", "damaged parquet",
        "bzip2 data named .csv", "xz data named .jsonl", "a JSON array named .jsonl", "GloVe as Stanford zips it",
        "binary word2vec"],
    "Damaged compressed input": ["truncated gzip reviews", "not gzip but named .gz", "truncated gzip GloVe"],
    "Labels and columns": ["labels pos/neg", "label 0.5", "empty label", "no text column", "unclosed quote",
                           "semicolon-separated CSV", "JSON object as a text", "numbers as texts", "broken JSON Lines",
                           "multi-line texts, bad label"],
    "Word vectors that do not fit": ["GloVe of another dimension", "GloVe field not a number",
                                     "a vector with one number too many", "NaN in GloVe", "duplicate GloVe word"],
    "Data that breaks the contract": ["no train split", "test split of one class", "too few rows per split",
                                      "unbalanced classes", "unknown split value", "blank text",
                                      "same text in train and test", "GloVe of other words",
                                      "10% of reviews without letters"],
    "The network": ["stanford, connection refused"],
}
for _group, _names in GROUPS.items():
    handled(_group, *_names, module="test_bad_inputs")


def test_every_case_has_a_class():
    grouped = [name for names in GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(c[0] for c in CASES)


@pytest.fixture(scope="module")
def default_params():
    return yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.mark.parametrize("case, breaker, stage, phrase", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_message(tmp_path, default_params, case, breaker, stage, phrase):
    params = tiny_project(tmp_path, default_params, n_reviews=200)
    edit = breaker(tmp_path, params)  # a breaker may also return an edit of params.yaml's text
    text = yaml.safe_dump(params, sort_keys=False)
    (tmp_path / "params.yaml").write_text(edit(text) if callable(edit) else text)

    failed = None
    for name in STAGES:
        result = run_stage(name, tmp_path)
        output = result.stdout + result.stderr
        assert "Traceback" not in output, f"{name}:\n{output[-3000:]}"
        if result.returncode != 0:
            failed = name
            break
    assert failed == stage, f"expected {stage} to fail, got {failed}: {output[-2000:]}"
    assert phrase in result.stderr, result.stderr[-2000:]
    leftovers = [str(p) for p in tmp_path.rglob(".*.tmp")]
    assert leftovers == []
    # Nothing half-written: the failing stage's own outputs are absent (first run), reports aside.
    outputs = {"check_params": "data/params_check.json", "download": "data/raw", "validate_features": "models",
               "validate_raw": "data/interim"}
    assert not (tmp_path / outputs[stage]).exists()


@pytest.mark.parametrize("stage, missing", [("tokenize", "data/raw/reviews.parquet"),
                                            ("evaluate", "models/model.keras")])
def test_a_stage_run_by_hand_before_its_inputs_exist_says_which(tmp_path, default_params, stage, missing):
    tiny_project(tmp_path, default_params, n_reviews=200)
    result = run_stage(stage, tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{stage}: input {missing} not found; `dvc repro {stage}`" in result.stderr


def test_a_spreadsheet_csv_with_a_byte_order_mark_is_read(tmp_path):
    from stages.lib.local_files import read_local_reviews

    path = tmp_path / "reviews.csv"
    path.write_bytes("text,label\nGood film,1\n".encode("utf-8-sig"))
    assert read_local_reviews(path)["text"].tolist() == ["Good film"]
