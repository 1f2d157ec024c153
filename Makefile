# connmgr developer entry points. Every target runs tools from .venv, which
# `venv` creates (python3.11, else python3) and keeps installed: it reinstalls
# when pyproject.toml is newer than the stamp or the console script is missing.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON := $(shell command -v python3.11 || command -v python3)
CHECKED := src tests bench mutation
# Extra pytest arguments, e.g. make test PYTEST_ARGS='-m "not faults" -x'
PYTEST_ARGS ?=

.PHONY: venv run test lint fmt faults bench mutation FORCE

venv: $(STAMP)

# A missing console script forces a reinstall even when the stamp is fresh.
$(STAMP): pyproject.toml $(if $(wildcard $(BIN)/connmgr),,FORCE)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

FORCE:

run: venv
	$(BIN)/connmgr up

# Static checks: lint, formatting, strict types, the layering contracts.
lint: venv
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/mypy
	$(BIN)/lint-imports

# Everything CI runs; stops at, and fails with, the first failing step.
test: lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

# Rewrite formatting and apply safe lint fixes.
fmt: venv
	$(BIN)/ruff format $(CHECKED)
	$(BIN)/ruff check --fix $(CHECKED)

# Fault-injection tests only: real processes killed and restarted (slower).
faults: venv
	$(BIN)/pytest -q -m faults $(PYTEST_ARGS)

# The benchmarks print `name: value` figures (see bench/README.md); each takes minutes.
BENCHES := bench/pipeline.py bench/tester.py bench/prober.py
bench: venv
	for script in $(BENCHES); do echo "== $$script"; $(BIN)/python "$$script"; done

# Mutation testing of the core (mutmut; not part of `make test`): each module of
# mutation/modules.toml against its own fast tests; scores go to docs/mutation.md.
# make mutation MODULES='egress redaction' scores some modules only.
MODULES ?=
mutation: venv
	$(BIN)/pip install --quiet -e '.[mutation]'
	$(BIN)/python mutation/run.py $(MODULES)
