"""Book and trade data in backtests: the recorded format, the generator's planted patterns, the
intrabar delivery on the simulated clock, and the scalper on generated data."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine_runtime.backtest import FeeModel, MarketData, run_backtest
from engine_runtime.backtest.book_data import (
    Pattern,
    book_events,
    read_jsonl,
    replay,
    synthetic_messages,
    write_jsonl,
)
from engine_runtime.backtest.data import epoch_ms
from engine_runtime.backtest.report import plot
from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import (
    Category,
    Intent,
    MarketKey,
    OrderBook,
    OrderEvent,
    OrderType,
    PublicTrade,
    Side,
    StrategyContext,
    SubmitOrder,
    TimerEvent,
    TimerSpec,
)
from engine_runtime.strategies.scalper import ScalperStrategy, imbalance
from eternal_kernel.api.v1alpha1.strategy_params import ScalperParams

pytestmark = pytest.mark.unit

L = Category.LINEAR
SYM = "BTCUSDT"


def candles(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 60000 * np.exp(np.cumsum(rng.normal(0, 0.0004, n)))
    opens = np.concatenate(([60000.0], close[:-1]))
    index = pd.date_range("2024-03-01", periods=n, freq="1min", tz="UTC")
    wiggle = np.abs(rng.normal(0, 0.0002, n)) * close
    return pd.DataFrame(
        {"open": opens, "high": np.maximum(opens, close) + wiggle,
         "low": np.minimum(opens, close) - wiggle, "close": close, "volume": 1.0},
        index=index,
    )  # fmt: skip


def ms(frame: pd.DataFrame, bar: int) -> int:
    return int(epoch_ms(pd.DatetimeIndex(frame.index))[bar])


def test_generated_books_follow_the_candles_and_carry_the_planted_pattern() -> None:
    frame = candles(30)
    planted = Pattern(ms(frame, 20), ms(frame, 22), imbalance=3.0, volume=5.0)
    messages = synthetic_messages(frame, SYM, L, levels=5, patterns=[planted], seed=1)
    events = replay(messages, L, 5)
    books = [e for _, _, e in events if isinstance(e, OrderBook)]
    trades = [e for _, _, e in events if isinstance(e, PublicTrade)]
    assert len(books) == 30 * 12
    assert len(trades) == 30 * 12
    for bar in range(30):  # every mid inside its candle (to a tick)
        lo, hi = ms(frame, bar), ms(frame, bar) + 60_000
        mids = [float(b.mid or 0) for b in books if lo <= b.ts_ms < hi]
        assert min(mids) >= frame["low"].iloc[bar] - 0.2
        assert max(mids) <= frame["high"].iloc[bar] + 0.2
    inside = [imbalance(b, 5) or 0 for b in books if planted.start_ms <= b.ts_ms < planted.end_ms]
    outside = [imbalance(b, 5) or 0 for b in books if b.ts_ms < planted.start_ms]
    assert min(inside) > 1.5 > max(outside)
    vol_in = sum(t.qty for t in trades if planted.start_ms <= t.ts_ms < planted.end_ms)
    vol_before = sum(t.qty for t in trades if ms(frame, 18) <= t.ts_ms < planted.start_ms)
    assert vol_in > 3 * vol_before


def test_recorded_jsonl_replays_like_the_messages_and_a_gap_hides_the_book(tmp_path: Path) -> None:
    frame = candles(5)
    messages = synthetic_messages(frame, SYM, L, levels=5, seed=2)
    path = tmp_path / "btc.jsonl"
    write_jsonl(messages, path)
    assert replay(read_jsonl(path), L, 5) == replay(messages, L, 5)
    books = [m for m in messages if m["topic"].startswith("orderbook")]
    broken = [m for m in messages if m is not books[3]]  # one delta lost in the recording
    replayed = [e for _, _, e in replay(broken, L, 5) if isinstance(e, OrderBook)]
    assert len(replayed) == 3  # the book stays broken: this data has no second snapshot


@dataclass
class Clocked(BaseStrategy):
    """Records (kind, the time it saw, the close it could read) of everything delivered."""

    seen: list[tuple[str, int, float]] = field(default_factory=list)
    name = "clocked"
    api_version = 2

    def markets(self) -> Sequence[MarketKey]:
        return [(SYM, L)]

    def book_markets(self) -> Sequence[MarketKey]:
        return [(SYM, L)]

    def trade_markets(self) -> Sequence[MarketKey]:
        return [(SYM, L)]

    def timers(self) -> Sequence[TimerSpec]:
        return (TimerSpec("t", 30_000),)

    def _saw(self, kind: str, ctx: StrategyContext) -> Sequence[Intent]:
        self.seen.append((kind, ctx.market.now_ms, ctx.market.feature(SYM, "close", L)))
        return ()

    def on_book(self, ctx: StrategyContext, book: OrderBook) -> Sequence[Intent]:
        assert ctx.market.book(SYM, L) is book
        return self._saw("book", ctx)

    def on_trade(self, ctx: StrategyContext, trade: PublicTrade) -> Sequence[Intent]:
        return self._saw("trade", ctx)

    def on_timer(self, ctx: StrategyContext, event: TimerEvent) -> Sequence[Intent]:
        return self._saw("timer", ctx)

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        return self._saw("bar", ctx)


def test_events_interleave_with_bars_and_timers_without_looking_ahead() -> None:
    frame = candles(4)
    events = book_events({(SYM, L): synthetic_messages(frame, SYM, L, levels=5)}, 5)
    s = Clocked()
    run_backtest(s, MarketData({(SYM, L): frame}), causality_check=False, book_events=events)
    times = [t for _, t, _ in s.seen]
    assert times == sorted(times)  # one clock
    closes = frame["close"].tolist()
    first_close = ms(frame, 1)
    assert all(t >= first_close for _, t, _ in s.seen)  # nothing before the first bar closed
    for kind, t, close in s.seen:  # inside bar k (or at its open: on_bar of bar k - 1) the
        bar = (t - ms(frame, 0)) // 60_000  # last close is bar k - 1's: never bar k's
        assert close == pytest.approx(closes[bar - 1]), (kind, t)
    kinds = [k for k, _, _ in s.seen]
    assert kinds.count("timer") == 6  # every 30 s of bars 1..3
    assert kinds.count("book") == 3 * 12
    assert kinds.count("trade") == 3 * 12


def test_the_scalper_trades_the_planted_pattern_and_exits_by_its_rules(tmp_path: Path) -> None:
    frame = candles(150)
    start, end = ms(frame, 90), ms(frame, 92)
    planted = Pattern(start, end, imbalance=3.0, volume=6.0)
    events = book_events(
        {(SYM, L): synthetic_messages(frame, SYM, L, levels=5, patterns=[planted], seed=4)}, 5
    )
    params = ScalperParams(
        momentum="none", volume_window_seconds=60, volume_baseline_windows=10,
        entry_timeout_seconds=20, max_holding_seconds=120, take_profit=30, stop_loss=15,
        cooldown_seconds=60,
    )  # fmt: skip
    s = ScalperStrategy(params=params, symbols=(SYM,))
    result = run_backtest(
        s, MarketData({(SYM, L): frame}), causality_check=False, book_events=events
    )
    fills = result.fills
    assert fills, "the planted imbalance and spike must trigger an entry"
    entry = fills[0]
    assert start <= entry.ts_ms < end + 20_000  # only inside the pattern (plus the timeout)
    assert entry.maker  # the PostOnly order at the touch, filled by the tape
    assert len(fills) % 2 == 0  # every entry closed ...
    sides = [f.side for f in fills]
    assert all(a != b for a, b in itertools.pairwise(sides))  # ... one at a time
    exits = fills[1::2]
    entries = fills[0::2]
    for e, x in zip(entries, exits, strict=True):
        assert x.ts_ms - e.ts_ms <= 120_000 + 1000  # by TP, SL or the max holding time
    assert s.is_idle()
    trips = result.trips
    assert len(trips) == len(entries)
    out = plot(result, tmp_path / "scalper.png")
    assert out.stat().st_size > 10_000
    assert result.stats.trades == len(trips)


def test_the_cli_runs_the_scalper_on_recorded_book_data(tmp_path: Path) -> None:
    from engine_runtime.backtest.cli import main

    frame = candles(150)
    planted = Pattern(ms(frame, 90), ms(frame, 92), imbalance=3.0, volume=6.0)
    write_jsonl(
        synthetic_messages(frame, SYM, L, levels=5, patterns=[planted], seed=4),
        tmp_path / "book.jsonl",
    )
    frame.to_csv(tmp_path / "candles.csv")
    (tmp_path / "params.yaml").write_text(
        "momentum: none\nentryTimeoutSeconds: 20\nmaxHoldingSeconds: 120\n"
        "takeProfit: 30\nstopLoss: 15\ncooldownSeconds: 60\n"
    )
    out = tmp_path / "out"
    main(["run", "--strategy", "scalper", "--symbols", SYM,
          "--candles", f"{SYM}:linear={tmp_path / 'candles.csv'}",
          "--book", f"linear={tmp_path / 'book.jsonl'}", "--params", str(tmp_path / "params.yaml"),
          "--slippage-bps", "0", "--out", str(out), "--no-plot"])  # fmt: skip
    report = json.loads((out / "result.json").read_text())
    (engine,) = report["engines"].values()
    assert len(engine["fills"]) == 4  # the same two round trips as in Python
    assert engine["fills"][0]["reason"] == "imbalance long"


@dataclass
class Prober(BaseStrategy):
    """On its first book: a PostOnly buy at the best ask (crosses), a market buy, and a PostOnly
    buy two ticks under the bid (rests); records the outcomes."""

    events: list[tuple[str, str, float, int]] = field(default_factory=list)
    books: list[OrderBook] = field(default_factory=list)
    name = "prober"
    api_version = 2

    def markets(self) -> Sequence[MarketKey]:
        return [(SYM, L)]

    def book_markets(self) -> Sequence[MarketKey]:
        return [(SYM, L)]

    def on_book(self, ctx: StrategyContext, book: OrderBook) -> Sequence[Intent]:
        self.books.append(book)
        if len(self.books) > 1 or book.best_ask is None or book.best_bid is None:
            return ()
        tick = D("0.1")
        return [
            SubmitOrder("cross", SYM, L, Side.BUY, OrderType.LIMIT, qty=D("0.01"),
                        price=book.best_ask, post_only=True),
            SubmitOrder("mkt", SYM, L, Side.BUY, OrderType.MARKET, qty=D("0.01")),
            SubmitOrder("rest", SYM, L, Side.BUY, OrderType.LIMIT, qty=D("0.01"),
                        price=book.best_bid - 2 * tick, post_only=True),
        ]  # fmt: skip

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        self.events.append((event.intent_id, event.status.value, float(event.avg_price),
                            event.ts_ms))  # fmt: skip
        return ()


def test_event_intents_execute_at_the_next_event_against_its_book() -> None:
    frame = candles(6)
    events = book_events({(SYM, L): synthetic_messages(frame, SYM, L, levels=5, seed=5)}, 5)
    s = Prober()
    run_backtest(s, MarketData({(SYM, L): frame}), causality_check=False, book_events=events,
                 fees=FeeModel(slippage=0.0))  # fmt: skip
    by_id = {e[0]: e for e in s.events}
    first = s.books[0]
    assert by_id["cross"][1] == "Rejected"  # PostOnly at the ask takes liquidity
    market = by_id["mkt"]
    assert market[1] == "Filled"
    # one event later (the trade after it), never at the book that decided it
    assert market[3] > first.ts_ms
    assert market[2] == float(first.best_ask or 0)  # the touch of the book then: still this one
    resting = by_id.get("rest")
    limit = float(first.best_bid or 0) - 0.2
    trades_below = [t for _, _, t in events if isinstance(t, PublicTrade)
                    and t.ts_ms > first.ts_ms and float(t.price) < limit]  # fmt: skip
    assert trades_below  # this data trades through it: a maker fill at its own price, then
    assert resting is not None
    assert resting[1] == "Filled"
    assert resting[2] == pytest.approx(limit)
    assert resting[3] == min(t.ts_ms for t in trades_below)
