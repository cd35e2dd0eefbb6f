"""Parameter sweeps: axes, grids and samples, the same figures as single runs on any number of
workers, errors kept, indicator work shared, walk-forward chosen in sample and scored out."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest
from bt_helpers import make_candles, random_walk

from engine_runtime import indicators
from engine_runtime.backtest import FeeModel, MarketData, run_backtest
from engine_runtime.backtest.cli import main
from engine_runtime.backtest.sweep import (
    Axis,
    RunSettings,
    StrategyBuilder,
    grid,
    heatmap,
    parse_axis,
    sample,
    sweep,
)
from engine_runtime.strategies import Category, SmaCrossStrategy

pytestmark = pytest.mark.unit
L = Category.LINEAR
FEES = FeeModel(linear_taker=0.001, linear_maker=0.001, slippage=0.0)
SETTINGS = RunSettings(D(10_000), FEES)


@pytest.fixture(scope="module")
def data() -> MarketData:
    return MarketData({("BTCUSDT", L): make_candles(random_walk(3000, seed=11), freq="1h")})


def test_axes_ranges_lists_grids_and_samples() -> None:
    assert parse_axis("fast=5:20:5") == Axis("fast", (5, 10, 15, 20))
    assert parse_axis("atrStopMultiple=1.5:2.5:0.5").values == (1.5, 2.0, 2.5)
    assert parse_axis("slow=20,50,100").values == (20, 50, 100)
    with pytest.raises(ValueError, match="a <= b"):
        parse_axis("fast=20:5:5")
    axes = [Axis("fast", (5, 10)), Axis("slow", (20, 30, 40))]
    combos = grid(axes)
    assert len(combos) == 6
    assert combos[:2] == [{"fast": 5, "slow": 20}, {"fast": 5, "slow": 30}]
    picked = sample(axes, 3, seed=1)
    assert len(picked) == 3
    assert all(c in combos for c in picked)
    assert sample(axes, 3, seed=1) == picked
    assert sample(axes, 99) == combos


def test_every_combination_has_the_figures_of_its_own_run_on_any_number_of_workers(
    data: MarketData,
) -> None:
    build = StrategyBuilder("sma-cross", {"qty": "0.5"}, market=("BTCUSDT", L))
    combos = [*grid([Axis("fast", (5, 10)), Axis("slow", (20, 40))]), {"fast": 30, "slow": 20}]
    alone = sweep(build, data, combos, settings=SETTINGS, workers=1)
    pooled = sweep(build, data, combos, settings=SETTINGS, workers=2)
    assert [r.combo for r in alone.rows] == combos
    assert [(r.combo, r.stats, r.error) for r in pooled.rows] == [
        (r.combo, r.stats, r.error) for r in alone.rows
    ]
    (bad,) = [r for r in alone.rows if r.error]
    assert "fast 30 must be below slow 20" in bad.error
    assert alone.ranked()[-1] is bad  # a failed combination ranks last, with its reason
    single = run_backtest(
        SmaCrossStrategy("BTCUSDT", 10, 40, D("0.5"), L), data, initial_cash=D(10_000), fees=FEES
    )
    row = next(r for r in alone.rows if r.combo == {"fast": 10, "slow": 40})
    assert row.stats["final_equity"] == str(single.stats.final_equity)
    assert row.stats["trades"] == single.stats.trades
    best = alone.best
    assert all(best.score("sharpe") >= r.score("sharpe") for r in alone.rows)


def test_registry_strategies_are_built_through_the_api_model(data: MarketData) -> None:
    build = StrategyBuilder("trend", {}, ("BTCUSDT",))
    strategy = build({"smaFast": 10, "smaSlow": 40})
    assert strategy.warmup_bars() == 40
    with pytest.raises(ValueError, match="smaFast"):
        build({"smaFast": 50, "smaSlow": 40})  # the CRD's own cross-check


def test_an_indicator_is_computed_once_per_input_and_period_when_shared() -> None:
    x = np.arange(100.0)
    assert indicators.sma(x, 10) is not indicators.sma(x, 10)
    with indicators.shared():
        first = indicators.sma(x, 10)
        assert indicators.sma(x, 10) is first
        assert indicators.sma(x, 20) is not first
        assert indicators.sma(x.copy(), 10) is not first
        assert indicators.sma(x[:50], 10) is not first  # a prefix is another input
        np.testing.assert_array_equal(indicators.sma(x[:50], 10), first[:50])
        with pytest.raises(ValueError, match="read-only"):
            first[20] = 0.0


def test_walk_forward_chooses_in_sample_and_scores_out_of_sample(data: MarketData) -> None:
    build = StrategyBuilder("sma-cross", {"qty": "0.5"}, market=("BTCUSDT", L))
    combos = grid([Axis("fast", (5, 10, 20)), Axis("slow", (30, 60))])
    result = sweep(build, data, combos, folds=3, settings=SETTINGS, workers=1)
    assert len(result.folds) == 2
    index = data.index
    for fold in result.folds:
        inside = data.window(*fold.in_span)
        scores = sweep(build, inside, combos, settings=SETTINGS, workers=1)
        assert fold.chosen == scores.best.combo
        outside = data.window(*fold.out_span)
        (again,) = sweep(build, outside, [fold.chosen], settings=SETTINGS, workers=1).rows
        assert fold.out_of_sample == again.score("sharpe")
    assert result.folds[0].out_span[0] == result.folds[1].in_span[0]
    assert result.folds[-1].out_span[1] > index[-1].isoformat()  # the last bar is included


def test_the_cli_writes_a_ranked_table_and_a_heatmap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sweep", "--strategy", "sma-cross", "--qty", "0.05", "--axis", "fast=5:15:5",
            "--axis", "slow=30,60", "--interval", "1h", "--start", "2021-01-01",
            "--end", "2021-03-01", "--workers", "2", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "6 combinations" in printed
    rows = (tmp_path / "sweep.csv").read_text().splitlines()
    assert len(rows) == 1 + 6
    assert rows[1].startswith("1,")
    assert (tmp_path / "heatmap.png").read_bytes()[:4] == b"\x89PNG"


def test_a_heatmap_needs_two_parameters(data: MarketData, tmp_path: Path) -> None:
    build = StrategyBuilder("sma-cross", {"qty": "0.5"}, market=("BTCUSDT", L))
    result = sweep(build, data, [{"fast": 5}], settings=SETTINGS, workers=1)
    with pytest.raises(ValueError, match="two parameters"):
        heatmap(result, tmp_path / "h.png")
