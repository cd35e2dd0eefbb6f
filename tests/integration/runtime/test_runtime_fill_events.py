"""A fill is in the books before the strategy and the risk checks hear of its order's end: the
runtime as a process on the paper venue, whose execution stream lags (or loses) the fills."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pybit.unified_trading import HTTP

from support import rtdb
from support.runtime import RuntimeProcess, admin
from support.waiting import wait_for

pytestmark = pytest.mark.integration


def _event(rt: RuntimeProcess, command: str) -> dict[str, Any] | None:
    return next((e for e in rt.order_events() if e["id"] == command), None)


def _venue_size(venue_http: HTTP) -> Decimal:
    rows = venue_http.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    return Decimal(rows[0]["size"]) if rows else Decimal(0)


def test_the_filled_event_comes_with_the_position(
    runtime_factory: Callable[..., RuntimeProcess], fast_venue: str
) -> None:
    rt = runtime_factory(name="fillpos")
    rt.start()
    rt.wait_ready()
    admin(fast_venue, "faults", {"execution_delay_ms": 1500})  # below the REST fallback's wait
    try:
        rt.command(op="submit", id="entry", side="Buy", type="Market", qty="0.01")
        event = wait_for(lambda: _event(rt, "entry"), 20, "the entry's filled event")
    finally:
        admin(fast_venue, "faults/clear", {})
    assert (event["status"], Decimal(event["filled"])) == ("Filled", Decimal("0.01"))
    assert Decimal(event["position"]) == Decimal("0.01")


def test_an_entry_while_a_fill_is_unbooked_is_refused_and_rest_books_the_fill(
    runtime_factory: Callable[..., RuntimeProcess], fast_venue: str, postgres: str,
    venue_http: HTTP,
) -> None:  # fmt: skip
    rt = runtime_factory(name="fillgap")
    engine = "default/fillgap"
    rt.start()
    rt.wait_ready()
    admin(fast_venue, "faults", {"drop_executions": 1})  # the stream never delivers the fill
    try:
        rt.command(op="submit", id="first", side="Buy", type="Market", qty="0.01")
        wait_for(
            lambda: (o := rtdb.orders(postgres, engine)) and o[0]["status"] == "Filled",
            20, "the order stream's Filled",
        )  # fmt: skip
    finally:
        admin(fast_venue, "faults/clear", {})
    assert not rtdb.executions(postgres, engine)  # in the gap: filled, not booked
    assert _event(rt, "first") is None  # the strategy has not heard yet
    rt.command(op="submit", id="second", side="Buy", type="Market", qty="0.01")
    refusals = wait_for(
        lambda: rtdb.fetch(postgres, "SELECT * FROM risk_refusals WHERE engine=$1", engine),
        20, "the second entry to be refused",
    )  # fmt: skip
    assert refusals[0]["check_name"] == "duplicate_position"
    # Within a few seconds the fill is looked up over REST and booked, then the event goes out.
    event = wait_for(lambda: _event(rt, "first"), 20, "the first entry's filled event")
    assert Decimal(event["position"]) == Decimal("0.01")
    fills = rtdb.executions(postgres, engine)
    assert [f["qty"] for f in fills] == [Decimal("0.01")]
    assert len(rtdb.orders(postgres, engine)) == 1
    assert _venue_size(venue_http) == Decimal("0.01")
