"""Start-up reconciliation, SIGTERM, and the venue's disconnected-cancel-all."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pybit.unified_trading import HTTP

from support import rtdb
from support.runtime import RuntimeProcess
from support.waiting import wait_for

pytestmark = pytest.mark.integration


def _open(venue: HTTP) -> list[dict[str, object]]:
    return list(venue.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"])


def _far_below(venue: HTTP) -> str:
    tickers = venue.get_tickers(category="linear", symbol="BTCUSDT")["result"]["list"]
    return str(round(float(tickers[0]["lastPrice"]) * 0.8, 1))


def test_an_order_placed_while_down_is_adopted_and_reported(
    runtime_factory: Callable[..., RuntimeProcess], postgres: str, venue_http: HTTP
) -> None:
    rt = runtime_factory(name="adopt")
    venue_http.place_order(
        category="linear",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.01",
        price=_far_below(venue_http),
        orderLinkId="manual-1",
    )
    rt.start()
    rt.wait_ready()
    found = rtdb.fetch(postgres, "SELECT * FROM discrepancies WHERE engine=$1", "default/adopt")
    assert [(d["kind"], d["subject"]) for d in found] == [("order", "manual-1")]
    assert "adopted" in found[0]["resolution"]
    orders = rtdb.orders(postgres, "default/adopt")
    assert orders[0]["client_order_id"] == "manual-1"
    assert orders[0]["status"] == "Acknowledged"
    assert rt.probe("/healthz") == 200
    assert rt.stop() == 0  # SIGTERM cancels resting orders, the adopted one included
    assert not _open(venue_http)


def test_sigterm_can_leave_resting_orders(
    runtime_factory: Callable[..., RuntimeProcess], postgres: str, venue_http: HTTP
) -> None:
    rt = runtime_factory(name="leave", extra_env={"EE_CANCEL_ON_SHUTDOWN": "false"})
    rt.start()
    rt.wait_ready()
    rt.command(op="submit", id="r", side="Buy", type="Limit", qty="0.01", offset="-0.1")
    wait_for(lambda: _open(venue_http), 20, "a resting order")
    assert rt.stop() == 0
    assert len(_open(venue_http)) == 1
    assert rtdb.orders(postgres, "default/leave")[0]["status"] == "Acknowledged"


def test_disconnected_cancel_all_is_armed(
    runtime_factory: Callable[..., RuntimeProcess], venue_http: HTTP
) -> None:
    rt = runtime_factory(name="dcp", extra_env={"EE_DCP_WINDOW_SECONDS": "10"})
    rt.start()
    rt.wait_ready()
    rt.command(op="submit", id="r", side="Buy", type="Limit", qty="0.01", offset="-0.1")
    wait_for(lambda: _open(venue_http), 20, "a resting order")
    rt.kill9()  # no SIGTERM handler runs: only the venue can cancel now
    wait_for(lambda: not _open(venue_http), 30, "the venue to cancel on disconnect")
