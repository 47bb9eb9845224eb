"""Benchmark: one training step of the default model with Keras' Adam and with lazy Adam, by n-gram buckets.

    make bench-optimizer        # or: python -m benchmarks.optimizer [--steps 30]

The default nb_fasttext (vocabulary 50,000, maxlen 800, word pairs) on a batch of 128 random reviews, one
step after another as in `fit`; it prints milliseconds per step, best of three rounds, and the ratio to Keras'
Adam at the same bucket count measured in the same run. Adam's step reads and writes every n-gram weight and
its two moments, so its time grows with the buckets; lazy Adam's follows the rows the batch uses.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from stages.lib.params import load_params

BUCKETS = [2_097_152, 8_388_608, 16_777_216]
REPORT = Path("reports/optimizer.json")


def step_ms(optimizer: str, buckets: int, steps: int, params: dict) -> float:
    import keras

    from stages.lib.lazy_adam import LazyAdam
    from stages.lib.models import build_model

    cfg = params["train"]
    vocab, maxlen = params["tokenize"]["vocab_size"], params["maxlen"]
    keras.utils.set_random_seed(0)
    model = build_model("nb_fasttext", vocab, 50, maxlen, cfg["dropout"], None, True, 0, 0, buckets,
                        cfg["ngram_orders"], 0.0, cfg["nb_scale_ngrams"])
    rate = cfg["learning_rate"]
    model.compile(optimizer=LazyAdam(rate) if optimizer == "lazy_adam" else keras.optimizers.Adam(rate),
                  loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocab, (cfg["batch_size"], maxlen)).astype(np.int32)
    x[:, 300:] = 0  # about a typical review's length, the rest padding
    y = rng.integers(0, 2, cfg["batch_size"]).astype(np.float32)
    model.train_on_batch(x, y)  # traces the step
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        best = min(best, (time.perf_counter() - start) / steps * 1000)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    params = load_params()
    print(f"{'n-gram buckets':>15} {'adam ms/step':>13} {'lazy_adam ms/step':>18} {'lazy / adam':>12}")
    rows = []
    for buckets in BUCKETS:
        adam, lazy = (round(step_ms(name, buckets, args.steps, params), 1) for name in ("adam", "lazy_adam"))
        print(f"{buckets:>15,} {adam:>13.1f} {lazy:>18.1f} {lazy / adam:>12.2f}")
        rows.append({"buckets": buckets, "adam_ms": adam, "lazy_adam_ms": lazy})
    report = {"command": "make bench-optimizer", "cores": os.cpu_count(), "batch_size": params["train"]["batch_size"],
              "steps": args.steps, "rows": rows}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
