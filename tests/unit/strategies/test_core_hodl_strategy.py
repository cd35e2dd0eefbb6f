"""CORE-HODL: initial buy, drift and calendar rebalancing, contributions, maker-only orders."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from engine_runtime.strategies import (
    CancelOrder,
    CoreHodlState,
    CoreHodlStrategy,
    GovernanceDirective,
    OrderType,
    Side,
    SubmitOrder,
)
from engine_runtime.strategies.core_hodl import calendar_period_key
from engine_runtime.strategies.interface import Category, OpenOrder
from eternal_kernel.api.v1alpha1.strategy_params import CalendarPeriod, CoreHodlParams

pytestmark = pytest.mark.unit


def _ms(y: int, m: int, d: int) -> int:
    return int(datetime(y, m, d, tzinfo=UTC).timestamp() * 1000)


def _prices(h, btc: float = 60000.0, eth: float = 3000.0) -> None:  # type: ignore[no-untyped-def]
    h.market.set("BTCUSDT", close=btc)
    h.market.set("ETHUSDT", close=eth)


def _orders(intents) -> dict[str, SubmitOrder]:  # type: ignore[no-untyped-def]
    return {i.symbol: i for i in intents if isinstance(i, SubmitOrder)}


def _at_target(h, equity: D = D(9000)) -> None:  # type: ignore[no-untyped-def]
    h.portfolio.cash_ = D(0)
    h.portfolio.spot = {
        "BTCUSDT": equity * D("0.6667") / D(60000),
        "ETHUSDT": equity * D("0.3333") / D(3000),
    }


def test_first_bar_buys_the_mix_with_post_only_limits_below_the_price(harness) -> None:  # type: ignore[no-untyped-def]
    _prices(harness)
    strat = CoreHodlStrategy()
    orders = _orders(strat.on_bar(harness.ctx))
    assert strat.state is CoreHodlState.REBALANCING
    btc, eth = orders["BTCUSDT"], orders["ETHUSDT"]
    for o in (btc, eth):
        assert o.side is Side.BUY
        assert o.order_type is OrderType.LIMIT
        assert o.post_only
    assert btc.price == D("59970.00000000")  # 5 bps below 60,000
    # 2/3 and 1/3 of the (fee-buffered) cash
    assert btc.qty * btc.price == pytest.approx(D(10000) * D("0.998") * D("0.6667"), rel=D("0.001"))
    assert eth.qty * eth.price == pytest.approx(D(10000) * D("0.998") * D("0.3333"), rel=D("0.001"))


def test_no_rebalance_inside_the_drift_threshold(harness) -> None:  # type: ignore[no-untyped-def]
    strat = CoreHodlStrategy(
        state=CoreHodlState.ACCUMULATING, last_rebalance_ms=harness.market.now_ms
    )
    _at_target(harness)
    _prices(
        harness, btc=60000 * 1.08
    )  # BTC weight 0.6667*1.08/(1+0.6667*0.08) -> drift ~2.5%... still < 10%
    assert max(strat.drift(harness.ctx).values()) < D("0.10")
    assert strat.on_bar(harness.ctx) == []
    assert strat.state is CoreHodlState.ACCUMULATING


def test_drift_beyond_ten_percent_rebalances_both_ways(harness) -> None:  # type: ignore[no-untyped-def]
    strat = CoreHodlStrategy(
        state=CoreHodlState.ACCUMULATING, last_rebalance_ms=harness.market.now_ms
    )
    _at_target(harness)
    _prices(harness, eth=3000 * 0.6)  # ETH weight 0.2/0.8667=0.23 vs 0.333: drift 31%
    assert strat.rebalance_due(harness.ctx) == "drift"
    orders = _orders(strat.on_bar(harness.ctx))
    assert strat.state is CoreHodlState.REBALANCING
    assert orders["BTCUSDT"].side is Side.SELL
    assert orders["BTCUSDT"].price > D(60000)
    assert "ETHUSDT" not in orders  # no cash yet: the buy waits for the sale to fill


def test_calendar_fallback_in_a_new_quarter(harness) -> None:  # type: ignore[no-untyped-def]
    params = CoreHodlParams(calendar_rebalance=CalendarPeriod.QUARTERLY)
    strat = CoreHodlStrategy(
        params=params, state=CoreHodlState.ACCUMULATING, last_rebalance_ms=_ms(2024, 3, 30)
    )
    _at_target(harness)
    _prices(harness)
    harness.market.now_ms = _ms(2024, 3, 31)
    assert strat.rebalance_due(harness.ctx) is None
    harness.market.now_ms = _ms(2024, 4, 1)
    assert strat.rebalance_due(harness.ctx) == "calendar"
    strat.on_bar(harness.ctx)  # at target: the rebalance completes at once
    assert strat.state is CoreHodlState.ACCUMULATING
    assert strat.last_rebalance_ms == _ms(2024, 4, 1)
    assert calendar_period_key(_ms(2024, 4, 1), CalendarPeriod.NONE) is None


def test_contributions_are_accumulated_with_buy_only_orders(harness) -> None:  # type: ignore[no-untyped-def]
    strat = CoreHodlStrategy(
        state=CoreHodlState.ACCUMULATING, last_rebalance_ms=harness.market.now_ms
    )
    _at_target(harness)
    _prices(harness)
    harness.portfolio.cash_ = D(500)  # a contribution: 5% of equity, below the drift threshold
    assert strat.rebalance_due(harness.ctx) is None
    orders = _orders(strat.on_bar(harness.ctx))
    assert {o.side for o in orders.values()} == {Side.BUY}
    assert sum(o.qty * o.price for o in orders.values()) <= D(500)
    assert strat.state is CoreHodlState.ACCUMULATING


def test_working_orders_are_cancelled_and_repriced_each_bar(harness) -> None:  # type: ignore[no-untyped-def]
    strat = CoreHodlStrategy()
    _prices(harness)
    harness.portfolio.orders = [
        OpenOrder("old-1", "BTCUSDT", Category.SPOT, Side.BUY, D("0.1"), D(59000))
    ]
    intents = strat.on_bar(harness.ctx)
    cancels = [i for i in intents if isinstance(i, CancelOrder)]
    assert [c.target_intent_id for c in cancels] == ["old-1"]


def test_level_three_moves_to_stables_and_recovers(harness) -> None:  # type: ignore[no-untyped-def]
    strat = CoreHodlStrategy(state=CoreHodlState.ACCUMULATING)
    _at_target(harness)
    _prices(harness)
    harness.directive = GovernanceDirective(level=3, close_directional=True, entries_paused=True)
    orders = _orders(strat.on_bar(harness.ctx))
    assert strat.state is CoreHodlState.DERISKED
    assert all(o.side is Side.SELL and o.order_type is OrderType.MARKET for o in orders.values())
    assert orders["BTCUSDT"].qty == harness.portfolio.spot["BTCUSDT"]
    harness.directive = GovernanceDirective()
    harness.portfolio.spot, harness.portfolio.cash_ = {}, D(9000)
    orders = _orders(strat.on_bar(harness.ctx))
    assert strat.state is CoreHodlState.REBALANCING
    assert {o.side for o in orders.values()} == {Side.BUY}


def test_taker_mode_uses_market_orders(harness) -> None:  # type: ignore[no-untyped-def]
    _prices(harness)
    orders = _orders(CoreHodlStrategy(params=CoreHodlParams(maker_only=False)).on_bar(harness.ctx))
    assert {o.order_type for o in orders.values()} == {OrderType.MARKET}
