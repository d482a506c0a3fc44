# Every target creates .venv and installs the project into it when missing,
# so `make demo` or `make test` alone works on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test run lint worker migrate seed-demo bench format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# make demo PHONE=+79990000002 plays Петров (the demo accounts are listed at start).
PHONE ?= +79990000001
demo: $(STAMP)
	$(BIN)/python -m bot demo --phone $(PHONE)

run: $(STAMP)
	$(BIN)/python -m bot run

worker: $(STAMP)
	$(BIN)/python -m bot worker

migrate: $(STAMP)
	$(BIN)/python -m bot migrate

seed-demo: $(STAMP)
	$(BIN)/python -m bot seed-demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot handlers dialogs services storage tgsandbox bench
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
