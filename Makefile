# `make demo` and `make test` are the README's two quick-start commands: each installs what it
# needs (a venv with the package, and Chromium + chromedriver on Debian/Ubuntu when missing).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install browser display demo test lint bench clean

$(BIN)/consolescrape: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" \
		--config-settings editable_mode=compat
	touch $@

install: $(BIN)/consolescrape browser

browser:
	@scripts/install-browser

# The tests also run the visible-window login, on a virtual screen.
display:
	@scripts/install-browser --display

demo: install
	$(BIN)/consolescrape demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two workers per core: most of a test's time is spent waiting on a browser, a subprocess or a
# deadline (measured: 1.1 of the 2 cores busy with two workers; four take the suite from ~255 s
# to ~185 s here). Tests that share a machine-wide resource name an xdist_group.
# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set (into the ignored __pycache__/):
# the suite starts over a hundred interpreters of ours (the rest fork from a warm one:
# tests/support/warm.py), and each would compile the package again (measured when all ~400 were
# new interpreters: 127 s → 117 s for the suite; each worker's collection 1.7 s → 0.7 s).
test: lint display
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n 4 --dist loadgroup

bench: install
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/cost.py
	$(BIN)/python benchmarks/history.py
	$(BIN)/python benchmarks/site_conditions.py
	$(BIN)/python benchmarks/oauth.py
	$(BIN)/python benchmarks/status_line.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
