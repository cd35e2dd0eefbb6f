"""Alerts and dashboards: valid YAML/JSON, every alert with an Alertmanager severity
(critical/warning/info), its P0..P3 priority and runbook text, the expected failure modes
covered, and only metric names the operator and runtime export."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from deploy.tooling import MONITORING, REPO, load_yaml_docs

pytestmark = pytest.mark.unit

# The contract with the operator and the runtime (see docs/operations.md, "Metrics").
OPERATOR_METRICS = {
    "eternal_operator_reconciles_total",
    "eternal_operator_reconcile_errors_total",
    "eternal_operator_reconcile_duration_seconds",
    "eternal_operator_engine_heartbeat_timestamp_seconds",
    "eternal_governance_level",
    "eternal_governance_halted",
    "eternal_portfolio_nav_usdt",
    "eternal_portfolio_nav_per_unit",
    "eternal_portfolio_drawdown_ratio",
    "eternal_portfolio_high_water_mark",
}
RUNTIME_METRICS = {
    "eternal_engine_equity_usdt",
    "eternal_engine_drawdown_ratio",
    "eternal_engine_allocation_target_weight_ratio",
    "eternal_engine_heartbeat_timestamp_seconds",
    "eternal_engine_orders_total",
    "eternal_engine_order_latency_seconds",
    "eternal_engine_venue_errors_total",
    "eternal_engine_stream_reconnects_total",
}
HISTOGRAMS = {"eternal_operator_reconcile_duration_seconds", "eternal_engine_order_latency_seconds"}
KNOWN = (
    OPERATOR_METRICS
    | RUNTIME_METRICS
    | {f"{h}_{s}" for h in HISTOGRAMS for s in ("bucket", "sum", "count")}
)
METRIC = re.compile(r"\beternal_[a-z_]+\b")
UP = re.compile(r'\bup\{job="(eternal-engine-operator|eternal-engine-runtime)"\}')
SEVERITY_OF_PRIORITY = {"P0": "critical", "P1": "critical", "P2": "warning", "P3": "info"}


def rules() -> list[dict[str, Any]]:
    doc = load_yaml_docs(MONITORING / "prometheusrule.yaml")[0]
    assert doc["kind"] == "PrometheusRule"
    return [r for group in doc["spec"]["groups"] for r in group["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for r in rules() if "alert" in r}


def balanced(expr: str) -> bool:
    depth = 0
    for ch in expr:
        depth += {"(": 1, ")": -1, "{": 1, "}": -1, "[": 1, "]": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def test_every_alert_has_severity_and_runbook() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in (REPO / "docs" / "operations.md").read_text().splitlines()
        if line.startswith("#")
    }
    for name, alert in alerts().items():
        # Alertmanager (kube-prometheus-stack) routes on severity; priority orders the runbooks
        priority = alert["labels"]["priority"]
        assert alert["labels"]["severity"] == SEVERITY_OF_PRIORITY[priority], name
        notes = alert["annotations"]
        assert notes["summary"], name
        assert notes["description"], name
        assert len(notes["runbook"]) > 40, name
        anchor = notes["runbook_url"].split("#", 1)[1]
        assert anchor in anchors, f"{name}: docs/operations.md has no section #{anchor}"
        assert re.fullmatch(r"[0-9]+[smh]", alert["for"]), name


def test_expressions_use_only_exported_metrics() -> None:
    for rule in rules():
        expr = rule["expr"]
        assert balanced(expr), expr
        used = set(METRIC.findall(expr))
        assert used or UP.search(expr), expr
        assert used <= KNOWN, used - KNOWN
        if used & {f"{h}_bucket" for h in HISTOGRAMS}:
            assert "histogram_quantile" in expr, expr
            assert re.search(r"by \([^)]*\ble\b", expr), expr


@pytest.mark.parametrize(
    ("metric", "condition", "priority"),
    [
        ("eternal_governance_halted", "== 1", "P0"),
        ("eternal_governance_level", "== 1", "P2"),
        ("eternal_governance_level", "== 2", "P1"),
        ("eternal_governance_level", "== 3", "P0"),
        # the operator's copy of the heartbeat: it outlives the runtime's pod
        ("eternal_operator_engine_heartbeat_timestamp_seconds", "> 60", "P1"),
        ('up{job="eternal-engine-runtime"}', "== 0", "P2"),
        ('absent(up{job="eternal-engine-operator"}', "== 1)", "P1"),
        ('up{job="eternal-engine-operator"}', "== 0", "P2"),
        ("eternal_engine_venue_errors_total", "> 1", "P1"),
        ("eternal_engine_venue_errors_total", "> 0.1", "P2"),
        ("eternal_engine_stream_reconnects_total", "> 5", "P2"),
        ("eternal_operator_reconcile_errors_total", "> 0.05", "P2"),
    ],
)
def test_failure_modes_are_covered(metric: str, condition: str, priority: str) -> None:
    matching = [
        a
        for a in alerts().values()
        if metric in a["expr"] and condition in a["expr"] and a["labels"]["priority"] == priority
    ]
    assert matching, f"no {priority} alert on {metric} {condition}"


def test_object_alerts_group_by_the_object_namespace() -> None:
    """Governance and engine alerts name the object's namespace (their runbooks use it)."""
    for name, alert in alerts().items():
        expr = alert["expr"]
        if "eternal_governance" in expr or "eternal_portfolio" in expr:
            assert "by (namespace, policy)" in expr, name
        if "eternal_engine_" in expr or "engine_heartbeat" in expr:
            assert re.search(r"by \((le, )?namespace, engine", expr), name


def test_every_breaker_level_alerts() -> None:
    """Level >= 1 always alerts: levels 1, 2 and 3 by their own alerts, 4 by the halt."""
    pattern = r"^max by \(namespace, policy\) \(eternal_governance_level\) == ([0-9])$"
    levels = {int(m) for a in alerts().values() for m in re.findall(pattern, a["expr"].strip())}
    assert levels == {1, 2, 3}
    assert any("eternal_governance_halted" in a["expr"] for a in alerts().values())


def dashboard(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((MONITORING / "dashboards" / f"{name}.json").read_text())
    return data


def exprs(board: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


@pytest.mark.parametrize("name", ["portfolio", "operations"])
def test_dashboard_is_sound(name: str) -> None:
    board = dashboard(name)
    assert board["uid"] == f"eternal-{name}"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & mine, f"panel {panel['title']} overlaps another"
        cells |= mine
    variables = {v["name"] for v in board["templating"]["list"]}
    for expr in exprs(board):
        assert balanced(expr), expr
        assert set(METRIC.findall(expr)) <= KNOWN, expr
        assert set(re.findall(r"\$([a-z]+)", expr)) <= variables, expr


def test_portfolio_dashboard_shows_the_portfolio() -> None:
    used = {m for e in exprs(dashboard("portfolio")) for m in METRIC.findall(e)}
    assert {
        "eternal_portfolio_nav_usdt",
        "eternal_portfolio_nav_per_unit",
        "eternal_portfolio_drawdown_ratio",
        "eternal_portfolio_high_water_mark",
        "eternal_governance_level",
        "eternal_governance_halted",
        "eternal_engine_equity_usdt",
        "eternal_engine_allocation_target_weight_ratio",
    } <= used


def test_operations_dashboard_shows_operations() -> None:
    used = {m for e in exprs(dashboard("operations")) for m in METRIC.findall(e)}
    assert {
        "eternal_operator_reconciles_total",
        "eternal_operator_reconcile_errors_total",
        "eternal_operator_reconcile_duration_seconds_bucket",
        "eternal_engine_order_latency_seconds_bucket",
        "eternal_engine_venue_errors_total",
        "eternal_engine_stream_reconnects_total",
        "eternal_operator_engine_heartbeat_timestamp_seconds",
    } <= used
