"""Cancel everything and close positions through the order manager (so every order is recorded).

Used by a governance halt, close-directional, a shutdown with flatten, and SIGTERM. Orders carry
deterministic ids derived from the purpose (`halt-7`, `shutdown-...`) and the attempt, so a
retried or restarted flatten cannot place the same close twice, and a further attempt is a new
order only when the previous one did not get the account flat.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from engine_runtime.adapters.bybit.domain import BybitDomainClient
from engine_runtime.adapters.bybit.errors import VenueError
from engine_runtime.model.commands import OrderRequest
from engine_runtime.model.enums import Category, OrderSide, OrderType
from engine_runtime.model.identifiers import ClientOrderId, derived_id
from engine_runtime.model.instruments import Instrument
from engine_runtime.portfolio.portfolio import Portfolio

from .manager import OrderManager

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 4
SETTLE_TIMEOUT_S = 5.0


@dataclass
class FlatState:
    open_orders: int = 0
    positions: list[str] = field(default_factory=list)

    @property
    def flat(self) -> bool:
        return self.open_orders == 0 and not self.positions


class Flattener:
    def __init__(
        self,
        venue: BybitDomainClient,
        manager: OrderManager,
        portfolio: Portfolio,
        instruments: dict[tuple[str, Category], Instrument],
    ) -> None:
        self.venue = venue
        self.manager = manager
        self.portfolio = portfolio
        self.instruments = instruments

    def categories(self) -> tuple[Category, ...]:
        return tuple(sorted({c for _, c in self.instruments}, key=str)) or (Category.LINEAR,)

    async def cancel_all(self) -> int:
        return await self.manager.cancel_all()

    async def state(self, *, spot: bool) -> FlatState:
        """The venue's view: open orders, linear positions and (with `spot`) sellable coins."""
        state = FlatState()
        for category in self.categories():
            state.open_orders += len(await self.venue.open_orders(category))
        if Category.LINEAR in self.categories():
            for p in await self.venue.positions():
                if p.size > 0:
                    state.positions.append(f"{p.symbol} {p.side} {p.size}")
        if spot:
            for symbol, qty in (await self._spot_sellable()).items():
                state.positions.append(f"{symbol} spot {qty}")
        return state

    async def _spot_sellable(self) -> dict[str, Decimal]:
        wallet = await self.venue.wallet()
        out = {}
        for (symbol, category), inst in self.instruments.items():
            if category is not Category.SPOT or inst.base_coin not in wallet.coins:
                continue
            qty = inst.round_qty(wallet.coins[inst.base_coin].free)
            if qty >= inst.min_qty and qty > 0:
                out[symbol] = qty
        return out

    async def flatten(self, purpose: str, *, spot: bool, linear: bool = True) -> FlatState:
        """Cancel all, close linear positions (and sell spot holdings with `spot`) until flat."""
        state = FlatState()
        for attempt in range(MAX_ATTEMPTS):
            try:
                await self.cancel_all()
                if linear:
                    await self._close_linear(purpose, attempt)
                if spot:
                    await self._sell_spot(purpose, attempt)
                state = await self._settle(spot=spot, linear=linear)
            except VenueError as error:
                log.warning("flatten %s attempt %d: %s", purpose, attempt, error)
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            if state.flat:
                return state
        return state

    async def _settle(self, *, spot: bool, linear: bool) -> FlatState:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT_S
        state = await self.state(spot=spot)
        while not state.flat and loop.time() < deadline:
            await asyncio.sleep(0.2)
            state = await self.state(spot=spot)
        if not linear:
            state.positions = [p for p in state.positions if " spot " in p]
        return state

    async def _close_linear(self, purpose: str, attempt: int) -> None:
        if Category.LINEAR not in self.categories():
            return
        for p in await self.venue.positions():
            if p.size <= 0 or p.side is None:
                continue
            inst = self.instruments.get((p.symbol, Category.LINEAR))
            qty = inst.round_qty(p.size) if inst else p.size
            link = derived_id(ClientOrderId(f"{purpose}-{attempt}"), f"c{p.symbol}")
            await self.manager.submit(
                OrderRequest(
                    link,
                    p.symbol,
                    Category.LINEAR,
                    p.side.opposite(),
                    OrderType.MARKET,
                    qty,
                    reduce_only=True,
                ),
                intent_id=f"{purpose}:close:{p.symbol}",
                reason=purpose,
            )

    async def _sell_spot(self, purpose: str, attempt: int) -> None:
        for symbol, qty in (await self._spot_sellable()).items():
            link = derived_id(ClientOrderId(f"{purpose}-{attempt}"), f"s{symbol}")
            await self.manager.submit(
                OrderRequest(link, symbol, Category.SPOT, OrderSide.SELL, OrderType.MARKET, qty),
                intent_id=f"{purpose}:sell:{symbol}",
                reason=purpose,
            )
