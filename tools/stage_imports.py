"""The project files each stage runs: its module and every module of `stages` it imports, directly or through
others, at module level or inside functions, with the packages' `__init__.py` and the runner `__main__.py`.

    python -m tools.stage_imports            # each stage's files, and what dvc.yaml declares differently

dvc.yaml must declare exactly these as the stage's code dependencies, or an edit to one of them leaves
`dvc repro` saying "up to date" while a fresh run would give other bytes (tests/test_stage_imports.py).
The engines are imported at run time by name (`stages.engines.ENGINES`), for the stages whose `main` takes an
engine: every engine module counts for those stages (`engine.name` chooses), and for no other.
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


def takes_engine(stage: str) -> bool:
    """Whether the stage's `main` has an `engine` parameter (the runner then opens the configured engine)."""
    tree = ast.parse(module_file(f"stages.{stage}").read_text(encoding="utf-8"))
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    return any(a.arg == "engine" for a in main.args.args + main.args.kwonlyargs)


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
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
