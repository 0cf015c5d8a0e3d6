# Two commands on a fresh machine: `make demo` runs the finetune job on the offline default,
# `make test` runs the tests. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENV = DAGSTER_HOME=$(CURDIR) DAGSTER_MODULE_NAME=pipeline.definitions \
       COSMOALIGN_DAGSTER_DIR=$(CURDIR)/.dagster

.PHONY: setup demo test ui lint bench constraints clean

setup: $(STAMP)

# pyproject.toml says which versions work; deploy/constraints.txt (`make constraints`) pins the
# exact ones this repo was tested with, for every runtime dependency.
$(STAMP): pyproject.toml deploy/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c deploy/constraints.txt -e '.[dev,k8s]'
	sed -i '/^# cosmoalign-env/,$$d' $(BIN)/activate
	printf '%s\n' '# cosmoalign-env: the repo instance and code location for every dagster command' \
	  'export DAGSTER_HOME="$(CURDIR)"' \
	  'export DAGSTER_MODULE_NAME=pipeline.definitions' \
	  'export COSMOALIGN_DAGSTER_DIR="$(CURDIR)/.dagster"' >> $(BIN)/activate
	touch $(STAMP)

demo: $(STAMP)
	$(ENV) $(BIN)/dagster job execute -j finetune

# Two workers: most tests wait on subprocesses, so one core alone sits idle half the time.
test: $(STAMP)
	$(ENV) $(BIN)/python -m pytest -q -n 2

ui: $(STAMP)
	env -u DAGSTER_MODULE_NAME $(ENV) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(ENV) $(BIN)/python bench/ingest.py

constraints: $(STAMP)
	$(BIN)/python deploy/constraints.py

clean:
	rm -rf .cosmoalign .dagster
