"""The suite's own machinery, as `make test` runs it: `pytest -n <workers> --dist loadgroup` keeps an `xdist_group` on one
worker (the test bed's module fixture of hosts is built once), with the pinned pytest and pytest-xdist."""
import os
import subprocess
import sys

from tests.conftest import REPO

GROUPED = '''
import os, time, pytest
pytestmark = pytest.mark.xdist_group("bed")

@pytest.mark.parametrize("case", ["link cut", "the store's host"])
def test_one(case):
    time.sleep(0.3)
    with open("workers.txt", "a") as out:
        out.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")

def test_two():
    test_one("again")
'''


def test_loadgroup_keeps_a_group_on_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_runtest_setup  # the guard\n")
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    for n in range(3):  # ungrouped tests: the other worker takes them
        (tmp_path / f"test_free{n}.py").write_text("import time\n\ndef test_free():\n    time.sleep(0.3)\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup",
                             "-p", "no:cacheprovider", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    workers = (tmp_path / "workers.txt").read_text().split()
    assert len(workers) == 3 and len(set(workers)) == 1, workers
