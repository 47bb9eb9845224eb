import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def default_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def run_stage(module: str, cwd: Path, params: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m stages <module>` in `cwd` (a scratch project), as DVC would."""
    if params is not None:
        (cwd / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "stages", module], cwd=cwd, env=env,
                          capture_output=True, text=True)
