# The two commands a new user needs (see README.md):
#   make demo   - install, then predict a tumor with the bundled model on an example
#   make test   - install (with test tools), then lint, type-check and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint typecheck bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/tumorscope demo --out demo_output

lint: install
	$(BIN)/ruff check tumorscope tests bench

typecheck: install
	$(BIN)/mypy tumorscope

test: install lint typecheck
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/seg_inference.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache .mypy_cache .ruff_cache
