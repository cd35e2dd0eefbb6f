"""The resting-order fill model (``backtest.fills``) alone and inside the backtester."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal as D

import pandas as pd
import pytest
from bt_helpers import ScriptStrategy

from engine_runtime.backtest import FeeModel, FillModel, MarketData, run_backtest
from engine_runtime.backtest.fills import bar_path, first_reached, walk
from engine_runtime.strategies.interface import (
    Category,
    Intent,
    OrderEvent,
    OrderStatus,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
)

pytestmark = pytest.mark.unit
S = Category.SPOT
NO_FEES = FeeModel(spot_taker=0.0, spot_maker=0.0, slippage=0.0)


@dataclass
class Lim:
    side: int
    price: float
    name: str = ""


def _walk(path: Sequence[float], orders: list[Lim], model: FillModel | None = None) -> list[str]:
    seen: list[str] = []
    walk(path, orders, model or FillModel(), lambda o, level: seen.append(f"{o.name}@{level:g}"))
    return seen


def test_bar_path_visits_the_extreme_nearer_the_open_first() -> None:
    assert bar_path(100, 101, 95, 98) == (100, 101, 95, 98)
    assert bar_path(100, 105, 99, 102) == (100, 99, 105, 102)
    assert bar_path(100, 102, 98, 100) == (100, 98, 102, 100)  # a tie: the low first


def test_touching_the_limit_does_not_fill_trading_through_does() -> None:
    assert _walk((100, 99, 100), [Lim(1, 99, "b")]) == []
    assert _walk((100, 101, 100), [Lim(-1, 101, "s")]) == []
    assert _walk((100, 98.99, 100), [Lim(1, 99, "b")]) == ["b@99"]
    assert _walk((100, 101.01, 100), [Lim(-1, 101, "s")]) == ["s@101"]


def test_the_queue_parameter_asks_for_a_deeper_trade_through() -> None:
    model = FillModel(through=0.01)  # 1% beyond the level
    assert _walk((100, 98.5, 100), [Lim(1, 99.0, "b")], model) == []
    assert _walk((100, 97.9, 100), [Lim(1, 99.0, "b")], model) == [f"b@{99.0 * 0.99:g}"]
    with pytest.raises(ValueError, match="through"):
        FillModel(through=-0.1)


def test_fills_come_in_the_order_the_path_reaches_them() -> None:
    orders = [Lim(1, 97, "b97"), Lim(-1, 102, "s102"), Lim(1, 99, "b99")]
    # down first: 99 then 97, then up through 102
    assert _walk(bar_path(100, 104, 96.5, 101), orders) == ["b99@99", "b97@97", "s102@102"]
    orders = [Lim(1, 97, "b97"), Lim(-1, 102, "s102"), Lim(1, 99, "b99")]
    # up first (the high is nearer the open)
    assert _walk(bar_path(101, 103, 96, 100), orders) == ["s102@102", "b99@99", "b97@97"]


def test_an_order_already_through_at_the_first_point_fills_there_at_its_price() -> None:
    orders = [Lim(1, 99, "b")]
    assert first_reached(orders, 95, 96, FillModel()) == (0, 95)
    assert _walk((95, 96, 94, 95), orders) == ["b@95"]


def test_an_order_placed_on_a_fill_rests_from_that_level_on() -> None:
    orders = [Lim(1, 99, "b")]
    log: list[str] = []

    def counter(order: Lim, level: float) -> None:
        log.append(f"{order.name}@{level:g}")
        if order.name == "b":
            orders.append(Lim(-1, 100, "s"))  # the grid's counter-order one spacing above

    walk((100, 98, 101, 100.5), orders, FillModel(), counter)
    assert log == ["b@99", "s@100"]
    orders[:] = [Lim(1, 99, "b")]
    log.clear()
    walk((100, 101, 98, 98.5), orders, FillModel(), counter)  # never back above 100
    assert log == ["b@99"]
    assert [o.name for o in orders] == ["s"]


@dataclass
class CounterGrid(ScriptStrategy):
    """Buys at 99 on bar 0; answers each fill with the opposite order one unit away (and, on
    request, with a PostOnly buy above the market, which must be rejected)."""

    crossing: bool = False
    answers: list[OrderEvent] = field(default_factory=list)

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        self.events.append(event)
        if event.status is not OrderStatus.FILLED:
            return ()
        if event.side is Side.BUY:
            out: list[Intent] = [_limit(f"s{len(self.events)}", Side.SELL, event.avg_price + 1)]
            if self.crossing:
                out.append(_limit("x", Side.BUY, event.avg_price + D("0.5")))
            return out
        return [_limit(f"b{len(self.events)}", Side.BUY, event.avg_price - 1)]


def _limit(iid: str, side: Side, price: D) -> SubmitOrder:
    return SubmitOrder(
        iid, "BTCUSDT", S, side, OrderType.LIMIT, qty=D(1), price=price, post_only=True
    )


def _bars(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(rows), freq="1min", tz="UTC")
    return pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=index)


def test_backtest_counter_order_fills_later_on_the_same_bar() -> None:
    bars = _bars([(100, 100.2, 99.8, 100), (100, 101.5, 98, 101), (101, 101.2, 100.8, 101)])
    strat = CounterGrid(script=lambda i, ctx: [_limit("b0", Side.BUY, D(99))] if i == 0 else [])
    result = run_backtest(strat, MarketData({("BTCUSDT", S): bars}), fees=NO_FEES)
    fills = [(f.intent_id, f.side, f.price, f.maker) for f in result.fills]
    # bar 1 goes 100 -> 98 (buy at 99) -> 101.5 (its counter-sell at 100) -> 101
    assert fills == [("b0", Side.BUY, 99, True), ("s1", Side.SELL, 100, True)]
    assert {f.ts_ms for f in result.fills} == {int(bars.index[1].timestamp() * 1000)}
    assert result.equity[-1] == pytest.approx(10001)  # one grid step of 1 on 1 unit
    # the sell's own counter-buy at 99 was placed at 100 and rests: the path ends above it
    assert [e.intent_id for e in strat.events] == ["b0", "s1"]


def test_backtest_mid_path_post_only_that_would_cross_is_rejected() -> None:
    bars = _bars([(100, 100.2, 99.8, 100), (100, 100.1, 98, 98.5)])
    strat = CounterGrid(
        script=lambda i, ctx: [_limit("b0", Side.BUY, D(99))] if i == 0 else [], crossing=True
    )
    run_backtest(strat, MarketData({("BTCUSDT", S): bars}), fees=NO_FEES)
    rejected = [e for e in strat.events if e.status is OrderStatus.REJECTED]
    assert [e.intent_id for e in rejected] == ["x"]  # a buy at 99.5 with the price at 99
    assert "liquidity" in rejected[0].reason
