# connmgr developer entry points. Every target runs tools from .venv, which
# `venv` creates (python3.11, else python3) and keeps installed: it reinstalls
# when pyproject.toml is newer than the stamp or the console script is missing.
# `venv` also installs node_modules (the AsyncAPI parser the contract tests run)
# from package-lock.json, again only when the lock file is newer than its stamp.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTHON := $(shell command -v python3.11 || command -v python3)
CHECKED := src tests bench mutation
# Extra pytest arguments, e.g. make test PYTEST_ARGS='-m "not faults" -x'
PYTEST_ARGS ?=

.PHONY: venv run test lint fmt faults bench mutation lock FORCE

venv: $(STAMP) $(NODE_STAMP)

# A missing console script forces a reinstall even when the stamp is fresh.
$(STAMP): pyproject.toml $(if $(wildcard $(BIN)/connmgr),,FORCE)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

FORCE:

# npm ci installs exactly the lock file; no install scripts run (none is needed).
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

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
# Each run's figures also go to a dated file in bench/results/ (--record).
BENCHES := pipeline tester prober feed console alerts scrape lists stats
bench: venv
	for name in $(BENCHES); do echo "== bench.$$name"; $(BIN)/python -m "bench.$$name" --record; done

# Mutation testing of the core (mutmut; not part of `make test`): each module of
# mutation/modules.toml against its own fast tests; scores go to docs/mutation.md.
# make mutation MODULES='egress redaction' scores some modules only.
MODULES ?=
mutation: venv
	$(BIN)/pip install --quiet -e '.[mutation]'
	$(BIN)/python mutation/run.py $(MODULES)

# The image's pinned dependencies: the base and `server` extra (never dev-stack or dev),
# for every platform, with hashes. Run after changing a dependency in pyproject.toml;
# tests/test_packaging.py fails while the lock is out of date.
lock: venv
	$(BIN)/pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --extra server --extra otlp --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command 'make lock' --quiet -o requirements.lock
