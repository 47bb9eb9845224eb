"""The Keras tutorial's example (examples/keras_tutorial) end to end, as `make example` runs it."""
import json
import sys

import numpy as np

from tests.conftest import REPO
from tests.handled import handled
from tests.test_progress import assert_never_silent


def test_keras_tutorial_example_runs_with_learned_and_glove_embeddings(tmp_path):
    """Run as a person runs it, on a terminal: it names each run and stage as it goes, never silent for long."""
    text = assert_never_silent([sys.executable, "-m", "examples.keras_tutorial", "--workdir", str(tmp_path)], REPO)
    assert "Traceback" not in text
    assert "example: learned embeddings, stage train (step" in text and "of 22)" in text
    lines = [line for line in text.replace("\r", "\n").splitlines() if ": vocabulary of" in line]
    assert [line.split(":")[0] for line in lines] == ["learned", "glove"]
    for run in ("learned", "glove"):
        root = tmp_path / run
        tokenize = json.loads((root / "reports/tokenize.json").read_text())
        vocabulary = (root / "data/interim/vocab.txt").read_text().split("\n")[:-1]
        assert tokenize["vocab_size"] == len(vocabulary) == 16 < 50  # 14 words + padding + [UNK], cap 50
        matrix = np.load(root / "data/processed/embedding_matrix.npy")
        assert matrix.shape == (16, 50)
        assert len((root / "reports/projector/trained/meta.tsv").read_text().splitlines()) == 1 + 15  # no padding row
        metrics = json.loads((root / "reports/metrics.json").read_text())["test"]
        assert metrics["n"] == 4 and 0 <= metrics["accuracy"] <= 1 and np.isfinite(metrics["log_loss"])
        train = json.loads((root / "reports/train/metrics.json").read_text())
        assert train["train"]["accuracy"] >= 0.8  # ten documents are easy to fit, as in the tutorial
        assert f"{run}: vocabulary of 14 words (work, done," in text and "and 2 reserved ids (padding, [UNK])" in text
    # docs/data.md shows these two lines as `make example` prints them (its runs under examples/keras_tutorial/runs)
    shown = [line for line in (REPO / "docs/data.md").read_text().splitlines() if ": vocabulary of" in line]
    assert [line.replace(str(tmp_path), "examples/keras_tutorial/runs") for line in lines] == shown
    for run, frozen in (("glove", True), ("learned", False)):  # frozen GloVe stays GloVe; learned vectors do not
        glove = np.load(tmp_path / run / "data/processed/embedding_matrix.npy")[1:]
        trained = np.loadtxt(tmp_path / run / "reports/projector/trained/vecs.tsv", delimiter="\t")
        assert np.allclose(trained, glove, rtol=1e-4, atol=1e-6) == frozen


handled("The machine", "Ctrl-C in make example", module="test_example")


def test_off_a_terminal_it_says_how_far_it_is_and_ctrl_c_is_one_line(tmp_path):
    """Piped (a CI log): a line per stage with the count and the time so far; Ctrl-C, sent as a terminal sends it
    (to the whole process group), ends it with "interrupted" and exit status 130, no traceback."""
    import os
    import signal
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "examples.keras_tutorial", "--workdir", str(tmp_path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = []
    try:
        first = proc.stderr.readline()
        assert "example: 22 stages (2 runs of 11)" in first and "minutes" in first, first
        while not lines or "[3/22]" not in lines[-1]:
            lines.append(proc.stderr.readline())
            assert lines[-1], "the example ended before its third stage"
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert lines[0].startswith("example: [1/22] learned embeddings: check_params (0 s so far")
    assert "[2/22] learned embeddings: download (" in lines[1] and "s left)" in lines[1]
    assert code == 130 and "interrupted" in rest and "Traceback" not in rest, rest
