"""`predict` and the machine: closed or full streams, a read-only --out, and outputs that would destroy inputs.

Each case is caused for real (a shell closes the stream, /dev/full fills, a tmpfs is mounted read-only, links
are made) and must give one line naming the file or stream, a non-zero exit, no traceback and nothing written.
"""
import os
import shlex
import subprocess
import sys

import pandas as pd
import pytest

from tests.handled import handled
from tests.test_predict import ENV



def case(group: str, *names: str) -> tuple[str, ...]:
    """The cases of a class, registered for docs/data.md's list (tests/handled.py)."""
    return handled(group, *names, module="test_predict_streams")


def shell(root, command: str) -> subprocess.CompletedProcess:
    """`python -m stages.predict ...` through a shell, so that redirections are the shell's own."""
    line = f"exec {shlex.quote(sys.executable)} -m stages.predict {command}"
    return subprocess.run(["sh", "-c", line], cwd=root, capture_output=True, text=True, env=ENV, timeout=300)


def one_line_error(out, phrase):
    assert out.returncode != 0, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and phrase in errors[0], out.stderr


@pytest.mark.parametrize("command, phrase", [
    ("- <&-", "standard input is closed"),
    ("'a fine film' >&-", "standard output is closed"),
    ("'a fine film' > /dev/full", "standard output: No space left on device; free some disk space"),
    ("--file reviews.txt > /dev/full", "standard output: No space left on device"),
], ids=case("A closed or full standard stream", "closed stdin", "closed stdout", "full stdout",
            "full stdout, from a file"))
def test_a_closed_or_full_stream_is_one_line(tiny, command, phrase):
    root, _ = tiny
    (root / "reviews.txt").write_text("a fine film\n" * 3000)
    one_line_error(shell(root, command), phrase)


def same_as_file(root):
    pd.DataFrame({"text": ["a great film", "an awful film"]}).to_parquet(root / "in.parquet")
    return {"same name": "--file in.parquet --out in.parquet",
            "another spelling": "--file in.parquet --out ./models/../in.parquet",
            "a symbolic link": "--file in.parquet --out link.parquet",
            "a hard link": "--file in.parquet --out hard.parquet",
            "the model": "--file in.parquet --out models/raw_text_model.keras",
            "stdout appended to --file": "--file reviews.txt >> reviews.txt",
            "stdout through a link to --file": "--file reviews.txt >> text-link.txt"}


@pytest.mark.parametrize("name", case(
    "Scores written over an input", "same name", "another spelling", "a symbolic link", "a hard link", "the model",
    "stdout appended to --file", "stdout through a link to --file"))
def test_scores_never_overwrite_an_input(tiny, name):
    root, _ = tiny
    commands = same_as_file(root)
    (root / "reviews.txt").write_text("a fine film\n")
    for link in ("link.parquet", "hard.parquet", "text-link.txt"):
        (root / link).unlink(missing_ok=True)
    (root / "link.parquet").symlink_to("in.parquet")
    os.link(root / "in.parquet", root / "hard.parquet")
    (root / "text-link.txt").symlink_to("reviews.txt")
    before = {p: (root / p).read_bytes() for p in ("in.parquet", "reviews.txt", "models/raw_text_model.keras")}
    out = shell(root, commands[name])
    one_line_error(out, "would destroy it")
    assert {p: (root / p).read_bytes() for p in before} == before  # nothing written over any input
    assert not list(root.glob(".*.tmp")) and not list((root / "models").glob(".*.tmp"))


@pytest.fixture
def read_only_folder(tmp_path):
    """A tmpfs mounted read-only (needs root, as CI is); skipped with the reason where mounting is not allowed."""
    folder = tmp_path / "ro"
    folder.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(folder)], capture_output=True,
                         text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a file system here ({out.stderr.strip() or 'not root'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("where", case("A read-only or missing place to write", "--out on a read-only file system",
                                       "--out inside a file"))
def test_out_where_nothing_can_be_written_is_one_line(tiny, request, where):
    root, _ = tiny
    pd.DataFrame({"text": ["a great film"]}).to_parquet(root / "in.parquet")
    if "read-only" in where:
        folder = request.getfixturevalue("read_only_folder")
        out = shell(root, f"--file in.parquet --out {folder}/scores.parquet")
        one_line_error(out, f"{folder}/scores.parquet: Read-only file system")
    else:
        (root / "afile").write_text("x")
        out = shell(root, "--file in.parquet --out afile/scores.parquet")
        one_line_error(out, "--out afile/scores.parquet: afile is a file, not a folder")
        assert (root / "afile").read_text() == "x"


@pytest.mark.parametrize("name", case("A pipe as a file", "--file a pipe (process substitution)"))
def test_a_pipe_given_as_file_is_read_as_lines(tiny, name):
    """`--file <(zcat reviews.txt.gz)`: the path is a pipe, not a regular file; its lines are scored."""
    root, _ = tiny
    out = subprocess.run(["bash", "-c", f"exec {shlex.quote(sys.executable)} -m stages.predict "
                          "--file <(printf 'a great film\\nan awful film\\n')"], cwd=root, capture_output=True,
                         text=True, env=ENV, timeout=300)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    rows = out.stdout.splitlines()
    assert rows[0].startswith("row\t") and [r.split("\t")[-1] for r in rows[1:]] == ["a great film", "an awful film"]
