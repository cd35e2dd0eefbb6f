"""GRID: a ladder of PostOnly limit orders around a centre price (the grid bot design).

On the first bar (and after every recentre) the ladder is built around the touch (the book's
mid when the runtime feeds the book, else the bar's close): ``levels`` buys below and sells above,
``spacing`` apart (a share of the centre, or a multiple of ATR), each of ``budget / (2 x levels)``.
Every order is rounded to the instrument's tick and step
and checked against its minimum quantity and order value, and is not sent when it would cross
the touch (a buy at or above the best ask, a sell at or below the best bid) or break the
inventory or exposure limits (``grid_rules``). A spot grid sells only what it holds.

A filled buy at level ``k`` places the sell at ``k + 1`` (one spacing above), a filled sell the
buy at ``k - 1``; when such a counter-order fills, the round trip's profit (net of both fees) is
booked to the level that opened it (``profit_by_level``). Levels that could not be placed are
retried on later bars.

Recentring (cancel everything, rebuild around the current price) on: the price beyond the
outermost level by ``recentreMargin``, a pump or dump of ``pumpMove`` within ``pumpMinutes``,
one side of the centre for ``dominanceFraction`` of ``dominanceHours``, or the ladder's age
reaching ``maxAgeHours``. Each is appended to ``recentres`` (drained by the runtime, which logs,
counts and stores it: ``take_recentres``).

Governance: the runtime cuts the orders that add to the position by the size multiplier when it
sends them (``governance.admission.admit``); the grid asks that same function what will be sent
and checks and books that (the minimum order, cash, the inventory and exposure limits, the
working quantity), so its limits count what is actually ordered. Paused entries stop the
orders that add to the position (a spot grid's buys; its sells continue); close-directional and
halt cancel the ladder and close the position at market (the runtime meanwhile flattens the
account through the common flatten plan), and the grid stays stopped until they are lifted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from engine_runtime.governance.admission import admit
from eternal_kernel.api.v1alpha1.strategy_params import GridParams
from eternal_kernel.model.instruments import Instrument

from . import grid_rules as gr
from .base import ZERO, BaseStrategy
from .interface import (
    CancelOrder,
    Category,
    Intent,
    MarketKey,
    OrderEvent,
    OrderStatus,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
    intent_id,
)

if TYPE_CHECKING:
    from .frame import Frame

MS_PER_HOUR = 3_600_000
SPOT_FEE_ALLOWANCE = Decimal("0.001")
"""A spot buy's fee is taken in the base coin (Bybit: 0.1%): its counter-sell keeps that back."""


class GridState(StrEnum):
    IDLE = "IDLE"  # no ladder yet (first bar, or waiting for the ATR)
    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"  # close-directional or halt in force


@dataclass(frozen=True, slots=True)
class Recentre:
    """One (re)build of the ladder, for the record (PostgreSQL, log, metric)."""

    ts_ms: int
    symbol: str
    reason: str
    centre: Decimal
    spacing: Decimal
    lowest_buy: Decimal
    highest_sell: Decimal
    levels: int
    generation: int


@dataclass(slots=True)
class Working:
    level: int
    side: Side
    price: Decimal
    qty: Decimal
    counter: bool  # closes a lot opened one level away


@dataclass(slots=True)
class Lot:
    """An opening fill waiting for its counter-order: booked when that fills."""

    level: int
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal


@dataclass
class GridStrategy(BaseStrategy):
    params: GridParams = field(default_factory=GridParams)
    symbol: str = "BTCUSDT"
    instruments: dict[MarketKey, Instrument] = field(default_factory=dict)
    state: GridState = GridState.IDLE
    centre: Decimal = ZERO
    spacing: Decimal = ZERO
    built_ms: int = 0
    generation: int = 0
    seq: int = 0  # orders placed: part of each intent id, unique even within one bar
    working: dict[str, Working] = field(default_factory=dict)
    cancelling: set[str] = field(default_factory=set)
    lots: dict[str, Lot] = field(default_factory=dict)  # by the counter-order's intent id
    retry: dict[int, Side] = field(default_factory=dict)  # levels not placed yet
    retry_qty: dict[int, Decimal] = field(default_factory=dict)  # ... of a waiting counter-order
    retry_lot: dict[int, Lot] = field(default_factory=dict)  # ... and the lot it closes
    profit_by_level: dict[int, Decimal] = field(default_factory=dict)
    realized: Decimal = ZERO
    recentres: list[Recentre] = field(default_factory=list)
    recentre_count: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # why levels were not sent, counted
    trend: gr.Trend = field(init=False)
    category: Category = field(init=False)

    name = "grid"
    array_features = True  # features without pandas (``frame``)
    api_version = 2  # reads the book's touch (``book_markets``) when the runtime feeds it
    layered_entries = True  # several resting levels per side: exempt from duplicate_position

    def __post_init__(self) -> None:
        p = self.params
        self.trend = gr.Trend(p.dominance_hours * MS_PER_HOUR, p.pump_minutes * 60_000)
        self.category = Category(p.category.value)

    # --- the contract ------------------------------------------------------------------------

    @property
    def key(self) -> MarketKey:
        return (self.symbol, self.category)

    def markets(self) -> Sequence[MarketKey]:
        return [self.key]

    def book_markets(self) -> Sequence[MarketKey]:
        return [self.key]

    def warmup_bars(self) -> int:
        return self.params.atr_period + 1 if self.params.spacing.value == "atr" else 0

    def features(self, symbol: str, category: Category, candles: Frame) -> Frame:
        from engine_runtime import indicators as ta

        from .frame import features_like

        atr = ta.atr(candles["high"], candles["low"], candles["close"], self.params.atr_period)
        return features_like(candles, {"atr": atr})

    def bind_instruments(self, instruments: Mapping[MarketKey, Instrument]) -> None:
        """The venue's rules for the markets (the live runtime calls this once it has them)."""
        self.instruments.update(instruments)

    def instrument(self) -> Instrument:
        inst = self.instruments.get(self.key)
        if inst is None:
            inst = self.instruments[self.key] = gr.default_instrument(self.symbol, self.category)
        return inst

    def state_summary(self) -> Mapping[str, str]:
        return {self.symbol: self.state.value}

    def take_recentres(self) -> list[Recentre]:
        """The recentres since the last call (the runtime records them)."""
        out, self.recentres = self.recentres, []
        return out

    # --- callbacks ---------------------------------------------------------------------------

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        d = ctx.directive
        if d.halt or d.close_directional:
            return self._stop(ctx) if self.state is not GridState.STOPPED else []
        if self.state is GridState.STOPPED:
            self.state = GridState.IDLE
        m = ctx.market
        bid, ask = gr.touch(m.book(*self.key), m.price(*self.key))
        mid = (bid + ask) / 2
        now = m.now_ms
        if self.state is GridState.IDLE:
            return self._build(ctx, mid, "start")
        self.trend.add(now, float(mid), float(self.centre))
        n = self.params.levels
        reason = gr.recentre_reason(
            now_ms=now,
            price=mid,
            lowest_buy=gr.level_price(self.centre, self.spacing, -n),
            highest_sell=gr.level_price(self.centre, self.spacing, n),
            built_ms=self.built_ms,
            trend=self.trend,
            margin=self.params.recentre_margin,
            max_age_ms=self.params.max_age_hours * MS_PER_HOUR,
            dominance=self.params.dominance_fraction,
            pump_move=self.params.pump_move,
        )
        if reason is not None:
            return self._cancel_all(ctx) + self._build(ctx, mid, reason)
        return self._retry(ctx, bid, ask)

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        order = self.working.pop(event.intent_id, None)
        self.cancelling.discard(event.intent_id)
        if order is None:
            return []
        lot = self.lots.pop(event.intent_id, None)
        if event.status is not OrderStatus.FILLED or event.filled_qty <= 0:
            # Not cancelled by us (those left ``working`` when asked): refused or cancelled by
            # the venue, e.g. Bybit's PostOnly cancel (EC_PostOnlyWillTakeLiquidity). Retried.
            if self.state is GridState.ACTIVE:
                self.retry[order.level] = order.side
                self._count("venue-refused")
            return []
        if lot is not None:  # a counter-order closed its lot: book the round trip
            qty = min(lot.qty, event.filled_qty)
            sign = 1 if lot.side is Side.BUY else -1
            gain = (event.avg_price - lot.price) * qty * sign - lot.fee - event.fee
            self.profit_by_level[lot.level] = self.profit_by_level.get(lot.level, ZERO) + gain
            self.realized += gain
        if self.state is not GridState.ACTIVE:
            return []
        return self._counter(ctx, order, event, closed=lot is not None)

    # --- the ladder --------------------------------------------------------------------------

    def _build(self, ctx: StrategyContext, centre: Decimal, reason: str) -> list[Intent]:
        p = self.params
        inst = self.instrument()
        atr = ctx.market.feature(self.symbol, "atr", self.category)
        spacing = gr.spacing_of(centre, p.spacing.value, p.spacing_pct, atr, p.atr_multiple)
        if spacing is None or spacing < inst.tick_size or spacing * p.levels >= centre:
            self.state = GridState.IDLE
            return []
        self.state = GridState.ACTIVE
        self.centre = inst.round_price(centre, Side.BUY)
        self.spacing = spacing
        self.built_ms = ctx.market.now_ms
        self.generation += 1
        self.recentre_count += 1
        self.trend.clear()
        self.trend.add(self.built_ms, float(centre), float(self.centre))
        self.retry = {level: side for level, side, _ in gr.ladder(self.centre, spacing, p.levels)}
        self.retry_qty.clear()
        self.retry_lot.clear()
        self.recentres.append(
            Recentre(
                self.built_ms,
                self.symbol,
                reason,
                self.centre,
                spacing,
                gr.level_price(self.centre, spacing, -p.levels),
                gr.level_price(self.centre, spacing, p.levels),
                p.levels,
                self.generation,
            )
        )
        m = ctx.market
        bid, ask = gr.touch(m.book(*self.key), m.price(*self.key))
        return self._retry(ctx, bid, ask)

    def _retry(self, ctx: StrategyContext, bid: Decimal, ask: Decimal) -> list[Intent]:
        """Place the levels still missing (nearest the centre first), where allowed now."""
        out: list[Intent] = []
        taken = {w.level for w in self.working.values()}
        for level in sorted(self.retry, key=abs):
            side = self.retry[level]
            if level in taken:
                del self.retry[level]
                continue
            price = gr.level_price(self.centre, self.spacing, level)
            qty = self.retry_qty.get(level)
            intent = self._place(ctx, level, side, price, qty, (bid, ask), counter=qty is not None)
            if intent is not None:
                del self.retry[level]
                self.retry_qty.pop(level, None)
                lot = self.retry_lot.pop(level, None)
                if lot is not None:
                    self.lots[intent.intent_id] = lot
                out.append(intent)
        return out

    def _counter(
        self, ctx: StrategyContext, filled: Working, event: OrderEvent, *, closed: bool
    ) -> list[Intent]:
        """The order one level away that answers a fill. It closes the lot the fill opened; after
        a fill that closed a lot, it opens the level's next round trip."""
        level = filled.level + (1 if filled.side is Side.BUY else -1)
        side = Side.SELL if filled.side is Side.BUY else Side.BUY
        price = gr.level_price(self.centre, self.spacing, level)
        qty = event.filled_qty
        if self.category is Category.SPOT and side is Side.SELL:
            qty = qty * (1 - SPOT_FEE_ALLOWANCE)
        # Against the book when there is one; else the venue (or the backtester's path) refuses
        # a counter-order that would cross: the bar's close is not the price at the fill.
        book = ctx.market.book(*self.key)
        quote = gr.touch(book, price) if book is not None else None
        intent = self._place(ctx, level, side, price, qty, quote, counter=True, at=event.ts_ms)
        lot = (
            None
            if closed
            else Lot(filled.level, filled.side, event.avg_price, event.filled_qty, event.fee)
        )
        if intent is None:  # retried on the next bars, with its quantity and its lot
            self.retry[level], self.retry_qty[level] = side, qty
            if lot is not None:
                self.retry_lot[level] = lot
            return []
        if lot is not None:
            self.lots[intent.intent_id] = lot
        return [intent]

    def _place(
        self,
        ctx: StrategyContext,
        level: int,
        side: Side,
        price: Decimal,
        qty: Decimal | None,
        quote: tuple[Decimal, Decimal] | None,
        *,
        counter: bool,
        at: int | None = None,
    ) -> SubmitOrder | None:
        """The order for one level, or None (counted in ``skipped``) when it may not go now."""
        checked = self._check(ctx, side, price, qty, quote)
        if isinstance(checked, str):
            self._count(checked)
            return None
        px, q, sent = checked
        now = at if at is not None else ctx.market.now_ms
        self.seq += 1
        iid = intent_id(ctx.engine, now, self.symbol, "grid", self.seq, level, side)
        self.working[iid] = Working(level, side, px, sent, counter)
        return SubmitOrder(
            iid, self.symbol, self.category, side, OrderType.LIMIT,
            qty=q, price=px, post_only=True, reason=f"grid level {level}",
        )  # fmt: skip

    def _check(
        self,
        ctx: StrategyContext,
        side: Side,
        price: Decimal,
        qty: Decimal | None,
        quote: tuple[Decimal, Decimal] | None,
    ) -> tuple[Decimal, Decimal, Decimal] | str:
        """The rounded (price, qty to order, qty governance lets through) of an order that may go
        now, or why it may not."""
        p, d, pf = self.params, ctx.directive, ctx.portfolio
        inst = self.instrument()
        if quote is not None and gr.crosses(side, inst.round_price(price, side), *quote):
            return "crossing"
        position = self._position(ctx)
        if d.entries_paused and gr.adds_exposure(side, position):
            return "entries-paused"
        if qty is None:
            qty = gr.level_qty(pf.equity, p.budget_fraction, p.levels, price)
        if self.category is Category.SPOT and side is Side.SELL:
            qty = min(qty, pf.spot_qty(self.symbol) - self._working_qty(Side.SELL))
            if qty < inst.min_qty:
                return "instrument"  # nothing (more) to sell
        checked = gr.validated(inst, side, price, qty)
        if isinstance(checked, str):
            return "instrument"
        px, q = checked
        sent = admit(
            q,
            buy=side is Side.BUY,
            reduce_only=False,
            position=position,
            multiplier=d.size_multiplier,
            step=inst.qty_step,
        )
        if sent is None:
            return "entries-paused"
        if sent != q and isinstance(gr.validated(inst, side, px, sent), str):
            return "instrument"
        if self.category is Category.SPOT and side is Side.BUY and px * sent > pf.cash:
            return "cash"
        limit = gr.within_limits(
            side=side,
            qty=sent,
            price=px,
            position=position,
            working_same_side=self._working_qty(side),
            equity=pf.equity,
            max_inventory=p.max_inventory,
            max_exposure=p.max_exposure,
        )
        return limit if limit is not None else (px, q, sent)

    def _count(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def _position(self, ctx: StrategyContext) -> Decimal:
        if self.category is Category.SPOT:
            return ctx.portfolio.spot_qty(self.symbol)
        pos = ctx.portfolio.position(self.symbol)
        return pos.qty if pos is not None else ZERO

    def _working_qty(self, side: Side) -> Decimal:
        return sum((w.qty for w in self.working.values() if w.side is side), ZERO)

    def _cancel_all(self, ctx: StrategyContext) -> list[Intent]:
        out: list[Intent] = []
        for iid in self.working:
            if iid in self.cancelling:
                continue
            self.cancelling.add(iid)
            cid = intent_id(ctx.engine, ctx.market.now_ms, "cancel", iid)
            out.append(CancelOrder(cid, self.symbol, self.category, iid))
        self.working.clear()
        self.lots.clear()
        self.retry.clear()
        self.retry_qty.clear()
        self.retry_lot.clear()
        return out

    def _stop(self, ctx: StrategyContext) -> list[Intent]:
        """Close-directional or halt: cancel the ladder, close the position at market."""
        out = self._cancel_all(ctx)
        self.state = GridState.STOPPED
        position = self._position(ctx)
        inst = self.instrument()
        qty = inst.round_qty(abs(position))
        if qty <= 0 or qty < inst.min_qty:
            return out
        side = Side.SELL if position > 0 else Side.BUY
        iid = intent_id(ctx.engine, ctx.market.now_ms, self.symbol, "grid-close", side)
        out.append(
            SubmitOrder(
                iid,
                self.symbol,
                self.category,
                side,
                OrderType.MARKET,
                qty=qty,
                reduce_only=self.category is Category.LINEAR,
                reason="governance",
            )
        )
        return out
