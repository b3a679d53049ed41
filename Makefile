# `make demo` and `make test` are the README's two quick-start commands: each installs what it
# needs (a venv with the package, and Chromium + chromedriver on Debian/Ubuntu when missing).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install browser demo test lint bench clean

$(BIN)/consolescrape: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" \
		--config-settings editable_mode=compat
	touch $@

install: $(BIN)/consolescrape browser

browser:
	@scripts/install-browser

demo: install
	$(BIN)/consolescrape demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/history.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
