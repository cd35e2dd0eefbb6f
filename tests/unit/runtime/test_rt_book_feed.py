"""The order book kept by Bybit's rules, and the book and the tape delivered to a version-2
strategy through the runner's decision path, coalesced when the strategy is slower than the feed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal as D
from typing import Any

import pytest

from engine_runtime.adapters.market_data import (
    BookGap,
    LocalBook,
    book_topic,
    public_trades,
    subscription_depth,
)
from engine_runtime.execution.manager import OrderManager
from engine_runtime.governance.obedience import Governor
from engine_runtime.live.feed import BookFeed, Subscriptions, timer_due
from engine_runtime.live.market import LiveMarket
from engine_runtime.live.runner import StrategyRunner
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.metrics import Metrics
from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import (
    Intent,
    MarketKey,
    OrderBook,
    OrderType,
    PublicTrade,
    Side,
    StrategyContext,
    SubmitOrder,
    TimerEvent,
)
from eternal_kernel.api.v1alpha1.engine import RiskLimits
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category
from eternal_kernel.model.instruments import Instrument
from eternal_kernel.model.reports import CoinBalance, WalletReport

pytestmark = pytest.mark.unit

L = Category.LINEAR
TOPIC = "orderbook.50.BTCUSDT"


def snapshot(
    u: int, bids: list[list[str]], asks: list[list[str]], ts: int = 1000
) -> dict[str, Any]:
    data = {"s": "BTCUSDT", "b": bids, "a": asks, "u": u, "seq": 100 + u}
    return {"topic": TOPIC, "type": "snapshot", "ts": ts, "cts": ts, "data": data}


def delta(u: int, bids: list[list[str]], asks: list[list[str]], ts: int = 1000) -> dict[str, Any]:
    return {**snapshot(u, bids, asks, ts), "type": "delta"}


BIDS = [["100.0", "1"], ["99.9", "2"], ["99.8", "3"]]
ASKS = [["100.1", "1"], ["100.2", "2"]]


def test_depth_is_the_smallest_published_one_that_is_enough() -> None:
    assert subscription_depth(L, 1) == 1
    assert subscription_depth(L, 5) == 50
    assert subscription_depth(L, 300) == 500
    assert subscription_depth(Category.SPOT, 300) == 1000
    assert subscription_depth(L, 5000) == 1000
    assert book_topic(L, "ETHUSDT", 25) == "orderbook.50.ETHUSDT"


def test_snapshot_then_deltas() -> None:
    book = LocalBook("BTCUSDT", L)
    assert not book.apply(delta(5, [["100.0", "9"]], []))  # nothing before the first snapshot
    assert book.view(5) is None
    assert book.apply(snapshot(7, BIDS, ASKS))
    view = book.view(2)
    assert view is not None
    assert [(lv.price, lv.size) for lv in view.bids] == [(D("100.0"), 1), (D("99.9"), 2)]
    assert view.best_ask == D("100.1")
    assert view.update_id == 7
    assert view.seq == 107
    assert book.view(2) is view  # built once per change
    book.apply(delta(8, [["100.0", "0"], ["99.95", "4"]], [["100.15", "5"]], ts=2000))
    view = book.view(5)
    assert view is not None
    assert [lv.price for lv in view.bids] == [D("99.95"), D("99.9"), D("99.8")]
    assert [lv.price for lv in view.asks] == [D("100.1"), D("100.15"), D("100.2")]
    assert view.ts_ms == 2000
    book.apply(snapshot(1, [["50.0", "1"]], [["50.1", "1"]]))  # a new snapshot replaces all
    view = book.view(5)
    assert view is not None
    assert len(view.bids) == 1
    assert view.best_bid == D("50.0")


def test_a_gap_or_a_crossed_book_breaks_it_until_the_next_snapshot() -> None:
    book = LocalBook("BTCUSDT", L)
    book.apply(snapshot(7, BIDS, ASKS))
    with pytest.raises(BookGap):
        book.apply(delta(9, [["99.0", "1"]], []))  # 8 was missed
    assert book.view(5) is None
    assert not book.apply(delta(10, [["99.0", "1"]], []))  # still waiting for a snapshot
    book.apply(snapshot(11, BIDS, ASKS))
    with pytest.raises(BookGap, match="crossed"):
        book.apply(delta(12, [["100.3", "1"]], []))  # a bid above the best ask
    assert book.view(5) is None


def test_public_trades_parse() -> None:
    message = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 5, "data": [
        {"T": 5, "s": "BTCUSDT", "S": "Sell", "v": "0.5", "p": "100.0", "i": "a"},
        {"T": 6, "s": "BTCUSDT", "S": "Buy", "v": "1.5", "p": "100.1", "i": "b"},
    ]}  # fmt: skip
    trades = public_trades(message, L)
    assert [(t.side, t.qty, t.ts_ms) for t in trades] == [(Side.SELL, D("0.5"), 5),
                                                         (Side.BUY, D("1.5"), 6)]  # fmt: skip


class Recorder(BaseStrategy):
    """Remembers what it was given and when; joins the bid once a book shows 2:1 bids."""

    name = "recorder"
    api_version = 2

    def __init__(self) -> None:
        self.seen: list[tuple[str, object, int]] = []
        self.fail = False

    def markets(self) -> Sequence[MarketKey]:
        return [("BTCUSDT", L)]

    def book_markets(self) -> Sequence[MarketKey]:
        return self.markets()

    def trade_markets(self) -> Sequence[MarketKey]:
        return self.markets()

    def book_depth(self) -> int:
        return 5

    def on_book(self, ctx: StrategyContext, book: OrderBook) -> Sequence[Intent]:
        if self.fail:
            raise RuntimeError("strategy bug")
        self.seen.append(("book", book, ctx.market.now_ms))
        assert ctx.market.book("BTCUSDT", L) is book
        bid = sum(lv.size for lv in book.bids)
        ask = sum(lv.size for lv in book.asks)
        if bid >= 2 * ask and book.best_bid is not None:
            iid = f"join-{book.update_id}"
            return [SubmitOrder(iid, "BTCUSDT", L, Side.BUY, OrderType.LIMIT, qty=D("0.1"),
                                price=book.best_bid, post_only=True)]  # fmt: skip
        return ()

    def on_trade(self, ctx: StrategyContext, trade: PublicTrade) -> Sequence[Intent]:
        self.seen.append(("trade", trade, ctx.market.now_ms))
        return ()

    def on_timer(self, ctx: StrategyContext, event: TimerEvent) -> Sequence[Intent]:
        self.seen.append(("timer", event, ctx.market.now_ms))
        return ()


BTC = Instrument("BTCUSDT", L, "BTC", "USDT", D("0.1"), D("0.001"), D("0.001"), D("100"), D("5"),
                 D("100"))  # fmt: skip


class Rig:
    def __init__(self) -> None:
        self.strategy = Recorder()
        portfolio = Portfolio()
        usdt = CoinBalance("USDT", D(10000), D(10000), D(10000))
        portfolio.on_wallet(WalletReport(D(10000), {"USDT": usdt}))
        portfolio.marks["BTCUSDT"] = D("100")
        manager = OrderManager(None, None, portfolio, Metrics())  # type: ignore[arg-type]
        self.sent: list[OrderRequest] = []
        manager.submit_soon = self._submit  # type: ignore[method-assign]  # no venue here
        self.refused: list[tuple[str, str]] = []
        self.decided = 0
        self.governor = Governor()
        self.runner = StrategyRunner(
            engine="ns/e", strategy=self.strategy,
            market=LiveMarket([("BTCUSDT", L)], 10, "1"), portfolio=portfolio, manager=manager,
            governor=self.governor, limits=RiskLimits(), instruments={("BTCUSDT", L): BTC},
            metrics=Metrics(), refuse=lambda i, s, check, why: self.refused.append((i, check)),
            background=lambda coro: coro.close(), emergency_stop=lambda: None,
        )  # fmt: skip
        self.runner.enabled = True
        self.runner.on_decided = self._decided
        self.scheduled: list[Callable[[], None]] = []
        self.resubscribed: list[str] = []
        self.feed = BookFeed(
            self.runner, Subscriptions.of(self.strategy), schedule=self.scheduled.append,
            resubscribe=lambda category, topic: self.resubscribed.append(topic),
        )  # fmt: skip

    def _submit(self, request: OrderRequest, intent_id: str, reason: str = "") -> bool:
        self.sent.append(request)
        return True

    def _decided(self) -> None:
        self.decided += 1

    def run_scheduled(self) -> None:
        pending = list(self.scheduled)
        self.scheduled.clear()
        for callback in pending:
            callback()


def books_seen(rig: Rig) -> list[OrderBook]:
    return [b for kind, b, _ in rig.strategy.seen if kind == "book"]  # type: ignore[misc]


def test_a_slow_strategy_gets_the_latest_book_not_a_backlog() -> None:
    rig = Rig()
    rig.feed.on_book_message(L, snapshot(1, BIDS, ASKS), 1)
    for u in range(2, 12):
        rig.feed.on_book_message(L, delta(u, [["99.7", str(u)]], [], ts=1000 + u), u)
    assert len(rig.scheduled) == 1  # one delivery scheduled for eleven messages
    trade = {"topic": "publicTrade.BTCUSDT", "data": [
        {"T": 1005, "s": "BTCUSDT", "S": "Buy", "v": "0.2", "p": "100.1", "i": "x"}]}  # fmt: skip
    rig.feed.on_trade_message(L, trade, 12)
    rig.run_scheduled()
    kinds = [kind for kind, _, _ in rig.strategy.seen]
    assert kinds == ["trade", "book"]  # the trades in order, then the book once
    (seen,) = books_seen(rig)
    assert seen.update_id == 11
    assert seen.bids[-1].size == D(11)
    # the strategy saw the event's time, and after it the bar's clock is back
    assert [now for _, _, now in rig.strategy.seen] == [1005, 1011]
    assert rig.runner.market.event_ms is None
    assert rig.feed.applied == 11
    assert rig.feed.delivered == 1


def test_book_intents_go_through_the_checks_to_the_order_manager() -> None:
    rig = Rig()
    rig.feed.on_book_message(L, snapshot(1, BIDS, ASKS), 1)  # bids 6 vs asks 3: joins the bid
    rig.run_scheduled()
    (request,) = rig.sent
    assert (request.price, request.post_only, request.order_type.value) == (D("100.0"), True,
                                                                            "Limit")  # fmt: skip
    assert rig.decided == 1  # checkpointed after a decision ...
    rig.feed.on_book_message(L, delta(2, [["99.8", "0"]], [], ts=1001), 2)  # 3 vs 3: nothing
    rig.run_scheduled()
    assert rig.decided == 1  # ... not after every book
    rig.runner.portfolio.day_start_equity = D(10500)  # down 4.8% today: past the 2% limit
    rig.feed.on_book_message(L, delta(3, [["99.8", "9"]], [], ts=1002), 3)
    rig.run_scheduled()
    assert rig.refused == [("join-3", "daily_loss")]  # the pre-trade checks of every order
    rig.runner.portfolio.day_start_equity = None
    rig.governor.terminating = True  # the process is stopping: no new orders
    rig.feed.on_book_message(L, delta(4, [["99.8", "8"]], [], ts=1003), 4)
    rig.run_scheduled()
    assert len(rig.sent) == 1
    assert rig.refused[-1] == ("join-4", "shutdown")


def test_a_gap_hides_the_book_and_resubscribes_until_a_snapshot() -> None:
    rig = Rig()
    rig.feed.on_book_message(L, snapshot(1, [["100.0", "1"]], ASKS), 1)
    rig.run_scheduled()
    assert rig.runner.market.book("BTCUSDT", L) is not None
    rig.feed.on_book_message(L, delta(3, [["99.0", "1"]], []), 2)
    assert rig.resubscribed == [TOPIC]
    assert rig.feed.gaps == 1
    assert rig.runner.market.book("BTCUSDT", L) is None
    rig.feed.on_book_message(L, delta(4, [["99.0", "1"]], []), 3)
    rig.run_scheduled()
    assert len(books_seen(rig)) == 1  # nothing delivered from the broken book
    rig.feed.on_book_message(L, snapshot(1, BIDS, ASKS, ts=2000), 4)
    rig.run_scheduled()
    assert books_seen(rig)[-1].ts_ms == 2000
    rig.feed.invalidate(L)  # the stream dropped
    assert rig.runner.market.book("BTCUSDT", L) is None


def test_a_failing_strategy_does_not_break_the_feed_and_timers_reach_it() -> None:
    rig = Rig()
    rig.strategy.fail = True
    rig.feed.on_book_message(L, snapshot(1, BIDS, ASKS), 1)
    rig.run_scheduled()  # logged, not raised
    assert rig.runner.market.event_ms is None
    rig.runner.on_timer(TimerEvent("t", 5000))
    assert rig.strategy.seen[-1][0] == "timer"
    assert rig.strategy.seen[-1][2] == 5000
    assert timer_due(1000, 5000) == 6000
    assert timer_due(1000, 5999) == 6000
