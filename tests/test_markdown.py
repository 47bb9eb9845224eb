"""Untrusted text in the reports: review texts, param values and file names are shown as text, never as markup."""
import html
import re

import numpy as np
import pandas as pd
import pytest

from stages.lib.markdown import md_text
from tests.markdown_checks import problems, render

HOSTILE = [
    "</details><img src=x onerror=alert(1)> @octocat ``` | pipes | <!--",
    "@octocat", "a|b", "<img src=x onerror=alert(1)>", "<!-- hides the rest", "```", "~~~", "    indented code",
    "- a list", "+ another", "1. ordered", "12) ordered", "# heading", "> quote", "===", "---", "*emphasis* _too_", "__strong__ a_b_c_ _x", "snake_case_name",
    "[link](javascript:alert(1))", "![image](http://x/y.png)", "<https://example.com>", "https://example.com",
    "www.example.com", "mail me at someone@example.com", "$x^2$ math", "&amp; &#64;octocat", "back\\slash\\",
    "line one\nline two\r\n\tand three", "<script>alert(1)</script>", "<details><summary>x</summary>", "|",
    "trailing pipe |", "\\|", ":smile: #123", "<sub>", "word", "",
]


def shown(markdown: str) -> str:
    """The text a reader sees in rendered Markdown (tags dropped, entities decoded, zero-width spaces gone)."""
    return html.unescape(re.sub(r"<[^>]+>", "", render(markdown))).replace("\u200b", "").strip()


@pytest.mark.parametrize("value", HOSTILE)
def test_md_text_shows_exactly_the_text_wherever_it_lands(value):
    folded = " ".join(value.split())
    contexts = ["{}", "## {}", "> {}", "- {}", "| a | b |\n| --- | --- |\n| {} | x |"] + (["**{}**"] if value else [])
    for context in contexts:  # ("****" alone is a rule: the empty value is not tried in bold)
        markdown = context.format(md_text(value))
        assert problems(markdown) == [], (context, value)
        seen = shown(markdown)
        if context.startswith("| a"):
            seen = seen.split("\n", 2)[-1].rsplit("x", 1)[0].strip()  # the cell, without the header row
        assert seen == folded, (context, value, seen)


def test_md_text_of_values_that_are_not_text():
    assert md_text(None) == "" and md_text(3) == "3" and md_text(0.5) == "0.5"
    assert shown(md_text(["@octocat", "a|b"])) == "['@octocat', 'a|b']"


def test_errors_neighbours_and_validation_reports_of_hostile_data():
    from stages.evaluate import errors_markdown
    from stages.export import neighbours_markdown
    from stages.lib.validation import render_markdown

    ids = [f"id-{i}{h[:12]}" for i, h in enumerate(HOSTILE)]
    test = pd.DataFrame({"id": ids, "label": [i % 2 for i in range(len(ids))],
                         "probability": np.linspace(0.01, 0.99, len(ids))})
    test["predicted"] = 1 - test["label"]
    errors = errors_markdown(test, test, dict(zip(ids, HOSTILE)))
    assert problems(errors) == []
    assert "onerror=alert(1)&gt; @&#8203;octocat" in errors  # shown, not run or linked

    words = ["great", *HOSTILE[:8]]
    vectors = np.random.default_rng(0).normal(size=(len(words), 4)).astype("float32")
    neighbours = neighbours_markdown({"GloVe": (vectors, words), "<b>trained</b>": (vectors, words)},
                                     ["great", "@octocat", "a|b", "<img src=x onerror=alert(1)>", "missing"], 3)
    assert problems(neighbours) == []
    assert shown(neighbours).count("@octocat") >= 2  # as a heading and as a neighbour, in plain text

    results = [{"suite": "reviews", "rows": 3, "failed": 1, "success": False, "observed_rows": [{"split": "a|b"}],
                "checks": [{"expectation": "expect_column_values_to_not_match_regex", "column": "text|<b>",
                            "success": False, "kwargs": {"regex": "<!--"}, "unexpected_count": 2,
                            "unexpected_percent": 66.7, "examples": [{"id": h} for h in HOSTILE[:4]]}]}]
    assert problems(render_markdown(results, "Raw data @octocat")) == []


def test_pr_report_sections_of_hostile_params_metrics_and_file_names():
    from tools.pr_report import margin_check, metric_check, metrics_section, params_section, verdict_lines

    params = {"params.yaml": {
        "export.probe_words": {"old": ["great"], "new": ["great", "@octocat", "a|b", "<img src=x onerror=alert(1)>"]},
        "data.local.reviews": {"old": "data/external/reviews.csv", "new": "data/external/<!--r|v@octocat```.csv"},
        "report.max_drop": {"old": 0.005, "new": 0.01}}}
    metrics = {"reports/metrics.json": {"test.accuracy": {"old": 0.9, "new": 0.9, "diff": 0.0},
                                        "test.<img src=x>|@octocat": {"old": 1.0, "new": 2.0, "diff": 1.0}}}
    lines, ok = verdict_lines([metric_check(metrics, "test.accuracy", 0.005),
                               margin_check(None, None, 0.0)], "origin/<!--@octocat|")
    report = "\n".join(lines + metrics_section(metrics) + params_section(params))
    assert ok and problems(report) == []
    assert "data/external/<!--r|v@octocat```.csv" in shown(report)


def test_problems_finds_what_raw_text_would_do():
    """The checker itself: each raw hostile string is caught (so a passing report means something)."""
    for raw in ("<img src=x onerror=alert(1)>", "<!-- x", "hi @octocat", "```\nx", "| a | b |\n| --- | --- |\n| a|b | c |"):
        assert problems(raw), raw


def test_comment_is_cut_outside_code_with_a_note_naming_the_artifact():
    from tools.pr_report import ARTIFACT, fit_comment

    chart = "```mermaid\nxychart-beta\n" + "    line [1, 2, 3]\n" * 50 + "```"
    rows = [f"| param{i} | {'x' * 80} | y |" for i in range(2000)]
    report = "\n".join(["# PASS: every check passed", "", "| param | base | workspace |", "| --- | --- | --- |",
                        *rows, "", chart, "", chart])
    for limit in (1000, 5000, 20_000, 60_000, 200_000, 250_000):
        comment = fit_comment(report, limit)
        assert len(comment) <= limit and comment.count("```") % 2 == 0 and problems(comment) == []
        if len(report) > limit:
            assert comment.endswith(f"`{ARTIFACT}` artifact of this workflow run.")
            assert comment.startswith("# PASS")
        else:
            assert comment == report


@pytest.mark.parametrize("name", ["pass", "fail"])
def test_committed_report_examples_render_safely(name):
    from tests.conftest import REPO

    text = (REPO / f"reports/pr_examples/{name}.md").read_text()
    assert problems(text) == [] and text.startswith(f"# {name.upper()}: ")
