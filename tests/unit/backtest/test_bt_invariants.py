"""Accounting invariants: equity is cash plus positions at every bar; fees are charged."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest
from bt_helpers import ScriptStrategy, make_candles, random_walk

from engine_runtime.backtest import FeeModel, MarketData, run_backtest
from engine_runtime.strategies.interface import Category, OrderType, Side, SubmitOrder

pytestmark = pytest.mark.unit
S, L = Category.SPOT, Category.LINEAR


def _random_trader(seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)

    def script(i: int, ctx):  # type: ignore[no-untyped-def]
        out = []
        for cat in (S, L):
            roll = rng.random()
            if roll < 0.15:
                side = (
                    Side.BUY
                    if rng.random() < 0.6 or (cat is S and ctx.portfolio.spot_qty("BTCUSDT") == 0)
                    else Side.SELL
                )
                qty = D(str(round(float(rng.uniform(0.5, 3.0)), 3)))
                out.append(
                    SubmitOrder(f"{cat.value}-{i}", "BTCUSDT", cat, side, OrderType.MARKET, qty=qty)
                )
            elif roll < 0.2:
                price = D(str(round(float(ctx.market.feature("BTCUSDT", "close", cat)) * 0.995, 4)))
                out.append(
                    SubmitOrder(
                        f"{cat.value}-l{i}",
                        "BTCUSDT",
                        cat,
                        Side.BUY,
                        OrderType.LIMIT,
                        qty=D(1),
                        price=price,
                    )
                )
        return out

    return script


def _data(n: int = 400, seed: int = 5) -> tuple[MarketData, dict[Category, np.ndarray]]:
    spot = make_candles(random_walk(n, seed), spread=0.006)
    perp = make_candles(random_walk(n, seed) * 1.001, spread=0.006)
    return MarketData({("BTCUSDT", S): spot, ("BTCUSDT", L): perp}), {
        S: spot["close"].to_numpy(),
        L: perp["close"].to_numpy(),
    }


def test_equity_is_cash_plus_positions_at_every_bar() -> None:
    data, closes = _data()
    strat = ScriptStrategy(keys=(("BTCUSDT", S), ("BTCUSDT", L)), script=_random_trader(1))
    result = run_backtest(strat, data, initial_cash=D(10000))
    fills = result.fills
    assert len(fills) > 40
    assert {f.category for f in fills} == {S, L}
    # Independent ledger: every fill moves cash by -side*qty*price - fee (a perp's cash flow
    # nets to its realised PnL); equity = that cash plus the holdings at the close.
    open_ms = [int(t.timestamp() * 1000) for t in data.index]
    cash, qty = 10000.0, {S: 0.0, L: 0.0}
    j = 0
    for i, ts in enumerate(open_ms):
        while j < len(fills) and fills[j].ts_ms <= ts:
            f = fills[j]
            sign = 1 if f.side is Side.BUY else -1
            cash -= sign * f.qty * f.price + f.fee
            qty[f.category] += sign * f.qty
            j += 1
        expected = cash + qty[S] * closes[S][i] + qty[L] * closes[L][i]
        assert result.equity[i] == pytest.approx(expected, rel=1e-9, abs=1e-6), i
    engine = result.engines["backtest"]
    assert engine.spot.get("BTCUSDT", 0.0) == pytest.approx(qty[S])
    assert engine.perps.get("BTCUSDT", 0.0) == pytest.approx(qty[L])


def test_fees_are_charged_on_every_fill() -> None:
    data, _ = _data(300, 9)
    fees = FeeModel(
        spot_taker=0.001, spot_maker=0.0004, linear_taker=0.0006, linear_maker=0.0001, slippage=0.0
    )
    free = FeeModel(
        spot_taker=0.0, spot_maker=0.0, linear_taker=0.0, linear_maker=0.0, slippage=0.0
    )
    runs = []
    for model in (fees, free):
        strat = ScriptStrategy(keys=(("BTCUSDT", S), ("BTCUSDT", L)), script=_random_trader(3))
        runs.append(run_backtest(strat, data, initial_cash=D(100000), fees=model))
    charged, zero = runs
    assert [(f.qty, f.price) for f in charged.fills] == [(f.qty, f.price) for f in zero.fills]
    for f in charged.fills:
        rate = fees.rate(f.category, f.maker)
        assert f.fee == pytest.approx(f.qty * f.price * rate)
    total = sum(f.fee for f in charged.fills)
    assert total > 0
    assert zero.equity[-1] - charged.equity[-1] == pytest.approx(total, rel=1e-9)
    assert float(charged.stats.fees) == pytest.approx(total, abs=0.01)


def test_single_run_has_no_deposits_and_nav_tracks_equity() -> None:
    data, _ = _data(200, 2)
    strat = ScriptStrategy(keys=(("BTCUSDT", S), ("BTCUSDT", L)), script=_random_trader(4))
    result = run_backtest(strat, data, initial_cash=D(5000))
    np.testing.assert_allclose(result.nav, result.equity / 5000, rtol=1e-12)
    assert result.stats.final_equity == D(str(round(result.equity[-1], 2)))
