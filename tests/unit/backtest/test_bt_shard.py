"""A Backtest's shards: their slices cover the grid once, and the shards' rows, ranked by the
operator's plain functions, give what one sweep of the whole grid gives."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from bt_helpers import make_candles, random_walk

from engine_runtime.backtest import MarketData
from engine_runtime.backtest.shard import (
    builder_of,
    combinations,
    fee_model,
    market_data,
    result_rows,
    run_shard,
    settings_of,
    shard_slice,
    short_of,
)
from engine_runtime.backtest.sweep import parse_axis, sample, sweep
from engine_runtime.strategies import Category
from eternal_kernel.api.v1alpha1 import BacktestSpec
from eternal_kernel.api.v1alpha1.backtest import axis_values
from eternal_operator.controllers.backtest.reconcile import completed_message
from eternal_operator.controllers.backtest.results import ShardRow, rank, ranked_csv, summarise

pytestmark = pytest.mark.unit
L = Category.LINEAR
CANDLES = {"configMap": {"name": "c", "files": [{"symbol": "BTCUSDT", "key": "b.csv"}]}}


def spec(**fields: Any) -> BacktestSpec:
    return BacktestSpec.model_validate({
        "strategy": "sma-cross", "symbols": ["BTCUSDT"], "data": CANDLES, "shards": 3,
        "params": {"smaCross": {"qty": 0.5}},
        "grid": [{"name": "fast", "range": "4:12:4"}, {"name": "slow", "values": ["10", "30"]}],
        **fields,
    })  # fmt: skip


@pytest.fixture(scope="module")
def data() -> MarketData:
    return MarketData({("BTCUSDT", L): make_candles(random_walk(1500, seed=5), freq="1h")})


@pytest.mark.parametrize("count", [1, 2, 7, 10, 64, 101])
def test_shard_slices_cover_every_combination_exactly_once(count: int) -> None:
    for shards in range(1, count + 1):
        slices = [shard_slice(count, shards, i) for i in range(shards)]
        positions = [p for s in slices for p in s]
        assert positions == list(range(count))  # contiguous, in order, each once
        sizes = {len(s) for s in slices}
        assert max(sizes) - min(sizes) <= 1
        assert min(sizes) >= 1
    with pytest.raises(ValueError, match="outside"):
        shard_slice(count, 2, 2)


def test_the_combinations_are_the_sweep_clis() -> None:
    parsed = spec()
    axes = [parse_axis("fast=4:12:4"), parse_axis("slow=10,30")]
    assert combinations(parsed) == sample(axes, 10**9)
    assert [axis_values(a) for a in parsed.grid] == [list(a.values) for a in axes]
    drawn = spec(random=4, seed=9)
    assert combinations(drawn) == sample(axes, 4, 9)
    assert combinations(spec(grid=[], shards=1)) == [{}]  # the fixed parameters alone


def test_the_fees_are_bybits_base_rates_unless_given() -> None:
    default = fee_model()
    assert (default.linear_maker, default.spot_taker, default.slippage) == (0.0002, 0.001, 0.0002)
    given = settings_of(spec(fees={"maker": "0.0001", "taker": "0.0005", "slippageBps": "0"}))
    assert given.fees is not None
    assert (given.fees.linear_maker, given.fees.spot_taker, given.fees.slippage) == (
        0.0001, 0.0005, 0.0)  # fmt: skip


def _stored(rows: list[Any], shard: int) -> list[ShardRow]:
    """The rows as the database returns them (JSON round trip)."""
    return [ShardRow(shard, r.position, json.loads(json.dumps(r.params)), r.score,
                     r.final_equity, json.loads(json.dumps(dict(r.stats), default=str)), r.error)
            for r in rows]  # fmt: skip


@pytest.mark.parametrize("metric", ["sharpe", "max_drawdown"])
def test_the_shards_ranked_together_are_the_whole_sweep(data: MarketData, metric: str) -> None:
    parsed = spec(metric=metric)
    stored = [row for i in range(parsed.shards) for row in _stored(run_shard(parsed, i, data), i)]
    whole = sweep(builder_of(parsed), data, combinations(parsed), metric=metric,
                  settings=settings_of(parsed), workers=1)  # fmt: skip
    assert len(stored) == len(whole.rows) == 6
    assert [r.params for r in rank(stored)] == [r.combo for r in whole.ranked()]
    by_position = {r.position: r for r in stored}
    for position, row in enumerate(whole.rows):
        assert by_position[position].stats == json.loads(json.dumps(dict(row.stats), default=str))
        if row.error is None:
            assert by_position[position].final_equity == D(str(row.stats["final_equity"]))
        else:  # fast 12 over slow 10: the row says why, as the sweep's does
            assert by_position[position].error == row.error
    summary = summarise(stored, metric, top=2)
    assert summary.completed_shards == {0, 1, 2}
    best = whole.best
    assert summary.best_params == {k: str(v) for k, v in best.combo.items()}
    assert summary.best_score == str(best.stats[metric])
    assert [t["rank"] for t in summary.top] == [1, 2]
    assert summary.top[1]["params"] == {k: str(v) for k, v in whole.ranked()[1].combo.items()}


def test_a_combination_that_cannot_run_ranks_last_with_its_error(data: MarketData) -> None:
    parsed = spec(grid=[{"name": "fast", "values": ["5", "40"]}], shards=2)  # 40 >= slow 20
    stored = [row for i in range(2) for row in _stored(run_shard(parsed, i, data), i)]
    failed = next(r for r in stored if r.params == {"fast": 40})
    assert failed.score is None
    assert failed.error is not None
    assert "fast 40 must be below slow 20" in failed.error
    assert rank(stored)[-1] is failed
    summary = summarise(stored, "sharpe", top=5)
    assert summary.failed == 1
    assert summary.best_params == {"fast": "5"}
    assert len(summary.top) == 1  # only what ran is ranked in the status
    table, kept = ranked_csv(rank(stored), "sharpe")
    assert kept == 2
    lines = table.splitlines()
    assert lines[0].split(",")[:3] == ["rank", "fast", "sharpe"]
    assert lines[1].startswith("1,5,")
    assert lines[2].startswith("2,40,")
    assert lines[2].endswith("fast 40 must be below slow 20")
    # a ConfigMap holds 1 MiB: the table keeps the best rows that fit in its budget
    short, kept = ranked_csv(rank(stored), "sharpe", budget=len(lines[0]) + len(lines[1]) + 2)
    assert kept == 1
    assert short.splitlines() == lines[:2]


def test_result_rows_keep_money_as_decimal(data: MarketData) -> None:
    parsed = spec(grid=[], shards=1)
    (row,) = run_shard(parsed, 0, data)
    assert isinstance(row.final_equity, D)
    assert isinstance(row.fees, D)
    assert str(row.final_equity) == row.stats["final_equity"]
    assert result_rows([], [], "sharpe") == []


def test_venue_history_shorter_than_asked_is_refused_saying_how_much_there_is() -> None:
    frames = {"BTCUSDT": make_candles(random_walk(5, seed=1), freq="1h"),
              "ETHUSDT": make_candles(random_walk(2000, seed=2), freq="1h")}  # fmt: skip
    with pytest.raises(ValueError, match=r"fewer 60 candles than the 2000 asked \(5 of BTCUSDT\)"):
        short_of(frames, 2000, "60")
    short_of(frames, 5, "60")  # enough of both: no error


def test_a_sweep_where_nothing_traded_says_so_instead_of_a_best_of_none(data: MarketData) -> None:
    flat = MarketData({("BTCUSDT", L): make_candles([100.0] * 300, freq="1h")})
    parsed = spec(shards=1)
    stored = _stored(run_shard(parsed, 0, flat), 0)
    summary = summarise(stored, "sharpe", top=5)
    assert summary.best_score is None
    message = completed_message(stored, parsed, summary)
    assert "none made a trade" in message
    hours = MarketData({("BTCUSDT", L): make_candles(random_walk(40, seed=3), freq="1h")})
    short = _stored(run_shard(parsed, 0, hours), 0)  # trades, but under two days of returns
    assert "none has a sharpe" in completed_message(short, parsed, summarise(short, "sharpe", 5))
    traded = _stored(run_shard(parsed, 0, data), 0)
    assert "best sharpe" in completed_message(traded, parsed, summarise(traded, "sharpe", 5))


def test_a_volumes_csvs_load_as_a_config_maps_do(tmp_path: Path) -> None:
    """The volume source reads its files with the ConfigMap source's loader: the same CSV under
    a ConfigMap key and as a volume's file (in a sub-directory) is the same data."""
    frame = make_candles(random_walk(300, seed=9), freq="1min")
    (tmp_path / "cm").mkdir()
    frame.to_csv(tmp_path / "cm" / "b.csv", index_label="timestamp")
    (tmp_path / "vol" / "1m").mkdir(parents=True)
    frame.to_csv(tmp_path / "vol" / "1m" / "BTCUSDT.csv", index_label="timestamp")
    volume = {
        "volume": {
            "claimName": "history",
            "path": "1m",
            "files": [{"symbol": "BTCUSDT", "file": "BTCUSDT.csv"}],
        }
    }
    from_map = market_data(spec(), str(tmp_path / "cm"), None)
    from_volume = market_data(spec(data=volume), str(tmp_path / "vol" / "1m"), None)
    pd.testing.assert_frame_equal(from_volume.candles[("BTCUSDT", L)],
                                  from_map.candles[("BTCUSDT", L)])  # fmt: skip
    assert len(from_volume.candles[("BTCUSDT", L)]) == 300
    # the loader's rule: a file named .parquet is read as Parquet (compact for large histories)
    frame.to_parquet(tmp_path / "vol" / "1m" / "BTCUSDT.parquet")
    parquet = {
        "volume": {**volume["volume"], "files": [{"symbol": "BTCUSDT", "file": "BTCUSDT.parquet"}]}
    }
    from_parquet = market_data(spec(data=parquet), str(tmp_path / "vol" / "1m"), None)
    pd.testing.assert_frame_equal(
        from_parquet.candles[("BTCUSDT", L)],
        from_map.candles[("BTCUSDT", L)],
        check_freq=False,
        check_names=False,
    )
    with pytest.raises(ValueError, match="a ConfigMap or a volume"):
        market_data(spec(data=volume), None, None)
