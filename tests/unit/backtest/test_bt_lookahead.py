"""No look-ahead: a strategy that peeks would profit; the backtester refuses it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest
from bt_helpers import ScriptStrategy, make_candles, random_walk

from engine_runtime.backtest import FeeModel, LookAheadError, MarketData, run_backtest
from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import (
    Category,
    Intent,
    MarketKey,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
)

pytestmark = pytest.mark.unit
L = Category.LINEAR
NO_FEES = FeeModel(linear_taker=0.0, linear_maker=0.0, slippage=0.0)


@dataclass
class DirectionStrategy(BaseStrategy):
    """Holds +1 / -1 unit by the sign of a 'signal' feature; ``shift`` picks what it reads."""

    shift: int = 1  # +1: last bar's return (honest); -1: next bar's return (peeks)
    position: int = 0
    name = "direction"

    def markets(self) -> Sequence[MarketKey]:
        return [("BTCUSDT", L)]

    def features(self, symbol: str, category: Category, candles: pd.DataFrame) -> pd.DataFrame:
        ret = candles["close"].pct_change()
        return pd.DataFrame(
            {"signal": ret.shift(self.shift - 1 if self.shift > 0 else -1)}, index=candles.index
        )

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        sig = ctx.market.feature("BTCUSDT", "signal", L)
        want = 1 if sig > 0 else -1
        if np.isnan(sig) or want == self.position:
            return []
        qty = D(2 if self.position else 1)
        self.position = want
        side = Side.BUY if want > 0 else Side.SELL
        return [SubmitOrder(f"d{ctx.market.now_ms}", "BTCUSDT", L, side, OrderType.MARKET, qty=qty)]


def _data(seed: int = 11) -> MarketData:
    # Each bar opens at the previous close, so a fill at the next open is at the decision price.
    return MarketData(
        {("BTCUSDT", L): make_candles(random_walk(600, seed, vol=0.02), spread=0.002)}
    )


def test_a_peeking_strategy_would_profit_hugely() -> None:
    result = run_backtest(DirectionStrategy(shift=-1), _data(), fees=NO_FEES, causality_check=False)
    honest = run_backtest(DirectionStrategy(shift=1), _data(), fees=NO_FEES)
    # Knowing the next bar's return, 1 unit of a ~100 asset earns ~1.6 per bar over 600 bars.
    assert result.equity[-1] - 10000 > 400
    assert abs(honest.equity[-1] - 10000) < result.equity[-1] - 10000


def test_the_backtester_refuses_a_peeking_strategy() -> None:
    with pytest.raises(LookAheadError, match="later bars"):
        run_backtest(DirectionStrategy(shift=-1), _data(), fees=NO_FEES)


def test_the_eternal_strategies_features_are_causal() -> None:
    from engine_runtime.backtest import demo_market
    from engine_runtime.strategies import create_strategy

    data = demo_market("1D", start="2019-01-01", end="2021-01-01")
    for name in ("trend", "core-hodl", "funding", "tactical"):
        run_backtest(create_strategy(name), data)  # raises LookAheadError otherwise


def test_decisions_see_the_current_bar_and_fill_on_the_next() -> None:
    close = [100.0, 100.0, 100.0, 100.0, 100.0]
    opens = [100.0, 100.0, 100.0, 130.0, 100.0]  # a gap at bar 3's open
    candles = make_candles(close, opens=opens, spread=0.0)
    buy = SubmitOrder("b", "BTCUSDT", L, Side.BUY, OrderType.MARKET, qty=D(1))
    strat = ScriptStrategy(keys=(("BTCUSDT", L),), script=lambda i, ctx: [buy] if i == 2 else [])
    result = run_backtest(strat, MarketData({("BTCUSDT", L): candles}), fees=NO_FEES)
    assert strat.seen_close == close  # bar by bar, never a later bar's close
    (fill,) = result.fills
    assert fill.price == 130.0  # decided at bar 2's close of 100, filled at bar 3's open
    assert fill.ts_ms == int(candles.index[3].timestamp() * 1000)


def test_funding_and_signals_are_visible_only_after_their_time() -> None:
    candles = make_candles([100.0] * 6, spread=0.0, freq="8h")
    funding = pd.DataFrame({"rate": [0.1, 0.2, 0.3]}, index=candles.index[[1, 3, 5]])
    fear = pd.Series([10.0, 90.0], index=candles.index[[2, 4]])
    seen: list[tuple[list[D], float | None]] = []

    def script(i: int, ctx: StrategyContext) -> list[Intent]:
        seen.append((list(ctx.market.funding_rates("BTCUSDT", 5)), ctx.market.signal("fear_greed")))
        return []

    strat = ScriptStrategy(keys=(("BTCUSDT", L),), script=script)
    run_backtest(
        strat, MarketData({("BTCUSDT", L): candles}, {"BTCUSDT": funding}, {"fear_greed": fear})
    )
    # decision time of bar i is the open of bar i+1
    assert [len(r) for r, _ in seen] == [1, 1, 2, 2, 3, 3]
    assert [s for _, s in seen] == [None, 10.0, 10.0, 90.0, 90.0, 90.0]
