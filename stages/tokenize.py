"""Stage `tokenize`: reviews -> vocabulary and ragged token ids (no padding yet; that is `pad`'s job).

The vocabulary is fitted on the training split only, so test and out-of-domain text never leak into it.
Writes data/interim/vocab.txt (line number = id; line 0 is padding, line 1 is [UNK]), the ids of every split,
and reports/tokenize.json: coverage, OOV rate and length figures for choosing `maxlen`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.files import atomic_dir, write_json, write_lines
from stages.lib.params import load_params
from stages.lib.ragged import save_ragged
from stages.lib.text import build_vocabulary, encode, tokenize

RAW_DIR, OUT_DIR = Path("data/raw"), Path("data/interim")
REPORT = Path("reports/tokenize.json")
FIT_AT = (20, 50, 100, 200, 400)


def tokenize_splits(frames: dict[str, pd.DataFrame], vocab_size: int):
    """Tokenise every split in one pass; fit the vocabulary on 'train'. Returns (vocabulary, {split: (ids, offsets)})."""
    names = [name for name in frames if len(frames[name])]
    texts = pd.concat([frames[name]["text"] for name in names], ignore_index=True)
    codes, uniques, offsets = encode(tokenize(texts))
    bounds = np.cumsum([0] + [len(frames[name]) for name in names])
    rows = dict(zip(names, zip(bounds[:-1], bounds[1:])))
    lo, hi = rows["train"]
    vocabulary, id_of_code = build_vocabulary(codes[offsets[lo]:offsets[hi]], uniques, vocab_size)
    ids = id_of_code[codes]
    out = {}
    for name in frames:
        if name not in rows:
            out[name] = (np.zeros(0, np.int32), np.zeros(1, np.int64))
            continue
        lo, hi = rows[name]
        out[name] = (ids[offsets[lo]:offsets[hi]], offsets[lo:hi + 1] - offsets[lo])
    return vocabulary, out


def length_report(vocabulary: list[str], ragged: dict) -> dict:
    train_ids, train_offsets = ragged["train"]
    test_ids, _ = ragged["test"]
    lengths = np.diff(train_offsets)
    pct = np.percentile(lengths, [50, 75, 90, 95, 99]).round(1)
    return {
        "vocab_size": len(vocabulary),
        "train_token_coverage": round(float((train_ids != 1).mean()), 6),
        "test_oov_rate": round(float((test_ids == 1).mean()), 6) if len(test_ids) else None,
        "train_tokens": int(len(train_ids)),
        "review_tokens": {"mean": round(float(lengths.mean()), 2), "min": int(lengths.min()),
                          "max": int(lengths.max()), **{f"p{p}": float(v) for p, v in zip((50, 75, 90, 95, 99), pct)}},
        "share_fitting_whole_at_maxlen": {str(m): round(float((lengths <= m).mean()), 6) for m in FIT_AT},
    }


def main(params: dict) -> None:
    reviews = pd.read_parquet(RAW_DIR / "reviews.parquet")
    frames = {"train": reviews[reviews["split"] == "train"], "test": reviews[reviews["split"] == "test"],
              "ood": pd.read_parquet(RAW_DIR / "ood.parquet")}
    vocabulary, ragged = tokenize_splits(frames, params["tokenize"]["vocab_size"])
    with atomic_dir(OUT_DIR) as tmp:
        write_lines(tmp / "vocab.txt", vocabulary)
        for name, (ids, offsets) in ragged.items():
            save_ragged(tmp, name, ids, offsets, frames[name]["label"].to_numpy())
    report = length_report(vocabulary, ragged)
    write_json(REPORT, report)
    print(f"tokenize: {len(vocabulary)} ids, train coverage {report['train_token_coverage']:.3f}, "
          f"test OOV {report['test_oov_rate']}, median review {report['review_tokens']['p50']} tokens")


if __name__ == "__main__":
    main(load_params())
