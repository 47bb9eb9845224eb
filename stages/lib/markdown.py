"""Text from data, params or file names, made safe to place in a Markdown report (GitHub's flavour).

A review text, a probe word or a file name can hold anything: `<img onerror=...>`, `<!--` (which hides the rest
of a file on GitHub), a code fence that swallows what follows, a `|` that breaks a table row, `@someone` (a live
mention that notifies a stranger). `md_text` turns any value into one line of inline text that renders as
exactly those characters: HTML's specials become entities, Markdown's punctuation is escaped with a backslash,
and a zero-width space after `@`, `://` and `www` keeps a mention or a bare address from linking. Every report of the project uses it for every
piece of text it did not write itself.
"""
from __future__ import annotations

import re

# Characters that can start markup anywhere in a line: code spans, emphasis, links and images, tables,
# strikethrough, GitHub's math, and the closing sequence of a heading. `_` between two letters or digits
# never emphasises (CommonMark's flanking rules), so `text_chars` stays as it is.
_ESCAPED = "\\`*[]|~$#"
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# HTML's specials as entities (entities work both in Markdown text and inside raw HTML blocks).
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_TABLE = str.maketrans({**{c: "\\" + c for c in _ESCAPED}, **_ENTITIES})
_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f\u2028\u2029]+")
# GitHub links a mention and a bare address (`@name`, `https://...`, `www.host`) found in text.
_AUTOLINKS = re.compile(r"(?i)(@|://|\bwww(?=\.))")
# At the start of a line's content these open a block: a list item, an ordered list item, a setext underline.
_BLOCK_START = re.compile(r"^([-+=]|\d{1,9}(?=[.)](?: |$)))")


def md_text(value) -> str:
    """`value` as one line of Markdown inline text that shows exactly its characters (whitespace folded)."""
    text = _WHITESPACE.sub(" ", "" if value is None else str(value)).strip()
    text = _UNDERSCORE.sub(r"\\_", text.translate(_TABLE))
    text = _AUTOLINKS.sub(lambda m: m.group(1) + "&#8203;", text)
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" if m.group(1).isdigit() else "\\" + m.group(1), text)
