# Two entry points for a fresh machine with Python 3.11 and make:
#   make reproduce   the quick reproduction on the embedded synthetic cohort
#   make test        the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The one install spec (editable, with these extras); environment.yml delegates to the same
# `-e .[extras]` line (tests/test_environment.py).
PIP_EXTRAS := test,notebooks,book
STAMP  := $(VENV)/.dtb-installed

.PHONY: install test reproduce book-check lab lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e ".[$(PIP_EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

reproduce: $(STAMP)
	$(BIN)/dtb reproduce --profile quick

# every page of the built book in headless Chromium (Debian: apt-get install chromium
# chromium-driver); screenshots under results/quick/screenshots
book-check: $(STAMP)
	$(BIN)/python -m dtb.book_check book/_build/html --screenshots results/quick/screenshots

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check dtb tests benchmarks data-manifest notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/data_pipeline.py
	$(BIN)/python benchmarks/train_step.py

clean:
	rm -rf results book/_build
