"""The candles a training run reads: CSV files (the backtester's loader) or the venue's kline
endpoint (Bybit V5 ``/v5/market/kline``, paged back from now through pybit), and their hash."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import pandas as pd

from engine_runtime.backtest.data import load_candles, normalise_candles
from engine_runtime.live.market import interval_ms
from eternal_kernel.bybit.session import http_session

PAGE = 1000
"""Bybit's largest kline page."""


def from_files(specs: Sequence[str]) -> dict[str, pd.DataFrame]:
    """``SYMBOL=path.csv`` items: each file through the backtester's loader."""
    out = {}
    for item in specs:
        symbol, sep, path = item.partition("=")
        if not sep or not symbol or not path:
            raise ValueError(f"--candles {item!r}: expected SYMBOL=path")
        out[symbol.upper()] = load_candles(path)
    return out


def from_venue(
    url: str, symbols: Sequence[str], category: str, interval: str, bars: int, end_ms: int
) -> dict[str, pd.DataFrame]:
    """The ``bars`` confirmed candles before ``end_ms`` of each symbol, from a Bybit-compatible
    venue at ``url`` (public endpoint: no key)."""
    session = http_session(url, "", "", max_retries=3)
    width = interval_ms(interval)
    out = {}
    for symbol in symbols:
        rows: dict[int, list[str]] = {}
        end = end_ms - 1
        while len(rows) < bars:
            body = session.get_kline(
                category=category, symbol=symbol, interval=interval, end=end, limit=PAGE
            )
            page = (body.get("result") or {}).get("list") or []
            fresh = [r for r in page if int(r[0]) not in rows and int(r[0]) + width <= end_ms]
            if not fresh:
                break
            for row in fresh:
                rows[int(row[0])] = row
            end = min(int(r[0]) for r in page) - 1
        chosen = sorted(rows)[-bars:]
        frame = pd.DataFrame(
            [[float(x) for x in rows[t][1:6]] for t in chosen],
            index=pd.to_datetime(chosen, unit="ms", utc=True),
            columns=["open", "high", "low", "close", "volume"],
        )
        out[symbol] = normalise_candles(frame)
    return out


def funding_from_files(specs: Sequence[str]) -> dict[str, pd.DataFrame]:
    """``SYMBOL=path.csv`` items with a ``rate`` column indexed by settlement time (the
    backtester's ``--funding`` format)."""
    out = {}
    for item in specs:
        symbol, sep, path = item.partition("=")
        if not sep:
            raise ValueError(f"--funding {item!r}: expected SYMBOL=path")
        frame = pd.read_csv(path, index_col=0, parse_dates=True)
        index = pd.DatetimeIndex(frame.index)
        frame.index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        out[symbol.upper()] = frame.sort_index()
    return out


def funding_from_venue(
    url: str, symbols: Sequence[str], start_ms: int, end_ms: int
) -> dict[str, pd.DataFrame]:
    """Settled funding rates of each perpetual in ``[start_ms, end_ms)``, paged back (200 a
    page, Bybit's largest)."""
    session = http_session(url, "", "", max_retries=3)
    out = {}
    for symbol in symbols:
        rates: dict[int, float] = {}
        end = end_ms - 1
        while end >= start_ms:
            body = session.get_funding_rate_history(
                category="linear", symbol=symbol, startTime=start_ms, endTime=end, limit=200
            )
            page = (body.get("result") or {}).get("list") or []
            times = [int(r["fundingRateTimestamp"]) for r in page]
            for r, t in zip(page, times, strict=True):
                rates[t] = float(r["fundingRate"])
            if not times or min(times) - 1 >= end:
                break
            end = min(times) - 1
        chosen = sorted(rates)
        out[symbol] = pd.DataFrame(
            {"rate": [rates[t] for t in chosen]},
            index=pd.to_datetime(chosen, unit="ms", utc=True),
        )
    return out


def data_hash(
    candles: Mapping[str, pd.DataFrame], funding: Mapping[str, pd.DataFrame] | None = None
) -> str:
    """sha256 of the data as trained on: candles, then funding, by symbol, as CSV text."""
    digest = hashlib.sha256()
    for kind, frames in (("candles", candles), ("funding", funding or {})):
        for symbol in sorted(frames):
            digest.update(f"{kind} {symbol}\n".encode())
            text = frames[symbol].to_csv(float_format="%.12g", date_format="%Y-%m-%dT%H:%M:%SZ")
            digest.update(text.encode())
    return digest.hexdigest()
