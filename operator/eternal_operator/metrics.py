"""The operator's own Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OBJECT_WRITES = Counter(
    "eternal_operator_object_writes_total", "Owned objects written (they differed).", ["kind"]
)
API_CALLS = Counter(
    "eternal_operator_api_calls_total", "Kubernetes API calls the reconcilers made.", ["verb"]
)
GOVERNANCE_LEVEL = Gauge("eternal_governance_level", "Circuit-breaker level in force.", ["policy"])
GOVERNANCE_HALTED = Gauge("eternal_governance_halted", "1 while a halt is latched.", ["policy"])
GOVERNANCE_DIRECTIVES = Counter(
    "eternal_governance_directives_total", "Directives written to engines.", ["policy"]
)
PORTFOLIO_NAV = Gauge("eternal_portfolio_nav", "Portfolio equity (USDT).", ["policy"])
PORTFOLIO_DRAWDOWN = Gauge(
    "eternal_portfolio_drawdown", "Drawdown of NAV per unit from its high-water mark.", ["policy"]
)
PORTFOLIO_HWM = Gauge(
    "eternal_portfolio_high_water_mark", "High-water mark of NAV per unit.", ["policy"]
)
