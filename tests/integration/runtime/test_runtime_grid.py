"""GRID live on the paper venue: the runtime places a valid PostOnly ladder, a scripted dip fills
a buy as maker and the sell one level above follows, a scripted jump recentres the ladder (a row
in PostgreSQL, a metric, a Redis event)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from pybit.unified_trading import HTTP

from support import rtdb
from support.runtime import RuntimeProcess
from support.venue_admin import admin
from support.waiting import wait_for

pytestmark = pytest.mark.integration
CENTRE = Decimal("60000")
SPACING = Decimal("0.002")  # 120 USDT at 60000
PARAMS = {
    "category": "linear",
    "levels": 3,
    "spacingPct": str(SPACING),
    "budgetFraction": "0.6",
    "maxInventory": "0.5",
    "maxExposure": "0.8",
}


@pytest.fixture
def held_price(fast_venue: str) -> Iterator[Callable[[Decimal], None]]:
    """BTCUSDT held where the test puts it (the feed paused), released afterwards."""
    admin(fast_venue, "feed/pause", {"symbol": "BTCUSDT", "paused": True})

    def move(price: Decimal) -> None:
        admin(fast_venue, "price", {"symbol": "BTCUSDT", "price": str(price)})

    move(CENTRE)
    yield move
    admin(fast_venue, "feed/pause", {"symbol": "BTCUSDT", "paused": False})


def _open(venue_http: HTTP) -> list[dict[str, Any]]:
    rows = venue_http.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"]
    return list(rows)


def test_grid_places_fills_counters_and_recentres_on_the_paper_venue(
    runtime_factory: Callable[..., RuntimeProcess],
    held_price: Callable[[Decimal], None],
    venue_http: HTTP,
    postgres: str,
    redis: str,
) -> None:
    rt = runtime_factory(name="grid", builtin="grid", extra_params=PARAMS)
    engine = "default/grid"
    rt.start()
    rt.wait_ready()

    def ladder() -> list[dict[str, Any]] | None:
        rows = _open(venue_http)
        return rows if len(rows) == 6 else None

    rows = wait_for(ladder, 30, "the ladder of 6 orders")
    step = CENTRE * SPACING
    assert sorted((r["side"], Decimal(r["price"])) for r in rows) == sorted(
        [("Buy", CENTRE - k * step) for k in (1, 2, 3)]
        + [("Sell", CENTRE + k * step) for k in (1, 2, 3)]
    )
    assert {r["timeInForce"] for r in rows} == {"PostOnly"}
    # 10000 x 0.6 / 6 = 1000 USDT a level: 0.016 BTC at the 0.001 step
    assert {Decimal(r["qty"]) for r in rows} <= {Decimal("0.016"), Decimal("0.017")}

    held_price(CENTRE - step * Decimal("1.5"))  # through the first buy (59880), not the second

    def countered() -> list[dict[str, Any]] | None:
        sells = [r for r in _open(venue_http) if r["side"] == "Sell"]
        prices = {Decimal(r["price"]) for r in sells}
        return sells if CENTRE in prices else None

    wait_for(countered, 30, "the sell one level above the filled buy")
    fills = rtdb.executions(postgres, engine)
    assert len(fills) == 1
    assert fills[0]["price"] == CENTRE - step
    assert fills[0]["is_maker"] is True
    buys = sorted(Decimal(r["price"]) for r in _open(venue_http) if r["side"] == "Buy")
    assert buys == [CENTRE - 3 * step, CENTRE - 2 * step]

    moved = CENTRE * Decimal("1.05")  # far beyond the highest sell (60360) x 1.02
    held_price(moved)

    def recentred() -> list[dict[str, Any]] | None:
        found = rtdb.fetch(
            postgres,
            "SELECT * FROM grid_recentres WHERE engine=$1 AND reason <> 'start' ORDER BY id",
            engine,
        )
        return found or None

    (row, *_) = wait_for(recentred, 30, "the recentre row")
    assert row["reason"] in ("out-of-range", "pump-dump")
    assert abs(row["centre"] - moved) < moved * Decimal("0.001")
    assert row["levels"] == 3

    def rebuilt() -> list[dict[str, Any]] | None:
        rows = _open(venue_http)
        near = [r for r in rows if abs(Decimal(r["price"]) - moved) < moved * Decimal("0.01")]
        return rows if rows and len(near) == len(rows) else None

    wait_for(rebuilt, 30, "the ladder around the new price")
    starts = rtdb.fetch(
        postgres, "SELECT reason FROM grid_recentres WHERE engine=$1 ORDER BY id", engine
    )
    assert starts[0]["reason"] == "start"
    assert "eternal_engine_grid_recentres_total{" in rt.metrics()
    events = [f for _, f in rtdb.stream(redis, "ee:events:default:grid")]
    assert any(e["kind"] == "grid_recentre" for e in events)
    assert "grid recentred" in rt.text()
    assert rt.stop() == 0
