"""The runtime's book stream against the paper venue: the local book follows the published one
through snapshots and deltas, and a broken book is rebuilt by resubscribing the topic."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from engine_runtime.adapters.market_data import LocalBook
from eternal_kernel.bybit.session import http_session
from eternal_kernel.bybit.streams import BybitStream
from eternal_kernel.model.enums import Category

pytestmark = pytest.mark.integration

TOPIC = "orderbook.50.BTCUSDT"


async def test_the_local_book_follows_the_venue_and_resubscribing_rebuilds_it(
    fast_venue: str,
) -> None:
    book = LocalBook("BTCUSDT", Category.LINEAR)
    kinds: list[str] = []
    changed = asyncio.Event()

    def on_message(message: dict[str, Any], received_ns: int) -> None:
        if message["topic"] == TOPIC:
            kinds.append(message["type"])
            book.apply(message)
            changed.set()

    ws = "ws://" + fast_venue.removeprefix("http://") + "/v5/public/linear"
    stream = BybitStream("public-linear", ws, [TOPIC], on_message)
    task = asyncio.create_task(stream.run())
    try:
        await asyncio.wait_for(stream.up.wait(), 10)
        while kinds.count("delta") < 3:  # the 60x feed moves the price: deltas follow
            changed.clear()
            await asyncio.wait_for(changed.wait(), 10)
        assert kinds[0] == "snapshot"
        view = book.view(5)
        assert view is not None
        assert view.best_bid is not None
        assert view.best_ask is not None
        assert view.best_bid < view.best_ask
        http = http_session(fast_venue, "", "")
        rest = http.get_orderbook(category="linear", symbol="BTCUSDT", limit=5)["result"]
        mid = (Decimal(rest["b"][0][0]) + Decimal(rest["a"][0][0])) / 2
        assert abs(mid - (view.mid or 0)) / mid < Decimal("0.01")  # the same market

        book.invalidate()  # as after a gap
        snapshots = kinds.count("snapshot")
        await stream.resubscribe(TOPIC)
        for _ in range(50):
            if kinds.count("snapshot") > snapshots and book.view(5) is not None:
                break
            changed.clear()
            await asyncio.wait_for(changed.wait(), 10)
        assert kinds.count("snapshot") == snapshots + 1
        assert book.view(5) is not None  # rebuilt from the new snapshot
    finally:
        await stream.stop()
        task.cancel()
