"""One shard of a `Backtest` resource's sweep: ``python -m engine_runtime.backtest.shard``, the
container of each completion index of the Backtest's Indexed Job.

The shard reads the Backtest's spec (``$EE_BACKTEST_SPEC``, JSON, validated by the API model),
builds the same combinations as the ``sweep`` CLI (``sweep.parse_axis``, ``grid``/``sample``),
takes its contiguous slice of them (``shard_slice``: index ``i`` of ``k`` runs combinations
``[i*n//k, (i+1)*n//k)``, so neighbours, which share indicator periods, stay together), runs them
with the sweep's own ``run_combos`` and writes one row per combination into PostgreSQL
(``backtest_results``), replacing whatever an earlier attempt of the same index wrote, in one
transaction. The operator ranks the rows of all shards into the Backtest's status.

Environment: ``EE_BACKTEST_SPEC``, ``EE_BACKTEST_UID``, ``EE_BACKTEST_NAME``,
``EE_POD_NAMESPACE``, ``JOB_COMPLETION_INDEX`` (set by Kubernetes), ``EE_DATABASE_URL``, and
``EE_CANDLES_DIR`` (a ConfigMap's CSVs) or ``EE_BACKTEST_VENUE_URL`` (the venue's klines).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine_runtime.strategies.interface import Category
from eternal_operator.api.v1alpha1.backtest import BacktestSpec, BacktestStrategy

from .data import MarketData, align, load_candles
from .sweep import (
    Combo,
    Row,
    RunSettings,
    StrategyBuilder,
    grid,
    parse_axis,
    run_combos,
    sample,
)  # fmt: skip
from .venue import FeeModel


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
    """The spec's candles (a ConfigMap's CSVs under ``candles_dir``, or the venue's klines),
    aligned and cut to its span."""
    category = Category(spec.category.value)
    frames = {}
    if spec.data.config_map is not None:
        if candles_dir is None:
            raise ValueError("the data is a ConfigMap and EE_CANDLES_DIR is not set")
        for item in spec.data.config_map.files:
            frames[(item.symbol, category)] = load_candles(Path(candles_dir) / item.key)
    elif spec.data.venue_history is not None:
        if venue_url is None:
            raise ValueError("the data is the venue's history and EE_BACKTEST_VENUE_URL is not set")
        from engine_runtime.train.data import from_venue

        history = spec.data.venue_history
        found = from_venue(venue_url, spec.symbols, category.value, history.interval,
                           history.bars, int(time.time() * 1000))  # fmt: skip
        frames = {(symbol, category): frame for symbol, frame in found.items()}
    data = MarketData(align(frames))
    return data.window(spec.span.start, spec.span.end) if spec.span.start or spec.span.end else data


@dataclass(frozen=True)
class ResultRow:
    """One combination's row of ``backtest_results``."""

    position: int
    params: Combo
    score: float | None
    final_equity: Decimal | None
    fees: Decimal | None
    stats: Mapping[str, Any]
    error: str | None


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


_INSERT = (
    "INSERT INTO backtest_results (backtest_uid, namespace, backtest, shard, position, params, "
    "metric, score, final_equity, fees, stats, error) "
    "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11::jsonb, $12)"
)


async def write_rows(
    url: str, uid: str, namespace: str, name: str, shard: int, metric: str,
    rows: Sequence[ResultRow],
) -> None:  # fmt: skip
    """Replace the shard's rows (a retried index overwrites its own) in one transaction."""
    import asyncpg

    from engine_runtime.persistence.migrate import MIGRATIONS_DIR, apply_migrations
    from engine_runtime.persistence.store import COMPONENT

    conn = await asyncpg.connect(url, timeout=30)
    try:
        await apply_migrations(conn, COMPONENT, MIGRATIONS_DIR)
        async with conn.transaction():
            await conn.execute(
                "DELETE FROM backtest_results WHERE backtest_uid = $1 AND shard = $2", uid, shard
            )
            await conn.executemany(_INSERT, [
                (uid, namespace, name, shard, r.position, json.dumps(r.params), metric, r.score,
                 r.final_equity, r.fees, json.dumps(dict(r.stats), default=str), r.error)
                for r in rows
            ])  # fmt: skip
    finally:
        await conn.close()


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
    except (KeyError, ValueError, OSError) as error:
        print(f"backtest shard: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    failed = sum(1 for r in rows if r.error)
    print(f"backtest shard {index}/{spec.shards}: {len(rows)} combinations ({failed} failed) "
          f"in {time.monotonic() - started:.1f}s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
