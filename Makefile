# `make serve` and `make test` set everything up themselves on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# .python-version selects 3.12 for pyenv's shims; plain python3.12 elsewhere.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
# What serving needs (the function's dependencies), and on top of it the development group.
RUNTIME := $(VENV)/.runtime-installed
DEVELOPMENT := $(VENV)/.development-installed
# terser, which minifies the CloudFront Function for the template (its tests compare the two).
EDGE_TOOLS := functions/edge/node_modules/.installed
# Reference implementations the tests compare ours with (ThumbHash's own encoder).
REFERENCE_TOOLS := tests/reference/node_modules/.installed

.PHONY: help serve test lint format clean prerequisites bench mutants generate

help:
	@echo "make serve   run the optimizer locally on http://127.0.0.1:3000 (sample images, memory cache)"
	@echo "make test    lint and run the whole test suite"
	@echo "make bench   run the benchmarks and print their tables"
	@echo "make mutants mutation testing of the contract's modules (slow; prints the score)"
	@echo "make format  format the code with ruff"
	@echo "make generate  rewrite what is derived from the parameter table (edge function, template, README)"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.12 is needed: install it (python.org, pyenv install 3.12, or your package manager's python3.12) or run make PYTHON=/path/to/python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --editable .
	touch $@

# PEP 735 dependency groups need pip 25.1 or later; a new virtualenv may carry an older one.
$(DEVELOPMENT): $(RUNTIME)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --group dev
	touch $@

serve: $(RUNTIME)
	$(BIN)/image-optimizer serve $(ARGS)

lint: $(DEVELOPMENT)
	$(BIN)/ruff format --check functions tests
	$(BIN)/ruff check functions tests

# node, redis-server and chromium: installed on Debian and Ubuntu, else named with how to get them.
prerequisites:
	@tests/prerequisites.sh

$(EDGE_TOOLS): functions/edge/package-lock.json | prerequisites
	npm ci --prefix functions/edge --no-audit --no-fund --silent
	touch $@

$(REFERENCE_TOOLS): tests/reference/package-lock.json | prerequisites
	npm ci --prefix tests/reference --no-audit --no-fund --silent
	touch $@

test: prerequisites lint $(EDGE_TOOLS) $(REFERENCE_TOOLS)
	$(BIN)/pytest $(PYTEST_ARGS)

# Mutation testing (mutmut) of the modules that carry the contract; about 45 minutes on two
# cores. Its own virtualenv: mutmut needs a newer click than the SAM CLI allows, and the project
# must not be installed there (only the staged, mutated copy may be imported).
MUTANTS_VENV := .venv-mutants
$(MUTANTS_VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PYTHON) -m venv $(MUTANTS_VENV)
	$(MUTANTS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MUTANTS_VENV)/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' > $(MUTANTS_VENV)/runtime.txt
	$(MUTANTS_VENV)/bin/python -m pip install --quiet --group mutation --requirement $(MUTANTS_VENV)/runtime.txt
	touch $@

mutants: $(MUTANTS_VENV)/.installed prerequisites
	$(MUTANTS_VENV)/bin/python tests/mutation/run.py

# Benchmarks print tables; pinned to one core so that runs compare.
bench: $(DEVELOPMENT) prerequisites
	taskset -c 0 $(BIN)/python tests/benchmarks/pipeline.py
	taskset -c 0 $(BIN)/python tests/benchmarks/animation_and_crop.py
	taskset -c 0 $(BIN)/python tests/benchmarks/edits.py
	taskset -c 0 $(BIN)/python tests/benchmarks/inputs_and_answers.py
	taskset -c 0 $(BIN)/python tests/benchmarks/cold_start/cold_start.py
	taskset -c 0 $(BIN)/python tests/benchmarks/cache_hit.py
	taskset -c 0 $(BIN)/python tests/benchmarks/purge_designs.py

# What is derived from the parameter table (image_optimizer/parameters.py): the CloudFront
# Function's data, its copy inline in template.yaml, and the README's table of parameters.
generate: $(DEVELOPMENT) $(EDGE_TOOLS)
	$(BIN)/python functions/edge/embed_in_template.py
	$(BIN)/python -m image_optimizer_cli.readme_table

format: $(DEVELOPMENT)
	$(BIN)/ruff format functions tests
	$(BIN)/ruff check --fix functions tests

clean:
	rm -rf $(VENV) $(MUTANTS_VENV) build .pytest_cache .ruff_cache .hypothesis test-artifacts
