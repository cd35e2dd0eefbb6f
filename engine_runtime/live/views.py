"""The strategies' PortfolioView over the runtime's portfolio and orders."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from engine_runtime.execution.manager import OrderManager
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.strategies.interface import Category, OpenOrder, PerpPosition, Side
from eternal_kernel.model.enums import Category as RtCategory


class LivePortfolio:
    def __init__(self, portfolio: Portfolio, manager: OrderManager) -> None:
        self._portfolio = portfolio
        self._manager = manager

    @property
    def equity(self) -> Decimal:
        return self._portfolio.equity

    @property
    def cash(self) -> Decimal:
        return self._portfolio.cash

    def spot_qty(self, symbol: str) -> Decimal:
        position = self._portfolio.positions.get((symbol, RtCategory.SPOT))
        return position.qty if position is not None else Decimal(0)

    def position(self, symbol: str) -> PerpPosition | None:
        position = self._portfolio.positions.get((symbol, RtCategory.LINEAR))
        if position is None or position.is_flat:
            return None
        return PerpPosition(qty=position.qty, entry_price=position.avg_entry_price, stop_price=None)

    def open_orders(self) -> Sequence[OpenOrder]:
        """Its orders still working as far as the strategy knows: open ones, and filled ones
        whose final event waits for their fills to be booked."""
        return [
            OpenOrder(
                intent_id=o.intent_id,
                symbol=o.symbol,
                category=Category(o.category.value),
                side=Side(o.side.value),
                qty=o.qty,
                price=o.price,
            )
            for o in self._manager.working_orders()
        ]
