"""The peers of bench/backtest_bench.py beside backtesting.py: vectorbt and NautilusTrader.

Run by ``make bench-peers`` (``bench/peers/env.sh``): the bench runs in the vectorbt
environment (the runtime's locked dependencies plus vectorbt 1.2.0, numba, llvmlite), and
NautilusTrader 1.221.0, which needs pandas < 3, runs ``bench/peers/nautilus_sma.py`` as a child
process in an environment of its own. Neither ever enters the project's .venv.

* **vectorbt**: the same SMA crossover as ``SmaCrossStrategy`` with vectorbt's own ``MA`` and
  ``ma_crossed_above/below``; the signals shifted one bar and filled at ``open`` (decided at a
  bar's close, filled at the next bar's open), size 1 unit, ``direction="both"`` (an opposite
  signal flips long/short with one order of 2), the commission on every fill's notional.
  Final equity is ``final_value()``: cash plus the open position at the last close, as ours.
  Its *first call* runs in a fresh process with an empty numba cache (compilation included)
  and again in a fresh process with that cache filled (vectorbt caches its compiled functions on
  disk: a user's later sessions); *warm* is the best of ``--repeat`` calls after those.
* **sweep**: 100 (fast, slow) pairs over the same candles: ours with ``sweep.run_combos``
  (cold: fresh worker processes, every core) against one broadcast ``from_signals`` over the
  same grid (vectorbt already compiled); the final equity of every combination is compared.
  Wall time, because ours runs on every core; CPU seconds printed beside it.
* **NautilusTrader**: see ``bench/peers/nautilus_sma.py`` (bars, a market order at each cross,
  the commission as the taker fee).

Any final equity more than ``TOLERANCE`` (relative) from ours stops the bench with exit status 1.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TOLERANCE = 1e-6
HERE = Path(__file__).resolve().parent
SWEEP_FAST = tuple(range(5, 55, 5))  # 10 values
SWEEP_SLOW = tuple(range(60, 260, 20))  # 10 values: 100 pairs, every fast below every slow


@dataclass(frozen=True, slots=True)
class Run:
    """One backtest's figures: CPU seconds, final equity (quote currency), fills."""

    seconds: float
    equity: float
    fills: int


Row = tuple[str, str, float, float | None, int | None, str]
"""A line of the table: case, backtester, seconds, final equity, fills, the comparison."""


class Disagreement(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"DISAGREEMENT: {message}")


def relative(ours: float, theirs: float) -> float:
    return abs(ours - theirs) / abs(ours)


def check(label: str, ours: float, theirs: float) -> float:
    """The relative difference of a peer's final equity from ours; stops the bench beyond
    ``TOLERANCE``."""
    rel = relative(ours, theirs)
    if rel > TOLERANCE:
        raise Disagreement(f"{label}: final equity {theirs!r}, ours {ours!r} ({rel:.2e} apart)")
    return rel


# --- vectorbt ---------------------------------------------------------------------------------


Periods = int | Sequence[int]


def vectorbt_sma(
    candles: pd.DataFrame, fast: Periods, slow: Periods, fee: float, cash: float
) -> Any:
    """The SMA crossover in vectorbt; with lists of periods, one column per (fast, slow) pair
    (broadcast). Returns the final value (a float, or a Series per pair) and the order count."""
    import vectorbt as vbt  # the peers' environment only

    close, open_ = candles["close"], candles["open"]
    fast_ma = vbt.MA.run(close, window=fast, short_name="fast")
    slow_ma = vbt.MA.run(close, window=slow, short_name="slow")
    entries = fast_ma.ma_crossed_above(slow_ma).vbt.fshift(1, fill_value=False)
    exits = fast_ma.ma_crossed_below(slow_ma).vbt.fshift(1, fill_value=False)
    portfolio = vbt.Portfolio.from_signals(
        close,
        entries,
        exits,
        price=open_,
        size=1.0,
        size_type="amount",
        fees=fee,
        direction="both",
        init_cash=cash,
        freq="1min",
    )
    return portfolio.final_value(), portfolio.orders.count()


def naive(candles: pd.DataFrame) -> pd.DataFrame:
    """The candles on a timezone-naive index (UTC), as backtesting.py gets them too: vectorbt
    1.2.0 checks shapes by converting the index to a NumPy array, which for a timezone-aware
    index means an object array of Timestamps (about 80% of a warm call on 43,200 bars)."""
    out = candles.copy()
    out.index = out.index.tz_localize(None)
    return out


def vectorbt_run(candles: pd.DataFrame, fast: int, slow: int, fee: float, cash: float) -> Run:
    candles = naive(candles)
    started = time.process_time()
    equity, orders = vectorbt_sma(candles, fast, slow, fee, cash)
    return Run(time.process_time() - started, float(equity), int(orders))


def vectorbt_first_call(
    candles_path: Path, fast: int, slow: int, fee: float, cash: float, numba_cache: Path
) -> Run:
    """vectorbt's first call in a fresh interpreter (this one), numba's on-disk cache in
    ``numba_cache`` (empty: everything compiles)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(numba_cache)}
    args = [str(candles_path), str(fast), str(slow), str(fee), str(cash)]
    out = subprocess.run(
        [sys.executable, __file__, "vectorbt-first", *args],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    figures = json.loads(out.stdout.splitlines()[-1])
    return Run(figures["seconds"], figures["equity"], figures["fills"])


def vectorbt_sweep(
    candles: pd.DataFrame, combos: Sequence[tuple[int, int]], fee: float, cash: float
) -> tuple[float, float, list[float]]:
    """Wall seconds, CPU seconds and the final equity of every pair (in ``combos`` order)."""
    candles = naive(candles)
    wall, cpu = time.perf_counter(), time.process_time()
    values, _ = vectorbt_sma(candles, [f for f, _ in combos], [s for _, s in combos], fee, cash)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, [float(v) for v in values.to_numpy()]


# --- ours: the sweep --------------------------------------------------------------------------


def ours_sweep(
    candles: pd.DataFrame, combos: Sequence[tuple[int, int]], fee: float, cash: float
) -> tuple[float, float, list[float]]:
    """``sweep.run_combos`` on every core, cold (fresh workers). Wall seconds, CPU seconds of
    this process and its workers, and every pair's final equity (the statistics' 2 decimals)."""
    from engine_runtime.backtest import FeeModel, MarketData
    from engine_runtime.backtest.sweep import RunSettings, StrategyBuilder, run_combos
    from engine_runtime.strategies import Category

    data = MarketData({("BTCUSDT", Category.LINEAR): candles})
    build = StrategyBuilder("sma-cross", market=("BTCUSDT", Category.LINEAR))
    settings = RunSettings(
        initial_cash=Decimal(str(cash)),
        fees=FeeModel(linear_taker=fee, linear_maker=fee, slippage=0.0),
    )
    grid = [{"fast": f, "slow": s} for f, s in combos]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, cpu = time.perf_counter(), time.process_time()
    rows = run_combos(build, data, grid, settings=settings)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    failed = [r for r in rows if r.error]
    if failed:
        raise SystemExit(f"sweep: {len(failed)} combinations failed, e.g. {failed[0].error}")
    return wall, cpu, [float(str(r.stats["final_equity"])) for r in rows]


def sweep_grid() -> list[tuple[int, int]]:
    return [(f, s) for f in SWEEP_FAST for s in SWEEP_SLOW]


# --- NautilusTrader ---------------------------------------------------------------------------


def nautilus_run(
    python: str, candles_path: Path, fast: int, slow: int, fee: float, cash: int, repeat: int
) -> Run:
    """``bench/peers/nautilus_sma.py`` in the nautilus environment's interpreter."""
    command = [
        python, str(HERE / "peers" / "nautilus_sma.py"), str(candles_path),
        "--fast", str(fast), "--slow", str(slow), "--fee", str(fee), "--cash", str(cash),
        "--repeat", str(repeat),
    ]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    figures = json.loads(out.stdout.splitlines()[-1])
    return Run(figures["seconds"], figures["finalEquity"], int(figures["fills"]))


def write_candles(candles: pd.DataFrame, folder: str) -> Path:
    path = Path(folder) / "candles.parquet"
    candles.to_parquet(path)
    return path


def gaps(candles: pd.DataFrame) -> list[int]:
    """The bars after which the next one does not open at this one's close (on the bench's
    candles, the 9 month boundaries of the year: the monthly history opens where it opens)."""
    opens, closes = candles["open"].to_numpy(), candles["close"].to_numpy()
    return [int(i) for i in np.flatnonzero(opens[1:] != closes[:-1])]


def crosses_before_gaps(candles: pd.DataFrame, fast: int, slow: int) -> list[pd.Timestamp]:
    """The bars on which the crossover signals and the next bar opens away from this close.

    Nautilus fills a market order sent on a bar at that bar's close, ours at the next bar's
    open: the two are the same price everywhere but after such a bar. Computed with the very
    indicator functions ``SmaCrossStrategy`` uses."""
    from engine_runtime import indicators as ta

    closes = candles["close"].to_numpy()
    fast_sma, slow_sma = ta.sma(closes, fast), ta.sma(closes, slow)
    cross = ta.crossed_above(fast_sma, slow_sma) | ta.crossed_below(fast_sma, slow_sma)
    return [candles.index[i] for i in gaps(candles) if cross[i]]


# --- the table --------------------------------------------------------------------------------


def table(rows: Sequence[Row]) -> str:
    """Rows of (case, who, seconds, final equity, fills, ours' speed against it and the goal)."""
    header = ("case", "backtester", "seconds", "final equity", "fills", "ours is (goal)")
    cells = [
        (case, who, f"{sec:.3f}", "" if eq is None else f"{eq:,.4f}",
         "" if fills is None else str(fills), note)
        for case, who, sec, eq, fills, note in rows
    ]  # fmt: skip
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([line.format(*header), *(line.format(*c) for c in cells)])


def versus(ours: float, theirs: float, goal: float | None) -> str:
    """``theirs / ours`` as "12.3x faster", with the goal (the least ratio) and whether it is
    met."""
    ratio = theirs / ours
    said = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
    if goal is None:
        return said
    met = "met" if ratio >= goal else "MISSED"
    return f"{said} (goal {goal:g}x: {met})"


GOALS = {"backtesting": 10.0, "vectorbtFirst": 1.0, "vectorbtWarm": 0.5, "nautilus": 30.0}

LIKE_FOR_LIKE: dict[str, Callable[[Run, Run], Run]] = {
    "vectorbtFirst": lambda lean, full: lean,
    "vectorbtFirstCached": lambda lean, full: lean,
    "vectorbtWarm": lambda lean, full: lean,
    "nautilus": lambda lean, full: full,
}
"""Which of ours each peer is judged against (``lean``: to final equity and order count;
``full``: with statistics, fills and round trips built): what the peer's timed call does.
vectorbt's ``from_signals`` + ``final_value()`` + ``orders.count()`` builds order records and
computes statistics only when asked; NautilusTrader's engine builds every order and fill as it
runs (and backtesting.py's ``run`` its statistics and trades: it is judged on ``full`` too)."""


def bench_peers(
    candles: pd.DataFrame,
    figures: dict[str, Any],
    nautilus_python: str,
    repeat: int,
    fee: float,
    cash: int,
) -> dict[str, Any]:
    """Every peer's figures beside ours (already in ``figures``, with backtesting.py's), the
    sweep, and the table; returns the figures for the JSON."""
    out: dict[str, Any] = {"tolerance": TOLERANCE, "gaps": len(gaps(candles))}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as folder:
        path = write_candles(candles, folder)
        for fast, slow in ((10, 20), (50, 200)):
            case = f"SMA({fast})/SMA({slow})"
            base = figures[f"sma_{fast}_{slow}"]
            ours = Run(base["oursSeconds"], base["oursFinalEquity"], base["oursFills"])
            full = Run(base["oursFullSeconds"], ours.equity, ours.fills)
            cache = Path(folder) / f"numba-{fast}-{slow}"
            runs = {
                "vectorbtFirst": vectorbt_first_call(path, fast, slow, fee, cash, cache),
                "vectorbtFirstCached": vectorbt_first_call(path, fast, slow, fee, cash, cache),
            }
            vectorbt_run(candles, fast, slow, fee, cash)  # compiled (or loaded) here too
            runs["vectorbtWarm"] = min(
                (vectorbt_run(candles, fast, slow, fee, cash) for _ in range(repeat)),
                key=lambda r: r.seconds,
            )
            at_gaps = crosses_before_gaps(candles, fast, slow)
            print(
                f"{case}: {len(at_gaps)} of the {out['gaps']} bars followed by an open away from "
                "their close carry a cross (Nautilus fills those at the close, ours at the open)"
                + (f": {', '.join(map(str, at_gaps))}" if at_gaps else "")
            )
            runs["nautilus"] = nautilus_run(nautilus_python, path, fast, slow, fee, cash, repeat)
            entry: dict[str, Any] = {
                "ours": _as_dict(ours), "oursFull": _as_dict(full),
                "crossesBeforeGaps": len(at_gaps),
            }  # fmt: skip
            for name, run in runs.items():
                rel = check(f"{case} {name}", ours.equity, run.equity)
                against = LIKE_FOR_LIKE[name](ours, full)
                entry[name] = {**_as_dict(run), "relativeDifference": rel,
                               "ratio": run.seconds / against.seconds,
                               "fullResultRatio": run.seconds / full.seconds}  # fmt: skip
            bt_seconds = float(base["backtestingSeconds"])
            entry["backtesting"] = {"seconds": bt_seconds, "ratio": bt_seconds / full.seconds}
            out[f"sma_{fast}_{slow}"] = entry
            loop_s = float(base["oursEventLoopSeconds"])
            rows += [
                (case, "ours, to final equity and order count", ours.seconds, ours.equity,
                 ours.fills, "vectorbt is judged on this"),
                (case, "ours, full result (stats, fills, trips)", full.seconds, None, None,
                 "backtesting.py, Nautilus on this"),
                (case, "ours, event loop, full result", loop_s, None, None,
                 f"signal path {loop_s / full.seconds:.1f}x faster"),
                (case, "backtesting.py 0.6", bt_seconds, base["backtestingFinalEquity"],
                 None, versus(full.seconds, bt_seconds, GOALS["backtesting"])),
            ]  # fmt: skip
            labels = {
                "vectorbtFirst": "vectorbt, first call",
                "vectorbtFirstCached": "vectorbt, first, numba cached",
                "vectorbtWarm": "vectorbt, warm",
                "nautilus": "NautilusTrader",
            }
            for name, label in labels.items():
                run = runs[name]
                note = versus(LIKE_FOR_LIKE[name](ours, full).seconds, run.seconds, GOALS.get(name))
                if name.startswith("vectorbt"):  # the full result's figure stays visible
                    note += f"; full result {versus(full.seconds, run.seconds, None)}"
                rows.append((case, label, run.seconds, run.equity, run.fills, note))
        combos = sweep_grid()
        o_wall, o_cpu, o_equity = ours_sweep(candles, combos, fee, cash)
        v_wall, v_cpu, v_equity = vectorbt_sweep(candles, combos, fee, cash)
        worst = max(relative(a, b) for a, b in zip(o_equity, v_equity, strict=True))
        for (f, s), a, b in zip(combos, o_equity, v_equity, strict=True):
            check(f"sweep fast={f} slow={s}", a, b)
        out["sweep"] = {
            "combinations": len(combos),
            "fast": list(SWEEP_FAST),
            "slow": list(SWEEP_SLOW),
            "workers": os.cpu_count(),
            "oursWallSeconds": o_wall,
            "oursCpuSeconds": o_cpu,
            "vectorbtWallSeconds": v_wall,
            "vectorbtCpuSeconds": v_cpu,
            "ratio": v_wall / o_wall,
            "maxRelativeDifference": worst,
        }
        case = f"sweep {len(combos)} pairs"
        rows += [
            (case, f"ours, {os.cpu_count()} workers (wall)", o_wall, None, None,
             f"CPU {o_cpu:.1f} s"),
            (case, "vectorbt broadcast (wall)", v_wall, None, None,
             f"{versus(o_wall, v_wall, 1.0)}; CPU {v_cpu:.1f} s"),
        ]  # fmt: skip
    print(f"sweep: every pair's final equity agrees (largest relative difference {worst:.1e})")
    print(table(rows))
    return out


def _as_dict(run: Run) -> dict[str, float]:
    return {"seconds": run.seconds, "finalEquity": run.equity, "fills": run.fills}


def _first_call_main(argv: Sequence[str]) -> None:
    path, fast, slow, fee, cash = argv
    candles = pd.read_parquet(path)
    import vectorbt  # noqa: F401 - the import is not part of the call

    run = vectorbt_run(candles, int(fast), int(slow), float(fee), float(cash))
    print(json.dumps({"seconds": run.seconds, "equity": run.equity, "fills": run.fills}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["vectorbt-first"]:
        _first_call_main(sys.argv[2:])
    else:
        raise SystemExit("run bench/backtest_bench.py --peers (make bench-peers)")
