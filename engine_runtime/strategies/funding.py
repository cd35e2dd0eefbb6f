"""FUNDING: delta-neutral spot long plus perp short, collecting positive funding.

Per symbol (BTC, ETH, SOL): WATCHING -> ENTERING (both legs working) -> HEDGED -> EXITING ->
WATCHING.

* Entry: the last ``entryPeriods`` (2) funding observations all above ``entryRate`` (0.01%/8h),
  the perp premium over spot at most ``maxPremium``, entries not paused. The predicted rate of the
  next period is used when the feed has it; a backtest without predictions uses the settled rates
  (known only after settlement, so there is no look-ahead). The spot leg and an equal perp short
  are sized from ``deployFraction`` of equity split evenly over the symbols (the runtime cuts both
  legs by the governance size multiplier when it sends them: ``governance.admission``).
* Exit: a funding observation below zero, the premium above ``maxPremium``, ``maxHoldDays``
  held, or a governance halt. Both legs close at market; the observations are then cleared, so a
  re-entry needs ``entryPeriods`` fresh ones.
* While hedged: a leg mismatch above ``rehedgeThreshold`` is closed by resizing the perp leg;
  ``reinvestFraction`` of the funding received is added to both legs, and the rest is offered to
  TACTICAL with a ``TransferProceeds`` intent (the design document's 50/50 split).

Funding is delta-neutral, so ``closeDirectional`` (breaker level 3) does not close it; a halt does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from eternal_kernel.api.v1alpha1.strategy_params import FundingParams

from .base import MS_PER_DAY, ZERO, BaseStrategy, floor_qty
from .interface import (
    Category,
    FundingEvent,
    Intent,
    MarketKey,
    OrderEvent,
    OrderStatus,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
    TransferProceeds,
    intent_id,
)

SPOT, LINEAR = Category.SPOT, Category.LINEAR


class FundingState(StrEnum):
    WATCHING = "WATCHING"
    ENTERING = "ENTERING"
    HEDGED = "HEDGED"
    EXITING = "EXITING"


@dataclass
class _Leg:
    state: FundingState = FundingState.WATCHING
    rates: list[Decimal] = field(default_factory=list)
    pending: set[str] = field(default_factory=set)
    failed: bool = False
    entered_ms: int = 0
    income: Decimal = ZERO  # funding received since the last reinvestment
    total_income: Decimal = ZERO


@dataclass
class FundingStrategy(BaseStrategy):
    """The FUNDING engine over ``symbols``."""

    params: FundingParams = field(default_factory=FundingParams)
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    qty_step: Decimal = Decimal("0.001")
    legs: dict[str, _Leg] = field(default_factory=dict)

    name = "funding"

    def __post_init__(self) -> None:
        for s in self.symbols:
            self.legs.setdefault(s, _Leg())

    def markets(self) -> Sequence[MarketKey]:
        return [(s, c) for s in self.symbols for c in (SPOT, LINEAR)]

    def funding_symbols(self) -> Sequence[str]:
        return self.symbols

    def state_summary(self) -> Mapping[str, str]:
        return {s: leg.state.value for s, leg in self.legs.items()}

    # --- rules -------------------------------------------------------------------------------

    def premium(self, ctx: StrategyContext, symbol: str) -> Decimal:
        spot = ctx.market.price(symbol, SPOT)
        return ctx.market.price(symbol, LINEAR) / spot - 1

    def entry_signal(self, rates: Sequence[Decimal]) -> bool:
        n = self.params.entry_periods
        return len(rates) >= n and all(r > self.params.entry_rate for r in rates[-n:])

    def exit_reason(self, ctx: StrategyContext, symbol: str, leg: _Leg) -> str | None:
        if ctx.directive.halt:
            return "halt"
        if leg.rates and leg.rates[-1] < 0:
            return "funding negative"
        if self.premium(ctx, symbol) > self.params.max_premium:
            return "premium"
        if ctx.market.now_ms - leg.entered_ms >= self.params.max_hold_days * MS_PER_DAY:
            return "max hold"
        return None

    # --- callbacks ---------------------------------------------------------------------------

    def on_funding(self, ctx: StrategyContext, event: FundingEvent) -> Sequence[Intent]:
        leg = self.legs.get(event.symbol)
        if leg is None:
            return ()
        leg.rates.append(event.predicted_rate if event.predicted_rate is not None else event.rate)
        del leg.rates[: -max(self.params.entry_periods, 8)]
        if leg.state is not FundingState.HEDGED or event.payment <= 0:
            return ()
        leg.income += event.payment
        leg.total_income += event.payment
        return self._reinvest(ctx, event.symbol, leg)

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        out: list[Intent] = []
        # cash not yet promised to an entry on this bar (entries of several symbols may coincide)
        available = [ctx.portfolio.cash * Decimal("0.995")]
        for symbol, leg in self.legs.items():
            if leg.state is FundingState.WATCHING:
                out.extend(self._enter(ctx, symbol, leg, available))
            elif leg.state is FundingState.HEDGED:
                reason = self.exit_reason(ctx, symbol, leg)
                out.extend(
                    self._exit(ctx, symbol, leg, reason) if reason else self._rehedge(ctx, symbol)
                )
        return out

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        leg = self.legs.get(event.symbol)
        if leg is None or event.intent_id not in leg.pending:
            return ()
        leg.pending.discard(event.intent_id)
        if event.status is not OrderStatus.FILLED:
            leg.failed = True
        if leg.pending:
            return ()
        if leg.state is FundingState.ENTERING:
            if leg.failed:  # one leg missing: unwind whatever filled
                return self._exit(ctx, event.symbol, leg, "entry failed")
            leg.state, leg.entered_ms = FundingState.HEDGED, event.ts_ms
        elif leg.state is FundingState.EXITING:
            leg.state = FundingState.WATCHING
            leg.rates.clear()
        leg.failed = False
        return ()

    # --- orders ------------------------------------------------------------------------------

    def _enter(
        self, ctx: StrategyContext, symbol: str, leg: _Leg, available: list[Decimal]
    ) -> list[Intent]:
        d, p = ctx.directive, self.params
        if d.halt or d.entries_paused or not self.entry_signal(leg.rates):
            return []
        if self.premium(ctx, symbol) > p.max_premium:
            return []
        budget = ctx.portfolio.equity * p.deploy_fraction / len(self.symbols)
        budget = min(budget, available[0])
        price = ctx.market.price(symbol, SPOT)
        qty = floor_qty(budget / price, self.qty_step)
        if qty <= 0:
            return []
        available[0] -= qty * price
        now = ctx.market.now_ms
        spot_id = intent_id(ctx.engine, now, symbol, "enter", "spot")
        perp_id = intent_id(ctx.engine, now, symbol, "enter", "perp")
        leg.state, leg.pending, leg.failed = FundingState.ENTERING, {spot_id, perp_id}, False
        return [
            SubmitOrder(spot_id, symbol, SPOT, Side.BUY, OrderType.MARKET, qty=qty),
            SubmitOrder(perp_id, symbol, LINEAR, Side.SELL, OrderType.MARKET, qty=qty),
        ]

    def _exit(self, ctx: StrategyContext, symbol: str, leg: _Leg, reason: str) -> list[Intent]:
        now = ctx.market.now_ms
        out: list[Intent] = []
        spot_qty = ctx.portfolio.spot_qty(symbol)
        pos = ctx.portfolio.position(symbol)
        if spot_qty > 0:
            iid = intent_id(ctx.engine, now, symbol, "exit", "spot")
            out.append(
                SubmitOrder(
                    iid, symbol, SPOT, Side.SELL, OrderType.MARKET, qty=spot_qty, reason=reason
                )
            )
        if pos is not None and pos.qty != 0:
            iid = intent_id(ctx.engine, now, symbol, "exit", "perp")
            side = Side.BUY if pos.qty < 0 else Side.SELL
            out.append(
                SubmitOrder(
                    iid,
                    symbol,
                    LINEAR,
                    side,
                    OrderType.MARKET,
                    qty=abs(pos.qty),
                    reduce_only=True,
                    reason=reason,
                )
            )
        leg.pending = {o.intent_id for o in out if isinstance(o, SubmitOrder)}
        leg.failed = False
        leg.state = FundingState.EXITING if out else FundingState.WATCHING
        if not out:
            leg.rates.clear()
        return out

    def _rehedge(self, ctx: StrategyContext, symbol: str) -> list[Intent]:
        spot_qty = ctx.portfolio.spot_qty(symbol)
        pos = ctx.portfolio.position(symbol)
        short = -pos.qty if pos is not None else ZERO
        if spot_qty <= 0:
            return []
        gap = spot_qty - short  # > 0: perp short too small
        if abs(gap) / spot_qty <= self.params.rehedge_threshold:
            return []
        qty = floor_qty(abs(gap), self.qty_step)
        if qty <= 0:
            return []
        iid = intent_id(ctx.engine, ctx.market.now_ms, symbol, "rehedge")
        side = Side.SELL if gap > 0 else Side.BUY
        return [
            SubmitOrder(
                iid,
                symbol,
                LINEAR,
                side,
                OrderType.MARKET,
                qty=qty,
                reduce_only=gap < 0,
                reason="rehedge",
            )
        ]

    def _reinvest(self, ctx: StrategyContext, symbol: str, leg: _Leg) -> list[Intent]:
        """Add ``reinvestFraction`` of the income to both legs; offer the rest to TACTICAL.

        Income accumulates until the reinvested part buys at least one quantity step; what the
        step rounding leaves over is carried to the next settlement.
        """
        p = self.params
        amount = leg.income * p.reinvest_fraction
        price = ctx.market.price(symbol, SPOT)
        qty = floor_qty(amount / price, self.qty_step)
        if amount < p.min_order_notional or qty <= 0 or ctx.directive.entries_paused:
            return []
        now = ctx.market.now_ms
        rest = leg.income - amount
        leg.income = amount - qty * price
        out: list[Intent] = [
            SubmitOrder(
                intent_id(ctx.engine, now, symbol, "reinvest", "spot"),
                symbol,
                SPOT,
                Side.BUY,
                OrderType.MARKET,
                qty=qty,
                reason="reinvest",
            ),
            SubmitOrder(
                intent_id(ctx.engine, now, symbol, "reinvest", "perp"),
                symbol,
                LINEAR,
                Side.SELL,
                OrderType.MARKET,
                qty=qty,
                reason="reinvest",
            ),
        ]
        if rest > 0:
            iid = intent_id(ctx.engine, now, symbol, "income")
            out.append(TransferProceeds(iid, rest, "tactical", "funding income"))
        return out
