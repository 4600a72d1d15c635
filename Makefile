# Lanner: the two commands are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install install-test run test test-fast test-faults lint docs bench bench-quick browser-deps clean screenshots

$(VENV)/bin/python:
	@PYBIN=$$(./scripts/find-python.sh) || exit 1; \
	echo "Creating $(VENV) with $$PYBIN"; \
	"$$PYBIN" -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[test,dask]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/lanner server local --host $(HOST) --port $(PORT) --flows flows

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || { \
	  echo "Installing the Noto colour emoji font (icons in headless screenshots)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null; }

test: install-test browser-deps
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider tests

test-fast: install-test
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/unit

test-faults: install-test
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -m faults tests

bench: install-test
	$(PY) -m bench.run

bench-quick: install-test
	$(PY) -m bench.run --quick

lint: install-test
	$(VENV)/bin/ruff check engine builder tests bench

docs: install
	$(VENV)/bin/python -m engine.model.reference --write README.md

# Refresh docs/screenshots/*.png from the builder's browser tests.
screenshots: install-test browser-deps
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/browser/test_builder_journey.py tests/browser/test_pages.py \
	  tests/browser/test_canvas.py::test_screenshot_of_a_sample_flow

clean:
	rm -rf $(VENV) .lanner
