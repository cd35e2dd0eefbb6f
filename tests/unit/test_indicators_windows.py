"""The numpy windows (`engine_runtime.windows`) against pandas' own, over random series.

Each case is a seeded random series: a random walk at a random magnitude (1e-6 to 1e12), with
runs of equal values, and by case NaN, signs that change, zeros, or fewer values than the window.
Where pandas is exact (a window of one value: its mean is the value, its sum ``value * nobs``)
ours must be equal bit for bit; elsewhere within 1e-12 of the window's magnitude (pandas'
running sums are themselves only that close to the exact sums). Minima and maxima are exact.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from engine_runtime import indicators as ta
from engine_runtime import windows as w

pytestmark = pytest.mark.unit

FloatArray = npt.NDArray[np.float64]
CASES = range(300)


def series(seed: int) -> tuple[FloatArray, int, int]:
    """A random series, a window and a min_periods, by seed (every kind appears often)."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([0, 1, 2, 5, 30, 200, 700]))
    period = int(rng.choice([1, 2, 3, 10, 14, 20, 50, 65, 200]))
    min_periods = int(rng.choice([period, period, 0, 1, max(1, period // 2)]))
    x = 10.0 ** rng.uniform(-6, 12) * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    for _ in range(int(rng.integers(0, 6))):  # runs of equal values
        if n:
            start = int(rng.integers(0, n))
            x[start : start + int(rng.integers(2, 120))] = x[start]
    if seed % 4 == 1:  # both signs and zeros
        x = x - np.median(x) if n else x
        x[rng.random(n) < 0.05] = 0.0
    if seed % 3 == 2:  # NaN, alone and in runs
        x[rng.random(n) < 0.08] = np.nan
        if n > 20:
            gap = int(rng.integers(0, n - 10))
            x[gap : gap + int(rng.integers(1, 10))] = np.nan
    return x, period, min_periods


def windows_of(x: FloatArray, period: int) -> list[FloatArray]:
    """The non-NaN values of each window ending at i."""
    return [x[max(0, i - period + 1) : i + 1][~np.isnan(x[max(0, i - period + 1) : i + 1])]
            for i in range(len(x))]  # fmt: skip


def magnitude(values: FloatArray) -> float:
    return float(np.nanmax(np.abs(values))) if (~np.isnan(values)).any() else 0.0


def assert_like_pandas(
    ours: FloatArray, theirs: FloatArray, x: FloatArray, period: int, *, per_value: bool
) -> None:
    """NaN at the same bars; equal where the window is one value; elsewhere within 1e-12 of
    the window's magnitude (of its absolute sum for a sum)."""
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    for i, values in enumerate(windows_of(x, period)):
        if np.isnan(theirs[i]):
            continue
        if len(values) and (values == values[-1]).all():
            assert ours[i] == theirs[i], (i, values, ours[i], theirs[i])
        else:
            scale = magnitude(values) if per_value else float(np.abs(values).sum())
            assert abs(ours[i] - theirs[i]) <= 1e-12 * scale, (i, ours[i], theirs[i])


@pytest.mark.parametrize("seed", CASES)
def test_rolling_mean_and_sum_are_pandas(seed: int) -> None:
    x, period, minp = series(seed)
    rolling = pd.Series(x, dtype=np.float64).rolling(period, min_periods=minp)
    mean, total = rolling.mean().to_numpy(), rolling.sum().to_numpy()
    assert_like_pandas(w.rolling_mean(x, period, minp), mean, x, period, per_value=True)
    assert_like_pandas(w.rolling_sum(x, period, minp), total, x, period, per_value=False)


@pytest.mark.parametrize("seed", CASES)
def test_rolling_min_and_max_are_pandas_exactly(seed: int) -> None:
    x, period, minp = series(seed)
    rolling = pd.Series(x, dtype=np.float64).rolling(period, min_periods=minp)
    np.testing.assert_array_equal(w.rolling_max(x, period, minp), rolling.max().to_numpy())
    np.testing.assert_array_equal(w.rolling_min(x, period, minp), rolling.min().to_numpy())


@pytest.mark.parametrize("seed", CASES)
def test_rolling_variance_is_pandas_and_the_exact_variance(seed: int) -> None:
    """Against pandas within its own error (its running variance carries about 1e-12 of the
    squared magnitude of every value it has seen), and against each window's variance in
    extended precision within 1e-12 of it; exactly 0 for a window of one value."""
    x, period, minp = series(seed)
    for ddof in (0, 1):
        ours = w.rolling_var(x, period, minp, ddof)
        var = pd.Series(x, dtype=np.float64).rolling(period, min_periods=minp).var(ddof=ddof)
        theirs = var.to_numpy()
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        for i, values in enumerate(windows_of(x, period)):
            if np.isnan(ours[i]):
                continue
            if (values == values[-1]).all():
                assert ours[i] == 0.0
                continue
            assert abs(ours[i] - theirs[i]) <= 1e-12 * magnitude(x[: i + 1]) ** 2
            exact = float(np.var(values.astype(np.longdouble), ddof=ddof))
            assert abs(ours[i] - exact) <= 1e-12 * exact + 1e-15 * magnitude(values) ** 2
        np.testing.assert_array_equal(w.rolling_std(x, period, minp, ddof), np.sqrt(ours))


@pytest.mark.parametrize("seed", CASES)
def test_exponential_mean_is_pandas(seed: int) -> None:
    """``adjust=False`` by span and by alpha (Wilder's 1/n): NaN before the first value, held
    over NaN; where pandas sits exactly on a run's value, so does ours."""
    x, period, _ = series(seed)
    for alpha in (w.ewm_alpha(span=period), w.ewm_alpha(alpha=1.0 / period)):
        ours = w.ewm_mean(x, alpha)
        theirs = pd.Series(x, dtype=np.float64).ewm(alpha=alpha, adjust=False).mean().to_numpy()
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        seen = np.fmax.accumulate(np.abs(x)) if len(x) else x
        for i in np.flatnonzero(~np.isnan(theirs)):
            if theirs[i] == x[i]:
                assert ours[i] == theirs[i], (i, ours[i], theirs[i])
            else:
                assert abs(ours[i] - theirs[i]) <= 1e-12 * seen[i], (i, ours[i], theirs[i])


def test_the_span_gives_pandas_alpha() -> None:
    for span in (1, 2, 3, 9, 12, 26, 200):
        assert (
            w.ewm_alpha(span=span) == 2 / (span + 1)
            or abs(w.ewm_alpha(span=span) - 2 / (span + 1)) < 1e-16
        )
    assert w.ewm_alpha(span=1) == 1.0


@pytest.mark.parametrize("seed", range(40))
def test_percent_change_is_pandas_exactly(seed: int) -> None:
    x, _period, _ = series(seed)
    for periods in (1, 5, 20):
        theirs = pd.Series(x, dtype=np.float64).pct_change(periods, fill_method=None)
        np.testing.assert_array_equal(w.pct_change(x, periods), theirs.to_numpy())


def test_a_large_value_leaves_no_rounding_behind() -> None:
    """A spike of 1e15 among values near 1: once it leaves the window the mean is that of the
    small values again, to the last bit of pandas' compensated sum."""
    x = np.concatenate(([1.0, 1e15], np.linspace(1.0, 2.0, 50)))
    ours = w.rolling_mean(x, 5)
    theirs = pd.Series(x).rolling(5).mean().to_numpy()
    np.testing.assert_allclose(ours[7:], theirs[7:], rtol=1e-15)


def test_short_series_are_all_warm_up() -> None:
    assert w.rolling_mean([], 3).shape == (0,)
    assert np.isnan(w.rolling_mean([1.0, 2.0], 3)).all()
    assert np.isnan(ta.sma([1.0, 2.0], 3)).all()
    assert w.ewm_mean([], 0.5).shape == (0,)
    assert w.rolling_var([5.0], 3, 1, ddof=0).tolist() == [0.0]
    assert np.isnan(w.rolling_var([5.0], 3, 1)).all()  # ddof 1: one value has no variance
    with pytest.raises(ValueError, match="period"):
        w.rolling_mean([1.0], 0)
    with pytest.raises(ValueError, match="alpha"):
        w.ewm_mean([1.0], 0.0)


@pytest.mark.parametrize("level", [100.0, 60123.37, 0.1 + 0.2, 1e-7 * 3])
def test_a_constant_price_never_crosses_its_moving_averages(level: float) -> None:
    """A moving market, then a flat run, then a rise: on windows inside the flat run both SMAs
    are the price exactly, so no crossover fires on rounding noise, nor when the rise starts
    (fast was never below slow); the signals are pandas' everywhere."""
    rng = np.random.default_rng(5)
    moving = level * np.exp(np.cumsum(rng.normal(0, 0.01, 120)))
    close = np.concatenate((moving, np.full(300, level), level * (1 + np.arange(1, 60) * 1e-4)))
    fast, slow = ta.sma(close, 10), ta.sma(close, 50)
    flat = slice(120 + 49, 120 + 300)  # the slow window inside the flat run
    assert (fast[flat] == level).all()
    assert (slow[flat] == level).all()
    assert not ta.crossed_above(fast, slow)[flat.start :].any()
    assert not ta.crossed_below(fast, slow)[flat.start :].any()
    theirs = [pd.Series(close).rolling(p).mean().to_numpy() for p in (10, 50)]
    np.testing.assert_array_equal(ta.crossed_above(fast, slow), ta.crossed_above(*theirs))
    np.testing.assert_array_equal(ta.crossed_below(fast, slow), ta.crossed_below(*theirs))


@pytest.mark.parametrize("level", [100.0, 60123.37, 0.1 + 0.2, 1e-7 * 3])
def test_a_constant_price_never_crosses_its_exponential_averages(level: float) -> None:
    """Flat from the first bar, then a rise and a fall: while flat every EMA is the price
    exactly and MACD and its signal are 0 (pandas' too), so nothing crosses until the price
    moves; the crossings are pandas' everywhere."""
    close = np.concatenate(
        (np.full(300, level), level * (1 + np.arange(1, 60) * 1e-4), np.full(40, level * 0.99))
    )
    fast, slow = ta.ema(close, 12), ta.ema(close, 26)
    line, signal = ta.macd(close, 12, 26, 9)
    assert (fast[:300] == level).all()
    assert (slow[:300] == level).all()
    assert (line[:300] == 0).all()
    assert (signal[:300] == 0).all()
    theirs_fast, theirs_slow = (
        pd.Series(close).ewm(span=p, adjust=False).mean().to_numpy() for p in (12, 26)
    )
    theirs_line = theirs_fast - theirs_slow
    theirs_signal = pd.Series(theirs_line).ewm(span=9, adjust=False).mean().to_numpy()
    pairs = [((fast, slow), (theirs_fast, theirs_slow))]
    pairs.append(((line, signal), (theirs_line, theirs_signal)))
    for ours, theirs in pairs:
        above, below = ta.crossed_above(*ours), ta.crossed_below(*ours)
        assert not above[:301].any()
        assert not below[:301].any()
        assert below.any()  # the fall is seen
        np.testing.assert_array_equal(above, ta.crossed_above(*theirs))
        np.testing.assert_array_equal(below, ta.crossed_below(*theirs))
