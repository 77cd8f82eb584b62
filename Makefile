# The two promises of the README: `make run` and `make test` work on a machine that has never
# seen the project. torch is pinned to the tested version so that pip picks the CPU build here;
# a GPU user installs their own torch build into .venv first and the pin is then satisfied.
# Another Python gets its own venv: `make test PYTHON=python3.12` builds .venv-python3.12, never
# reusing a .venv made by another interpreter. PyPI's Linux torch wheels are CUDA builds (about
# 5 GB with their CUDA libraries); TORCH_INDEX=https://download.pytorch.org/whl/cpu asks pip for
# the CPU build instead (its +cpu version outranks PyPI's for the same pin).
PYTHON ?= python3
ifeq ($(PYTHON),python3)
VENV ?= .venv
else
VENV ?= .venv-$(notdir $(PYTHON))
endif
PY := $(VENV)/bin/python
TORCH_VERSION := 2.13.0
TORCH_INDEX ?=
TORCH_PIP := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
# tools/install.py installs with uv, from the sources pip is configured with (a fresh install
# here: 7 s against pip's 43 s), and with pip when uv cannot be had. Neither byte-compiles every
# module of every package (torch alone has thousands; with pip that was a third of a fresh
# install on two cores): tools/bytecode.py then compiles only the modules a run imports.
# After uv's install these must import (they load C libraries that some wheels leave to the system).
CHECK_IMPORTS := soundfile,lameenc
INSTALL := $(PY) tools/install.py --check-import $(CHECK_IMPORTS)
# The pretrained musicnn checkpoints (harness/pretrained) come in the musicnn wheel (ISC), whose
# metadata asks for TensorFlow: it is installed without its dependencies, for its weights only.
MUSICNN := "musicnn==0.1.0"

.PHONY: run test lint format bench docs clean

# The venv's own pip is used as it comes: every Python from 3.11 on bundles a pip of 22.3 or
# newer, and editable installs need 21.3. Upgrading it cost about 3 s of a fresh install.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/python
	$(INSTALL) $(TORCH_PIP) "torch==$(TORCH_VERSION)" -e .
	$(PY) tools/install.py --no-deps $(MUSICNN)
	$(PY) tools/bytecode.py
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(INSTALL) $(TORCH_PIP) "torch==$(TORCH_VERSION)" -e ".[dev,dist]"
	$(PY) tools/install.py --no-deps $(MUSICNN)
	$(PY) tools/bytecode.py
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(VENV)/bin/fma-harness run

# Two pytest workers (pytest-xdist): 12 min of tests in one process took 8.5 min in two on this
# two-core machine. At most two, as many tests start parallel work of their own (lanes, --n-jobs).
test: $(VENV)/.installed-test
	$(PY) -m pytest -q -n auto --maxprocesses 2

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/lint-imports

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

# The documentation site into site/: --strict fails on a broken link, a missing page or a
# docstring mkdocstrings cannot read; the CLI and check references are generated at build time.
docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(VENV)/.installed-test
	$(PY) benchmarks/features.py
	$(PY) benchmarks/training.py

clean:
	rm -rf runs .cache data/synthetic site
