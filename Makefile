# paperlib: reproduction package + Jupyter Book for Wu et al. (arXiv 2310.00492).
#
#   make book            build the self-contained HTML book -> _build/html/index.html
#   make test            run the test suite (PYTEST_ARGS="-x -k density" to narrow it)
#   make test-fast       the fast lane: no notebook execution, no slow test (under a minute)
#   make notebook NB=table1_table2_density ARGS="-p b 5"
#                        run one chapter with papermill parameters -> results/notebooks/<NB>.ipynb
#   make browser-check   open the built book in headless Chromium, offline checks
#   make clean           remove build outputs (keeps .venv and result caches)
#   make organism        rebuild the model organism pair (models/organism; first, as root: make organism-apt)
#
# Every target sets itself up on a fresh machine with Python 3.11, make, npm and apt.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV        := .venv
PY          := $(VENV)/bin/python
VENV_STAMP  := $(VENV)/.paperlib-installed
VENDOR_STAMP := book/_static/vendor/VERSIONS
BOOTSTRAP_PY := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
# torch first, pinned exactly: resolves to the local CPU wheel (no CUDA download).
TORCH_PIN   := torch==2.13.0

# The book build caches MiniLM tables, annotations and attributions inside the checkout.
export PAPERLIB_CACHE ?= $(CURDIR)/.cache/paperlib

PYTEST_ARGS ?= -q
BOOK_ARGS   ?=
NB          ?=
ARGS        ?=

.PHONY: help venv system-deps vendor book test test-fast notebook browser-check clean distclean

help:
	@sed -n '3,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

venv: $(VENV_STAMP)

# Re-installs only when pyproject.toml changes (or the venv is new).
$(VENV_STAMP): pyproject.toml
	@test -n "$(BOOTSTRAP_PY)" || { echo "make venv: python3.11 / python3 not found" >&2; exit 1; }
	@test -x $(PY) || { echo "creating $(VENV) with $(BOOTSTRAP_PY)"; $(BOOTSTRAP_PY) -m venv $(VENV); }
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $(TORCH_PIN)
	$(PY) -m pip install -e ".[book,test]"
	@# papermill must start kernels with the venv's interpreter: install the
	@# python3 kernelspec into the venv (argv "python" -> the launching python).
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 --display-name "Python 3 (paperlib)" >/dev/null
	@touch $@

# Debian data the offline concept annotator reads (WordNet lexicographer files
# and sense index; nltk reads them from a folder paperlib builds, no download).
WORDNET_FILES := /usr/share/wordnet/data.noun /usr/share/wordnet/index.sense
system-deps:
	@if ls $(WORDNET_FILES) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian wordnet-base wordnet-sense-index"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wordnet-base wordnet-sense-index; \
	else echo "make: need Debian packages wordnet-base wordnet-sense-index (sudo apt-get install -y wordnet-base wordnet-sense-index)" >&2; exit 1; fi

vendor: $(VENDOR_STAMP)

$(VENDOR_STAMP): tools/vendor_assets.sh
	bash tools/vendor_assets.sh book

book: venv system-deps vendor
	$(PY) tools/build_book.py $(BOOK_ARGS)

test: venv system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv system-deps
	$(PY) -m pytest -m "not notebook and not slow" $(PYTEST_ARGS)

# Converts notebooks/$(NB).md with jupytext and runs it with papermill; an unknown
# parameter name stops it before execution, listing the chapter's parameters.
notebook: venv system-deps
	@test -n "$(NB)" || { echo 'usage: make notebook NB=<name> ARGS="-p NAME VALUE ..." (chapters: $(basename $(notdir $(wildcard notebooks/*.md))))' >&2; exit 2; }
	$(PY) tools/run_notebook.py $(NB) $(ARGS)

browser-check: venv
	bash tools/vendor_assets.sh browser
	$(PY) tools/browser_check.py
	$(PY) tools/browser_widgets.py

clean:
	rm -rf _build book/notebooks book/_static/vendor

distclean: clean
	rm -rf tools/vendor/node_modules $(VENV)

# The model organism's targets (organism, organism-apt, organism-test) live beside its code.
include organism/organism.mk
