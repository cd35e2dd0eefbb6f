"""The peers' side of bench/backtest_bench.py, what can be checked without the peers installed
(vectorbt and NautilusTrader live only in bench/peers/env.sh's environments): the equality gate,
the sweep's grid, the data premise of the Nautilus comparison, and that the bench's sweep of
ours reports the same equity as the single runs it is compared beside."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from engine_runtime.strategies import Category, SmaCrossStrategy

pytestmark = pytest.mark.unit
L = Category.LINEAR
BENCH = Path(__file__).resolve().parents[3] / "bench"


def load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # backtest_bench imports backtest_peers by name
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def peers() -> ModuleType:
    return load("backtest_peers")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load("backtest_bench")


def test_a_peer_off_by_more_than_the_tolerance_stops_the_bench(peers: ModuleType) -> None:
    ours = 947_871.8039407727
    assert peers.check("close", ours, ours * (1 + 0.9e-6)) == pytest.approx(0.9e-6, rel=1e-3)
    with pytest.raises(SystemExit) as stopped:
        peers.check("SMA(10)/SMA(20) vectorbt", ours, ours * (1 + 1.1e-6))
    assert stopped.value.code != 0  # a message: exit status 1
    assert "SMA(10)/SMA(20) vectorbt" in str(stopped.value.code)


def test_the_sweep_is_100_distinct_pairs_with_fast_below_slow(peers: ModuleType) -> None:
    combos = peers.sweep_grid()
    assert len(combos) == len(set(combos)) == 100
    assert all(fast < slow for fast, slow in combos)


def test_ratios_read_against_their_goals(peers: ModuleType) -> None:
    assert peers.versus(0.1, 1.2, 10.0) == "12.0x faster (goal 10x: met)"
    assert peers.versus(0.1, 0.9, 10.0) == "9.0x faster (goal 10x: MISSED)"
    assert peers.versus(0.1, 0.04, 0.5) == "2.5x slower (goal 0.5x: MISSED)"
    assert peers.versus(0.1, 0.06, 0.5) == "1.7x slower (goal 0.5x: met)"
    assert peers.versus(0.1, 0.5, None) == "5.0x faster"


def test_crosses_before_a_gap_are_found(bench: ModuleType, peers: ModuleType) -> None:
    """Nautilus fills at the close of the signal bar, ours at the next open: the same price
    unless the next bar opens elsewhere. The bench names the crosses where that happens."""
    btc, _ = bench.one_year_of_minutes(2, 7)
    assert peers.gaps(btc) == []  # within a month, every bar opens at the previous close
    assert peers.crosses_before_gaps(btc, 10, 20) == []
    signals = SmaCrossStrategy(fast=10, slow=20).features("BTCUSDT", L, btc)["cross"]
    first, calm = int(np.flatnonzero(signals.to_numpy())[0]), 30
    assert signals.iloc[calm] == 0
    gapped = btc.copy()
    opens = gapped.columns.get_loc("open")
    gapped.iloc[first + 1, opens] += 0.5  # a gap after the first cross
    gapped.iloc[calm + 1, opens] -= 0.5  # and one after a bar without a cross
    assert peers.gaps(gapped) == [calm, first]
    assert peers.crosses_before_gaps(gapped, 10, 20) == [btc.index[first]]


def test_the_bench_sweep_reports_the_single_runs_equity(
    bench: ModuleType, peers: ModuleType
) -> None:
    """What the sweep line compares with vectorbt is the same strategy, fees and fills as the
    single-run lines: each pair's final equity equals ``_ours``'s to the statistics' cent."""
    btc, _ = bench.one_year_of_minutes(2, 7)
    combos = [(5, 60), (10, 20), (50, 200)]
    wall, cpu, equities = peers.ours_sweep(btc, combos, bench.COMMISSION, bench.CASH)
    assert wall > 0
    assert cpu > 0
    singles = [bench._ours(btc, fast, slow)[1] for fast, slow in combos]
    assert equities == pytest.approx(singles, abs=0.005)
    assert len(set(equities)) == 3  # the pairs trade differently: the comparison has teeth


def test_ours_is_timed_to_the_order_count_and_to_the_full_result_in_one_run(
    bench: ModuleType, peers: ModuleType
) -> None:
    """Both of ours come from the same run: the full result's time includes the lean one's, the
    order count is the full result's number of fills; vectorbt is judged on the lean figure,
    NautilusTrader (and backtesting.py, in the bench itself) on the full one."""
    btc, _ = bench.one_year_of_minutes(2, 7)
    ours = bench._ours(btc, 10, 20)
    assert 0 < ours.lean <= ours.full
    assert ours.fills > 100
    loop = bench._ours(btc, 10, 20, signal_path=False)
    assert loop.fills == ours.fills
    assert loop.equity == pytest.approx(ours.equity, rel=1e-9)
    lean, full = peers.Run(ours.lean, ours.equity, ours.fills), peers.Run(ours.full, 0.0, 0)
    judged = {name: pick(lean, full) for name, pick in peers.LIKE_FOR_LIKE.items()}
    assert judged == {
        "vectorbtFirst": lean, "vectorbtFirstCached": lean, "vectorbtWarm": lean, "nautilus": full,
    }  # fmt: skip
