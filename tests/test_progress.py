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



def wheel(name: str, pad: int) -> bytes:
    """A minimal pure-Python wheel of `name` 1.0 with `pad` bytes of data (so a slow server takes a while)."""
    import io
    import os
    import zipfile

    files = {f"{name}/__init__.py": b"VALUE = 1\n", f"{name}/pad.bin": os.urandom(pad),
             f"{name}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
             f"{name}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                            b"Tag: py3-none-any\n"}
    record = f"{name}-1.0.dist-info/RECORD"
    files[record] = "".join(f"{path},,\n" for path in [*files, record]).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


@pytest.fixture
def slow_index():
    """A package index on 127.0.0.1 whose one wheel arrives over about 7 s (pip says nothing meanwhile)."""
    import http.server
    import threading
    import time

    body = wheel("slowpkg", 70_000)

    class Index(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.rstrip("/") == "/simple/slowpkg":
                page = b'<html><body><a href="/files/slowpkg-1.0-py3-none-any.whl">slowpkg-1.0-py3-none-any.whl</a>'
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            elif self.path == "/files/slowpkg-1.0-py3-none-any.whl":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for start in range(0, len(body), 10_000):
                    self.wfile.write(body[start:start + 10_000])
                    self.wfile.flush()
                    time.sleep(1)
            else:
                self.send_error(404)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    server.shutdown()


def test_the_install_says_what_pip_does_every_second_and_pips_own_error_when_it_fails(tmp_path, slow_index):
    python = str(tmp_path / "venv/bin/python")  # tools.install creates it
    (tmp_path / "base.txt").write_text("slowpkg==1.0  # arrives slowly\n")
    (tmp_path / "requirements.txt").write_text("-r base.txt\n")
    env = {**ENV, "PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": slow_index, "PIP_NO_CACHE_DIR": "1"}
    code, chunks = timed_output([sys.executable, "-m", "tools.install", "venv", "requirements.txt"], cwd=tmp_path,
                                env=env, timeout=300)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", b"".join(data for _, data in chunks).decode("utf-8", "replace"))
    assert code == 0, text[-2000:]
    assert chunks[-1][0] > 6, "the slow download was not slow"  # so the next check means something
    gap, at, line = max(silences(chunks))
    assert gap < 2.5, f"{gap:.1f} s without output from {at:.1f} s, after {line!r}"
    assert "pip: collecting 1 of 1 requirements: slowpkg==1.0" in text
    assert "pip: requirements.txt installed (1 pinned, 1 new)" in text.splitlines()[-1]
    assert subprocess.run([python, "-c", "import slowpkg"], env=ENV).returncode == 0
    (tmp_path / "base.txt").write_text("slowpkg==2.0\n")  # no such version: pip's own error, exit non-zero
    failed = subprocess.run([sys.executable, "-m", "tools.install", "venv", "requirements.txt"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1 and "pip failed (exit 1) installing requirements.txt" in failed.stderr
    assert "No matching distribution found for slowpkg==2.0" in failed.stderr
