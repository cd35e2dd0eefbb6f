"""Every metric the alerts and dashboards query is one the runtime or the operator exports;
series carry their object's namespace, go with their object, have their unit in their name,
and no counter exposes a `_created` series."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import prometheus_client.metrics
import pytest
import yaml
from prometheus_client import (
    REGISTRY,
    disable_created_metrics,
    enable_created_metrics,
    generate_latest,
)

from engine_runtime.reporting.health import HttpEndpoints, Probes
from engine_runtime.reporting.metrics import Metrics
from eternal_operator import metrics as operator_metrics
from eternal_operator.metrics import (
    ENGINE_HEARTBEAT,
    GOVERNANCE_DIRECTIVES,
    GOVERNANCE_HALTED,
    GOVERNANCE_LEVEL,
    PORTFOLIO_DRAWDOWN,
    PORTFOLIO_HWM,
    PORTFOLIO_NAV,
    PORTFOLIO_NAV_PER_UNIT,
    RECONCILE_DURATION,
    RECONCILES,
    forget_engine,
    forget_policy,
    observe_engine,
)

pytestmark = pytest.mark.unit

MONITORING = Path(__file__).resolve().parents[2] / "manifests" / "monitoring"
NAME = re.compile(r"\beternal_[a-z_]+\b")
SUFFIXES_BY_TYPE = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
UNITS = ("_total", "_seconds", "_ratio", "_usdt")
UNITLESS = {
    # counts, levels, flags and sequence numbers: no unit to name
    "eternal_engine_open_orders",
    "eternal_engine_applied_directive",
    "eternal_engine_ready",
    "eternal_governance_level",
    "eternal_governance_halted",
    # NAV per unit: an index that starts at 1, in units of itself
    "eternal_portfolio_nav_per_unit",
    "eternal_portfolio_high_water_mark",
}


def families() -> list[Any]:
    runtime = Metrics(engine="e", namespace="n", strategy="trend").registry
    ours = [f for f in REGISTRY.collect() if f.name.startswith("eternal_")]
    return [*runtime.collect(), *ours]


def exported() -> set[str]:
    names = set()
    for family in families():
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES_BY_TYPE.get(family.type, ()))
    return names


def queried() -> set[str]:
    found = set()
    for path in [*MONITORING.rglob("*.yaml"), *MONITORING.rglob("*.json")]:
        found.update(NAME.findall(path.read_text()))
    return found


@pytest.fixture
def created_on() -> Iterator[None]:
    """Counters with their `_created` series, as prometheus_client starts; then as before."""
    before = prometheus_client.metrics._use_created
    enable_created_metrics()  # type: ignore[no-untyped-call]
    yield
    if before:
        enable_created_metrics()  # type: ignore[no-untyped-call]
    else:
        disable_created_metrics()  # type: ignore[no-untyped-call]


def samples(metric: Any) -> list[tuple[str, dict[str, str]]]:
    return [(s.name, s.labels) for family in metric.collect() for s in family.samples]


def test_every_queried_metric_is_exported() -> None:
    have = exported()
    missing = sorted(name for name in queried() if name not in have)
    assert queried()
    assert missing == []


def test_every_name_says_its_unit() -> None:
    """Prometheus naming: drawdowns and weights are `_ratio`, money `_usdt`, times `_seconds`."""
    wrong = sorted(
        f.name + ("_total" if f.type == "counter" else "")
        for f in families()
        if not (f.name + ("_total" if f.type == "counter" else "")).endswith(UNITS)
        and f.name not in UNITLESS
    )
    assert wrong == []
    names = {f.name for f in families()}
    assert {n for n in names if "drawdown" in n or "weight" in n} == {
        "eternal_engine_drawdown_ratio",
        "eternal_portfolio_drawdown_ratio",
        "eternal_engine_allocation_target_weight_ratio",
    }


def test_runtime_series_carry_the_engine_labels() -> None:
    metrics = Metrics(engine="trend", namespace="fleet", strategy="trend")
    metrics.venue_errors.labels(code="10006").inc()
    metrics.equity.set(5)
    labels = [
        sample.labels
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name in ("eternal_engine_venue_errors_total", "eternal_engine_equity_usdt")
    ]
    assert {"engine": "trend", "namespace": "fleet", "strategy": "trend", "code": "10006"} in labels
    assert {"engine": "trend", "namespace": "fleet", "strategy": "trend"} in labels


POLICY_SERIES: tuple[Any, ...] = (
    GOVERNANCE_LEVEL,
    GOVERNANCE_HALTED,
    GOVERNANCE_DIRECTIVES,
    PORTFOLIO_NAV,
    PORTFOLIO_DRAWDOWN,
    PORTFOLIO_NAV_PER_UNIT,
    PORTFOLIO_HWM,
)


def test_every_policy_series_carries_the_policy_namespace() -> None:
    for metric in POLICY_SERIES:
        assert metric._labelnames == ("namespace", "policy"), metric
    assert ENGINE_HEARTBEAT._labelnames == ("namespace", "engine")
    # every series of the governance families is one of these
    governance = [
        f
        for f in REGISTRY.collect()
        if f.name.startswith(("eternal_governance", "eternal_portfolio"))
    ]
    assert {f.name for f in governance} == {m._name for m in POLICY_SERIES}


def test_forget_policy_removes_that_policy_series_only() -> None:
    for namespace in ("fleet-a", "fleet-b"):
        for gauge in (m for m in POLICY_SERIES if m is not GOVERNANCE_DIRECTIVES):
            gauge.labels(namespace, "eternal").set(1)
        GOVERNANCE_DIRECTIVES.labels(namespace, "eternal").inc()
    forget_policy("fleet-a", "eternal")
    exposition = generate_latest(REGISTRY).decode()
    assert 'namespace="fleet-a",policy="eternal"' not in exposition
    for metric in POLICY_SERIES:
        assert any(labels == {"namespace": "fleet-b", "policy": "eternal"}
                   for _, labels in samples(metric)), metric  # fmt: skip
    forget_policy("fleet-b", "eternal")
    forget_policy("fleet-b", "never-set")  # no error
    assert 'policy="eternal"' not in generate_latest(REGISTRY).decode()


def engine(**status: Any) -> dict[str, Any]:
    spec = {"suspend": status.pop("suspend", False)}
    meta = {"name": "trend", "namespace": "fleet", "creationTimestamp": "2026-01-01T00:00:00Z"}
    meta.update(status.pop("metadata", {}))
    return {"metadata": meta, "spec": spec, "status": status}


def heartbeat(namespace: str = "fleet", name: str = "trend") -> float | None:
    for sample_name, labels in samples(ENGINE_HEARTBEAT):
        if labels == {"namespace": namespace, "engine": name}:
            value: float = ENGINE_HEARTBEAT.labels(namespace, name)._value.get()
            return value
        assert sample_name
    return None


def test_engine_heartbeat_follows_the_status_and_goes_with_the_engine() -> None:
    observe_engine("fleet", "trend", engine())
    assert heartbeat() == 1767225600.0  # no heartbeat yet: its creation, so it ages
    observe_engine(
        "fleet", "trend", engine(phase="Running", runtime={"heartbeat": "2026-01-01T00:01:00Z"})
    )
    assert heartbeat() == 1767225660.0
    for quiet in (engine(suspend=True), engine(phase="Halted"), engine(phase="Suspended"),
                  engine(metadata={"deletionTimestamp": "2026-01-01T00:02:00Z"})):  # fmt: skip
        observe_engine("fleet", "trend", engine(runtime={"heartbeat": "2026-01-01T00:01:00Z"}))
        assert heartbeat() is not None
        observe_engine("fleet", "trend", quiet)
        assert heartbeat() is None, quiet
    observe_engine(
        "fleet", "trend", engine(phase="Degraded", runtime={"heartbeat": "2026-01-01T00:01:00Z"})
    )
    forget_engine("fleet", "trend")
    assert heartbeat() is None
    assert 'engine="trend"' not in generate_latest(REGISTRY).decode()


def test_operator_exposition_has_no_created_series(
    created_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    RECONCILES.labels("Engine", "changed").inc()
    GOVERNANCE_DIRECTIVES.labels("fleet", "created-check").inc()
    assert "_created" in generate_latest(REGISTRY).decode()  # prometheus_client's default
    served: list[int] = []
    monkeypatch.setattr(
        operator_metrics, "start_http_server", lambda port, addr: served.append(port)
    )
    operator_metrics.serve(8080)  # what the operator's main runs first
    assert served == [8080]
    exposition = generate_latest(REGISTRY).decode()
    assert "eternal_operator_reconciles_total{" in exposition
    assert "_created" not in exposition
    forget_policy("fleet", "created-check")


async def test_runtime_exposition_has_no_created_series(created_on: None) -> None:
    metrics = Metrics(engine="trend", namespace="fleet", strategy="trend")
    metrics.orders.labels(status="Filled").inc()
    metrics.order_ack.observe(0.01)
    assert b"_created" in generate_latest(metrics.registry)
    endpoints = HttpEndpoints(Probes(lambda: (True, "")), metrics, 0, 0)  # as the runtime starts
    response = await endpoints._metrics(None)  # type: ignore[arg-type]
    body = response.body
    assert isinstance(body, bytes)
    assert b"eternal_engine_orders_total{" in body
    assert b"_created" not in body


def test_histogram_alerts_stay_within_their_buckets() -> None:
    """histogram_quantile never answers above the last finite bucket: a threshold there or
    beyond is an alert that cannot fire."""
    doc = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    runtime = Metrics(engine="e", namespace="n", strategy="trend")
    bounds = {
        "eternal_operator_reconcile_duration_seconds_bucket": RECONCILE_DURATION._upper_bounds,
        "eternal_engine_order_latency_seconds_bucket": runtime.order_ack._upper_bounds,
    }
    bounds = {name: max(b for b in ups if b != float("inf")) for name, ups in bounds.items()}
    checked = 0
    for group in doc["spec"]["groups"]:
        for rule in group["rules"]:
            found = re.fullmatch(r"histogram_quantile\(.*\((\w+)\[.*\) > ([0-9.]+)", rule["expr"])
            if found:
                assert float(found[2]) < bounds[found[1]], rule["alert"]
                checked += 1
    assert checked == 2
