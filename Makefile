# photo-sync: the two Quick start commands (make run, make test) and the helpers behind them.
# Each target installs what it needs itself: a virtualenv from requirements-dev.txt.

PYTHON ?= python3
# Azurite (pinned in package.json) is the newest whose package.json "engines" admits this Node.
NODE_MIN := 20
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE   := node_modules/.installed
IAC_VENV  := .venv-iac
IAC_STAMP := $(IAC_VENV)/.installed

.PHONY: run demo bench soak test infra lint typecheck unit integration emulator clean node-version

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "photo-sync needs Python 3.11+")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

# checkov and pycep-parser for tests/infra, in a virtualenv of their own: checkov pins many
# packages that could clash with the app's.
$(IAC_STAMP): requirements-iac.txt
	test -x $(IAC_VENV)/bin/python || $(PYTHON) -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/python -m pip install -q --upgrade pip
	$(IAC_VENV)/bin/python -m pip install -q -r requirements-iac.txt
	touch $@

# Checked on every use (the order-only prerequisite), not only on install: Azurite is started
# with whatever node is on PATH now.
$(NODE): package.json package-lock.json | node-version
	npm ci --no-audit --no-fund
	touch $@

node-version:
	@v=$$(node -p process.versions.node 2>/dev/null) || { \
	  echo "photo-sync's local stack needs Node.js $(NODE_MIN) or newer (for Azurite), and no" \
	       "'node' is on PATH: install it from https://nodejs.org or your package manager" >&2; \
	  exit 1; }; \
	[ "$${v%%.*}" -ge $(NODE_MIN) ] 2>/dev/null || { \
	  echo "photo-sync's local stack needs Node.js $(NODE_MIN) or newer (for Azurite);" \
	       "this 'node' is $$v" >&2; \
	  exit 1; }

run: $(STAMP) $(NODE)
	$(BIN)/python -m devstack run

demo: $(STAMP) $(NODE)
	$(BIN)/python -m devstack demo

# Benchmarks (not part of make test): ratios against the Graph SDK baseline, in its own
# virtualenv (.venv-bench, created by the runner).
bench: $(STAMP) $(NODE)
	$(BIN)/python -m bench.run

# The fault-injected soak (make test runs a 60-drop version): N drops, default 1,000.
N ?= 1000
soak: $(STAMP) $(NODE)
	$(BIN)/python -m devstack.soak --drops $(N)

test: lint typecheck $(NODE) $(IAC_STAMP)
	$(BIN)/python -m pytest

infra: $(STAMP) $(IAC_STAMP)
	$(BIN)/python -m pytest tests/infra

# ruff, then the import contract (pyproject.toml, docs/architecture.md): the layers stay layers.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP) $(NODE)
	$(BIN)/python -m pytest tests/integration tests/devstack

emulator: $(STAMP)
	$(BIN)/python -m devstack.emulator --state-dir .devstack/emulator

clean:
	rm -rf $(VENV) $(IAC_VENV) .venv-bench .devstack .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .hypothesis
