# One command to set up and run the demo, one to set up and run the tests. Every package, transitive ones
# included, installs at the exact version and hash pinned in requirements.lock; torch is the CPU wheel on
# local disk (torch 2.13.0+cpu, found through pip.conf's find-links), pinned there by tools/lock.in.
# Lock tool: pip-compile, because it resolves with pip and so reads pip.conf (the local torch CPU wheel, the local indexes); uv skips them and would fetch a multi-GB CUDA torch.
PYTHON ?= python3
VENV ?= .venv
VENV_LATEST ?= .venv-latest
LOCK := requirements.lock
TORCH := torch==2.13.0+cpu
LOCK_TOOLS := pip==26.3 pip-tools==7.6.2
LOCK_FLAGS ?=
KEY_PACKAGES := torch|transformers|tokenizers|peft|accelerate|datasets|numpy
PY := $(VENV)/bin/python
FG := $(VENV)/bin/finegrain

.PHONY: setup browser wordnet demo test test-all test-latest lock clean

# A changed lock or pyproject.toml reinstalls; a lock that no longer matches pyproject.toml stops here.
# finegrain itself goes in last, without dependencies and with the locked setuptools (no build isolation).
$(VENV)/.installed: pyproject.toml $(LOCK) tools/check_lock.py
	$(PYTHON) tools/check_lock.py pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

# Compile requirements.lock from pyproject.toml (with the dev extra) and tools/lock.in, with pip-tools in a
# throwaway venv. Pins that still fit are kept; `make lock LOCK_FLAGS=--upgrade` takes the newest releases,
# `LOCK_FLAGS="-P transformers"` one package's.
lock:
	tools=$$(mktemp -d) && trap 'rm -rf "$$tools"' EXIT && \
	$(PYTHON) -m venv "$$tools" && "$$tools/bin/python" -m pip install -q $(LOCK_TOOLS) && \
	CUSTOM_COMPILE_COMMAND="make lock" "$$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links --extra dev --extra ray --extra tracking --extra spelling $(LOCK_FLAGS) \
	  --output-file $(LOCK) pyproject.toml tools/lock.in

# Headless Chromium for the tests that render reports and the web page (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "make browser: run 'sudo apt-get install chromium' for the browser tests" >&2; fi; }

# WordNet 3.0 for the synonym attack of finegrain robustness (Debian's package; nltk never downloads it).
wordnet:
	@test -f /usr/share/wordnet/data.noun || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wordnet-base >/dev/null; \
	    else echo "make wordnet: run 'sudo apt-get install wordnet-base' for the synonym attack" >&2; fi; }

demo: setup
	$(FG) study configs/study-demo.yaml --overwrite

test: setup browser wordnet
	$(PY) -m pytest -q

test-all: setup browser wordnet
	$(PY) -m pytest -q -m "integration or not integration"

# The default suite on the newest releases that pyproject.toml's ranges admit (torch stays the local CPU
# wheel), in a venv of its own made anew each time, so that an upstream break shows here before the lock
# takes it. .venv is not touched.
test-latest: browser
	rm -rf $(VENV_LATEST)
	$(PYTHON) -m venv $(VENV_LATEST)
	$(VENV_LATEST)/bin/python -m pip install -q --upgrade pip
	$(VENV_LATEST)/bin/python -m pip install -q $(TORCH)
	$(VENV_LATEST)/bin/python -m pip install -q --upgrade -e ".[dev]"
	@echo "newest releases installed:" $$($(VENV_LATEST)/bin/python -m pip freeze | grep -iE '^($(KEY_PACKAGES))==')
	$(VENV_LATEST)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) $(VENV_LATEST) runs
