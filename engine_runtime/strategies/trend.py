"""TREND: SMA50/SMA200 trend following with an ADX filter on USDT perpetuals.

Rules (ARCHITECTURE.md): long when close > SMA200, SMA50 > SMA200 and ADX14 > 25; short mirrored;
exit on a close through SMA200; a 3x ATR14 trailing stop held by the venue. Sizing: the smaller of
1/8 Kelly (from this strategy's recorded trades) and 1% of equity at risk over the stop distance,
capped at 50% of equity per asset and by the 2x leverage budget over all assets; the runtime
cuts the entry by the governance size multiplier when it sends it (``governance.admission``).
A stop that is stopped out may re-enter on the next bar if the entry rule still holds, with a
fresh stop.

Per symbol: SCANNING -> ENTERING (entry order working) -> IN_POSITION (stop trailing) ->
EXITING (exit order working) -> SCANNING; a venue stop fill goes IN_POSITION -> SCANNING.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import numpy as np

from engine_runtime import indicators as ta
from engine_runtime.sizing import SizingPolicy, TradeStats, position_size
from eternal_kernel.api.v1alpha1.strategy_params import TrendParams

from .base import ZERO, BaseStrategy, defined, to_price
from .frame import Frame, features_like
from .interface import (
    Category,
    Intent,
    MarketKey,
    OrderEvent,
    OrderStatus,
    OrderType,
    SetStopLoss,
    Side,
    StrategyContext,
    SubmitOrder,
    intent_id,
)

LINEAR = Category.LINEAR


class TrendState(StrEnum):
    SCANNING = "SCANNING"
    ENTERING = "ENTERING"
    IN_POSITION = "IN_POSITION"
    EXITING = "EXITING"


@dataclass
class _Book:
    state: TrendState = TrendState.SCANNING
    direction: int = 0
    pending: str | None = None
    stop_distance: float = 0.0
    stop: Decimal | None = None
    extreme: float = 0.0
    entry_price: Decimal = ZERO
    qty: Decimal = ZERO
    fees: Decimal = ZERO
    exit_value: Decimal = ZERO


@dataclass
class TrendStrategy(BaseStrategy):
    """The TREND engine over ``symbols`` (perpetuals)."""

    params: TrendParams = field(default_factory=TrendParams)
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    qty_step: Decimal = Decimal("0.001")
    stats: TradeStats = field(default_factory=TradeStats)
    books: dict[str, _Book] = field(default_factory=dict)

    name = "trend"
    array_features = True  # features without pandas (``frame``)

    def __post_init__(self) -> None:
        if self.params.sma_fast >= self.params.sma_slow:
            raise ValueError("smaFast must be shorter than smaSlow")
        for s in self.symbols:
            self.books.setdefault(s, _Book())

    def markets(self) -> Sequence[MarketKey]:
        return [(s, LINEAR) for s in self.symbols]

    def warmup_bars(self) -> int:
        p = self.params
        return max(p.sma_slow, 2 * p.adx_period, p.atr_period)

    def features(self, symbol: str, category: Category, candles: Frame) -> Frame:
        p = self.params
        h, lo, c = candles["high"], candles["low"], candles["close"]
        adx_values, _, _ = ta.adx(h, lo, c, p.adx_period)
        fast, slow = ta.sma(c, p.sma_fast), ta.sma(c, p.sma_slow)
        close = np.asarray(c, dtype=np.float64)
        strong = adx_values > float(p.adx_threshold)
        up = strong & (close > slow) & (fast > slow)
        down = strong & (close < slow) & (fast < slow) & p.allow_short
        return features_like(
            candles,
            {
                "sma_fast": fast,
                "sma_slow": slow,
                "adx": adx_values,
                "atr": ta.atr(h, lo, c, p.atr_period),
                # bars where an idle (all SCANNING) engine may enter: the backtester's fast path
                "wake": (up | down).astype(np.float64),
            },
        )

    def is_idle(self) -> bool:
        """Nothing to do until an entry condition holds: every symbol SCANNING."""
        return all(b.state is TrendState.SCANNING for b in self.books.values())

    def state_summary(self) -> Mapping[str, str]:
        return {s: b.state.value for s, b in self.books.items()}

    # --- callbacks ---------------------------------------------------------------------------

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        out: list[Intent] = []
        for symbol in self.symbols:
            book = self.books[symbol]
            if book.state is TrendState.SCANNING:
                out.extend(self._scan(ctx, symbol, book))
            elif book.state is TrendState.IN_POSITION:
                out.extend(self._manage(ctx, symbol, book))
        return out

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        book = self.books.get(event.symbol)
        if book is None or event.category is not LINEAR:
            return ()
        if event.reason == "stop" and book.state is TrendState.IN_POSITION:
            self._close_trade(book, event)
            return ()
        if event.intent_id != book.pending:
            return ()
        book.pending = None
        filled = event.status is OrderStatus.FILLED and event.filled_qty > 0
        if book.state is TrendState.ENTERING:
            if not filled:
                book.state = TrendState.SCANNING
                return ()
            book.state = TrendState.IN_POSITION
            book.entry_price, book.qty, book.fees = event.avg_price, event.filled_qty, event.fee
            book.extreme = float(event.avg_price)
            level = book.extreme - book.direction * book.stop_distance
            if level <= 0:  # the stop would be below zero: nothing to protect yet
                book.stop = None
                return ()
            stop = book.stop = to_price(level)
            sid = intent_id(ctx.engine, event.ts_ms, event.symbol, "stop", stop)
            return [SetStopLoss(sid, event.symbol, stop)]
        if book.state is TrendState.EXITING:
            if filled:
                self._close_trade(book, event)
            else:  # the exit did not go through: manage the position again next bar
                book.state = TrendState.IN_POSITION
        return ()

    # --- rules -------------------------------------------------------------------------------

    def entry_direction(self, close: float, fast: float, slow: float, adx: float) -> int:
        """+1 long, -1 short, 0 none: the entry rule on one bar's values."""
        threshold = float(self.params.adx_threshold)
        if adx <= threshold:
            return 0
        if close > slow and fast > slow:
            return 1
        if self.params.allow_short and close < slow and fast < slow:
            return -1
        return 0

    def _scan(self, ctx: StrategyContext, symbol: str, book: _Book) -> list[Intent]:
        d = ctx.directive
        if d.halt or d.entries_paused or d.close_directional:
            return []
        m = ctx.market
        close, fast = m.feature(symbol, "close", LINEAR), m.feature(symbol, "sma_fast", LINEAR)
        slow, adx = m.feature(symbol, "sma_slow", LINEAR), m.feature(symbol, "adx", LINEAR)
        atr = m.feature(symbol, "atr", LINEAR)
        if not defined(fast, slow, adx, atr) or atr <= 0:
            return []
        direction = self.entry_direction(close, fast, slow, adx)
        if direction == 0 or self.no_edge():
            return []
        distance = atr * float(self.params.atr_stop_multiple * d.stop_multiplier)
        qty = self._size(ctx, symbol, close, distance)
        if qty <= 0:
            return []
        book.direction = direction
        book.stop_distance = distance
        book.state = TrendState.ENTERING
        side = Side.BUY if direction > 0 else Side.SELL
        book.pending = intent_id(ctx.engine, m.now_ms, symbol, "entry", side)
        return [SubmitOrder(book.pending, symbol, LINEAR, side, OrderType.MARKET, qty=qty)]

    def no_edge(self) -> bool:
        """True when the recorded trades give a non-positive Kelly fraction: 1/8 Kelly then
        sizes every entry at zero, so the strategy stops opening positions (documented)."""
        st = self.stats
        if st.trades < self.params.kelly_min_trades:
            return False
        p, b = st.win_rate, st.payoff
        if p is None:
            return False
        if b is None:
            return st.wins == 0
        return b * p - (1 - p) <= 0

    def _size(self, ctx: StrategyContext, symbol: str, close: float, distance: float) -> Decimal:
        p, pf = self.params, ctx.portfolio
        equity = pf.equity
        entry = to_price(close)
        gross = ZERO
        for other in self.symbols:
            pos = pf.position(other)
            if pos is not None:
                gross += abs(pos.qty) * ctx.market.price(other, LINEAR)
        cap = min(p.max_asset_fraction * equity, p.leverage * equity - gross)
        policy = SizingPolicy(
            risk_fraction=p.risk_per_trade,
            kelly_multiplier=p.kelly_fraction,
            min_trades_for_kelly=p.kelly_min_trades,
        )
        result = position_size(
            equity=equity,
            entry_price=entry,
            stop_price=entry - to_price(distance),
            max_position_notional=cap,
            stats=self.stats,
            policy=policy,
            qty_step=self.qty_step,
        )
        return result.qty

    def _manage(self, ctx: StrategyContext, symbol: str, book: _Book) -> list[Intent]:
        m, d = ctx.market, ctx.directive
        pos = ctx.portfolio.position(symbol)
        if pos is None or pos.qty == 0:  # closed outside our callbacks (e.g. liquidation)
            book.state, book.pending = TrendState.SCANNING, None
            return []
        close, slow = m.feature(symbol, "close", LINEAR), m.feature(symbol, "sma_slow", LINEAR)
        through = (book.direction > 0 and close < slow) or (book.direction < 0 and close > slow)
        if d.halt or d.close_directional or through:
            book.state = TrendState.EXITING
            side = Side.SELL if pos.qty > 0 else Side.BUY
            book.pending = intent_id(ctx.engine, m.now_ms, symbol, "exit")
            return [
                SubmitOrder(
                    book.pending,
                    symbol,
                    LINEAR,
                    side,
                    OrderType.MARKET,
                    qty=abs(pos.qty),
                    reduce_only=True,
                    reason="close through SMA" if through else "governance",
                )
            ]
        atr = m.feature(symbol, "atr", LINEAR)
        distance = atr * float(self.params.atr_stop_multiple * d.stop_multiplier)
        if book.direction > 0:
            book.extreme = max(book.extreme, m.feature(symbol, "high", LINEAR))
            candidate = book.extreme - distance
            better = book.stop is None or candidate > float(book.stop)
        else:
            book.extreme = min(book.extreme, m.feature(symbol, "low", LINEAR))
            candidate = book.extreme + distance
            better = book.stop is None or candidate < float(book.stop)
        if not better or candidate <= 0:
            return []
        book.stop = to_price(candidate)
        sid = intent_id(ctx.engine, m.now_ms, symbol, "stop", book.stop)
        return [SetStopLoss(sid, symbol, book.stop)]

    def _close_trade(self, book: _Book, event: OrderEvent) -> None:
        gross = (event.avg_price - book.entry_price) * book.qty * book.direction
        self.stats = self.stats.record(gross - book.fees - event.fee)
        book.state, book.pending, book.stop, book.direction = TrendState.SCANNING, None, None, 0
