"""Every built-in strategy computes the same features from numpy columns (the live runtime's
``ArrayFrame``) as from a pandas frame (the backtester's and training's), bit for bit, and the
live market's window reads the same last row the backtester would."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine_runtime.live.market import COLUMNS, CandleWindow
from engine_runtime.strategies import Category
from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.frame import ArrayFrame, features_like, open_times_ms
from engine_runtime.strategies.registry import create_strategy
from engine_runtime.strategies.sma_cross import SmaCrossStrategy

pytestmark = pytest.mark.unit

WITH_FEATURES = ("trend", "tactical", "grid", "scalper", "meta-trend")


def candles(n: int = 600, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    close[n // 3 : n // 3 + 60] = close[n // 3]  # a flat run
    open_ = np.concatenate(([close[0]], close[:-1]))
    index = pd.date_range("2024-03-01 13:00", periods=n, freq="1h", tz="UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.002, n))),
            "low": np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.002, n))),
            "close": close,
            "volume": rng.uniform(1, 50, n),
        },
        index=index,
    )


def as_arrays(frame: pd.DataFrame) -> ArrayFrame:
    index = frame.index.tz_convert(None).to_numpy().astype("datetime64[ms]")
    return ArrayFrame({c: frame[c].to_numpy() for c in frame.columns}, index)


def strategy(name: str) -> BaseStrategy:
    made = create_strategy(name, None, ["BTCUSDT"])  # default parameters
    assert isinstance(made, BaseStrategy)
    return made


@pytest.mark.parametrize("name", WITH_FEATURES)
def test_numpy_columns_give_the_pandas_features(name: str) -> None:
    s = strategy(name)
    assert s.array_features
    frame = candles()
    theirs = s.features("BTCUSDT", Category.LINEAR, frame)
    ours = s.features("BTCUSDT", Category.LINEAR, as_arrays(frame))  # type: ignore[arg-type]
    assert isinstance(theirs, pd.DataFrame)
    assert isinstance(ours, ArrayFrame)
    assert ours.columns == [str(c) for c in theirs.columns]
    for column in ours.columns:
        np.testing.assert_array_equal(ours[column], theirs[column].to_numpy(), err_msg=column)


def test_the_live_window_reads_the_backtesters_last_row() -> None:
    """The live market hands an array_features strategy an ArrayFrame of its window and keeps
    the newest row: the same numbers as the pandas features over that window."""
    s = strategy("trend")
    frame = candles(300)
    window = CandleWindow(300)
    rows = frame[COLUMNS].itertuples(index=False)
    for ts, row in zip(open_times_ms(frame).tolist(), rows, strict=True):
        window.add(ts, *(repr(float(v)) for v in row))
    window.compute(s, "BTCUSDT", Category.LINEAR)
    theirs = s.features("BTCUSDT", Category.LINEAR, window.frame()).iloc[-1]
    assert {k: window.features[k] for k in theirs.index} == {
        str(k): float(v) for k, v in theirs.items()
    }
    assert window.features["close"] == frame["close"].iloc[-1]


def test_a_strategy_without_array_features_still_gets_pandas() -> None:
    """A strategy written against the interface (pandas) is not handed numpy columns."""
    seen: list[type] = []

    class PandasOnly(BaseStrategy):
        name = "pandas-only"

        def features(self, symbol: str, category: Category, candles: pd.DataFrame) -> pd.DataFrame:
            seen.append(type(candles))
            return pd.DataFrame({"mid": (candles["high"] + candles["low"]) / 2})

    window = CandleWindow(5)
    window.add(0, "1", "4", "2", "3", "1")
    window.compute(PandasOnly(), "BTCUSDT", Category.SPOT)
    assert seen == [pd.DataFrame]
    assert window.features["mid"] == 3.0


def test_features_like_answers_in_kind_and_checks_lengths() -> None:
    frame = candles(5)
    arrays = as_arrays(frame)
    assert isinstance(features_like(frame, {"x": np.ones(5)}), pd.DataFrame)
    assert features_like(arrays, {"x": np.ones(5)}).last_row() == {"x": 1.0}
    with pytest.raises(ValueError, match="column x"):
        features_like(arrays, {"x": np.ones(4)})
    np.testing.assert_array_equal(open_times_ms(arrays), open_times_ms(frame))


def test_the_sma_cross_reference_strategy_too() -> None:
    s = SmaCrossStrategy(fast=5, slow=20)
    frame = candles(200)
    theirs = s.features("BTCUSDT", Category.LINEAR, frame)
    ours = s.features("BTCUSDT", Category.LINEAR, as_arrays(frame))  # type: ignore[arg-type]
    np.testing.assert_array_equal(ours["cross"], theirs["cross"].to_numpy())
