"""Grid backtest benchmark: GRID over a year of 1-minute candles, spot and linear.

    .venv/bin/python bench/grid_bench.py [--days 365] [--seed 7] [--repeat 1] [--json out.json]

Data: the same year as bench/backtest_bench.py (the bundled monthly BTC history made 1-minute
by the seeded, range-consistent generator). For each market: candles per second (bars / CPU time
of ``run_backtest``, features and the causality check included), fills, recentres by reason,
realised grid profit and final equity. Baseline in the same run: SMA(10)/SMA(20) over the same
candles (a strategy without resting orders, whose bars never walk the fill model), so the
grid's cost per bar reads against the backtester's floor.

Times are CPU seconds of this process (``time.process_time``), best of ``--repeat``: the
machine is shared, so treat the figures as rough.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backtest_bench import one_year_of_minutes

from engine_runtime.backtest import FeeModel, MarketData, run_backtest
from engine_runtime.strategies import Category, SmaCrossStrategy, create_strategy
from engine_runtime.strategies.grid import GridStrategy
from eternal_kernel.api.v1alpha1.strategy_params import GridParams, StrategyParams


def bench_grid(candles: object, category: Category) -> dict[str, object]:
    params = StrategyParams(grid=GridParams(category=category.value))
    strat = create_strategy("grid", params)
    assert isinstance(strat, GridStrategy)
    data = MarketData({("BTCUSDT", category): candles})  # type: ignore[dict-item]
    started = time.process_time()
    result = run_backtest(strat, data, initial_cash=Decimal(100000))
    elapsed = time.process_time() - started
    bars = len(result.index)
    reasons = Counter(r.reason for r in strat.take_recentres())
    return {
        "bars": bars,
        "seconds": elapsed,
        "candlesPerSecond": bars / elapsed,
        "fills": len(result.fills),
        "makerShare": sum(f.maker for f in result.fills) / max(1, len(result.fills)),
        "recentres": dict(reasons),
        "realizedGridProfit": str(strat.realized.quantize(Decimal("0.01"))),
        "finalEquity": float(result.equity[-1]),
    }


def bench_sma(candles: object) -> dict[str, float]:
    data = MarketData({("BTCUSDT", Category.LINEAR): candles})  # type: ignore[dict-item]
    strat = SmaCrossStrategy(symbol="BTCUSDT", fast=10, slow=20, qty=Decimal(1))
    started = time.process_time()
    result = run_backtest(strat, data, initial_cash=Decimal(1_000_000), fees=FeeModel())
    elapsed = time.process_time() - started
    return {"seconds": elapsed, "candlesPerSecond": len(result.index) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    btc, _ = one_year_of_minutes(args.days, args.seed)
    print(f"data: {len(btc)} 1-minute bars ({btc.index[0]} .. {btc.index[-1]})")
    figures: dict[str, object] = {"bars": len(btc)}
    sma = min((bench_sma(btc) for _ in range(args.repeat)), key=lambda f: f["seconds"])
    figures["baselineSma"] = sma
    print(
        f"baseline SMA(10)/SMA(20), no resting orders: {sma['seconds']:.2f} CPU s = "
        f"{sma['candlesPerSecond']:,.0f} candles/s"
    )
    for category in (Category.SPOT, Category.LINEAR):
        runs = [bench_grid(btc, category) for _ in range(args.repeat)]
        grid = min(runs, key=lambda f: float(f["seconds"]))  # type: ignore[arg-type]
        figures[f"grid_{category.value}"] = grid
        print(
            f"GRID {category.value}: {grid['bars']} candles in {grid['seconds']:.2f} CPU s = "
            f"{grid['candlesPerSecond']:,.0f} candles/s ({grid['fills']} fills, maker share "
            f"{grid['makerShare']:.3f}, recentres {grid['recentres']}, realised grid profit "
            f"{grid['realizedGridProfit']} USDT, final equity {grid['finalEquity']:,.2f})"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
