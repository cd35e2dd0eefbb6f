"""CORE-HODL: hold a fixed spot mix (BTC 2/3, ETH 1/3), rebalance on drift or the calendar.

* INITIALIZING: the first bar; buys the mix from cash (goes straight to REBALANCING).
* ACCUMULATING: holding. Free cash above the mix's cash share (contributions, proceeds returned by
  TACTICAL) is deployed with buy-only orders into the underweight assets. A rebalance is due when
  any asset's weight is ``driftThreshold`` (relative, 10%) away from its target, or when the
  calendar period (quarterly) has rolled over since the last rebalance.
* REBALANCING: two-sided orders toward the target until every gap is inside a small band
  (2% of the asset's target value) or below ``minOrderNotional``; then ACCUMULATING.
* DERISKED (governance level 3+): everything sold to USDT; when the directive clears, it
  rebalances back into the mix.

Maker only: orders are PostOnly limits ``limitOffset`` away from the last price. Every bar while
orders work, unfilled ones are cancelled and re-priced from the new price; a PostOnly that would
cross is rejected by the venue and simply re-priced on the next bar. With ``makerOnly: false``
market orders are used instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from eternal_kernel.api.v1alpha1.strategy_params import CalendarPeriod, CoreHodlParams

from .base import ZERO, BaseStrategy, floor_qty, symbol_of
from .interface import (
    CancelOrder,
    Category,
    Intent,
    MarketKey,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
    intent_id,
)

SPOT = Category.SPOT
DONE_BAND = Decimal("0.02")
FEE_BUFFER = Decimal("0.998")


class CoreHodlState(StrEnum):
    INITIALIZING = "INITIALIZING"
    ACCUMULATING = "ACCUMULATING"
    REBALANCING = "REBALANCING"
    DERISKED = "DERISKED"


def calendar_period_key(ts_ms: int, period: CalendarPeriod) -> int | None:
    """Index of the calendar period containing ``ts_ms`` (None: no calendar rebalancing)."""
    if period is CalendarPeriod.NONE:
        return None
    dt = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    months = dt.year * 12 + dt.month - 1
    return months // 3 if period is CalendarPeriod.QUARTERLY else months


@dataclass
class CoreHodlStrategy(BaseStrategy):
    """The CORE-HODL engine."""

    params: CoreHodlParams = field(default_factory=CoreHodlParams)
    state: CoreHodlState = CoreHodlState.INITIALIZING
    last_rebalance_ms: int | None = None
    rebalances: int = 0

    name = "core-hodl"

    @property
    def targets(self) -> dict[str, Decimal]:
        return {symbol_of(t.asset): t.weight for t in self.params.targets}

    def markets(self) -> Sequence[MarketKey]:
        return [(s, SPOT) for s in self.targets]

    def state_summary(self) -> Mapping[str, str]:
        return {"engine": self.state.value}

    # --- rules -------------------------------------------------------------------------------

    def drift(self, ctx: StrategyContext) -> dict[str, Decimal]:
        """Relative drift of each asset's weight from its target: ``|w - t| / t``."""
        equity = ctx.portfolio.equity
        out: dict[str, Decimal] = {}
        for symbol, target in self.targets.items():
            if target <= 0 or equity <= 0:
                continue
            weight = ctx.portfolio.spot_qty(symbol) * ctx.market.price(symbol) / equity
            out[symbol] = abs(weight - target) / target
        return out

    def rebalance_due(self, ctx: StrategyContext) -> str | None:
        """Why a rebalance is due now ("drift" / "calendar"), or None."""
        if any(d >= self.params.drift_threshold for d in self.drift(ctx).values()):
            return "drift"
        period = self.params.calendar_rebalance
        now_key = calendar_period_key(ctx.market.now_ms, period)
        last = self.last_rebalance_ms
        if (
            now_key is not None
            and last is not None
            and calendar_period_key(last, period) != now_key
        ):
            return "calendar"
        return None

    # --- callbacks ---------------------------------------------------------------------------

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        d = ctx.directive
        out: list[Intent] = list(self._cancel_open(ctx))
        if d.halt or d.close_directional:
            self.state = CoreHodlState.DERISKED
            return out + self._sell_everything(ctx)
        if self.state is CoreHodlState.DERISKED:
            self.state = CoreHodlState.REBALANCING
        if self.state is CoreHodlState.INITIALIZING:
            self.state = CoreHodlState.REBALANCING
        if self.state is CoreHodlState.ACCUMULATING and self.rebalance_due(ctx):
            self.state = CoreHodlState.REBALANCING
        if self.state is CoreHodlState.REBALANCING:
            orders = self._orders(ctx, buy_only=False)
            if not orders:
                self.state = CoreHodlState.ACCUMULATING
                self.last_rebalance_ms = ctx.market.now_ms
                self.rebalances += 1
            return out + orders
        if d.entries_paused:  # holding is fine; new money waits
            return out
        return out + self._orders(ctx, buy_only=True)

    # --- orders ------------------------------------------------------------------------------

    def _cancel_open(self, ctx: StrategyContext) -> list[Intent]:
        now = ctx.market.now_ms
        return [
            CancelOrder(
                intent_id(ctx.engine, now, "cancel", o.intent_id), o.symbol, SPOT, o.intent_id
            )
            for o in ctx.portfolio.open_orders()
        ]

    def _sell_everything(self, ctx: StrategyContext) -> list[Intent]:
        out: list[Intent] = []
        for symbol in self.targets:
            qty = ctx.portfolio.spot_qty(symbol)
            if qty > 0:
                iid = intent_id(ctx.engine, ctx.market.now_ms, symbol, "derisk")
                out.append(
                    SubmitOrder(
                        iid, symbol, SPOT, Side.SELL, OrderType.MARKET, qty=qty, reason="governance"
                    )
                )
        return out

    def _orders(self, ctx: StrategyContext, *, buy_only: bool) -> list[Intent]:
        p = self.params
        pf, m = ctx.portfolio, ctx.market
        equity = pf.equity
        if equity <= 0:
            return []
        gaps: dict[str, Decimal] = {}
        for symbol, target in self.targets.items():
            price = m.price(symbol)
            gap = target * equity - pf.spot_qty(symbol) * price
            band = max(p.min_order_notional, DONE_BAND * target * equity)
            if abs(gap) >= band and (gap > 0 or not buy_only):
                gaps[symbol] = gap
        if not gaps:
            return []
        out: list[Intent] = []
        budget = pf.cash * FEE_BUFFER
        wanted = sum((g for g in gaps.values() if g > 0), ZERO)
        scale = min(Decimal(1), budget / wanted) if wanted > 0 else Decimal(1)
        for symbol, gap in gaps.items():
            notional = gap * scale if gap > 0 else -gap
            if notional < p.min_order_notional:
                continue
            order = self._order(ctx, symbol, Side.BUY if gap > 0 else Side.SELL, notional)
            if order is not None:
                out.append(order)
        # Nothing placeable (no cash for the buys, nothing to sell) ends a rebalance: that is as
        # far as this engine can take it.
        return out

    def _order(
        self, ctx: StrategyContext, symbol: str, side: Side, notional: Decimal
    ) -> SubmitOrder | None:
        p = self.params
        price = ctx.market.price(symbol)
        iid = intent_id(ctx.engine, ctx.market.now_ms, symbol, "rebalance", side)
        if not p.maker_only:
            qty = floor_qty(notional / price)
            if qty <= 0:
                return None
            return SubmitOrder(iid, symbol, SPOT, side, OrderType.MARKET, qty=qty)
        offset = p.limit_offset if side is Side.SELL else -p.limit_offset
        limit = (price * (1 + offset)).quantize(Decimal("0.00000001"))
        qty = floor_qty(notional / limit)
        if qty <= 0:
            return None
        return SubmitOrder(
            iid, symbol, SPOT, side, OrderType.LIMIT, qty=qty, price=limit, post_only=True
        )
