# The README's two commands: `make serve` and `make test`. Both set up first (scripts/setup is idempotent).
export NO_MKDOCS_2_WARNING := 1
VENV := .venv/bin

.PHONY: setup serve test lint build bench bench-quick experiments clean

setup:
	@scripts/setup

# Computed content and executed notebooks are cached in .cache/site/ while serving
# (never by `build` or `test`); a notebook not yet cached runs in the background.
PORT ?= 8000
serve: setup
	$(VENV)/mkdocs serve --dev-addr 127.0.0.1:$(PORT)

test: setup lint
	$(VENV)/python -m pytest

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

build: setup
	$(VENV)/mkdocs build --strict

bench: setup
	$(VENV)/python -m benchmarks

bench-quick: setup
	$(VENV)/python -m benchmarks --quick

# Re-run the experiments whose results the site shows (writes docs/assets/generated/).
experiments: setup
	$(VENV)/python -m experiments

clean:
	rm -rf site .pytest_cache test-artifacts .cache
