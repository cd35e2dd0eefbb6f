"""Hand-set market and portfolio views for driving strategies bar by bar."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from engine_runtime.strategies.interface import (
    NORMAL,
    Category,
    GovernanceDirective,
    OpenOrder,
    OrderBook,
    PerpPosition,
    StrategyContext,
)


@dataclass
class FakeMarket:
    now_ms: int = 1_700_000_000_000
    values: dict[tuple[str, Category, str], float] = field(default_factory=dict)
    rates: dict[str, list[Decimal]] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)
    books: dict[tuple[str, Category], OrderBook] = field(default_factory=dict)

    def set(self, symbol: str, category: Category = Category.SPOT, **values: float) -> None:
        for name, value in values.items():
            self.values[(symbol, category, name)] = value

    def feature(self, symbol: str, name: str, category: Category = Category.SPOT) -> float:
        return self.values.get((symbol, category, name), math.nan)

    def price(self, symbol: str, category: Category = Category.SPOT) -> Decimal:
        value = self.values.get((symbol, category, "close"))
        if value is None and category is Category.LINEAR:
            value = self.values[(symbol, Category.SPOT, "close")]
        assert value is not None
        return Decimal(repr(value))

    def funding_rates(self, symbol: str, count: int) -> Sequence[Decimal]:
        return self.rates.get(symbol, [])[-count:]

    def signal(self, name: str) -> float | None:
        return self.signals.get(name)

    def book(self, symbol: str, category: Category = Category.SPOT) -> OrderBook | None:
        return self.books.get((symbol, category))


@dataclass
class FakePortfolio:
    market: FakeMarket
    cash_: Decimal = Decimal(10000)
    spot: dict[str, Decimal] = field(default_factory=dict)
    perps: dict[str, PerpPosition] = field(default_factory=dict)
    orders: list[OpenOrder] = field(default_factory=list)

    @property
    def equity(self) -> Decimal:
        value = self.cash_
        for symbol, qty in self.spot.items():
            value += qty * self.market.price(symbol)
        for symbol, pos in self.perps.items():
            value += pos.qty * (self.market.price(symbol, Category.LINEAR) - pos.entry_price)
        return value

    @property
    def cash(self) -> Decimal:
        return self.cash_

    def spot_qty(self, symbol: str) -> Decimal:
        return self.spot.get(symbol, Decimal(0))

    def position(self, symbol: str) -> PerpPosition | None:
        return self.perps.get(symbol)

    def open_orders(self) -> Sequence[OpenOrder]:
        return list(self.orders)


@dataclass
class Harness:
    market: FakeMarket
    portfolio: FakePortfolio
    directive: GovernanceDirective = NORMAL

    @property
    def ctx(self) -> StrategyContext:
        return StrategyContext("test-engine", self.market, self.portfolio, self.directive)


@pytest.fixture
def harness() -> Harness:
    market = FakeMarket()
    return Harness(market, FakePortfolio(market))
