"""Fill rules of the simulated venue: timing, prices, fees, PostOnly, stops, margin, funding."""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
import pytest
from bt_helpers import ScriptStrategy, make_candles, random_walk

from engine_runtime.backtest import FeeModel, MarketData, run_backtest
from engine_runtime.backtest.engine import REJECTIONS_LOGGED
from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import (
    Category,
    OrderStatus,
    OrderType,
    SetStopLoss,
    Side,
    SubmitOrder,
)

pytestmark = pytest.mark.unit
S, L = Category.SPOT, Category.LINEAR
FEES = FeeModel(
    spot_taker=0.001, spot_maker=0.0005, linear_taker=0.0006, linear_maker=0.0002, slippage=0.001
)


def _order(bar: int, *intents: SubmitOrder | SetStopLoss):  # type: ignore[no-untyped-def]
    return lambda i, ctx: list(intents) if i == bar else []


def _run(candles: pd.DataFrame, script, key=("BTCUSDT", S), cash: str = "10000", **kw):  # type: ignore[no-untyped-def]
    strat = ScriptStrategy(keys=(key,), script=script)
    result = run_backtest(strat, MarketData({key: candles}, **kw), initial_cash=D(cash), fees=FEES)
    return strat, result


def test_market_order_fills_at_the_next_open_with_slippage_and_taker_fee() -> None:
    candles = make_candles([100, 101, 150, 151], opens=[100, 100.5, 140, 150.5])
    buy = SubmitOrder("b1", "BTCUSDT", S, Side.BUY, OrderType.MARKET, qty=D(2))
    strat, result = _run(candles, _order(1, buy))
    (fill,) = result.fills
    assert fill.ts_ms == candles.index[2].value // 10**6 or fill.ts_ms == int(
        candles.index[2].timestamp() * 1000
    )
    assert fill.price == pytest.approx(140 * 1.001)  # bar 2's open, never bar 1's close of 101
    assert fill.fee == pytest.approx(2 * 140 * 1.001 * 0.001)
    assert strat.events[0].status is OrderStatus.FILLED
    assert strat.events[0].filled_qty == D(2)


def test_post_only_that_would_cross_is_rejected() -> None:
    candles = make_candles([100, 100, 100, 100])
    buy = SubmitOrder(
        "p1", "BTCUSDT", S, Side.BUY, OrderType.LIMIT, qty=D(1), price=D(101), post_only=True
    )
    strat, result = _run(candles, _order(0, buy))
    assert result.fills == []
    assert strat.events[0].status is OrderStatus.REJECTED
    assert "liquidity" in strat.events[0].reason


def test_resting_limit_fills_as_maker_only_when_traded_through() -> None:
    closes = [100, 100, 100, 97, 97]
    candles = make_candles(closes, spread=0.0)
    candles.loc[candles.index[2], "low"] = 99.0  # touches 99: no fill
    candles.loc[candles.index[3], "low"] = 96.0  # trades through
    buy = SubmitOrder(
        "l1", "BTCUSDT", S, Side.BUY, OrderType.LIMIT, qty=D(1), price=D(99), post_only=True
    )
    _strat, result = _run(candles, _order(0, buy))
    (fill,) = result.fills
    assert fill.maker
    assert fill.price == 99
    assert fill.fee == pytest.approx(99 * 0.0005)
    assert fill.ts_ms == int(candles.index[3].timestamp() * 1000)


def test_stop_fills_at_the_open_when_the_bar_gaps_through_it() -> None:
    candles = make_candles([100, 100, 100, 80, 80], opens=[100, 100, 100, 85, 80], spread=0.0)
    entry = SubmitOrder("e1", "BTCUSDT", L, Side.BUY, OrderType.MARKET, qty=D(1))
    stop = SetStopLoss("s1", "BTCUSDT", D(95))
    script = lambda i, ctx: [entry] if i == 0 else ([stop] if i == 1 else [])  # noqa: E731
    strat, result = _run(candles, script, key=("BTCUSDT", L))
    stop_fill = [f for f in result.fills if f.reason == "stop"]
    assert len(stop_fill) == 1
    assert stop_fill[0].price == pytest.approx(85 * (1 - 0.001))  # gap: the open, not 95
    assert strat.events[-1].intent_id == "s1"
    assert strat.events[-1].reason == "stop"
    assert result.engines["backtest"].perps == {}


def test_orders_beyond_balance_or_margin_are_rejected() -> None:
    candles = make_candles([100] * 4)
    too_big_spot = SubmitOrder("b", "BTCUSDT", S, Side.BUY, OrderType.MARKET, qty=D(200))
    strat, _ = _run(candles, _order(0, too_big_spot))
    assert strat.events[0].status is OrderStatus.REJECTED
    assert "balance" in strat.events[0].reason
    # 2x leverage on 10,000: 199 units (19,900 notional) pass, 201 do not.
    ok = SubmitOrder("ok", "BTCUSDT", L, Side.SELL, OrderType.MARKET, qty=D(199))
    strat, _result = _run(make_candles([100] * 4, spread=0), _order(0, ok), key=("BTCUSDT", L))
    assert strat.events[0].status is OrderStatus.FILLED
    over = SubmitOrder("no", "BTCUSDT", L, Side.SELL, OrderType.MARKET, qty=D(201))
    strat, _ = _run(make_candles([100] * 4, spread=0), _order(0, over), key=("BTCUSDT", L))
    assert strat.events[0].status is OrderStatus.REJECTED
    assert "margin" in strat.events[0].reason


def test_reduce_only_cannot_open_a_position() -> None:
    order = SubmitOrder("r", "BTCUSDT", L, Side.SELL, OrderType.MARKET, qty=D(1), reduce_only=True)
    strat, _ = _run(make_candles([100] * 3), _order(0, order), key=("BTCUSDT", L))
    assert strat.events[0].status is OrderStatus.REJECTED


def test_funding_is_paid_on_the_position_held_at_settlement() -> None:
    candles = make_candles([100] * 24, spread=0.0, freq="1h")
    funding = pd.DataFrame(
        {"rate": [0.001, 0.002]},
        index=pd.DatetimeIndex(["2024-01-01 08:00", "2024-01-01 16:00"], tz="UTC"),
    )
    short = SubmitOrder("s", "BTCUSDT", L, Side.SELL, OrderType.MARKET, qty=D(10))
    strat = ScriptStrategy(keys=(("BTCUSDT", L),), script=_order(3, short), funding=("BTCUSDT",))
    fees = FeeModel(linear_taker=0.0, slippage=0.0)
    result = run_backtest(
        strat, MarketData({("BTCUSDT", L): candles}, funding={"BTCUSDT": funding}), fees=fees
    )
    # short 10 x 100 receives 0.1% then 0.2% of 1,000
    assert result.engines["backtest"].cash == pytest.approx(10000 + 1 + 2)
    assert result.equity[7] == pytest.approx(10000)
    assert result.equity[8] == pytest.approx(10001)
    payments = [e.payment for e in strat.funding_events]  # type: ignore[attr-defined]
    assert payments == [D("1.00000000"), D("2.00000000")]


def test_an_all_in_buy_sized_from_the_reported_cash_always_fills() -> None:
    """The reported cash never exceeds the real cash (it is rounded down), so a buy of
    ``cash / (1 + fee)`` is never refused; 40 round trips at prices with many decimals."""
    fee = D("0.001")
    candles = make_candles(random_walk(82, seed=3, start=123.456789))

    def script(i: int, ctx):  # type: ignore[no-untyped-def]
        if i % 2 == 0:
            notional = ctx.portfolio.cash / (1 + fee)  # all in, the fee included
            return [
                SubmitOrder(f"b{i}", "BTCUSDT", S, Side.BUY, OrderType.MARKET, notional=notional)
            ]
        held = ctx.portfolio.spot_qty("BTCUSDT")
        if not held:
            return []
        return [SubmitOrder(f"s{i}", "BTCUSDT", S, Side.SELL, OrderType.MARKET, qty=held)]

    fees = FeeModel(spot_taker=float(fee), spot_maker=0.0005, slippage=0.0)
    strat = ScriptStrategy(keys=(("BTCUSDT", S),), script=script)
    run_backtest(strat, MarketData({("BTCUSDT", S): candles}), initial_cash=D("10000"), fees=fees)
    refused = [e for e in strat.events if e.status is not OrderStatus.FILLED]
    assert not refused, refused[:3]
    assert len(strat.events) == 81


def test_a_rejection_reaches_the_result_and_the_log_even_when_the_strategy_ignores_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Deaf(BaseStrategy):  # keeps BaseStrategy's on_order_event: hears nothing
        name = "deaf"

        def markets(self):  # type: ignore[no-untyped-def]
            return [("BTCUSDT", S)]

        def on_bar(self, ctx):  # type: ignore[no-untyped-def]
            iid = f"b{ctx.market.now_ms}"
            return [SubmitOrder(iid, "BTCUSDT", S, Side.BUY, OrderType.MARKET, qty=D(1000))]

    candles = make_candles([100.0] * 15)
    with caplog.at_level("WARNING", logger="engine_runtime.backtest.engine"):
        result = run_backtest(Deaf(), MarketData({("BTCUSDT", S): candles}), fees=FEES)
    (engine,) = result.engines.values()
    assert len(engine.rejections) == 14  # every bar's order but the last (no next open)
    assert {r.reason for r in engine.rejections} == {"insufficient balance"}
    logged = [r for r in caplog.records if "rejected" in r.getMessage()]
    assert len(logged) == REJECTIONS_LOGGED
    assert "insufficient balance" in logged[0].getMessage()
