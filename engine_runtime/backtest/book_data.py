"""Book and trade data for backtests: Bybit stream messages, from a file or generated.

Format (one file per category, JSON Lines): each line is one Bybit V5 public stream message as
the WebSocket delivered it, in the order received, e.g.

    {"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1700000000000,
     "data": {"s": "BTCUSDT", "b": [["60000.0", "1.2"], ...], "a": [...], "u": 1, "seq": 7}}
    {"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1700000000100,
     "data": {"s": "BTCUSDT", "b": [["60000.0", "0"]], "a": [], "u": 2, "seq": 8}}
    {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1700000000150,
     "data": [{"T": 1700000000150, "s": "BTCUSDT", "S": "Sell", "v": "0.01", "p": "59999.9",
               "i": "a1", "BT": false}]}

A recorder only has to append what ``orderbook.{depth}.{symbol}`` and ``publicTrade.{symbol}``
deliver. Replaying rebuilds each book with the live runtime's own code
(``adapters.bybit.market_data.LocalBook``: a snapshot replaces, a delta out of sequence breaks
the book until the next snapshot, a broken book produces no events). Other topics are ignored.

``synthetic_messages`` writes the same messages from candles: a book around a mid that follows
each candle's path (open, nearer extreme, other extreme, close) and trades at the touch, with
``Pattern``s that plant a bid/ask imbalance and a volume spike over a time range, so tests can
check a strategy acts on exactly what was planted. Generated data is deterministic per seed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine_runtime.adapters.market_data import (
    BookGap,
    LocalBook,
    book_topic,
    public_trades,
    symbol_of_topic,
)
from engine_runtime.strategies.interface import Category, OrderBook, PublicTrade

from .data import epoch_ms

if TYPE_CHECKING:
    import pandas as pd

Event = tuple[int, int, OrderBook | PublicTrade]
"""(time, arrival order, what): the market events of a run, in time order."""


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    with Path(path).open() as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def write_jsonl(messages: Iterable[dict[str, Any]], path: str | Path) -> None:
    with Path(path).open("w") as handle:
        for message in messages:
            handle.write(json.dumps(message, separators=(",", ":")))
            handle.write("\n")


def replay(
    messages: Iterable[dict[str, Any]], category: Category, levels: int, start_seq: int = 0
) -> list[Event]:
    """The books (top ``levels``) and trades the messages make, in arrival order."""
    books: dict[str, LocalBook] = {}
    out: list[Event] = []
    seq = start_seq
    for message in messages:
        topic = str(message.get("topic", ""))
        kind = topic.partition(".")[0]
        if kind == "orderbook":
            symbol = symbol_of_topic(topic)
            book = books.get(symbol)
            if book is None:
                book = books[symbol] = LocalBook(symbol, category)
            try:
                changed = book.apply(message)
            except BookGap:
                continue
            view = book.view(levels) if changed else None
            if view is not None:
                out.append((view.ts_ms, seq, view))
                seq += 1
        elif kind == "publicTrade":
            for trade in public_trades(message, category):
                out.append((trade.ts_ms, seq, trade))
                seq += 1
    return out


def merge(*streams: Sequence[Event]) -> list[Event]:
    """Several markets' events as one time-ordered list (ties keep arrival order)."""
    events = [e for stream in streams for e in stream]
    events.sort(key=lambda e: (e[0], e[1]))
    return events


@dataclass(frozen=True, slots=True)
class Pattern:
    """Over ``[start_ms, end_ms)``: bid sizes times ``imbalance`` (below 1: asks heavier by its
    inverse), and trade sizes times ``volume``."""

    start_ms: int
    end_ms: int
    imbalance: float = 1.0
    volume: float = 1.0


def _fmt(value: float, places: int) -> str:
    return f"{value:.{places}f}"


def synthetic_messages(
    candles: pd.DataFrame,
    symbol: str,
    category: Category = Category.LINEAR,
    *,
    updates_per_bar: int = 12,
    levels: int = 50,
    tick: float = 0.1,
    level_qty: float = 1.0,
    trade_qty: float = 0.05,
    patterns: Sequence[Pattern] = (),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Bybit messages (an ``orderbook`` snapshot, then deltas; ``publicTrade``) consistent with
    ``candles`` (a DatetimeIndex of bar opens, columns open/high/low/close): ``updates_per_bar``
    book updates per candle, each with one trade at the touch in the direction of the move."""
    import pandas as pd

    if updates_per_bar < 4:
        raise ValueError("updates_per_bar must be at least 4 (the candle's path has 4 points)")
    rng = np.random.default_rng(seed)
    places = max(0, -math.floor(math.log10(tick)))
    topic = book_topic(category, symbol, levels)
    starts = epoch_ms(pd.DatetimeIndex(candles.index))
    width = int(starts[1] - starts[0]) if len(starts) > 1 else 60_000
    o, h, lo, c = (candles[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    out: list[dict[str, Any]] = []
    last: dict[str, dict[str, str]] = {"b": {}, "a": {}}
    u, prev_mid = 0, float(o[0]) if len(o) else 0.0
    offsets = np.arange(updates_per_bar) / (updates_per_bar - 1) * 3.0
    for k, start in enumerate(starts.tolist()):
        path = (
            (o[k], h[k], lo[k], c[k]) if h[k] - o[k] < o[k] - lo[k] else (o[k], lo[k], h[k], c[k])
        )
        mids = np.interp(offsets, [0.0, 1.0, 2.0, 3.0], path)
        noise = 1.0 + 0.5 * rng.random((updates_per_bar, 2, levels))
        sizes = 0.5 + rng.random(updates_per_bar)
        for j in range(updates_per_bar):
            ts = int(start + j * width // updates_per_bar)
            bid_scale, volume = 1.0, 1.0
            for p in patterns:
                if p.start_ms <= ts < p.end_ms:
                    bid_scale *= p.imbalance
                    volume *= p.volume
            mid = float(mids[j])
            bid1 = math.floor(mid / tick) * tick
            bid1 = max(bid1, tick)
            ask1 = bid1 + tick
            fresh: dict[str, dict[str, str]] = {"b": {}, "a": {}}
            for i in range(levels):
                bq = level_qty * noise[j, 0, i] * (bid_scale if bid_scale >= 1 else 1.0)
                aq = level_qty * noise[j, 1, i] * (1.0 / bid_scale if bid_scale < 1 else 1.0)
                if bid1 - tick * i > 0:
                    fresh["b"][_fmt(bid1 - tick * i, places)] = _fmt(bq, 3)
                fresh["a"][_fmt(ask1 + tick * i, places)] = _fmt(aq, 3)
            u += 1
            if u == 1:
                kind, data_b, data_a = "snapshot", fresh["b"], fresh["a"]
            else:
                kind = "delta"
                data_b = _diff(last["b"], fresh["b"])
                data_a = _diff(last["a"], fresh["a"])
            last = fresh
            out.append({
                "topic": topic, "type": kind, "ts": ts, "cts": ts,
                "data": {"s": symbol, "b": [[p, q] for p, q in data_b.items()],
                         "a": [[p, q] for p, q in data_a.items()], "u": u, "seq": u},
            })  # fmt: skip
            buy = mid >= prev_mid
            prev_mid = mid
            qty = trade_qty * float(sizes[j]) * volume
            out.append({
                "topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": ts + 1,
                "data": [{"T": ts + 1, "s": symbol, "S": "Buy" if buy else "Sell",
                          "v": _fmt(qty, 3), "p": _fmt(ask1 if buy else bid1, places),
                          "i": f"{symbol}-{u}", "BT": False}],
            })  # fmt: skip
    return out


def _diff(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    changed = {p: q for p, q in new.items() if old.get(p) != q}
    changed.update({p: "0" for p in old if p not in new})
    return changed


def book_events(
    data: dict[tuple[str, Category], Sequence[dict[str, Any]]] | None, levels: int
) -> list[Event]:
    """The events of per-market message lists (as ``synthetic_messages`` makes or a file
    holds), merged in time order."""
    if not data:
        return []
    streams: list[list[Event]] = []
    seq = 0
    for (_, category), messages in data.items():
        events = replay(messages, category, levels, seq)
        seq += len(events)
        streams.append(events)
    return merge(*streams)
