"""`python -m stages.predict` as people use it (arguments, files, standard input) and the SavedModel for serving."""
import gzip
import json
import os
import re
import select
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, TF_LOG_NOISE

ENV = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}  # no TF_* variables: predict must be quiet by itself
NO_WORD = ["", "!!!", "😀😍🎬", "<br /><br />", "zzqx qqzx"]  # the last: words the vocabulary does not know


def predict(root, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "stages.predict", *args], cwd=root, capture_output=True,
                          env=ENV, input=stdin)


def tsv_rows(out: bytes) -> pd.DataFrame:
    lines = out.decode().splitlines()
    assert lines[0] == "row\tprobability\tlabel\tno_known_word\ttext"
    return pd.DataFrame([line.split("\t", 4) for line in lines[1:]], columns=lines[0].split("\t"))


def test_arguments_give_finite_probabilities_and_flag_reviews_without_known_words(tiny):
    root, _ = tiny
    out = predict(root, "great wonderful superb", "awful boring dull", *NO_WORD)
    assert out.returncode == 0, out.stderr.decode()
    # which model scored, and nothing else: no TensorFlow/absl log lines, no warnings
    assert out.stderr.decode().splitlines() == ["predict: loading TensorFlow and models/raw_text_model.keras",
                                                "predict: scoring with models/raw_text_model.keras"]
    rows = tsv_rows(out.stdout)
    judged = rows[rows["text"].str.strip() != ""]
    p = judged["probability"].astype(float).to_numpy()
    assert len(rows) == 2 + len(NO_WORD) and np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert p[0] > 0.5 > p[1]
    assert rows["label"].tolist()[:2] == ["positive", "negative"]
    assert rows.loc[2, ["probability", "label"]].tolist() == ["", "no text"]  # "" gets no judgement
    assert rows["no_known_word"].tolist() == ["false", "false"] + ["true"] * len(NO_WORD)
    assert rows["row"].tolist() == [str(i) for i in range(1, len(rows) + 1)]


def test_the_examples_export_writes_are_what_predict_prints(tiny):
    """reports/predict_examples.tsv (shown in the README as predict's output) against the command itself; the
    README block is checked against the report by tests/test_readme.py."""
    root, params = tiny
    result = predict(root, *params["export"]["examples"])
    assert result.returncode == 0, result.stderr[-2000:]
    shown = (root / "reports/predict_examples.tsv").read_bytes()
    assert result.stdout == shown and len(shown.splitlines()) == 1 + len(params["export"]["examples"])
    stderr = result.stderr.decode().splitlines()
    assert stderr[0] == "predict: loading TensorFlow and models/raw_text_model.keras"
    assert stderr[1].startswith("predict: scoring with models/raw_text_model.keras")


@pytest.mark.parametrize("name", ["reviews.txt", "reviews.csv", "reviews.tsv", "reviews.parquet", "reviews.jsonl",
                                  "reviews.txt.gz", "reviews.csv.gz"])
def test_files_of_every_format_score_like_arguments(tiny, tmp_path, name):
    root, _ = tiny
    texts = ["great wonderful film", "awful, boring; a waste", "", "a \"quoted\", review with commas"]
    path = tmp_path / name
    frame = pd.DataFrame({"id": range(len(texts)), "text": texts})
    if name.endswith(".txt"):
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    elif name.endswith(".txt.gz"):
        path.write_bytes(gzip.compress(("\n".join(texts) + "\n").encode()))
    elif ".csv" in name:
        frame.to_csv(path, index=False)
    elif name.endswith(".tsv"):
        frame.to_csv(path, sep="\t", index=False)
    elif name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    from_file = predict(root, "--file", str(path), "--format", "jsonl", "--batch-size", "3")
    assert from_file.returncode == 0, from_file.stderr.decode()
    records = [json.loads(line) for line in from_file.stdout.decode().splitlines()]
    assert [r["text"] for r in records] == texts and [r["row"] for r in records] == [1, 2, 3, 4]
    from_args = tsv_rows(predict(root, *texts).stdout)
    judged = [0, 1, 3]  # the empty review gets no probability and the label "no text", from a file or not
    np.testing.assert_allclose([records[i]["probability"] for i in judged],
                               from_args["probability"].iloc[judged].astype(float), atol=1e-4)
    assert records[2]["probability"] is None and records[2]["label"] == from_args["label"][2] == "no text"
    assert [r["no_known_word"] for r in records] == [False, False, True, False]


def test_standard_input_is_streamed_batch_by_batch(tiny):
    """The first batch is scored and written while standard input is still open."""
    root, _ = tiny
    proc = subprocess.Popen([sys.executable, "-m", "stages.predict", "-", "--batch-size", "2"], cwd=root, env=ENV,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)

    def readline():
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "no output while standard input is open: predict does not stream"
        return proc.stdout.readline()

    try:
        proc.stdin.write("great film\nawful film\n".encode())
        proc.stdin.flush()
        header, first, second = (readline() for _ in range(3))
        assert header.startswith(b"row\t") and first.startswith(b"1\t") and second.startswith(b"2\t")
        proc.stdin.write("wonderful\n".encode())
        proc.stdin.close()
        assert proc.stdout.read().startswith(b"3\t")
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()



def test_a_review_typed_at_a_terminal_is_scored_when_its_line_ends(tiny):
    """`predict -` at a terminal (a pseudo-terminal here): one typed line is one batch, not the 1024 of a pipe."""
    import pty

    root, _ = tiny
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "stages.predict", "-"], cwd=root, env=ENV, stdin=terminal,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    os.close(terminal)
    try:
        os.write(controller, b"great film\n")
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "nothing scored while the terminal is open: the line waits for 1023 more"
        header, first = proc.stdout.readline(), proc.stdout.readline()
        assert header.startswith(b"row\t") and first.startswith(b"1\t") and first.rstrip().endswith(b"great film")
        os.write(controller, b"\x04")  # Ctrl-D: end of input
        assert proc.wait(timeout=60) == 0 and proc.stdout.read() == b""
    finally:
        proc.kill()
        os.close(controller)


def test_a_review_too_long_for_the_command_line_goes_through_stdin(tiny):
    root, _ = tiny
    review = ("great wonderful film " * 60_000).strip()  # 1.2 MB on one line
    out = predict(root, "-", stdin=review.encode() + b"\n")
    assert out.returncode == 0, out.stderr.decode()
    rows = tsv_rows(out.stdout)
    assert len(rows) == 1 and float(rows["probability"][0]) > 0.5


def test_reviews_without_text_get_no_label(tiny, tmp_path):
    """Null, empty and blank reviews, from a file and from arguments: no probability, the label "no text"."""
    root, _ = tiny
    pd.DataFrame({"text": ["great wonderful superb", None, "", "  \t ", "awful boring dull"]}).to_parquet(
        tmp_path / "r.parquet")
    rows = tsv_rows(predict(root, "--file", str(tmp_path / "r.parquet")).stdout)
    assert rows["label"].tolist() == ["positive", "no text", "no text", "no text", "negative"]
    assert rows["probability"].tolist()[1:4] == ["", "", ""]
    out = predict(root, "--format", "jsonl", "   ", "great wonderful superb")
    first, second = (json.loads(line) for line in out.stdout.decode().splitlines())
    assert first["probability"] is None and first["label"] == "no text" and second["label"] == "positive"


@pytest.mark.parametrize("case, phrase", [
    ("latin1", "line 2: not UTF-8"),
    ("utf16", "the text is UTF-16, not UTF-8; re-save it as UTF-8 (iconv -f UTF-16"),
    ("truncated_gz", "the compressed data is damaged or cut short"),
    ("directory", "is a folder; --file takes one file"),
    ("csv_without_text", "no column 'text'"),
    ("missing", "no such file"),
    ("truncated_model", "is damaged"),
    ("garbage_model", "is damaged"),
    ("no_model", "not found"),
    ("out_of_a_csv", "--out scores a Parquet file"),
    ("out_of_not_parquet", "cannot be read as Parquet"),
    ("out_without_text", "no column 'text'"),
    ("out_is_a_folder", "is a folder; --out takes a file name"),
])
def test_bad_input_is_a_message_not_a_traceback(tiny, tmp_path, case, phrase):
    root, _ = tiny
    args = []
    if case == "latin1":
        (tmp_path / "r.txt").write_bytes("fine\ncaf\xe9 au lait\n".encode("latin-1"))
        args = ["--file", str(tmp_path / "r.txt")]
    elif case == "csv_without_text":
        pd.DataFrame({"review": ["a"]}).to_csv(tmp_path / "r.csv", index=False)
        args = ["--file", str(tmp_path / "r.csv")]
    elif case == "missing":
        args = ["--file", str(tmp_path / "nope.txt")]
    elif case == "utf16":
        (tmp_path / "r.txt").write_bytes("fine\ncafé au lait\n".encode("utf-16"))
        args = ["--file", str(tmp_path / "r.txt")]
    elif case == "truncated_gz":
        (tmp_path / "r.txt.gz").write_bytes(gzip.compress(os.urandom(30000).hex().encode())[:5000])
        args = ["--file", str(tmp_path / "r.txt.gz")]
    elif case == "directory":
        args = ["--file", str(tmp_path)]
    elif case.startswith("out_"):
        source = tmp_path / ("r.csv" if case == "out_of_a_csv" else "r.parquet")
        if case == "out_without_text":
            pd.DataFrame({"review": ["a"]}).to_parquet(source)
        elif case == "out_of_not_parquet":
            source.write_text("text\nnot parquet\n")
        else:
            pd.DataFrame({"text": ["a good film"]}).to_parquet(source) if source.suffix == ".parquet" else \
                pd.DataFrame({"text": ["a"]}).to_csv(source, index=False)
        out = tmp_path if case == "out_is_a_folder" else tmp_path / "scores.parquet"
        args = ["--file", str(source), "--out", str(out)]
    else:
        model = tmp_path / "model.keras"
        data = (root / "models/raw_text_model.keras").read_bytes()
        if case != "no_model":
            model.write_bytes(data[: len(data) // 2] if case == "truncated_model" else os.urandom(4096))
        args = ["--model", str(model), "some review"]
    out = predict(root, *args)
    err = out.stderr.decode()
    assert out.returncode != 0 and phrase in err and "Traceback" not in err, err
    assert not TF_LOG_NOISE.search(err), err  # the error message, and no log lines around it


def test_saved_model_serves_without_this_project(tiny):
    """A fresh process loads models/serving with TensorFlow alone and gives the pipeline's scores."""
    root, _ = tiny
    reviews = pd.read_parquet(root / "data/raw/reviews.parquet")
    texts = reviews[reviews["split"] == "test"]["text"].tolist() + NO_WORD
    (root / "texts.json").write_text(json.dumps(texts))
    script = (
        "import json, sys, tensorflow as tf\n"
        "served = tf.saved_model.load('models/serving').signatures['serving_default']\n"
        "out = served(texts=tf.constant(json.load(open('texts.json'))))\n"
        "assert not any(m == 'stages' or m.startswith('stages.') for m in sys.modules)\n"
        "print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2"})  # no PYTHONPATH to stages
    assert out.returncode == 0, out.stderr[-3000:]
    served = json.loads(out.stdout.splitlines()[-1])
    pipeline = pd.read_csv(root / "reports/predictions.csv")["probability"].to_numpy()
    np.testing.assert_allclose(served["probability"][: len(pipeline)], pipeline, atol=2e-6)
    assert np.isfinite(served["probability"]).all()
    assert served["no_known_word"][-len(NO_WORD):] == [True] * len(NO_WORD)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_an_id_column_is_kept_beside_each_score(tiny, tmp_path, suffix):
    root, _ = tiny
    frame = pd.DataFrame({"text": ["great wonderful film", "awful boring", "fine"], "id": ["a-7", "x 9", "1001"]})
    path = tmp_path / f"reviews{suffix}"
    {".csv": lambda: frame.to_csv(path, index=False), ".parquet": lambda: frame.to_parquet(path),
     ".jsonl": lambda: frame.to_json(path, orient="records", lines=True)}[suffix]()
    tsv = predict(root, "--file", str(path), "--batch-size", "2")
    assert tsv.returncode == 0, tsv.stderr.decode()
    lines = tsv.stdout.decode().splitlines()
    assert lines[0] == "row\tid\tprobability\tlabel\tno_known_word\ttext"
    assert [line.split("\t")[1] for line in lines[1:]] == ["a-7", "x 9", "1001"]
    assert [line.split("\t")[-1] for line in lines[1:]] == frame["text"].tolist()
    records = [json.loads(line) for line in predict(root, "--file", str(path), "--format", "jsonl").stdout.splitlines()]
    assert [r["id"] for r in records] == ["a-7", "x 9", "1001"] and records[0]["probability"] > 0.5


def test_every_option_has_help_text():
    out = subprocess.run([sys.executable, "-m", "stages.predict", "--help"], capture_output=True, text=True,
                         cwd=REPO, env=ENV)
    assert out.returncode == 0
    lines = out.stdout.split("options:")[1].splitlines()[1:]
    options = [i for i, line in enumerate(lines) if line.strip().startswith("-")]
    assert len(options) >= 6
    for i in options:  # help on the option's line, after two spaces, or on the next line, indented
        same_line = len(re.split(r"\s{2,}", lines[i].strip(), maxsplit=1)) == 2
        next_line = i + 1 < len(lines) and lines[i + 1].startswith(" " * 10) and lines[i + 1].strip()
        assert same_line or next_line, f"{lines[i].strip()} has no help text"
