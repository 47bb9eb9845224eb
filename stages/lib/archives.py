"""Extract archives safely: every member name is checked before anything is written.

A member whose path is absolute, climbs out with `..`, or is a link (tar symlinks and hard links can point
anywhere) is refused with an error naming it, and nothing is extracted.
"""
from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable

from stages.lib.files import atomic_dir


class ArchiveError(ValueError):
    """An archive cannot be extracted."""


class UnsafeArchiveError(ArchiveError):
    """An archive member would land outside the target directory."""


def _check_name(archive: Path, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise UnsafeArchiveError(f"{archive}: refusing member {name!r}: it would land outside the target directory")


def extract(archive: Path | str, target: Path | str, keep: Callable[[str], bool] = lambda name: True) -> Path:
    """Extract the members of a .tar(.gz) or .zip whose names `keep` accepts into `target`, atomically."""
    archive, target = Path(archive), Path(target)
    try:
        _extract(archive, target, keep)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        raise ArchiveError(f"{archive}: not a readable .tar.gz or .zip archive ({e})") from None
    return target


def _extract(archive: Path, target: Path, keep: Callable[[str], bool]) -> None:
    with atomic_dir(target) as tmp:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                for info in infos:
                    _check_name(archive, info.filename)
                for info in infos:
                    if not info.is_dir() and keep(info.filename):
                        out = tmp / info.filename
                        out.parent.mkdir(parents=True, exist_ok=True)
                        with zf.open(info) as src, out.open("wb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
        else:
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for m in members:
                    _check_name(archive, m.name)
                    if m.issym() or m.islnk() or m.isdev():
                        raise UnsafeArchiveError(f"{archive}: refusing member {m.name!r}: links and devices are not allowed")
                wanted = [m for m in members if m.isfile() and keep(m.name)]
                # filter="data" is the standard library's own guard, a second line of defence.
                tf.extractall(tmp, members=wanted, filter="data")
