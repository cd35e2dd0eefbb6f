"""TACTICAL: dry powder for generational crashes, returned to CORE-HODL on recovery.

MONITORING (cash) -> DEPLOYING (market buys working) -> DEPLOYED -> EXITING (sells working) ->
MONITORING, with a ``TransferProceeds`` to CORE-HODL when an exit completes.

* Tranche one deploys ``firstTrancheFraction`` (50%) of the cash when BTC is
  ``firstTrancheDrawdown`` (50%) below its all-time high, or, when their data is available, the
  Fear & Greed index is below ``fearGreedThreshold`` or every BTC funding settlement of the last
  ``fundingDays`` days is below ``fundingThreshold``.
* Tranche two deploys the rest at ``secondTrancheDrawdown`` (70%).
* Deployments buy ``btcWeight`` BTC and the rest ETH, at market (the runtime cuts them by the
  governance size multiplier when it sends them).
* Exit at ``takeProfit`` (+100%) on the deployed cost, or ``maxHoldMonths`` after the first
  deployment; the sale proceeds are reported for return to CORE-HODL. A governance exit
  (close directional / halt) sells into USDT and keeps the cash here.

The all-time high is the running maximum of the BTC highs the feed has seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from engine_runtime import indicators as ta
from eternal_kernel.api.v1alpha1.strategy_params import TacticalParams

from .base import MS_PER_DAY, ZERO, BaseStrategy, defined
from .frame import Frame, features_like
from .interface import (
    Category,
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

SPOT = Category.SPOT
MS_PER_MONTH = int(30.436875 * MS_PER_DAY)
SETTLEMENTS_PER_DAY = 3
FEE_BUFFER = Decimal("0.998")


class TacticalState(StrEnum):
    MONITORING = "MONITORING"
    DEPLOYING = "DEPLOYING"
    DEPLOYED = "DEPLOYED"
    EXITING = "EXITING"


@dataclass
class TacticalStrategy(BaseStrategy):
    """The TACTICAL engine: triggers on ``btc``, buys ``btc`` and ``eth``."""

    params: TacticalParams = field(default_factory=TacticalParams)
    btc: str = "BTCUSDT"
    eth: str = "ETHUSDT"
    state: TacticalState = TacticalState.MONITORING
    tranches: int = 0
    cost: Decimal = ZERO
    first_deploy_ms: int = 0
    pending: set[str] = field(default_factory=set)
    proceeds: Decimal = ZERO
    forced_exit: bool = False

    name = "tactical"
    array_features = True  # features without pandas (``frame``)

    def markets(self) -> Sequence[MarketKey]:
        return [(self.btc, SPOT), (self.eth, SPOT)]

    def funding_symbols(self) -> Sequence[str]:
        return (self.btc,)

    def features(self, symbol: str, category: Category, candles: Frame) -> Frame:
        ath = ta.running_max(candles["high"])
        return features_like(
            candles, {"ath": ath, "drawdown": ta.drawdown_from_peak(candles["close"], ath)}
        )

    def state_summary(self) -> Mapping[str, str]:
        return {"engine": self.state.value, "tranches": str(self.tranches)}

    # --- rules -------------------------------------------------------------------------------

    def first_trigger(self, ctx: StrategyContext) -> str | None:
        """Why tranche one deploys now, or None."""
        p = self.params
        dd = ctx.market.feature(self.btc, "drawdown")
        if defined(dd) and dd >= float(p.first_tranche_drawdown):
            return "drawdown"
        fear = ctx.market.signal("fear_greed")
        if fear is not None and fear < p.fear_greed_threshold:
            return "extreme fear"
        needed = p.funding_days * SETTLEMENTS_PER_DAY
        rates = ctx.market.funding_rates(self.btc, needed)
        if len(rates) >= needed and all(r < p.funding_threshold for r in rates):
            return "negative funding"
        return None

    def second_trigger(self, ctx: StrategyContext) -> bool:
        dd = ctx.market.feature(self.btc, "drawdown")
        return defined(dd) and dd >= float(self.params.second_tranche_drawdown)

    def holdings_value(self, ctx: StrategyContext) -> Decimal:
        pf, m = ctx.portfolio, ctx.market
        return sum((pf.spot_qty(s) * m.price(s) for s in (self.btc, self.eth)), ZERO)

    # --- callbacks ---------------------------------------------------------------------------

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        d = ctx.directive
        if self.state in (TacticalState.DEPLOYING, TacticalState.EXITING):
            return []
        if d.halt or d.close_directional:
            return self._sell_all(ctx, forced=True) if self.holdings_value(ctx) > 0 else []
        if self.state is TacticalState.DEPLOYED:
            p = self.params
            held = ctx.market.now_ms - self.first_deploy_ms >= p.max_hold_months * MS_PER_MONTH
            if self.cost > 0 and self.holdings_value(ctx) >= (1 + p.take_profit) * self.cost:
                return self._sell_all(ctx, forced=False)
            if held:
                return self._sell_all(ctx, forced=False)
        if d.entries_paused:
            return []
        if self.tranches == 0 and self.first_trigger(ctx):
            return self._deploy(ctx, ctx.portfolio.cash * self.params.first_tranche_fraction)
        if self.tranches == 1 and self.second_trigger(ctx):
            return self._deploy(ctx, ctx.portfolio.cash)
        return []

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        if event.intent_id not in self.pending:
            return ()
        self.pending.discard(event.intent_id)
        if event.status is OrderStatus.FILLED:
            notional = event.filled_qty * event.avg_price
            if event.side is Side.BUY:
                self.cost += notional + event.fee
            else:
                self.proceeds += notional - event.fee
        if self.pending:
            return ()
        if self.state is TacticalState.DEPLOYING:
            self.state = TacticalState.DEPLOYED if self.cost > 0 else TacticalState.MONITORING
            return ()
        # EXITING completed
        out: list[Intent] = []
        if not self.forced_exit and self.proceeds > 0:
            iid = intent_id(ctx.engine, event.ts_ms, "return-to-core")
            out.append(TransferProceeds(iid, self.proceeds, "core-hodl", "tactical exit"))
        self.state, self.tranches, self.cost, self.proceeds = (
            TacticalState.MONITORING,
            0,
            ZERO,
            ZERO,
        )
        self.forced_exit = False
        return out

    # --- orders ------------------------------------------------------------------------------

    def _deploy(self, ctx: StrategyContext, amount: Decimal) -> list[Intent]:
        amount = amount * FEE_BUFFER
        split = ((self.btc, self.params.btc_weight), (self.eth, 1 - self.params.btc_weight))
        now = ctx.market.now_ms
        out: list[Intent] = []
        for symbol, weight in split:
            notional = (amount * weight).quantize(Decimal("0.01"))
            if notional >= 1:
                iid = intent_id(ctx.engine, now, symbol, "deploy", self.tranches + 1)
                out.append(
                    SubmitOrder(iid, symbol, SPOT, Side.BUY, OrderType.MARKET, notional=notional)
                )
        if not out:
            return []
        if self.tranches == 0:
            self.first_deploy_ms = now
        self.tranches += 1
        self.state = TacticalState.DEPLOYING
        self.pending = {o.intent_id for o in out if isinstance(o, SubmitOrder)}
        return out

    def _sell_all(self, ctx: StrategyContext, *, forced: bool) -> list[Intent]:
        now = ctx.market.now_ms
        out: list[Intent] = []
        for symbol in (self.btc, self.eth):
            qty = ctx.portfolio.spot_qty(symbol)
            if qty > 0:
                iid = intent_id(ctx.engine, now, symbol, "exit")
                out.append(SubmitOrder(iid, symbol, SPOT, Side.SELL, OrderType.MARKET, qty=qty))
        if out:
            self.state, self.forced_exit, self.proceeds = TacticalState.EXITING, forced, ZERO
            self.pending = {o.intent_id for o in out if isinstance(o, SubmitOrder)}
        return out
