"""The simulated subaccount: balances, spot holdings, perp positions, orders, fills, funding.

Unified-account rules, simplified: USDT cash pays for spot buys; perp positions are cross-margined
against the account's equity (cash + spot value + unrealised PnL) at the configured leverage.
Fees are charged in USDT on every fill; market and stop fills pay slippage on top of the price.

Fill rules (bar ``i``, all prices from that bar; nothing from later bars is read):

* orders decided at the close of bar ``i-1`` become live at bar ``i``'s open: market orders fill
  at the open (taker); a limit that is marketable at the open fills there (taker), unless it is
  PostOnly, which the venue rejects (Bybit's "would take liquidity");
* resting limits fill at their price when the bar trades *through* it (low < buy price, high >
  sell price; touching is not enough) as maker;
* a perp position's stop triggers when the bar reaches it and fills at the stop, or at the open
  if the bar gapped past it;
* stops are checked before resting limits within a bar (the conservative order).

The fee table's defaults, the fee rate of a fill, its fee and the position after it (average
entry, realised PnL, flips) are the paper venue's own functions (``paper_venue.matching.
arithmetic``), called here with floats: on the same orders at the same prices the backtest and the
paper venue agree to the cent (tests/unit/backtest/test_bt_venue_parity.py). The inner loop works
in floats for speed; every figure that leaves the package is converted to Decimal at the boundary
(``decimal_from_float``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine_runtime.strategies.interface import Category, OrderType, Side
from paper_venue.config import FeeSettings
from paper_venue.matching.arithmetic import fee_rate, fill_fee, position_after_fill

EPS = 1e-12
_VENUE_FEES = FeeSettings()


@dataclass(frozen=True, slots=True)
class FeeModel:
    """Fee rates (fractions of notional) and slippage (fraction of price) per fill; the rates
    default to the paper venue's (its ``FeeSettings``: Bybit's base tier)."""

    spot_taker: float = float(_VENUE_FEES.spot_taker)
    spot_maker: float = float(_VENUE_FEES.spot_maker)
    linear_taker: float = float(_VENUE_FEES.linear_taker)
    linear_maker: float = float(_VENUE_FEES.linear_maker)
    slippage: float = 0.0002
    maintenance_margin: float = 0.005

    def rate(self, category: Category, maker: bool) -> float:
        return fee_rate(self, spot=category is Category.SPOT, maker=maker)


@dataclass(slots=True)
class SimOrder:
    intent_id: str
    symbol: str
    category: Category
    side: int  # +1 buy, -1 sell
    order_type: OrderType
    qty: float
    notional: float
    price: float
    post_only: bool
    reduce_only: bool
    reason: str


@dataclass(slots=True)
class Fill:
    """One execution (float inside the package; ``report`` converts)."""

    ts_ms: int
    intent_id: str
    symbol: str
    category: Category
    side: Side
    qty: float
    price: float
    fee: float
    maker: bool
    reason: str
    realized_pnl: float


@dataclass(slots=True)
class Outcome:
    """A final order state for the strategy's ``on_order_event``."""

    order: SimOrder
    status: str  # "Filled" | "Rejected" | "Cancelled"
    fill: Fill | None
    reason: str = ""


@dataclass(slots=True)
class RoundTrip:
    """A position's life from flat to flat, for trade statistics."""

    symbol: str
    category: Category
    direction: int
    entry_ms: int
    exit_ms: int = 0
    max_qty: float = 0.0
    cost: float = 0.0  # signed cash flow: buys negative, sells positive
    fees: float = 0.0
    funding: float = 0.0
    entry_qty: float = 0.0  # what opened or added to the position, and its notional
    entry_value: float = 0.0
    exit_qty: float = 0.0  # what reduced or closed it
    exit_value: float = 0.0

    @property
    def pnl(self) -> float:
        return self.cost - self.fees + self.funding

    @property
    def entry_price(self) -> float:
        """Average price of the fills that opened or added to the position."""
        return self.entry_value / self.entry_qty if self.entry_qty else 0.0

    @property
    def exit_price(self) -> float:
        """Average price of the fills that reduced or closed it (0 while open)."""
        return self.exit_value / self.exit_qty if self.exit_qty else 0.0

    @property
    def return_pct(self) -> float:
        """Net profit over the notional put in (backtesting.py's ``ReturnPct`` for one entry)."""
        return self.pnl / self.entry_value if self.entry_value else 0.0


@dataclass(frozen=True, slots=True)
class Deferred:
    """A ``SimAccount``'s fills not yet built: how many, and what builds them."""

    fills: int
    build: Callable[[], None]


_DEFERRED = frozenset({"fills", "trips", "open_trips"})


@dataclass(slots=True)
class SimAccount:
    """One engine's subaccount."""

    cash: float
    fees: FeeModel = field(default_factory=FeeModel)
    leverage: float = 2.0
    spot: dict[str, float] = field(default_factory=dict)
    perp_qty: dict[str, float] = field(default_factory=dict)
    perp_entry: dict[str, float] = field(default_factory=dict)
    stops: dict[str, float] = field(default_factory=dict)
    stop_ids: dict[str, str] = field(default_factory=dict)
    orders: list[SimOrder] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    open_trips: dict[tuple[str, Category], RoundTrip] = field(default_factory=dict)
    trips: list[RoundTrip] = field(default_factory=list)
    fees_paid: float = 0.0
    funding_received: float = 0.0
    deposits: float = 0.0
    deferred: Deferred | None = field(default=None, repr=False, compare=False)
    """Fills and round trips known as columns but not yet built as objects (``defer``)."""

    # --- deferred bookkeeping (the signal path) ----------------------------------------------

    def defer(self, fills: int, build: Callable[[], None]) -> None:
        """Leave ``fills``, ``trips`` and ``open_trips`` unset until one is first read; then
        ``build`` sets all three (as the venue would have, fill by fill). The signal path knows
        every fill as arrays; most callers of a backtest never read the objects."""
        del self.fills, self.trips, self.open_trips
        self.deferred = Deferred(fills, build)

    def __getattr__(self, name: str) -> object:
        # reached only for an unset slot: one of the three ``defer`` left unset
        pending = self.deferred
        if pending is None or name not in _DEFERRED:
            raise AttributeError(name)
        self.deferred = None
        pending.build()
        return getattr(self, name)

    def fill_count(self) -> int:
        """How many fills, without building deferred ones."""
        pending = self.deferred
        return pending.fills if pending is not None else len(self.fills)

    # --- valuation ---------------------------------------------------------------------------

    def equity(self, spot_px: dict[str, float], perp_px: dict[str, float]) -> float:
        """Cash plus spot holdings at market plus unrealised perp PnL."""
        value = self.cash
        for symbol, qty in self.spot.items():
            value += qty * spot_px[symbol]
        for symbol, qty in self.perp_qty.items():
            value += qty * (perp_px[symbol] - self.perp_entry[symbol])
        return value

    def gross_perp_notional(self, perp_px: dict[str, float]) -> float:
        return sum(abs(q) * perp_px[s] for s, q in self.perp_qty.items())

    def has_exposure(self) -> bool:
        return bool(self.perp_qty) or any(q > EPS for q in self.spot.values())

    # --- execution ---------------------------------------------------------------------------

    def cancel(self, intent_id: str) -> Outcome | None:
        """Take the resting order of ``intent_id`` off the book: its Cancelled outcome, or None
        when there is none (already filled or never rested)."""
        for order in self.orders:
            if order.intent_id == intent_id:
                self.orders.remove(order)
                return Outcome(order, "Cancelled", None, "cancelled")
        return None

    def execute(
        self,
        order: SimOrder,
        price: float,
        maker: bool,
        ts_ms: int,
        spot_px: dict[str, float],
        perp_px: dict[str, float],
    ) -> Outcome:
        """Fill ``order`` at ``price`` if the account allows it; record and return the outcome."""
        if order.category is Category.SPOT:
            return self._spot(order, price, maker, ts_ms)
        return self._perp(order, price, maker, ts_ms, spot_px, perp_px)

    def _spot(self, order: SimOrder, price: float, maker: bool, ts_ms: int) -> Outcome:
        rate = self.fees.rate(Category.SPOT, maker)
        held = self.spot.get(order.symbol, 0.0)
        qty = order.qty if order.qty > 0 else order.notional / price
        if order.side > 0:
            cost = qty * price
            if cost * (1 + rate) > self.cash + 1e-9:
                return Outcome(order, "Rejected", None, "insufficient balance")
            fee = fill_fee(cost, rate)
            self.cash -= cost + fee
            self.spot[order.symbol] = held + qty
        else:
            if qty > held * (1 + 1e-9) + EPS:
                return Outcome(order, "Rejected", None, "insufficient balance")
            qty = min(qty, held)
            fee = fill_fee(qty * price, rate)
            self.cash += qty * price - fee
            left = held - qty
            if left > EPS:
                self.spot[order.symbol] = left
            else:
                self.spot.pop(order.symbol, None)
        fill = self._record(order, qty, price, fee, maker, ts_ms, 0.0)
        self._track(order.symbol, Category.SPOT, held, self.spot.get(order.symbol, 0.0), fill)
        return Outcome(order, "Filled", fill)

    def _perp(
        self,
        order: SimOrder,
        price: float,
        maker: bool,
        ts_ms: int,
        spot_px: dict[str, float],
        perp_px: dict[str, float],
    ) -> Outcome:
        symbol = order.symbol
        current = self.perp_qty.get(symbol, 0.0)
        qty = order.qty
        if order.reduce_only:
            if current == 0 or (current > 0) == (order.side > 0):
                return Outcome(order, "Rejected", None, "reduce-only would increase the position")
            qty = min(qty, abs(current))
        new = current + order.side * qty
        rate = self.fees.rate(Category.LINEAR, maker)
        fee = fill_fee(qty * price, rate)
        if abs(new) > abs(current) + EPS or (new * current < 0):
            # margin after the fill, marking this symbol at the fill price
            gross = abs(new) * price
            equity = self.cash - fee
            for s, q in self.spot.items():
                equity += q * spot_px[s]
            for s, q in self.perp_qty.items():
                mark = price if s == symbol else perp_px[s]
                equity += q * (mark - self.perp_entry[s])
                if s != symbol:
                    gross += abs(q) * mark
            if gross / self.leverage > equity + 1e-9:
                return Outcome(order, "Rejected", None, "insufficient margin")
        new, entry, realized, _ = position_after_fill(
            current, self.perp_entry.get(symbol, 0.0), order.side * qty, price
        )
        self.cash += realized - fee
        if abs(new) <= EPS:
            self.perp_qty.pop(symbol, None)
            self.perp_entry.pop(symbol, None)
            self.stops.pop(symbol, None)
        else:
            self.perp_qty[symbol] = new
            self.perp_entry[symbol] = entry
        fill = self._record(order, qty, price, fee, maker, ts_ms, realized)
        self._track(symbol, Category.LINEAR, current, self.perp_qty.get(symbol, 0.0), fill)
        return Outcome(order, "Filled", fill)

    def _record(
        self,
        order: SimOrder,
        qty: float,
        price: float,
        fee: float,
        maker: bool,
        ts: int,
        pnl: float,
    ) -> Fill:
        side = Side.BUY if order.side > 0 else Side.SELL
        fill = Fill(
            ts,
            order.intent_id,
            order.symbol,
            order.category,
            side,
            qty,
            price,
            fee,
            maker,
            order.reason,
            pnl,
        )
        self.fills.append(fill)
        self.fees_paid += fee
        return fill

    def _track(
        self, symbol: str, category: Category, before: float, after: float, fill: Fill
    ) -> None:
        key = (symbol, category)
        trip = self.open_trips.get(key)
        if trip is None and abs(after) > EPS:
            trip = RoundTrip(symbol, category, 1 if after > 0 else -1, fill.ts_ms)
            self.open_trips[key] = trip
        if trip is None:
            return
        signed = fill.qty * fill.price
        trip.cost += -signed if fill.side is Side.BUY else signed
        trip.fees += fill.fee
        trip.max_qty = max(trip.max_qty, abs(after))
        if after * before < 0:
            closing = abs(before)
        elif abs(after) > abs(before):
            closing = 0.0
        else:
            closing = fill.qty
        trip.exit_qty += closing
        trip.exit_value += closing * fill.price
        trip.entry_qty += fill.qty - closing if after * before >= 0 else 0.0
        trip.entry_value += (fill.qty - closing) * fill.price if after * before >= 0 else 0.0
        if abs(after) <= EPS or after * before < 0:
            trip.exit_ms = fill.ts_ms
            self.trips.append(trip)
            del self.open_trips[key]
            if abs(after) > EPS:  # flipped: the rest opens a new trip at the fill price
                flip = RoundTrip(
                    symbol,
                    category,
                    1 if after > 0 else -1,
                    fill.ts_ms,
                    max_qty=abs(after),
                    entry_qty=abs(after),
                    entry_value=abs(after) * fill.price,
                )
                # Split the fill's cash flow and fee: the closing part belongs to the old trip.
                share = abs(after) / fill.qty
                correction = signed * share
                trip.cost += correction if fill.side is Side.BUY else -correction
                trip.fees -= fill.fee * share
                flip.cost = -correction if fill.side is Side.BUY else correction
                flip.fees = fill.fee * share
                self.open_trips[key] = flip

    def settle_funding(self, symbol: str, rate: float, mark: float) -> float:
        """Pay or receive one funding settlement; returns the payment (> 0 received)."""
        qty = self.perp_qty.get(symbol, 0.0)
        if qty == 0:
            return 0.0
        payment = -qty * mark * rate
        self.cash += payment
        self.funding_received += payment
        trip = self.open_trips.get((symbol, Category.LINEAR))
        if trip is not None:
            trip.funding += payment
        return payment
