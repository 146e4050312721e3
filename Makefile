# One command to set up and run the demo, one to set up and run the tests. Offline-safe:
# torch comes from the local CPU wheel (torch==2.13.0), everything else from the package index.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FG := $(VENV)/bin/finegrain

.PHONY: setup browser demo test test-all clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

# Headless Chromium for the tests that render reports and the web page (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "make browser: run 'sudo apt-get install chromium' for the browser tests" >&2; fi; }

demo: setup
	$(FG) study configs/study-demo.yaml --overwrite

test: setup browser
	$(PY) -m pytest -q

test-all: setup browser
	$(PY) -m pytest -q -m "integration or not integration"

clean:
	rm -rf $(VENV) runs
