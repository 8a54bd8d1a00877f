# Two commands set everything up on a fresh machine:
#   make report   create .venv if missing, install, render the sample shop's latest full month
#   make test     the same set-up, then the whole test suite
# and `make lab` opens JupyterLab on notebooks/.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MONTH ?=
DATA ?= data/samples
OUT ?= reports

.PHONY: setup report test lab samples validate clean-reports pair test-spark bench bench-pack bench-load bench-scale bench-big bench-peers

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

report: $(STAMP)
	$(BIN)/playbook report --data $(DATA) --out $(OUT) $(if $(MONTH),--month $(MONTH),)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The Spark path (docs/spark.md): pyspark into the same .venv, then the tests marked `spark`
# (local mode; needs Java 17). Kept out of `make test`.
SPARK_STAMP := $(VENV)/.spark-installed

$(SPARK_STAMP): requirements-spark.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-spark.txt
	@touch $(SPARK_STAMP)

test-spark: $(SPARK_STAMP)
	$(BIN)/python -m pytest -q -m spark

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

samples: $(STAMP)
	$(BIN)/playbook samples --out data/samples

validate: $(STAMP)
	$(BIN)/playbook validate $(DATA)

pair: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.ipynb

clean-reports:
	rm -rf reports/

# Benchmarks (not tests; results in bench/results/). `make bench` runs them all: the pack on the
# sample shop, then shops of ~1M and ~10M order lines (generated once into bench/.data/).
SCALES ?= 12,120
bench: bench-pack bench-load bench-scale bench-peers

bench-pack: $(STAMP)
	$(BIN)/python bench/pack_bench.py

bench-load: $(STAMP)
	$(BIN)/python bench/load_bench.py

MEMORY_BUDGET ?= 6
bench-scale: $(STAMP)
	$(BIN)/python bench/scale_bench.py --scales $(SCALES) --memory-budget $(MEMORY_BUDGET)

# The ~100M-line shop (ten copies of the ~10M one, ~10 GB on disk): prepared once, then the pack.
# Not part of `make bench` (about an hour, and 35 GB of disk for the shop, its folder and reports).
bench-big: $(STAMP)
	$(BIN)/python bench/big_pack.py --scale 1200

# Peers (lifetimes, mlxtend, statsforecast) need pandas < 3: each gets its own virtualenv.
SHOP ?= bench/work/shopB12

bench/.venv-%/.installed: bench/requirements-%.txt
	@test -x bench/.venv-$*/bin/python || $(PYTHON) -m venv bench/.venv-$*
	bench/.venv-$*/bin/python -m pip install --quiet --upgrade pip
	bench/.venv-$*/bin/python -m pip install --quiet -r $<
	@touch $@

bench-peers: $(STAMP) bench/.venv-lifetimes/.installed bench/.venv-peers/.installed
	@test -f $(SHOP)/order_items.csv.gz || $(BIN)/python -m playbook.samples --out $(SHOP) --scale 12
	$(BIN)/python bench/peers_bench.py --shop $(SHOP)
