"""The figures of the README and of docs/, generated from the committed reports, so the two cannot disagree.

    python -m tools.readme_figures           # rewrite the generated blocks of README.md and docs/*.md
    python -m tools.readme_figures --check   # exit 1 when a page differs from what the reports say

A block sits between `<!-- generated: NAME -->` and `<!-- end: NAME -->`; each NAME has a function below that
says which report file its figures come from.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

README = Path("README.md")


def pages() -> list[Path]:
    """The pages that may hold generated blocks: the README and every page under docs/."""
    return [README, *sorted(Path("docs").glob("*.md"))]


def load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def pct(value, digits: int = 2) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def num(value, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def tokenizer() -> str:
    t, e = load("reports/tokenize.json"), load("reports/embedding.json")
    r, fit = t["review_tokens"], t["share_fitting_whole_at_maxlen"]
    sizes = sorted(fit, key=int)
    return "\n".join([
        "From `reports/tokenize.json` and `reports/embedding.json` of the default run:", "",
        f"| vocabulary {t['vocab_size']:,} (`tokenize.vocab_size`) | |", "| --- | --- |",
        f"| training tokens covered by the vocabulary | {pct(t['train_token_coverage'], 1)} |",
        f"| out-of-vocabulary rate on test | {pct(t['test_oov_rate'], 1)} |",
        f"| review length in tokens: median / p90 / p99 / max | {r['p50']:g} / {r['p90']:g} / {r['p99']:g} / {r['max']:,} |",
        f"| reviews that fit whole at maxlen {' / '.join(sizes)} | {' / '.join(pct(fit[s], 1) for s in sizes)} |",
        f"| vocabulary words with a GloVe vector / training tokens they cover | {pct(e['vocab_coverage'], 1)} / "
        f"{pct(e['train_token_coverage'], 1)} |",
    ])


def results() -> str:
    m, b = load("reports/metrics.json"), load("reports/baseline/metrics.json")
    v = load("reports/variants.json").get("tutorials", {})
    p = __import__("yaml").safe_load(Path("params.yaml").read_text())
    t = m["test"]
    lines = ["| configuration | test accuracy | ROC AUC | out-of-domain accuracy | source |",
             "| --- | --- | --- | --- | --- |",
             f"| **default**: `{p['train']['model']}`, GloVe start, fine-tuned, vocabulary {p['tokenize']['vocab_size']:,}, "
             f"maxlen {p['maxlen']} | **{pct(t['accuracy'])}** | {num(t['roc_auc'])} | {pct(m['ood']['accuracy'], 1)} "
             "| `reports/metrics.json` |"]
    labels = {"nbsvm": "baseline `nbsvm`: binary uni+bi+trigrams, NB log-count ratios, logistic regression",
              "tfidf_logreg": "baseline `tfidf_logreg`: TF-IDF of uni+bigrams, logistic regression"}
    for name, label in labels.items():
        bt, bo = b[name]["test"], b[name]["ood"]
        lines.append(f"| {label} | {pct(bt['accuracy'])} | {num(bt['roc_auc'])} | {pct(bo['accuracy'], 1)} "
                     "| `reports/baseline/metrics.json` |")
    described = {"gap-learned": "`gap` (TensorFlow tutorial), learned embeddings, maxlen 400",
                 "flatten-glove-frozen-200-lr0.001": "`flatten` (Keras tutorials), frozen GloVe, maxlen 200, "
                                                     "learning rate 0.001",
                 "small-glove-frozen": "200 training reviews, `flatten`, maxlen 100, frozen GloVe",
                 "small-learned": "200 training reviews, `flatten`, maxlen 100, learned embeddings",
                 "maxlen-20": "default with `maxlen=20`"}
    for name, label in described.items():
        if name in v:
            row = v[name]
            lines.append(f"| {label} | {pct(row['test_accuracy'])} | {num(row['test_roc_auc'])} | "
                         f"{pct(row['ood_accuracy'], 1)} | `reports/variants.json` ({name}) |")
    margin = t["accuracy"] - b["best"]["test_accuracy"]
    lines += ["", f"Margin of the default model over the best baseline: {100 * margin:+.2f} points of test accuracy "
              f"({pct(t['accuracy'])} against {pct(b['best']['test_accuracy'])})."]
    return "\n".join(lines)


def headline() -> str:
    """The README's first lines: what the model does, on how many test reviews, against what."""
    m, b, peers = load("reports/metrics.json"), load("reports/baseline/metrics.json"), load("reports/peers.json")
    t = m["test"]
    best = max(("nbsvm", "tfidf_logreg"), key=lambda name: b[name]["test"]["accuracy"])
    names = {"nbsvm": "NBSVM", "tfidf_logreg": "TF-IDF + logistic regression"}
    fasttext = peers["results"]["fasttext"]
    return (f"On {t['n']:,} held-out test reviews the default model is right {pct(t['accuracy'])} of the time "
            f"(ROC AUC {num(t['roc_auc'], 3)}); on the same split the best classic baseline, {names[best]}, gets "
            f"{pct(b[best]['test']['accuracy'])} and fastText {pct(fasttext['test_accuracy'])}.")


def first_run() -> str:
    """The README's first screen: what the first `make repro` costs a newcomer, the install included."""
    r = load("reports/first_run.json")
    pip = "pip downloading every wheel" if r["pip_cache"] == "off" else "pip's download cache warm"
    return (f"On a fresh clone here ({r['cores']} cores), the first `make repro` took {r['seconds'] / 60:.1f} minutes: "
            f"{r['install_seconds'] / 60:.1f} to install the pinned requirements ({pip}) and "
            f"{r['pipeline_seconds'] / 60:.1f} to run the pipeline; the longest the screen stayed still was "
            f"{r['longest_silence_seconds']:g} s (`python -m tools.first_run`).")


def search() -> str:
    """The first round of choices: validation figures only (a table of choices shows no test figure)."""
    v = load("reports/variants.json")
    rows = v.get("search", {})
    d = v.get("default", {})
    lines = ["| change from the default | validation accuracy | validation loss |", "| --- | --- | --- |"]
    if d:
        lines.append(f"| none (the default) | {pct(d['val_accuracy'])} | {num(d['val_loss'])} |")
    for name, row in rows.items():
        change = ", ".join(f"`{s}`" for s in row["set"])
        lines.append(f"| {change} | {pct(row['val_accuracy'])} | {num(row['val_loss'])} |")
    return "\n".join(lines)


def seeds_summary() -> str:
    """One sentence: the default model's means over the seeds, in and out of domain."""
    s, test = load("reports/seeds.json"), load("reports/metrics.json")["test"]
    row = s["summary"]["default"]
    n, accuracy = test["n"], test["accuracy"]
    se = (accuracy * (1 - accuracy) / n) ** 0.5
    return (f"Over seeds {', '.join(map(str, s['seeds'][:-1]))} and {s['seeds'][-1]} (one test set, carved by `data.split_seed`) the default "
            f"averages {pct(row['test.accuracy']['mean'])} in domain (± {100 * row['test.accuracy']['std']:.2f}) and "
            f"{pct(row['ood.accuracy']['mean'])} out of domain (± {100 * row['ood.accuracy']['std']:.2f}), "
            f"ROC AUC {num(row['test.roc_auc']['mean'])} ([seeds](docs/models.md#variance-over-seeds)). The "
            f"{n:,} test reviews give each accuracy a standard error of about {100 * se:.1f} points: a few tenths "
            "is within the noise.")


def choices(round_: str) -> str:
    """A round of choices: validation loss per seed and its mean over the seeds, per setting."""
    report = load("reports/choices.json")[round_]["settings"]
    seeds = sorted({seed for entry in report.values() for seed in entry["seeds"]}, key=int)
    lines = ["| setting | " + " | ".join(f"seed {s}" for s in seeds) + " | mean validation loss | "
             "mean validation accuracy | epochs run |", "| --- |" + " --- |" * (len(seeds) + 3)]
    for entry in report.values():
        runs = [entry["seeds"].get(s) for s in seeds]
        cells = [num(r["val_loss"]) if r else "—" for r in runs]
        epochs = ", ".join(str(r["epochs_run"]) for r in runs if r)
        lines.append(f"| {', '.join(f'`{x}`' for x in entry['set'])} | " + " | ".join(cells)
                     + f" | {num(entry.get('mean_val_loss'))} | {pct(entry.get('mean_val_accuracy'))} | {epochs} |")
    return "\n".join(lines)


def current_value(dotted: str):
    value = yaml.safe_load(Path("params.yaml").read_text())
    for key in dotted.split("."):
        value = value[key]
    return value


def is_current(assignment: str) -> bool:
    """`train.nb_l2=5.0e-7` holds in params.yaml (the value compared as YAML reads it)."""
    key, _, value = assignment.partition("=")
    return current_value(key) == yaml.safe_load(value)


def choices_verdict(round_: str) -> str:
    """What a round of choices found, ranked by mean validation loss, and where params.yaml's setting stands."""
    report = load("reports/choices.json")[round_]
    ranked = sorted(report["settings"].items(), key=lambda kv: kv[1]["mean_val_loss"])
    (best, first), rest = ranked[0], ranked[1:]
    named = lambda entry: ", ".join(f"`{x}`" for x in entry["set"])  # noqa: E731
    lines = [f"Lowest mean validation loss: {named(first)} ({num(first['mean_val_loss'])}, over the seeds' "
             f"{len(first['seeds'])} validation carves)"]
    if rest:
        lines[0] += "; then " + "; ".join(f"{named(e)} (+{e['mean_val_loss'] - first['mean_val_loss']:.4f})"
                                          for _, e in rest) + "."
    base = [x for x in report["base"]]
    current = [name for name, e in ranked if all(is_current(x) for x in [*base, *e["set"]])]
    if current:
        rank = [name for name, _ in ranked].index(current[0]) + 1
        lines.append(f"params.yaml holds {named(report['settings'][current[0]])}: {'the lowest' if rank == 1 else f'rank {rank} of {len(ranked)}'}.")
    else:
        lines.append("params.yaml holds none of these settings (a later round moved the default on).")
    return " ".join(lines)


def seeds() -> str:
    s = load("reports/seeds.json")
    keys = [("test.accuracy", "test accuracy"), ("test.roc_auc", "ROC AUC"), ("ood.accuracy", "out-of-domain"),
            ("margin", "margin over best baseline")]
    lines = [f"| configuration (seeds {', '.join(map(str, s['seeds']))}) | runs | "
             + " | ".join(label for _, label in keys) + " |", "|---|---|" + "---|" * len(keys)]
    for config, row in s["summary"].items():
        cells = []
        for key, _ in keys:
            if key not in row:
                cells.append("—")
            elif key == "test.roc_auc":
                cells.append(f"{row[key]['mean']:.4f} ± {row[key]['std']:.4f}")
            else:
                cells.append(f"{100 * row[key]['mean']:.2f} ± {100 * row[key]['std']:.2f}")
        lines.append(f"| {config} | {row['runs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seeds_reading() -> str:
    """docs/models.md's reading of the seeds table: the committed run against the seeds' mean, and the margins."""
    s, m = load("reports/seeds.json"), load("reports/metrics.json")
    row = s["summary"]["default"]
    acc, ood, margin = row["test.accuracy"], row["ood.accuracy"], row["margin"]
    committed, mean = m["test"]["accuracy"], acc["mean"]
    error = acc["std"] / len(s["seeds"]) ** 0.5
    side = "above" if committed > mean else "below" if committed < mean else "at"
    return (f"The committed run (seed 42, `reports/metrics.json`: {pct(committed)}) is {side} the mean over seeds "
            f"{s['seeds'][0]}-{s['seeds'][-1]} on the same test set ({pct(mean)}, standard error "
            f"{100 * error:.2f} points over {len(s['seeds'])} seeds); out of domain the mean is {pct(ood['mean'])} "
            f"against {pct(m['ood']['accuracy'])}. The margin over the best baseline averages "
            f"{100 * margin['mean']:+.2f} points and ranges from {100 * margin['min']:+.2f} to "
            f"{100 * margin['max']:+.2f} over the seeds. The small-200 row's margin compares 200 training reviews "
            "with baselines fitted on all of them.")


def optimizer() -> str:
    t = load("reports/optimizer.json")
    lines = ["| n-gram buckets | Adam, ms per step | lazy Adam, ms per step | lazy / Adam |", "| --- | --- | --- | --- |"]
    lines += [f"| {r['buckets']:,} | {r['adam_ms']:g} | {r['lazy_adam_ms']:g} | "
              f"{r['lazy_adam_ms'] / r['adam_ms']:.2f} |" for r in t["rows"]]
    return "\n".join([*lines, "", f"`{t['command']}` on {t['cores']} cores, {t['batch_size']} reviews per step, "
                                  f"the best of three rounds of {t['steps']} steps."])


def times() -> str:
    t = load("reports/stage_times.json")
    lines = [f"`{t['command']}` (one `dvc repro -f`, each stage from DVC's line that starts it to the next one, "
             f"its bookkeeping included; {t['cores']} cores): {t['total']:g} s in all.", "", "| stage | seconds |", "| --- | --- |"]
    lines += [f"| {stage} | {seconds:g} |" for stage, seconds in t["seconds"].items()]
    if "experiment" in t:
        e = t["experiment"]
        lines += ["", f"The same run timed `dvc exp run -S {' -S '.join(e['set'])}` from a workspace up to date: "
                      f"{e['seconds']:g} s."]
    if "imports" in t:
        i = t["imports"]
        lines += ["", f"Fixed costs, timed alone in the same run: importing Keras and TensorFlow takes "
                      f"{i['tensorflow']:g} s, paid by train, evaluate and export each; Great Expectations "
                      f"{i['great_expectations']:g} s, paid by validate_raw and validate_features."]
    if "targets" in t:
        names = {"total": "forced `dvc repro`", "experiment": f"`dvc exp run -S {' -S '.join(e['set'])}`",
                 "baseline": "`baseline` stage"}
        lines += ["", "Against the targets (ratio above 1: not met): " + "; ".join(
            f"{names[k]} {v['measured']:g} s for {v['seconds']:g} s, ratio {v['ratio']:.2f}"
            for k, v in t["targets"].items()) + "."]
    return "\n".join(lines)


def times_summary() -> str:
    t = load("reports/stage_times.json")
    e = t["experiment"]
    return (f"The whole pipeline, forced, takes {t['total']:g} s on {t['cores']} cores, and `dvc exp run -S "
            f"{' -S '.join(e['set'])}` {e['seconds']:g} s (`python -m tools.stage_times`; "
            "[where the time goes](docs/models.md#time)); on a terminal every stage says what it is doing as it goes.")


def one_group(t: dict) -> str:
    n = t.get("one_row_group")
    return f", the {n}x corpus written as one Parquet row group (as pandas' `to_parquet` does)" if n else ""


def scale() -> str:
    from benchmarks.scale import MEMORY_LIMIT_GB, TIME_SLACK, table

    t = load("reports/scale.json")
    largest = max(t["factors"], key=int)
    worst_memory = max(r["peak_gb"] for r in t["factors"][largest].values())
    worst_time, stage, factor = max((r["time_ratio"] / int(f), stage, f) for f, rows in t["factors"].items()
                                    for stage, r in rows.items())
    return "\n".join([
        f"`{t['command']}` on {t['cpus']} cores, {t['reviews_per_copy']:,} reviews per copy, training capped at "
        f"{t['epochs']} epoch{'s' if t['epochs'] > 1 else ''}{one_group(t)}; each cell is seconds / peak GB, and in brackets "
        "the ratios to 1x:", "",
        table(t["factors"]), "",
        f"Targets: at most {MEMORY_LIMIT_GB:g} GB per stage, time at most {TIME_SLACK:g} x N times 1x. "
        f"{'Met' if t['met'] else 'NOT met'}: the largest peak at {largest}x is {worst_memory:.2f} GB, and the "
        f"fastest-growing time is {stage} at {factor}x, {worst_time:.2f} x N times its 1x time."])


def scale_spark() -> str:
    from benchmarks.scale import engine_table

    t = load("reports/scale_spark.json")
    largest = max(t["factors"], key=int)
    rows = t["factors"][largest]["stages"].values()
    local, spark = (sum(r[e]["seconds"] for r in rows) for e in ("local", "spark"))
    files = sum(r["files_compared"] for r in t["factors"].values())
    return "\n".join([
        f"`{t['command']}` on {t['cpus']} cores, Spark master `{t['master']}`, {t['reviews_per_copy']:,} reviews per "
        f"copy{one_group(t)}; each cell is seconds / peak GB of the stage's process with all its descendants (Spark's JVM and "
        "Python workers), and for Spark its time over the local engine's:", "",
        engine_table(t["factors"]), "",
        f"At {largest}x Spark took {spark:.0f} s against {local:.0f} s for the local engine ({spark / local:.1f} "
        f"times as long). Outputs: {files} files compared over all sizes, "
        + ("every one byte-identical between the engines." if t["identical"] else
           "NOT all identical: " + "; ".join(f"{f}x: {', '.join(r['different_files'])}"
                                             for f, r in t["factors"].items() if r["different_files"]))])


def scale_summary() -> str:
    """The README's lines on scale, from both benchmark reports."""
    local, spark = load("reports/scale.json"), load("reports/scale_spark.json")
    largest = max(local["factors"], key=int)
    peak = max(r["peak_gb"] for r in local["factors"][largest].values())
    f = max(spark["factors"], key=int)
    rows = spark["factors"][f]["stages"].values()
    seconds = {e: sum(r[e]["seconds"] for r in rows) for e in ("local", "spark")}
    return (f"`make bench-scale`: at {largest}x IMDB ({int(largest) * local['reviews_per_copy']:,} reviews, "
            f"{'one Parquet row group' if str(local.get('one_row_group')) == largest else 'a row group per copy'}) "
            f"the largest peak of a stage was {peak:.2f} GB. `make bench-scale-spark`: at {f}x on `local[2]` the data "
            f"stages took {seconds['spark']:.0f} s on Spark against {seconds['local']:.0f} s on the local engine "
            f"({seconds['spark'] / seconds['local']:.1f} times as long), with "
            + ("identical outputs." if spark["identical"] else "outputs that DIFFER."))


# The test bed's cases (tests/test_testbed.py) as docs/scale.md describes them, each with its test
TESTBED_SPARK = {
    "test_data_stages_across_hosts_write_the_local_engines_bytes":
        ("the data stages across the hosts", "every output equals the local engine's, byte for byte; both worker "
                                             "hosts ran executors"),
    "test_a_worker_lost_mid_stage_and_the_stage_still_writes_the_same_bytes[worker killed]":
        ("`worker2` killed mid-stage (every process of the host)", "Spark runs its tasks again on `worker1`; the "
                                                                   "report equals the local engine's"),
    "test_a_worker_lost_mid_stage_and_the_stage_still_writes_the_same_bytes[link cut]":
        ("`worker2`'s link cut mid-stage", "the driver loses the executor after `spark.network.timeout` (12 s in "
                                           "the test), the stage finishes with the same bytes"),
    "test_every_worker_lost_mid_stage_is_one_line_within_the_timeout":
        ("every worker lost mid-stage", "one line, `engine.spark.master 'spark://198.18.0.11:7077': no live "
                                        "executor for 15 s (engine.spark.start_timeout) ...`, exit 1, nothing written"),
    "test_bad_storage_across_hosts_is_one_line_and_the_secret_is_never_shown[the store's host cut off]":
        ("the store's host cut off", "one line naming the storage address and the endpoint, within "
                                     "`engine.spark.storage_timeout` (8 s in the test)"),
    "test_bad_storage_across_hosts_is_one_line_and_the_secret_is_never_shown[a wrong secret]":
        ("a wrong secret", "one line, `access to the bucket dvc is refused`, the secret never shown"),
}
TESTBED_TRAINING = {
    "test_two_hosts_train_one_model_from_clones_filled_by_dvc_pull":
        ("two clones filled by `dvc pull` from the store, `train.distribute: multi_worker`",
         "both finish, only the chief writes the model, validation accuracy within a point of one process's"),
    "test_a_peer_lost_mid_training_ends_the_other_in_one_line_and_keeps_the_last_model[the other host's trainer killed]":
        ("the non-chief's trainer killed mid-training", "the chief ends in one line naming `worker 1 "
                                                        "(198.18.0.22:2222)`, exit 1, its last model kept"),
    "test_a_peer_lost_mid_training_ends_the_other_in_one_line_and_keeps_the_last_model[the other host cut off]":
        ("the chief's host cut off mid-training", "the other worker ends in one line naming `worker 0 "
                                                  "(198.18.0.21:2222)` within `train.peer_timeout`"),
    "test_predict_out_on_the_cluster_scores_as_the_local_engine":
        ("`predict --file --out --engine spark` on the driver", "the file and the model staged in the store, "
                                                                "scored on a worker host; the scores equal the local engine's"),
}


def testbed_table(cases: dict) -> str:
    report = load("reports/testbed.json")
    lines = ["| case | what happens (tested) | seconds of the test |", "| --- | --- | --- |"]
    for test, (case, what) in cases.items():
        lines.append(f"| {case} | {what} | {report['tests'][test]['call']:g} |")
    return "\n".join(lines)


def testbed_summary() -> str:
    """The README's line on the test bed: how long its tests took, from reports/testbed.json."""
    report = load("reports/testbed.json")
    calls = {name: r["call"] for name, r in report["tests"].items()}
    setup = sum(r["setup"] for r in report["tests"].values())
    return (f"`make testbed-times` ({report['cores']} cores): {len(calls)} tests in {sum(calls.values()) + setup:.0f} s, "
            f"{setup:.0f} s of it bringing the hosts, the store, the Spark daemons and the training clones up; the "
            f"data stages across the hosts took {calls[next(iter(TESTBED_SPARK))]:g} s (local and Spark runs of the "
            f"six stages), a worker killed mid-stage "
            f"{calls['test_a_worker_lost_mid_stage_and_the_stage_still_writes_the_same_bytes[worker killed]']:g} s, "
            f"training on two hosts {calls[next(iter(TESTBED_TRAINING))]:g} s.")


# The targets of docs/data.md's tokenizer benchmark: (task, baseline) -> ratio, or seconds for ours at most
TEXT_TARGETS = {("1. tokenize + pad", "legacy Keras Tokenizer + pad_sequences"): ("ratio", 4.0),
                ("1. tokenize + pad", "TextVectorization adapt + call on NumPy"): ("ratio", 15.0),
                ("2. embedding matrix from loaded vectors", "tutorial dict + loop"): ("seconds", 1.0),
                ("3. parse a 400,000-line GloVe text file", "tutorial per-line loop"): ("ratio", 5.0)}


def text_bench() -> str:
    """docs/data.md's tokenizer benchmark as `make bench` printed it (reports/text_to_tensors.json), and its targets."""
    from benchmarks.text_to_tensors import line

    r = load("reports/text_to_tensors.json")
    lines, task = ["```", f"$ {r['command']}", r["header"]], None
    for row in r["rows"]:
        if row["task"] != task:
            task = row["task"]
            lines.append(task)
        lines.append(line(row))
    lines += ["```", ""]
    verdicts = []
    for row in r["rows"]:
        kind, target = TEXT_TARGETS[(row["task"], row["baseline"])]
        ratio = row["baseline_seconds"] / row["ours_seconds"]
        if kind == "ratio":
            verdicts.append(f"{row['task'][3:]} against {row['baseline']}: {ratio:.1f}x faster (target {target:g}x, "
                            f"{'met' if ratio >= target else 'not met'})")
        else:
            verdicts.append(f"{row['task'][3:]}: {row['ours_seconds']:g} s (target under {target:g} s, "
                            f"{'met' if row['ours_seconds'] < target else 'not met'})")
    lines.append("Against the targets set for this project: " + "; ".join(verdicts) + ".")
    return "\n".join(lines)


def pr_examples() -> str:
    """The head of two real pull-request reports (verdict, checks, metrics), as `make report` wrote them."""
    out = []
    for name, what in (("pass", "the committed workspace, `make report BASE=HEAD`"),
                       ("fail", "the workspace after `dvc exp run -S maxlen=20`, `make report BASE=HEAD`")):
        path = f"reports/pr_examples/{name}.md"
        text = Path(path).read_text(encoding="utf-8")
        head = text.split("\n## Params", 1)[0].rstrip()
        out += [f"On {what} (`{path}`, the whole report):", "", "```markdown", head, "```", ""]
    return "\n".join(out).rstrip()


def pr_verdicts() -> str:
    """The verdict and check lines of the same two reports, for the README."""
    out = []
    for name, what in (("pass", "The committed workspace against HEAD"),
                       ("fail", "After `dvc exp run -S maxlen=20`, against HEAD")):
        path = f"reports/pr_examples/{name}.md"
        head = Path(path).read_text(encoding="utf-8").split("\n## ", 1)[0].rstrip()
        out += [f"{what} (`{path}`):", "", "```markdown", head, "```", ""]
    return "\n".join(out).rstrip()


def peers() -> str:
    """The peer benchmark's table, from reports/peers.json."""
    from benchmarks.peers import table

    t = load("reports/peers.json")
    d = t["results"]["default"]
    best_ood = max((r["ood_accuracy"], name) for name, r in t["results"].items() if name != "default")
    return "\n".join([
        f"`{t['command']}` on {t['cores']} cores: every peer fitted on the model's training split "
        f"({t['split']['train']:,} reviews, hyper-parameters chosen on its {t['split']['validation']:,} validation "
        f"reviews, then refitted on all {t['split']['train'] + t['split']['validation']:,}), the default model "
        "trained in the same run; ratios are to the default model:", "", table(t), "",
        f"The default model: {100 * d['test_accuracy']:.2f}% in domain and {100 * d['ood_accuracy']:.1f}% out of "
        f"domain in {d['train_seconds']:g} s; the best peer out of domain is {best_ood[1]} at "
        f"{100 * best_ood[0]:.1f}%."])


def neighbour_lists(markdown: str) -> dict[str, tuple[list[str], list[str]]]:
    """Probe word -> (GloVe neighbours, trained neighbours), in order, from reports/neighbours.md."""
    lists = {}
    for section in markdown.split("\n## ")[1:]:
        probe, *lines = section.splitlines()
        body = lines[next(i for i, line in enumerate(lines) if line.startswith("| ---")) + 1:]  # under the header
        rows = [[cell.strip().rsplit(" (", 1)[0] for cell in line.strip("|").split("|")]
                for line in body if line.startswith("| ") and "(" in line]
        if rows:
            lists[probe.strip()] = ([r[0] for r in rows], [r[1] for r in rows])
    return lists


def neighbours_example() -> str:
    """docs/models.md's sentence on how training moved the probe words' neighbours, from reports/neighbours.md."""
    lists = neighbour_lists(Path("reports/neighbours.md").read_text())
    first, (glove, trained) = next(iter(lists.items()))
    kept = [len(set(g) & set(t)) for g, t in lists.values()]
    return (f'In the default run, "{first}" has GloVe neighbours {", ".join(glove[:4])} and trained neighbours '
            f'{", ".join(trained[:4])}; over the {len(lists)} probe words, {sum(kept)} of {sum(len(t) for _, t in lists.values())} '
            f"trained neighbours ({', '.join(map(str, kept))} of {len(glove)} per word) were GloVe neighbours too.")


def predict_example() -> str:
    """The predict command on export.examples and what it prints (reports/predict_examples.tsv, made by `export`
    with predict's own scoring), its two lines of standard error included."""
    import shlex

    examples = yaml.safe_load(Path("params.yaml").read_text())["export"]["examples"]
    quoted = " ".join(f'"{t}"' if not set(t) & set('"$`\\!') else shlex.quote(t) for t in examples)
    model = "models/raw_text_model.keras"
    return "\n".join(["```", f"$ python -m stages.predict {quoted}", f"predict: loading TensorFlow and {model}",
                      f"predict: scoring with {model}, the version committed at <commit>",
                      Path("reports/predict_examples.tsv").read_text().rstrip("\n"), "```"])


HANDLED_BY = ("tests.test_bad_inputs", "tests.test_predict_streams", "tests.test_interrupts", "tests.test_example")


def problems_handled() -> str:
    """docs/data.md's classes of problems, each with the test cases that cause it (tests/handled.py)."""
    import importlib

    for module in HANDLED_BY:  # each registers its cases when imported
        importlib.import_module(module)
    from tests.handled import CASES, CLASSES

    order = [m.removeprefix("tests.") for m in HANDLED_BY]
    cases = sorted(CASES, key=lambda c: order.index(c[2]))  # the same page whatever order the tests were imported in
    modules = sorted({m for _, _, m in cases})
    lines = [f"Classes of problems handled this way: {len(cases)} cases, each caused for real by a test "
             f"({', '.join(f'`tests/{m}.py`' for m in modules)}), which checks the exit status, the message, "
             "that no traceback and no temporary is left, and that nothing was half-written:", ""]
    for group, description in CLASSES.items():
        names = [name for g, name, _ in cases if g == group]
        if names:
            lines.append(f"- **{group}**: {description}. Cases: {', '.join(names)}.")
    return "\n".join(lines)


BLOCKS = {"tokenizer": tokenizer, "results": results, "search": search, "seeds": seeds,
          "choices_round3": lambda: choices("round 3"), "choices_round4": lambda: choices("round 4"),
          "choices_verdict_round3": lambda: choices_verdict("round 3"),
          "choices_verdict_round4": lambda: choices_verdict("round 4"),
          "optimizer": optimizer,
          "seeds_summary": seeds_summary, "times": times, "times_summary": times_summary, "scale": scale,
          "scale_spark": scale_spark, "scale_summary": scale_summary, "pr_examples": pr_examples,
          "pr_verdicts": pr_verdicts, "peers": peers, "problems_handled": problems_handled,
          "predict_example": predict_example, "headline": headline, "first_run": first_run, "neighbours_example": neighbours_example,
          "testbed_spark": lambda: testbed_table(TESTBED_SPARK), "testbed_training": lambda: testbed_table(TESTBED_TRAINING),
          "testbed_summary": testbed_summary, "text_bench": text_bench, "seeds_reading": seeds_reading}
PATTERN = re.compile(r"(<!-- generated: (\w+) -->\n)(?:.*?\n)?(<!-- end: \2 -->)", re.S)


def regenerate(text: str) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in BLOCKS:
            raise KeyError(f"README block {name!r} has no generator in tools/readme_figures.py")
        return match.group(1) + BLOCKS[name]() + "\n" + match.group(3)

    return PATTERN.sub(fill, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    for page in pages():
        try:
            text = page.read_text(encoding="utf-8")
            new = regenerate(text)
        except FileNotFoundError as e:  # run outside the repository, or before the run that writes a report
            print(f"readme_figures: {e.filename} not found; run from the repository root after `make repro`",
                  file=sys.stderr)
            return 1
        if new != text:
            stale.append(str(page))
            if not args.check:
                page.write_text(new, encoding="utf-8")
    if args.check and stale:
        print(f"{', '.join(stale)} differ from the reports; run `python -m tools.readme_figures`", file=sys.stderr)
        return 1
    if not args.check:
        print(f"readme_figures: {len(stale)} of {len(pages())} pages regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
