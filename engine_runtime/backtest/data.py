"""Market data for backtests: candles per market, funding per perpetual, external signals.

Real history to start from: the ``backtesting`` package's monthly BTC-USD candles 2012-2024, read
from its CSV file without importing the package (it is a dev tool, not a product dependency).
Finer candles come from ``synthetic.fine_candles``, which is consistent with the coarse ones.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine_runtime.strategies.interface import Category, MarketKey

OHLCV = ["open", "high", "low", "close", "volume"]


def normalise_candles(frame: pd.DataFrame) -> pd.DataFrame:
    """Lower-case OHLCV columns, float64, a sorted UTC DatetimeIndex of bar *open* times."""
    renamed = frame.rename(columns={c: str(c).lower() for c in frame.columns})
    missing = [c for c in OHLCV[:4] if c not in renamed.columns]
    if missing:
        raise ValueError(f"candles lack columns {missing}")
    if "volume" not in renamed.columns:
        renamed["volume"] = 0.0
    out = renamed[OHLCV].astype("float64")
    index = pd.DatetimeIndex(out.index)
    out.index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    out = out.sort_index()
    if out.index.has_duplicates:
        raise ValueError("candles have duplicate timestamps")
    bad = (out["high"] < out[["open", "close"]].max(axis=1)) | (
        out["low"] > out[["open", "close"]].min(axis=1)
    )
    if bool(bad.any()):
        raise ValueError(f"inconsistent OHLC at {out.index[bad.to_numpy()][0]}")
    return out


def backtesting_btc_csv() -> Path:
    """Path of the ``backtesting`` package's bundled BTCUSD.csv (found without importing it)."""
    spec = importlib.util.find_spec("backtesting")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'backtesting' package is not installed (dev extra)")
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "BTCUSD.csv"
    if not path.exists():
        raise FileNotFoundError(path)
    return path


def load_btc_monthly() -> pd.DataFrame:
    """Monthly BTC-USD candles 2012-2024, indexed by the month's first instant (UTC).

    The file labels each month by its last day; a bar's timestamp here is its open time, the
    convention of every frame in this package.
    """
    raw = pd.read_csv(backtesting_btc_csv(), index_col=0, parse_dates=True)
    month_start = pd.DatetimeIndex(raw.index).to_period("M").to_timestamp()
    raw.index = month_start
    return normalise_candles(raw)


def load_candles(path: str | Path) -> pd.DataFrame:
    """Candles from CSV (first column the time) or Parquet."""
    p = Path(path)
    if p.suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(p)
        if "timestamp" in frame.columns:
            frame = frame.set_index("timestamp")
    else:
        frame = pd.read_csv(p, index_col=0, parse_dates=True)
    return normalise_candles(frame)


@dataclass
class MarketData:
    """Everything a backtest reads. All candle frames share one index (the clock).

    ``funding[symbol]`` has a ``rate`` column (settled, per 8h) and optionally ``predicted``,
    indexed by settlement time. ``signals[name]`` are external series such as ``fear_greed``.
    A perpetual without candles of its own trades at its spot candles (zero basis).
    """

    candles: dict[MarketKey, pd.DataFrame]
    funding: dict[str, pd.DataFrame] = field(default_factory=dict)
    signals: dict[str, pd.Series] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.candles:
            raise ValueError("no candles")
        self.candles = {k: normalise_candles(v) for k, v in self.candles.items()}
        first = next(iter(self.candles.values())).index
        for key, frame in self.candles.items():
            if not frame.index.equals(first):
                raise ValueError(f"candles of {key} are not on the common clock; use align()")

    @property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(next(iter(self.candles.values())).index)

    def frame(self, key: MarketKey) -> pd.DataFrame:
        if key in self.candles:
            return self.candles[key]
        symbol, category = key
        if category is Category.LINEAR and (symbol, Category.SPOT) in self.candles:
            return self.candles[(symbol, Category.SPOT)]
        raise KeyError(f"no candles for {symbol} {category.value}")

    def window(
        self, start: str | pd.Timestamp | None, end: str | pd.Timestamp | None
    ) -> MarketData:
        """The same data restricted to ``[start, end)`` (funding and signals are kept whole:
        their look-ups only ever read values before the decision time)."""
        candles = {
            k: v.loc[(v.index >= _ts(start)) & (v.index < _ts(end, True))]
            for k, v in self.candles.items()
        }
        return MarketData(candles, dict(self.funding), dict(self.signals))


def _ts(value: str | pd.Timestamp | None, end: bool = False) -> pd.Timestamp:
    if value is None:
        return pd.Timestamp.max.tz_localize("UTC") if end else pd.Timestamp.min.tz_localize("UTC")
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def align(candles: Mapping[MarketKey, pd.DataFrame]) -> dict[MarketKey, pd.DataFrame]:
    """Put candle frames on their common timestamps (the intersection)."""
    frames = {k: normalise_candles(v) for k, v in candles.items()}
    common: pd.Index | None = None
    for frame in frames.values():
        common = frame.index if common is None else common.intersection(frame.index)
    assert common is not None
    return {k: v.loc[common] for k, v in frames.items()}


def bar_ms(index: pd.DatetimeIndex | npt.NDArray[np.int64]) -> int:
    """The bar length in milliseconds (the median spacing; one day for a single bar), of a
    DatetimeIndex or of its ``epoch_ms`` already taken."""
    if len(index) < 2:
        return 86_400_000
    diffs = np.diff(index if isinstance(index, np.ndarray) else epoch_ms(index))
    return int(np.median(diffs))


def epoch_ms(index: pd.Index) -> npt.NDArray[np.int64]:
    """Epoch milliseconds of a DatetimeIndex, whatever its unit (pandas 3 defaults vary)."""
    dt = pd.DatetimeIndex(index)
    if dt.tz is None:
        dt = dt.tz_localize("UTC")
    return np.asarray(dt.as_unit("ms").asi8, dtype=np.int64)
