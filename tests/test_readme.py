"""The README's figures are generated from the committed reports (tools/readme_figures.py): they must agree."""
import html
import json
import re
from pathlib import Path

import pytest

from tests.conftest import REPO


def test_readme_and_docs_figures_match_the_reports(monkeypatch):
    from tools import readme_figures

    monkeypatch.chdir(REPO)
    names = []
    for page in readme_figures.pages():
        text = page.read_text(encoding="utf-8")
        names += [name for _, name, _ in readme_figures.PATTERN.findall(text)]
        assert readme_figures.regenerate(text) == text, f"{page} is stale: run `python -m tools.readme_figures`"
    assert set(names) == set(readme_figures.BLOCKS)  # every block generated somewhere, every generator used
    assert any(page.parent.name == "docs" for page in readme_figures.pages())


def test_a_changed_report_changes_the_page_that_shows_it(monkeypatch):
    from tools import readme_figures

    monkeypatch.chdir(REPO)
    text = (REPO / "docs/data.md").read_text(encoding="utf-8")
    assert "<!-- generated: tokenizer -->" in text
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


def test_tables_of_choices_show_validation_figures_only(monkeypatch):
    """A choice is made on validation data: no table of choices puts a test figure beside it."""
    from tools import readme_figures

    monkeypatch.chdir(REPO)
    shown = {name: readme_figures.BLOCKS[name]() for name in ("search", "choices_round3", "choices_round4")}
    for name, block in shown.items():
        header = block.splitlines()[0].lower()
        assert "validation" in header, name
        assert not re.search(r"test|roc auc|out-of-domain", header), f"{name}: {header}"
    page = (REPO / "docs/models.md").read_text()
    assert all(f"<!-- generated: {name} -->" in page for name in shown)


def test_the_pipeline_table_names_the_params_each_stage_declares():
    """README's stage table, last column, against dvc.yaml: the params a stage re-runs on."""
    import yaml

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    rows = {}
    for line in (REPO / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4 and cells[0].strip("`") in stages:
            rows[cells[0].strip("`")] = re.sub(r"\([^)]*\)", "", cells[3])  # notes in brackets aside
    assert set(rows) == set(stages)
    for stage, spec in stages.items():
        declared = sorted(p for p in spec.get("params", []) if isinstance(p, str))
        shown = rows[stage].strip() if stage == "check_params" else sorted(re.findall(r"`([^`]+)`", rows[stage]))
        assert shown == ("all" if stage == "check_params" else declared), stage


def slug(heading_html: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped, spaces as hyphens."""
    text = html.unescape(re.sub(r"<[^>]+>", "", heading_html)).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def rendered(page: Path) -> str:
    from tests.markdown_checks import render  # cmark-gfm, GitHub's own Markdown library

    return render(page.read_text(encoding="utf-8"))


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", rendered(page), re.S)}


def test_readme_is_short_with_a_table_of_contents_of_its_sections():
    page = REPO / "README.md"
    lines = page.read_text(encoding="utf-8").count("\n")
    assert 150 <= lines <= 300, f"README.md has {lines} lines; about 250 is what a newcomer reads to the end"
    body = rendered(page)
    sections = [slug(h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", body, re.S)]
    contents = body.split(">Contents</h2>", 1)[1].split("</p>", 1)[0]  # one line of links
    listed = re.findall(r'<a href="#([^"]+)"', contents)
    assert listed == [s for s in sections if s != "contents"]  # every section, in order, and nothing else
    for topic in ("two-commands", "pipeline", "results", "experiments", "your-own-data", "scoring-text",
                  "pull-requests", "read-more"):
        assert topic in sections


@pytest.mark.parametrize("name", ["README.md", *sorted(p.name for p in (REPO / "docs").glob("*.md"))])
def test_every_link_and_picture_resolves(name):
    page = REPO / name if name == "README.md" else REPO / "docs" / name
    body = rendered(page)
    targets = re.findall(r'<a href="([^"]+)"', body) + re.findall(r'<img src="([^"]+)"', body)
    local = [html.unescape(t) for t in targets if not re.match(r"[a-z]+:", t)]
    assert local, "no links at all"
    for target in local:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(file), f"{name}: {target}: no heading with that anchor in {file.name}"
    if name == "README.md":  # every docs page is reachable from the README
        assert {p.name for p in (REPO / "docs").glob("*.md")} <= {Path(t.split("#")[0]).name for t in local}
