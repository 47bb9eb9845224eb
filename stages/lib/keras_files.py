"""Save Keras models so that the same weights always give the same bytes.

A .keras file is a zip whose entries carry the time of saving, whose metadata.json records it too, and whose
config.json names shared objects by their Python id() (memory addresses); left alone, every run would change
the file's hash and DVC would see a new model each time. Here the zip is rewritten with a fixed timestamp,
without the date, with shared-object ids renumbered in order of appearance, then renamed into place whole.
It is deflated at level 1: the weights are mostly hashed n-gram rows, and level 6 took twice the time (4.5 s
against 2 s for a 165 MB weights file) to make it 7% smaller.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from stages.lib.files import atomic_path, scratch_dir

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def save_keras_reproducibly(model, path: Path | str) -> None:
    path = Path(path)
    with scratch_dir(path) as tmp:
        raw = tmp / path.name  # Keras insists on the .keras suffix
        model.save(raw)
        with zipfile.ZipFile(raw) as src, atomic_path(path) as out:
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
                for info in sorted(src.infolist(), key=lambda i: i.filename):
                    data = src.read(info)
                    if info.filename == "metadata.json":
                        meta = json.loads(data)
                        meta.pop("date_saved", None)
                        data = json.dumps(meta, sort_keys=True).encode()
                    elif info.filename == "config.json":
                        data = json.dumps(_renumber_shared_ids(json.loads(data), {})).encode()
                    dst.writestr(zipfile.ZipInfo(info.filename, FIXED_TIME), data, zipfile.ZIP_DEFLATED,
                                 compresslevel=1)


def _renumber_shared_ids(node, numbers: dict):
    """Replace each distinct `shared_object_id` by 1, 2, ... in order of first appearance."""
    if isinstance(node, dict):
        return {k: numbers.setdefault(v, len(numbers) + 1) if k == "shared_object_id"
                else _renumber_shared_ids(v, numbers) for k, v in node.items()}
    if isinstance(node, list):
        return [_renumber_shared_ids(v, numbers) for v in node]
    return node


def load_model(path: Path | str):
    """Load a .keras file of this project for scoring, registering its custom layers first. Not compiled: the
    optimizer's state (Adam's two moments of every weight, half of model.keras) is neither read nor carried into
    the models that `export` builds from this one."""
    import keras  # Keras imports TensorFlow

    import stages.lib.lazy_adam  # noqa: F401  (LazyAdam, the optimizer saved with the model)
    import stages.lib.models  # noqa: F401  (HashedBigrams)
    import stages.lib.raw_text  # noqa: F401  (RawTextToIds, tf_standardize)

    if not Path(path).is_file():  # Keras says ValueError; this is what it is
        raise FileNotFoundError(2, "No such file", str(path))
    return keras.models.load_model(path, compile=False)
