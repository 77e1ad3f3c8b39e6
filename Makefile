# Two entry points for a fresh machine with Python 3.11 and make:
#   make reproduce   the quick reproduction on the embedded synthetic cohort
#   make test        the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The one install spec (editable, with these extras); environment.yml delegates to the same
# `-e .[extras]` line (tests/test_environment.py).
PIP_EXTRAS := test,notebooks,book,lab
STAMP  := $(VENV)/.dtb-installed

.PHONY: install test reproduce own-data book-check lab-check wheelhouse gpu-check lab lint bench clean

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

# the whole chain on data that is not TCP: the synthetic cohort in BIDS-derivative layout
# (216-region atlas, TR 1.6 s, shorter task runs, task label "hariri" for Faces), reproduced
# with its book, then compared with results/quick (run `make reproduce` first)
OWN := results/own-data
own-data: $(STAMP)
	$(BIN)/dtb data synth $(OWN)/data --layout bids-derivatives --participants 64 --seed 0
	$(BIN)/dtb reproduce --data $(OWN)/data --layout bids-derivatives --task faces=hariri \
		--out $(OWN)
	$(BIN)/python -m dtb.compare_cohorts $(OWN)/quick results/quick

# every page of the built book in headless Chromium (Debian: apt-get install chromium
# chromium-driver); screenshots under SHOTS
SHOTS ?= results/quick/screenshots
book-check: $(STAMP)
	$(BIN)/python -m dtb.book_check book/_build/html --screenshots $(SHOTS)

# the twin explorer run in JupyterLab in headless Chromium on the reproduction's twin; screenshot
lab-check: $(STAMP)
	$(BIN)/python -m dtb.lab_check notebooks/explore_twin.py \
		--screenshot results/quick/screenshots/explore_twin_lab.png \
		--param results_dir $(CURDIR)/results/quick
	$(BIN)/python benchmarks/explorer_redraw.py

# wheels of the dependencies the GPU machine's image lacks (it has no network), for Python 3.12
# on x86-64 Linux, into .whl/ (about 29 MiB); benchmarks/gpu_check.sh installs them there
WHEEL_TAGS := --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
	--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
	--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	--platform manylinux1_x86_64 --platform any
wheelhouse: $(STAMP)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: $(WHEEL_TAGS) \
		-d .whl -r benchmarks/gpu_wheels.txt
	$(BIN)/python benchmarks/wheelhouse_check.py .whl

# the GPU check at tiny sizes on this machine's CPU (what CI runs)
gpu-check: $(STAMP)
	PYTHON=$(BIN)/python benchmarks/gpu_check.sh --device cpu

# JupyterLab on the twin explorer (notebooks/explore_twin.py, as an .ipynb beside it)
lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	$(BIN)/jupytext --quiet --to notebook --output notebooks/explore_twin.ipynb \
		notebooks/explore_twin.py
	$(BIN)/jupyter lab notebooks/explore_twin.ipynb

lint: $(STAMP)
	$(BIN)/ruff check dtb tests benchmarks data-manifest notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/data_pipeline.py
	$(BIN)/python benchmarks/train_step.py

clean:
	rm -rf results book/_build
