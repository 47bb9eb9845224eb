"""Output that appears whole or not at all, and checksums.

Every stage writes through these helpers: data goes to a temporary path beside the target and is renamed
into place only when complete, so a stage killed halfway leaves nothing DVC or the next stage could mistake
for a result.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from stages import WRITE_ERRNOS, errno_of, stop_if_interrupted

_UMASK = os.umask(0)
os.umask(_UMASK)


def _temporary_beside(target: Path) -> dict:
    """Where the temporaries of `target` live: beside it (same file system, so the final rename is atomic),
    named `.<name>.<random>.tmp`, a pattern .gitignore and .dvcignore exclude and no stage reads.
    Leftovers of a run that was killed (SIGKILL, power loss) are removed here, before a new one is made."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    return {"prefix": f".{target.name}.", "suffix": ".tmp", "dir": target.parent}


@contextlib.contextmanager
def _named_for(target: Path, tmp: Path | None = None) -> Iterator[None]:
    """A write error (see WRITE_ERRNOS) re-raised as an OSError that names `target`: write() on a full disk names
    no file at all, and mkstemp in a read-only folder names the `.<name>.<random>.tmp` it could not create."""
    try:
        yield
    except OSError as e:
        code = errno_of(e)
        named = e.filename and not (tmp and str(e.filename).startswith(str(tmp))) and ".tmp" not in str(e.filename)
        if code not in WRITE_ERRNOS or named:
            raise
        raise OSError(code, os.strerror(code), str(target)) from None


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it to `target`, on error delete it."""
    target = Path(target)
    with _named_for(target):
        fd, tmp = tempfile.mkstemp(**_temporary_beside(target))
    os.close(fd)
    tmp = Path(tmp)
    try:
        with _named_for(target, tmp):
            yield tmp
            stop_if_interrupted()  # Ctrl-C that a library swallowed: not a result
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes files private; outputs get the usual permissions
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: Path | str) -> Iterator[Path]:
    """Yield a fresh temporary directory beside `target`; on success it replaces `target` whole."""
    target = Path(target)
    with _named_for(target):
        tmp = Path(tempfile.mkdtemp(**_temporary_beside(target)))
    try:
        with _named_for(target, tmp):
            yield tmp
            stop_if_interrupted()
            os.chmod(tmp, 0o777 & ~_UMASK)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def scratch_dir(target: Path | str, output: Path | str | None = None) -> Iterator[Path]:
    """Yield a temporary directory beside `target` that is always deleted afterwards (work space only). A write
    error in it is reported against `output`, the result the work is for (default: `target`)."""
    named = Path(output if output is not None else target)
    with _named_for(named):
        tmp = Path(tempfile.mkdtemp(**_temporary_beside(Path(target))))
    try:
        with _named_for(named, tmp):
            yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: Path | str, obj) -> None:
    # Sorted keys and a trailing newline: the same content always gives the same bytes (stable DVC hashes).
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path | str):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_npy(path: Path | str, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with tmp.open("wb") as f:
            np.save(f, array, allow_pickle=False)


def write_lines(path: Path | str, lines) -> None:
    """One item per line, '\\n' only; read back with read_lines (not splitlines, which also splits on \\x85)."""
    write_text(path, "".join(f"{line}\n" for line in lines))


def read_lines(path: Path | str) -> list[str]:
    text = Path(path).read_text(encoding="utf-8")
    return text.split("\n")[:-1] if text else []


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
