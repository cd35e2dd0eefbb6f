"""Statistics by hand, the bundled BTC history, the fine-candle generator, the fast path."""

from __future__ import annotations

import math
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from engine_runtime.backtest import (
    MarketData,
    compute_stats,
    demo_market,
    fine_candles,
    load_btc_monthly,
)
from engine_runtime.backtest.data import epoch_ms, normalise_candles
from engine_runtime.backtest.engine import Simulation
from engine_runtime.backtest.runs import EngineSpec
from engine_runtime.backtest.synthetic import derive_asset, synthetic_funding
from engine_runtime.backtest.venue import RoundTrip
from engine_runtime.strategies import Category, SmaCrossStrategy, create_strategy

pytestmark = pytest.mark.unit
DAY_MS = 86_400_000


def _trip(pnl: float) -> RoundTrip:
    t = RoundTrip("BTCUSDT", Category.LINEAR, 1, 1, exit_ms=2)
    t.cost = pnl
    return t


def test_statistics_by_hand() -> None:
    nav = [1.1, 0.99, 1.2]
    stats = compute_stats(
        nav,
        start_equity=100,
        final_equity=120,
        duration_ms=3 * DAY_MS,
        bar_ms=DAY_MS,
        trips=[_trip(30), _trip(-10), _trip(-5), _trip(15)],
        exposure=0.5,
        fees=1.5,
        funding=-0.25,
    )
    assert stats.total_return == D("0.2")
    assert float(stats.max_drawdown) == pytest.approx(0.1)  # 1.1 -> 0.99
    rets = np.array([0.1, 0.99 / 1.1 - 1, 1.2 / 0.99 - 1])
    per_year = 365.25
    assert float(stats.sharpe) == pytest.approx(
        rets.mean() / rets.std(ddof=1) * math.sqrt(per_year), abs=1e-4
    )
    downside = math.sqrt((rets.clip(max=0) ** 2).mean())
    assert float(stats.sortino) == pytest.approx(
        rets.mean() / downside * math.sqrt(per_year), abs=1e-4
    )
    cagr = 1.2 ** (per_year / 3) - 1
    assert float(stats.annualised_return) == pytest.approx(cagr, rel=1e-5)
    assert float(stats.calmar) == pytest.approx(cagr / 0.1, rel=1e-4)
    assert stats.trades == 4
    assert stats.win_rate == D("0.5")
    assert float(stats.profit_factor) == pytest.approx(45 / 15)
    assert stats.exposure == D("0.5")
    assert stats.fees == D("1.5")
    assert stats.funding == D("-0.25")


def test_no_losses_means_no_profit_factor_and_flat_means_no_sharpe() -> None:
    stats = compute_stats(
        [1.0, 1.0],
        start_equity=1,
        final_equity=1,
        duration_ms=DAY_MS,
        bar_ms=DAY_MS,
        trips=[_trip(1)],
        exposure=0,
        fees=0,
        funding=0,
    )
    assert stats.profit_factor is None
    assert stats.sharpe is None
    assert stats.max_drawdown == 0


def test_bundled_btc_history() -> None:
    btc = load_btc_monthly()
    assert len(btc) == 156
    assert btc.index[0] == pd.Timestamp("2012-01-01", tz="UTC")
    assert btc["open"].iloc[0] == 4.58
    assert btc["close"].iloc[-1] == 93381.0


def test_fine_candles_agree_with_the_coarse_ones_and_are_seeded() -> None:
    coarse = load_btc_monthly().loc["2020-01-01":"2020-12-31"]
    fine = fine_candles(coarse, "1h", seed=3)
    normalise_candles(fine)  # consistent OHLC on every bar
    assert len(fine) == 366 * 24
    bucket = np.searchsorted(epoch_ms(coarse.index), epoch_ms(fine.index), side="right") - 1
    agg = fine.groupby(bucket).agg({"open": "first", "high": "max", "low": "min", "close": "last"})
    np.testing.assert_allclose(
        agg.to_numpy(), coarse[["open", "high", "low", "close"]].to_numpy(), rtol=1e-12
    )
    assert np.isclose(fine["volume"].sum(), coarse["volume"].sum())
    assert fine.equals(fine_candles(coarse, "1h", seed=3))
    assert not fine.equals(fine_candles(coarse, "1h", seed=4))
    assert (np.diff(fine["close"].to_numpy()) != 0).mean() > 0.99  # no flat clipped stretches


def test_derived_assets_and_funding_are_well_formed() -> None:
    base = fine_candles(load_btc_monthly().loc["2021"], "1D", seed=1)
    eth = derive_asset(base, beta=1.2, noise=0.01, scale=0.05, seed=2)
    normalise_candles(eth)
    corr = np.corrcoef(np.diff(np.log(base["close"])), np.diff(np.log(eth["close"])))[0, 1]
    assert corr > 0.8
    funding = synthetic_funding(base, seed=5)
    assert (funding.index.hour % 8 == 0).all()
    assert funding["rate"].abs().max() <= 0.0075


def test_demo_market_has_every_market_on_one_clock() -> None:
    data = demo_market("1D", start="2022-01-01", end="2022-03-01")
    assert len(data.index) == 59
    assert data.index[0] == pd.Timestamp("2022-01-01", tz="UTC")
    assert {k[0] for k in data.candles} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert set(data.funding) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}


@pytest.mark.parametrize(
    "make",
    [lambda: create_strategy("trend"), lambda: SmaCrossStrategy(fast=5, slow=15, qty=D("0.01"))],
)
def test_the_fast_path_changes_nothing(make) -> None:  # type: ignore[no-untyped-def]
    data = demo_market("1h", start="2021-03-01", end="2021-05-01")
    results = []
    for fast in (True, False):
        sim = Simulation(data, [EngineSpec("x", make())], initial_cash=D(10000), fast_forward=fast)
        sim.run()
        results.append(sim)
    quick, slow = results
    assert len(quick.runs[0].account.fills) > 10
    assert quick.runs[0].account.fills == slow.runs[0].account.fills
    np.testing.assert_allclose(quick.runs[0].equity, slow.runs[0].equity, rtol=1e-12)
    np.testing.assert_allclose(quick.nav, slow.nav, rtol=1e-12)


def test_market_data_refuses_misaligned_or_broken_candles() -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC")
    good = pd.DataFrame(
        {"open": [1.0, 1, 1], "high": [1.0, 1, 1], "low": [1.0, 1, 1], "close": [1.0, 1, 1]},
        index=idx,
    )
    with pytest.raises(ValueError, match="common clock"):
        MarketData({("A", Category.SPOT): good, ("B", Category.SPOT): good.iloc[1:]})
    bad = good.copy()
    bad.loc[idx[1], "high"] = 0.5
    with pytest.raises(ValueError, match="inconsistent OHLC"):
        normalise_candles(bad)
