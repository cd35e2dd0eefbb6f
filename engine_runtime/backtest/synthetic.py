"""Seeded synthetic market data for tests and demos.

``fine_candles`` turns coarse candles (e.g. the real monthly BTC history) into finer ones (hourly,
minute) that are *consistent* with them: within every coarse bar the fine bars open at its open,
close at its close, and their highest high and lowest low are exactly its high and low. The path
inside is a log-space Brownian bridge pinned at the open, the high, the low (in a random order)
and the close. The same seed gives the same candles.

``derive_asset`` makes a second asset (ETH, SOL stand-ins) from a first one with a given beta and
idiosyncratic noise; ``synthetic_funding`` makes 8-hourly funding that is positive in rising
markets and negative in falling ones. Both are for demos only and say so in their output's name.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine_runtime.strategies.interface import Category

from .data import MarketData, epoch_ms, load_btc_monthly, normalise_candles

FUNDING_PERIOD = pd.Timedelta(hours=8)
MONTH = pd.offsets.MonthBegin(1)
"""The bar length of the bundled BTC history."""


def _bridge(
    rng: np.random.Generator, start: float, end: float, steps: int, sigma: float
) -> npt.NDArray[np.float64]:
    """``steps + 1`` points from ``start`` to ``end``: a Brownian bridge (log space)."""
    if steps <= 0:
        return np.array([end])
    walk = np.concatenate(([0.0], np.cumsum(rng.normal(0.0, sigma, steps))))
    t = np.linspace(0.0, 1.0, steps + 1)
    out: npt.NDArray[np.float64] = start + (walk - t * walk[-1]) + t * (end - start)
    return out


def _coarse_ends(coarse: pd.DataFrame, period: pd.DateOffset | None) -> pd.DatetimeIndex:
    """End of every coarse bar: the next bar's start; for the last, ``period`` or the spacing
    (months when the bars start on the 1st, a day for a single bar)."""
    idx = pd.DatetimeIndex(coarse.index)
    if period is not None:
        last = idx[-1] + period
    elif len(idx) > 1:
        last = idx[-1] + (idx[-1] - idx[-2])
        monthly = bool((idx.day == 1).all()) and (idx[1:] - idx[:-1]).min() >= pd.Timedelta(days=28)
        if monthly:
            last = idx[-1] + pd.offsets.MonthBegin(1)
    else:
        last = idx[-1] + pd.Timedelta(days=1)
    return pd.DatetimeIndex([*idx[1:], last])


def fine_candles(
    coarse: pd.DataFrame, freq: str, seed: int = 0, period: pd.DateOffset | None = None
) -> pd.DataFrame:
    """Finer candles (``freq``, e.g. ``"1h"``, ``"1min"``) consistent with ``coarse``.

    ``period`` is the coarse bar length (e.g. ``pd.offsets.MonthBegin(1)``); by default it is
    inferred from the spacing, which a single coarse bar does not have.
    """
    coarse = normalise_candles(coarse)
    rng = np.random.default_rng(seed)
    ends = _coarse_ends(coarse, period)
    step = pd.Timedelta(freq)
    parts: list[pd.DataFrame] = []
    for (ts, row), end in zip(coarse.iterrows(), ends, strict=True):
        index = pd.date_range(ts, end - step, freq=step)
        n = len(index)
        if n == 0:
            continue
        o, h, lo, c = np.log([row["open"], row["high"], row["low"], row["close"]])
        path = _path(rng, o, h, lo, c, n)
        opens, closes = path[:-1], path[1:]
        # Intrabar excursions: half-normal, never beyond the coarse range.
        span = max(h - lo, 1e-9) / np.sqrt(n)
        top = np.minimum(np.maximum(opens, closes) + np.abs(rng.normal(0, 0.3 * span, n)), h)
        bottom = np.maximum(np.minimum(opens, closes) - np.abs(rng.normal(0, 0.3 * span, n)), lo)
        volume = rng.dirichlet(np.ones(n)) * row["volume"] if row["volume"] > 0 else np.zeros(n)
        parts.append(
            pd.DataFrame(
                {
                    "open": np.exp(opens),
                    "high": np.exp(top),
                    "low": np.exp(bottom),
                    "close": np.exp(closes),
                    "volume": volume,
                },
                index=index,
            )
        )
    out = pd.concat(parts)
    # exp(log(x)) may differ from x in the last bit; pin the coarse anchors exactly.
    return _pin(out, coarse, ends)


def _path(
    rng: np.random.Generator, o: float, h: float, lo: float, c: float, n: int
) -> npt.NDArray[np.float64]:
    """``n + 1`` log prices from open to close whose range is exactly ``[lo, h]``.

    A free Brownian bridge from open to close is mapped through a monotone piecewise-linear
    function that sends its minimum to the low and its maximum to the high while keeping the open
    and the close: the path keeps its shape (no flat stretches from clipping). Where the coarse bar
    has no room beyond its open/close (low == min(open, close)), the bridge is reflected first.
    """
    bridge = _bridge(rng, o, c, n, 1.0 / np.sqrt(max(n, 1)))
    a, z = min(o, c), max(o, c)
    if lo >= a:
        bridge = np.where(bridge < a, 2 * a - bridge, bridge)
    if h <= z:
        bridge = np.where(bridge > z, 2 * z - bridge, bridge)
    bridge = np.clip(bridge, min(bridge.min(), a), max(bridge.max(), z))
    m, top = float(bridge.min()), float(bridge.max())
    xs, ys = [m], [lo]
    for x, y in ((a, a), (z, z), (top, h)):
        if x > xs[-1]:
            xs.append(x)
            ys.append(y)
    path = np.interp(bridge, xs, ys) if len(xs) > 1 else np.full(n + 1, o)
    path[0], path[-1] = o, c
    return np.clip(path, lo, h)


def _pin(fine: pd.DataFrame, coarse: pd.DataFrame, ends: pd.DatetimeIndex) -> pd.DataFrame:
    bucket = np.searchsorted(epoch_ms(ends), epoch_ms(fine.index), side="right")
    values = fine.to_numpy(copy=True)
    for j, (o, h, lo, c) in enumerate(coarse[["open", "high", "low", "close"]].to_numpy()):
        rows = np.flatnonzero(bucket == j)
        if not len(rows):
            continue
        opens = np.clip(values[rows, 0], lo, h)
        closes = np.clip(values[rows, 3], lo, h)
        opens[0], closes[-1] = o, c
        highs = np.clip(np.maximum(values[rows, 1], np.maximum(opens, closes)), lo, h)
        lows = np.clip(np.minimum(values[rows, 2], np.minimum(opens, closes)), lo, h)
        highs[np.argmax(highs)] = h
        lows[np.argmin(lows)] = lo
        values[rows, 0], values[rows, 1], values[rows, 2], values[rows, 3] = (
            opens,
            highs,
            lows,
            closes,
        )
    return pd.DataFrame(values, index=fine.index, columns=fine.columns)


def derive_asset(
    base: pd.DataFrame, *, beta: float, noise: float, scale: float, seed: int
) -> pd.DataFrame:
    """A second asset whose log returns are ``beta`` times the base's plus N(0, noise) noise."""
    base = normalise_candles(base)
    rng = np.random.default_rng(seed)
    close = base["close"].to_numpy()
    rets = np.diff(np.log(close), prepend=np.log(base["open"].iloc[0]))
    new_close = (
        scale
        * base["open"].iloc[0]
        * np.exp(np.cumsum(beta * rets + rng.normal(0, noise, len(rets))))
    )
    new_open = np.concatenate(([scale * base["open"].iloc[0]], new_close[:-1]))
    up = base["high"].to_numpy() / base[["open", "close"]].max(axis=1).to_numpy()
    down = base["low"].to_numpy() / base[["open", "close"]].min(axis=1).to_numpy()
    high = np.maximum(new_open, new_close) * up ** max(beta, 0.1)
    low = np.minimum(new_open, new_close) * down ** max(beta, 0.1)
    frame = pd.DataFrame(
        {
            "open": new_open,
            "high": high,
            "low": low,
            "close": new_close,
            "volume": base["volume"].to_numpy(),
        },
        index=base.index,
    )
    return normalise_candles(frame)


def synthetic_funding(candles: pd.DataFrame, seed: int, lookback_days: int = 30) -> pd.DataFrame:
    """8-hourly funding (``rate``): 0.01% plus a share of the trailing return, plus noise."""
    candles = normalise_candles(candles)
    rng = np.random.default_rng(seed)
    start, end = candles.index[0].ceil("8h"), candles.index[-1]
    times = pd.date_range(start, end, freq=FUNDING_PERIOD)
    close = candles["close"].reindex(candles.index.union(times)).ffill().loc[times]
    trailing = np.log(close / close.shift(lookback_days * 3)).fillna(0.0).to_numpy()
    rate = 0.0001 + 0.0008 * trailing + rng.normal(0, 0.00008, len(times))
    return pd.DataFrame({"rate": np.clip(rate, -0.0075, 0.0075)}, index=times)


def perp_candles(
    spot: pd.DataFrame, funding: pd.DataFrame, premium_per_rate: float = 8.0
) -> pd.DataFrame:
    """Perpetual candles from spot ones, with a premium that follows funding (rate x factor)."""
    spot = normalise_candles(spot)
    premium = (
        funding["rate"]
        .reindex(spot.index.union(funding.index))
        .ffill()
        .reindex(spot.index)
        .fillna(0.0)
    )
    factor = 1.0 + premium_per_rate * premium.to_numpy()
    out = spot.copy()
    for col in ("open", "high", "low", "close"):
        out[col] = spot[col].to_numpy() * factor
    return out


def demo_market(
    freq: str = "1D",
    seed: int = 7,
    start: str | None = None,
    end: str | None = None,
    perps: bool = True,
) -> MarketData:
    """Real monthly BTC made ``freq``-fine, synthetic ETH and SOL, synthetic funding and perps.

    The BTC candles agree with the real monthly history at every month; everything else is
    generated and only fit for demonstrations.
    """
    btc_monthly = load_btc_monthly()
    if start is not None:
        btc_monthly = btc_monthly.loc[
            btc_monthly.index >= pd.Timestamp(start, tz="UTC") - pd.offsets.MonthBegin(1)
        ]
    if end is not None:
        btc_monthly = btc_monthly.loc[btc_monthly.index < pd.Timestamp(end, tz="UTC")]
    btc = fine_candles(btc_monthly, freq, seed, MONTH)
    eth = derive_asset(btc, beta=1.2, noise=0.002, scale=0.06, seed=seed + 1)
    sol = derive_asset(btc, beta=1.5, noise=0.003, scale=0.002, seed=seed + 2)
    spots = {"BTCUSDT": btc, "ETHUSDT": eth, "SOLUSDT": sol}
    candles = {(s, Category.SPOT): f for s, f in spots.items()}
    funding = {s: synthetic_funding(f, seed + 10 + i) for i, (s, f) in enumerate(spots.items())}
    if perps:
        for s, f in spots.items():
            candles[(s, Category.LINEAR)] = perp_candles(f, funding[s])
    data = MarketData(candles, funding)
    if start is not None or end is not None:
        data = data.window(start, end)
    return data


def regime_candles(
    bars: int,
    seed: int = 0,
    *,
    planted: bool = True,
    start: str = "2025-01-01",
    freq: str = "1h",
    price: float = 30_000.0,
) -> pd.DataFrame:
    """Candles with a planted, learnable pattern, or (``planted=False``) a pure random walk.

    Planted: the market alternates between blocks (about 150 bars each) of two regimes that a
    trend follower meets differently. *Trending*: calm (0.3% a bar) with a drift of 0.15% a
    bar that keeps its direction for about 60 bars: a trend signal there mostly pays. *Choppy*:
    twice as volatile, no drift, each move half taken back on the next bar: a trend signal there
    mostly loses its fees and more. Volatility tells the regimes apart, so a meta-model can
    learn which signals to take. Noise: the same volatility on average, every bar independent,
    nothing to learn. Volume is lognormal noise in both. Same seed, same candles.
    """
    rng = np.random.default_rng(seed)
    returns = np.empty(bars)
    if planted:
        trending = np.empty(bars, dtype=bool)
        i, state = 0, bool(rng.integers(2))
        while i < bars:
            length = int(rng.integers(100, 200))
            trending[i : i + length] = state
            i, state = i + length, not state
        drift = np.empty(bars)
        i = 0
        while i < bars:
            length = int(rng.integers(40, 80))
            drift[i : i + length] = 0.0015 * (1 if rng.integers(2) else -1)
            i += length
        shocks = rng.normal(0.0, 1.0, bars)
        previous = 0.0
        for t in range(bars):
            r = drift[t] + 0.003 * shocks[t] if trending[t] else -0.5 * previous + 0.008 * shocks[t]
            returns[t] = previous = r
    else:
        returns[:] = rng.normal(0.0, 0.006, bars)
    close = price * np.exp(np.cumsum(returns))
    open_ = np.concatenate(([price], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.0015, (2, bars)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.lognormal(3.0, 0.4, bars)
    index = pd.date_range(start, periods=bars, freq=freq, tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )
