"""The strategies through the backtester: maker-only CORE-HODL, TACTICAL's return to CORE-HODL."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest
from bt_helpers import make_candles, random_walk

from engine_runtime.backtest import MarketData, run_backtest, run_portfolio
from engine_runtime.strategies import Category, CoreHodlStrategy, TacticalStrategy

pytestmark = pytest.mark.unit
S = Category.SPOT


def test_core_hodl_trades_maker_only_and_holds_the_mix() -> None:
    btc = make_candles(random_walk(24 * 120, 1, 40000, 0.01), spread=0.004, freq="1h")
    eth = make_candles(random_walk(24 * 120, 2, 2500, 0.015), spread=0.004, freq="1h")
    data = MarketData({("BTCUSDT", S): btc, ("ETHUSDT", S): eth})
    strat = CoreHodlStrategy()
    result = run_backtest(strat, data, initial_cash=D(100000))
    fills = result.fills
    assert fills
    assert all(f.maker for f in fills)  # PostOnly limits only
    assert strat.rebalances >= 2  # the initial buy and at least one drift/calendar rebalance
    end = result.engines["backtest"]
    equity = result.equity[-1]
    btc_w = end.spot["BTCUSDT"] * btc["close"].iloc[-1] / equity
    eth_w = end.spot["ETHUSDT"] * eth["close"].iloc[-1] / equity
    assert abs(btc_w - 0.6667) / 0.6667 < 0.10  # never left drifting past the threshold
    assert abs(eth_w - 0.3333) / 0.3333 < 0.10
    assert end.cash / equity < 0.05


def test_tactical_buys_the_crash_and_returns_the_proceeds_to_core_hodl() -> None:
    path = np.concatenate(
        (np.full(30, 100.0), np.linspace(100, 45, 30), np.linspace(45, 110, 60), np.full(30, 110.0))
    )
    btc = make_candles(path * 400, spread=0.002, freq="1D")
    eth = make_candles(path * 20, spread=0.002, freq="1D")
    data = MarketData({("BTCUSDT", S): btc, ("ETHUSDT", S): eth})
    strategies = {"core-hodl": CoreHodlStrategy(), "tactical": TacticalStrategy()}
    weights = {"core-hodl": D("0.9"), "tactical": D("0.1")}
    result = run_portfolio(
        data, strategies=strategies, weights=weights, initial_cash=D(100000), governance=False
    )
    tactical = result.engines["tactical"]
    buys = [f for f in tactical.fills if f.side.value == "Buy"]
    sells = [f for f in tactical.fills if f.side.value == "Sell"]
    assert {f.symbol for f in buys} == {"BTCUSDT", "ETHUSDT"}
    assert sells, "the +100% exit happened"
    (transfer,) = tactical.transfers
    assert transfer.target == "core-hodl"
    proceeds = sum(f.qty * f.price - f.fee for f in sells)
    assert transfer.amount == pytest.approx(proceeds, rel=1e-6)
    # the money moved: tactical keeps only its undeployed half, CORE-HODL got the rest
    assert tactical.equity[-1] == pytest.approx(5000, rel=0.01)
    assert result.equity[-1] == pytest.approx(
        tactical.equity[-1] + result.engines["core-hodl"].equity[-1]
    )
