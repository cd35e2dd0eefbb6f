"""FUNDING: entry needs two periods above 0.01%, exits, re-hedging, reinvesting half."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.strategies import (
    Category,
    FundingEvent,
    FundingState,
    FundingStrategy,
    GovernanceDirective,
    OrderEvent,
    OrderStatus,
    Side,
    SubmitOrder,
    TransferProceeds,
)
from engine_runtime.strategies.interface import PerpPosition

pytestmark = pytest.mark.unit
S, L = Category.SPOT, Category.LINEAR
DAY = 86_400_000


def _strat() -> FundingStrategy:
    return FundingStrategy(symbols=("BTCUSDT",))


def _prices(h, spot: float = 50000.0, perp: float = 50050.0) -> None:  # type: ignore[no-untyped-def]
    h.market.set("BTCUSDT", S, close=spot)
    h.market.set("BTCUSDT", L, close=perp)


def _fund(strat, h, rate: str, payment: str = "0"):  # type: ignore[no-untyped-def]
    return strat.on_funding(
        h.ctx, FundingEvent("BTCUSDT", h.market.now_ms, D(rate), None, D(payment))
    )


def _fill_all(strat, h, intents) -> None:  # type: ignore[no-untyped-def]
    for o in intents:
        if isinstance(o, SubmitOrder):
            ev = OrderEvent(
                o.intent_id,
                o.symbol,
                o.category,
                o.side,
                OrderStatus.FILLED,
                o.qty or D(0),
                D(50000),
                D(1),
                h.market.now_ms,
            )
            strat.on_order_event(h.ctx, ev)


def _hedged(strat, h, qty: str = "0.1") -> None:  # type: ignore[no-untyped-def]
    _fund(strat, h, "0.0002")
    _fund(strat, h, "0.0002")
    intents = strat.on_bar(h.ctx)
    _fill_all(strat, h, intents)
    h.portfolio.spot["BTCUSDT"] = D(qty)
    h.portfolio.perps["BTCUSDT"] = PerpPosition(-D(qty), D(50050), None)


def test_one_period_above_the_threshold_is_not_enough(harness) -> None:  # type: ignore[no-untyped-def]
    strat = _strat()
    _prices(harness)
    _fund(strat, harness, "0.0002")
    assert strat.on_bar(harness.ctx) == []


def test_rates_at_the_threshold_do_not_trigger(harness) -> None:  # type: ignore[no-untyped-def]
    strat = _strat()
    _prices(harness)
    _fund(strat, harness, "0.0001")
    _fund(strat, harness, "0.0001")
    assert strat.on_bar(harness.ctx) == []


def test_two_periods_above_enter_equal_and_opposite_legs(harness) -> None:  # type: ignore[no-untyped-def]
    strat = _strat()
    _prices(harness)
    _fund(strat, harness, "0.00015")
    _fund(strat, harness, "0.0002")
    spot, perp = strat.on_bar(harness.ctx)
    assert isinstance(spot, SubmitOrder)
    assert isinstance(perp, SubmitOrder)
    assert (spot.category, spot.side, perp.category, perp.side) == (S, Side.BUY, L, Side.SELL)
    assert spot.qty == perp.qty == D("0.18")  # 90% of 10,000 / 50,000, one symbol
    assert strat.legs["BTCUSDT"].state is FundingState.ENTERING
    _fill_all(strat, harness, [spot, perp])
    assert strat.legs["BTCUSDT"].state is FundingState.HEDGED


def test_premium_above_two_percent_blocks_entry(harness) -> None:  # type: ignore[no-untyped-def]
    strat = _strat()
    _prices(harness, perp=51100.0)  # 2.2% premium
    _fund(strat, harness, "0.0003")
    _fund(strat, harness, "0.0003")
    assert strat.on_bar(harness.ctx) == []


@pytest.mark.parametrize("trigger", ["negative", "premium", "days"])
def test_exits(harness, trigger: str) -> None:  # type: ignore[no-untyped-def]
    strat = _strat()
    _prices(harness)
    _hedged(strat, harness)
    assert strat.on_bar(harness.ctx) == []  # hedged and nothing wrong: hold
    if trigger == "negative":
        _fund(strat, harness, "-0.00001")
    elif trigger == "premium":
        _prices(harness, perp=51100.0)
    else:
        harness.market.now_ms += 14 * DAY
    orders = strat.on_bar(harness.ctx)
    sides = {(o.category, o.side) for o in orders if isinstance(o, SubmitOrder)}
    assert sides == {(S, Side.SELL), (L, Side.BUY)}
    assert all(o.reduce_only for o in orders if isinstance(o, SubmitOrder) and o.category is L)
    assert strat.legs["BTCUSDT"].state is FundingState.EXITING


def test_level_three_keeps_the_neutral_position_but_a_halt_closes_it(harness) -> None:  # type: ignore[no-untyped-def]
    strat = _strat()
    _prices(harness)
    _hedged(strat, harness)
    harness.directive = GovernanceDirective(level=3, close_directional=True, entries_paused=True)
    assert strat.on_bar(harness.ctx) == []
    harness.directive = GovernanceDirective(level=4, halt=True)
    assert len(strat.on_bar(harness.ctx)) == 2


def test_leg_drift_is_rehedged_on_the_perp(harness) -> None:  # type: ignore[no-untyped-def]
    strat = _strat()
    _prices(harness)
    _hedged(strat, harness)
    harness.portfolio.perps["BTCUSDT"] = PerpPosition(D("-0.097"), D(50050), None)  # 3% short
    (order,) = strat.on_bar(harness.ctx)
    assert isinstance(order, SubmitOrder)
    assert (order.category, order.side, order.qty) == (L, Side.SELL, D("0.003"))
    harness.portfolio.perps["BTCUSDT"] = PerpPosition(D("-0.099"), D(50050), None)  # 1%: tolerated
    assert strat.on_bar(harness.ctx) == []


def test_half_of_the_funding_income_is_reinvested(harness) -> None:  # type: ignore[no-untyped-def]
    strat = _strat()
    _prices(harness)
    _hedged(strat, harness)
    assert _fund(strat, harness, "0.0005", payment="50") == []  # 25 USDT: less than a 0.001 step
    intents = _fund(strat, harness, "0.0005", payment="70")  # 120 received: 60 to reinvest
    orders = [i for i in intents if isinstance(i, SubmitOrder)]
    transfers = [i for i in intents if isinstance(i, TransferProceeds)]
    assert {(o.category, o.side) for o in orders} == {(S, Side.BUY), (L, Side.SELL)}
    assert orders[0].qty == orders[1].qty == D("0.001")  # 60 USDT / 50,000 rounded to the step
    assert transfers[0].amount == D(60)
    assert transfers[0].to_strategy == "tactical"
    assert strat.legs["BTCUSDT"].income == D(10)  # 60 - 50 carried over


def test_simultaneous_entries_share_the_cash(harness) -> None:  # type: ignore[no-untyped-def]
    strat = FundingStrategy(symbols=("BTCUSDT", "ETHUSDT"))
    harness.market.set("BTCUSDT", S, close=50000.0)
    harness.market.set("BTCUSDT", L, close=50000.0)
    harness.market.set("ETHUSDT", S, close=2500.0)
    harness.market.set("ETHUSDT", L, close=2500.0)
    harness.portfolio.cash_ = D(6000)  # equity 10,000 with 4,000 elsewhere: budgets 4,500 each
    harness.portfolio.spot["SOLUSDT"] = D(40)
    harness.market.set("SOLUSDT", S, close=100.0)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        for _ in range(2):
            strat.on_funding(
                harness.ctx, FundingEvent(symbol, harness.market.now_ms, D("0.0003"), None, D(0))
            )
    orders = [o for o in strat.on_bar(harness.ctx) if isinstance(o, SubmitOrder)]
    spend = sum(
        o.qty * (D(50000) if o.symbol == "BTCUSDT" else D(2500)) for o in orders if o.category is S
    )
    assert len(orders) == 4
    assert spend <= D(6000) * D("0.995")  # the second entry gets what the first left
