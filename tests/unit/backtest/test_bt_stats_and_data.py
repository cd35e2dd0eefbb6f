"""Statistics by hand, the bundled BTC history, the fine-candle generator, the fast path."""

from __future__ import annotations

import math
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from engine_runtime.backtest import (
    FeeModel,
    MarketData,
    compute_stats,
    demo_market,
    fine_candles,
    load_btc_monthly,
    run_backtest,
)
from engine_runtime.backtest.data import epoch_ms, normalise_candles
from engine_runtime.backtest.engine import Simulation
from engine_runtime.backtest.runs import EngineSpec
from engine_runtime.backtest.synthetic import derive_asset, synthetic_funding
from engine_runtime.backtest.venue import RoundTrip
from engine_runtime.strategies import Category, SmaCrossStrategy, create_strategy

pytestmark = pytest.mark.unit
DAY_MS = 86_400_000


def _trip(pnl: float, invested: float = 100.0) -> RoundTrip:
    t = RoundTrip("BTCUSDT", Category.LINEAR, 1, 1, exit_ms=1 + DAY_MS)
    t.cost = pnl
    t.entry_qty, t.entry_value = 1.0, invested
    return t


def test_statistics_by_hand() -> None:
    """Four daily bars over a weekend (a 365-day calendar), returns by hand."""
    nav = [1.1, 0.99, 1.2, 1.2]
    index = pd.date_range("2024-01-05", periods=4, freq="1D", tz="UTC")  # Fri..Mon
    stats = compute_stats(
        nav,
        index=index,
        start_equity=100,
        equity=[110, 99, 120, 120],
        duration_ms=4 * DAY_MS,
        trips=[_trip(30), _trip(-10), _trip(-5), _trip(15)],
        exposure=0.5,
        fees=1.5,
        funding=-0.25,
        benchmark=[10, 11, 12, 20],
        warmup=1,
    )
    assert stats.total_return == D("0.2")
    assert stats.equity_peak == D(120)
    assert float(stats.max_drawdown) == pytest.approx(0.1)  # 1.1 -> 0.99
    assert stats.periods_per_year == 365
    rets = np.array([0.99 / 1.1 - 1, 1.2 / 0.99 - 1, 0.0])  # day to day, from the first close
    g = math.exp(np.log1p(rets).mean()) - 1
    ann = (1 + g) ** 365 - 1
    vol = math.sqrt((rets.var(ddof=1) + (1 + g) ** 2) ** 365 - (1 + g) ** 730)
    assert float(stats.annualised_return) == pytest.approx(ann, rel=1e-5)
    assert float(stats.volatility) == pytest.approx(vol, rel=1e-5)
    assert float(stats.sharpe) == pytest.approx(ann / vol, abs=1e-4)
    downside = math.sqrt((rets.clip(max=0) ** 2).mean()) * math.sqrt(365)
    assert float(stats.sortino) == pytest.approx(ann / downside, rel=1e-4)
    assert float(stats.calmar) == pytest.approx(ann / 0.1, rel=1e-4)
    assert float(stats.cagr) == pytest.approx(1.2 ** (365.25 / 4) - 1, rel=1e-5)
    assert float(stats.buy_and_hold_return) == pytest.approx(20 / 11 - 1)  # after the warm-up
    assert stats.max_drawdown_days == D(2)  # the peak of Friday is passed on Sunday
    assert stats.trades == 4
    assert stats.win_rate == D("0.5")
    assert (stats.best_trade, stats.worst_trade) == (D("0.3"), D("-0.1"))
    assert float(stats.profit_factor) == pytest.approx(0.45 / 0.15)
    assert float(stats.expectancy) == pytest.approx(0.075)
    pnl = np.array([30, -10, -5, 15])
    assert float(stats.sqn) == pytest.approx(2 * pnl.mean() / pnl.std(ddof=1), abs=1e-4)
    assert float(stats.kelly) == pytest.approx(0.5 - 0.5 / (22.5 / 7.5), abs=1e-4)
    assert stats.avg_trade_days == D(1)
    assert stats.exposure == D("0.5")
    assert stats.fees == D("1.5")
    assert stats.funding == D("-0.25")


def test_stock_data_annualises_over_252_trading_days() -> None:
    index = pd.bdate_range("2024-01-01", periods=60, tz="UTC")
    nav = np.linspace(1.0, 1.1, 60)
    stats = compute_stats(
        nav,
        index=index,
        start_equity=1,
        equity=nav,
        duration_ms=84 * DAY_MS,
        trips=[],
        exposure=1,
        fees=0,
        funding=0,
    )
    assert stats.periods_per_year == 252
    g = (1.1 / nav[0]) ** (1 / 59) - 1
    assert float(stats.annualised_return) == pytest.approx((1 + g) ** 252 - 1, rel=1e-4)


def test_no_losses_means_no_profit_factor_and_flat_means_no_sharpe() -> None:
    stats = compute_stats(
        [1.0, 1.0],
        index=pd.date_range("2024-01-01", periods=2, freq="1D", tz="UTC"),
        start_equity=1,
        equity=[1, 1],
        duration_ms=2 * DAY_MS,
        trips=[_trip(1)],
        exposure=0,
        fees=0,
        funding=0,
    )
    assert stats.profit_factor is None
    assert stats.sharpe is None
    assert stats.max_drawdown == 0


def test_the_figures_agree_with_backtesting_py_side_by_side() -> None:
    """backtesting.py's SmaCross on its GOOG candles, and ours, same fills and fees: every figure
    defined alike agrees (buy-and-hold, exposure and alpha are defined apart: see stats)."""
    import warnings

    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import GOOG

    def sma(values: pd.Series, n: int) -> pd.Series:
        return pd.Series(values).rolling(n).mean()

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, 10)
            self.slow = self.I(sma, self.data.Close, 20)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy(size=1)
            elif crossover(self.slow, self.fast):
                self.sell(size=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(GOOG, SmaCross, cash=10_000, commission=0.002, exclusive_orders=True)
        theirs = bt.run()
    frame = GOOG.rename(columns=str.lower)
    frame.index = frame.index.tz_localize("UTC")
    ours = run_backtest(
        SmaCrossStrategy(symbol="GOOG", qty=D(1), category=Category.LINEAR),
        MarketData({("GOOG", Category.LINEAR): frame}),
        initial_cash=D(10_000),
        fees=FeeModel(linear_taker=0.002, linear_maker=0.002, slippage=0.0),
    ).stats
    pct = {
        "total_return": "Return [%]",
        "annualised_return": "Return (Ann.) [%]",
        "volatility": "Volatility (Ann.) [%]",
        "cagr": "CAGR [%]",
        "max_drawdown": "Max. Drawdown [%]",
        "avg_drawdown": "Avg. Drawdown [%]",
        "win_rate": "Win Rate [%]",
        "best_trade": "Best Trade [%]",
        "worst_trade": "Worst Trade [%]",
        "avg_trade": "Avg. Trade [%]",
        "expectancy": "Expectancy [%]",
    }
    for ours_name, theirs_name in pct.items():
        assert abs(float(getattr(ours, ours_name))) * 100 == pytest.approx(
            abs(float(theirs[theirs_name])), rel=2e-3, abs=2e-3
        ), ours_name
    plain = {
        "sharpe": "Sharpe Ratio",
        "sortino": "Sortino Ratio",
        "calmar": "Calmar Ratio",
        "profit_factor": "Profit Factor",
        "sqn": "SQN",
        "kelly": "Kelly Criterion",
        "final_equity": "Equity Final [$]",
        "equity_peak": "Equity Peak [$]",
    }
    for ours_name, theirs_name in plain.items():
        assert float(getattr(ours, ours_name)) == pytest.approx(
            float(theirs[theirs_name]), rel=2e-3
        ), ours_name
    assert ours.trades == theirs["# Trades"]
    assert float(ours.max_drawdown_days) == theirs["Max. Drawdown Duration"].days
    assert float(ours.max_trade_days) == theirs["Max. Trade Duration"].days
    assert ours.periods_per_year == 252


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
