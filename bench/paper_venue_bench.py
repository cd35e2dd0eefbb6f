"""Benchmark of the paper venue: order round trips, matching, WebSocket fan-out.

    .venv/bin/python bench/paper_venue_bench.py [--orders 1000] [--concurrency 8]
    .venv/bin/python bench/paper_venue_bench.py --overhead-only [--requests 1000]

1. pybit round trip (place + cancel) against the venue as its own process on loopback,
   with pybit's own overhead separated from the request's elapsed time (requests'
   `elapsed`, i.e. send to response headers) in the same run.
2. The same round trip from a raw asyncio client (aiohttp), sequential and concurrent.
3. Matching in process (no HTTP): orders per second for crossing and resting orders.
4. WebSocket fan-out: trades published to 10 subscribers, messages per second delivered.
5. The venue's overhead against pybit's own: the same pybit calls (get_wallet_balance,
   place_order + cancel_order, get_positions) against the venue and against a canned
   loopback server (aiohttp, its own process, answering Bybit's documented example for
   each path and doing nothing else), interleaved request by request in the same run;
   p50/p99 per call and the venue's share (`venue_adds_p50_pct`: how much longer than
   the baseline, the goal being under 20%).

Rate limits are switched off for the run (they would cap it at 10 orders/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pybit.unified_trading import HTTP

from paper_venue.clock import Clock, ClockMode
from paper_venue.config import VenueSettings
from paper_venue.instruments import Category
from paper_venue.router import trading
from paper_venue.router.app import PaperVenue
from paper_venue.router.auth import sign
from paper_venue.router.venue import Venue

KEY, SECRET = "PAPERSUBKEY0001", "PAPERSUBSECRET000000000000000001"
REPO = Path(__file__).resolve().parents[1]
CONFIG = {
    "rate_limits": {"enabled": False},
    "feed": {"kind": "scripted", "backfill_minutes": 5},
    "accounts": {
        "subaccounts": [
            {
                "username": "bench",
                "uid": 100001,
                "balances": {"USDT": "100000000"},
                "keys": [{"key": KEY, "secret": SECRET}],
            }
        ]
    },
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(name: str, lat_ms: list[float], wall_s: float, pairs: int) -> dict[str, Any]:
    return {
        "name": name,
        "round_trips": pairs,
        "per_second": round(pairs / wall_s, 1),
        "p50_ms": round(pct(lat_ms, 0.50), 3),
        "p99_ms": round(pct(lat_ms, 0.99), 3),
    }


# 1. pybit --------------------------------------------------------------------------------


def pybit_round_trips(url: str, n: int) -> dict[str, Any]:
    http = HTTP(api_key=KEY, api_secret=SECRET, record_request_time=True, max_retries=1)
    http.endpoint = url
    lat, elapsed, overhead = [], [], []
    args = dict(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001")
    for _ in range(20):  # warm up connections and code paths
        body, _ = http.place_order(**args, price="50000")
        http.cancel_order(category="linear", symbol="BTCUSDT", orderId=body["result"]["orderId"])
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        body, e1 = http.place_order(**args, price="50000")
        t1 = time.perf_counter()
        _, e2 = http.cancel_order(
            category="linear", symbol="BTCUSDT", orderId=body["result"]["orderId"]
        )
        t2 = time.perf_counter()
        lat.append((t2 - t0) * 1000)
        for total, el in ((t1 - t0, e1.total_seconds()), (t2 - t1, e2.total_seconds())):
            elapsed.append(el * 1000)
            overhead.append((total - el) * 1000)
    wall = time.perf_counter() - started
    out = summary("pybit place+cancel", lat, wall, n)
    out["per_request_elapsed_p50_ms"] = round(pct(elapsed, 0.5), 3)
    out["per_request_pybit_overhead_p50_ms"] = round(pct(overhead, 0.5), 3)
    out["per_request_pybit_overhead_mean_ms"] = round(statistics.mean(overhead), 3)
    return out


# 2. raw asyncio client -------------------------------------------------------------------


def _headers(payload: str) -> dict[str, str]:
    ts = str(Clock.wall_ms())
    return {
        "X-BAPI-API-KEY": KEY,
        "X-BAPI-TIMESTAMP": ts,
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": sign(SECRET, f"{ts}{KEY}5000{payload}"),
        "Content-Type": "application/json",
    }


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(body)
    async with session.post(url, data=raw, headers=_headers(raw)) as r:
        data: dict[str, Any] = await r.json()
        if data["retCode"] != 0:
            raise RuntimeError(data)
        return data


async def raw_round_trips(url: str, n: int, concurrency: int) -> dict[str, Any]:
    lat: list[float] = []

    async def worker(session: aiohttp.ClientSession, count: int) -> None:
        for _ in range(count):
            t0 = time.perf_counter()
            link = f"raw-{uuid.uuid4().hex[:24]}"
            await _post(session, f"{url}/v5/order/create", {
                "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                "qty": "0.001", "price": "50000", "orderLinkId": link,
            })  # fmt: skip
            await _post(
                session,
                f"{url}/v5/order/cancel",
                {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": link},
            )
            lat.append((time.perf_counter() - t0) * 1000)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await worker(session, 20)
        lat.clear()
        started = time.perf_counter()
        per = n // concurrency
        await asyncio.gather(*(worker(session, per) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return summary(
        f"raw aiohttp place+cancel, {concurrency} in flight", lat, wall, per * concurrency
    )


# 3. matching in process ------------------------------------------------------------------


def matching(n: int) -> list[dict[str, Any]]:
    venue = Venue(VenueSettings.model_validate(CONFIG), Clock(ClockMode.STEPPED))
    out = []
    for label, kw in (
        ("market (taker, fills)", {"order_type": "Market"}),
        ("limit GTC resting + cancel", {"order_type": "Limit", "price": Decimal("50000")}),
    ):
        started = time.perf_counter()
        for i in range(n):
            side = "Buy" if i % 2 == 0 else "Sell"
            order = trading.place_order(
                venue, 100001,
                trading.PlaceOrder(Category.LINEAR, "BTCUSDT", side if "market" in label else "Buy",
                                   qty=Decimal("0.001"), **kw),  # type: ignore[arg-type]
            )  # fmt: skip
            if order.status.is_open:
                trading.cancel_order(
                    venue, 100001, Category.LINEAR, "BTCUSDT", order.order_id, None
                )
            if i % 200 == 0:
                venue.book.refresh(venue.instrument(Category.LINEAR, "BTCUSDT"), Decimal(1))
                venue.book.refresh(venue.instrument(Category.LINEAR, "BTCUSDT"), Decimal(60000))
        wall = time.perf_counter() - started
        out.append({"name": f"matching: {label}", "orders": n, "per_second": round(n / wall, 1)})
    return out


# 4. WebSocket fan-out --------------------------------------------------------------------


async def fan_out(trades: int, subscribers: int = 10) -> dict[str, Any]:
    settings = VenueSettings.model_validate(
        {**CONFIG, "port": 0, "clock": {"mode": "stepped"}, "admin_token": secrets.token_hex(16)}
    )  # no admin calls here: a token of its own keeps the venue from writing one to disk
    pv = PaperVenue(settings, Clock(ClockMode.STEPPED))
    await pv.start()
    received = [0] * subscribers
    done = asyncio.Event()
    expected = trades

    async def reader(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if '"publicTrade.BTCUSDT"' in msg.data:
                received[i] += 1
                if all(r >= expected for r in received):
                    done.set()

    try:
        async with aiohttp.ClientSession() as session:
            sockets = [
                await session.ws_connect(f"{pv.ws_url}/v5/public/linear")
                for _ in range(subscribers)
            ]
            for ws in sockets:
                await ws.send_str(json.dumps({"op": "subscribe", "args": ["publicTrade.BTCUSDT"]}))
            tasks = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets)]
            deadline = time.monotonic() + 10
            while sum(len(c.topics) for c in pv.sockets.connections) < subscribers:
                if time.monotonic() > deadline:
                    raise RuntimeError("subscriptions not acknowledged")
                await asyncio.sleep(0.01)
            inst = pv.venue.instrument(Category.LINEAR, "BTCUSDT")
            started = time.perf_counter()
            for k in range(trades):
                for listener in pv.venue.trade_listeners:
                    listener(inst, Decimal("60000.1"), Decimal("0.001"), "Buy", k)
                if k % 100 == 0:
                    await asyncio.sleep(0)
            await asyncio.wait_for(done.wait(), timeout=120)
            wall = time.perf_counter() - started
            for t in tasks:
                t.cancel()
            for ws in sockets:
                await ws.close()
    finally:
        await pv.stop()
    total = trades * subscribers
    return {"name": f"ws fan-out publicTrade to {subscribers} subscribers", "messages": total,
            "per_second": round(total / wall, 1)}  # fmt: skip


# 5. the venue's overhead against pybit's own -------------------------------------------

CANNED = {
    "/v5/account/wallet-balance": "rest_wallet_balance",
    "/v5/order/create": "rest_order_create",
    "/v5/order/cancel": "rest_order_cancel",
    "/v5/position/list": "rest_position_list",
}
FIXTURES = REPO / "tests" / "fixtures" / "bybit"


def serve_canned() -> None:
    """The baseline server: Bybit's documented answer for each path, nothing else."""
    bodies = {
        path: json.dumps(json.loads((FIXTURES / f"{name}.json").read_text())).encode()
        for path, name in CANNED.items()
    }

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=bodies[request.path], content_type="application/json")

    async def run() -> None:
        app = web.Application()
        for path in bodies:
            app.router.add_route("*", path, answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"canned listening on http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


def overhead(venue_url: str, canned_url: str, n: int) -> list[dict[str, Any]]:
    clients = {}
    for target, url in (("baseline", canned_url), ("venue", venue_url)):
        http = HTTP(api_key=KEY, api_secret=SECRET, max_retries=1)
        http.endpoint = url
        clients[target] = http
    order = dict(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001")

    def place_cancel(http: HTTP) -> None:
        placed = http.place_order(**order, price="50000")
        http.cancel_order(category="linear", symbol="BTCUSDT", orderId=placed["result"]["orderId"])

    calls = {
        "get_wallet_balance": lambda http: http.get_wallet_balance(accountType="UNIFIED"),
        "place_order+cancel_order": place_cancel,
        "get_positions": lambda http: http.get_positions(category="linear", symbol="BTCUSDT"),
    }
    out = []
    for name, call in calls.items():
        lat: dict[str, list[float]] = {"baseline": [], "venue": []}
        for i in range(n + 50):
            for target in ("baseline", "venue") if i % 2 else ("venue", "baseline"):
                t0 = time.perf_counter()
                call(clients[target])
                if i >= 50:  # the first 50 warm up connections and code paths
                    lat[target].append((time.perf_counter() - t0) * 1000)
        b50, b99 = pct(lat["baseline"], 0.5), pct(lat["baseline"], 0.99)
        v50, v99 = pct(lat["venue"], 0.5), pct(lat["venue"], 0.99)
        out.append({
            "name": f"pybit {name}: canned loopback server (baseline) vs venue",
            "requests": n,
            "baseline_p50_ms": round(b50, 3), "baseline_p99_ms": round(b99, 3),
            "venue_p50_ms": round(v50, 3), "venue_p99_ms": round(v99, 3),
            "ratio_p50": round(v50 / b50, 3), "ratio_p99": round(v99 / b99, 3),
            "venue_adds_p50_pct": round(100 * (v50 / b50 - 1), 1),
        })  # fmt: skip
    return out


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    """A child process printing `... listening on URL` once it accepts connections."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=REPO, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode().strip()
    return proc, line.rsplit(" ", 1)[1]


# driver ----------------------------------------------------------------------------------


async def with_subprocess_venue(
    orders: int, concurrency: int, requests: int, overhead_only: bool
) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.json"
        cfg.write_text(json.dumps({**CONFIG, "data_dir": tmp}))  # its admin token goes there
        proc, url = await _start("-m", "paper_venue", "--port", "0", "--config", str(cfg))
        canned, canned_url = await _start(__file__, "--serve-canned")
        try:
            results = []
            if not overhead_only:
                results.append(await asyncio.to_thread(pybit_round_trips, url, orders))
                results.append(await raw_round_trips(url, orders, 1))
                results.append(await raw_round_trips(url, orders, concurrency))
            results += await asyncio.to_thread(overhead, url, canned_url, requests)
        finally:
            for p in (proc, canned):
                p.terminate()
                await p.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--matching", type=int, default=20000)
    parser.add_argument("--trades", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=1000, help="per call, part 5")
    parser.add_argument("--overhead-only", action="store_true", help="only part 5")
    parser.add_argument("--serve-canned", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_canned:
        serve_canned()
        return
    results = asyncio.run(
        with_subprocess_venue(args.orders, args.concurrency, args.requests, args.overhead_only)
    )
    if not args.overhead_only:
        results += matching(args.matching)
        results.append(asyncio.run(fan_out(args.trades)))
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
