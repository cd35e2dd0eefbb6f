"""Indicators against hand-computed values, the `ta` library and a textbook loop implementation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from ta.trend import SMAIndicator
from ta.volatility import AverageTrueRange

from engine_runtime import indicators as ind

pytestmark = pytest.mark.unit


def _ohlc(n: int = 300, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.004, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.004, n)))
    return high, low, close


def _wilder_adx_reference(
    high: list[float], low: list[float], close: list[float], n: int
) -> list[float]:
    """Wilder's ADX as written in the book: running sums, then the 1/n recursions, in loops."""
    size = len(close)
    tr, pdm, mdm = [0.0] * size, [0.0] * size, [0.0] * size
    for t in range(1, size):
        tr[t] = max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1]))
        up, down = high[t] - high[t - 1], low[t - 1] - low[t]
        pdm[t] = up if up > down and up > 0 else 0.0
        mdm[t] = down if down > up and down > 0 else 0.0
    adx = [math.nan] * size
    s_tr, s_p, s_m = sum(tr[1 : n + 1]), sum(pdm[1 : n + 1]), sum(mdm[1 : n + 1])
    dxs: list[float] = []
    for t in range(n, size):
        if t > n:
            s_tr = s_tr - s_tr / n + tr[t]
            s_p = s_p - s_p / n + pdm[t]
            s_m = s_m - s_m / n + mdm[t]
        pdi, mdi = 100 * s_p / s_tr, 100 * s_m / s_tr
        dxs.append(100 * abs(pdi - mdi) / (pdi + mdi))
        if len(dxs) == n:
            adx[t] = sum(dxs) / n
        elif len(dxs) > n:
            adx[t] = (adx[t - 1] * (n - 1) + dxs[-1]) / n
    return adx


def test_sma_hand_values() -> None:
    out = ind.sma([1, 2, 3, 4, 5], 3)
    assert np.isnan(out[:2]).all()
    assert out[2:].tolist() == [2.0, 3.0, 4.0]


def test_sma_matches_ta_library() -> None:
    _, _, close = _ohlc()
    ours = ind.sma(close, 50)
    ref = SMAIndicator(pd.Series(close), window=50).sma_indicator().to_numpy()
    np.testing.assert_allclose(ours[49:], ref[49:], rtol=1e-12)


def test_true_range_hand_values() -> None:
    high, low, close = [10.0, 12.0, 11.0], [9.0, 10.5, 8.0], [9.5, 11.0, 9.0]
    # bar1: max(1.5, |12-9.5|=2.5, |10.5-9.5|=1) = 2.5; bar2: max(3, |11-11|=0, |8-11|=3) = 3
    assert ind.true_range(high, low, close).tolist() == [1.0, 2.5, 3.0]


def test_atr_matches_ta_library() -> None:
    high, low, close = _ohlc()
    ours = ind.atr(high, low, close, 14)
    ref = AverageTrueRange(pd.Series(high), pd.Series(low), pd.Series(close), window=14)
    expected = ref.average_true_range().to_numpy()
    assert np.isnan(ours[:13]).all()
    np.testing.assert_allclose(ours[13:], expected[13:], rtol=1e-10)


def test_atr_hand_values_with_period_two() -> None:
    # TR = [1, 2.5, 3]: seed at index 1 = (1 + 2.5) / 2 = 1.75; then (1.75 * 1 + 3) / 2 = 2.375
    out = ind.atr([10.0, 12.0, 11.0], [9.0, 10.5, 8.0], [9.5, 11.0, 9.0], 2)
    assert np.isnan(out[0])
    assert out[1:].tolist() == pytest.approx([1.75, 2.375])


def test_adx_matches_textbook_loop() -> None:
    high, low, close = _ohlc(400)
    ours, plus_di, minus_di = ind.adx(high, low, close, 14)
    ref = _wilder_adx_reference(high.tolist(), low.tolist(), close.tolist(), 14)
    assert np.isnan(ours[:27]).all()
    assert not np.isnan(ours[27])
    np.testing.assert_allclose(ours[27:], ref[27:], rtol=1e-9)
    assert np.isnan(plus_di[:14]).all()
    assert not np.isnan(plus_di[14])
    assert ((plus_di[14:] >= 0) & (minus_di[14:] >= 0)).all()


def test_adx_of_a_one_way_market_is_100() -> None:
    close = np.arange(1.0, 61.0)
    adx_values, plus_di, minus_di = ind.adx(close + 0.5, close - 0.5, close, 14)
    assert adx_values[-1] == pytest.approx(100.0)
    assert plus_di[-1] > 0
    assert minus_di[-1] == 0


def test_indicators_are_causal() -> None:
    high, low, close = _ohlc(300)
    full = [ind.sma(close, 20), ind.atr(high, low, close, 14), ind.adx(high, low, close, 14)[0]]
    for k in (40, 150, 299):
        part = [
            ind.sma(close[:k], 20),
            ind.atr(high[:k], low[:k], close[:k], 14),
            ind.adx(high[:k], low[:k], close[:k], 14)[0],
        ]
        for a, b in zip(full, part, strict=True):
            np.testing.assert_allclose(a[:k], b, rtol=1e-12, equal_nan=True)


def test_crossings_and_drawdown() -> None:
    fast, slow = [1.0, 2.0, 3.0, 2.0, 1.0], [2.0, 2.5, 2.5, 2.5, 2.5]
    assert ind.crossed_above(fast, slow).tolist() == [False, False, True, False, False]
    assert ind.crossed_below(fast, slow).tolist() == [False, False, False, True, False]
    assert ind.drawdown_from_peak([100.0, 50.0, 120.0, 30.0]).tolist() == [0.0, 0.5, 0.0, 0.75]
    assert ind.running_max([1.0, 3.0, 2.0]).tolist() == [1.0, 3.0, 3.0]
