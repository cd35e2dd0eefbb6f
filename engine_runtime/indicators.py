"""Technical indicators, vectorised over numpy float arrays (numpy alone: a live runtime computes
them without pandas, about 45 MiB less resident).

Every indicator here is *causal*: the value at index ``t`` depends only on inputs at ``0..t``, so
computing over a prefix of a series gives the same values as computing over the whole series and
cutting. The live runtime computes them over its rolling window of confirmed candles and the
backtester once over the whole history; both read the same numbers. Values that are not yet
defined (warm-up) are ``NaN``.

Conventions (Wilder, as in J. Welles Wilder's *New Concepts in Technical Trading Systems* and the
``ta`` library): true range of the first bar is ``high - low``; ATR's first value, at index
``n - 1``, is the mean of the first ``n`` true ranges; ADX's first value, at index ``2n - 1``, is
the mean of the first ``n`` DX values, each smoothed with Wilder's ``1/n`` recursion.

Their windows are ``engine_runtime.windows``: pandas' rolling and exponential windows (which
they used before) in numpy alone, giving pandas' numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import numpy as np
import numpy.typing as npt

from engine_runtime.windows import (
    ewm_alpha,
    ewm_mean,
    rolling_max,
    rolling_mean,
    rolling_min,
    rolling_std,
)

FloatArray = npt.NDArray[np.float64]

_SHARED: ContextVar[dict[tuple[object, ...], tuple[FloatArray, FloatArray]] | None] = ContextVar(
    "indicators_shared", default=None
)


@contextlib.contextmanager
def shared() -> Iterator[None]:
    """Within it, an indicator over the same input array and period is computed once (a
    parameter sweep's combinations share their SMAs); results are read-only copies' views.

    An input is recognised by its memory (address, shape, strides): the cache holds the input
    alive, so its memory cannot be reused by another array while the entry exists.
    """
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _memo(
    name: str, x: FloatArray, args: tuple[object, ...], compute: Callable[[], FloatArray]
) -> FloatArray:
    cache = _SHARED.get()
    if cache is None:
        return compute()
    key = (name, x.__array_interface__["data"][0], x.shape, x.strides, *args)
    hit = cache.get(key)
    if hit is None:
        out = compute()
        out.flags.writeable = False
        hit = cache[key] = (x, out)
    return hit[1]


def _as_array(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def sma(values: npt.ArrayLike, period: int) -> FloatArray:
    """Simple moving average; NaN for the first ``period - 1`` values."""
    if period < 1:
        raise ValueError("period must be >= 1")
    x = _as_array(values)

    def compute() -> FloatArray:
        return rolling_mean(x, period)

    return _memo("sma", x, (period,), compute)


def wilder_smooth(values: npt.ArrayLike, period: int, first: int) -> FloatArray:
    """Wilder's moving average: seeded at index ``first`` with the mean of the ``period`` values
    ending there, then ``y[t] = y[t-1] + (x[t] - y[t-1]) / period``. NaN before ``first``.

    The recursion is ``ewm_mean`` with ``alpha = 1/period``.
    """
    x = _as_array(values)
    out = np.full(x.shape, np.nan)
    if first >= len(x) or first - period + 1 < 0:
        return out
    seed = x[first - period + 1 : first + 1].mean()
    tail = np.concatenate(([seed], x[first + 1 :]))
    out[first:] = ewm_mean(tail, ewm_alpha(alpha=1.0 / period))
    return out


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """True range: the largest of high-low and the gaps from the previous close."""
    h, lo, c = _as_array(high), _as_array(low), _as_array(close)
    tr = h - lo
    if len(tr) > 1:
        prev = c[:-1]
        tr[1:] = np.maximum.reduce([tr[1:], np.abs(h[1:] - prev), np.abs(lo[1:] - prev)])
    return tr


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int) -> FloatArray:
    """Average true range (Wilder); first value at index ``period - 1``."""
    return wilder_smooth(true_range(high, low, close), period, period - 1)


def directional_movement(high: npt.ArrayLike, low: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """+DM and -DM per bar (0 on the first bar)."""
    h, lo = _as_array(high), _as_array(low)
    up = np.zeros_like(h)
    down = np.zeros_like(h)
    up[1:] = h[1:] - h[:-1]
    down[1:] = lo[:-1] - lo[1:]
    plus = np.where((up > down) & (up > 0), up, 0.0)
    minus = np.where((down > up) & (down > 0), down, 0.0)
    return plus, minus


def adx(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ADX with +DI and -DI (Wilder). Returns ``(adx, plus_di, minus_di)``.

    The DI lines are defined from index ``period`` (smoothing the movements of bars
    ``1..period``); ADX from index ``2 * period - 1``.
    """
    h, lo, c = _as_array(high), _as_array(low), _as_array(close)
    tr = true_range(h, lo, c)
    plus_dm, minus_dm = directional_movement(h, lo)
    # Bar 0 has no previous bar: the first smoothing window is bars 1..period.
    s_tr = wilder_smooth(tr, period, period)
    s_plus = wilder_smooth(plus_dm, period, period)
    s_minus = wilder_smooth(minus_dm, period, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di = np.where(s_tr > 0, 100.0 * s_plus / s_tr, 0.0)
        minus_di = np.where(s_tr > 0, 100.0 * s_minus / s_tr, 0.0)
        di_sum = plus_di + minus_di
        dx = np.where(di_sum > 0, 100.0 * np.abs(plus_di - minus_di) / di_sum, 0.0)
    undefined = np.isnan(s_tr)
    plus_di[undefined] = np.nan
    minus_di[undefined] = np.nan
    dx[undefined] = np.nan
    adx_values = wilder_smooth(np.nan_to_num(dx), period, 2 * period - 1)
    return adx_values, plus_di, minus_di


def running_max(values: npt.ArrayLike) -> FloatArray:
    """Highest value so far (e.g. the all-time high of a price series)."""
    return np.maximum.accumulate(_as_array(values))


def drawdown_from_peak(values: npt.ArrayLike, peak: npt.ArrayLike | None = None) -> FloatArray:
    """``1 - value / peak``: 0 at a new high, 0.5 when half the peak is lost."""
    x = _as_array(values)
    p = running_max(x) if peak is None else _as_array(peak)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, 1.0 - x / p, 0.0)


def crossed_above(fast: npt.ArrayLike, slow: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True at ``t`` when ``fast`` was below ``slow`` at ``t-1`` and is above it at ``t``."""
    f, s = _as_array(fast), _as_array(slow)
    out = np.zeros(f.shape, dtype=bool)
    out[1:] = (f[:-1] < s[:-1]) & (f[1:] > s[1:])
    return out


def crossed_below(fast: npt.ArrayLike, slow: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True at ``t`` when ``fast`` was above ``slow`` at ``t-1`` and is below it at ``t``."""
    return crossed_above(slow, fast)


def ema(values: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, ``alpha = 2 / (period + 1)``, seeded with the first value
    (``y[0] = x[0]``): causal from the first bar, and after a few periods independent of where
    the series starts (a live window and a full history agree once both are warm)."""
    if period < 1:
        raise ValueError("period must be >= 1")
    return ewm_mean(values, ewm_alpha(span=period))


def rsi(close: npt.ArrayLike, period: int) -> FloatArray:
    """Wilder's RSI (0..100); first value at index ``period`` (the first change is bar 1)."""
    c = _as_array(close)
    change = np.zeros_like(c)
    change[1:] = np.diff(c)
    gain = wilder_smooth(np.maximum(change, 0.0), period, period)
    loss = wilder_smooth(np.maximum(-change, 0.0), period, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(loss > 0, 100.0 - 100.0 / (1.0 + gain / loss), 100.0)
    out[np.isnan(gain)] = np.nan
    return out


def macd(close: npt.ArrayLike, fast: int, slow: int, signal: int) -> tuple[FloatArray, FloatArray]:
    """MACD line (EMA fast - EMA slow) and its signal line (EMA of the MACD line)."""
    line = ema(close, fast) - ema(close, slow)
    return line, ema(line, signal)


def stochastic(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int, smooth: int
) -> tuple[FloatArray, FloatArray]:
    """Stochastic %K (0..100, where the close sits in the ``period``-bar range) and %D (its
    ``smooth``-bar SMA); 50 when the range is empty."""
    h, lo = rolling_max(high, period), rolling_min(low, period)
    c = _as_array(close)
    span = h - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(span > 0, 100.0 * (c - lo) / span, 50.0)
    k[np.isnan(span)] = np.nan
    return k, sma(k, smooth)


def bollinger_width(close: npt.ArrayLike, period: int, deviations: float = 2.0) -> FloatArray:
    """Bollinger band width relative to the middle band: ``2 * k * std / sma`` (population
    standard deviation over ``period`` bars)."""
    c = _as_array(close)
    mid = rolling_mean(c, period)
    std = rolling_std(c, period, ddof=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = 2.0 * deviations * std / mid
    return out


def obv(close: npt.ArrayLike, volume: npt.ArrayLike) -> FloatArray:
    """On-balance volume: the running sum of volume signed by the close's change (0 at bar 0)."""
    c, v = _as_array(close), _as_array(volume)
    sign = np.zeros_like(c)
    sign[1:] = np.sign(np.diff(c))
    return np.cumsum(sign * v)
