"""The runtime as a real process trading on the paper venue with a scripted strategy."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from pybit.unified_trading import HTTP

from support import rtdb
from support.runtime import RuntimeProcess
from support.venue_admin import admin
from support.waiting import wait_for

pytestmark = pytest.mark.integration


def series(text: str, name: str, **labels: str) -> bool:
    """A sample of `name` with these labels (and the engine's own labels) is exposed."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if found.get("engine") and all(found.get(k) == v for k, v in labels.items()):
            return True
    return False


def _by_intent(rows: list[dict[str, object]], suffix: str) -> dict[str, object] | None:
    return next((r for r in rows if str(r["intent_id"]).endswith(suffix)), None)


def test_places_amends_fills_and_cancels(
    runtime_factory: Callable[..., RuntimeProcess], postgres: str, redis: str, venue_http: HTTP
) -> None:
    rt = runtime_factory(name="lifecycle")
    engine = "default/lifecycle"
    rt.start()
    rt.wait_ready()
    rt.command(op="submit", id="lim", side="Buy", type="Limit", qty="0.01", offset="-0.05")

    def acked() -> dict[str, object] | None:
        rows = [r for r in rtdb.orders(postgres, engine) if r["status"] == "Acknowledged"]
        return rows[0] if rows else None

    limit = wait_for(acked, 20, "the limit order to be acknowledged")
    link = str(limit["client_order_id"])
    rt.command(op="amend", id="am", target="lim", offset="-0.06")

    def amended() -> bool:
        venue = venue_http.get_open_orders(category="linear", orderLinkId=link)["result"]["list"]
        return bool(venue) and Decimal(venue[0]["price"]) < Decimal(str(limit["price"]))

    wait_for(amended, 20, "the amend to reach the venue")
    rt.command(op="submit", id="mkt", side="Sell", type="Market", qty="0.01")
    wait_for(lambda: rtdb.executions(postgres, engine), 20, "the market order to fill")
    rt.command(op="cancel", id="cx", target="lim")
    wait_for(
        lambda: (o := rtdb.orders(postgres, engine)) and o[0]["status"] == "Cancelled",
        20, "the cancel",
    )  # fmt: skip

    rows = rtdb.orders(postgres, engine)
    assert [r["status"] for r in rows] == ["Cancelled", "Filled"]
    market = rows[1]
    assert market["filled_qty"] == Decimal("0.01")
    assert market["avg_price"] > 0
    fills = rtdb.executions(postgres, engine)
    assert sum(f["qty"] for f in fills) == Decimal("0.01")
    position = rtdb.fetch(postgres, "SELECT * FROM positions WHERE engine=$1", engine)[0]
    assert position["qty"] == Decimal("-0.01")
    assert position["avg_entry_price"] == fills[0]["price"]
    venue_pos = venue_http.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert venue_pos[0]["side"] == "Sell"
    assert Decimal(venue_pos[0]["size"]) == Decimal("0.01")
    equity = rtdb.stream(redis, "ee:equity:default:lifecycle")
    assert equity
    assert Decimal(equity[-1][1]["equity"]) > 0
    assert int(equity[-1][1]["ts"]) > 0
    metrics = rt.metrics()
    assert series(metrics, "eternal_engine_orders_total", status="Filled")
    assert "eternal_engine_tick_to_order_seconds_count" in metrics
    assert rt.stop() == 0  # graceful SIGTERM
    assert "BYBIT" not in rt.text()
    assert rt.env["BYBIT_API_SECRET"] not in rt.text()


def test_kill9_mid_submit_then_restart_gives_exactly_one_order(
    runtime_factory: Callable[..., RuntimeProcess], postgres: str, fast_venue: str,
    venue_http: HTTP,
) -> None:  # fmt: skip
    rt = runtime_factory(name="kill9")
    engine = "default/kill9"
    rt.start()
    rt.wait_ready()
    admin(fast_venue, "faults", {"latency_ms": 3000})
    try:
        rt.command(op="submit", id="k", side="Buy", type="Limit", qty="0.01", offset="-0.05")
        wait_for(lambda: rtdb.orders(postgres, engine), 20, "the order to be recorded")
        rt.kill9()  # the request is in flight: recorded, maybe received, not answered
    finally:
        admin(fast_venue, "faults/clear", {})
    link = str(rtdb.orders(postgres, engine)[0]["client_order_id"])
    rt.start()
    rt.wait_ready()

    def one_open() -> list[dict[str, object]] | None:
        venue = venue_http.get_open_orders(category="linear", orderLinkId=link)["result"]["list"]
        rows = rtdb.orders(postgres, engine)
        return venue if rows and rows[0]["status"] == "Acknowledged" and venue else None

    venue = wait_for(one_open, 30, "the order to be open once")
    history = venue_http.get_order_history(category="linear", orderLinkId=link)["result"]["list"]
    everything = {o["orderId"] for o in history} | {o["orderId"] for o in venue}
    assert len(everything) == 1
    assert len(rtdb.orders(postgres, engine)) == 1
    # The restarted strategy replayed the same decision: nothing new was placed.
    all_open = venue_http.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]
    assert len(all_open) == 1


def test_stream_drop_mid_fill_is_healed_by_resync(
    runtime_factory: Callable[..., RuntimeProcess], postgres: str, fast_venue: str,
    venue_http: HTTP,
) -> None:  # fmt: skip
    rt = runtime_factory(name="gap")
    engine = "default/gap"
    rt.start()
    rt.wait_ready()
    rt.command(op="submit", id="g", side="Buy", type="Limit", qty="0.01", offset="-0.01")
    wait_for(
        lambda: (o := rtdb.orders(postgres, engine)) and o[0]["status"] == "Acknowledged",
        20, "the order to rest",
    )  # fmt: skip
    limit = Decimal(str(rtdb.orders(postgres, engine)[0]["price"]))
    admin(fast_venue, "ws/drop", {})  # the private stream is down while the order fills
    admin(fast_venue, "price", {"symbol": "BTCUSDT", "price": str(limit * Decimal("0.99"))})
    wait_for(
        lambda: (o := rtdb.orders(postgres, engine)) and o[0]["status"] == "Filled",
        30, "the fill to be seen",
    )  # fmt: skip
    fills = rtdb.executions(postgres, engine)
    assert sum(f["qty"] for f in fills) == Decimal("0.01")
    position = rtdb.fetch(postgres, "SELECT qty FROM positions WHERE engine=$1", engine)[0]
    assert position["qty"] == Decimal("0.01")
    wait_for(lambda: "eternal_engine_stream_reconnects_total{" in rt.metrics(), 20, "reconnects")


def test_rate_limit_storm_is_ridden_out(
    runtime_factory: Callable[..., RuntimeProcess], postgres: str, fast_venue: str,
    venue_http: HTTP,
) -> None:  # fmt: skip
    rt = runtime_factory(name="storm")
    engine = "default/storm"
    rt.start()
    rt.wait_ready()
    admin(fast_venue, "faults", {"rate_limit_storm": 12})
    try:
        rt.command(op="submit", id="s", side="Buy", type="Limit", qty="0.01", offset="-0.05")
        wait_for(
            lambda: (o := rtdb.orders(postgres, engine)) and o[0]["status"] == "Acknowledged",
            40, "the order through the storm",
        )  # fmt: skip
    finally:
        admin(fast_venue, "faults/clear", {})
    link = rtdb.orders(postgres, engine)[0]["client_order_id"]
    venue = venue_http.get_open_orders(category="linear", orderLinkId=link)["result"]["list"]
    assert len(venue) == 1
    assert series(rt.metrics(), "eternal_engine_venue_errors_total", code="10006")


def test_refused_intent_is_recorded_with_its_reason(
    runtime_factory: Callable[..., RuntimeProcess], postgres: str, venue_http: HTTP
) -> None:
    rt = runtime_factory(name="risky")
    rt.start()
    rt.wait_ready()
    rt.command(op="submit", id="big", side="Buy", type="Market", qty="5")  # ~300k of 10k equity
    refusals = wait_for(
        lambda: rtdb.fetch(postgres, "SELECT * FROM risk_refusals WHERE engine=$1",
                           "default/risky"),
        20, "the refusal",
    )  # fmt: skip
    assert refusals[0]["check_name"] == "max_position_size"
    assert "of equity" in refusals[0]["reason"]
    assert not venue_http.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]
    assert not rtdb.orders(postgres, "default/risky")
