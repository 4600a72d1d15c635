# Lanner: the two commands are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: mysql-deps install install-test frontend azurite wheel lock test-latest run test test-fast test-faults lint typecheck docs bench bench-quick browser-deps clean screenshots

# uv installs exactly what requirements/*.txt pin (hash-checked); it lives in its own folder
# inside the venv so `uv pip sync` never removes it.
UV_VERSION := 0.13.9
UV := $(VENV)/tools/bin/uv
LOCK_FLAGS := --universal --python-version 3.12 --generate-hashes -q

$(VENV)/bin/python:
	@PYBIN=$$(./scripts/find-python.sh) || exit 1; \
	echo "Creating $(VENV) with $$PYBIN"; \
	"$$PYBIN" -m venv $(VENV)

$(UV): | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check --target $(VENV)/tools uv==$(UV_VERSION)

# First-party plugins: each folder of plugins/ is a distribution of its own (its pyproject.toml declares
# its types as entry points); the lock holds their third-party needs, make install adds them (editable).
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
PLUGIN_NAMES := $(foreach f,$(wildcard plugins/*/pyproject.toml),$(shell sed -n 's/^name *= *"\(.*\)"/\1/p' $(f)))
LOCAL_EDITABLES := -e . $(foreach d,$(PLUGIN_DIRS),-e ./$(d))

# The venv holds exactly the lock: sync removes what the lock does not name, then Lanner and its plugins (editable).
# Bytecode is compiled at install time: with PYTHONDONTWRITEBYTECODE set (as on many CI images) every process
# would otherwise compile Panel, Bokeh, pydantic... from source again at each start.
$(VENV)/.installed: requirements/run.txt pyproject.toml $(wildcard plugins/*/pyproject.toml) | $(UV)
	$(UV) pip sync -q --compile-bytecode --python $(PY) requirements/run.txt
	$(UV) pip install -q --compile-bytecode --python $(PY) --no-deps $(LOCAL_EDITABLES)
	@$(call COMPILE_OWN)
	@rm -f $(VENV)/.installed-test
	@touch $@

$(VENV)/.installed-test: requirements/test.txt pyproject.toml $(wildcard plugins/*/pyproject.toml) | $(UV)
	$(UV) pip sync -q --compile-bytecode --python $(PY) requirements/test.txt
	$(UV) pip install -q --compile-bytecode --python $(PY) --no-deps $(LOCAL_EDITABLES)
	@$(call COMPILE_OWN)
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed frontend

install-test: $(VENV)/.installed-test frontend azurite

# The builder's browser code: npm installs exactly the committed lock, esbuild bundles it into
# builder/canvas/bundle/ (package data, so the wheel needs no node). Rebuilt when a source changes.
FRONTEND := builder/frontend
BUNDLE := builder/canvas/bundle
FRONTEND_SRC := $(FRONTEND)/build.mjs $(FRONTEND)/package.json $(wildcard $(FRONTEND)/src/*)

$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm (node 20) is needed to build the builder's JavaScript"; exit 1; }
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUNDLE)/.built: $(FRONTEND_SRC) $(FRONTEND)/node_modules/.package-lock.json
	cd $(FRONTEND) && node build.mjs
	@touch $@

frontend: $(BUNDLE)/.built

# Azurite (Microsoft's Azure Storage emulator, from npm) for the cloud storage plugin's Azure Blob tests:
# npm installs exactly the committed lock; the tests start it on 127.0.0.1 (nothing fetched at run time).
AZURITE := tests/plugins/cloud_storage/azurite
$(AZURITE)/node_modules/.package-lock.json: $(AZURITE)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm (node 20) is needed to install Azurite for the Azure Blob tests"; exit 1; }
	cd $(AZURITE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

azurite: $(AZURITE)/node_modules/.package-lock.json

# A wheel with the bundles inside: `pip install dist/lanner-*.whl` needs no node.
wheel: frontend | $(UV)
	rm -rf build lanner.egg-info  # a stale file list would put builder/frontend/node_modules in the wheel
	$(UV) build --wheel -o dist .

# Lanner's own sources compiled too (only what changed since the last time; a second or two).
COMPILE_OWN = $(PY) -m compileall -q -j 0 engine builder $(wildcard plugins) $(1)

run: install
	@$(call COMPILE_OWN)
	$(VENV)/bin/lanner server local --host $(HOST) --port $(PORT) --flows flows

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || { \
	  echo "Installing the Noto colour emoji font (icons in headless screenshots)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null; }

# The SQL plugin's tests start a throwaway MariaDB (Debian's mariadb-server, ~15 s to install once).
mysql-deps:
	@command -v mariadbd >/dev/null 2>&1 || { \
	  echo "Installing Debian mariadb-server for the SQL plugin's tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null; }

# mypy on engine/ runs alongside pytest (scripts/pytest-and-mypy.sh): a type error fails `make test` too.
# pytest-xdist runs the test files on TEST_WORKERS processes (one per core by default; a file's tests stay
# together in one process, in order, sharing its fixtures); `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
test: install-test browser-deps mysql-deps
	@$(call COMPILE_OWN,tests bench)
	VENV=$(VENV) ./scripts/pytest-and-mypy.sh -n $(TEST_WORKERS) --dist loadfile --durations=25 tests

# Re-resolve the lock after pyproject.toml (Lanner's or a plugin's) changed: pins already in it are kept,
# new needs are added. `make lock UPGRADE=1` moves every pin to the newest version the ranges allow;
# run `make test` after it. Lanner and its plugins themselves are not in the lock (installed editable).
NO_EMIT_LOCAL := --no-emit-package lanner $(foreach n,$(PLUGIN_NAMES),--no-emit-package $(n))
lock: | $(UV)
	@printf -- '-e .[test,dask,postgres]\n' > requirements/.test.in
	@printf -- '-e .\n' > requirements/.run.in
	@for d in $(PLUGIN_DIRS); do printf -- '-e ./%s\n' "$$d" | tee -a requirements/.test.in >> requirements/.run.in; done
	$(UV) pip compile requirements/.test.in $(LOCK_FLAGS) $(NO_EMIT_LOCAL) $(if $(UPGRADE),--upgrade) \
	  --custom-compile-command 'make lock' -o requirements/test.txt
	$(UV) pip compile requirements/.run.in $(LOCK_FLAGS) $(NO_EMIT_LOCAL) -c requirements/test.txt \
	  --custom-compile-command 'make lock' -o requirements/run.txt
	@rm -f requirements/.test.in requirements/.run.in

# Drift check: the newest versions pyproject.toml allows, in a separate venv, against the unit and security suites.
LATEST := .venv-latest
test-latest: | $(UV)
	@test -x $(LATEST)/bin/python || "$$(./scripts/find-python.sh)" -m venv $(LATEST)
	$(UV) pip install -q --python $(LATEST)/bin/python --upgrade --refresh --resolution highest \
	  -e '.[test,dask,postgres]' $(foreach d,$(PLUGIN_DIRS),-e ./$(d))
	$(LATEST)/bin/python -m pytest -q -p no:cacheprovider tests/unit tests/security

test-fast: install-test
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/unit

test-faults: install-test
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -m faults tests

bench: install-test
	$(PY) -m bench.run

bench-quick: install-test
	$(PY) -m bench.run --quick

lint: install-test
	$(VENV)/bin/ruff check engine builder tests bench scripts $(wildcard plugins)
	$(VENV)/bin/mypy

# mypy on engine/ (settings in pyproject.toml's [tool.mypy]); `make lint` runs it after ruff.
typecheck: install-test
	$(VENV)/bin/mypy

docs: install
	$(VENV)/bin/python -m engine.model.reference --write README.md

# Refresh docs/screenshots/*.png from the builder's browser tests.
screenshots: install-test browser-deps
	LANNER_SCREENSHOTS=$(CURDIR)/docs/screenshots $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/browser/test_builder_journey.py tests/browser/test_pages.py \
	  tests/browser/test_canvas.py::test_screenshot_of_a_sample_flow tests/browser/test_yaml_editor.py \
	  tests/browser/test_history_pages.py tests/browser/test_dashboards.py tests/browser/test_jupyterlab.py

clean:
	rm -rf $(VENV) $(LATEST) .lanner $(BUNDLE) $(FRONTEND)/node_modules $(AZURITE)/node_modules
