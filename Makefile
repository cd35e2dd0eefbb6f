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

bootstrap: ## Install the Debian packages the project needs (openssl, redis-server, postgresql, prometheus, prometheus-alertmanager)
	bash scripts/bootstrap.sh

# bootstrap first (order only): a bare machine needs python3-venv before the venv.
$(STAMP): requirements.lock pyproject.toml | bootstrap
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install -q --disable-pip-version-check uv
	$(UV) pip install --python $(PY) -q -r requirements.lock
	$(UV) pip install --python $(PY) -q --no-deps -e .
	@touch $@

install: $(STAMP) ## Create .venv and install the locked dependencies and the project (editable)

lock: ## Re-resolve requirements.lock from pyproject.toml (after changing dependencies)
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q uv; }
	$(UV) pip compile pyproject.toml --extra dev --extra model --python-version 3.11 --generate-hashes -q -o requirements.lock

controlplane: ## Build (or reuse from ~/.cache/eternal-engine) kube-apiserver and etcd
	@tests/tools/controlplane/build.sh >/dev/null

crds: install ## Regenerate crds/*.yaml from the typed API models (and the CRDs chart's copies)
	$(PY) -m eternal_kernel.api.crdgen --write crds
	$(PY) -m eternal_kernel.api.crdgen --write charts/eternal-engine-crds/files

crds-check: install ## Fail if crds/*.yaml are not what the API models generate
	$(PY) -m eternal_kernel.api.crdgen --check crds
	$(PY) -m eternal_kernel.api.crdgen --check charts/eternal-engine-crds/files

lint: install ## ruff, mypy (strict), import layering and the generated-CRD check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m eternal_kernel.api.crdgen --check crds
	$(PY) -m eternal_kernel.api.crdgen --check charts/eternal-engine-crds/files

fmt: install ## Format and auto-fix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test-unit: install ## Unit tests only (no processes, no network)
	$(PY) -m pytest -m unit

test: install controlplane lint ## Everything CI runs: lint and every test (unit, integration, cluster, e2e)
	$(PY) -m pytest

cluster-up: install controlplane ## Start etcd + kube-apiserver in the foreground for debugging (Ctrl-C stops)
	$(PY) -m eternal_operator.devtools.controlplane up

up: install controlplane ## Start the whole fleet locally on the embedded defaults (Ctrl-C stops)
	$(PY) -m eternal_operator.devtools.stack up

down: ## Stop a stack started by `make up` (from another shell)
	$(PY) -m eternal_operator.devtools.stack stop

status: ## List the local stack's components, their health and restarts
	$(PY) -m eternal_operator.devtools.stack status

.PHONY: help bootstrap install lock controlplane crds crds-check lint fmt test-unit test cluster-up up down status

# --- Production deployment (Dockerfile, charts/, manifests/, terraform/) -----------------------

HELM_BUILD := tests/tools/helm/build.sh

helm: ## Build (or reuse from ~/.cache/eternal-engine) the pinned helm CLI; prints its path
	@bash $(HELM_BUILD)

charts-sync: ## Copy crds/*.yaml, manifests/monitoring and manifests/admission into the charts
	rm -f charts/eternal-engine-crds/files/*.yaml
	cp crds/*.yaml charts/eternal-engine-crds/files/
	rm -rf charts/eternal-engine-operator/files/dashboards
	mkdir -p charts/eternal-engine-operator/files/dashboards
	cp manifests/monitoring/prometheusrule.yaml charts/eternal-engine-operator/files/
	mkdir -p charts/eternal-engine-operator/files/admission
	cp manifests/admission/policies.yaml charts/eternal-engine-operator/files/admission/
	cp manifests/monitoring/dashboards/*.json charts/eternal-engine-operator/files/dashboards/

validate-deploy: install controlplane ## Dockerfile lint, charts, kustomize, Argo CD Lua, alerts, terraform, RBAC
	$(PY) -m pytest tests/deploy

kind-up: ## Try it on kind (needs Docker, kind, kubectl, Go): cluster, image, charts, sample fleet; re-run to update
	bash scripts/kind-up.sh $(HELM_ARGS)

kind-down: ## Delete the kind cluster of `make kind-up`
	bash scripts/kind-down.sh

.PHONY: helm charts-sync validate-deploy kind-up kind-down

# --- Engine runtime ---------------------------------------------------------------------------

bench-runtime: install ## Engine runtime figures: tick-to-order, tick-to-ack, events/s, idle memory
	$(PY) bench/runtime_bench.py

bench-scalper: install ## Scalper: book-to-order p50/p99, book updates/s on 2 symbols, backtest speed (a day of book data, a year of minutes)
	$(PY) bench/scalper_bench.py

bench: install controlplane ## Every benchmark, each against its baseline, and the capital-safety matrix (about 85 minutes on 2 cores)
	$(PY) bench/controlplane_bench.py
	$(PY) bench/operator_bench.py --engines 200
	$(PY) bench/paper_venue_bench.py
	$(PY) bench/flatten_latency.py
	$(PY) bench/api_parse.py
	$(PY) bench/runtime_bench.py
	$(PY) bench/backtest_bench.py
	$(PY) bench/scalper_bench.py
	$(PY) bench/status_write_cost.py
	$(PY) bench/governance_bench.py --engines 4 50 --standins 500
	$(PY) bench/stack_bench.py
	$(PY) bench/namespace_bench.py
	$(PY) bench/capital_safety.py

bench-venue: install ## Paper venue: pybit round trips against pybit's own overhead (goal: the venue adds <20%), matching, fan-out
	$(PY) bench/paper_venue_bench.py

bench-flatten: install ## One exposed account flattened by the runtime and by the operator, with 0, 25 and 50 ms per venue call (PYTHONPATH=<tree> for another build's)
	$(PY) bench/flatten_latency.py

bench-parse: install ## Microseconds to read a governed Engine as the API serves it (PYTHONPATH=<tree> for another build's)
	$(PY) bench/api_parse.py

bench-governance: install controlplane ## What a status write costs the API server, then halt, resume and breach at 4 and 50 engines and 500 stand-ins, 10 runs each (about 30 minutes)
	$(PY) bench/status_write_cost.py
	$(PY) bench/governance_bench.py --engines 4 50 --standins 500

bench-safety: install controlplane ## The capital-safety matrix, quick subset (CI runs it; --quick)
	$(PY) bench/capital_safety.py --quick

bench-peers: install ## The backtest bench beside vectorbt and NautilusTrader, each in its own cached venv (ARGS="--days 30")
	@vbt=$$(bash bench/peers/env.sh vectorbt) && nt=$$(bash bench/peers/env.sh nautilus) && \
	  $$vbt/bin/python bench/backtest_bench.py --peers --nautilus-python $$nt/bin/python $(ARGS)

bench-peers-lock: install ## Re-resolve bench/peers/*.lock (the peers' pins; vectorbt's keeps requirements.lock's)
	$(UV) pip compile pyproject.toml --extra dev bench/peers/vectorbt.in -c requirements.lock \
	  --python-version 3.11 --generate-hashes -q -o bench/peers/vectorbt.lock
	$(UV) pip compile bench/peers/nautilus.in --python-version 3.11 --generate-hashes -q \
	  -o bench/peers/nautilus.lock

.PHONY: bench-runtime bench-scalper bench bench-venue bench-parse bench-governance bench-safety bench-peers bench-peers-lock
