"""Public streams: orderbook.{depth}.{symbol}, tickers.{symbol}, kline.{interval}.{symbol},
publicTrade.{symbol}, on /v5/public/spot and /v5/public/linear.

Order books are tracked per topic: a subscriber first gets a snapshot, then deltas with
an increasing `u`; depth 1 is always a snapshot, as on Bybit. Kline pushes the running
candle (`confirm: false`) and a final one (`confirm: true`) when it closes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from paper_venue.decimals import fmt, fmt_plain
from paper_venue.instruments import Category, Instrument
from paper_venue.router.market import INTERVALS_MS, MINUTE_MS, Bar
from paper_venue.router.rest.market import book_snapshot, ticker_row
from paper_venue.router.venue import Venue
from paper_venue.router.ws_conn import Connection

TOPIC_KINDS = ("orderbook", "tickers", "kline", "publicTrade")
"""The public topics, by the first part of their name."""
DEPTHS = {Category.SPOT: (1, 50, 200, 1000), Category.LINEAR: (1, 50, 200, 500, 1000)}
"""Bybit documents 1, 50, 200 and 1000 for spot and linear; linear also keeps the 500 it
documented before (a book never has more levels than the venue's `book.levels`)."""
KLINE_INTERVALS = [*INTERVALS_MS, "M"]


@dataclass
class BookTopic:
    levels: dict[str, dict[str, str]] = field(default_factory=lambda: {"b": {}, "a": {}})
    u: int = 0


@dataclass
class Parsed:
    kind: str
    inst: Instrument
    depth: int = 0
    interval: str = ""


class PublicStreams:
    """Subscriptions and publication for one category's public endpoint."""

    def __init__(self, venue: Venue, category: Category) -> None:
        self.venue = venue
        self.category = category
        self.subs: dict[str, set[Connection]] = {}
        self.books: dict[str, BookTopic] = {}
        self.tickers: dict[str, dict[str, object]] = {}
        self.kline_last: dict[str, int] = {}
        self.kline_minute: dict[str, int] = {}  # the one-minute bar last published per topic

    def parse(self, topic: str) -> Parsed | None:
        parts = topic.split(".")
        inst = self.venue.instruments.get((self.category, parts[-1]))
        if inst is None:
            return None
        if (
            parts[0] == "orderbook"
            and len(parts) == 3
            and parts[1].isascii()
            and parts[1].isdigit()
        ):
            depth = int(parts[1])
            return (
                Parsed("orderbook", inst, depth=depth) if depth in DEPTHS[self.category] else None
            )
        if parts[0] == "kline" and len(parts) == 3 and parts[1] in KLINE_INTERVALS:
            return Parsed("kline", inst, interval=parts[1])
        if parts[0] in ("tickers", "publicTrade") and len(parts) == 2:
            return Parsed(parts[0], inst)
        return None

    def subscribe(self, conn: Connection, topic: str) -> bool:
        parsed = self.parse(topic)
        if parsed is None or topic in conn.topics:
            return False
        conn.topics.add(topic)
        self.subs.setdefault(topic, set()).add(conn)
        return True

    def send_initial(self, conn: Connection, topic: str) -> None:
        """The first message of a fresh subscription (sent after the subscribe reply)."""
        parsed = self.parse(topic)
        if parsed is not None:
            self._initial(conn, topic, parsed)

    def unsubscribe(self, conn: Connection, topic: str) -> bool:
        if topic not in conn.topics:
            return False
        conn.topics.discard(topic)
        self.subs.get(topic, set()).discard(conn)
        return True

    def remove(self, conn: Connection) -> None:
        for topic in conn.topics:
            self.subs.get(topic, set()).discard(conn)

    def _broadcast(self, topic: str, message: dict[str, object]) -> None:
        conns = self.subs.get(topic)
        if not conns:
            return
        text = json.dumps(message, separators=(",", ":"))
        for conn in list(conns):
            conn.send_text(text)

    # initial messages -----------------------------------------------------------------

    def _initial(self, conn: Connection, topic: str, parsed: Parsed) -> None:
        now = self.venue.clock.now_ms()
        alone = self.subs.get(topic) == {conn}
        if parsed.kind == "orderbook":
            if alone:  # nobody kept the published state current: start from the book now
                self.books.pop(topic, None)
            state = self._book_state(topic, parsed)
            conn.send(self._book_message(topic, parsed, state, "snapshot", state.levels, now))
        elif parsed.kind == "tickers":
            row = self._ticker(parsed.inst)
            if alone or topic not in self.tickers:
                self.tickers[topic] = row
            conn.send(self._ticker_message(topic, row, "snapshot", now))
        elif parsed.kind == "kline":
            bars = self.venue.market.klines(parsed.inst.symbol, parsed.interval, None, None, 1)
            if bars:
                # the candle in progress: its close is confirmed when the next one starts
                self.kline_last.setdefault(topic, bars[0].start_ms)
                conn.send(self._kline_message(topic, parsed, bars[0], False, now))

    # books ----------------------------------------------------------------------------

    def _book_state(self, topic: str, parsed: Parsed) -> BookTopic:
        state = self.books.get(topic)
        if state is None:
            state = BookTopic()
            snap = book_snapshot(self.venue, parsed.inst, parsed.depth)
            for side in ("b", "a"):
                state.levels[side] = {p: q for p, q in snap[side]}
            state.u = 1
            self.books[topic] = state
        return state

    def _book_message(
        self,
        topic: str,
        parsed: Parsed,
        state: BookTopic,
        kind: str,
        levels: dict[str, dict[str, str]],
        now: int,
    ) -> dict[str, object]:
        data: dict[str, object] = {"s": parsed.inst.symbol}
        for side, descending in (("b", True), ("a", False)):
            data[side] = sorted(
                ([p, q] for p, q in levels[side].items()),
                key=lambda pq: Decimal(pq[0]),
                reverse=descending,
            )
        return {
            "topic": topic,
            "type": kind,
            "ts": now,
            "data": {**data, "u": state.u, "seq": self.venue.next_seq()},
            "cts": now,
        }

    def _publish_book(self, topic: str, parsed: Parsed, now: int) -> None:
        state = self._book_state(topic, parsed)
        snap = book_snapshot(self.venue, parsed.inst, parsed.depth)
        fresh = {side: {p: q for p, q in snap[side]} for side in ("b", "a")}
        delta: dict[str, dict[str, str]] = {"b": {}, "a": {}}
        for side in ("b", "a"):
            old = state.levels[side]
            for p, q in fresh[side].items():
                if old.get(p) != q:
                    delta[side][p] = q
            for p in old:
                if p not in fresh[side]:
                    delta[side][p] = "0"
        if not delta["b"] and not delta["a"]:
            return
        state.levels = fresh
        state.u += 1
        if parsed.depth == 1:
            self._broadcast(topic, self._book_message(topic, parsed, state, "snapshot", fresh, now))
        else:
            self._broadcast(topic, self._book_message(topic, parsed, state, "delta", delta, now))

    # tickers and klines ---------------------------------------------------------------

    def _ticker_message(
        self, topic: str, row: dict[str, object], kind: str, now: int
    ) -> dict[str, object]:
        return {"topic": topic, "type": kind, "data": row, "cs": self.venue.next_seq(), "ts": now}

    def _ticker(self, inst: Instrument) -> dict[str, object]:
        row = ticker_row(self.venue, inst)
        if inst.category is Category.LINEAR:
            row["tickDirection"] = self.venue.market.states[inst.symbol].tick_direction
        return row

    def _publish_ticker(self, topic: str, parsed: Parsed, now: int) -> None:
        row = self._ticker(parsed.inst)
        old = self.tickers.get(topic, {})
        self.tickers[topic] = row
        if self.category is Category.SPOT:
            if row != old:
                self._broadcast(topic, self._ticker_message(topic, row, "snapshot", now))
            return
        changed = {k: v for k, v in row.items() if old.get(k) != v}
        if changed:
            changed["symbol"] = parsed.inst.symbol
            self._broadcast(topic, self._ticker_message(topic, changed, "delta", now))

    def _kline_message(
        self, topic: str, parsed: Parsed, bar: Bar, confirm: bool, now: int
    ) -> dict[str, object]:
        pd = parsed.inst.price_decimals
        width = INTERVALS_MS.get(parsed.interval, 43_200) * MINUTE_MS
        return {
            "topic": topic,
            "data": [
                {
                    "start": bar.start_ms,
                    "end": bar.start_ms + width - 1,
                    "interval": parsed.interval,
                    "open": fmt(bar.open, pd),
                    "close": fmt(bar.close, pd),
                    "high": fmt(bar.high, pd),
                    "low": fmt(bar.low, pd),
                    "volume": fmt_plain(bar.volume),
                    "turnover": fmt_plain(bar.turnover),
                    "confirm": confirm,
                    "timestamp": now,
                }
            ],
            "ts": now,
            "type": "snapshot",
        }

    def _publish_kline(self, topic: str, parsed: Parsed, now: int) -> None:
        bars = self.venue.market.klines(parsed.inst.symbol, parsed.interval, None, None, 2)
        if not bars:
            return
        last_start = self.kline_last.get(topic)
        if last_start is not None and bars[0].start_ms != last_start and len(bars) > 1:
            self._broadcast(topic, self._kline_message(topic, parsed, bars[1], True, now))
        self.kline_last[topic] = bars[0].start_ms
        self._broadcast(topic, self._kline_message(topic, parsed, bars[0], False, now))

    # entry points from the venue ------------------------------------------------------

    def on_tick(self, moved: list[str]) -> None:
        now = self.venue.clock.now_ms()
        for topic, conns in list(self.subs.items()):
            if not conns:
                continue
            parsed = self.parse(topic)
            if parsed is None:
                continue
            if parsed.kind == "orderbook":
                self._publish_book(topic, parsed, now)
            elif parsed.kind == "tickers" and parsed.inst.symbol in moved:
                self._publish_ticker(topic, parsed, now)
            elif parsed.kind == "kline":
                # A held price still closes its candles (as Bybit's do): publish on a move and
                # whenever a new minute starts.
                bars = self.venue.market.states[parsed.inst.symbol].bars
                minute = bars[-1].start_ms if bars else -1
                if parsed.inst.symbol in moved or minute != self.kline_minute.get(topic):
                    self.kline_minute[topic] = minute
                    self._publish_kline(topic, parsed, now)

    def on_trade(self, inst: Instrument, price: Decimal, qty: Decimal, side: str, now: int) -> None:
        if inst.category is not self.category:
            return
        topic = f"publicTrade.{inst.symbol}"
        if not self.subs.get(topic):
            return
        st = self.venue.market.states[inst.symbol]
        self._broadcast(
            topic,
            {
                "topic": topic,
                "type": "snapshot",
                "ts": now,
                "data": [
                    {
                        "T": now,
                        "s": inst.symbol,
                        "S": side,
                        "v": fmt(qty, inst.qty_decimals),
                        "p": fmt(price, inst.price_decimals),
                        "L": st.tick_direction,
                        "i": str(uuid.uuid4()),
                        "BT": False,
                        "RPI": False,
                        "seq": self.venue.next_seq(),
                    }
                ],
            },
        )
