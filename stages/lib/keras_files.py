"""Save Keras models so that the same weights always give the same bytes.

A .keras file is a zip whose entries carry the time of saving, and whose metadata.json records it too;
left alone, every run would change the file's hash and DVC would see a new model each time. Here the zip is
rewritten with a fixed timestamp and without the date, then renamed into place whole.
"""
from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

from stages.lib.files import atomic_path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def save_keras_reproducibly(model, path: Path | str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        raw = Path(tmp) / path.name  # Keras insists on the .keras suffix
        model.save(raw)
        with zipfile.ZipFile(raw) as src, atomic_path(path) as out:
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
                for info in sorted(src.infolist(), key=lambda i: i.filename):
                    data = src.read(info)
                    if info.filename == "metadata.json":
                        meta = json.loads(data)
                        meta.pop("date_saved", None)
                        data = json.dumps(meta, sort_keys=True).encode()
                    dst.writestr(zipfile.ZipInfo(info.filename, FIXED_TIME), data, zipfile.ZIP_DEFLATED)
