"""An account on an in-memory venue, answering as the runtime's domain client
(`BybitDomainClient`) does, and an in-memory order store: for unit tests of the parts that
drive them (order manager, flattener, obey, reporter), where the paper venue over HTTP and
PostgreSQL cannot be used. Market orders fill at once (at most `fill_cap` of them per order: a
thin book), limits rest; a repeated orderLinkId is taken once, as Bybit does."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from decimal import Decimal

from engine_runtime.execution.orders import ManagedOrder
from eternal_kernel.bybit.errors import VenueError
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, TradeId, VenueOrderId
from eternal_kernel.model.instruments import Instrument
from eternal_kernel.model.reports import (
    CoinBalance,
    FillReport,
    OrderStatusReport,
    PositionStatusReport,
    WalletReport,
)

QUOTE = "USDT"


class MemoryVenue:
    def __init__(self, instruments: dict[tuple[str, Category], Instrument]) -> None:
        self.markets = instruments
        self.prices: dict[str, Decimal] = {}
        self.longs: dict[str, Decimal] = {}
        """Linear positions: signed size by symbol (negative: short)."""
        self.coins: dict[str, Decimal] = {QUOTE: Decimal(10_000)}
        self.resting: dict[ClientOrderId, OrderRequest] = {}
        self.links: set[ClientOrderId] = set()
        self.sent: list[OrderRequest] = []
        """Every order the venue took, in order."""
        self.fills: dict[ClientOrderId, list[FillReport]] = {}
        self.fill_cap: Decimal | None = None
        self.fail_next: list[VenueError] = []
        """Errors the next calls that send or cancel raise, one each."""
        self._ids = itertools.count(1)

    # what the flattener reads ---------------------------------------------------------------
    async def open_orders(self, category: Category) -> list[OrderStatusReport]:
        return [self._report(r, OrderStatus.ACKNOWLEDGED, Decimal(0))
                for r in self.resting.values() if r.category is category]  # fmt: skip

    async def positions(self) -> list[PositionStatusReport]:
        held = [(s, q) for s, q in sorted(self.longs.items()) if q != 0]
        return [self._position(symbol, size) for symbol, size in held]

    def _position(self, symbol: str, size: Decimal) -> PositionStatusReport:
        side = OrderSide.BUY if size > 0 else OrderSide.SELL
        mark = self.prices[symbol]
        return PositionStatusReport(symbol, Category.LINEAR, side, abs(size), mark, mark,
                                    Decimal(0), Decimal(1))  # fmt: skip

    async def wallet(self) -> WalletReport:
        coins = {c: CoinBalance(c, q, q, q) for c, q in self.coins.items()}
        return WalletReport(self.coins[QUOTE], coins)

    async def instruments(self, category: Category, symbols: list[str]) -> dict[str, Instrument]:
        return {s: self.markets[(s, category)] for s in symbols if (s, category) in self.markets}

    async def last_prices(self, category: Category) -> dict[str, Decimal]:
        return dict(self.prices)

    # what the order manager sends ----------------------------------------------------------
    async def submit(
        self, request: OrderRequest, precheck: Callable[[], Awaitable[None]] | None = None
    ) -> OrderStatusReport | None:
        if precheck is not None:
            await precheck()
        self._maybe_fail()
        if request.client_order_id in self.links:  # Bybit's 110072: the order placed before
            return self._placed(request.client_order_id)
        self.links.add(request.client_order_id)
        self.sent.append(request)
        if request.order_type is OrderType.LIMIT:
            self.resting[request.client_order_id] = request
        else:
            self._fill(request)
        return None  # accepted; the venue's word on it comes later

    async def cancel(self, category: Category, symbol: str, link: ClientOrderId) -> bool:
        self._maybe_fail()
        return self.resting.pop(link, None) is not None

    async def cancel_all(self, categories: tuple[Category, ...]) -> int:
        self._maybe_fail()
        gone = [k for k, r in self.resting.items() if r.category in categories]
        for link in gone:
            del self.resting[link]
        return len(gone)

    async def order_fills(self, category: Category, link: ClientOrderId) -> list[FillReport]:
        return list(self.fills.get(link, []))

    # internals ------------------------------------------------------------------------------
    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def _fill(self, request: OrderRequest) -> None:
        qty = request.qty if self.fill_cap is None else min(request.qty, self.fill_cap)
        if qty <= 0:
            return
        sign = 1 if request.side is OrderSide.BUY else -1
        price = self.prices[request.symbol]
        if request.category is Category.LINEAR:
            self.longs[request.symbol] = self.longs.get(request.symbol, Decimal(0)) + sign * qty
        else:
            base = self.markets[(request.symbol, Category.SPOT)].base_coin
            self.coins[base] = self.coins.get(base, Decimal(0)) + sign * qty
            self.coins[QUOTE] -= sign * qty * price
        fill = FillReport(TradeId(f"t{next(self._ids)}"), request.client_order_id,
                          VenueOrderId(f"v-{request.client_order_id}"), request.symbol,
                          request.category, request.side, qty, price, Decimal(0), QUOTE, False,
                          0)  # fmt: skip
        self.fills.setdefault(request.client_order_id, []).append(fill)

    def _placed(self, link: ClientOrderId) -> OrderStatusReport:
        """The venue's word on an order it took: resting, filled, or (a market order the book
        could not fill whole) cancelled with what it filled."""
        request = next(r for r in self.sent if r.client_order_id == link)
        filled = sum((f.qty for f in self.fills.get(link, [])), Decimal(0))
        if link in self.resting:
            return self._report(request, OrderStatus.ACKNOWLEDGED, filled)
        status = OrderStatus.FILLED if filled == request.qty else OrderStatus.CANCELLED
        return self._report(request, status, filled)

    def _report(self, r: OrderRequest, status: OrderStatus, filled: Decimal) -> OrderStatusReport:
        return OrderStatusReport(r.client_order_id, VenueOrderId(f"v-{r.client_order_id}"),
                                 r.symbol, r.category, r.side, r.order_type, status, r.qty,
                                 r.price, filled, None, r.reduce_only, "", 0)  # fmt: skip


class MemoryStore:
    """The order manager's writes (`persistence.store.Store`): rows by orderLinkId."""

    def __init__(self) -> None:
        self.rows: dict[ClientOrderId, ManagedOrder] = {}
        self.trades: set[str] = set()

    async def insert_order(self, o: ManagedOrder) -> bool:
        if o.client_order_id in self.rows:
            return False
        self.rows[o.client_order_id] = o
        return True

    async def update_order(self, o: ManagedOrder, conn: object = None) -> None:
        self.rows[o.client_order_id] = o

    async def book_fill(self, fill: FillReport, *rest: object) -> bool:
        if fill.trade_id in self.trades:
            return False
        self.trades.add(fill.trade_id)
        return True
