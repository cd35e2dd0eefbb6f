"""GRID live on the paper venue: the runtime places a valid PostOnly ladder, a scripted dip fills
a buy as maker and the sell one level above follows, a scripted jump recentres the ladder (a row
in PostgreSQL, a metric, a Redis event)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
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
TICK = Decimal("0.1")
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
    # The centre is the book's mid the runtime feeds the grid (within a tick or two of the
    # held price: the published book's touch), as the start row records it.
    (start,) = rtdb.fetch(
        postgres, "SELECT centre, spacing FROM grid_recentres WHERE engine=$1", engine
    )
    centre, step = start["centre"], start["spacing"]
    assert abs(centre - CENTRE) <= Decimal("0.2")
    assert abs(step - CENTRE * SPACING) <= Decimal("0.001")

    def px(level: int) -> Decimal:  # the instrument's tick: buys rounded down, sells up
        rounding = ROUND_FLOOR if level < 0 else ROUND_CEILING
        return ((centre + level * step) / TICK).to_integral_value(rounding) * TICK

    assert sorted((r["side"], Decimal(r["price"])) for r in rows) == sorted(
        [("Buy", px(-k)) for k in (1, 2, 3)] + [("Sell", px(k)) for k in (1, 2, 3)]
    )
    assert {r["timeInForce"] for r in rows} == {"PostOnly"}
    # 10000 x 0.6 / 6 = 1000 USDT a level: 0.016 BTC at the 0.001 step
    assert {Decimal(r["qty"]) for r in rows} <= {Decimal("0.016"), Decimal("0.017")}

    held_price(CENTRE - step * Decimal("1.5"))  # through the first buy (59880), not the second

    def countered() -> list[dict[str, Any]] | None:
        sells = [r for r in _open(venue_http) if r["side"] == "Sell"]
        prices = {Decimal(r["price"]) for r in sells}
        return sells if px(0) in prices else None

    wait_for(countered, 30, "the sell one level above the filled buy")
    fills = rtdb.executions(postgres, engine)
    assert len(fills) == 1
    assert fills[0]["price"] == px(-1)
    assert fills[0]["is_maker"] is True
    buys = sorted(Decimal(r["price"]) for r in _open(venue_http) if r["side"] == "Buy")
    assert buys == [px(-3), px(-2)]

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
