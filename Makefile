# Entry points: `make demo` and `make test` (README). Everything else they need is built on demand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR := .controlplane

.PHONY: test unit lint demo demo-down controlplane bench clean dist krew

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

controlplane:
	tools/controlplane/build.sh

test: lint $(VENV)/.installed controlplane
	$(PY) -m pytest tests

# ruff (lint and format check) over the plugin and its unit tests; mypy over the plugin (pyproject.toml)
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

demo: $(VENV)/.installed controlplane
	tools/demo.sh $(DEMO_DIR)

# The krew release archive dist/kubectl-metallb_v<version>.tar.gz (one zipapp + LICENSE) and krew-manifest.yaml
dist: $(VENV)/.installed
	$(PY) tools/dist/build.py

# krew v0.4.3 and validate-krew-manifest into bin/ (the krew tests build them on demand too)
krew:
	tools/krew/build.sh

demo-down:
	$(PYTHON) tools/controlplane/controlplane.py down $(DEMO_DIR)

clean: demo-down
	rm -rf $(VENV) $(DEMO_DIR) bin dist build *.egg-info

bench: $(VENV)/.installed controlplane
	$(PY) benchmarks/bench.py

# bad input, fuzzing, faults, races and security on the real API server; prints inputs tried, faults injected,
# tracebacks seen and lost updates
.PHONY: reliability
reliability: $(VENV)/.installed controlplane
	$(PY) tools/reliability.py
