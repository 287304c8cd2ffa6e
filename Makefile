# Set-up and everyday commands. `make demo` and `make test` each create .venv on first use,
# install what they need (torch 2.14.1 from the local wheel cache) and build the compiled
# extension ahead of time; later runs rebuild only what changed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.14.1
# torch guesses /usr/local otherwise and the CUDA link fails (cannot find -lcudart).
export CUDA_HOME ?= /usr/local/cuda
export TORCH_CUDA_ARCH_LIST ?= 8.0;9.0
export MAX_JOBS ?= 2

EXT_SOURCES := setup.py $(shell find csrc -type f 2>/dev/null)

.PHONY: demo test lint bench install clean device-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.stamp-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)" "setuptools>=77" wheel ninja
	touch $@

# Editable install: builds aigc_sdk._C (CPU kernels; CUDA kernels too when nvcc and a CUDA
# build of torch are present) and registers the console script and plugin entry points.
$(VENV)/.stamp-build: $(VENV)/.stamp-deps $(EXT_SOURCES)
	$(BIN)/pip install --quiet --no-build-isolation -e ".[test,data,dev]"
	touch $@

install: $(VENV)/.stamp-build

## The main job: trains a class-conditional GAN and a VAE on MNIST-5k (offline), writes sample
## grids, a report and saved models under runs/demo.
demo: install
	$(BIN)/aigc demo --out runs/demo

## The test suite (CPU; CUDA tests are skipped without a GPU).
test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m pytest benchmarks --benchmark-only

## First thing on a machine with a GPU: builds the CUDA kernels for this device only, runs the
## CUDA tests and the ops benchmark, writes device-check.json (CPU-only machines: GPU steps skipped).
device-check: $(VENV)/.stamp-deps
	test -f $(VENV)/.stamp-build || AIGC_SDK_SKIP_EXT=1 $(BIN)/pip install --quiet --no-build-isolation -e ".[test]"
	$(BIN)/python scripts/device_check.py --out device-check.json $(DEVICE_CHECK_ARGS)

clean:
	rm -rf build $(VENV) *.egg-info aigc_sdk/_C*.so
