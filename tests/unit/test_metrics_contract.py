"""Every metric the alerts and dashboards query is one the runtime or the operator exports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import eternal_operator.metrics  # noqa: F401 - registers the operator's metrics
from engine_runtime.reporting.metrics import Metrics

pytestmark = pytest.mark.unit

MONITORING = Path(__file__).resolve().parents[2] / "manifests" / "monitoring"
NAME = re.compile(r"\beternal_[a-z_]+\b")
SUFFIXES_BY_TYPE = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def exported() -> set[str]:
    names = set()
    for registry in (Metrics(engine="e", namespace="n", strategy="trend").registry, REGISTRY):
        for family in registry.collect():
            names.add(family.name)
            names.update(family.name + suffix for suffix in SUFFIXES_BY_TYPE.get(family.type, ()))
    return names


def queried() -> set[str]:
    found = set()
    for path in [*MONITORING.rglob("*.yaml"), *MONITORING.rglob("*.json")]:
        found.update(NAME.findall(path.read_text()))
    return found


def test_every_queried_metric_is_exported() -> None:
    have = exported()
    missing = sorted(name for name in queried() if name not in have)
    assert queried()
    assert missing == []


def test_runtime_series_carry_the_engine_labels() -> None:
    metrics = Metrics(engine="trend", namespace="fleet", strategy="trend")
    metrics.venue_errors.labels(code="10006").inc()
    metrics.equity.set(5)
    labels = [
        sample.labels
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name in ("eternal_engine_venue_errors_total", "eternal_engine_equity")
    ]
    assert {"engine": "trend", "namespace": "fleet", "strategy": "trend", "code": "10006"} in labels
    assert {"engine": "trend", "namespace": "fleet", "strategy": "trend"} in labels
