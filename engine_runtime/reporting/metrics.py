"""Prometheus metrics of one runtime (its own registry, served on the metrics port).

Names start with `eternal_runtime_`. No label ever carries a secret or an unbounded value:
symbols and Bybit error codes are bounded sets.
"""

from __future__ import annotations

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


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.orders = Counter(
            "eternal_runtime_orders_total", "Orders reaching a status.", ["status"], registry=r
        )
        self.open_orders = Gauge("eternal_runtime_open_orders", "Open orders.", registry=r)
        self.fills = Counter("eternal_runtime_fills_total", "Executions booked.", registry=r)
        self.tick_to_order = Histogram(
            "eternal_runtime_tick_to_order_seconds",
            "Market data message in to order request out, in process.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.order_ack = Histogram(
            "eternal_runtime_order_ack_seconds",
            "Order request out to the venue's acknowledgement.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rest_latency = Histogram(
            "eternal_runtime_rest_seconds",
            "Venue REST call latency.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.equity = Gauge("eternal_runtime_equity_usdt", "Equity in USDT.", registry=r)
        self.drawdown = Gauge(
            "eternal_runtime_drawdown_ratio", "Drawdown from the high-water mark.", registry=r
        )
        self.reconnects = Counter(
            "eternal_runtime_stream_reconnects_total", "Stream reconnects.", ["stream"], registry=r
        )
        self.venue_errors = Counter(
            "eternal_runtime_venue_errors_total", "Venue errors by code.", ["code"], registry=r
        )
        self.risk_refusals = Counter(
            "eternal_runtime_risk_refusals_total", "Intents refused.", ["check"], registry=r
        )
        self.discrepancies = Counter(
            "eternal_runtime_discrepancies_total", "Reconciliation findings.", ["kind"], registry=r
        )
        self.events = Counter(
            "eternal_runtime_stream_messages_total", "Stream messages.", ["stream"], registry=r
        )
        self.directive = Gauge(
            "eternal_runtime_applied_directive", "Governance sequence applied.", registry=r
        )
        self.ready = Gauge("eternal_runtime_ready", "1 when reconciled and streams up.", registry=r)
