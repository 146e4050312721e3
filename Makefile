# One command to set up and run the demo, one to set up and run the tests. Offline-safe:
# torch comes from the local CPU wheel (torch==2.13.0), everything else from the package index.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FG := $(VENV)/bin/finegrain

.PHONY: setup demo test test-all clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(FG) train configs/demo.yaml --overwrite

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m "integration or not integration"

clean:
	rm -rf $(VENV) runs
