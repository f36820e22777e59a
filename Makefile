# `make serve` and `make test` set everything up themselves on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# .python-version selects 3.12 for pyenv's shims; plain python3.12 elsewhere.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help serve test lint format clean

help:
	@echo "make serve   run the optimizer locally on http://127.0.0.1:3000 (sample images, memory cache)"
	@echo "make test    lint and run the whole test suite"
	@echo "make format  format the code with ruff"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable . --group dev
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/image-optimizer serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check functions tests
	$(BIN)/ruff check functions tests

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format functions tests
	$(BIN)/ruff check --fix functions tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
