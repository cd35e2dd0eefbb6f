"""Backtester benchmark: TREND and TACTICAL throughput, and an SMA crossover against
backtesting.py.

    .venv/bin/python bench/backtest_bench.py [--days 365] [--seed 7] [--json bench/out/b.json]
    .venv/bin/python bench/backtest_bench.py --days 90 --no-sma   # TREND and TACTICAL only

1. TREND over one year of 1-minute candles for BTCUSDT and ETHUSDT perps: candles per second
   (2 x bars / wall time of ``run_backtest``, features and the causality check included). Twice:
   with the default parameters, and with Kelly sizing never engaging (``kellyMinTrades`` 10000),
   because on noisy minute bars the recorded edge turns negative after the first 20 trades and
   1/8 Kelly then stops the default engine from trading at all. Then TACTICAL (default
   parameters) on the same candles as BTCUSDT and ETHUSDT spot.
2. The same SMA crossover, 1 unit, flipping long/short at the next open, run in our backtester
   and in ``backtesting`` (0.6, ``exclusive_orders=True``) on the same BTC 1-minute candles in
   the same process, with the same fee model (a commission rate on every fill's notional, no
   spread or slippage). For SMA(10)/SMA(20) (backtesting.py's example) and SMA(50)/SMA(200).
   Prints both times, their ratio, both final equities and whether they agree (relative
   difference below 1e-9); ours also with the signal path off (``signal_path=False``: the event
   loop, the baseline in the same run; its final equity must equal the signal path's).

   Ours is timed twice in the same run, side by side: **to final equity and order count**
   (``run_backtest``, then ``result.equity[-1]`` and ``result.fill_count``) and **full result**
   (the same run, then its statistics, fills and round trips read: ``result.stats``,
   ``result.fills``, ``result.trips``). The result builds those on first read (from the columns
   the signal path keeps), so the first figure leaves them out and the second includes them.
   Each peer is judged like for like against the figure that does what the peer's timed call
   does: vectorbt's warm and first calls (``Portfolio.from_signals`` then ``final_value()`` and
   ``orders.count()``: order records, statistics only when asked) against *to final equity
   and order count*; backtesting.py (``Backtest.run`` computes its statistics and trades) and
   NautilusTrader (its engine builds every order and fill) against the *full result*. Both of
   ours are printed and kept in the JSON (``oursSeconds``, ``oursFullSeconds``).

3. With ``--peers`` (``make bench-peers``: run in the peers' environment, never the runtime's),
   the same crossovers in vectorbt (first call with and without numba's cache, warm call) and
   NautilusTrader, a 100-pair sweep against vectorbt's broadcast ``from_signals``, and a table
   of every figure against the goals of issue 22; see bench/backtest_peers.py. A peer's final
   equity more than 1e-6 (relative) from ours stops the bench with exit status 1.

    bench/peers/env.sh vectorbt     # prints the peers' venv (cached), e.g. V
    V/bin/python bench/backtest_bench.py --peers --nautilus-python N/bin/python --no-trend

Times are CPU seconds of this process (``time.process_time``), the best of ``--repeat`` runs for
each side alike: the machine this runs on is shared, and wall time would measure the neighbours.

Data: the real monthly BTC-USD history of the ``backtesting`` package made 1-minute by the
seeded, range-consistent generator; ETH is derived from it (synthetic).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from engine_runtime.backtest import FeeModel, MarketData, load_btc_monthly, run_backtest
from engine_runtime.backtest.synthetic import MONTH, derive_asset, fine_candles
from engine_runtime.strategies import Category, SmaCrossStrategy, create_strategy
from eternal_kernel.api.v1alpha1.strategy_params import StrategyParams, TrendParams

COMMISSION = 0.00055  # Bybit linear taker
CASH = 1_000_000


def one_year_of_minutes(days: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    monthly = load_btc_monthly()
    months = monthly.loc["2023-01-01":"2023-12-31"]
    btc = fine_candles(months, "1min", seed, MONTH).iloc[: days * 1440]
    eth = derive_asset(btc, beta=1.2, noise=0.0003, scale=0.06, seed=seed + 1)
    return btc, eth


def bench_trend(btc: pd.DataFrame, eth: pd.DataFrame, kelly: bool) -> dict[str, float]:
    data = MarketData({("BTCUSDT", Category.LINEAR): btc, ("ETHUSDT", Category.LINEAR): eth})
    params = (
        StrategyParams() if kelly else StrategyParams(trend=TrendParams(kelly_min_trades=10000))
    )
    started = time.process_time()
    result = run_backtest(create_strategy("trend", params), data, initial_cash=Decimal(100000))
    elapsed = time.process_time() - started
    candles = 2 * len(btc)
    return {
        "bars": float(len(btc)),
        "candles": float(candles),
        "seconds": elapsed,
        "candlesPerSecond": candles / elapsed,
        "fills": float(len(result.fills)),
        "finalEquity": float(result.equity[-1]),
    }


def bench_tactical(btc: pd.DataFrame, eth: pd.DataFrame) -> dict[str, float]:
    data = MarketData({("BTCUSDT", Category.SPOT): btc, ("ETHUSDT", Category.SPOT): eth})
    started = time.process_time()
    result = run_backtest(create_strategy("tactical"), data, initial_cash=Decimal(100000))
    elapsed = time.process_time() - started
    candles = 2 * len(btc)
    return {
        "bars": float(len(btc)),
        "candles": float(candles),
        "seconds": elapsed,
        "candlesPerSecond": candles / elapsed,
        "fills": float(len(result.fills)),
        "finalEquity": float(result.equity[-1]),
    }


class Ours(NamedTuple):
    """One run of ours: CPU seconds to the final equity and the order count (``lean``, what
    vectorbt's warm call does), the final equity, the fills, and CPU seconds to the full result
    (``full``: the same run, then its statistics, fills and round trips read)."""

    lean: float
    equity: float
    fills: int
    full: float


def _ours(btc: pd.DataFrame, fast: int = 10, slow: int = 20, signal_path: bool = True) -> Ours:
    data = MarketData({("BTCUSDT", Category.LINEAR): btc})
    strat = SmaCrossStrategy(symbol="BTCUSDT", fast=fast, slow=slow, qty=Decimal(1))
    fees = FeeModel(linear_taker=COMMISSION, linear_maker=COMMISSION, slippage=0.0)
    started = time.process_time()
    result = run_backtest(
        strat, data, initial_cash=Decimal(CASH), fees=fees, signal_path=signal_path
    )
    equity, fills = float(result.equity[-1]), result.fill_count  # vectorbt's warm call's reads
    lean = time.process_time() - started
    if len(result.fills) != fills or not result.trips or result.stats.final_equity is None:
        raise SystemExit("the full result disagrees with the order count")
    return Ours(lean, equity, fills, time.process_time() - started)


def _theirs(btc: pd.DataFrame, fast: int = 10, slow: int = 20) -> tuple[float, float, int]:
    from backtesting import Backtest, Strategy  # dev extra, benchmark only
    from backtesting.lib import crossover

    def sma(values: pd.Series, n: int) -> pd.Series:
        return pd.Series(values).rolling(n).mean()

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, fast)
            self.slow = self.I(sma, self.data.Close, slow)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy(size=1)
            elif crossover(self.slow, self.fast):
                self.sell(size=1)

    frame = btc.rename(columns=str.capitalize)
    frame.index = frame.index.tz_localize(None)
    started = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(frame, SmaCross, cash=CASH, commission=COMMISSION, exclusive_orders=True)
        stats = bt.run()
    elapsed = time.process_time() - started
    return elapsed, float(stats["Equity Final [$]"]), int(stats["# Trades"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--no-trend", action="store_true", help="skip the TREND and TACTICAL throughput"
    )
    parser.add_argument("--no-sma", action="store_true", help="skip the SMA crossovers (2.)")
    parser.add_argument(
        "--peers", action="store_true", help="vectorbt and NautilusTrader too (make bench-peers)"
    )
    parser.add_argument(
        "--nautilus-python", default=None, help="the nautilus environment's python (--peers)"
    )
    args = parser.parse_args()
    if args.peers and not args.nautilus_python:
        parser.error("--peers needs --nautilus-python (make bench-peers sets both)")

    btc, eth = one_year_of_minutes(args.days, args.seed)
    print(f"data: {len(btc)} 1-minute bars per symbol ({btc.index[0]} .. {btc.index[-1]})")

    figures: dict[str, object] = {"bars": len(btc)}
    if not args.no_trend:
        for label, kelly in (("default", True), ("kellyOff", False)):
            trend = min(
                (bench_trend(btc, eth, kelly) for _ in range(args.repeat)),
                key=lambda t: t["seconds"],
            )
            figures[f"trend_{label}"] = trend
            print(
                f"TREND ({label}), 2 symbols: {trend['candles']:.0f} candles in "
                f"{trend['seconds']:.2f} CPU s = {trend['candlesPerSecond']:,.0f} candles/s "
                f"({trend['fills']:.0f} fills, final equity {trend['finalEquity']:,.2f})"
            )
        tactical = min(
            (bench_tactical(btc, eth) for _ in range(args.repeat)), key=lambda t: t["seconds"]
        )
        figures["tactical"] = tactical
        print(
            f"TACTICAL, 2 symbols: {tactical['candles']:.0f} candles in "
            f"{tactical['seconds']:.2f} CPU s = {tactical['candlesPerSecond']:,.0f} candles/s "
            f"({tactical['fills']:.0f} fills, final equity {tactical['finalEquity']:,.2f})"
        )
    for fast, slow in () if args.no_sma else ((10, 20), (50, 200)):
        runs = [_ours(btc, fast, slow) for _ in range(args.repeat)]
        ours = min(runs)  # by the figure vectorbt's warm call is judged against
        ours_full = min(o.full for o in runs)  # each figure the best of the same runs
        loops = [_ours(btc, fast, slow, signal_path=False) for _ in range(args.repeat)]
        loop, loop_full = loops[0], min(o.full for o in loops)
        if loop.fills != ours.fills or abs(loop.equity - ours.equity) > 1e-9 * abs(ours.equity):
            raise SystemExit(f"signal path {ours.equity!r} != event loop {loop.equity!r}")
        theirs_s, theirs_eq, theirs_trades = min(
            _theirs(btc, fast, slow) for _ in range(args.repeat)
        )
        rel = abs(ours.equity - theirs_eq) / abs(theirs_eq)
        agree = rel < 1e-9
        name = f"SMA({fast})/SMA({slow})"
        print(
            f"{name} ours, to final equity and order count: {ours.lean:.3f} CPU s, "
            f"final equity {ours.equity:,.6f} ({ours.fills} fills)"
        )
        print(f"{name} ours, full result (statistics, fills, round trips): {ours_full:.3f} CPU s")
        print(
            f"{name} ours, event loop (signal path off), full result: {loop_full:.3f} CPU s "
            f"(the signal path is {loop_full / ours_full:.1f}x faster)"
        )
        print(
            f"{name} backtesting: {theirs_s:.3f} CPU s, final equity {theirs_eq:,.6f} "
            f"({theirs_trades} trades)"
        )
        print(f"{name} speed ratio (backtesting / ours, full result): {theirs_s / ours_full:.1f}x")
        print(f"{name} final equity agrees: {agree} (relative difference {rel:.2e})")
        figures[f"sma_{fast}_{slow}"] = {
            "oursSeconds": ours.lean,
            "oursFullSeconds": ours_full,
            "oursEventLoopSeconds": loop_full,
            "backtestingSeconds": theirs_s,
            "ratio": theirs_s / ours_full,
            "oursFinalEquity": ours.equity,
            "backtestingFinalEquity": theirs_eq,
            "oursFills": ours.fills,
            "backtestingTrades": theirs_trades,
            "relativeDifference": rel,
            "agree": agree,
        }
    if args.peers:
        from backtest_peers import bench_peers  # the peers' environment only

        figures["peers"] = bench_peers(
            btc, figures, args.nautilus_python, args.repeat, COMMISSION, CASH
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
