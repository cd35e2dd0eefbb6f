"""The scalper's figures; prints them.

    .venv/bin/python bench/scalper_bench.py [--orders 2000] [--updates 100000] [--days 365]

1. Book-to-order in process: a raw ``orderbook`` delta (JSON) that makes the book imbalanced
   goes through the runtime's own path (parse, dispatcher, local book, the coalescing feed's
   delivery on the event loop, the scalper's on_book with its imbalance / volume / spread checks
   and sizing, instrument filters, risk checks, the order written to PostgreSQL) until the order
   request is handed to the venue client; p50/p99 over ``--orders`` entries, alternating
   BTCUSDT and ETHUSDT. Goal: p99 < 2 ms.
2. Book updates per second one runtime absorbs with a scalper on two symbols: ``--updates``
   raw deltas (balanced books: the scalper evaluates each and stays flat) pushed through the
   dispatcher; as they arrive from a socket (a batch of messages per loop turn, the feed
   coalesces each market to its latest book) and one message per loop turn (no coalescing: every
   update reaches on_book). CPU seconds of this process. Goal: >= 10,000/s.
3. Backtest speed: the scalper over a day of generated book data (1 book update and 1 trade a
   second on one symbol: 172,800 events; an imbalance and a volume spike planted every hour),
   and over ``--days`` of 1-minute candles without book data next to a version-1 strategy
   doing nothing on the same candles (the baseline: what the event machinery costs a run that
   has no events).

The machine is shared: figures are rough; CPU time (``time.process_time``) is what is compared.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

from runtime_bench import BTC, pct  # noqa: E402

from engine_runtime.app.dispatch import Dispatcher  # noqa: E402
from engine_runtime.backtest import MarketData, run_backtest  # noqa: E402
from engine_runtime.backtest.book_data import (  # noqa: E402
    Pattern,
    book_events,
    synthetic_messages,
)
from engine_runtime.execution.manager import OrderManager  # noqa: E402
from engine_runtime.governance.obedience import Governor  # noqa: E402
from engine_runtime.live.feed import BookFeed, Subscriptions  # noqa: E402
from engine_runtime.live.market import LiveMarket  # noqa: E402
from engine_runtime.live.runner import StrategyRunner  # noqa: E402
from engine_runtime.persistence.cache import Cache  # noqa: E402
from engine_runtime.persistence.store import Store  # noqa: E402
from engine_runtime.portfolio.portfolio import Portfolio  # noqa: E402
from engine_runtime.reporting.metrics import Metrics  # noqa: E402
from engine_runtime.strategies.base import BaseStrategy  # noqa: E402
from engine_runtime.strategies.interface import MarketKey  # noqa: E402
from engine_runtime.strategies.scalper import ScalperStrategy, _Slot  # noqa: E402
from eternal_kernel.api.v1alpha1.engine import RiskLimits  # noqa: E402
from eternal_kernel.api.v1alpha1.strategy_params import ScalperParams  # noqa: E402
from eternal_kernel.model.commands import OrderRequest  # noqa: E402
from eternal_kernel.model.enums import Category, OrderStatus  # noqa: E402
from eternal_kernel.model.identifiers import VenueOrderId  # noqa: E402
from eternal_kernel.model.instruments import Instrument  # noqa: E402
from eternal_kernel.model.reports import CoinBalance, OrderStatusReport, WalletReport  # noqa: E402
from eternal_operator.devtools.datastores import PostgresServer, RedisServer  # noqa: E402

L = Category.LINEAR
SYMBOLS = ("BTCUSDT", "ETHUSDT")
ETH = Instrument("ETHUSDT", L, "ETH", "USDT", Decimal("0.01"), Decimal("0.01"), Decimal("0.01"),
                 Decimal("1000"), Decimal("5"), Decimal("1000"))  # fmt: skip
MID = {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0}
TICK = {"BTCUSDT": 0.1, "ETHUSDT": 0.01}
T0 = 1_700_000_000_000


class AckingVenue:
    """Stands in for the venue client: every order is acknowledged at once and rests."""

    async def submit(
        self, request: OrderRequest, precheck: Callable[[], Awaitable[None]] | None = None
    ) -> OrderStatusReport:
        if precheck is not None:
            await precheck()
        return OrderStatusReport(
            request.client_order_id, VenueOrderId("v"), request.symbol, request.category,
            request.side, request.order_type, OrderStatus.ACKNOWLEDGED, request.qty,
            request.price, Decimal(0), None, request.reduce_only, "", 0,
        )  # fmt: skip


def snapshot(symbol: str, ts: int) -> dict[str, Any]:
    mid, tick = MID[symbol], TICK[symbol]
    bids = [[f"{mid - tick * i:.2f}", "1.000"] for i in range(50)]
    asks = [[f"{mid + tick * (i + 1):.2f}", "1.000"] for i in range(50)]
    return {"topic": f"orderbook.50.{symbol}", "type": "snapshot", "ts": ts, "cts": ts,
            "data": {"s": symbol, "b": bids, "a": asks, "u": 1, "seq": 1}}  # fmt: skip


def delta(symbol: str, u: int, ts: int, bid_size: str) -> str:
    """The best bid's size changes (bid_size 9: a 1.5+ imbalance over 5 levels)."""
    mid = MID[symbol]
    return json.dumps({"topic": f"orderbook.50.{symbol}", "type": "delta", "ts": ts, "cts": ts,
                       "data": {"s": symbol, "b": [[f"{mid:.2f}", bid_size]], "a": [],
                                "u": u, "seq": u}})  # fmt: skip


def scalper() -> ScalperStrategy:
    params = ScalperParams(momentum="none", volume_window_seconds=60, volume_baseline_windows=2,
                           entry_timeout_seconds=10, max_holding_seconds=60)  # fmt: skip
    s = ScalperStrategy(params=params, symbols=SYMBOLS)
    for symbol in SYMBOLS:  # a quiet tape, then a spike in the last minute before T0
        for k, qty in ((170, "1"), (110, "1"), (1, "10")):
            s.tapes[symbol].add(T0 - k * 1000, Decimal(qty))
    return s


async def harness(pg: str, redis: str, engine: str) -> tuple[Any, ...]:
    store = await Store.connect(pg, engine)
    cache = await Cache.connect(redis, "bench", engine.replace("/", "-"))
    metrics = Metrics()
    portfolio = Portfolio()
    usdt = CoinBalance("USDT", Decimal(100000), Decimal(100000), Decimal(100000))
    portfolio.on_wallet(WalletReport(Decimal(100000), {"USDT": usdt}))
    for symbol in SYMBOLS:
        portfolio.marks[symbol] = Decimal(str(MID[symbol]))
    manager = OrderManager(AckingVenue(), store, portfolio, metrics)  # type: ignore[arg-type]
    strategy = scalper()
    runner = StrategyRunner(
        engine=engine, strategy=strategy, market=LiveMarket([(s, L) for s in SYMBOLS], 60, "1"),
        portfolio=portfolio, manager=manager, governor=Governor(),
        limits=RiskLimits(max_leverage=Decimal(5), max_position_fraction=Decimal(1)),
        instruments={("BTCUSDT", L): BTC, ("ETHUSDT", L): ETH}, metrics=metrics,
        refuse=lambda *a: print("refused", a), background=asyncio.ensure_future,
        emergency_stop=lambda: None,
    )  # fmt: skip
    runner.enabled = True
    loop = asyncio.get_running_loop()
    feed = BookFeed(runner, Subscriptions.of(strategy), schedule=loop.call_soon,
                    resubscribe=lambda c, t: None)  # fmt: skip
    dispatcher = Dispatcher(
        runner=runner, manager=manager, portfolio=portfolio, cache=cache, metrics=metrics,
        background=asyncio.ensure_future, on_fill=lambda: None, on_price=lambda: None,
        on_wallet=lambda: None, feed=feed,
    )  # fmt: skip
    handle = dispatcher.public(L)
    for symbol in SYMBOLS:
        handle(snapshot(symbol, T0), time.perf_counter_ns())
    await asyncio.sleep(0)
    gc.collect()
    gc.freeze()
    return handle, runner, manager, strategy, feed, store, cache


async def book_to_order(pg: str, redis: str, orders: int) -> tuple[float, float, float, float]:
    handle, runner, manager, strategy, _, store, cache = await harness(
        pg, redis, f"bench/b2o-{time.time_ns()}"
    )
    wire: list[float] = []
    decided: list[float] = []
    out = asyncio.Event()
    inner = manager.on_request_out
    submit_soon = manager.submit_soon

    def request_out(request: OrderRequest) -> None:
        received = runner._received.get(request.client_order_id)
        if received is not None:
            wire.append((time.perf_counter_ns() - received) / 1e6)
        inner(request)
        out.set()

    def handed_over(request: OrderRequest, intent_id: str, reason: str = "") -> bool:
        received = runner._received.get(request.client_order_id)
        if received is not None:
            decided.append((time.perf_counter_ns() - received) / 1e6)
        return bool(submit_soon(request, intent_id, reason))

    manager.on_request_out = request_out
    manager.submit_soon = handed_over  # type: ignore[method-assign]
    u = {s: 1 for s in SYMBOLS}
    for i in range(orders + 20):
        symbol = SYMBOLS[i % 2]
        strategy.slots[symbol] = _Slot()  # flat again: the last entry was cancelled
        out.clear()
        for size in ("1.000", "9.000"):  # balanced, then imbalanced: the entry
            u[symbol] += 1
            raw = delta(symbol, u[symbol], T0 + 10 * i + 1, size)
            received = time.perf_counter_ns()  # the raw message is in
            handle(json.loads(raw), received)
            await asyncio.sleep(0)  # the loop turn that delivers the coalesced book
        await asyncio.wait_for(out.wait(), 5)
        await manager.drain(5)
        manager.orders.clear()
    await store.close()
    await cache.close()
    w, d = wire[20:], decided[20:]
    return pct(d, 0.5), pct(d, 0.99), pct(w, 0.5), pct(w, 0.99)


async def updates_per_second(pg: str, redis: str, n: int, batch: int) -> tuple[float, int]:
    handle, _, manager, strategy, feed, store, cache = await harness(
        pg, redis, f"bench/ups-{time.time_ns()}"
    )
    raws = [delta(SYMBOLS[i % 2], i // 2 + 2, T0 + i, f"1.0{i % 97:02d}") for i in range(n)]
    delivered = feed.delivered
    cpu = time.process_time()
    for start in range(0, n, batch):
        for raw in raws[start : start + batch]:
            handle(json.loads(raw), time.perf_counter_ns())
        await asyncio.sleep(0)
    cpu = time.process_time() - cpu
    assert not manager.orders, "balanced books: the scalper stays flat"
    assert all(slot.state.value == "FLAT" for slot in strategy.slots.values())
    await store.close()
    await cache.close()
    return n / cpu, feed.delivered - delivered


def minute_candles(days: int, seed: int = 7) -> pd.DataFrame:
    n = days * 1440
    rng = np.random.default_rng(seed)
    close = 60000 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    opens = np.concatenate(([60000.0], close[:-1]))
    wiggle = np.abs(rng.normal(0, 0.0002, n)) * close
    index = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame({"open": opens, "high": np.maximum(opens, close) + wiggle,
                         "low": np.minimum(opens, close) - wiggle, "close": close,
                         "volume": 1.0}, index=index)  # fmt: skip


class Idle(BaseStrategy):
    """Version 1, no features, does nothing: the baseline of a run's per-bar cost."""

    name = "idle"

    def markets(self) -> list[MarketKey]:
        return [("BTCUSDT", L)]


def backtests(days: int) -> None:
    day = minute_candles(1)
    start = int(day.index[0].timestamp() * 1000)
    hour = 3_600_000
    planted = [
        Pattern(start + h * hour, start + h * hour + 120_000, 3.0, 6.0) for h in range(1, 24)
    ]
    cpu = time.process_time()
    messages = synthetic_messages(
        day, "BTCUSDT", L, updates_per_bar=60, levels=5, patterns=planted, seed=1
    )
    generated = time.process_time() - cpu
    cpu = time.process_time()
    events = book_events({("BTCUSDT", L): messages}, 5)
    replayed = time.process_time() - cpu
    s = ScalperStrategy(params=ScalperParams(momentum="none"), symbols=("BTCUSDT",))
    cpu = time.process_time()
    result = run_backtest(s, MarketData({("BTCUSDT", L): day}), book_events=events)
    ran = time.process_time() - cpu
    print(
        f"backtest, a day of book data ({len(events):,} events: 1 book update and 1 trade a "
        f"second): generated {generated:.2f} s, rebuilt from the messages {replayed:.2f} s, "
        f"run {ran:.2f} s = {len(events) / ran:,.0f} events/s; {len(result.fills)} fills "
        f"(an imbalance and a volume spike planted every hour)"
    )
    year = minute_candles(days)
    data = MarketData({("BTCUSDT", L): year})
    timings = {}
    for name, strategy in (("idle v1", Idle()), ("scalper", ScalperStrategy())):
        cpu = time.process_time()
        run_backtest(strategy, data, causality_check=False)
        timings[name] = time.process_time() - cpu
    bars = len(year)
    print(
        f"backtest, {days} days of 1-minute candles without book data ({bars:,} bars): "
        f"scalper {timings['scalper']:.2f} s ({bars / timings['scalper']:,.0f} bars/s); "
        f"baseline, a version-1 strategy doing nothing: {timings['idle v1']:.2f} s "
        f"({bars / timings['idle v1']:,.0f} bars/s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--skip-runtime", action="store_true", help="only the backtests (3.)")
    args = parser.parse_args()
    print("figures are rough: the machine is shared")
    if not args.skip_runtime:
        work = Path(tempfile.mkdtemp(prefix="scalper-bench-"))
        with PostgresServer(work / "pg") as pg, RedisServer(work / "redis") as rs:
            d50, d99, w50, w99 = asyncio.run(book_to_order(pg.url, rs.url, args.orders))
            print(
                f"book-to-order in process (scalper, {args.orders} entries): decided p50 "
                f"{d50:.3f} ms p99 {d99:.3f} ms; request out (after the PostgreSQL insert) p50 "
                f"{w50:.3f} ms p99 {w99:.3f} ms (goal p99 < 2 ms)"
            )
            for batch in (50, 1):
                rate, delivered = asyncio.run(
                    updates_per_second(pg.url, rs.url, args.updates, batch)
                )
                print(
                    f"book updates absorbed, scalper on 2 symbols, {batch} message(s) per loop "
                    f"turn: {rate:,.0f}/s CPU ({delivered:,} on_book calls for "
                    f"{args.updates:,} updates) (goal >= 10,000/s)"
                )
    backtests(args.days)
    return 0


if __name__ == "__main__":
    sys.exit(main())
