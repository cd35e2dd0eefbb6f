"""GRID over generated minute candles in the backtester: maker fills on the ladder's levels,
counter-orders within the bar, profit per level, the report (equity/drawdown plot, trades)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine_runtime.backtest import FeeModel, FillModel, MarketData, run_backtest
from engine_runtime.backtest.report import plot, write_json
from engine_runtime.strategies import Category, create_strategy
from engine_runtime.strategies.grid import GridStrategy
from eternal_kernel.api.v1alpha1.strategy_params import GridParams, StrategyParams

pytestmark = pytest.mark.unit


def ranging_minutes(days: int, seed: int) -> pd.DataFrame:
    """A price oscillating around 100 (+-3% over ~6 h) with noise, in 1-minute candles."""
    n = days * 1440
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    close = 100 * (1 + 0.03 * np.sin(2 * np.pi * t / 360)) * np.exp(rng.normal(0, 4e-4, n))
    open_ = np.concatenate(([close[0]], close[:-1]))
    wick = np.abs(rng.normal(0, 5e-4, n))
    index = pd.date_range("2024-03-01", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick),
            "low": np.minimum(open_, close) * (1 - wick),
            "close": close,
        },
        index=index,
    )


def _run(category: Category, fill_model: FillModel | None = None) -> tuple[GridStrategy, object]:
    params = StrategyParams(grid=GridParams(category=category.value, levels=5))
    strat = create_strategy("grid", params)
    assert isinstance(strat, GridStrategy)
    data = MarketData({("BTCUSDT", category): ranging_minutes(2, seed=5)})
    result = run_backtest(
        strat, data, initial_cash=D(10000), fees=FeeModel(), fill_model=fill_model
    )
    return strat, result


@pytest.mark.parametrize("category", [Category.SPOT, Category.LINEAR])
def test_grid_backtest_fills_on_its_levels_and_books_profit_per_level(
    category: Category, tmp_path: Path
) -> None:
    strat, result = _run(category)
    fills = result.fills  # type: ignore[attr-defined]
    assert len(fills) > 50
    assert all(f.maker for f in fills)  # PostOnly only: nothing ever took liquidity
    records = strat.take_recentres()
    assert records[0].reason == "start"
    # each level of each ladder, on the tick: down for a buy, up for a sell
    levels = {
        float((r.centre + r.spacing * k).quantize(D("0.01"), rounding))
        for r in records
        for k in range(-5, 6)
        for rounding in ("ROUND_FLOOR", "ROUND_CEILING")
    }
    assert {round(f.price, 2) for f in fills} <= levels
    assert strat.realized > 0
    assert sum(strat.profit_by_level.values(), D(0)) == strat.realized
    assert len(strat.profit_by_level) >= 4
    doc = json.loads(write_json(result, tmp_path / "grid.json").read_text())  # type: ignore[arg-type]
    engine = doc["engines"]["backtest"]
    assert engine["trades"]
    assert engine["fillsTotal"] == len(fills)
    assert doc["config"]["fillModel"] == {"through": 0.0}
    png = plot(result, tmp_path / "grid.png", title="grid")  # type: ignore[arg-type]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_deeper_queue_assumption_fills_the_grid_less() -> None:
    _, plain = _run(Category.LINEAR)
    _, deep = _run(Category.LINEAR, FillModel(through=0.001))
    assert 0 < len(deep.fills) < len(plain.fills)  # type: ignore[attr-defined]
