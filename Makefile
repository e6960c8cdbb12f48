# Two commands do all set-up on a fresh machine:  make demo   and   make test
# The virtual environment is cached outside the checkout, keyed by pyproject.toml, so a new clone
# (CI's included) reuses it; the project itself is used in place through PYTHONPATH.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= $(HOME)/.cache/pairalign/venv-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export RAY_USAGE_STATS_ENABLED := 0
export MPLBACKEND := Agg

.PHONY: demo test test-slow lint format bench venv espeak clean

demo: venv espeak  ## Prepare the built-in corpus and run the pipeline end to end.
	$(PY) workflows/demo.py $(ARGS)

test: venv espeak  ## Lint, then the default test suite (slow and GPU tests are skipped).
	$(VENV)/bin/ruff check pairalign workflows tests bench
	$(PY) -m pytest $(PYTEST_ARGS)

test-slow: venv espeak  ## The long end-to-end tests.
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

bench: venv espeak  ## Benchmarks; results go to BENCHMARKS.md by hand, with machine and date.
	$(PY) bench/bench_views.py
	$(PY) bench/bench_synth.py
	$(PY) bench/bench_vq_train.py
	$(PY) bench/bench_decode.py

lint: venv
	$(VENV)/bin/ruff check pairalign workflows tests bench
	$(VENV)/bin/ruff format --check pairalign workflows tests bench

format: venv
	$(VENV)/bin/ruff format pairalign workflows tests bench
	$(VENV)/bin/ruff check --fix pairalign workflows tests bench

venv: $(VENV)/.installed

# Order-only (|): the venv's name already hashes pyproject.toml, and a fresh clone's pyproject.toml is
# always newer than the cached stamp, so a timestamp dependency would redo set-up in every clone.
$(VENV)/.installed: | pyproject.toml
	@echo "Creating $(VENV) (first run downloads PyTorch: a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
	  print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > $(VENV)/requirements.txt
	$(VENV)/bin/pip install -r $(VENV)/requirements.txt
	touch $@

espeak:
	@command -v espeak-ng >/dev/null || { \
	  echo "Installing espeak-ng (Debian)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq espeak-ng; }

clean:
	rm -rf runs data mlruns .pytest_cache .ruff_cache
