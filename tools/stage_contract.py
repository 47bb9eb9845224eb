"""The contract between each stage and dvc.yaml: the code it runs, the artefacts it reads and writes, the engine.

    python -m tools.stage_contract            # each stage's files, and every way dvc.yaml disagrees
    python -m tools.stage_contract --write    # put the code files into dvc.yaml's deps

- Code: the stage's module and every module of `stages` it imports, directly or through others, at module
  level or inside functions, with the packages' `__init__.py` and the runner `__main__.py`. dvc.yaml must
  declare exactly these as the stage's code dependencies, or an edit to one of them leaves `dvc repro` saying
  "up to date" while a fresh run would give other bytes.
- Data: each stage module declares the catalog's artefacts it reads and writes (`READS`, `WRITES`,
  stages/lib/catalog.py) and uses no other (`catalog.X` anywhere in the module counts) and no path literal of
  its own; dvc.yaml's deps must hold every path it reads (the path, or a folder above it), its outs every path
  it writes.
- Engine: a stage that declares `ENGINE = True` (its tasks run on the configured engine) has `engine` among its
  params in dvc.yaml, and no other stage has. The engines are imported at run time by name
  (`stages.engines.ENGINES`): every engine module counts as code for those stages, and for no other.
tests/test_stage_contract.py checks all of it, and that each check finds a planted mistake.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ["stages/__init__.py", "stages/__main__.py"]


def module_file(module: str) -> Path | None:
    """stages.lib.text -> stages/lib/text.py (or a package's __init__.py); None outside the project."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path) -> set[str]:
    """Modules of `stages` that the file imports anywhere (`from stages.x import y` counts stages.x.y when y is
    a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "stages"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "stages":
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names
                      if module_file(f"{node.module}.{alias.name}") is not None}
    return found


def with_packages(module: str) -> list[str]:
    """A module and the packages above it, whose __init__.py run when it is imported."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(module: str) -> set[str]:
    """Project files (relative paths) that importing `module` runs."""
    seen, todo = set(), with_packages(module)
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        todo += [m for imported in imported_modules(module_file(name)) for m in with_packages(imported)]
    return {str(module_file(name).relative_to(ROOT)) for name in seen}


def declaration(stage: str) -> dict:
    """What the stage module declares: READS, WRITES (catalog artefacts) and ENGINE."""
    import importlib

    module = importlib.import_module(f"stages.{stage}")
    return {"reads": tuple(module.READS), "writes": tuple(module.WRITES), "engine": bool(module.ENGINE)}


def takes_engine(stage: str) -> bool:
    """Whether the stage declares that its tasks run on an engine (the runner then opens the configured one)."""
    return declaration(stage)["engine"]


def catalog_names_used(path: Path) -> set[str]:
    """The catalog's names a module refers to: `catalog.X`, and `from stages.lib.catalog import X`."""
    from stages.lib.catalog import ARTEFACTS

    used = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "catalog":
            used.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and node.module == "stages.lib.catalog":
            used |= {alias.name for alias in node.names}
    return used & set(ARTEFACTS)


def path_literals(path: Path) -> list[str]:
    """String constants of a module that spell a project path or an artefact's file name (docstrings aside):
    what a stage must take from the catalog instead."""
    from stages.lib.catalog import ARTEFACTS

    names = {Path(a.location).name for a in ARTEFACTS.values() if a.format != "folder"}
    names |= {n.split("}", 1)[1] for n in names if "}" in n}  # "_x.npy" of "{split}_x.npy"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docstrings and (n.value.startswith(("data/", "models/", "reports/")) or n.value in names)]


def _covered(path: Path, declared_paths: list[str]) -> bool:
    return any(path == Path(d) or Path(d) in path.parents for d in declared_paths)


def _entries(items) -> list[str]:
    """dvc.yaml's deps, outs, metrics or plots as paths (an entry may be `path` or `{path: options}`)."""
    return [next(iter(i)) if isinstance(i, dict) else i for i in items or []]


def data_problems(stage: str, spec: dict, module: Path | None = None, declared_io: dict | None = None) -> list[str]:
    """Every way dvc.yaml's `spec` of a stage disagrees with what its module declares and uses."""
    module = module or module_file(f"stages.{stage}")
    io = declared_io or declaration(stage)
    problems = []
    names = {a: n for n, a in __import__("stages.lib.catalog", fromlist=["ARTEFACTS"]).ARTEFACTS.items()}
    declared_names = {names[a] for a in io["reads"] + io["writes"]}
    folders = [Path(a.location) for a in io["reads"] + io["writes"] if a.format == "folder"]
    artefacts = {n: a for a, n in names.items()}
    for name in sorted(catalog_names_used(module) - declared_names):
        if not any(folder in Path(artefacts[name].location).parents for folder in folders):  # not a member
            problems.append(f"{stage}: uses catalog.{name} but declares it in neither READS nor WRITES")
    for literal in path_literals(module):
        problems.append(f"{stage}: holds the path literal {literal!r}; take it from stages/lib/catalog.py")
    deps = [d for d in _entries(spec.get("deps")) if not d.endswith(".py")]
    outs = _entries(spec.get("outs")) + _entries(spec.get("metrics")) + _entries(spec.get("plots"))
    params = {p if isinstance(p, str) else next(iter(p)) for p in spec.get("params") or []}
    whole_file = any(isinstance(p, dict) and next(iter(p)) == "params.yaml" and not next(iter(p.values()))
                     for p in spec.get("params") or [])
    for artefact in io["reads"]:
        for path in artefact.paths():
            if not (_covered(path, deps) or (names[artefact] == "PARAMS" and whole_file)):
                problems.append(f"{stage}: reads {path} (catalog.{names[artefact]}) but dvc.yaml's deps lack it")
    for artefact in io["writes"]:
        for path in artefact.paths():
            if not _covered(path, outs):
                problems.append(f"{stage}: writes {path} (catalog.{names[artefact]}) but dvc.yaml's outs lack it")
    if io["engine"] and "engine" not in params and not whole_file:
        problems.append(f"{stage}: declares ENGINE = True but dvc.yaml's params lack engine")
    if not io["engine"] and "engine" in params:
        problems.append(f"{stage}: has the engine param in dvc.yaml but declares ENGINE = False")
    return problems


def contract_problems(dvc_yaml: Path = ROOT / "dvc.yaml") -> list[str]:
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    return [problem for name, spec in stages.items() for problem in data_problems(name, spec)]


def stage_files(stage: str) -> set[str]:
    files = closure(f"stages.{stage}") | closure("stages.__main__") | set(RUNNER)
    if takes_engine(stage):
        from stages.engines import ENGINES

        files |= {f for module in ENGINES.values() for f in closure(module)}
    return files


def declared(dvc_yaml: Path = ROOT / "dvc.yaml") -> dict[str, set[str]]:
    """{stage: the .py files among its deps in dvc.yaml}"""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    return {name: {d for d in stage.get("deps", []) if d.endswith(".py")} for name, stage in stages.items()}


def differences() -> dict[str, tuple[set[str], set[str]]]:
    """{stage: (files dvc.yaml misses, .py deps the stage does not run)} for every stage that differs."""
    out = {}
    for stage, deps in declared().items():
        runs = stage_files(stage)
        if runs != deps:
            out[stage] = (runs - deps, deps - runs)
    return out


def with_deps_fixed(text: str) -> str:
    """dvc.yaml's text with each stage's .py deps replaced by the files it runs (the stage module first)."""
    out, stage, written = [], None, set()
    for line in text.splitlines(keepends=True):
        header = re.match(r"^  (\w+):\s*(#.*)?$", line)
        if header:
            stage = header.group(1)
        dep = re.match(r"^(\s+- )(\S+\.py)\s*$", line)
        if not (dep and stage):
            out.append(line)
            continue
        if stage not in written:
            own = f"stages/{stage}.py"
            files = sorted(stage_files(stage) - {own})
            out += [f"{dep.group(1)}{f}\n" for f in [own, *files]]
            written.add(stage)
    return "".join(out)


def main() -> int:
    if sys.argv[1:] == ["--write"]:
        path = ROOT / "dvc.yaml"
        path.write_text(with_deps_fixed(path.read_text()))
    for stage in declared():
        print(f"{stage}: {' '.join(sorted(stage_files(stage)))}")
    diff = differences()
    for stage, (missing, extra) in diff.items():
        print(f"dvc.yaml, stage {stage}: missing {sorted(missing)}; not run {sorted(extra)}", file=sys.stderr)
    problems = contract_problems()
    for problem in problems:
        print(f"dvc.yaml, stage {problem}", file=sys.stderr)
    return 1 if diff or problems else 0


if __name__ == "__main__":
    sys.exit(main())
