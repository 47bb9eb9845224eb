"""The README's figures are generated from the committed reports (tools/readme_figures.py): they must agree."""
import json

from tests.conftest import REPO


def test_readme_figures_match_the_reports(monkeypatch):
    from tools import readme_figures

    monkeypatch.chdir(REPO)
    text = (REPO / "README.md").read_text(encoding="utf-8")
    names = readme_figures.PATTERN.findall(text)
    assert {name for _, name, _ in names} == set(readme_figures.BLOCKS)  # every block generated, every generator used
    assert readme_figures.regenerate(text) == text, "README.md is stale: run `python -m tools.readme_figures`"


def test_a_changed_report_changes_the_readme(monkeypatch):
    from tools import readme_figures

    monkeypatch.chdir(REPO)
    text = (REPO / "README.md").read_text(encoding="utf-8")
    real = readme_figures.load

    def load(path):
        data = real(path)
        if path == "reports/tokenize.json":
            data = {**data, "review_tokens": {**data["review_tokens"], "p90": 12345.0}}
        return data

    monkeypatch.setattr(readme_figures, "load", load)
    changed = readme_figures.regenerate(text)
    assert changed != text and "/ 12345 /" in changed


def test_results_block_names_its_report_files(monkeypatch):
    from tools import readme_figures

    monkeypatch.chdir(REPO)
    block = readme_figures.results()
    accuracy = json.loads((REPO / "reports/metrics.json").read_text())["test"]["accuracy"]
    assert f"{100 * accuracy:.2f}%" in block and "`reports/metrics.json`" in block
    assert "`reports/baseline/metrics.json`" in block
