"""What the runtime records of what happened besides orders and fills: a grid's recentre, a
risk check's refusal, a discrepancy with the venue. Each goes to the log or a metric, a
PostgreSQL row and the engine's Redis stream (best effort, off the caller's path)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from engine_runtime.persistence.cache import Cache
from engine_runtime.persistence.store import Store
from engine_runtime.reporting.metrics import Metrics

log = logging.getLogger(__name__)


class Records:
    def __init__(
        self,
        store: Store,
        cache: Cache,
        metrics: Metrics,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self.store = store
        self.cache = cache
        self.metrics = metrics
        self.spawn = spawn

    def recentred(self, record: Any) -> None:
        """A grid rebuilt its ladder: the log, a metric, a Redis event and a PostgreSQL row."""
        detail = {
            "symbol": record.symbol,
            "reason": record.reason,
            "centre": format(record.centre, "f"),
            "spacing": format(record.spacing, "f"),
            "lowestBuy": format(record.lowest_buy, "f"),
            "highestSell": format(record.highest_sell, "f"),
            "levels": record.levels,
            "generation": record.generation,
        }
        log.info("grid recentred", extra=detail)
        self.metrics.grid_recentres.labels(record.reason).inc()
        self.spawn(self.cache.event("grid_recentre", detail))
        self.spawn(
            self.store.grid_recentre(
                record.symbol, record.reason, record.centre, record.spacing,
                record.lowest_buy, record.highest_sell, record.levels, record.generation,
                record.ts_ms,
            )
        )  # fmt: skip

    def refusal(self, intent_id: str, symbol: str, check: str, reason: str) -> None:
        self.spawn(self.store.risk_refusal(intent_id, symbol, check, reason))
        self.spawn(
            self.cache.event(
                "risk_refusal",
                {"intent": intent_id, "symbol": symbol, "check": check, "reason": reason},
            )
        )

    async def discrepancy(
        self, kind: str, subject: str, ours: str | None, venue: str | None, resolution: str
    ) -> None:
        self.metrics.discrepancies.labels(kind).inc()
        log.warning(
            "discrepancy",
            extra={
                "kind": kind,
                "subject": subject,
                "ours": ours,
                "venue": venue,
                "resolution": resolution,
            },
        )
        await self.store.discrepancy(kind, subject, ours, venue, resolution)
        detail = {"kind": kind, "subject": subject, "ours": ours, "venue": venue,
                  "resolution": resolution}  # fmt: skip
        self.spawn(self.cache.event("discrepancy", detail))  # best effort, off the resync's path
