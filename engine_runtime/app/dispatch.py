"""Stream messages to the runtime's components: public market data to marks, the cache and the
strategy; private order, execution, position and wallet topics to the order manager and the
portfolio. Plain synchronous code on the hot path; database writes leave as tasks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine_runtime.execution.manager import OrderManager
from engine_runtime.live.feed import BookFeed
from engine_runtime.live.runner import StrategyRunner
from engine_runtime.persistence.cache import Cache
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.metrics import Metrics
from eternal_kernel.bybit import parsing
from eternal_kernel.model.enums import Category

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        *,
        runner: StrategyRunner,
        manager: OrderManager,
        portfolio: Portfolio,
        cache: Cache,
        metrics: Metrics,
        background: Callable[[Any], None],
        on_fill: Callable[[], None],
        on_price: Callable[[], None],
        on_wallet: Callable[[], None],
        feed: BookFeed | None = None,
    ) -> None:
        self.runner = runner
        self.manager = manager
        self.portfolio = portfolio
        self.cache = cache
        self.metrics = metrics
        self.background = background
        self.on_fill = on_fill
        self.on_price = on_price
        self.on_wallet = on_wallet
        self.feed = feed
        self._public_counter = {c: metrics.events.labels(f"public-{c.value}") for c in Category}
        self._private_counter = metrics.events.labels("private")

    def public(self, category: Category) -> Callable[[dict[str, Any], int], None]:
        counter = self._public_counter[category]

        def handle(message: dict[str, Any], received_ns: int) -> None:
            counter.inc()
            topic: str = message["topic"]
            kind, _, rest = topic.partition(".")
            if kind == "orderbook":
                if self.feed is not None:
                    self.feed.on_book_message(category, message, received_ns)
            elif kind == "publicTrade":
                if self.feed is not None:
                    self.feed.on_trade_message(category, message, received_ns)
            elif kind == "kline":
                symbol = rest.rpartition(".")[2]
                for row in message.get("data") or []:
                    self.runner.on_kline(symbol, category, row, received_ns)
            elif kind == "tickers":
                data = message.get("data") or {}
                if data.get("fundingRate"):
                    self.runner.market.predicted_funding[rest] = Decimal(data["fundingRate"])
                last = data.get("lastPrice")
                if last:
                    self.portfolio.marks[rest] = Decimal(last)
                    self.on_price()
                    self.cache.stage_ticker(
                        category.value,
                        rest,
                        {
                            "last": last,
                            "bid": str(data.get("bid1Price", "")),
                            "ask": str(data.get("ask1Price", "")),
                            "ts": str(message.get("ts", "")),
                        },
                    )

        return handle

    def private(self, message: dict[str, Any], received_ns: int) -> None:
        self._private_counter.inc()
        topic = str(message["topic"]).partition(".")[0]
        rows = message.get("data") or []
        if topic == "order":
            for row in rows:
                self.manager.on_order_report(parsing.order_report(row))
        elif topic == "execution":
            for row in rows:
                if parsing.is_trade(row):
                    self.background(self._fill(parsing.fill_report(row)))
        elif topic == "position":
            for row in rows:
                report = parsing.position_report(
                    {**row, "category": row.get("category") or "linear"}
                )
                self.portfolio.venue_positions[report.symbol] = report
        elif topic == "wallet":
            for row in rows:
                self.portfolio.on_wallet(parsing.wallet_report(row))
            self.on_wallet()

    async def _fill(self, fill: Any) -> None:
        if await self.manager.on_fill(fill):
            self.on_fill()
