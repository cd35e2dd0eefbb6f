# Eternal Engine: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

bootstrap: ## Install the Debian packages the project needs (openssl, redis-server, postgresql)
	bash scripts/bootstrap.sh

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install -q --disable-pip-version-check uv
	$(UV) pip install --python $(PY) -q -r requirements.lock
	$(UV) pip install --python $(PY) -q --no-deps -e .
	@touch $@

install: $(STAMP) ## Create .venv and install the locked dependencies and the project (editable)

lock: ## Re-resolve requirements.lock from pyproject.toml (after changing dependencies)
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q uv; }
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements.lock

controlplane: ## Build (or reuse from ~/.cache/eternal-engine) kube-apiserver and etcd
	@tests/tools/controlplane/build.sh >/dev/null

crds: install ## Regenerate crds/*.yaml from the typed API models
	$(PY) -m eternal_operator.api.crdgen --write crds

crds-check: install ## Fail if crds/*.yaml are not what the API models generate
	$(PY) -m eternal_operator.api.crdgen --check crds

lint: install ## ruff, mypy (strict), import layering and the generated-CRD check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m eternal_operator.api.crdgen --check crds

fmt: install ## Format and auto-fix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test-unit: install ## Unit tests only (no processes, no network)
	$(PY) -m pytest -m unit

test: install controlplane lint ## Everything CI runs: lint and every test (unit, integration, cluster, e2e)
	$(PY) -m pytest

cluster-up: install controlplane ## Start etcd + kube-apiserver in the foreground for debugging (Ctrl-C stops)
	$(PY) -m eternal_operator.devtools.controlplane up

up: install controlplane ## Start the local stack on the embedded defaults
	$(PY) -m eternal_operator.devtools.controlplane up --apply-samples

.PHONY: help bootstrap install lock controlplane crds crds-check lint fmt test-unit test cluster-up up
