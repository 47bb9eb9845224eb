"""Stage `check_params`: params.yaml against its contract, before any other stage runs.

DVC removes a stage's outputs just before it runs the stage. A mistake in params.yaml found inside that stage
(`train.epoch: 1` for `train.epochs`) would cost the last good model and delete git-tracked reports. This stage
depends on the whole params.yaml, so it runs first whenever any param changed, and every other stage depends
on its output, so DVC runs none of them when it fails. The runner (`python -m stages`) checks the params
before calling `main`; a valid file always gives the same bytes, so this stage never re-runs another by itself.
Its output is `persist`, so a failing check leaves it as it was.
"""
from __future__ import annotations

from stages.lib import catalog
from stages.lib.files import write_json
from stages.lib.params import load_params

READS, WRITES, ENGINE = (catalog.PARAMS,), (catalog.PARAMS_CHECK,), False


def main(params: dict) -> None:
    write_json(catalog.PARAMS_CHECK.path, {catalog.PARAMS.location: "valid"})


if __name__ == "__main__":
    main(load_params())
