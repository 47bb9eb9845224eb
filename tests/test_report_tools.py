"""What people see: Mermaid charts for the pull-request comment, offline plot pages and pictures, `make compare`."""
import json
import re
import sys

import numpy as np
import pytest

from tests.conftest import REPO


def dvclive_tsv(column, values):
    return ("step\t" + column + "\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(values))).encode()


def fake_revisions():
    from stages.lib.metrics import curve_points

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    files = {}
    for rev, noise in (("base", 0.35), ("workspace", 0.25)):
        p = np.clip(y + rng.normal(0, noise, 400), 0, 1)
        roc, prc = curve_points(y, p)
        names = np.array(["negative", "positive"])
        files[rev] = {
            "reports/train/plots/metrics/train/loss.tsv": dvclive_tsv("loss", [0.6, 0.4, 0.3]),
            "reports/train/plots/metrics/eval/loss.tsv": dvclive_tsv("loss", [0.62, 0.5, 0.52]),
            "reports/plots/roc.json": json.dumps({"roc": roc}).encode(),
            "reports/plots/precision_recall.json": json.dumps({"prc": prc}).encode(),
            "reports/plots/confusion.csv": ("actual,predicted\n" + "".join(
                f"{names[a]},{names[int(b > 0.5)]}\n" for a, b in zip(y, p))).encode(),
        }
    files["base"]["reports/train/plots/metrics/train/loss.tsv"] = dvclive_tsv("loss", [0.7, 0.5])  # fewer epochs
    files["base"]["reports/train/plots/metrics/eval/loss.tsv"] = dvclive_tsv("loss", [0.7, 0.6])
    return files, y


def mermaid_lines(block):
    return [[float(v) for v in m.split(", ")] for m in re.findall(r"^    line \[(.*)\]$", block, re.M)]


def test_mermaid_charts_of_two_revisions():
    from tools.mermaid_plots import CURVE_GRID, charts

    files, y = fake_revisions()
    blocks = charts(lambda rev, path: files[rev].get(path))
    # one chart per quantity, base and workspace in it, on the epochs both ran (counted from 1)
    [loss] = [b for b in blocks if '"Loss per epoch"' in b]
    assert loss.startswith("```mermaid") and "xychart-beta" in loss and 'x-axis "epoch" [1, 2]' in loss
    # measured points only, nothing carried forward: the workspace's third epoch is named under the chart
    assert mermaid_lines(loss) == [[0.7, 0.5], [0.7, 0.6], [0.6, 0.4], [0.62, 0.5]]
    assert "Lines: 🟦 base, train · 🟧 base, validation · 🟩 workspace, train · 🟥 workspace, validation" in loss
    assert loss.endswith("The chart shows epochs 1-2, which both runs have (workspace ran 3); epochs 3 on: "
                         "workspace, train: 0.3; workspace, validation: 0.52.")
    assert not any('"Accuracy per epoch' in b for b in blocks)  # no accuracy files, no chart

    [roc] = [b for b in blocks if '"ROC curve (test set)"' in b]
    assert len(mermaid_lines(roc)) == 2 and "Lines: 🟦 base · 🟧 workspace" in roc
    for line in mermaid_lines(roc):
        assert len(line) == len(CURVE_GRID) and line == sorted(line) and line[-1] == 1.0  # tpr never falls
    assert re.search(r'^    y-axis "tpr" 0 --> 1$', roc, re.M)  # rates stay within [0, 1]
    [prc] = [b for b in blocks if '"Precision-recall curve (test set)"' in b]
    assert all(line == sorted(line, reverse=True) for line in mermaid_lines(prc))  # interpolated precision

    table = next(b for b in blocks if b.startswith("Confusion matrix"))
    counts = [[int(c) for c in row.split(" | ")] for row in re.findall(r"^\| (?:negative|positive) \| (.*) \|$",
                                                                           table, re.M)]
    assert np.array(counts).sum() == 2 * len(y)  # both revisions, every review once
    assert np.array(counts)[:, 2:].sum(axis=1).tolist() == [int((y == 0).sum()), int((y == 1).sum())]


def test_mermaid_chart_refuses_lines_of_other_lengths():
    from tools.mermaid_plots import line_chart

    with pytest.raises(AssertionError):
        line_chart("t", "epoch", [1, 2, 3], "loss", {"train": [0.5, 0.4]})


def test_a_run_much_longer_than_the_other_is_pointed_to_not_listed():
    from tools.mermaid_plots import further_epochs

    series = {"base, train": [0.5] * 3, "workspace, train": [0.4] * 12}
    assert further_epochs(series, 3) == ("\n\nThe chart shows epochs 1-3, which both runs have (workspace ran 12); "
                                         "the whole curves are in `dvc plots diff`'s page.")
    assert further_epochs({"base, train": [0.5] * 3}, 3) == ""


def test_confusion_table_reads_old_zero_one_files():
    from tools.mermaid_plots import confusion_table

    table = confusion_table({"base": b"actual,predicted\n0,0\n1,0\n1,1\n", "workspace": None})
    assert "| negative | 1 | 0 | — | — |" in table and "| positive | 1 | 1 | — | — |" in table


def test_offline_page_has_vega_inline_and_nothing_to_download():
    from tools.offline_plots import offline_page

    page = offline_page()
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "<script src" not in page and "cdn." not in page
    assert "window.vegaEmbed" in page


def test_templates_render_counts_class_names_and_whole_epochs():
    """The project's Vega-Lite templates, filled as DVC fills them, rendered by Vega itself (vl-convert)."""
    import vl_convert
    from dvc_render.vega import VegaRenderer

    # a 3-epoch workspace against a 5-epoch base, as `dvc plots diff` gives them: DVCLive's steps start at 0
    rows = [{"step": str(s), "loss": str(v), "rev": rev, "filename": "train/loss.tsv"}  # read from .tsv: text
            for rev, values in (("workspace", [0.6, 0.4, 0.35]), ("main", [0.7, 0.5, 0.4, 0.3, 0.2]))
            for s, v in enumerate(values)]
    epochs = VegaRenderer(rows, "loss", template="epochs", template_dir=str(REPO / ".dvc/plots"), x="step", y="loss",
                          title="Loss per epoch", x_label="epoch")
    svg = vl_convert.vegalite_to_svg(epochs.get_filled_template())
    texts = re.findall(r">([^<>]+)</text>", svg)
    assert "Loss per epoch" in svg
    assert texts[:texts.index("epoch")] == ["1", "2", "3", "4", "5"]  # whole epochs from 1, each once
    # measured points only: 3 + 5 point marks, base and workspace by marker shape as well as colour
    points = re.findall(r'aria-label="epoch: (\d+); loss: [\d.]+; rev: (\w+);[^"]*" role="graphics-symbol" '
                        r'aria-roledescription="point"[^>]* d="([^"]+)"', svg)
    assert sorted((rev, int(e)) for e, rev, _ in points) == [("main", e) for e in range(1, 6)] + [
        ("workspace", e) for e in range(1, 4)]
    assert len({shape for _, _, shape in points}) == 2 and "rev (marker)" in texts

    rows = [{"actual": a, "predicted": p, "rev": "workspace"}
            for a, p, n in (("negative", "negative", 7), ("negative", "positive", 2), ("positive", "negative", 3),
                            ("positive", "positive", 11)) for _ in range(n)]
    confusion = VegaRenderer(rows, "confusion", template="confusion_counts", template_dir=str(REPO / ".dvc/plots"),
                             x="predicted", y="actual", title="Confusion matrix")
    svg = vl_convert.vegalite_to_svg(confusion.get_filled_template())
    texts = re.findall(r">([^<>]+)</text>", svg)
    assert {"7", "2", "3", "11"} <= set(texts)  # counts written in the cells without ticking anything
    assert {"negative", "positive"} <= set(texts)


def exp_row(name, rev, model, maxlen, accuracy, baseline, seed=42):
    return {"name": name, "rev": rev,
            "params": {"train.model": model, "maxlen": maxlen, "tokenize.vocab_size": 50000, "seed": seed,
                       "embedding.pretrained": True, "embedding.trainable": True, "train.max_train_samples": None},
            "metrics": {"reports/metrics.json": {"test.accuracy": accuracy, "test.roc_auc": 0.97, "ood.accuracy": 0.73},
                        "reports/baseline/metrics.json": {"best.test_accuracy": baseline}}}


def test_compare_is_one_narrow_line_per_experiment():
    from tools.compare import table

    rows = [exp_row("workspace", "", "nb_fasttext", 800, 0.9202, 0.918),
            exp_row("main", "977c31b", "nb_fasttext", 800, 0.9202, 0.918),
            exp_row("a-very-long-experiment-name-from-a-sweep", "a5e1d3a", "fasttext", 20, 0.7208, 0.918)]
    text = table(rows).splitlines()
    assert len(text) == 2 + len(rows) and max(map(len, text)) <= 160
    header = text[0].split()
    assert header[:3] == ["Experiment", "model", "maxlen"] and "vocab" not in header  # only params that differ
    assert text[4].split()[-1] == "-0.1972" and text[2].split()[-1] == "+0.0022"


def test_experiment_rows_from_dvc_json_skip_running_and_failed():
    from tools.experiments import rows
    from tools.seeds import experiments, summarise

    def entry(name, accuracy, seed, state=None):
        data = {"rev": "workspace" if state == "running" else "abc1234def",
                "params": {"params.yaml": {"data": {"seed": seed, "train": {"model": "nb_fasttext"}}}},
                "metrics": {"reports/metrics.json": {"data": {"test": {"accuracy": accuracy, "roc_auc": 0.97},
                                                              "ood": {"accuracy": 0.73}}},
                            "reports/baseline/metrics.json": {"data": {"best": {"test_accuracy": 0.918}}}}}
        return {"revs": [{"rev": "abc1234def", "name": name, "data": data, "error": None, "experiments": None}],
                "executor": None if state is None else {"state": state}, "name": name}

    show = [{"rev": "workspace", "name": None, "error": None, "experiments": None,
             "data": {"rev": "workspace", "params": {}, "metrics": {"reports/metrics.json": {"data": {}}}}},
            {"rev": "f" * 40, "name": "main", "error": None, "data": None,
             "experiments": [entry("default-seed1", 0.92, 1), entry("default-seed2", 0.924, 2),
                             entry("default-seed3", 0.5, 3, state="running"),
                             entry("default-seed4", 0.5, 4, state="failed")]}]
    found = {r["name"]: r for r in rows(show)}
    assert set(found) == {"workspace", "default-seed1", "default-seed2"}
    assert found["default-seed1"]["params"]["train.model"] == "nb_fasttext"
    summary = summarise(experiments(list(found.values())), [1, 2, 3, 4, 5])
    assert summary["default"]["runs"] == 2
    assert summary["default"]["test.accuracy"]["mean"] == pytest.approx(0.922)
    assert summary["default"]["test.accuracy"]["std"] == pytest.approx(np.std([0.92, 0.924], ddof=1), abs=1e-6)
    assert summary["default"]["margin"]["mean"] == pytest.approx(0.004)
    assert summary["small-200"]["runs"] == 0


def test_choices_average_validation_loss_over_seeds_and_render_a_table(monkeypatch, tmp_path):
    """tools.choices: the newest run of each name counts; a setting gets a mean only when every seed ran."""
    from tools import choices, readme_figures

    def row(name, loss, accuracy=0.92, epochs=6):
        return {"name": name, "rev": "abc1234", "params": {},
                "metrics": {choices.TRAIN_METRICS: {"eval.loss": loss, "eval.accuracy": accuracy, "epochs_run": epochs}}}

    settings = {"a": ["train.nb_l2=1.0e-6"], "b": ["train.nb_l2=5.0e-7"]}
    rows = [row(choices.experiment_name("a", s), 0.2 + s / 100) for s in choices.SEEDS]
    rows.append(row(choices.experiment_name("a", 1), 9.0))  # an older run of the same name: not counted
    rows += [row(choices.experiment_name("b", s), 0.1) for s in choices.SEEDS[:-1]]
    report = choices.summarise(rows, settings)
    assert report["a"]["mean_val_loss"] == pytest.approx(0.23)
    assert report["a"]["seeds"]["1"]["val_loss"] == pytest.approx(0.21)
    assert "mean_val_loss" not in report["b"] and len(report["b"]["seeds"]) == len(choices.SEEDS) - 1

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/choices.json").write_text(json.dumps({"round 9": {"base": [], "settings": report}}))
    monkeypatch.chdir(tmp_path)
    lines = readme_figures.choices("round 9").splitlines()
    assert len(lines) == 2 + len(settings)
    assert lines[2].startswith("| `train.nb_l2=1.0e-6` | 0.2100 |") and "| 0.2300 | 92.00% | 6, 6, 6, 6, 6 |" in lines[2]
    assert lines[3].split(" | ")[-4:] == ["—", "—", "—", "6, 6, 6, 6 |"]


def test_a_round_of_choices_leaves_the_other_rounds_in_the_report(monkeypatch, tmp_path):
    from tools import choices

    rounds = {"old": {"base": ["train.nb_l2=0.0"], "settings": {"x": ["train.dropout=0.2"]}},
              "new": {"base": [], "settings": {"y": ["train.dropout=0.4"]}}}
    monkeypatch.setattr(choices, "ROUNDS", rounds)
    monkeypatch.setattr(choices, "REPORT", tmp_path / "choices.json")
    runs = [{"name": choices.experiment_name("y", s), "rev": "abc1234", "params": {}, "metrics": {
        choices.TRAIN_METRICS: {"eval.loss": 0.2, "eval.accuracy": 0.9, "epochs_run": 4}}} for s in choices.SEEDS]
    monkeypatch.setattr(choices, "dvc_rows", lambda *args: runs)
    earlier = {"base": ["train.nb_l2=0.0"], "settings": {"x": {"set": ["train.dropout=0.2"], "seeds": {}}}}
    choices.REPORT.write_text(json.dumps({"new": {"base": [], "settings": {}}, "old": earlier}))
    assert choices.main(["--summary-only"]) == 0  # the last round by default
    report = json.loads(choices.REPORT.read_text())
    assert list(report) == ["old", "new"] and report["old"] == earlier
    assert report["new"]["settings"]["y"]["mean_val_loss"] == pytest.approx(0.2)


def test_variants_of_one_group_leave_the_other_groups_in_the_report(monkeypatch, tmp_path):
    from tools import variants

    monkeypatch.setattr(variants, "VARIANTS", {"old": {"x": ["maxlen=10"]}, "new": {"y": ["maxlen=20"]}})
    monkeypatch.setattr(variants, "REPORT", tmp_path / "variants.json")
    metrics = {"reports/metrics.json": {"test.accuracy": 0.75, "test.roc_auc": 0.8, "ood.accuracy": 0.7}}
    rows = [{"name": "y", "rev": "new1234", "params": {}, "metrics": metrics},
            {"name": "y", "rev": "old1234", "params": {}, "metrics": {}},  # older commits come later
            {"name": "workspace", "rev": "workspace", "params": {}, "metrics": metrics}]
    monkeypatch.setattr(variants, "dvc_rows", lambda *args: rows)
    monkeypatch.setattr(variants, "queue_and_run", lambda named: pytest.fail("--summary-only runs nothing"))
    earlier = {"x": {"set": ["maxlen=10"], "test_accuracy": 0.5}}
    variants.REPORT.write_text(json.dumps({"old": earlier, "new": {}}))
    assert variants.main(["--summary-only", "--group", "new"]) == 0
    report = json.loads(variants.REPORT.read_text())
    assert report["old"] == earlier and report["new"]["y"]["test_accuracy"] == 0.75
    assert "default" not in report  # the default of the other groups' day is not replaced by today's


@pytest.mark.parametrize("tool", ["compare", "pr_report"])
def test_with_no_commit_yet_the_tools_say_so_not_run_dvc_repro(tmp_path, tool):
    """A first run before the first commit has its metrics, but nothing to compare with: the message names that
    cause, not "no results" or "run dvc repro"."""
    import shutil
    import subprocess
    import sys

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "reports").mkdir()
    shutil.copy(REPO / "reports/metrics.json", tmp_path / "reports/metrics.json")
    args = ["--base", "main"] if tool == "pr_report" else []
    out = subprocess.run([sys.executable, "-m", f"tools.{tool}", *args], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert f"{tool}: the repository has no commit yet, so there is no revision to compare with" in out.stderr
    assert not (tmp_path / "reports/pr_report.md").exists()


def test_a_base_that_does_not_exist_is_named(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "tools.pr_report", "--base", "no-such-branch"], cwd=REPO,
                         capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0
    assert "pr_report: there is no git revision 'no-such-branch' here" in out.stderr


def test_the_embedding_map_is_shown_only_from_a_plain_address(monkeypatch):
    from tools.pr_report import embedding_map_section

    monkeypatch.chdir(REPO)
    good = "https://github.com/o/r/blob/0123abc/reports/embedding_map.svg?raw=true"
    assert f"![The embedding map: words before and after training, coloured by sentiment]({good})" in \
        embedding_map_section("HEAD", url=good)
    for bad in ("", "javascript:alert(1)", "https://x/a.svg) ![b](https://evil", "https://x/<img>"):
        lines = embedding_map_section("HEAD", url=bad)
        assert not any(line.startswith("![") for line in lines) and "`pipeline-report` artifact" in lines[2]


def test_stage_times_splits_one_command_at_dvcs_running_stage_lines():
    """tools.stage_times times one `dvc repro -f`: each stage from its "Running stage" line to the next one."""
    from tools.stage_times import timed_stages

    script = ("import time; print(\"Running stage 'slow':\", flush=True); time.sleep(0.6); "
              "print(\"Running stage 'quick':\", flush=True); time.sleep(0.1)")
    total, seconds = timed_stages(sys.executable, "-c", script)
    assert list(seconds) == ["slow", "quick"]
    assert seconds["slow"] >= 0.5 > seconds["quick"] >= 0.1 - 0.05
    assert total >= seconds["slow"] + seconds["quick"] - 0.1
    with pytest.raises(SystemExit, match="failed; nothing written"):
        timed_stages(sys.executable, "-c", "import sys; print(\"Running stage 'a':\"); sys.exit(3)")
