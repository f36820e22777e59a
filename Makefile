# `make serve` and `make test` set everything up themselves on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# .python-version selects 3.12 for pyenv's shims; plain python3.12 elsewhere.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help serve test lint format clean ensure-redis-server ensure-chromium bench embed-edge-function

help:
	@echo "make serve   run the optimizer locally on http://127.0.0.1:3000 (sample images, memory cache)"
	@echo "make test    lint and run the whole test suite"
	@echo "make bench   run the benchmarks and print their tables"
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

# The tests start their own redis-server; install Debian's when the machine has none.
ensure-redis-server:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server (Debian package)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

# The playground's tests drive Debian's Chromium with Playwright (which downloads no browser).
ensure-chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (Debian package)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test: lint ensure-redis-server ensure-chromium
	$(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks print tables; pinned to one core so that runs compare.
bench: $(STAMP) ensure-redis-server
	taskset -c 0 $(BIN)/python tests/benchmarks/pipeline.py
	taskset -c 0 $(BIN)/python tests/benchmarks/cache_hit.py

# template.yaml carries the CloudFront Function's code inline; this copies it from its file.
embed-edge-function: $(STAMP)
	$(BIN)/python functions/edge/embed_in_template.py

format: $(STAMP)
	$(BIN)/ruff format functions tests
	$(BIN)/ruff check --fix functions tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
