"""Is a Markdown report safe to show on GitHub? Rendered by cmark-gfm, GitHub's own Markdown library.

Raw HTML is let through the renderer (as an unsafe renderer would), so that anything a report failed to escape
shows up as an element here. Shared by tests/test_markdown.py and the report test of tests/test_dvc_cli.py.
"""
import re
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

# Elements our reports are made of; anything else came from data, params or file names.
ALLOWED = {"h1", "h2", "h3", "p", "ul", "li", "strong", "em", "code", "pre", "table", "thead", "tbody", "tr", "th",
           "td", "blockquote", "sub", "br"}
SENTINEL = "END-OF-REPORT-SENTINEL"
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")
CELL_SPLIT = re.compile(r"(?<!\\)\|")


def render(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


class _Walker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.comments, self.text_outside_code, self.depth_code = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self.depth_code += tag in ("code", "pre")

    def handle_endtag(self, tag):
        self.depth_code -= tag in ("code", "pre")

    def handle_comment(self, data):
        self.comments.append(data)

    def handle_data(self, data):
        if not self.depth_code:
            self.text_outside_code.append(data)


def table_rows_off(markdown: str) -> list[str]:
    """Table rows whose cell count differs from their table's header row (unescaped pipes split cells)."""
    bad, header = [], None
    fenced = False
    for line in markdown.split("\n"):
        fenced ^= line.startswith("```")
        if fenced or not line.startswith("|"):
            header = None
            continue
        cells = len(CELL_SPLIT.split(line.strip().strip("|")))
        if header is None:
            header = cells
        elif cells != header:
            bad.append(line)
    return bad


def problems(markdown: str) -> list[str]:
    """What is unsafe in `markdown` as GitHub would show it; an empty list when nothing is."""
    html = render(markdown + f"\n\n{SENTINEL}\n")
    walker = _Walker()
    walker.feed(html)
    found = [f"element <{tag}>" for tag, _ in walker.tags if tag not in ALLOWED]
    found += [f"attribute {name}= on <{tag}>" for tag, attrs in walker.tags for name, _ in attrs
              if name not in ("align", "class", "lang")]
    found += [f"HTML comment {c[:40]!r}" for c in walker.comments]
    text = "".join(walker.text_outside_code)
    found += [f"live mention near {text[max(0, m.start() - 20):m.end() + 20]!r}" for m in MENTION.finditer(text)]
    if f"<p>{SENTINEL}</p>" not in html:
        found.append("something swallowed the end of the report (an open code fence, comment or HTML block)")
    found += [f"table row with another cell count than its header: {row[:80]!r}" for row in table_rows_off(markdown)]
    return found
