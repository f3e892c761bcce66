# Build, test and demo crowdlearn in a local virtual environment (.venv).
# Needs only Python >= 3.10 and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of PyTorch; a bare "torch" would pull several GB of CUDA wheels.
TORCH ?= torch==2.13.0
# The real datasets (tests that need them skip without them; the library never looks here).
CROWDLEARN_DATA ?= $(abspath ../shared/data)
export CROWDLEARN_DATA

.PHONY: install demo test test-slow bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,dask]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crowdlearn demo

# pytest exits 5 when it collected no test: that is a failure too.
test: $(STAMP)
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; \
	exit $$status

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,dask,bench]"
	$(BIN)/python -m benchmarks.aggregation
	$(BIN)/python -m benchmarks.real_crowds
	$(BIN)/python -m benchmarks.label_issues

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache src/*.egg-info
