"""SCALPER: order-book imbalance confirmed by a tape volume spike, maker entries, quick exits.

Per symbol (linear perpetuals): FLAT -> ENTERING (a PostOnly limit at the touch) -> LONG/SHORT
-> EXITING (a reduce-only market order) -> FLAT.

* Entry signal, evaluated on every book (``on_book``): the bid/ask volume ratio over the top
  ``imbalanceLevels`` levels is at least ``imbalanceThreshold`` (long; ask/bid for a short), the
  tape's volume over the last ``volumeWindowSeconds`` is at least ``volumeSpikeMultiple`` times
  the mean of the previous ``volumeBaselineWindows`` windows (a full baseline is needed), the
  spread is at most ``maxSpreadBps`` of the mid, and the 1-minute momentum agrees (RSI at or
  above ``rsiThreshold`` for a long, at or below 100 minus it for a short; or the close above /
  below its EMA). Not within ``cooldownSeconds`` of a losing trade on the symbol.
* Entry: PostOnly limit at the best bid (long) or ask (short), cancelled by the timer when not
  filled within ``entryTimeoutSeconds``. Size: the shared ``sizing.position_size`` (risk per
  trade at the stop, fractional Kelly from the recorded trades, capped at
  ``maxPositionFraction`` of equity; the runtime cuts it by the governance size multiplier).
* Exits, at market and reduce-only: take-profit and stop-loss ``takeProfit`` / ``stopLoss``
  away from the fill price (ticks of ``tickSize``, or multiples of the 1-minute ATR), checked
  against the touch the exit would trade at on every book; and ``maxHoldingSeconds`` after the
  fill, checked by the timer.
* Timeouts, holding times and cooldowns count the strategy's 1-second timer ticks: the runtime's
  clock, whatever time the venue stamps its books and fills with.
* At most one position per symbol. Governance: the runtime's size multiplier cuts entries; paused
  entries place none; close-directional and halt cancel a working entry and close the position
  (the runtime's common flatten plan covers whatever the strategy does not).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from engine_runtime.sizing import SizingPolicy, TradeStats, position_size
from eternal_kernel.api.v1alpha1.strategy_params import ExitUnit, ScalperMomentum, ScalperParams

from .base import ZERO, BaseStrategy, defined
from .interface import (
    CancelOrder,
    Category,
    Intent,
    MarketKey,
    OrderBook,
    OrderEvent,
    OrderStatus,
    OrderType,
    PublicTrade,
    Side,
    StrategyContext,
    SubmitOrder,
    TimerEvent,
    TimerSpec,
    intent_id,
)

if TYPE_CHECKING:
    from .frame import Frame

LINEAR = Category.LINEAR
TIMER = TimerSpec("scalper", 1000)
"""Entry timeouts and the maximum holding time are checked every second."""


class ScalperState(StrEnum):
    FLAT = "FLAT"
    ENTERING = "ENTERING"
    LONG = "LONG"
    SHORT = "SHORT"
    EXITING = "EXITING"


# --- the signal's parts: plain functions of the book and the tape -------------------------------


def imbalance(book: OrderBook, levels: int) -> float | None:
    """Bid volume over ask volume on the top ``levels`` of each side (None: a side is empty)."""
    bid = sum(level.size for level in book.bids[:levels])
    ask = sum(level.size for level in book.asks[:levels])
    if not bid or not ask:
        return None
    return float(bid / ask)


def spread_bps(book: OrderBook) -> float | None:
    """The spread in basis points of the mid."""
    mid, spread = book.mid, book.spread
    if mid is None or spread is None or mid <= 0:
        return None
    return float(spread / mid) * 10_000


@dataclass
class VolumeWindow:
    """The tape's traded volume over the last ``window_ms`` (sliding), against its baseline: the
    mean volume of the ``baseline_windows`` windows of a fixed grid that ended before the sliding
    window began (windows without trades count as 0, so a quiet market has a low baseline)."""

    window_ms: int
    baseline_windows: int
    recent: deque[tuple[int, Decimal]] = field(default_factory=deque)
    recent_qty: Decimal = ZERO
    bucket: int = -1
    bucket_qty: Decimal = ZERO
    completed: deque[tuple[int, Decimal]] = field(default_factory=deque)

    def add(self, ts_ms: int, qty: Decimal) -> None:
        self._roll(ts_ms)
        self.bucket_qty += qty
        self.recent.append((ts_ms, qty))
        self.recent_qty += qty

    def _roll(self, now_ms: int) -> None:
        index = now_ms // self.window_ms
        if self.bucket < 0:
            self.bucket = index
        elif index > self.bucket:
            self.completed.append((self.bucket, self.bucket_qty))
            keep = self.baseline_windows + 1
            for empty in range(max(self.bucket + 1, index - keep), index):
                self.completed.append((empty, ZERO))
            while len(self.completed) > keep:
                self.completed.popleft()
            self.bucket, self.bucket_qty = index, ZERO
        start = now_ms - self.window_ms
        while self.recent and self.recent[0][0] <= start:
            self.recent_qty -= self.recent.popleft()[1]

    def last(self, now_ms: int) -> Decimal:
        """Volume traded in (now - window, now]."""
        self._roll(now_ms)
        return self.recent_qty

    def baseline(self, now_ms: int) -> Decimal | None:
        """Mean volume of the grid windows that ended by ``now - window``; None until there
        are ``baseline_windows`` of them."""
        self._roll(now_ms)
        end = now_ms - self.window_ms
        eligible = [q for i, q in self.completed if (i + 1) * self.window_ms <= end]
        if len(eligible) < self.baseline_windows:
            return None
        eligible = eligible[-self.baseline_windows :]
        return sum(eligible, ZERO) / len(eligible)

    def spike(self, now_ms: int, multiple: Decimal) -> bool:
        base = self.baseline(now_ms)
        last = self.last(now_ms)
        if base is None or last <= 0:
            return False
        return last >= multiple * base


@dataclass
class _Slot:
    """One symbol's state machine."""

    state: ScalperState = ScalperState.FLAT
    pending: str | None = None  # the working entry's or exit's intent id
    placed_tick: int = 0
    cancel_sent: bool = False
    direction: int = 0
    qty: Decimal = ZERO
    entry_price: Decimal = ZERO
    take_profit: Decimal = ZERO
    stop_loss: Decimal = ZERO
    opened_tick: int = 0
    fees: Decimal = ZERO
    cooldown_until_tick: int = 0
    exit_reason: str = ""


@dataclass
class ScalperStrategy(BaseStrategy):
    params: ScalperParams = field(default_factory=ScalperParams)
    symbols: tuple[str, ...] = ("BTCUSDT",)
    qty_step: Decimal = Decimal("0.001")
    stats: TradeStats = field(default_factory=TradeStats)
    slots: dict[str, _Slot] = field(default_factory=dict)
    tapes: dict[str, VolumeWindow] = field(default_factory=dict)
    counter: int = 0
    ticks: int = 0
    """Timer ticks (seconds) seen: the clock of timeouts, holding times and cooldowns."""

    name = "scalper"
    array_features = True  # features without pandas (``frame``)
    api_version = 2

    def __post_init__(self) -> None:
        p = self.params
        for symbol in self.symbols:
            self.slots.setdefault(symbol, _Slot())
            self.tapes.setdefault(
                symbol, VolumeWindow(p.volume_window_seconds * 1000, p.volume_baseline_windows)
            )

    # --- what it reads -----------------------------------------------------------------------

    def markets(self) -> Sequence[MarketKey]:
        return [(s, LINEAR) for s in self.symbols]

    def book_markets(self) -> Sequence[MarketKey]:
        return self.markets()

    def trade_markets(self) -> Sequence[MarketKey]:
        return self.markets()

    def book_depth(self) -> int:
        return self.params.imbalance_levels

    def timers(self) -> Sequence[TimerSpec]:
        return (TIMER,)

    def warmup_bars(self) -> int:
        p = self.params
        return max(p.rsi_period + 1, p.ema_period, p.atr_period) + 1

    def features(self, symbol: str, category: Category, candles: Frame) -> Frame:
        from engine_runtime import indicators as ta

        from .frame import features_like

        p = self.params
        close = candles["close"]
        return features_like(
            candles,
            {
                "rsi": ta.rsi(close, p.rsi_period),
                "ema": ta.ema(close, p.ema_period),
                "atr": ta.atr(candles["high"], candles["low"], close, p.atr_period),
            },
        )

    def is_idle(self) -> bool:
        """Nothing working, held or cooling down: on_bar and timers have nothing to do."""
        return all(
            slot.state is ScalperState.FLAT and slot.cooldown_until_tick <= self.ticks
            for slot in self.slots.values()
        )

    def state_summary(self) -> Mapping[str, str]:
        return {s: slot.state.value for s, slot in self.slots.items()}

    # --- rules -------------------------------------------------------------------------------

    def signal(self, ctx: StrategyContext, book: OrderBook) -> int:
        """+1 long, -1 short, 0 nothing: imbalance, volume spike, spread, momentum."""
        p = self.params
        ratio = imbalance(book, p.imbalance_levels)
        if ratio is None:
            return 0
        threshold = float(p.imbalance_threshold)
        if ratio >= threshold:
            direction = 1
        elif p.allow_short and ratio > 0 and 1 / ratio >= threshold:
            direction = -1
        else:
            return 0
        spread = spread_bps(book)
        if spread is None or spread > float(p.max_spread_bps):
            return 0
        tape = self.tapes[book.symbol]
        if not tape.spike(ctx.market.now_ms, p.volume_spike_multiple):
            return 0
        return direction if self.momentum_agrees(ctx, book.symbol, direction) else 0

    def momentum_agrees(self, ctx: StrategyContext, symbol: str, direction: int) -> bool:
        p = self.params
        if p.momentum is ScalperMomentum.NONE:
            return True
        if p.momentum is ScalperMomentum.RSI:
            value = ctx.market.feature(symbol, "rsi", LINEAR)
            if not defined(value):
                return False
            level = float(p.rsi_threshold)
            return value >= level if direction > 0 else value <= 100 - level
        close = ctx.market.feature(symbol, "close", LINEAR)
        average = ctx.market.feature(symbol, "ema", LINEAR)
        if not defined(close, average):
            return False
        return close > average if direction > 0 else close < average

    def distances(self, ctx: StrategyContext, symbol: str) -> tuple[Decimal, Decimal] | None:
        """(take-profit, stop-loss) distances in price; None when the ATR is not known yet."""
        p = self.params
        if p.exit_unit is ExitUnit.TICKS:
            return p.take_profit * p.tick_size, p.stop_loss * p.tick_size
        atr = ctx.market.feature(symbol, "atr", LINEAR)
        if not defined(atr) or atr <= 0 or math.isinf(atr):
            return None
        unit = Decimal(repr(atr))
        return p.take_profit * unit, p.stop_loss * unit

    # --- callbacks ---------------------------------------------------------------------------

    def on_trade(self, ctx: StrategyContext, trade: PublicTrade) -> Sequence[Intent]:
        tape = self.tapes.get(trade.symbol)
        if tape is not None:
            tape.add(trade.ts_ms, trade.qty)
        return ()

    def on_book(self, ctx: StrategyContext, book: OrderBook) -> Sequence[Intent]:
        slot = self.slots.get(book.symbol)
        if slot is None:
            return ()
        d = ctx.directive
        if d.halt or d.close_directional:
            return self._stand_down(ctx, book.symbol, slot)
        if slot.state in (ScalperState.LONG, ScalperState.SHORT):
            return self._check_exit(ctx, book, slot)
        if slot.state is not ScalperState.FLAT or d.entries_paused:
            return ()
        if self.ticks < slot.cooldown_until_tick:
            return ()
        direction = self.signal(ctx, book)
        return self._enter(ctx, book, slot, direction) if direction else ()

    def on_timer(self, ctx: StrategyContext, event: TimerEvent) -> Sequence[Intent]:
        p = self.params
        self.ticks += 1
        now = self.ticks
        out: list[Intent] = []
        for symbol, slot in self.slots.items():
            if (
                slot.state is ScalperState.ENTERING
                and not slot.cancel_sent
                and now - slot.placed_tick >= p.entry_timeout_seconds
                and slot.pending is not None
            ):
                slot.cancel_sent = True
                cid = self._id(ctx, symbol, "cancel")
                out.append(CancelOrder(cid, symbol, LINEAR, slot.pending))
            elif (
                slot.state in (ScalperState.LONG, ScalperState.SHORT)
                and now - slot.opened_tick >= p.max_holding_seconds
            ):
                out.extend(self._exit(ctx, symbol, slot, "max holding time"))
            elif slot.state in (ScalperState.LONG, ScalperState.SHORT) and (
                ctx.directive.halt or ctx.directive.close_directional
            ):
                out.extend(self._exit(ctx, symbol, slot, "governance"))
        return out

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        slot = self.slots.get(event.symbol)
        if slot is None or event.intent_id != slot.pending:
            return ()
        if slot.state is ScalperState.ENTERING:
            slot.pending, slot.cancel_sent = None, False
            if event.filled_qty <= 0:
                slot.state = ScalperState.FLAT
                return ()
            self._opened(ctx, event, slot)
            return ()
        if slot.state is ScalperState.EXITING:
            slot.pending = None
            if event.status is not OrderStatus.FILLED or event.filled_qty <= 0:
                slot.state = ScalperState.LONG if slot.direction > 0 else ScalperState.SHORT
                return ()  # retried on the next book
            pnl = (event.avg_price - slot.entry_price) * event.filled_qty * slot.direction
            pnl -= slot.fees + event.fee
            self.stats = self.stats.record(pnl)
            if pnl < 0:
                slot.cooldown_until_tick = self.ticks + self.params.cooldown_seconds
            slot.state, slot.direction, slot.qty, slot.fees = ScalperState.FLAT, 0, ZERO, ZERO
        return ()

    # --- orders ------------------------------------------------------------------------------

    def _id(self, ctx: StrategyContext, symbol: str, purpose: str) -> str:
        self.counter += 1
        return intent_id(ctx.engine, ctx.market.now_ms, symbol, purpose, self.counter)

    def _enter(
        self, ctx: StrategyContext, book: OrderBook, slot: _Slot, direction: int
    ) -> Sequence[Intent]:
        price = book.best_bid if direction > 0 else book.best_ask
        dist = self.distances(ctx, book.symbol)
        if price is None or dist is None:
            return ()
        p, equity = self.params, ctx.portfolio.equity
        stop = price - dist[1] if direction > 0 else price + dist[1]
        if stop <= 0:
            return ()
        sized = position_size(
            equity=equity,
            entry_price=price,
            stop_price=stop,
            max_position_notional=p.max_position_fraction * equity,
            stats=self.stats,
            policy=SizingPolicy(
                risk_fraction=p.risk_per_trade,
                kelly_multiplier=p.kelly_fraction,
                min_trades_for_kelly=p.kelly_min_trades,
            ),
            qty_step=self.qty_step,
        )
        if sized.qty <= 0:
            return ()
        side = Side.BUY if direction > 0 else Side.SELL
        iid = self._id(ctx, book.symbol, "entry")
        slot.state, slot.pending, slot.direction = ScalperState.ENTERING, iid, direction
        slot.placed_tick, slot.cancel_sent = self.ticks, False
        reason = f"imbalance {'long' if direction > 0 else 'short'}"
        return [
            SubmitOrder(
                iid,
                book.symbol,
                LINEAR,
                side,
                OrderType.LIMIT,
                qty=sized.qty,
                price=price,
                post_only=True,
                reason=reason,
            )
        ]

    def _opened(self, ctx: StrategyContext, event: OrderEvent, slot: _Slot) -> None:
        tp, sl = self.distances(ctx, event.symbol) or (ZERO, ZERO)
        entry = event.avg_price
        slot.state = ScalperState.LONG if slot.direction > 0 else ScalperState.SHORT
        slot.qty, slot.entry_price, slot.fees = event.filled_qty, entry, event.fee
        slot.take_profit = entry + tp * slot.direction
        slot.stop_loss = entry - sl * slot.direction
        slot.opened_tick = self.ticks

    def _check_exit(self, ctx: StrategyContext, book: OrderBook, slot: _Slot) -> Sequence[Intent]:
        touch = book.best_bid if slot.direction > 0 else book.best_ask
        if touch is None:
            return ()
        gain = (touch - slot.entry_price) * slot.direction
        if gain >= (slot.take_profit - slot.entry_price) * slot.direction:
            return self._exit(ctx, book.symbol, slot, "take profit")
        if gain <= (slot.stop_loss - slot.entry_price) * slot.direction:
            return self._exit(ctx, book.symbol, slot, "stop loss")
        return ()

    def _exit(self, ctx: StrategyContext, symbol: str, slot: _Slot, why: str) -> list[Intent]:
        position = ctx.portfolio.position(symbol)
        qty = abs(position.qty) if position is not None else slot.qty
        if qty <= 0:  # closed outside our orders (a liquidation, the flatten plan)
            slot.state, slot.direction, slot.qty = ScalperState.FLAT, 0, ZERO
            return []
        side = Side.SELL if slot.direction > 0 else Side.BUY
        iid = self._id(ctx, symbol, "exit")
        slot.state, slot.pending, slot.exit_reason = ScalperState.EXITING, iid, why
        return [
            SubmitOrder(
                iid, symbol, LINEAR, side, OrderType.MARKET, qty=qty, reduce_only=True, reason=why
            )
        ]

    def _stand_down(self, ctx: StrategyContext, symbol: str, slot: _Slot) -> Sequence[Intent]:
        """Close-directional or halt: cancel a working entry, close an open position."""
        if slot.state is ScalperState.ENTERING and slot.pending and not slot.cancel_sent:
            slot.cancel_sent = True
            return [CancelOrder(self._id(ctx, symbol, "cancel"), symbol, LINEAR, slot.pending)]
        if slot.state in (ScalperState.LONG, ScalperState.SHORT):
            return self._exit(ctx, symbol, slot, "governance")
        return ()
