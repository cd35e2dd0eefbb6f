"""The signal path (``backtest.signals``) against the event loop: the same run, field by field.

Random candles (gaps between bars included), random SMA pairs, quantities, fees and slippage:
the vectorised run must give the event loop's fills and round trips exactly, its per-bar equity
and NAV bit for bit against the loop that visits every bar and to 1e-12 against the loop's own
fast path, and leave the account and the strategy as the loop does. Where the venue would refuse
an order or liquidate, the signal path must decline and the event loop run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from engine_runtime import indicators as ta
from engine_runtime.backtest import FeeModel, MarketData, Simulation
from engine_runtime.backtest.runs import EngineSpec
from engine_runtime.backtest.signals import SignalStrategy, run_signals
from engine_runtime.strategies import Category, SmaCrossStrategy
from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import (
    Intent,
    MarketKey,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
    intent_id,
)

pytestmark = pytest.mark.unit

LINEAR = Category.LINEAR


def _candles(n: int, seed: int, vol: float, gaps: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    opens = np.concatenate(([close[0]], close[:-1]))
    if gaps:  # some bars open away from the previous close
        jump = rng.random(n) < 0.05
        opens = np.where(jump, opens * np.exp(rng.normal(0.0, 3 * vol, n)), opens)
    wick = np.abs(rng.normal(0.0, vol, n))
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, close) * (1 + wick),
            "low": np.minimum(opens, close) * (1 - wick),
            "close": close,
        },
        index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC"),
    )


@dataclass
class BandStrategy(BaseStrategy):
    """Long above the slow SMA by ``band``, short below it by ``band``, flat in between: a
    signal strategy that also closes to flat and opens from flat (SMA crossover only flips)."""

    slow: int = 20
    band: float = 0.002
    qty: Decimal = Decimal(1)
    target: int = 0
    name = "band"

    def markets(self) -> Sequence[MarketKey]:
        return [("BTCUSDT", LINEAR)]

    def features(self, symbol: str, category: Category, candles: pd.DataFrame) -> pd.DataFrame:
        ratio = candles["close"] / ta.sma(candles["close"], self.slow) - 1
        zone = np.where(ratio > self.band, 1.0, np.where(ratio < -self.band, -1.0, 0.0))
        return pd.DataFrame({"zone": zone}, index=candles.index)

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        want = int(ctx.market.feature("BTCUSDT", "zone", LINEAR))
        if want == self.target:
            return ()
        side = Side.BUY if want > self.target else Side.SELL
        qty = self.qty * abs(want - self.target)
        self.target = want
        iid = self.signal_intent_id(ctx.engine, ctx.market.now_ms, side)
        return [SubmitOrder(iid, "BTCUSDT", LINEAR, side, OrderType.MARKET, qty=qty)]

    def signal_targets(
        self, columns: Mapping[str, npt.NDArray[np.float64]]
    ) -> npt.NDArray[np.float64] | None:
        return None if self.target else np.asarray(columns["zone"], dtype=np.float64)

    def signal_unit(self) -> Decimal:
        return self.qty

    def signal_intent_id(self, engine: str, now_ms: int, side: Side) -> str:
        return intent_id(engine, now_ms, "band", side)

    def signal_finish(self, target: int) -> None:
        self.target = target


def _simulate(
    data: MarketData,
    strategy: BaseStrategy,
    cash: Decimal,
    fees: FeeModel,
    *,
    fast_forward: bool = True,
    signal_path: bool = True,
) -> Simulation:
    sim = Simulation(
        data,
        [EngineSpec("bt", strategy)],
        initial_cash=cash,
        fees=fees,
        fast_forward=fast_forward,
        signal_path=signal_path,
    )
    sim.run()
    return sim


def _cases() -> list[tuple[int, int, int, str, float, float, bool]]:
    rng = np.random.default_rng(2026)
    cases = []
    for seed in range(24):
        fast = int(rng.integers(2, 30))
        slow = fast + int(rng.integers(1, 60))
        qty = str(rng.choice(["1", "0.1", "0.003", "2.5", "7"]))
        fee = float(rng.choice([0.0, 0.0002, 0.00055, 0.001]))
        slip = float(rng.choice([0.0, 0.0002, 0.001]))
        cases.append((seed, fast, slow, qty, fee, slip, bool(seed % 2)))
    return cases


@pytest.mark.parametrize(("seed", "fast", "slow", "qty", "fee", "slip", "gaps"), _cases())
def test_the_signal_path_equals_the_event_loop(
    seed: int, fast: int, slow: int, qty: str, fee: float, slip: float, gaps: bool
) -> None:
    data = MarketData({("BTCUSDT", LINEAR): _candles(3000, seed, 0.004, gaps)})
    fees = FeeModel(linear_taker=fee, linear_maker=fee, slippage=slip)
    cash = Decimal(100_000)

    def make() -> SmaCrossStrategy:
        return SmaCrossStrategy("BTCUSDT", fast, slow, Decimal(qty))

    probe = Simulation(data, [EngineSpec("bt", make())], initial_cash=cash, fees=fees)
    assert run_signals(probe)  # the path applies (and the cases below compare it)
    quick = _simulate(data, make(), cash, fees)
    looped = _simulate(data, make(), cash, fees, signal_path=False)
    every_bar = _simulate(data, make(), cash, fees, fast_forward=False)
    ours, fast_loop, slow_loop = quick.runs[0], looped.runs[0], every_bar.runs[0]
    assert len(ours.account.fills) > 20
    assert ours.account.fills == fast_loop.account.fills == slow_loop.account.fills
    assert ours.account.trips == slow_loop.account.trips
    assert ours.account.open_trips == slow_loop.account.open_trips
    np.testing.assert_array_equal(ours.equity, slow_loop.equity)
    np.testing.assert_array_equal(quick.nav, every_bar.nav)
    np.testing.assert_allclose(ours.equity, fast_loop.equity, rtol=1e-12)
    np.testing.assert_array_equal(ours.exposed, slow_loop.exposed)
    for field in ("cash", "fees_paid", "perp_qty", "perp_entry", "spot", "stops", "orders"):
        assert getattr(ours.account, field) == getattr(slow_loop.account, field), field
    assert ours.spec.strategy.target == slow_loop.spec.strategy.target  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(6))
def test_positions_closed_to_flat_and_opened_from_flat_agree_too(seed: int) -> None:
    data = MarketData({("BTCUSDT", LINEAR): _candles(3000, 100 + seed, 0.003, bool(seed % 2))})
    fees = FeeModel(linear_taker=0.00055, slippage=0.0002 * (seed % 3))
    cash = Decimal(50_000)

    def make() -> BandStrategy:
        return BandStrategy(slow=5 + 7 * seed, band=0.001 * (1 + seed % 3), qty=Decimal("0.7"))

    probe = Simulation(data, [EngineSpec("bt", make())], initial_cash=cash, fees=fees)
    assert run_signals(probe)
    quick = _simulate(data, make(), cash, fees)
    slow = _simulate(data, make(), cash, fees, fast_forward=False)
    ours, theirs = quick.runs[0], slow.runs[0]
    flats = [f for f in theirs.account.fills if f.qty == 0.7]
    assert len(flats) > 20, "the case must open from and close to flat"
    assert ours.account.fills == theirs.account.fills
    assert ours.account.trips == theirs.account.trips
    assert ours.account.open_trips == theirs.account.open_trips
    np.testing.assert_array_equal(ours.equity, theirs.equity)
    np.testing.assert_array_equal(ours.exposed, theirs.exposed)
    assert ours.account.cash == theirs.account.cash
    assert ours.spec.strategy.target == theirs.spec.strategy.target  # type: ignore[attr-defined]


def test_sma_cross_is_a_signal_strategy_only_while_fresh() -> None:
    strategy = SmaCrossStrategy("BTCUSDT", 3, 5)
    assert isinstance(strategy, SignalStrategy)
    strategy.target = 1  # mid-run state: its next flip is for twice the quantity
    assert strategy.signal_targets({"cross": np.zeros(4)}) is None


def test_an_order_the_margin_check_refuses_sends_the_run_to_the_event_loop() -> None:
    data = MarketData({("BTCUSDT", LINEAR): _candles(2000, 3, 0.004, False)})
    fees = FeeModel()
    cash = Decimal(150)  # 1 unit at ~100 needs 50 at 2x; a flip after losses may be refused

    def make() -> SmaCrossStrategy:
        return SmaCrossStrategy("BTCUSDT", 3, 8, Decimal(3))

    probe = Simulation(data, [EngineSpec("bt", make())], initial_cash=cash, fees=fees)
    assert not run_signals(probe)
    assert probe.runs[0].account.fills == []  # untouched
    assert not probe.runs[0].equity.any()
    quick = _simulate(data, make(), cash, fees)
    slow = _simulate(data, make(), cash, fees, fast_forward=False)
    assert quick.runs[0].rejections, "the case must exercise a refusal"
    assert quick.runs[0].account.fills == slow.runs[0].account.fills
    np.testing.assert_allclose(quick.runs[0].equity, slow.runs[0].equity, rtol=1e-12)


def test_a_liquidation_sends_the_run_to_the_event_loop() -> None:
    close = np.concatenate((np.linspace(100, 95, 40), np.linspace(95, 110, 60), np.full(50, 30.0)))
    candles = _candles(len(close), 1, 0.0, False)
    candles["close"] = close
    candles["open"] = np.concatenate(([close[0]], close[:-1]))
    candles["high"] = np.maximum(candles["open"], close)
    candles["low"] = np.minimum(candles["open"], close)
    data = MarketData({("BTCUSDT", LINEAR): candles})
    fees = FeeModel(slippage=0.0)
    cash = Decimal(60)  # long 1 unit from ~96 with 60 of cash: liquidated by the gap to 30

    def make() -> SmaCrossStrategy:
        return SmaCrossStrategy("BTCUSDT", 2, 4, Decimal(1))

    probe = Simulation(data, [EngineSpec("bt", make())], initial_cash=cash, fees=fees)
    assert not run_signals(probe)
    quick = _simulate(data, make(), cash, fees)
    slow = _simulate(data, make(), cash, fees, fast_forward=False)
    assert any(f.reason == "liquidation" for f in quick.runs[0].account.fills)
    assert quick.runs[0].account.fills == slow.runs[0].account.fills


def test_funding_on_the_traded_perp_sends_the_run_to_the_event_loop() -> None:
    candles = _candles(600, 5, 0.004, False)
    funding = pd.DataFrame({"rate": [0.0001, -0.0002]}, index=candles.index[[100, 400]])
    data = MarketData({("BTCUSDT", LINEAR): candles}, funding={"BTCUSDT": funding})
    probe = Simulation(
        data, [EngineSpec("bt", SmaCrossStrategy("BTCUSDT", 3, 9))], initial_cash=Decimal(10**5)
    )
    assert not run_signals(probe)
    quick = _simulate(data, SmaCrossStrategy("BTCUSDT", 3, 9), Decimal(10**5), FeeModel())
    assert quick.runs[0].account.funding_received != 0


def test_a_run_without_orders_is_flat_cash_on_both_paths() -> None:
    close = np.linspace(100.0, 120.0, 40)  # a straight line never crosses
    candles = _candles(40, 0, 0.0, False)
    candles[["open", "high", "low", "close"]] = np.column_stack((close, close, close, close))
    data = MarketData({("BTCUSDT", LINEAR): candles})
    probe = Simulation(
        data, [EngineSpec("bt", SmaCrossStrategy("BTCUSDT", 3, 25))], initial_cash=Decimal(10**4)
    )
    assert run_signals(probe)
    assert probe.runs[0].account.fills == []
    slow = _simulate(
        data, SmaCrossStrategy("BTCUSDT", 3, 25), Decimal(10**4), FeeModel(), fast_forward=False
    )
    np.testing.assert_array_equal(probe.runs[0].equity, slow.runs[0].equity)
    assert (probe.runs[0].equity == 10**4).all()
