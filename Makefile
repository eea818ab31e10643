# Two commands matter: `make serve` and `make test`. Both build .venv when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 8080
DATA_DIR ?= var

.PHONY: serve demo test test-deps lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml setup.py protocol/_fastpath.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,deep]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/python -m server --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

# The server and three sample sites on 127.0.0.1, nothing from the internet (scripts/demo.py).
demo: $(STAMP)
	$(BIN)/python scripts/demo.py --port $(PORT) --data-dir $(DATA_DIR)/demo

lint: $(STAMP)
	$(BIN)/ruff check protocol veritas server tests bench
	$(BIN)/ruff format --check protocol veritas server tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Debian's chromium and redis-server and the npm eventsource package, for the tests that drive them.
test-deps:
	bash scripts/install-test-deps.sh

unit: $(STAMP) test-deps
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
