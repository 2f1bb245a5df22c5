# Everything runs from a local virtualenv that these targets create from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench screenshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Start the TUI on a fresh demo data set (temp dir, local receiver, sample macros).
demo: $(STAMP)
	$(BIN)/cctui demo

## Run the whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q --durations=25

## Lint and types (ruff: pyflakes, isort, pyupgrade, bugbear; mypy over cctui/). Settings in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## Run the benchmarks (each prints ratios against a baseline measured in the same run).
bench: $(STAMP)
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/dispatch.py
	$(BIN)/python benchmarks/tui.py      # includes tui_dispatch.py: keys during a 10k run

## Regenerate docs/images/cctui.svg (the README's picture) from the real app, fixed data and clock.
screenshot: $(STAMP)
	$(BIN)/python scripts/screenshot.py

clean:
	rm -rf $(VENV) build dist *.egg-info
