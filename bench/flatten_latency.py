"""How long an exposed account takes to flatten when every venue call costs a round trip.

    .venv/bin/python bench/flatten_latency.py [--latency-ms 0 25 50] [--runs 5]
    PYTHONPATH=<other tree> .venv/bin/python bench/flatten_latency.py ...   # its kernel

The kernel's one flatten loop (`eternal_kernel.bybit.flatten`) against the paper venue as its
own process, `latency_ms` added to each of its answers (its fault, docs/paper-venue.md), for
an account holding BTC and ETH with a resting order (what a halt finds in a spot engine's
account), flattened as each actor does it:

- **runtime**: its cache of markets already holds its own (BTCUSDT and ETHUSDT spot);
- **operator**: a cache that holds none (it flattens accounts it does not trade).

Per latency and actor, the median and the worst of `--runs`: the time until the venue filled
the last sale (its own clock, the wall clock), until the flatten returned flat (a read after
`SETTLE_S` confirms it), and the venue calls it made. On a real venue the round trip, not the
CPU, is most of a flatten's time: the count of round trips one after another is what this
compares, between actors here, between builds by running it on each tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import aiohttp
from paper_venue_bench import CONFIG, KEY, SECRET, _start
from pybit.unified_trading import HTTP

from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.flatten import Instruments, VenueCloser, flatten_account
from eternal_kernel.bybit.ratelimit import RateLimiter
from eternal_kernel.bybit.raw import BybitRawClient
from eternal_kernel.bybit.session import http_session
from eternal_kernel.model.enums import Category

T = TypeVar("T")


class Counted(BybitDomainClient):
    """The classified client, counting its requests."""

    calls = 0

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        Counted.calls += 1
        return await super()._retrying(call)


def client(url: str) -> Counted:
    limiter = RateLimiter({"orders": 20, "queries": 50})
    return Counted(BybitRawClient(url, KEY, SECRET, limiter=limiter))


def expose(venue: HTTP) -> None:
    for coin, usdt in (("BTC", "3000"), ("ETH", "1500")):
        venue.place_order(category="spot", symbol=f"{coin}USDT", side="Buy", orderType="Market",
                          qty=usdt, marketUnit="quoteCoin")  # fmt: skip
    price = Decimal(venue.get_tickers(category="spot", symbol="BTCUSDT")["result"]["list"][0]
                    ["lastPrice"])  # fmt: skip
    rest = (price * Decimal("0.8")).quantize(Decimal("0.01"))
    venue.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit",
                      qty="0.001", price=str(rest))  # fmt: skip


async def faults(http: aiohttp.ClientSession, url: str, token: str, latency_ms: int) -> None:
    headers = {"X-Admin-Token": token}
    async with http.post(f"{url}/admin/faults", json={"latency_ms": latency_ms},
                         headers=headers) as answer:  # fmt: skip
        answer.raise_for_status()


async def one(
    url: str, token: str, latency_ms: int, warm: Instruments | None, run: str
) -> dict[str, float]:
    venue = http_session(url, KEY, SECRET)
    expose(venue)
    async with aiohttp.ClientSession() as http:
        await faults(http, url, token, latency_ms)
        try:
            Counted.calls = 0
            flat = client(url)
            started = time.time()
            result = await flatten_account(
                flat, VenueCloser(flat), engine="bench", purpose=f"halt:bench:{run}",
                instruments=dict(warm) if warm is not None else None,
            )  # fmt: skip
            done = time.time() - started
        finally:
            await faults(http, url, token, 0)
    assert result.flat, result.summary()
    orders = venue.get_order_history(category="spot", limit=50)["result"]["list"]
    sold = [int(o["updatedTime"]) / 1000 for o in orders
            if o["side"] == "Sell" and int(o["updatedTime"]) / 1000 >= started]  # fmt: skip
    assert len(sold) == 2, orders
    return {"sold": max(sold) - started, "flat": done, "calls": Counted.calls}


async def measure(latencies: list[int], runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.json"
        cfg.write_text(json.dumps({**CONFIG, "data_dir": tmp}))
        proc, url = await _start("-m", "paper_venue", "--port", "0", "--config", str(cfg))
        try:
            token = (Path(tmp) / "admin-token").read_text().strip()
            own = await client(url).instruments(Category.SPOT, ["BTCUSDT", "ETHUSDT"])
            warm: Instruments = {(s, Category.SPOT): i for s, i in own.items()}
            print(f"{'latency':>8} {'actor':>9} {'last sale filled':>20} {'flat':>20} {'calls':>6}")
            for latency in latencies:
                for actor, cache in (("runtime", warm), ("operator", None)):
                    got = [await one(url, token, latency, cache, f"{latency}-{actor}-{i}")
                           for i in range(runs)]  # fmt: skip
                    sold = [g["sold"] * 1000 for g in got]
                    flat = [g["flat"] * 1000 for g in got]
                    calls = statistics.median(g["calls"] for g in got)
                    print(f"{latency:>6}ms {actor:>9} "
                          f"{statistics.median(sold):>8.0f} / {max(sold):>5.0f} ms "
                          f"{statistics.median(flat):>8.0f} / {max(flat):>5.0f} ms "
                          f"{calls:>6.0f}")  # fmt: skip
        finally:
            proc.terminate()
            await proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 25, 50])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.latency_ms, args.runs))


if __name__ == "__main__":
    main()
