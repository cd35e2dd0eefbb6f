"""Per-symbol market state: last, mark and index price, admin adjustments, and candles.

The feed gives a raw price; `Market` applies what the admin asked for (a pause holds the
price, a move rescales it from then on) and records one-minute candles from which every
kline interval and the 24-hour statistics are aggregated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from paper_venue.decimals import ZERO, floor_to
from paper_venue.router.feed import PriceSource

MINUTE_MS = 60_000
INTERVALS_MS: dict[str, int] = {
    "1": 1,
    "3": 3,
    "5": 5,
    "15": 15,
    "30": 30,
    "60": 60,
    "120": 120,
    "240": 240,
    "360": 360,
    "720": 720,
    "D": 1440,
    "W": 10080,
}
INTERVALS = [*INTERVALS_MS, "M"]


@dataclass
class Bar:
    """A candle: start time and OHLC, volume in base coin, turnover in quote coin."""

    start_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    turnover: Decimal = ZERO

    def add(self, price: Decimal, qty: Decimal = ZERO) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.turnover += qty * price


@dataclass
class SymbolState:
    """What the venue knows about one symbol's price."""

    symbol: str
    tick: Decimal
    last: Decimal
    prev_last: Decimal
    adjust: Decimal = Decimal(1)
    paused_at: Decimal | None = None
    reported: Decimal | None = None
    synthetic_trade: tuple[Decimal, str] | None = None
    bars: list[Bar] = field(default_factory=list)
    tick_direction: str = "ZeroPlusTick"

    @property
    def mark(self) -> Decimal:
        return self.last


class Market:
    """All symbols' prices; `update(now)` samples the feed and returns the symbols that moved."""

    def __init__(
        self,
        source: PriceSource,
        ticks: dict[str, Decimal],
        now_ms: int,
        backfill_minutes: int,
        trade_notional: Decimal = ZERO,
        qty_steps: dict[str, Decimal] | None = None,
    ) -> None:
        self.source = source
        self.trade_notional = trade_notional
        self.qty_steps = qty_steps or {}
        self.states: dict[str, SymbolState] = {}
        for symbol, tick in ticks.items():
            first = source.price_at(symbol, now_ms - backfill_minutes * MINUTE_MS)
            st = SymbolState(symbol, tick, first, first)
            self.states[symbol] = st
            for m in range(backfill_minutes, 0, -1):
                t0 = now_ms - m * MINUTE_MS
                for k in range(4):
                    self._record(st, t0 + k * 15_000, self._raw(st, t0 + k * 15_000), ZERO)
            self._record(st, now_ms, self._raw(st, now_ms), ZERO)

    def _raw(self, st: SymbolState, now_ms: int) -> Decimal:
        if st.paused_at is not None:
            return st.paused_at
        price = self.source.price_at(st.symbol, now_ms) * st.adjust
        return max(st.tick, (price / st.tick).to_integral_value(ROUND_HALF_EVEN) * st.tick)

    def _synthetic_qty(self, st: SymbolState, price: Decimal) -> Decimal:
        """Market volume behind a price change: more for bigger moves, on the qty step."""
        if self.trade_notional <= 0 or price == st.last or st.last <= 0:
            return ZERO
        step = self.qty_steps.get(st.symbol, Decimal("0.001"))
        move = abs(price - st.last) / st.last
        qty = floor_to(self.trade_notional / price * (1 + 50 * move), step)
        return max(step, qty)

    def _record(self, st: SymbolState, now_ms: int, price: Decimal, qty: Decimal) -> None:
        if qty == 0:
            qty = self._synthetic_qty(st, price)
            st.synthetic_trade = (qty, "Buy" if price > st.last else "Sell") if qty else None
        start = now_ms - now_ms % MINUTE_MS
        if st.bars and st.bars[-1].start_ms == start:
            st.bars[-1].add(price, qty)
        elif not st.bars or start > st.bars[-1].start_ms:
            st.bars.append(Bar(start, price, price, price, price, qty, qty * price))
            if len(st.bars) > 20_000:
                del st.bars[:5_000]
        if price != st.last:
            st.tick_direction = "PlusTick" if price > st.last else "MinusTick"
        else:
            st.tick_direction = "ZeroPlusTick" if "Plus" in st.tick_direction else "ZeroMinusTick"
        st.prev_last = st.last
        st.last = price

    def update(self, now_ms: int) -> list[str]:
        """Sample the feed at `now_ms`; the symbols whose price changed."""
        moved = []
        for st in self.states.values():
            self._record(st, now_ms, self._raw(st, now_ms), ZERO)
            if st.last != st.reported:
                st.reported = st.last
                moved.append(st.symbol)
        return moved

    def record_trade(self, symbol: str, now_ms: int, price: Decimal, qty: Decimal) -> None:
        """Add a fill's volume to the current candle (the price stays the feed's)."""
        st = self.states[symbol]
        if st.bars:
            st.bars[-1].volume += qty
            st.bars[-1].turnover += qty * price

    def price(self, symbol: str) -> Decimal:
        return self.states[symbol].last

    def move(self, symbol: str, target: Decimal, now_ms: int) -> None:
        """Admin: set the price now; the feed continues from there in relative terms."""
        st = self.states[symbol]
        raw = self.source.price_at(symbol, now_ms)
        st.adjust = target / raw
        if st.paused_at is not None:
            st.paused_at = floor_to(target, st.tick)
        self._record(st, now_ms, self._raw(st, now_ms), ZERO)

    def reanchor(self, symbol: str, now_ms: int) -> None:
        """Continue the feed from the current price at `now_ms` (after a restore, whose
        feed may be a new one): the next sample does not jump."""
        st = self.states[symbol]
        if st.paused_at is None:
            st.adjust = st.last / self.source.price_at(symbol, now_ms)

    def pause(self, symbol: str, paused: bool, now_ms: int) -> None:
        """Admin: hold the price (or release it, without a jump)."""
        st = self.states[symbol]
        if paused and st.paused_at is None:
            st.paused_at = st.last
        elif not paused and st.paused_at is not None:
            held = st.paused_at
            st.paused_at = None
            st.adjust = held / self.source.price_at(symbol, now_ms)

    def klines(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[Bar]:
        """Candles of `interval`, newest first, as /v5/market/kline returns them.

        Walks the one-minute bars from the newest back, so the cost follows `limit`, not
        the length of the history."""
        out: list[Bar] = []
        for bar in reversed(self.states[symbol].bars):
            key = _bucket(bar.start_ms, interval)
            if end_ms is not None and key > end_ms:
                continue
            if start_ms is not None and key < start_ms:
                break
            if out and out[-1].start_ms == key:
                agg = out[-1]
                agg.high = max(agg.high, bar.high)
                agg.low = min(agg.low, bar.low)
                agg.open = bar.open
                agg.volume += bar.volume
                agg.turnover += bar.turnover
            else:
                if len(out) == limit:
                    break
                out.append(
                    Bar(key, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.turnover)
                )
        return out

    def stats(self, symbol: str, now_ms: int) -> dict[str, Decimal]:
        """24-hour high, low, previous price, volume and turnover; previous price an hour ago."""
        st = self.states[symbol]
        high = low = prev24 = prev1 = st.last
        volume = turnover = ZERO
        for bar in reversed(st.bars):
            if bar.start_ms <= now_ms - 86_400_000:
                break
            high, low = max(high, bar.high), min(low, bar.low)
            volume += bar.volume
            turnover += bar.turnover
            prev24 = bar.open
            if bar.start_ms > now_ms - 3_600_000:
                prev1 = bar.open
        return {
            "high": high,
            "low": low,
            "prev24h": prev24,
            "prev1h": prev1,
            "volume": volume,
            "turnover": turnover,
        }


def _bucket(start_ms: int, interval: str) -> int:
    if interval == "M":
        d = datetime.fromtimestamp(start_ms / 1000, UTC)
        return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)
    width = INTERVALS_MS[interval] * MINUTE_MS
    if interval == "W":
        monday_offset = 4 * 86_400_000  # the epoch was a Thursday
        return start_ms - (start_ms - monday_offset) % width
    return start_ms - start_ms % width
