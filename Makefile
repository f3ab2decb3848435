# Two commands set up everything on a fresh machine:
#   make run    create .venv if missing, install, run the main job on the shipped models
#   make test   create .venv if missing, install with dev extras, run the test suite
# Every pip install goes through constraints.txt (torch==2.13.0, CPU).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
INSTALL := $(PIP) install -q -c constraints.txt

.PHONY: run test lint bench system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) pyproject.toml constraints.txt
	$(INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(INSTALL) -e '.[dev]'
	touch $@

system-deps:
	@bash scripts/install_system_deps.sh

run: system-deps $(VENV)/.installed
	$(VENV)/bin/emorl main

test: system-deps $(VENV)/.installed-dev
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/bench_ter.py
	$(PY) benchmarks/bench_ser.py
	$(PY) benchmarks/bench_asr.py
	$(PY) benchmarks/bench_iemonet.py
	$(PY) benchmarks/bench_iemonet.py --ser ser-whisper-tiny-4class
	$(PY) benchmarks/bench_demo.py
	$(PY) benchmarks/bench_whisper_ser.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_env.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_agents.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
