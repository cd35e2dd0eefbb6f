"""The engine runtime's figures; prints them.

    .venv/bin/python bench/runtime_bench.py [--bars 2000] [--e2e 100] [--memory-only]

1. Tick-to-order in process: a confirmed-kline WebSocket message (raw JSON) goes through the
   runtime's own path (parse, dispatch, candle window and features, the strategy's on_bar,
   sizing, instrument filters, risk checks, the order written to PostgreSQL) until the order
   request is handed to the venue client; p50/p99 over `--bars` bars, one order per bar.
2. End to end to the paper venue's acknowledgement: the same path with the real Bybit client
   (pybit off the loop) against a paper venue process; p50/p99 of tick-to-ack.
3. Events per second on one core: public ticker messages, and private order updates (each one a
   state change written to PostgreSQL), pushed through the dispatcher as fast as it absorbs them.
4. Memory of one idle runtime: `python -m engine_runtime` ready and idle, VmRSS, with the
   scripted strategy (no features, like CORE-HODL and FUNDING); then the same for each built-in
   strategy on its sample symbols and default parameters, side by side (META-TREND with a small
   model the pipeline trains here, as its integration test does). No runtime loads pandas: the
   strategies with features (TREND, TACTICAL, GRID, SCALPER, META-TREND) compute them with numpy.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from engine_runtime.app.dispatch import Dispatcher  # noqa: E402
from engine_runtime.execution.manager import OrderManager  # noqa: E402
from engine_runtime.governance.obedience import Governor  # noqa: E402
from engine_runtime.live.market import LiveMarket  # noqa: E402
from engine_runtime.live.runner import StrategyRunner  # noqa: E402
from engine_runtime.persistence.cache import Cache  # noqa: E402
from engine_runtime.persistence.store import Store  # noqa: E402
from engine_runtime.portfolio.portfolio import Portfolio  # noqa: E402
from engine_runtime.reporting.metrics import Metrics  # noqa: E402
from engine_runtime.strategies.interface import Category as SCategory  # noqa: E402
from eternal_kernel.api.v1alpha1.engine import RiskLimits  # noqa: E402
from eternal_kernel.bybit.domain import BybitDomainClient  # noqa: E402
from eternal_kernel.bybit.ratelimit import RateLimiter  # noqa: E402
from eternal_kernel.bybit.raw import BybitRawClient  # noqa: E402
from eternal_kernel.model.commands import OrderRequest  # noqa: E402
from eternal_kernel.model.enums import Category, OrderStatus  # noqa: E402
from eternal_kernel.model.identifiers import ClientOrderId, TradeId, VenueOrderId  # noqa: E402
from eternal_kernel.model.instruments import Instrument  # noqa: E402
from eternal_kernel.model.reports import (  # noqa: E402
    CoinBalance,
    FillReport,
    OrderStatusReport,
    WalletReport,
)
from eternal_operator.devtools.datastores import PostgresServer, RedisServer  # noqa: E402
from eternal_operator.devtools.processes import stop  # noqa: E402
from support.runtime import make_runtime, new_account, start_fast_venue  # noqa: E402
from support.scripted_strategy import ScriptedStrategy  # noqa: E402

BTC = Instrument(
    "BTCUSDT",
    Category.LINEAR,
    "BTC",
    "USDT",
    Decimal("0.1"),
    Decimal("0.001"),
    Decimal("0.001"),
    Decimal("100"),
    Decimal("5"),
    Decimal("100"),
)


class FillingVenue:
    """Stands in for the venue client: every order is filled at once (stays within risk), its
    execution booked before the answer, as a fast private stream would bring it."""

    def __init__(self) -> None:
        self.fills: dict[ClientOrderId, FillReport] = {}
        self.stream: Callable[[FillReport], Awaitable[bool]] | None = None

    async def submit(
        self, request: OrderRequest, precheck: Callable[[], Awaitable[None]] | None = None
    ) -> OrderStatusReport:
        if precheck is not None:  # the runtime's last check before the wire, as the client runs it
            await precheck()
        price = Decimal("60000")
        fill = FillReport(
            TradeId(f"t-{request.client_order_id}"), request.client_order_id, VenueOrderId("v"),
            request.symbol, request.category, request.side, request.qty, price, Decimal(0),
            "USDT", False, int(time.time() * 1000),
        )  # fmt: skip
        self.fills[request.client_order_id] = fill
        if self.stream is not None:
            await self.stream(fill)
        return OrderStatusReport(
            request.client_order_id,
            VenueOrderId("v"),
            request.symbol,
            request.category,
            request.side,
            request.order_type,
            OrderStatus.FILLED,
            request.qty,
            request.price,
            request.qty,
            price,
            False,
            "",
            0,
        )

    async def order_fills(
        self, category: Category, client_order_id: ClientOrderId
    ) -> list[FillReport]:
        return [self.fills[client_order_id]] if client_order_id in self.fills else []


class Flipping(ScriptedStrategy):
    """Its every-bar order alternates Buy and Sell: the fills are booked, and a second entry
    on the same side would be refused (one position per side), so each bar opens or closes."""

    def on_bar(self, ctx: Any) -> Any:
        if self.every_bar is not None:
            flipped = "Sell" if self.every_bar.get("side") == "Buy" else "Buy"
            self.every_bar = {**self.every_bar, "side": flipped}
        return super().on_bar(ctx)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def harness(
    pg_url: str, redis_url: str, venue: Any, engine: str, every_bar: dict[str, Any]
) -> tuple[Dispatcher, list[float], asyncio.Event, OrderManager, list[float]]:
    store = await Store.connect(pg_url, engine)
    cache = await Cache.connect(redis_url, "bench", engine.replace("/", "-"))
    metrics = Metrics()
    portfolio = Portfolio()
    portfolio.on_wallet(
        WalletReport(
            Decimal("100000"),
            {"USDT": CoinBalance("USDT", Decimal("100000"), Decimal("100000"), Decimal("100000"))},
        )
    )
    portfolio.marks["BTCUSDT"] = Decimal("60000")
    manager = OrderManager(venue, store, portfolio, metrics)
    if isinstance(venue, FillingVenue):
        venue.stream = manager.on_fill
    strategy = Flipping(symbol="BTCUSDT", category=SCategory.LINEAR, every_bar=every_bar)
    market = LiveMarket([("BTCUSDT", SCategory.LINEAR)], 60, "1")
    runner = StrategyRunner(
        engine=engine,
        strategy=strategy,
        market=market,
        portfolio=portfolio,
        manager=manager,
        governor=Governor(),
        limits=RiskLimits(max_leverage=Decimal(5), max_position_fraction=Decimal(1)),
        instruments={("BTCUSDT", Category.LINEAR): BTC},
        metrics=metrics,
        refuse=lambda *a: None,
        background=asyncio.ensure_future,
        emergency_stop=lambda: None,
    )
    runner.enabled = True
    gc.collect()
    gc.freeze()  # as the runtime does once started: old objects leave the collector's scans
    latencies: list[float] = []
    decisions: list[float] = []
    out = asyncio.Event()
    inner = manager.on_request_out

    def request_out(request: OrderRequest) -> None:
        received = runner._received.get(request.client_order_id)
        if received is not None:
            latencies.append((time.perf_counter_ns() - received) / 1e6)
        assert inner is not None
        inner(request)
        out.set()

    manager.on_request_out = request_out
    submit_soon = manager.submit_soon

    def handed_over(request: OrderRequest, intent_id: str, reason: str = "") -> bool:
        received = runner._received.get(request.client_order_id)
        if received is not None:
            decisions.append((time.perf_counter_ns() - received) / 1e6)
        return submit_soon(request, intent_id, reason)

    manager.submit_soon = handed_over  # type: ignore[method-assign]
    dispatcher = Dispatcher(
        runner=runner,
        manager=manager,
        portfolio=portfolio,
        cache=cache,
        metrics=metrics,
        background=asyncio.ensure_future,
        on_fill=lambda: None,
        on_price=lambda: None,
        on_wallet=lambda: None,
    )
    return dispatcher, latencies, out, manager, decisions


def kline(start: int, close: float, confirm: bool = True) -> str:
    return json.dumps(
        {
            "topic": "kline.1.BTCUSDT",
            "type": "snapshot",
            "ts": start + 60_000,
            "data": [
                {
                    "start": start,
                    "end": start + 59_999,
                    "interval": "1",
                    "open": f"{close:.1f}",
                    "close": f"{close:.1f}",
                    "high": f"{close + 5:.1f}",
                    "low": f"{close - 5:.1f}",
                    "volume": "1.5",
                    "turnover": "90000",
                    "confirm": confirm,
                    "timestamp": start + 60_000,
                }
            ],
        }
    )


async def tick_to_order(pg: str, redis: str, bars: int) -> tuple[float, float, float, float]:
    every = {"op": "submit", "side": "Buy", "type": "Market", "qty": "0.001"}
    dispatcher, latencies, out, manager, decisions = await harness(
        pg, redis, FillingVenue(), f"bench/t2o-{time.time_ns()}", every
    )
    handle = dispatcher.public(Category.LINEAR)
    start = 1_700_000_000_000
    for i in range(bars + 20):
        out.clear()
        raw = kline(start + i * 60_000, 60000 + (i % 50))
        received = time.perf_counter_ns()  # the raw message is in
        handle(json.loads(raw), received)
        if i >= 3:
            await asyncio.wait_for(out.wait(), 5)
        await manager.drain(5)  # the venue's answer, before the next bar
    wire, decided = latencies[20:], decisions[20:]
    return pct(decided, 0.5), pct(decided, 0.99), pct(wire, 0.5), pct(wire, 0.99)


async def tick_to_ack(pg: str, redis: str, venue_url: str, orders: int) -> tuple[float, float]:
    account = new_account(venue_url, "benche2e")
    raw = BybitRawClient(
        venue_url,
        account.api_key,
        account.api_secret,
        limiter=RateLimiter({"orders": 20, "queries": 40}),
    )
    domain = BybitDomainClient(raw)
    every = {"op": "submit", "side": "Buy", "type": "Limit", "qty": "0.001", "offset": "-0.2"}
    dispatcher, _, _, manager, _ = await harness(
        pg, redis, domain, f"bench/e2e-{time.time_ns()}", every
    )
    done: list[float] = []
    handle = dispatcher.public(Category.LINEAR)
    start = (time.time_ns() // 60_000_000_000) * 60_000 - 10 * 60_000
    for i in range(orders + 3):
        raw_kline = kline(start + i * 60_000, 60000)
        received = time.perf_counter_ns()
        handle(json.loads(raw_kline), received)
        if i >= 3:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                acked = [
                    o
                    for o in manager.orders.values()
                    if o.status is OrderStatus.ACKNOWLEDGED
                    and o.intent_id not in {str(d) for d in done}
                ]
                if acked:
                    done.append((time.perf_counter_ns() - received) / 1e6)
                    break
                await asyncio.sleep(0.0005)
            manager.orders.clear()
            await asyncio.sleep(0.12)  # stay under the venue's 10 orders/s
    await domain.cancel_all((Category.LINEAR,))
    return pct(done, 0.5), pct(done, 0.99)


async def events_per_second(pg: str, redis: str, n: int) -> tuple[float, float]:
    every = {"op": "submit", "side": "Buy", "type": "Market", "qty": "0.001"}
    dispatcher, _, _, manager, _ = await harness(
        pg, redis, FillingVenue(), f"bench/eps-{time.time_ns()}", every
    )
    handle = dispatcher.public(Category.LINEAR)
    tickers = [
        json.dumps(
            {
                "topic": "tickers.BTCUSDT",
                "type": "delta",
                "ts": i,
                "cs": i,
                "data": {
                    "symbol": "BTCUSDT",
                    "lastPrice": f"{60000 + i % 100}.5",
                    "bid1Price": "60000.4",
                    "ask1Price": "60000.6",
                },
            }
        )
        for i in range(n)
    ]
    started = time.perf_counter()
    for raw in tickers:
        handle(json.loads(raw), time.perf_counter_ns())
    public_rate = n / (time.perf_counter() - started)
    from engine_runtime.execution.orders import ManagedOrder
    from eternal_kernel.model.enums import OrderSide, OrderType
    from eternal_kernel.model.identifiers import ClientOrderId

    count = min(n, 5000)
    for i in range(count):
        order = ManagedOrder(
            ClientOrderId(f"ee-b{i}"),
            f"b{i}",
            "BTCUSDT",
            Category.LINEAR,
            OrderSide.BUY,
            OrderType.LIMIT,
            Decimal("0.001"),
            Decimal("50000"),
            status=OrderStatus.SUBMITTED,
            created_ms=1,
        )
        manager.orders[order.client_order_id] = order
        await manager.store.insert_order(order)
    updates = [
        json.dumps(
            {
                "topic": "order",
                "id": str(i),
                "creationTime": i,
                "data": [
                    {
                        "orderId": f"v{i}",
                        "orderLinkId": f"ee-b{i}",
                        "symbol": "BTCUSDT",
                        "side": "Buy",
                        "orderType": "Limit",
                        "orderStatus": "New",
                        "qty": "0.001",
                        "price": "50000",
                        "cumExecQty": "0",
                        "avgPrice": "",
                        "category": "linear",
                        "updatedTime": str(i),
                    }
                ],
            }
        )
        for i in range(count)
    ]
    started = time.perf_counter()
    for raw in updates:
        dispatcher.private(json.loads(raw), time.perf_counter_ns())
    await manager.drain(60)
    private_rate = count / (time.perf_counter() - started)
    return public_rate, private_rate


SAMPLE_SYMBOLS = {  # manifests/samples
    "core-hodl": ["BTCUSDT", "ETHUSDT"],
    "trend": ["BTCUSDT", "ETHUSDT"],
    "funding": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    "tactical": ["BTCUSDT", "ETHUSDT"],
    "grid": ["BTCUSDT"],
    "scalper": ["BTCUSDT", "ETHUSDT"],
    "meta-trend": ["BTCUSDT", "ETHUSDT"],
}

META_TREND_PARAMS = {"interval": "1", "timeBarrierBars": 20}


def meta_trend_model(work: Path) -> Path:
    """A model directory for META-TREND (its runtime refuses to start without one): trained by
    the pipeline on generated one-minute candles, as tests/integration/runtime does."""
    import numpy as np
    import pandas as pd

    from engine_runtime.train import artifact
    from engine_runtime.train.pipeline import train
    from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

    rng = np.random.default_rng(1)
    bars = 6000
    steps = np.where(np.arange(bars) % 60 < 52, 0.0012, -0.006) + rng.normal(0, 0.0008, bars)
    close = 60_000 * np.exp(np.cumsum(steps))
    open_ = np.concatenate(([60_000.0], close[:-1]))
    candles = pd.DataFrame(
        {"open": open_, "high": np.maximum(open_, close) * 1.0004,
         "low": np.minimum(open_, close) * 0.9996, "close": close,
         "volume": rng.lognormal(2, 0.3, bars)},
        index=pd.date_range("2026-01-01", periods=bars, freq="1min", tz="UTC"),
    )  # fmt: skip
    params = MetaTrendParams.model_validate(META_TREND_PARAMS)
    trained = train({"BTCUSDT": candles}, params, seed=3, backtest=False)
    return artifact.write(work / "model", trained.model_bytes, trained.manifest)


def idle_memory(
    work: Path, pg: str, redis: str, venue_url: str, builtin: str | None = None
) -> float:
    """VmRSS of a runtime 10 s after it is ready: the scripted strategy, or `builtin`."""
    slug = (builtin or "").replace("-", "")
    account = new_account(venue_url, f"benchidle{slug}")
    meta = builtin == "meta-trend"
    rt = make_runtime(
        work / f"idle{slug}",
        name=f"idle{slug}",
        venue_url=venue_url,
        database_url=pg,
        redis_url=redis,
        account=account,
        builtin=builtin,
        symbols=SAMPLE_SYMBOLS[builtin] if builtin else None,
        extra_params=META_TREND_PARAMS if meta else None,
        extra_env={"EE_MODEL_DIR": str(meta_trend_model(work))} if meta else None,
    )
    rt.start()
    try:
        rt.wait_ready(90)
        time.sleep(10)  # idle: streams up, reports running
        assert rt.process is not None
        status = Path(f"/proc/{rt.process.pid}/status").read_text()
        return int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1]) / 1024
    finally:
        rt.stop()


def bytecode_state() -> str:
    """Whether the dependencies (this process's modules, which are the runtime's) load from
    .pyc files: the image compiles them all; a venv installed without them, under
    PYTHONDONTWRITEBYTECODE=1, compiles them at every start, about 15 MiB more resident (the
    unit tests' subprocesses that do not inherit the variable leave some .pyc behind)."""
    files = [
        f
        for m in list(sys.modules.values())
        if (f := getattr(m, "__file__", None)) and "site-packages" in f and f.endswith(".py")
    ]
    cached = sum(Path(importlib.util.cache_from_source(f)).exists() for f in files)
    if cached == len(files):
        return "dependencies precompiled"
    if cached == 0:
        return "dependencies compiled at start: no .pyc"
    return f"dependencies partly precompiled: {cached} of {len(files)} modules"


def latency_and_throughput(args: argparse.Namespace, pg: str, redis: str, venue_url: str) -> None:
    d50, d99, w50, w99 = asyncio.run(tick_to_order(pg, redis, args.bars))
    print(
        f"tick-to-order in process ({args.bars} bars): p50 {d50:.3f} ms  p99 {d99:.3f} ms; "
        f"with the write-ahead order insert (PostgreSQL round trip): "
        f"p50 {w50:.3f} ms  p99 {w99:.3f} ms"
    )
    e50, e99 = asyncio.run(tick_to_ack(pg, redis, venue_url, args.e2e))
    print(f"tick-to-ack, paper venue ({args.e2e} orders): p50 {e50:.2f} ms  p99 {e99:.2f} ms")
    public, private = asyncio.run(events_per_second(pg, redis, args.events))
    print(
        f"events/s on one core: public tickers {public:,.0f}/s; "
        f"private order updates (with a PostgreSQL write each) {private:,.0f}/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=2000)
    parser.add_argument("--e2e", type=int, default=100)
    parser.add_argument("--events", type=int, default=50000)
    parser.add_argument("--memory-only", action="store_true", help="only the idle memory (4.)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="runtime-bench-"))
    venue_url, venue = start_fast_venue(work / "venue")
    with PostgresServer(work / "pg") as pg, RedisServer(work / "redis") as rs:
        if not args.memory_only:
            latency_and_throughput(args, pg.url, rs.url, venue_url)
        rss = idle_memory(work, pg.url, rs.url, venue_url)
        state = bytecode_state()
        print(f"idle runtime memory (VmRSS): {rss:.1f} MiB ({state})")
        each = {name: idle_memory(work, pg.url, rs.url, venue_url, name) for name in SAMPLE_SYMBOLS}
        print(
            "idle runtime memory by built-in strategy (VmRSS): "
            + ", ".join(f"{name} {mib:.1f}" for name, mib in each.items())
            + " MiB (none loads pandas, nor xgboost or scipy: meta-trend checks its model's numpy "
            "trees against the probe scores its artifact records)"
        )
    stop(venue)
    return 0


if __name__ == "__main__":
    sys.exit(main())
