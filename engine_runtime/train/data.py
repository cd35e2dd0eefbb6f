"""The candles a training run reads: CSV files (the backtester's loader) or the venue's kline
endpoint (Bybit V5 ``/v5/market/kline``, paged back from now through pybit), and their hash."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import pandas as pd

from engine_runtime.backtest.data import load_candles, normalise_candles
from engine_runtime.live.market import interval_ms
from engine_runtime.venue.session import http_session

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


def data_hash(candles: Mapping[str, pd.DataFrame]) -> str:
    """sha256 of the candles as trained on (symbols in order, times in ms, values repr'd)."""
    digest = hashlib.sha256()
    for symbol in sorted(candles):
        frame = candles[symbol]
        digest.update(symbol.encode() + b"\n")
        digest.update(frame.to_csv(float_format="%.12g", date_format="%Y-%m-%dT%H:%M:%SZ").encode())
    return digest.hexdigest()
