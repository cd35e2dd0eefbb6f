"""Prometheus metrics of one runtime (its own registry, served on the metrics port).

Names start with `eternal_engine_`, as the alerts and dashboards expect, and end with their
unit (`_usdt`, `_ratio`, `_seconds`, `_total`). Every series carries the engine, its namespace
and its strategy (the ServiceMonitor honours these labels). Counters expose no `_created`
series: `HttpEndpoints` turns them off as the runtime starts. No label ever carries a secret or
an unbounded value: symbols and Bybit error codes are bounded sets.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


ENGINE_LABELS = ("engine", "namespace", "strategy")


class _Bound:
    """A labelled metric with the engine's own labels already filled in."""

    def __init__(self, metric: Any, const: dict[str, str]) -> None:
        self._metric = metric
        self._const = const
        self._extra = [n for n in metric._labelnames if n not in const]

    def labels(self, *values: str, **named: str) -> Any:
        return self._metric.labels(
            **self._const, **dict(zip(self._extra, values, strict=False)), **named
        )


class Metrics:
    """The runtime's metrics, named as the alerts and dashboards expect (`eternal_engine_*`),
    each labelled with the engine, its namespace and its strategy."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        engine: str = "",
        namespace: str = "",
        strategy: str = "",
    ) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        const = {"engine": engine, "namespace": namespace, "strategy": strategy}

        def metric(kind: Any, name: str, doc: str, labels: tuple[str, ...] = (), **kw: Any) -> Any:
            created = kind(name, doc, [*ENGINE_LABELS, *labels], registry=r, **kw)
            return _Bound(created, const) if labels else created.labels(**const)

        self.orders = metric(
            Counter, "eternal_engine_orders_total", "Orders reaching a status.", ("status",)
        )
        self.open_orders = metric(Gauge, "eternal_engine_open_orders", "Open orders.")
        self.fills = metric(Counter, "eternal_engine_fills_total", "Executions booked.")
        self.tick_to_order = metric(
            Histogram, "eternal_engine_tick_to_order_seconds",
            "Market data message in to order request out, in process.", buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.order_ack = metric(
            Histogram, "eternal_engine_order_latency_seconds",
            "Order request out to the venue's acknowledgement.", buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.rest_latency = metric(
            Histogram, "eternal_engine_rest_seconds", "Venue REST call latency.", ("endpoint",),
            buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.equity = metric(Gauge, "eternal_engine_equity_usdt", "Equity in USDT.")
        self.drawdown = metric(
            Gauge, "eternal_engine_drawdown_ratio", "Drawdown from the high-water mark (0.1 = 10%)."
        )
        self.heartbeat = metric(
            Gauge, "eternal_engine_heartbeat_timestamp_seconds", "Last status report (epoch s)."
        )
        self.allocation = metric(
            Gauge,
            "eternal_engine_allocation_target_weight_ratio",
            "Target weight from the Allocation (0.25 = a quarter of the portfolio).",
        )
        self.reconnects = metric(
            Counter, "eternal_engine_stream_reconnects_total", "Stream reconnects.", ("stream",)
        )
        self.venue_errors = metric(
            Counter, "eternal_engine_venue_errors_total", "Venue errors by code.", ("code",)
        )
        self.risk_refusals = metric(
            Counter, "eternal_engine_risk_refusals_total", "Intents refused.", ("check",)
        )
        self.discrepancies = metric(
            Counter, "eternal_engine_discrepancies_total", "Reconciliation findings.", ("kind",)
        )
        self.events = metric(
            Counter, "eternal_engine_stream_messages_total", "Stream messages.", ("stream",)
        )
        self.directive = metric(
            Gauge, "eternal_engine_applied_directive", "Governance sequence applied."
        )
        self.ready = metric(Gauge, "eternal_engine_ready", "1 when reconciled and streams up.")
        self.grid_recentres = metric(
            Counter, "eternal_engine_grid_recentres_total", "Grid ladders (re)built.", ("reason",)
        )
