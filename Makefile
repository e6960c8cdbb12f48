# Two commands do all set-up on a fresh machine:  make demo   and   make test
# The virtual environment is installed from requirements.lock (every package, exact versions and
# hashes) and cached outside the checkout, keyed by the lock file's hash: a new clone (CI's included)
# reuses it while the lock is unchanged, and a changed lock builds a fresh one. Every run starts with
# a smoke check of that environment. The project itself is used in place through PYTHONPATH.
SHELL := /bin/bash
PYTHON ?= python3
LOCK := requirements.lock
VENV ?= $(HOME)/.cache/pairalign/venv-$(shell sha1sum < $(LOCK) | cut -c1-12)
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export RAY_USAGE_STATS_ENABLED := 0
export MPLBACKEND := Agg

.PHONY: demo test test-slow lint format bench venv check-env lock espeak clean

demo: check-env espeak  ## Prepare the built-in corpus and run the pipeline end to end.
	$(PY) workflows/demo.py $(ARGS)

test: check-env espeak  ## Lint, then the default test suite (slow and GPU tests are skipped).
	$(VENV)/bin/ruff check pairalign workflows tests bench .ci
	$(PY) -m pytest --durations=15 $(PYTEST_ARGS)

test-slow: check-env espeak  ## The long end-to-end tests (CI runs them after make test).
	$(PY) -m pytest -m slow --durations=15 $(PYTEST_ARGS)

# Every speed/memory benchmark of bench/benchmarks/, one JSON line (or table) each, at the settings
# below: each script's defaults (BENCHMARKS.md's figures), except the determinism check (16 clips
# x 3 repeats instead of 80 x 10) and tokenize, which reads the shipped tokenizer (64 clips).
# Settings are key=value (python -m bench.benchmarks.<name> -h lists them); `views` prepares
# data/builtin first when it is missing (decode and tokenize then read its test split).
BENCH_DETERMINISM ?= utterances=16 repeats=3
BENCH_TOKENIZE ?= checkpoint=pairalign/assets/default_tokenizer.pt clips=64
bench: check-env espeak  ## Benchmarks; results go to BENCHMARKS.md by hand, with machine and date.
	$(PY) -m bench.benchmarks.views
	$(PY) -m bench.benchmarks.synth
	$(PY) -m bench.benchmarks.synth_determinism $(BENCH_DETERMINISM)
	$(PY) -m bench.benchmarks.vq_train
	$(PY) -m bench.benchmarks.decode
	$(PY) -m bench.benchmarks.search
	$(PY) -m bench.benchmarks.tokenize $(BENCH_TOKENIZE)

lint: venv
	$(VENV)/bin/ruff check pairalign workflows tests bench .ci
	$(VENV)/bin/ruff format --check pairalign workflows tests bench

format: venv
	$(VENV)/bin/ruff format pairalign workflows tests bench
	$(VENV)/bin/ruff check --fix pairalign workflows tests bench

venv: $(VENV)/.installed

check-env: venv  ## The environment's smoke check (runs before every demo and test run).
	@$(PY) -m pip check -q >/dev/null || { $(PY) -m pip check; echo "environment check FAILED: pip check (above)"; exit 1; }
	@$(PY) .ci/check_env.py

# Order-only (|): the venv's name already hashes the lock file, and a fresh clone's files are always
# newer than the cached stamp, so a timestamp dependency would redo set-up in every clone. A half-built
# venv (no stamp) is removed and built again.
$(VENV)/.installed: | $(LOCK)
	@echo "Creating $(VENV) from $(LOCK) (the first run downloads PyTorch: several minutes)"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r $(LOCK)
	$(PY) -m pip check
	$(PY) .ci/check_env.py
	touch $@

# Refresh the lock after changing pyproject.toml's dependencies (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --universal --generate-hashes \
	  -o $(LOCK)

espeak:
	@command -v espeak-ng >/dev/null || { \
	  echo "Installing espeak-ng (Debian)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq espeak-ng; }

clean:
	rm -rf runs data mlruns .pytest_cache .ruff_cache
