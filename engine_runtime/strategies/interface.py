"""The strategy interface (version 2): what a strategy sees, and the intents it returns.

A strategy is deterministic code over a read-only view of the market and of its own subaccount.
The live runtime and the backtester call it the same way:

* ``features(symbol, category, candles)`` once over a window of confirmed candles (live: the rolling
  window, backtest: the whole history) returns causal, vectorised indicator columns;
* ``on_bar(ctx)`` after every confirmed candle (all of the strategy's markets share a clock);
* ``on_funding(ctx, event)`` when a perpetual's funding settles;
* ``on_order_event(ctx, event)`` when one of its orders fills, is rejected or cancelled.

Version 2 adds, for strategies that trade the book and the tape (a market maker, a scalper), three
optional callbacks; a version-1 strategy declares none of them and runs unchanged:

* ``on_book(ctx, book)`` with the top ``book_depth()`` levels of each market in
  ``book_markets()``, after every change of the book (live: Bybit's ``orderbook.{depth}``
  stream; backtest: recorded or synthetic book data);
* ``on_trade(ctx, trade)`` with each public trade of the markets in ``trade_markets()`` (live:
  ``publicTrade``);
* ``on_timer(ctx, event)`` every ``period_ms`` of each ``TimerSpec`` in ``timers()``, on the
  runtime's clock (live: wall time; backtest: the simulated clock).

Between bars ``ctx.market.now_ms`` is the time of the event being delivered, and
``ctx.market.book(symbol, category)`` the latest book seen (None before the first).

Each call returns imperative *intents* (``SubmitOrder``, ``CancelOrder``, ``SetStopLoss``,
``TransferProceeds``) carrying a deterministic ``intent_id``. The runtime uses it as Bybit's
``orderLinkId``, so replaying a bar after a crash cannot double an order. Intents decided at a
bar's close are executed at the earliest from the next bar: the backtester fills market orders at
the next bar's open, never at the close the decision saw.

Money and quantities are ``Decimal`` at this boundary. Indicator values are floats: they are
ratios and averages compared with thresholds, never amounts that are booked.

Optional, for the backtester's fast path only: ``is_idle() -> bool`` and a ``wake`` column in
``features``. Idle means ``on_bar`` does nothing and changes nothing on a bar whose ``wake`` is 0;
the backtester then skips such bars (see ``engine_runtime.backtest.fastpath``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from eternal_kernel.model.enums import Category as Category
from eternal_kernel.model.enums import OrderSide
from eternal_kernel.model.enums import OrderType as OrderType
from eternal_kernel.model.identifiers import INTENT, order_link_id

if TYPE_CHECKING:  # pandas is for the strategies that compute features; the rest never load it
    import pandas as pd

STRATEGY_API_VERSION = 2
"""The interface's newest version. A strategy declares (``api_version``) the version it was
written against: 1 (candles, funding, order events) or 2 (also the book, the tape and timers).
Version 2 only adds optional callbacks, so every version-1 strategy is a valid version-2 one."""

SUPPORTED_API_VERSIONS = (1, 2)

QUOTE = "USDT"


# One definition of the order domain's closed sets, shared with the live runtime.
Side = OrderSide


class OrderStatus(StrEnum):
    FILLED = "Filled"
    REJECTED = "Rejected"
    CANCELLED = "Cancelled"


MarketKey = tuple[str, Category]


def intent_id(engine: str, now_ms: int, *parts: object) -> str:
    """A deterministic client order id (Bybit's ``orderLinkId``, at most 36 characters).

    The same engine, bar time and purpose always give the same id, so a retried or replayed
    decision is recognised by the venue as a duplicate instead of becoming a second order. Made
    by `model.identifiers.order_link_id`, the one recipe of every orderLinkId we send.
    """
    return order_link_id(INTENT, engine, now_ms, *parts)


# --- intents -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmitOrder:
    """Place an order. Exactly one of ``qty`` (base units) and ``notional`` (quote) is set;
    ``notional`` is only for spot market buys (Bybit's ``marketUnit=quoteCoin``)."""

    intent_id: str
    symbol: str
    category: Category
    side: Side
    order_type: OrderType
    qty: Decimal | None = None
    notional: Decimal | None = None
    price: Decimal | None = None
    post_only: bool = False
    reduce_only: bool = False
    reason: str = ""
    confidence: Decimal | None = None
    """The signal's confidence (0..1), when the strategy has one: the pre-trade risk check
    refuses an entry below ``risk.minSignalConfidence``."""

    def __post_init__(self) -> None:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("set exactly one of qty and notional")
        if (self.qty is not None and self.qty <= 0) or (
            self.notional is not None and self.notional <= 0
        ):
            raise ValueError("qty / notional must be positive")
        if self.order_type is OrderType.LIMIT and (self.price is None or self.price <= 0):
            raise ValueError("a limit order needs a positive price")
        if self.post_only and self.order_type is not OrderType.LIMIT:
            raise ValueError("postOnly applies to limit orders")
        if self.notional is not None and (
            self.category is not Category.SPOT or self.order_type is not OrderType.MARKET
        ):
            raise ValueError("notional sizing is for spot market orders only")


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel a working order by the intent id it was submitted with."""

    intent_id: str
    symbol: str
    category: Category
    target_intent_id: str


@dataclass(frozen=True, slots=True)
class SetStopLoss:
    """Set (or with ``trigger_price=None`` remove) the venue-held stop of a perp position.

    Live this is Bybit's ``/v5/position/trading-stop``; the stop closes the whole position at
    market when the last price crosses the trigger.
    """

    intent_id: str
    symbol: str
    trigger_price: Decimal | None
    category: Category = Category.LINEAR


@dataclass(frozen=True, slots=True)
class TransferProceeds:
    """Ask the allocator to move quote currency from this engine to another engine."""

    intent_id: str
    amount: Decimal
    to_strategy: str
    reason: str = ""


Intent = SubmitOrder | CancelOrder | SetStopLoss | TransferProceeds


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order of this strategy reached a final state; stops come as fills, reason ``stop``."""

    intent_id: str
    symbol: str
    category: Category
    side: Side
    status: OrderStatus
    filled_qty: Decimal
    avg_price: Decimal
    fee: Decimal
    ts_ms: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FundingEvent:
    """A funding settlement of a perpetual: the settled rate and, when known, the next one's
    prediction. ``payment`` is what this subaccount received (negative: paid)."""

    symbol: str
    ts_ms: int
    rate: Decimal
    predicted_rate: Decimal | None
    payment: Decimal


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    """The top levels of one market's order book, best first, as of ``ts_ms``.

    ``update_id`` is Bybit's ``u`` (increases with every change of this book; a snapshot may
    restart it), ``seq`` its cross sequence (comparable across depths of one symbol).
    """

    symbol: str
    category: Category
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    update_id: int
    seq: int
    ts_ms: int

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def spread(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """One public trade of a market (Bybit's ``publicTrade``); ``side`` is the taker's."""

    symbol: str
    category: Category
    trade_id: str
    side: Side
    price: Decimal
    qty: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class TimerSpec:
    """A timer a strategy declares: ``on_timer`` every ``period_ms`` (at least 100 ms)."""

    name: str
    period_ms: int

    def __post_init__(self) -> None:
        if self.period_ms < 100:
            raise ValueError("a timer's period is at least 100 ms")


@dataclass(frozen=True, slots=True)
class TimerEvent:
    """A timer fell due at ``ts_ms``."""

    name: str
    ts_ms: int


# --- views ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GovernanceDirective:
    """The circuit breaker's orders to an engine (``Engine.status.governance``).

    This is the strategies' own seam: the runtime maps the API's directive onto it.
    """

    level: int = 0
    size_multiplier: Decimal = Decimal(1)
    """For information: the runtime and the backtester cut the entries by it when they send
    them (``governance.admission``); a strategy that multiplied too would cut them twice."""
    entries_paused: bool = False
    close_directional: bool = False
    halt: bool = False
    stop_multiplier: Decimal = Decimal(1)
    reason: str = ""


NORMAL = GovernanceDirective()


@dataclass(frozen=True, slots=True)
class PerpPosition:
    qty: Decimal  # signed: > 0 long, < 0 short
    entry_price: Decimal
    stop_price: Decimal | None


@dataclass(frozen=True, slots=True)
class OpenOrder:
    intent_id: str
    symbol: str
    category: Category
    side: Side
    qty: Decimal
    price: Decimal | None


class MarketView(Protocol):
    """Read-only market state as of the close of the current bar; nothing later is visible."""

    @property
    def now_ms(self) -> int:
        """Close time of the bar just completed (the decision time), epoch milliseconds."""
        ...

    def feature(self, symbol: str, name: str, category: Category = Category.SPOT) -> float:
        """The current bar's value of a column of ``features()`` or of open/high/low/close."""
        ...

    def price(self, symbol: str, category: Category = Category.SPOT) -> Decimal:
        """Last traded price (the current bar's close)."""
        ...

    def funding_rates(self, symbol: str, count: int) -> Sequence[Decimal]:
        """The last ``count`` settled funding rates, oldest first (fewer if not known)."""
        ...

    def signal(self, name: str) -> float | None:
        """An external series' latest value (e.g. ``fear_greed``), None when not available."""
        ...

    def book(self, symbol: str, category: Category = Category.SPOT) -> OrderBook | None:
        """The latest order book of a market in ``book_markets()`` (None before the first, and
        for a market the strategy did not ask the book of)."""
        ...


class PortfolioView(Protocol):
    """Read-only state of the strategy's own subaccount."""

    @property
    def equity(self) -> Decimal: ...

    @property
    def cash(self) -> Decimal:
        """Free quote currency (USDT) in the wallet."""
        ...

    def spot_qty(self, symbol: str) -> Decimal:
        """Base-coin holdings bought through ``symbol`` (e.g. BTC for BTCUSDT)."""
        ...

    def position(self, symbol: str) -> PerpPosition | None:
        """The perpetual position, None when flat."""
        ...

    def open_orders(self) -> Sequence[OpenOrder]: ...


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """Everything a callback may read. Views are live cursors owned by the caller."""

    engine: str
    market: MarketView
    portfolio: PortfolioView
    directive: GovernanceDirective = NORMAL


@runtime_checkable
class Strategy(Protocol):
    """A versioned trading strategy; see the module docstring for the calling contract."""

    name: ClassVar[str]
    api_version: ClassVar[int]

    def markets(self) -> Sequence[MarketKey]:
        """The candle series this strategy reads (and trades)."""
        ...

    def funding_symbols(self) -> Sequence[str]:
        """Perpetuals whose funding settlements it wants (``on_funding``)."""
        ...

    def warmup_bars(self) -> int:
        """Confirmed candles needed before its features are all defined."""
        ...

    def features(self, symbol: str, category: Category, candles: pd.DataFrame) -> pd.DataFrame:
        """Causal indicator columns (float) for one market, index aligned with ``candles``. A
        strategy with ``array_features`` also takes an ``ArrayFrame`` (``frame``) and answers
        with one: the live runtime then computes its features without pandas."""
        ...

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]: ...

    def on_funding(self, ctx: StrategyContext, event: FundingEvent) -> Sequence[Intent]: ...

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]: ...

    def state_summary(self) -> Mapping[str, str]:
        """State machine state(s) for status and metrics, e.g. ``{"BTCUSDT": "IN_POSITION"}``."""
        ...

    # --- version 2 (BaseStrategy answers "none" to each) -------------------------------------

    def book_markets(self) -> Sequence[MarketKey]:
        """Markets whose order book it wants (``on_book``)."""
        ...

    def book_depth(self) -> int:
        """Levels per side it reads (the runtime subscribes to the smallest Bybit depth >= it)."""
        ...

    def trade_markets(self) -> Sequence[MarketKey]:
        """Markets whose public trades it wants (``on_trade``)."""
        ...

    def timers(self) -> Sequence[TimerSpec]: ...

    def on_book(self, ctx: StrategyContext, book: OrderBook) -> Sequence[Intent]: ...

    def on_trade(self, ctx: StrategyContext, trade: PublicTrade) -> Sequence[Intent]: ...

    def on_timer(self, ctx: StrategyContext, event: TimerEvent) -> Sequence[Intent]: ...


def decimal_from_float(value: float, places: int = 8) -> Decimal:
    """A float at the boundary as a Decimal with at most ``places`` decimals."""
    return round(Decimal(repr(value)), places)
