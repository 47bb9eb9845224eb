"""The Keras tutorial's example (examples/keras_tutorial) end to end, as `make example` runs it."""
import json
import subprocess
import sys

import numpy as np

from tests.conftest import REPO


def test_keras_tutorial_example_runs_with_learned_and_glove_embeddings(tmp_path):
    out = subprocess.run([sys.executable, "-m", "examples.keras_tutorial", "--workdir", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    for run in ("learned", "glove"):
        root = tmp_path / run
        tokenize = json.loads((root / "reports/tokenize.json").read_text())
        vocabulary = (root / "data/interim/vocab.txt").read_text().split("\n")[:-1]
        assert tokenize["vocab_size"] == len(vocabulary) == 16 < 50  # 14 words + padding + [UNK], cap 50
        matrix = np.load(root / "data/processed/embedding_matrix.npy")
        assert matrix.shape == (16, 50)
        assert len((root / "reports/projector/trained/meta.tsv").read_text().splitlines()) == 15  # no padding row
        metrics = json.loads((root / "reports/metrics.json").read_text())["test"]
        assert metrics["n"] == 4 and 0 <= metrics["accuracy"] <= 1 and np.isfinite(metrics["log_loss"])
        train = json.loads((root / "reports/train/metrics.json").read_text())
        assert train["train"]["accuracy"] >= 0.8  # ten documents are easy to fit, as in the tutorial
        assert f"{run}: 16 ids" in out.stdout
    for run, frozen in (("glove", True), ("learned", False)):  # frozen GloVe stays GloVe; learned vectors do not
        glove = np.load(tmp_path / run / "data/processed/embedding_matrix.npy")[1:]
        trained = np.loadtxt(tmp_path / run / "reports/projector/trained/vecs.tsv", delimiter="\t")
        assert np.allclose(trained, glove, rtol=1e-4, atol=1e-6) == frozen
