"""The operator's own Prometheus metrics.

Every series about a fleet object carries that object's namespace as `namespace` (the
ServiceMonitor honours it: `honorLabels: true`), so alerts and dashboards filtered by the
fleet's namespace find them, and each is removed when its object is deleted (`forget_policy`,
`forget_engine`): a deleted policy does not keep an alert firing. Counters expose no
`_created` series (`serve` turns them off at process start).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics, start_http_server

POLICY_LABELS = ("namespace", "policy")
ENGINE_LABELS = ("namespace", "engine")

RECONCILES = Counter(
    "eternal_operator_reconciles_total", "Reconcile passes, by kind and result.", ["kind", "result"]
)
RECONCILE_ERRORS = Counter(
    "eternal_operator_reconcile_errors_total", "Reconcile passes that raised.", ["kind"]
)
RECONCILE_DURATION = Histogram(
    "eternal_operator_reconcile_duration_seconds",
    "Time of one reconcile pass.",
    ["kind"],
    # Up to a minute: EternalOperatorReconcileSlow's 10 s must lie below the last finite bucket
    # (histogram_quantile answers at most that bound).
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OBJECT_WRITES = Counter(
    "eternal_operator_object_writes_total", "Owned objects written (they differed).", ["kind"]
)
API_CALLS = Counter(
    "eternal_operator_api_calls_total",
    "Kubernetes API calls the reconcilers made.",
    ["verb", "resource"],
)
GOVERNANCE_LEVEL = Gauge(
    "eternal_governance_level", "Circuit-breaker level in force.", POLICY_LABELS
)
GOVERNANCE_HALTED = Gauge("eternal_governance_halted", "1 while a halt is latched.", POLICY_LABELS)
GOVERNANCE_DIRECTIVES = Counter(
    "eternal_governance_directives_total", "Directives written to engines.", POLICY_LABELS
)
PORTFOLIO_NAV = Gauge(
    "eternal_portfolio_nav_usdt", "Portfolio equity (NAV) in USDT.", POLICY_LABELS
)
PORTFOLIO_DRAWDOWN = Gauge(
    "eternal_portfolio_drawdown_ratio",
    "Drawdown of NAV per unit from its high-water mark (0.1 = 10%).",
    POLICY_LABELS,
)
PORTFOLIO_NAV_PER_UNIT = Gauge(
    "eternal_portfolio_nav_per_unit",
    "NAV per unit (contributions and withdrawals do not move it; drawdown is measured on it).",
    POLICY_LABELS,
)
PORTFOLIO_HWM = Gauge(
    "eternal_portfolio_high_water_mark", "High-water mark of NAV per unit.", POLICY_LABELS
)
POLICY_METRICS: tuple[Any, ...] = (
    GOVERNANCE_LEVEL,
    GOVERNANCE_HALTED,
    GOVERNANCE_DIRECTIVES,
    PORTFOLIO_NAV,
    PORTFOLIO_DRAWDOWN,
    PORTFOLIO_NAV_PER_UNIT,
    PORTFOLIO_HWM,
)
ENGINE_HEARTBEAT = Gauge(
    "eternal_operator_engine_heartbeat_timestamp_seconds",
    "Last heartbeat of the Engine's runtime (status.runtime.heartbeat; the Engine's creation "
    "until the first), per Engine whose runtime should run (not suspended, not halted).",
    ENGINE_LABELS,
)
QUIET_PHASES = frozenset({"Suspended", "Halted"})
"""Phases in which an Engine's runtime is stopped on purpose: no heartbeat is expected."""


def serve(port: int) -> None:
    """Serve /metrics on `port`, without the counters' `_created` series (process start)."""
    disable_created_metrics()  # type: ignore[no-untyped-call]
    start_http_server(port, addr="0.0.0.0")  # noqa: S104 - scraped in-pod


def forget_policy(namespace: str, policy: str) -> None:
    """Remove every series of a CircuitBreakerPolicy (it was deleted, or its loop stopped)."""
    for metric in POLICY_METRICS:
        metric.remove(namespace, policy)  # a series never set is no error


def forget_engine(namespace: str, engine: str) -> None:
    """Remove every series of an Engine (it was deleted)."""
    ENGINE_HEARTBEAT.remove(namespace, engine)


def observe_engine(namespace: str, engine: str, body: Any) -> None:
    """The Engine's last heartbeat from its status, while its runtime should run; no series
    for an Engine being deleted, suspended or halted."""
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    status = body.get("status") or {}
    if meta.get("deletionTimestamp") or spec.get("suspend") or status.get("phase") in QUIET_PHASES:
        forget_engine(namespace, engine)
        return
    beat = _epoch((status.get("runtime") or {}).get("heartbeat"))
    beat = beat if beat is not None else _epoch(meta.get("creationTimestamp"))
    if beat is not None:
        ENGINE_HEARTBEAT.labels(namespace, engine).set(beat)


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
