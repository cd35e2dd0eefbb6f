"""The equity governance reads: a price move reaches the Redis stream from the ticker, without a
wallet read, at the venue's own valuation, and still stamped with the time of the wallet read
whose balances it holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from pybit.unified_trading import HTTP

from support import rtdb
from support.runtime import RuntimeProcess
from support.venue_admin import admin
from support.waiting import wait_for

pytestmark = pytest.mark.integration

QTY = Decimal("0.05")


def venue_equity(venue_http: HTTP) -> Decimal:
    wallet = venue_http.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
    return Decimal(wallet["totalEquity"])


def test_a_price_move_reaches_the_equity_stream_without_a_wallet_read(
    runtime_factory: Callable[..., RuntimeProcess], redis: str, fast_venue: str, venue_http: HTTP
) -> None:
    key = "ee:equity:default:revalue"
    # Wallet reads only from the status report, every 5 s; the equity loop's own, never. The
    # move is made just after a read, so the next read is seconds away: a busy machine slows
    # the ticker's path, and a read landing first would stamp the revaluation after the move.
    rt = runtime_factory(
        name="revalue",
        extra_env={"EE_WALLET_INTERVAL_SECONDS": "60", "EE_REPORT_INTERVAL_SECONDS": "5"},
    )
    rt.start()
    rt.wait_ready()
    rt.command(op="submit", id="long", side="Buy", type="Market", qty=str(QTY))

    def long_held() -> bool:
        rows = venue_http.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
        return bool(rows) and Decimal(rows[0]["size"]) == QTY

    wait_for(long_held, 30, "the long position on the venue")
    admin(fast_venue, "feed/pause", {"symbol": "BTCUSDT", "paused": True})
    try:
        price = Decimal(admin(fast_venue, "state")["prices"]["BTCUSDT"])

        def near(equity: Decimal, venue: Decimal) -> bool:
            # A funding settlement (the venue's clock runs at 60x) may move the venue's figure
            # by cents between reads; the move tested is a hundred times that (10% of the long).
            return abs(equity - venue) < QTY * price / 1000

        def move_once() -> dict[str, str] | None:
            """Move the price 10% from a wallet read at the paused price: the revalued entry,
            or None when a wallet read (a status report, a funding settlement) came between
            the move and the ticker's revaluation, after which the two cannot be told apart."""
            admin(fast_venue, "price", {"symbol": "BTCUSDT", "price": str(price)})  # a ticker
            paused_at = time.time() * 1000
            settled = venue_equity(venue_http)
            wait_for(
                lambda: any(
                    int(f["ts"]) > paused_at and near(Decimal(f["equity"]), settled)
                    for _, f in rtdb.stream(redis, key)
                ),
                20, "a wallet read at the paused price",
            )  # fmt: skip
            seen = len(rtdb.stream(redis, key))
            moved_at = time.time() * 1000
            admin(fast_venue, "price", {"symbol": "BTCUSDT", "price": str(price * Decimal("1.1"))})
            expected = venue_equity(venue_http)
            assert abs(expected - settled - QTY * price * Decimal("0.1")) < QTY * price / 1000

            def outcome() -> tuple[str, dict[str, str]] | None:
                for _, f in rtdb.stream(redis, key)[seen:]:
                    if int(f["ts"]) >= moved_at:
                        return "read", f
                    if near(Decimal(f["equity"]), expected):
                        return "revalued", f
                return None

            how, entry = wait_for(outcome, 20, "equity at the new price")
            if how == "read":
                return None
            # From the ticker, before any wallet read followed the move; stamped with the read
            # whose balances it holds, which was before the move.
            assert paused_at < int(entry["ts"]) < moved_at
            return entry

        # On a loaded machine a wallet read can land between the move and the ticker: the move
        # is then made again, from the paused price.
        assert any(move_once() for _ in range(3)), "a wallet read beat the ticker three times"
    finally:
        admin(fast_venue, "feed/pause", {"symbol": "BTCUSDT", "paused": False})
