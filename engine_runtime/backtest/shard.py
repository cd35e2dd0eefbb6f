"""One shard of a `Backtest` resource's sweep: ``python -m engine_runtime.backtest.shard``, the
container of each completion index of the Backtest's Indexed Job.

The shard reads the Backtest's spec (``$EE_BACKTEST_SPEC``, JSON, validated by the API model),
builds the same combinations as the ``sweep`` CLI (``sweep.parse_axis``, ``grid``/``sample``),
takes its contiguous slice of them (``shard_slice``: index ``i`` of ``k`` runs combinations
``[i*n//k, (i+1)*n//k)``, so neighbours, which share indicator periods, stay together), runs them
with the sweep's own ``run_combos`` and writes one row per combination into PostgreSQL
(``backtest_results``), replacing whatever an earlier attempt of the same index wrote, in one
transaction. The shard that then finds every shard's rows stored draws the sweep's heatmap
(``sweep.heatmap``) into ``backtest_plots``. The operator ranks the rows of all shards into the
Backtest's status and copies the plot into its report ConfigMap.

Environment: ``EE_BACKTEST_SPEC``, ``EE_BACKTEST_UID``, ``EE_BACKTEST_NAME``,
``EE_POD_NAMESPACE``, ``JOB_COMPLETION_INDEX`` (set by Kubernetes), ``EE_DATABASE_URL``, and
``EE_CANDLES_DIR`` (the CSVs of a ConfigMap or a volume) or ``EE_BACKTEST_VENUE_URL`` (the
venue's klines).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine_runtime.strategies.interface import Category
from eternal_kernel.api.v1alpha1.backtest import BacktestSpec, BacktestStrategy
from eternal_kernel.persistence.backtest_results import (
    ResultRow,
    read_rows,
    write_plot,
    write_rows,
)  # fmt: skip

from .data import MarketData, align, load_candles
from .sweep import (
    Combo,
    Row,
    RunSettings,
    StrategyBuilder,
    SweepResult,
    grid,
    heatmap,
    parse_axis,
    run_combos,
    sample,
)  # fmt: skip
from .venue import FeeModel

PLOT = "heatmap.png"


def shard_slice(count: int, shards: int, index: int) -> range:
    """The positions of the combinations shard ``index`` of ``shards`` runs: contiguous and
    balanced (sizes differ by at most one); together the shards cover ``range(count)`` once."""
    if not 0 <= index < shards:
        raise ValueError(f"shard index {index} is outside 0..{shards - 1}")
    return range(index * count // shards, (index + 1) * count // shards)


def combinations(spec: BacktestSpec) -> list[Combo]:
    """Every combination of the spec's grid, as the ``sweep`` CLI makes them from the same
    axes (``--axis``, ``--random``, ``--seed``)."""
    axes = [parse_axis(axis.text()) for axis in spec.grid]
    if not axes:
        return [{}]
    return sample(axes, spec.random, spec.seed) if spec.random else grid(axes)


def fee_model(
    maker: float | None = None, taker: float | None = None, slippage_bps: float = 2.0
) -> FeeModel:
    """Bybit's base rates unless ``maker``/``taker`` say otherwise (the sweep CLI's rule)."""
    default = FeeModel()
    return FeeModel(
        spot_maker=default.spot_maker if maker is None else maker,
        linear_maker=default.linear_maker if maker is None else maker,
        spot_taker=default.spot_taker if taker is None else taker,
        linear_taker=default.linear_taker if taker is None else taker,
        slippage=slippage_bps / 10_000,
    )


def settings_of(spec: BacktestSpec) -> RunSettings:
    fees = spec.fees
    return RunSettings(
        initial_cash=spec.initial_cash,
        fees=fee_model(
            None if fees.maker is None else float(fees.maker),
            None if fees.taker is None else float(fees.taker),
            float(fees.slippage_bps),
        ),
        leverage=float(spec.leverage),
    )


def builder_of(spec: BacktestSpec) -> StrategyBuilder:
    category = Category(spec.category.value)
    if spec.strategy is BacktestStrategy.SMA_CROSS:
        return StrategyBuilder(spec.strategy.value, spec.base(), None, (spec.symbols[0], category))
    return StrategyBuilder(spec.strategy.value, spec.base(), tuple(spec.symbols))


def market_data(spec: BacktestSpec, candles_dir: str | None, venue_url: str | None) -> MarketData:
    """The spec's candles (the CSVs of a ConfigMap or a volume, mounted under ``candles_dir``,
    or the venue's klines), aligned and cut to its span."""
    category = Category(spec.category.value)
    frames = {}
    files = spec.data.candle_files()
    if files is not None:  # a ConfigMap's keys or a volume's files: one loading rule
        if candles_dir is None:
            raise ValueError("the candles are files (a ConfigMap or a volume) and EE_CANDLES_DIR "
                             "is not set")  # fmt: skip
        for symbol, name in files:
            frames[(symbol, category)] = load_candles(Path(candles_dir) / name)
    elif spec.data.venue_history is not None:
        if venue_url is None:
            raise ValueError("the data is the venue's history and EE_BACKTEST_VENUE_URL is not set")
        from engine_runtime.train.data import from_venue

        history = spec.data.venue_history
        found = from_venue(venue_url, spec.symbols, category.value, history.interval,
                           history.bars, int(time.time() * 1000))  # fmt: skip
        short_of(found, history.bars, history.interval)
        frames = {(symbol, category): frame for symbol, frame in found.items()}
    data = MarketData(align(frames))
    return data.window(spec.span.start, spec.span.end) if spec.span.start or spec.span.end else data


def short_of(found: Mapping[str, Any], bars: int, interval: str) -> None:
    """Refuse history shorter than asked: a sweep over 5 candles where 2000 were asked is not
    the sweep the user wrote (the paper venue keeps only its backfill and what it has run)."""
    short = {symbol: len(frame) for symbol, frame in found.items() if len(frame) < bars}
    if short:
        have = ", ".join(f"{n} of {symbol}" for symbol, n in sorted(short.items()))
        raise ValueError(
            f"the venue has fewer {interval} candles than the {bars} asked ({have}): ask for "
            "fewer bars or a shorter interval"
        )


def result_rows(rows: Sequence[Row], positions: Sequence[int], metric: str) -> list[ResultRow]:
    """The sweep's rows as stored: the score as the sweep ranks it (``Row.score``: higher is
    better, drawdowns negated), NULL where it has none; money as Decimal."""
    out = []
    for position, row in zip(positions, rows, strict=True):
        score = row.score(metric)
        stats = dict(row.stats)
        out.append(ResultRow(
            position, dict(row.combo), score if math.isfinite(score) else None,
            _decimal(stats.get("final_equity")), _decimal(stats.get("fees")), stats, row.error,
        ))  # fmt: skip
    return out


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def plot_if_last(url: str, spec: BacktestSpec, uid: str) -> str | None:
    """Draw the sweep's heatmap (the metric over the first two axes, ``sweep.heatmap``) into
    ``backtest_plots`` when every shard's rows are stored: the shard that finds them all once its
    own are written is the sweep's last step (two finishing at once both draw the same picture).
    Returns what it did, for the log; a plot that cannot be drawn never fails the shard."""
    if len(spec.grid) < 2:
        return None
    rows = asyncio.run(read_rows(url, uid))
    if {r.shard for r in rows} != set(range(spec.shards)):
        return None
    try:
        ordered = sorted(rows, key=lambda r: r.position)
        result = SweepResult(spec.metric.value, [Row(r.params, r.stats, r.error) for r in ordered])
        with tempfile.TemporaryDirectory() as scratch:
            png = heatmap(result, Path(scratch) / PLOT).read_bytes()
        asyncio.run(write_plot(url, uid, PLOT, png))
    except Exception as error:  # the rows are what counts; the plot is a view of them
        return f"no {PLOT}: {type(error).__name__}: {error}"
    return f"drew {PLOT} of {len(rows)} combinations"


def run_shard(spec: BacktestSpec, index: int, data: MarketData) -> list[ResultRow]:
    """Run shard ``index``'s combinations (in this process: a shard is one pod's work)."""
    combos = combinations(spec)
    positions = shard_slice(len(combos), spec.shards, index)
    mine = [combos[p] for p in positions]
    rows = run_combos(builder_of(spec), data, mine, settings=settings_of(spec), workers=1)
    return result_rows(rows, list(positions), spec.metric.value)


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        spec = BacktestSpec.model_validate(json.loads(env["EE_BACKTEST_SPEC"]))
        index = int(env.get("JOB_COMPLETION_INDEX", "0"))
        url = env.get("EE_DATABASE_URL")
        if not url:
            raise ValueError("EE_DATABASE_URL is not set: the shard has nowhere to write")
        started = time.monotonic()
        data = market_data(spec, env.get("EE_CANDLES_DIR"), env.get("EE_BACKTEST_VENUE_URL"))
        rows = run_shard(spec, index, data)
        where = (env["EE_BACKTEST_UID"], env["EE_POD_NAMESPACE"], env["EE_BACKTEST_NAME"])
        asyncio.run(write_rows(url, *where, index, spec.metric.value, rows))
        plotted = plot_if_last(url, spec, env["EE_BACKTEST_UID"])
    except (KeyError, ValueError, OSError) as error:
        print(f"backtest shard: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    failed = sum(1 for r in rows if r.error)
    print(f"backtest shard {index}/{spec.shards}: {len(rows)} combinations ({failed} failed) "
          f"in {time.monotonic() - started:.1f}s")  # fmt: skip
    if plotted:
        print(f"backtest shard {index}: {plotted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
