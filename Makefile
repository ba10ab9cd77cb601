# Entry points: `make demo` and `make test` (README). Everything else they need is built on demand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR := .controlplane

# the release being made: metallb_plugin/__init__.py's version, unless VERSION=vX.Y.Z says otherwise
PACKAGE_VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' metallb_plugin/__init__.py)
VERSION ?= v$(PACKAGE_VERSION)

.PHONY: test unit unit-oldest lint demo demo-down controlplane bench bench-full clean dist krew release-tools \
	dist-deps krew-manifest release-check pypi-dist prometheus-crds prometheus-addon

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

controlplane:
	tools/controlplane/build.sh

test: lint unit-oldest $(VENV)/.installed controlplane krew release-tools dist-deps prometheus-crds prometheus-addon
	$(PY) -m pytest tests

# the Prometheus operator's CRDs, from its Go module into Go's module cache (the tests read them there, offline)
prometheus-crds:
	tools/controlplane/prometheus/crds.sh >/dev/null

# a real Prometheus, the Prometheus operator and its config reloader into bin/prometheus/ (the full cluster's
# Prometheus add-on, tools/controlplane/prometheus/addon.py)
prometheus-addon:
	tools/controlplane/prometheus/build.sh

# ruff (lint and format check) over the plugin and its unit tests; mypy over the plugin (pyproject.toml)
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

# the unit tests on the oldest Python the plugin supports (3.9), in .venv-oldest: python3.9 from PATH or pyenv's
# newest 3.9; skipped with a note where there is none (CI's unit job runs them on 3.9 anyway)
unit-oldest:
	@if python3.9 -c '' 2>/dev/null; then py=python3.9; \
	elif command -v pyenv >/dev/null && v=$$(pyenv latest 3.9 2>/dev/null); then py="env PYENV_VERSION=$$v python3.9"; \
	else echo "unit-oldest: no Python 3.9 here, skipped"; exit 0; fi; \
	$(MAKE) --no-print-directory unit VENV=.venv-oldest PYTHON="$$py"

demo: $(VENV)/.installed controlplane
	tools/demo.sh $(DEMO_DIR)

# The krew release archive dist/kubectl-metallb_v<version>.tar.gz (one zipapp + LICENSE), dist/checksums.txt and
# dist/metallb.yaml, the krew manifest for it rendered from .krew.yaml
dist: $(VENV)/.installed release-tools
	$(PY) tools/dist/build.py
	bin/krew-template -tag v$(PACKAGE_VERSION) -checksums dist/checksums.txt -o dist/metallb.yaml

# the archive's pinned dependencies, downloaded from PyPI into a cache outside the repository (tests stay offline)
dist-deps: $(VENV)/.installed
	$(PY) tools/dist/build.py --fetch-only

# krew-manifest.yaml: the manifest of the release being made, for the commit that bumps the version (README)
krew-manifest: dist
	cp dist/metallb.yaml krew-manifest.yaml

# before tagging: version strings agree, krew-manifest.yaml is the template's rendering of the release's archive
release-check: $(VENV)/.installed release-tools
	$(PY) tools/release/release.py check $(VERSION) $(if $(REPOSITORY),--repository $(REPOSITORY))

# the PyPI sdist and wheel in dist/pypi, built with the setuptools of .venv, checked by twine
pypi-dist: $(VENV)/.installed
	rm -rf dist/pypi
	$(PY) -m build --no-isolation --outdir dist/pypi .
	$(PY) -m twine check --strict dist/pypi/*

# krew-template (renders .krew.yaml) and actionlint into bin/
release-tools:
	tools/release/build.sh

# krew v0.4.3 and validate-krew-manifest into bin/ (the krew tests build them on demand too)
krew:
	tools/krew/build.sh

demo-down:
	$(PYTHON) tools/controlplane/controlplane.py down $(DEMO_DIR)

clean: demo-down
	rm -rf $(VENV) $(DEMO_DIR) bin dist build *.egg-info

# BENCH_ARGS: e.g. "--scales 10 --runs 3" (5,000 nodes, 50,000 Services), "--page-sizes 1000,2000"
bench: $(VENV)/.installed controlplane
	nice $(PY) benchmarks/bench.py $(BENCH_ARGS)

# the full cluster with the real MetalLB: install -> first ARP reply, idle memory and CPU; BUILDS=1 adds cold and
# warm build times (slow: a cold build takes many minutes)
bench-full: $(VENV)/.installed controlplane
	$(PY) benchmarks/fullcluster.py $(if $(BUILDS),--builds)

# bad input, fuzzing, faults, races and security on the real API server; prints inputs tried, faults injected,
# tracebacks seen and lost updates
.PHONY: reliability
reliability: $(VENV)/.installed controlplane
	$(PY) tools/reliability.py
