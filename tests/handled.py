"""The classes of problems a user can bring, and the test cases of each: docs/data.md's list is generated from
this registry (`python -m tools.readme_figures`), so the page says what the tests cover, no more, no less.

A test module registers its cases when it is imported: `handled(group, "case", ...)` returns the names, so it
can stand in a `parametrize(..., ids=...)`.
"""
from __future__ import annotations

# What each class is and what a user gets, in the order docs/data.md lists them
CLASSES = {
    "A mistake in params.yaml": "a wrong type, an unknown key, NaN or an infinity, a key given twice: one line "
                                "naming the key, before DVC removes any output",
    "Empty, missing or misplaced files": "one line naming the file and the params key that points at it",
    "Another encoding or format than the name says": "UTF-16, Windows-1252, Latin-1, Parquet, gzip, bzip2, xz or "
                                                     "zip under a text name: said for what it is, with the command "
                                                     "that converts it",
    "Damaged compressed input": "a cut-short or corrupted `.gz` of reviews or vectors: copy or compress it again",
    "Labels and columns": "labels that are not 0/1, texts that are not text, a missing column, another separator: "
                          "the rows (and the file's own lines) that break it",
    "Word vectors that do not fit": "another dimension, a field that is not a number, one number too many, NaN: "
                                    "the line",
    "Data that breaks the contract": "Great Expectations' checks of `validate_raw` and `validate_features`: the "
                                     "failed expectation, offending rows, and the params key to change when the "
                                     "data is right",
    "The network": "a refused connection for the `stanford` source: one line after the retries",
    "The machine": "a full disk, a read-only folder: the output named, nothing half-written; Ctrl-C: "
                   "`interrupted`, exit status 130",
    "A closed or full standard stream": "`predict` with standard input or output closed, or output to a full "
                                        "disk: one line naming the stream",
    "A pipe as a file": "`predict --file <(zcat reviews.txt.gz)` reads the pipe's lines, as a file's",
    "Scores written over an input": "`predict --out` or a redirection naming `--file` or the model, through any "
                                    "spelling or link: refused before anything is written",
    "A read-only or missing place to write": "`predict --out` where nothing can be written: one line naming it",
}
CASES: list[tuple[str, str, str]] = []  # (class, case, test module)


def handled(group: str, *names: str, module: str = "") -> tuple[str, ...]:
    if group not in CLASSES:
        raise KeyError(f"{group!r}: not a class of tests/handled.CLASSES")
    CASES.extend((group, name, module) for name in names)
    return names
