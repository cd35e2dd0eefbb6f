"""Price sources: a seeded random walk, scripted paths, or a replayed candle file.

A source answers `price_at(symbol, ts_ms)` deterministically for any time at or after its
origin, so the venue can sample it at whatever pace its clock runs. Prices leave a source
already rounded to the instrument's tick, as Decimal. The random walk draws its returns as
floats: they are a random process, not money, and become Decimal at the tick.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import numpy as np

from paper_venue.config import FeedSettings
from paper_venue.decimals import floor_to


class PriceSource(Protocol):
    """Anything that prices a symbol at a market time."""

    def price_at(self, symbol: str, ts_ms: int) -> Decimal: ...


class RandomWalk:
    """Log-normal walk with jumps and calm/volatile regimes, one stream per symbol.

    Steps are generated lazily in chunks from a per-symbol seed, so a price depends only on
    (seed, symbol, step index), never on how often it was asked for.
    """

    _CHUNK = 4096

    def __init__(
        self, settings: FeedSettings, seed: int, origin_ms: int, ticks: dict[str, Decimal]
    ) -> None:
        self._s = settings
        self._origin_ms = origin_ms
        self._ticks = ticks
        self._paths: dict[str, list[float]] = {}
        self._rngs: dict[str, np.random.Generator] = {}
        self._volatile: dict[str, bool] = {}
        for i, symbol in enumerate(sorted(settings.initial_prices)):
            self._rngs[symbol] = np.random.default_rng([seed, i])
            self._paths[symbol] = [math.log(float(settings.initial_prices[symbol]))]
            self._volatile[symbol] = False

    def _extend(self, symbol: str, upto: int) -> None:
        path = self._paths[symbol]
        rng = self._rngs[symbol]
        s = self._s
        while len(path) <= upto:
            normals = rng.standard_normal(self._CHUNK)
            jumps = rng.random(self._CHUNK)
            jump_sizes = rng.standard_normal(self._CHUNK)
            switches = rng.random(self._CHUNK)
            level = path[-1]
            for k in range(self._CHUNK):
                if switches[k] < s.regime_change_probability:
                    self._volatile[symbol] = not self._volatile[symbol]
                vol = s.volatility_per_step * (
                    s.volatile_multiplier if self._volatile[symbol] else 1.0
                )
                step = normals[k] * vol
                if jumps[k] < s.jump_probability:
                    step += jump_sizes[k] * s.jump_size
                level += step
                path.append(level)

    def price_at(self, symbol: str, ts_ms: int) -> Decimal:
        index = max(0, (ts_ms - self._origin_ms) // self._s.step_ms)
        self._extend(symbol, index)
        tick = self._ticks[symbol]
        raw = Decimal(repr(math.exp(self._paths[symbol][index])))
        return max(tick, floor_to(raw, tick))


class ScriptedPath:
    """Piecewise-linear multipliers of the initial price, from (offset_ms, multiplier) points.

    Before the first point and after the last the price holds. Symbols without a script
    stay at their initial price.
    """

    def __init__(self, settings: FeedSettings, origin_ms: int, ticks: dict[str, Decimal]) -> None:
        self._origin_ms = origin_ms
        self._ticks = ticks
        self._initial = dict(settings.initial_prices)
        self._points: dict[str, list[tuple[int, Decimal]]] = {
            sym: sorted((int(t), Decimal(m)) for t, m in pts)
            for sym, pts in settings.script.items()
        }

    def set_script(self, symbol: str, points: list[tuple[int, Decimal]], origin_ms: int) -> None:
        """Replace one symbol's path, with offsets counted from `origin_ms`."""
        base = self.price_at(symbol, origin_ms)
        shift = origin_ms - self._origin_ms
        scale = base / self._initial[symbol]
        self._points[symbol] = sorted((t + shift, m * scale) for t, m in points)

    def price_at(self, symbol: str, ts_ms: int) -> Decimal:
        tick = self._ticks[symbol]
        initial = self._initial[symbol]
        pts = self._points.get(symbol)
        if not pts:
            return floor_to(initial, tick)
        offset = ts_ms - self._origin_ms
        times = [t for t, _ in pts]
        i = bisect_right(times, offset)
        if i == 0:
            mult = pts[0][1]
        elif i == len(pts):
            mult = pts[-1][1]
        else:
            (t0, m0), (t1, m1) = pts[i - 1], pts[i]
            mult = m0 + (m1 - m0) * Decimal(offset - t0) / Decimal(t1 - t0)
        return max(tick, floor_to(initial * mult, tick))


class CandleReplay:
    """Replays candles from a CSV or Parquet file, shifted so the first starts at the origin.

    Within a candle the price moves open -> high -> low -> close in equal quarters (a
    bullish candle visits low before high), and the replay holds the last close at the end.
    """

    def __init__(self, settings: FeedSettings, origin_ms: int, ticks: dict[str, Decimal]) -> None:
        import pandas as pd

        if settings.candles_path is None:
            raise ValueError("feed.kind=candles needs feed.candles_path")
        path = Path(settings.candles_path)
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        missing = {"timestamp", "open", "high", "low", "close"} - set(frame.columns)
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        if "symbol" not in frame.columns:
            if not settings.candles_symbol:
                raise ValueError(f"{path}: no symbol column; set feed.candles_symbol")
            frame["symbol"] = settings.candles_symbol
        self._ticks = ticks
        self._series: dict[str, tuple[list[int], list[tuple[Decimal, ...]], int]] = {}
        for symbol, group in frame.groupby("symbol"):
            group = group.sort_values("timestamp")
            stamps = [int(t) for t in group["timestamp"]]
            width = stamps[1] - stamps[0] if len(stamps) > 1 else 60_000
            shifted = [origin_ms + (t - stamps[0]) for t in stamps]
            ohlc = [
                tuple(Decimal(str(row[c])) for c in ("open", "high", "low", "close"))
                for _, row in group.iterrows()
            ]
            self._series[str(symbol)] = (shifted, ohlc, width)

    def symbols(self) -> list[str]:
        return sorted(self._series)

    def price_at(self, symbol: str, ts_ms: int) -> Decimal:
        starts, ohlc, width = self._series[symbol]
        i = bisect_right(starts, ts_ms) - 1
        if i < 0:
            price = ohlc[0][0]
        elif ts_ms >= starts[i] + width and i == len(starts) - 1:
            price = ohlc[i][3]
        else:
            o, h, low, c = ohlc[i]
            route = [o, low, h, c] if c >= o else [o, h, low, c]
            frac = Decimal(min(ts_ms - starts[i], width)) / Decimal(width) * 3
            leg = min(int(frac), 2)
            a, b = route[leg], route[leg + 1]
            price = a + (b - a) * (frac - leg)
        tick = self._ticks[symbol]
        return max(tick, floor_to(price, tick))
