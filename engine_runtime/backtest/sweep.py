"""Parameter sweeps: a grid (or a random sample of it) of a strategy's typed parameters, run on
every local core, ranked by a statistic, with walk-forward validation.

* **Axes** name a parameter and its values: ``fast=5:50:5`` (a range, both ends included),
  ``slow=20,50,100`` (a list). For the registry's strategies the name is the camelCase field of
  the strategy's ``params`` block (``smaFast`` for TREND), validated by the same API model as an
  Engine's spec, so a sweep cannot try what the API server would refuse; for ``sma-cross``,
  ``fast``, ``slow`` and ``qty``.
* **Shared indicator work**: each worker runs its combinations inside
  ``indicators.shared()``, so an indicator over the same data and period (SMA(10) of the same
  closes) is computed once per worker however many combinations use it; combinations are handed
  out in grid order, so neighbours (which share most periods) land on the same worker.
* **Walk-forward** (``folds=k``): the data is cut into ``k`` consecutive, equal spans; for each
  span after the first, the best combination on the span before it (in sample) is run on it
  (out of sample). The out-of-sample scores are what a sweep's choice would have earned; the
  in-sample best of the whole span is what it would overfit to.

Combinations that fail (a parameter the model refuses, a run error) are reported with their
error, never dropped silently.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from engine_runtime import indicators
from engine_runtime.strategies.interface import Category, Strategy

from .data import MarketData
from .runner import run_backtest
from .venue import FeeModel

Value = int | float | str
Combo = dict[str, Value]
HIGHER_IS_BETTER = {"max_drawdown": False, "max_drawdown_days": False, "avg_drawdown": False}


@dataclass(frozen=True, slots=True)
class Axis:
    name: str
    values: tuple[Value, ...]


def parse_axis(text: str) -> Axis:
    """``name=a:b:step`` (inclusive range) or ``name=v1,v2,...``."""
    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise ValueError(f"an axis is name=a:b:step or name=v1,v2 (got {text!r})")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise ValueError(f"a range is a:b:step (got {spec!r})")
        lo, hi, step = (Decimal(p) for p in parts)
        if step <= 0 or hi < lo:
            raise ValueError(f"{name}: a range needs a <= b and a positive step")
        count = int((hi - lo) / step) + 1
        values = tuple(_number(lo + i * step) for i in range(count))
    else:
        values = tuple(_number(Decimal(v)) if _numeric(v) else v for v in spec.split(","))
    return Axis(name, values)


def _numeric(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _number(value: Decimal) -> Value:
    return int(value) if value == value.to_integral_value() else float(value)


def grid(axes: Sequence[Axis]) -> list[Combo]:
    """Every combination, in grid order (the last axis varies fastest)."""
    return [dict(zip([a.name for a in axes], values, strict=True)) for values in
            itertools.product(*(a.values for a in axes))]  # fmt: skip


def sample(axes: Sequence[Axis], count: int, seed: int = 0) -> list[Combo]:
    """``count`` distinct combinations drawn at random (all of them if there are fewer),
    returned in grid order."""
    combos = grid(axes)
    if count >= len(combos):
        return combos
    chosen = sorted(random.Random(seed).sample(range(len(combos)), count))  # noqa: S311 - not secrets
    return [combos[i] for i in chosen]


Builder = Callable[[Combo], Strategy]


@dataclass(frozen=True, slots=True)
class StrategyBuilder:
    """Builds the strategy of one combination (picklable, for the worker processes)."""

    strategy: str
    base: Mapping[str, Any] = field(default_factory=dict)
    """The strategy's params block (camelCase), the combination's values laid over it."""
    symbols: tuple[str, ...] | None = None
    market: tuple[str, Category] | None = None
    """sma-cross's market."""

    def __call__(self, combo: Combo) -> Strategy:
        if self.strategy == "sma-cross":
            from engine_runtime.strategies.sma_cross import SmaCrossStrategy

            symbol, category = self.market or ("BTCUSDT", Category.LINEAR)
            values = {**self.base, **combo}
            unknown = set(values) - {"fast", "slow", "qty"}
            if unknown:
                raise ValueError(f"sma-cross has no parameter {', '.join(sorted(unknown))}")
            fast, slow = int(values.get("fast", 10)), int(values.get("slow", 20))
            if fast >= slow:
                raise ValueError(f"fast {fast} must be below slow {slow}")
            qty = Decimal(str(values.get("qty", 1)))
            return SmaCrossStrategy(symbol, fast, slow, qty, category)
        from engine_runtime.strategies.registry import create_strategy
        from eternal_kernel.api.v1alpha1.strategy_params import StrategyParams

        block = block_name(self.strategy)
        params = StrategyParams.model_validate({block: {**self.base, **combo}})
        return create_strategy(self.strategy, params, self.symbols)


def block_name(strategy: str) -> str:
    """The strategy's params block (core-hodl -> coreHodl): the API's own table."""
    from eternal_kernel.api.v1alpha1.engine import PARAMS_BLOCKS, Strategy

    return PARAMS_BLOCKS[Strategy(strategy)]


@dataclass(frozen=True, slots=True)
class Row:
    """One combination's figures (or why it could not run)."""

    combo: Combo
    stats: Mapping[str, Any]
    error: str | None = None

    def score(self, metric: str) -> float:
        value = self.stats.get(metric)
        if self.error or value is None:
            return -math.inf
        number = float(value)
        return number if HIGHER_IS_BETTER.get(metric, True) else -number


@dataclass(frozen=True, slots=True)
class Fold:
    """One walk-forward step: chosen on ``in_span``, scored on ``out_span``."""

    in_span: tuple[str, str]
    out_span: tuple[str, str]
    chosen: Combo
    in_sample: float
    out_of_sample: float


@dataclass
class SweepResult:
    metric: str
    rows: list[Row]
    folds: list[Fold] = field(default_factory=list)

    def ranked(self) -> list[Row]:
        return sorted(self.rows, key=lambda r: r.score(self.metric), reverse=True)

    @property
    def best(self) -> Row:
        return self.ranked()[0]


@dataclass(frozen=True, slots=True)
class RunSettings:
    initial_cash: Decimal = Decimal(10_000)
    fees: FeeModel | None = None
    leverage: float = 2.0


def _run_chunk(
    build: Builder, data: MarketData, combos: Sequence[Combo], settings: RunSettings
) -> list[Row]:
    rows = []
    engine_log = logging.getLogger("engine_runtime.backtest.engine")
    quiet = engine_log.level
    engine_log.setLevel(logging.ERROR)  # refusals are counted per row instead of logged
    with indicators.shared():
        for k, combo in enumerate(combos):
            try:
                result = run_backtest(
                    build(combo),
                    data,
                    initial_cash=settings.initial_cash,
                    fees=settings.fees,
                    leverage=settings.leverage,
                    causality_check=k == 0,  # the look-ahead check once per worker's chunk
                )
            except Exception as error:  # reported in the table, never dropped
                rows.append(Row(combo, {}, f"{type(error).__name__}: {error}"))
            else:
                refused = sum(len(e.rejections) for e in result.engines.values())
                rows.append(Row(combo, {**result.stats.as_dict(), "rejected_orders": refused}))
    engine_log.setLevel(quiet)
    return rows


def run_combos(
    build: Builder,
    data: MarketData,
    combos: Sequence[Combo],
    *,
    settings: RunSettings = RunSettings(),
    workers: int | None = None,
) -> list[Row]:
    """Every combination's statistics, in the order given, on ``workers`` processes (default:
    every core; 1 runs in this process)."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(combos)))
    if workers == 1:
        return _run_chunk(build, data, combos, settings)
    size = math.ceil(len(combos) / workers)
    chunks = [combos[i : i + size] for i in range(0, len(combos), size)]
    with ProcessPoolExecutor(len(chunks), mp_context=get_context("fork")) as pool:
        futures = [pool.submit(_run_chunk, build, data, chunk, settings) for chunk in chunks]
        return [row for future in futures for row in future.result()]


def sweep(
    build: Builder,
    data: MarketData,
    combos: Sequence[Combo],
    *,
    metric: str = "sharpe",
    folds: int = 0,
    settings: RunSettings = RunSettings(),
    workers: int | None = None,
) -> SweepResult:
    """Run every combination over the whole data, and with ``folds >= 2`` walk forward."""
    if not combos:
        raise ValueError("no combinations to run")
    rows = run_combos(build, data, combos, settings=settings, workers=workers)
    result = SweepResult(metric, rows)
    if folds >= 2:
        result.folds = walk_forward(
            build, data, combos, metric=metric, folds=folds, settings=settings, workers=workers
        )
    return result


def walk_forward(
    build: Builder,
    data: MarketData,
    combos: Sequence[Combo],
    *,
    metric: str,
    folds: int,
    settings: RunSettings = RunSettings(),
    workers: int | None = None,
) -> list[Fold]:
    index = data.index
    edges = [index[round(i * (len(index) - 1) / folds)] for i in range(folds + 1)]
    spans = [(edges[i], edges[i + 1]) for i in range(folds)]
    spans[-1] = (spans[-1][0], index[-1] + (index[-1] - index[-2]))  # the last bar included
    out: list[Fold] = []
    for (a, b), (c, d) in itertools.pairwise(spans):
        rows = run_combos(build, data.window(a, b), combos, settings=settings, workers=workers)
        best = max(rows, key=lambda r: r.score(metric))
        (tested,) = run_combos(build, data.window(c, d), [best.combo], settings=settings, workers=1)
        out.append(
            Fold(
                (a.isoformat(), b.isoformat()),
                (c.isoformat(), d.isoformat()),
                best.combo,
                best.score(metric),
                tested.score(metric),
            )
        )
    return out


def table(result: SweepResult, limit: int | None = None) -> str:
    """The ranked combinations as aligned text: rank, parameters, the metric and the usual."""
    columns = ["total_return", "max_drawdown", "sharpe", "trades", "rejected_orders"]
    if result.metric not in columns:
        columns.insert(0, result.metric)
    names = list(result.rows[0].combo) if result.rows else []
    header = ["#", *names, *columns]
    lines = []
    for rank, row in enumerate(result.ranked()[:limit], 1):
        cells = [str(rank), *(str(row.combo[n]) for n in names)]
        if row.error:
            cells += [row.error, *[""] * (len(columns) - 1)]
        else:
            cells += [str(row.stats.get(c)) for c in columns]
        lines.append(cells)
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), *(fmt.format(*line) for line in lines)])


def heatmap(result: SweepResult, path: str | Path) -> Path:
    """A PNG of the metric over the first two parameters (the best value over any others)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(result.rows[0].combo)
    if len(names) < 2:
        raise ValueError("a heatmap needs two parameters")
    x_name, y_name = names[0], names[1]
    xs = sorted({r.combo[x_name] for r in result.rows}, key=_order)
    ys = sorted({r.combo[y_name] for r in result.rows}, key=_order)
    grid_values = np.full((len(ys), len(xs)), np.nan)
    for row in result.rows:
        score = row.score(result.metric)
        if math.isfinite(score):
            i, j = ys.index(row.combo[y_name]), xs.index(row.combo[x_name])
            value = score if HIGHER_IS_BETTER.get(result.metric, True) else -score
            if np.isnan(grid_values[i, j]) or value > grid_values[i, j]:
                grid_values[i, j] = value
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(xs), 1 + 0.5 * len(ys)))
    image = ax.imshow(grid_values, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xs)), [str(x) for x in xs], rotation=90)
    ax.set_yticks(range(len(ys)), [str(y) for y in ys])
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    fig.colorbar(image, ax=ax, label=result.metric)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _order(value: Value) -> tuple[int, float | str]:
    return (0, float(value)) if isinstance(value, int | float) else (1, str(value))
