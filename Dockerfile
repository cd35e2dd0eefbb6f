# syntax=docker/dockerfile:1
# Eternal Engine: one image, three entry points (the command picks one):
#   python -m eternal_operator              the operator (console script: eternal-operator)
#   python -m engine_runtime                the per-engine runtime (the operator renders its pod)
#   python -m paper_venue                   the Bybit-compatible paper venue (port 8399)
#
# The install steps are the commands CI runs (`make install`): `uv pip install -r
# requirements.lock`, then the project with `--no-deps`; tests/deploy/test_dockerfile.py keeps
# them in step. The dev extra that requirements.lock also holds is pruned before the venv is
# copied into the runtime stage, which has no compiler, no uv and no package cache.
#
#   docker build -t ghcr.io/eternal-engine/eternal-engine:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    VIRTUAL_ENV=/opt/venv

RUN python -m pip install --no-cache-dir uv==0.13.9 \
    && python -m venv /opt/venv

WORKDIR /src
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN uv pip install --python /opt/venv/bin/python -r requirements.lock

COPY pyproject.toml README.md ./
COPY eternal_kernel/ eternal_kernel/
COPY operator/ operator/
COPY engine_runtime/ engine_runtime/
COPY paper_venue/ paper_venue/
COPY scripts/prune_venv.py scripts/
RUN uv pip install --python /opt/venv/bin/python --no-deps . \
    && /opt/venv/bin/python scripts/prune_venv.py \
       | xargs --no-run-if-empty uv pip uninstall --python /opt/venv/bin/python \
    && /opt/venv/bin/python -c "import eternal_kernel, eternal_operator, engine_runtime, paper_venue, kopf, asyncpg, pybit"

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="eternal-engine" \
      org.opencontainers.image.description="Eternal Engine: Kubernetes operator, per-engine trading runtime and paper venue for a Bybit fleet" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/eternal-engine/eternal-engine" \
      org.opencontainers.image.vendor="Eternal Engine"

# A fixed, non-root uid/gid: the chart's securityContext (runAsUser 10001) matches it.
RUN groupadd --system --gid 10001 eternal \
    && useradd --system --uid 10001 --gid eternal --home-dir /home/eternal --create-home \
       --shell /usr/sbin/nologin eternal

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PAPER_VENUE_HOST=0.0.0.0

USER 10001:10001
WORKDIR /home/eternal

# 8080 metrics, 8081 health (operator and runtime); 8399 the paper venue.
EXPOSE 8080 8081 8399

CMD ["python", "-m", "eternal_operator"]
