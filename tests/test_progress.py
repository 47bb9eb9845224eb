"""No silent minutes: each long step, run with a fake terminal (a pseudo-terminal with a size, as a person's),
prints within a few seconds and keeps printing; with no terminal, the output stays as quiet as before."""
import re
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import REPO
from tools.silences import silences, timed_output

ENV = {"PYTHONPATH": str(REPO), "PATH": f"{REPO / '.venv/bin'}:/usr/bin:/bin", "HOME": "/tmp"}
FIRST_OUTPUT, LONGEST_SILENCE = 3.0, 5.0  # seconds


def assert_never_silent(command, cwd):
    code, chunks = timed_output(command, cwd=cwd, env=ENV, timeout=600)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", b"".join(data for _, data in chunks).decode("utf-8", "replace"))
    assert code == 0, text[-2000:]
    gaps = silences(chunks)
    assert gaps and gaps[0][0] < FIRST_OUTPUT, f"first output after {gaps[0][0]:.1f} s"
    gap, at, line = max(gaps)
    assert gap < LONGEST_SILENCE, f"{gap:.1f} s without output from {at:.1f} s, after {line!r}"
    return text  # terminal control sequences removed, carriage returns kept


@pytest.mark.parametrize("stage", ["baseline", "train", "evaluate", "export"])
def test_a_stage_on_a_terminal_says_what_it_does_every_second(tiny, stage):
    root, _ = tiny
    text = assert_never_silent([sys.executable, "-m", "stages", stage], root)
    assert f"{stage}: " in text and "[00:0" in text  # the step line and its clock
    quiet = subprocess.run([sys.executable, "-m", "stages", stage], cwd=root, env=ENV, capture_output=True,
                           text=True)
    assert quiet.returncode == 0 and "\r" not in quiet.stdout + quiet.stderr  # no bar in a log
    assert quiet.stderr == "" and quiet.stdout.splitlines()[-1].startswith(f"{stage}: ")  # its summary, as before


def test_predict_over_a_file_draws_a_bar_of_known_size(tiny, tmp_path):
    root, _ = tiny
    path = tmp_path / "reviews.parquet"
    pd.DataFrame({"text": ["great film", "awful film", "fine"] * 700}).to_parquet(path, row_group_size=500)
    out = tmp_path / "scores.tsv"
    text = assert_never_silent(["sh", "-c", f"{sys.executable} -m stages.predict --batch-size 100 --file {path} "
                                f"> {out}"], root)
    assert "predict: loading TensorFlow" in text and "2100/2100" in text  # the bar knows the file's size
    assert len(out.read_text().splitlines()) == 1 + 2100 and "\r" not in out.read_text()

