"""META-TREND: trend votes filtered by a trained meta-model (issue 20).

On each confirmed bar the primary signal (``meta_trend_features``: EMA, RSI extremes and MACD
voting) may fire a direction. The meta-model (``engine_runtime.train.artifact``, verified at
start) gives the probability that the trade pays; only a probability at or above
``confidenceThreshold`` trades, and that probability is the order's signal confidence for the
pre-trade risk check. Exits are the labelling barriers (``meta_trend_barriers``): a venue-held
stop-loss on perpetuals, take-profit and time barrier at the close. Sizing: ``riskPerTrade`` of
equity over the stop distance, capped per asset and by the leverage budget (the runtime cuts
the entry by the governance size multiplier, as TREND's).

Without a verified model the strategy never trades: ``start_problem`` says why and the runtime
refuses to start. ``use_filter=False`` trades every primary signal (the backtester's baseline).

Kill switch (``MetaTrendKillSwitch``): more than ``maxApiErrorsPerMinute`` venue errors within a
minute, or ``lowConfidenceStretch`` signals in a row below the threshold, pause the engine's
own entries; ``paused_reason`` says why (the Engine's EntriesPaused condition). It latches until
the runtime restarts: it is not part of the checkpointed state.

Per symbol: SCANNING -> ENTERING -> IN_POSITION -> EXITING -> SCANNING; a stop fill goes
IN_POSITION -> SCANNING.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engine_runtime.sizing import SizingPolicy, TradeStats, position_size
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

from . import meta_trend_features as mf
from .base import ZERO, BaseStrategy, to_price
from .frame import Frame
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
from .meta_trend_barriers import Barriers, barriers, exit_at_close

if TYPE_CHECKING:
    from engine_runtime.train.artifact import MetaModel

MINUTE_MS = 60_000


class MetaTrendState(StrEnum):
    SCANNING = "SCANNING"
    ENTERING = "ENTERING"
    IN_POSITION = "IN_POSITION"
    EXITING = "EXITING"
    PAUSED = "PAUSED"
    """Reported for every scanning symbol while the kill switch holds entries."""


@dataclass
class MetaTrendKillSwitch:
    """The design's kill-switch rules beyond the portfolio breaker, as a latch."""

    max_errors_per_minute: int
    low_confidence_stretch: int
    errors: deque[int] = field(default_factory=deque)
    low_in_a_row: int = 0
    reason: str | None = None

    def venue_error(self, now_ms: int) -> None:
        self.errors.append(now_ms)
        while self.errors and self.errors[0] <= now_ms - MINUTE_MS:
            self.errors.popleft()
        if self.reason is None and len(self.errors) > self.max_errors_per_minute:
            self.reason = (
                f"kill switch: {len(self.errors)} venue errors within a minute "
                f"(more than maxApiErrorsPerMinute {self.max_errors_per_minute})"
            )

    def confidence(self, probability: float, threshold: float) -> None:
        self.low_in_a_row = self.low_in_a_row + 1 if probability < threshold else 0
        if self.reason is None and self.low_in_a_row >= self.low_confidence_stretch:
            self.reason = (
                f"kill switch: {self.low_in_a_row} signals in a row below confidenceThreshold "
                f"{threshold} (lowConfidenceStretch {self.low_confidence_stretch}): the model "
                "no longer recognises this market"
            )


@dataclass
class _Book:
    state: MetaTrendState = MetaTrendState.SCANNING
    direction: int = 0
    pending: str | None = None
    atr: float = 0.0
    barriers: Barriers | None = None
    bars_held: int = 0
    entry_price: Decimal = ZERO
    qty: Decimal = ZERO
    fees: Decimal = ZERO


@dataclass
class MetaTrendStrategy(BaseStrategy):
    """The META-TREND engine over ``symbols``."""

    params: MetaTrendParams = field(default_factory=MetaTrendParams)
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    model: MetaModel | None = None
    model_problem: str | None = None
    use_filter: bool = True
    qty_step: Decimal = Decimal("0.001")
    stats: TradeStats = field(default_factory=TradeStats)
    books: dict[str, _Book] = field(default_factory=dict)
    kill: MetaTrendKillSwitch = field(init=False)
    last_probability: dict[str, float] = field(default_factory=dict)

    name = "meta-trend"
    array_features = True  # features without pandas (``frame``)

    def __post_init__(self) -> None:
        self.category = Category(self.params.category.value)
        for s in self.symbols:
            self.books.setdefault(s, _Book())
        self.kill = self._fresh_kill_switch()
        if self.use_filter and self.model is None and self.model_problem is None:
            self.model_problem = "no model: the meta-trend strategy trades only on a verified model"

    def _fresh_kill_switch(self) -> MetaTrendKillSwitch:
        p = self.params
        return MetaTrendKillSwitch(p.max_api_errors_per_minute, p.low_confidence_stretch)

    # --- checkpointing: the model and the kill switch are not state -------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["model"] = None
        state["kill"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.kill = self._fresh_kill_switch()
        self.model_problem = "model not attached after restore"

    def adopt(self, fresh: MetaTrendStrategy) -> None:
        """After a restore from the checkpoint: take the model verified at this start (and its
        problem, if any) from the freshly built strategy."""
        self.model, self.model_problem, self.use_filter = (
            fresh.model, fresh.model_problem, fresh.use_filter
        )  # fmt: skip

    # --- interface ---------------------------------------------------------------------------

    def markets(self) -> Sequence[MarketKey]:
        return [(s, self.category) for s in self.symbols]

    def funding_symbols(self) -> Sequence[str]:
        return list(self.symbols) if self.category is Category.LINEAR else []

    def warmup_bars(self) -> int:
        return mf.warmup_bars(self.params)

    def features(self, symbol: str, category: Category, candles: Frame) -> Frame:
        return mf.compute(candles, self.params)

    def is_idle(self) -> bool:
        """Only a signal bar (``wake``) can change anything while every symbol scans."""
        return all(b.state is MetaTrendState.SCANNING for b in self.books.values())

    def start_problem(self) -> str | None:
        """Why this strategy must not trade at all (the runtime refuses to start)."""
        return self.model_problem if self.use_filter else None

    def paused_reason(self) -> str | None:
        """Why the kill switch holds entries, None while it does not."""
        return self.kill.reason

    def on_venue_error(self, now_ms: int) -> None:
        """The runtime reports every error the venue answered with."""
        self.kill.venue_error(now_ms)

    def state_summary(self) -> Mapping[str, str]:
        paused = self.kill.reason is not None
        return {
            s: (MetaTrendState.PAUSED if paused and b.state is MetaTrendState.SCANNING
                else b.state).value
            for s, b in self.books.items()
        }  # fmt: skip

    # --- callbacks ---------------------------------------------------------------------------

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        out: list[Intent] = []
        for symbol in self.symbols:
            book = self.books[symbol]
            if book.state is MetaTrendState.SCANNING:
                out.extend(self._scan(ctx, symbol, book))
            elif book.state is MetaTrendState.IN_POSITION:
                out.extend(self._manage(ctx, symbol, book))
        return out

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        book = self.books.get(event.symbol)
        if book is None or event.category is not self.category:
            return ()
        if event.reason == "stop" and book.state is MetaTrendState.IN_POSITION:
            self._close_trade(book, event)
            return ()
        if event.intent_id != book.pending:
            return ()
        book.pending = None
        filled = event.status is OrderStatus.FILLED and event.filled_qty > 0
        if book.state is MetaTrendState.ENTERING:
            if not filled:
                book.state = MetaTrendState.SCANNING
                return ()
            book.state, book.bars_held = MetaTrendState.IN_POSITION, 0
            book.entry_price, book.qty, book.fees = event.avg_price, event.filled_qty, event.fee
            b = book.barriers = barriers(book.direction, float(event.avg_price), book.atr,
                                         self.params)  # fmt: skip
            if self.category is not Category.LINEAR or b.stop_loss <= 0:
                return ()
            stop = to_price(b.stop_loss)
            return [SetStopLoss(intent_id(ctx.engine, event.ts_ms, event.symbol, "stop", stop),
                                event.symbol, stop)]  # fmt: skip
        if book.state is MetaTrendState.EXITING:
            if filled:
                self._close_trade(book, event)
            else:
                book.state = MetaTrendState.IN_POSITION
        return ()

    # --- rules -------------------------------------------------------------------------------

    def model_inputs(self, ctx: StrategyContext, symbol: str) -> list[float]:
        """This bar's model inputs, in the artifact's order (``meta_trend_features``)."""
        m = ctx.market
        values = {f: m.feature(symbol, f, self.category) for f in mf.CANDLE_FEATURES}
        funding = 0.0
        if self.category is Category.LINEAR:
            rates = m.funding_rates(symbol, 1)
            funding = float(rates[-1]) if rates else 0.0
        return mf.model_row(values, funding)

    def _scan(self, ctx: StrategyContext, symbol: str, book: _Book) -> list[Intent]:
        d, m = ctx.directive, ctx.market
        direction = int(m.feature(symbol, "signal", self.category) or 0)
        if direction == 0 or (direction < 0 and self.category is Category.SPOT):
            return []
        if d.halt or d.entries_paused or d.close_directional or self.kill.reason is not None:
            return []
        atr, close = (
            m.feature(symbol, "atr", self.category),
            m.feature(symbol, "close", self.category),
        )
        row = self.model_inputs(ctx, symbol)
        if any(math.isnan(v) for v in row) or not atr > 0:
            return []
        confidence: Decimal | None = None
        if self.use_filter:
            if self.model is None:
                return []
            probability = self.model.probability(row)
            self.last_probability[symbol] = probability
            threshold = float(self.params.confidence_threshold)
            self.kill.confidence(probability, threshold)
            if probability < threshold:
                return []
            confidence = Decimal(f"{probability:.4f}")
        distance = atr * float(self.params.stop_loss_atr * d.stop_multiplier)
        qty = self._size(ctx, close, distance)
        if qty <= 0:
            return []
        book.direction, book.atr, book.state = direction, atr, MetaTrendState.ENTERING
        side = Side.BUY if direction > 0 else Side.SELL
        book.pending = intent_id(ctx.engine, m.now_ms, symbol, "entry", side)
        return [SubmitOrder(book.pending, symbol, self.category, side, OrderType.MARKET, qty=qty,
                            reason="meta-trend signal", confidence=confidence)]  # fmt: skip

    def _size(self, ctx: StrategyContext, close: float, distance: float) -> Decimal:
        p, pf = self.params, ctx.portfolio
        equity = pf.equity
        entry = to_price(close)
        gross = ZERO
        for other in self.symbols:
            if self.category is Category.LINEAR:
                pos = pf.position(other)
                held = abs(pos.qty) if pos is not None else ZERO
            else:
                held = pf.spot_qty(other)
            if held:
                gross += held * ctx.market.price(other, self.category)
        cap = min(p.max_asset_fraction * equity, p.leverage * equity - gross)
        if self.category is Category.SPOT:
            cap = min(cap, pf.cash)
        return position_size(
            equity=equity,
            entry_price=entry,
            stop_price=entry - to_price(distance),
            max_position_notional=cap,
            policy=SizingPolicy(risk_fraction=p.risk_per_trade),  # risk only: no Kelly stats
            qty_step=self.qty_step,
        ).qty

    def _manage(self, ctx: StrategyContext, symbol: str, book: _Book) -> list[Intent]:
        m, d = ctx.market, ctx.directive
        held = self._held(ctx, symbol)
        if held == 0 or book.barriers is None:  # closed outside our callbacks
            book.state, book.pending = MetaTrendState.SCANNING, None
            return []
        book.bars_held += 1
        close = m.feature(symbol, "close", self.category)
        why = exit_at_close(book.barriers, close, book.bars_held, self.params.time_barrier_bars)
        if why is None and not (d.halt or d.close_directional):
            return []
        book.state = MetaTrendState.EXITING
        book.pending = intent_id(ctx.engine, m.now_ms, symbol, "exit")
        side = Side.SELL if held > 0 else Side.BUY
        return [SubmitOrder(book.pending, symbol, self.category, side, OrderType.MARKET,
                            qty=abs(held), reduce_only=self.category is Category.LINEAR,
                            reason=why.value if why else "governance")]  # fmt: skip

    def _held(self, ctx: StrategyContext, symbol: str) -> Decimal:
        if self.category is Category.LINEAR:
            pos = ctx.portfolio.position(symbol)
            return pos.qty if pos is not None else ZERO
        book = self.books[symbol]
        return min(book.qty, ctx.portfolio.spot_qty(symbol))

    def _close_trade(self, book: _Book, event: OrderEvent) -> None:
        gross = (event.avg_price - book.entry_price) * book.qty * book.direction
        self.stats = self.stats.record(gross - book.fees - event.fee)
        book.state, book.pending, book.barriers, book.direction = (
            MetaTrendState.SCANNING, None, None, 0
        )  # fmt: skip
