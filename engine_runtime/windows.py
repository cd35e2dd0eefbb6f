"""pandas' rolling and exponential windows in numpy alone: the indicators' building blocks.

A live runtime computes its strategy's indicators with these and never imports pandas (about 45
MiB of a runtime's resident set). They give the numbers pandas gives (``Series.rolling(period,
min_periods)`` and ``Series.ewm(alpha, adjust=False)``, which the indicators used before): bit
for bit where pandas is exact, and within 1e-12 of the window's magnitude elsewhere (about 1e-15
for the rolling windows and 1e-13 for the exponential filter over the random series of
``tests/unit/test_indicators_windows.py``, which compares them with pandas).

pandas' rules, kept here:

* NaN is skipped: a window counts its values that are not NaN (``nobs``) and is NaN while
  ``nobs < min_periods``;
* a window whose values are all one value has that value as its mean exactly, ``value * nobs``
  as its sum and 0 as its variance (pandas counts the run of equal values it has seen; NaN does
  not break a run): a constant price never crosses its own average on rounding noise;
* the exponential filter starts at the first value, holds over NaN and weights the next value
  against ``(1 - alpha) ** (gap + 1)``; once on the value of a run of equal values it stays
  there (pandas' ``weighted == cur``).

How, without a Python loop per value:

* a window's sum, minimum or maximum adds the series to itself shifted by one, two, ... values
  (windows up to ``_SHIFTS_UP_TO`` values), or, for longer ones, is the suffix of one block of
  ``period`` values combined with the prefix of the next (van Herk/Gil-Werman, a few passes
  whatever the window). Either way nothing is ever subtracted, so a window of non-negative values
  has a non-negative sum (pandas clamps its running sum's wrong-signed rounding to 0; here there
  is none) and a large value leaves no rounding behind once it leaves the window. Minima and
  maxima are exact;
* a variance is two passes (the window's mean, then the squared deviations from it), or for long
  windows sums deviations from a value inside each window: a price far from 0 loses no digits to
  ``sum(x**2) - sum(x)**2 / n``;
* the exponential filter adds each value's weighted past by doubling (``_filter``): about
  log2 of its reach in elementwise passes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _as_array(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _check(period: int, min_periods: int | None) -> int:
    if period < 1:
        raise ValueError("period must be >= 1")
    minp = period if min_periods is None else min_periods
    if not 0 <= minp <= period:
        raise ValueError("min_periods must be within 0..period")
    return minp


# --- blocks ------------------------------------------------------------------------------------


def _rows(x: FloatArray, period: int, fill: float) -> FloatArray:
    """``x`` as blocks of ``period`` values, a block a row (the last padded with ``fill``)."""
    whole = len(x) // period * period
    if whole == len(x):
        return x.reshape(-1, period)
    padded = np.empty(whole + period)
    padded[: len(x)] = x
    padded[len(x) :] = fill
    return padded.reshape(-1, period)


def _combine(prefix_of: FloatArray, suffix_of: FloatArray, n: int, ufunc: np.ufunc) -> FloatArray:
    """``ufunc`` over the window of ``period`` values ending at each ``i`` (from 0 while shorter):
    the window ending at position ``r`` of block ``k`` is the suffix of block ``k-1`` from ``r+1``
    combined with the prefix of block ``k`` to ``r``. Both arguments are blocks as rows
    (``_rows``); the suffixes may be of other values (a variance shifts them)."""
    period = prefix_of.shape[1]
    prefix = ufunc.accumulate(prefix_of, axis=1)
    if period > 1:
        suffix = ufunc.accumulate(suffix_of[:, ::-1], axis=1)
        ufunc(suffix[:-1, -2::-1], prefix[1:, :-1], out=prefix[1:, :-1])
    out: FloatArray = prefix.reshape(-1)[:n]
    return out


_SHIFTS_UP_TO = 64
"""Windows up to this long are combined shift by shift (one pass over the series per value of
the window); longer ones by blocks (a few passes, whatever the window)."""


def _scan(x: FloatArray, period: int, ufunc: np.ufunc, fill: float) -> FloatArray:
    """``ufunc`` over each window, the newest value first; ``fill`` is its identity (0 for
    add, NaN for fmax/fmin)."""
    if len(x) == 0:
        return np.empty(0)
    if period <= _SHIFTS_UP_TO:
        out = x.copy()
        for lag in range(1, min(period, len(x))):
            ufunc(out[lag:], x[:-lag], out=out[lag:])
        return out
    rows = _rows(x, period, fill)
    return _combine(rows, rows, len(x), ufunc)


def _windowed_count(flags: npt.NDArray[np.bool_], period: int) -> IntArray:
    """How many of the ``period`` flags ending at each ``i`` are set."""
    total = np.cumsum(flags, dtype=np.int64)
    out = total.copy()
    out[period:] -= total[:-period]
    return out


class _Window:
    """What pandas tracks along a fixed window of ``x``: the values seen (``nobs``), and
    whether those are all one value (the last value seen)."""

    def __init__(self, x: FloatArray, period: int) -> None:
        self.period = period
        observed = ~np.isnan(x)
        self.complete = bool(observed.all())
        if self.complete:
            self.observed = observed
            self.clean = x
            self.last = x
            self.nobs: IntArray = np.minimum(np.arange(1, len(x) + 1), period)
            # constant: no change between neighbours inside the window
            changes = np.zeros(len(x), dtype=np.int64)
            np.cumsum(x[1:] != x[:-1], out=changes[1:])
            inside = changes.copy()
            if len(x) >= period:
                inside[period - 1 :] -= changes[: len(x) - period + 1]
            self.constant: npt.NDArray[np.bool_] = inside == 0
            return
        self.observed = observed
        self.clean = np.where(observed, x, 0.0)
        self.nobs = _windowed_count(observed, period)
        seen = x[observed]
        count = np.arange(len(seen))
        starts = np.ones(len(seen), dtype=bool)
        starts[1:] = seen[1:] != seen[:-1]
        run = count - np.maximum.accumulate(np.where(starts, count, 0)) + 1
        latest = np.cumsum(observed) - 1  # the last value seen at or before i (-1: none yet)
        at = np.maximum(latest, 0)
        if len(seen):
            self.last = np.where(latest >= 0, seen[at], 0.0)
            self.constant = (latest >= 0) & (run[at] >= self.nobs)
        else:
            self.last = np.zeros(len(x))
            self.constant = np.ones(len(x), dtype=bool)

    def sums(self) -> FloatArray:
        return _scan(self.clean, self.period, np.add, 0.0)


# --- rolling windows ---------------------------------------------------------------------------


def rolling_sum(values: npt.ArrayLike, period: int, min_periods: int | None = None) -> FloatArray:
    """``Series.rolling(period, min_periods).sum()``."""
    minp = _check(period, min_periods)
    w = _Window(_as_array(values), period)
    out: FloatArray = np.where(w.constant, w.last * w.nobs, w.sums())
    out[w.nobs < minp] = np.nan
    if minp == 0:
        out[w.nobs == 0] = 0.0
    return out


def rolling_mean(values: npt.ArrayLike, period: int, min_periods: int | None = None) -> FloatArray:
    """``Series.rolling(period, min_periods).mean()``."""
    minp = _check(period, min_periods)
    w = _Window(_as_array(values), period)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = w.sums() / w.nobs
    out: FloatArray = np.where(w.constant, w.last, mean)
    out[w.nobs < max(minp, 1)] = np.nan
    return out


def rolling_var(
    values: npt.ArrayLike, period: int, min_periods: int | None = None, ddof: int = 1
) -> FloatArray:
    """``Series.rolling(period, min_periods).var(ddof)``, in two passes (the window's mean, then
    the squared deviations from it: a price far from 0 loses no digits to
    ``sum(x**2) - sum(x)**2 / n``); 0 for a constant window."""
    minp = _check(period, min_periods)
    x = _as_array(values)
    n = len(x)
    if n == 0:
        return np.empty(0)
    w = _Window(x, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = w.sums() / w.nobs
    if period <= _SHIFTS_UP_TO:
        squares = np.zeros(n)
        weight = w.observed.astype(np.float64)
        for lag in range(min(period, n)):
            dev = w.clean[: n - lag] - mean[lag:]
            dev *= weight[: n - lag]
            dev *= dev
            squares[lag:] += dev
    else:  # deviations from a value inside each window: the first of the block it ends in
        rows = _rows(w.clean, period, 0.0)
        seen = _rows(w.observed.astype(np.float64), period, 0.0)
        ref = np.where(seen.any(axis=1), rows[np.arange(len(rows)), seen.argmax(axis=1)], 0.0)
        own = (rows - ref[:, None]) * seen
        following = (rows - np.append(ref[1:], 0.0)[:, None]) * seen  # block k-1 from k's
        s1 = _combine(own, following, n, np.add)
        with np.errstate(divide="ignore", invalid="ignore"):
            squares = _combine(own * own, following * following, n, np.add) - s1 * s1 / w.nobs
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.maximum(squares, 0.0) / (w.nobs - ddof)
    out[(w.nobs == 1) | w.constant] = 0.0
    out[(w.nobs < minp) | (w.nobs <= ddof)] = np.nan
    return out


def rolling_std(
    values: npt.ArrayLike, period: int, min_periods: int | None = None, ddof: int = 1
) -> FloatArray:
    """``Series.rolling(period, min_periods).std(ddof)``."""
    out: FloatArray = np.sqrt(rolling_var(values, period, min_periods, ddof))
    return out


def _extreme(
    values: npt.ArrayLike, period: int, min_periods: int | None, ufunc: np.ufunc
) -> FloatArray:
    minp = max(_check(period, min_periods), 1)
    x = _as_array(values)
    out = _scan(x, period, ufunc, np.nan)
    observed = ~np.isnan(x)
    if observed.all():
        out[: minp - 1] = np.nan
    else:
        out[_windowed_count(observed, period) < minp] = np.nan
    return out


def rolling_max(values: npt.ArrayLike, period: int, min_periods: int | None = None) -> FloatArray:
    """``Series.rolling(period, min_periods).max()`` (exact: comparisons only)."""
    return _extreme(values, period, min_periods, np.fmax)


def rolling_min(values: npt.ArrayLike, period: int, min_periods: int | None = None) -> FloatArray:
    """``Series.rolling(period, min_periods).min()`` (exact: comparisons only)."""
    return _extreme(values, period, min_periods, np.fmin)


# --- the exponential window --------------------------------------------------------------------

_EWM_SNAP = 1e-13
"""On a run of equal values, within this (relative) of the value the filter is on it: pandas'
recursion reaches it exactly and stops there (``weighted == cur``); this filter's own rounding
is about a hundred times smaller."""


def ewm_alpha(*, span: float | None = None, alpha: float | None = None) -> float:
    """The smoothing factor as pandas derives it, through the centre of mass (the same float):
    ``span`` gives ``2 / (span + 1)``."""
    if span is not None:
        com = (span - 1) / 2
    elif alpha is not None:
        com = (1 - alpha) / alpha
    else:
        raise ValueError("span or alpha")
    return 1.0 / (1.0 + com)


_EWM_REACH = 1e-18
"""The exponential filter adds every value whose weight is above this (the rest weigh less than
this fraction of the series' magnitude together)."""


def _filter(x: FloatArray, y0: float, alpha: float) -> FloatArray:
    """``y[0] = y0``, then ``y[t] = (b * y[t-1] + alpha * x[t]) / (b + alpha)`` with
    ``b = 1 - alpha``, over ``x`` without NaN: ``y[t]`` is the sum of ``decay**j * gain *
    x[t-j]`` (and ``decay**t * y0``), added up by doubling (Hillis-Steele): after the pass with
    shift ``k`` each value holds its terms ``j < 2k``. Elementwise passes only (no BLAS, whose
    threads would spin on the machine's other core), about log2 of the filter's reach."""
    old = 1.0 - alpha
    decay, gain = old / (old + alpha), alpha / (old + alpha)
    n = len(x)
    out = x * gain
    out[0] = y0
    if n > 1 and decay > 0.0:
        reach = math.log(_EWM_REACH) / math.log(decay)
        scratch = np.empty(n)
        shift, power = 1, decay
        while shift < n:
            np.multiply(out[: n - shift], power, out=scratch[: n - shift])
            out[shift:] += scratch[: n - shift]
            if 2 * shift >= reach:
                break
            shift, power = 2 * shift, power * power
    same = np.flatnonzero(x[1:] == x[:-1]) + 1
    if len(same):
        near = same[np.abs(out[same] - x[same]) <= _EWM_SNAP * np.abs(x[same])]
        out[near] = x[near]
    return out


def ewm_mean(values: npt.ArrayLike, alpha: float) -> FloatArray:
    """``Series.ewm(alpha=alpha, adjust=False).mean()`` (``ignore_na=False``, ``min_periods``
    0): NaN until the first value, which it starts at; held over NaN."""
    if not 0 < alpha <= 1:
        raise ValueError("alpha must be within (0, 1]")
    x = _as_array(values)
    if len(x) == 0:
        return np.empty(0)
    if not np.isnan(x).any():
        return _filter(x, float(x[0]), alpha)
    out = np.full(x.shape, np.nan)
    at = np.flatnonzero(~np.isnan(x))
    if len(at) == 0:
        return out
    cut = np.flatnonzero(np.diff(at) > 1) + 1
    starts, ends = at[np.r_[0, cut]], at[np.r_[cut - 1, len(at) - 1]] + 1
    previous, previous_end = float("nan"), 0
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        first = float(x[s])
        if previous != previous or previous == first:
            y0 = first
        else:
            old = (1.0 - alpha) ** (s - previous_end + 1)
            # pandas' rule for irregular intervals, which it applies whenever com == 1
            new = 1.0 - old if 1.0 / alpha - 1.0 == 1.0 else alpha
            y0 = (old * previous + new * first) / (old + new)
        out[previous_end:s] = previous  # held over the gap (NaN before the first value)
        out[s:e] = _filter(x[s:e], y0, alpha)
        previous, previous_end = float(out[e - 1]), e
    out[previous_end:] = previous
    return out


def pct_change(values: npt.ArrayLike, periods: int) -> FloatArray:
    """``Series.pct_change(periods, fill_method=None)``: ``x[t] / x[t - periods] - 1``."""
    x = _as_array(values)
    out = np.full(x.shape, np.nan)
    if 0 < periods < len(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            out[periods:] = x[periods:] / x[:-periods] - 1
    return out
