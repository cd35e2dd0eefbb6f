"""The result built on first read: a backtest's fills, round trips and statistics are what an
eager build gives, and a caller reading only the equity and the order count builds none of them.

Also the look-ahead check's exact-equality shortcut: it answers as ``np.allclose`` does, and a
peeking signal strategy is still refused on the signal path.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from engine_runtime.backtest import (
    FeeModel,
    LookAheadError,
    MarketData,
    Simulation,
    lookahead,
    run_backtest,
    runner,
)
from engine_runtime.backtest.runs import EngineSpec
from engine_runtime.backtest.stats import compute_stats
from engine_runtime.strategies import Category, SmaCrossStrategy
from engine_runtime.strategies.interface import Side

pytestmark = pytest.mark.unit

LINEAR = Category.LINEAR
FEES = FeeModel(linear_taker=0.00055, linear_maker=0.00055, slippage=0.0002)
CASH = Decimal(100_000)


def _data(n: int, seed: int) -> MarketData:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, n)))
    opens = np.concatenate(([close[0]], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.004, n))
    frame = pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, close) * (1 + wick),
            "low": np.minimum(opens, close) * (1 - wick),
            "close": close,
        },
        index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC"),
    )
    return MarketData({("BTCUSDT", LINEAR): frame})


class CountingSma(SmaCrossStrategy):
    """Counts the order ids it makes: one per fill built."""

    ids = 0

    def signal_intent_id(self, engine: str, now_ms: int, side: Side) -> str:
        type(self).ids += 1
        return super().signal_intent_id(engine, now_ms, side)


class PeekingSma(SmaCrossStrategy):
    """The SMA crossover acting on the *next* bar's cross: a look-ahead."""

    def features(self, symbol: str, category: Category, candles: pd.DataFrame) -> pd.DataFrame:
        return super().features(symbol, category, candles).shift(-1)


def test_reading_the_final_equity_and_the_order_count_builds_no_fill_and_no_statistic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    computed: list[int] = []

    def counting_stats(*args: object, **kwargs: object) -> object:
        computed.append(1)
        return compute_stats(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "compute_stats", counting_stats)
    CountingSma.ids = 0
    data = _data(4000, 3)
    result = run_backtest(CountingSma("BTCUSDT", 5, 12), data, initial_cash=CASH, fees=FEES)
    final, count = float(result.equity[-1]), result.fill_count
    assert count > 100
    assert (CountingSma.ids, computed) == (0, [])  # nothing built yet
    assert len(result.fills) == count == CountingSma.ids  # built once, on first read
    assert result.fills is not None
    assert CountingSma.ids == count
    assert result.stats.final_equity == Decimal(str(round(final, 2)))
    assert result.stats is result.stats
    assert computed == [1]
    looped = run_backtest(
        SmaCrossStrategy("BTCUSDT", 5, 12), data, initial_cash=CASH, fees=FEES, signal_path=False
    )
    assert looped.fill_count == len(looped.fills) == count


def _eager(data: MarketData, fast: int, slow: int) -> tuple[list[object], list[object], object]:
    """The fills, round trips and statistics as ``runner._collect`` built them before they were
    built on first read: straight from the simulation, every one at once."""
    strategy = SmaCrossStrategy("BTCUSDT", fast, slow, Decimal("0.5"))
    sim = Simulation(data, [EngineSpec("backtest", strategy)], initial_cash=CASH, fees=FEES)
    sim.run()
    run = sim.runs[0]
    acct = run.account
    fills = list(acct.fills)
    trips = acct.trips + list(acct.open_trips.values())
    start = float(CASH)
    duration = float(sim.close_ms[-1] - sim.open_ms[0])
    stats = compute_stats(
        sim.nav,
        index=sim.index,
        start_equity=start,
        equity=run.equity,
        duration_ms=duration,
        trips=trips,
        exposure=float(run.exposed.mean()),
        fees=acct.fees_paid,
        funding=acct.funding_received,
        benchmark=sim.feed.columns[("BTCUSDT", LINEAR)].arrays["close"],
        warmup=strategy.warmup_bars(),
    )
    return list(fills), list(trips), stats


@pytest.mark.parametrize(("seed", "fast", "slow", "stats_first"), [
    (1, 3, 8, False), (2, 3, 8, True), (3, 7, 30, False), (4, 7, 30, True), (5, 2, 5, True),
])  # fmt: skip
def test_the_objects_built_on_first_read_equal_the_eager_ones_and_the_event_loops(
    seed: int, fast: int, slow: int, stats_first: bool
) -> None:
    data = _data(5000, seed)
    fills, trips, stats = _eager(data, fast, slow)
    assert len(fills) > 50
    assert trips

    def run(signal_path: bool) -> runner.BacktestResult:
        strategy = SmaCrossStrategy("BTCUSDT", fast, slow, Decimal("0.5"))
        return run_backtest(strategy, data, initial_cash=CASH, fees=FEES, signal_path=signal_path)

    lazy, looped = run(True), run(False)
    engine = lazy.engines["backtest"]
    if stats_first:  # the statistics build the round trips before anyone reads them
        assert lazy.stats == stats
    assert engine.fills == lazy.fills == fills == looped.fills
    assert engine.trips == lazy.trips == trips == looped.trips
    assert lazy.stats == engine.stats == stats == looped.stats
    # the signal path's statistics once lacked these (the market's closes were looked up with
    # ``or`` on a Columns dict that nothing had read, hence empty and false)
    assert lazy.stats.buy_and_hold_return is not None
    assert lazy.stats.beta is not None
    assert lazy.fill_count == len(fills)


def test_a_portfolio_of_two_builds_its_statistics_from_both_engines_trips() -> None:
    data = _data(3000, 9)
    result = runner.run_portfolio(
        data,
        strategies={
            "a": SmaCrossStrategy("BTCUSDT", 3, 8),
            "b": SmaCrossStrategy("BTCUSDT", 5, 20),
        },
        weights={"a": Decimal("0.5"), "b": Decimal("0.5")},
        governance=False,
    )
    trips = [t for e in result.engines.values() for t in e.trips if t.exit_ms]
    assert result.stats.trades == len(trips) > 0
    assert result.fill_count == len(result.fills) > 0


@pytest.mark.parametrize("seed", range(20))
def test_the_causality_comparison_answers_as_allclose(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, 100.0, (500, 3))
    a[rng.random(a.shape) < 0.05] = np.nan
    b = a.copy()
    scale = float(rng.choice([0.0, 1e-15, 1e-10, 1e-8, 1e-3]))
    b *= 1 + scale * rng.normal(size=b.shape)
    if seed % 4 == 1:  # a NaN where the full computation has a number
        b[int(rng.integers(0, 500)), 0] = np.nan
    if seed % 4 == 2:  # one value off
        b[int(rng.integers(0, 500)), 1] += 1.0
    expected = bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
    assert lookahead._close(a, b) is expected


def test_a_peeking_signal_strategy_is_still_refused() -> None:
    data = _data(3000, 4)
    with pytest.raises(LookAheadError, match="later bars"):
        run_backtest(PeekingSma("BTCUSDT", 3, 8), data, initial_cash=CASH, fees=FEES)
    peeked = run_backtest(
        PeekingSma("BTCUSDT", 3, 8), data, initial_cash=CASH, fees=FEES, causality_check=False
    )
    honest = run_backtest(SmaCrossStrategy("BTCUSDT", 3, 8), data, initial_cash=CASH, fees=FEES)
    assert peeked.equity[-1] > honest.equity[-1]  # the peek would have paid
