"""Every REST route and stream topic the venue serves answers with every field Bybit
documents for it, with the documented JSON type (`pv_documented`). Prints the table of
fields checked / missing per route with `pytest -s`; `bench/documented_fields.py` too."""

from __future__ import annotations

import asyncio
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from pv_documented import (
    ROUTES,
    SILENT_TOPICS,
    TOPICS,
    Tally,
    run,
    stale_entries,
    table,
    unmapped_routes,
    unmapped_topics,
)
from pv_support import FIXTURES, RawClient

from paper_venue.router.app import PaperVenue


@pytest.mark.integration
def test_every_route_and_topic_has_documented_examples() -> None:
    assert unmapped_routes() == [], "routes served without a documented example to check"
    assert unmapped_topics() == [], "topics served without a documented example to check"
    assert stale_entries() == []
    for name, fixtures in {**ROUTES, **TOPICS}.items():
        assert fixtures or name in SILENT_TOPICS, name
        for fixture in fixtures:
            assert (FIXTURES / f"{fixture}.json").is_file(), (name, fixture)


@pytest.mark.integration
def test_the_checker_finds_missing_fields_and_wrong_types() -> None:
    t = Tally()
    t.compare(
        {"a": "1", "b": [{"c": 1, "d": True}], "e": {"f": ""}, "cumFeeDetail": {"MNT": "1"}},
        {"a": 1, "b": [{"c": 2}], "e": {"f": "x"}},
    )
    assert t.missing == {
        "$.a": "expected str, got number",
        "$.b[].d": "missing",
        "$.cumFeeDetail": "missing",
    }
    assert t.checked == {"$.a", "$.b", "$.b[].c", "$.b[].d", "$.e", "$.e.f", "$.cumFeeDetail"}
    empty = Tally()
    empty.compare({"list": [{"x": "1"}], "k": [["1", "2"]]}, {"list": [], "k": [["1"]]})
    assert set(empty.missing) == {"$.list", "$.k[]"}
    unlisted = Tally()  # an inverse/option answer: empty lists, but the envelope is checked
    unlisted.compare({"list": [{"x": "1"}], "category": ""}, {"list": []}, empty=True)
    assert unlisted.missing == {"$.category": "missing"}


@pytest.mark.integration
def test_coin_maps_are_checked_by_value_and_spot_rows_skip_spotless_fields() -> None:
    order = {"cumFeeDetail": {"MNT": "0.1"}, "tpslMode": "Full", "createType": "CreateByUser"}
    fine = Tally()
    fine.compare(order, {"cumFeeDetail": {"USDT": "0.03"}, "tpslMode": "Full", "createType": ""})
    fine.compare(order, {"cumFeeDetail": {"BTC": "0.00001"}}, spot=True)
    fine.compare(order, {"cumFeeDetail": {}, "tpslMode": "Full", "createType": ""})
    assert fine.missing == {}
    assert "$.cumFeeDetail.<coin>" in fine.checked
    bad = Tally()
    bad.compare(order, {"cumFeeDetail": {"USDT": 0.03}}, spot=False)
    assert bad.missing == {
        "$.cumFeeDetail.USDT": "expected {'str'}, got number",
        "$.tpslMode": "missing",
        "$.createType": "missing",
    }


@pytest.mark.integration
async def test_every_answer_has_every_documented_field(pv: PaperVenue) -> None:
    tallies = await run(pv)
    print("\n" + table(tallies))
    checked_routes = {name for name in tallies if name.startswith(("GET ", "POST "))}
    assert checked_routes == set(ROUTES), set(ROUTES) ^ checked_routes
    for topic in TOPICS:
        if topic not in SILENT_TOPICS:
            assert f"ws {topic}" in tallies, topic
    missing = {name: t.missing for name, t in tallies.items() if t.missing}
    assert missing == {}


@pytest.mark.integration
async def test_documented_fields_carry_the_venues_values(pv: PaperVenue, raw: RawClient) -> None:
    """entryPrice, breakEvenPrice, execPnl, closedPnl from the real fills; funding fields
    from the configuration; Bybit's placeholders where the venue has nothing."""
    events: list[tuple[str, list[dict[str, Any]]]] = []
    pv.venue.private_listeners.append(lambda uid, topic, rows: events.append((topic, rows)))
    pv.venue.private_interest.append(lambda uid: True)
    price = pv.venue.market.price("BTCUSDT")
    buy = {"category": "linear", "symbol": "BTCUSDT", "orderType": "Market", "qty": "0.02"}
    await raw.post("/v5/order/create", {**buy, "side": "Buy"})
    pv.venue.market.move("BTCUSDT", price + 600, pv.venue.clock.now_ms())
    pv.venue.update()
    await asyncio.sleep(0.002)
    _, sold, _ = await raw.post(
        "/v5/order/create", {**buy, "side": "Sell", "qty": "0.01", "orderLinkId": "close-1"}
    )
    assert sold["retCode"] == 0, sold
    _, ex, _ = await raw.get("/v5/execution/list", "category=linear&symbol=BTCUSDT")
    fills = ex["result"]["list"]
    closing = next(f for f in fills if f["orderLinkId"] == "close-1")
    opening = next(f for f in fills if f["orderLinkId"] != "close-1")
    entry, exit_ = Decimal(opening["execPrice"]), Decimal(closing["execPrice"])
    assert Decimal(closing["execPnl"]) == (exit_ - entry) * Decimal("0.01")
    assert opening["execPnl"] == "0"
    order_rows = [r for t, rows in events if t == "order" for r in rows]
    closed = [r for r in order_rows if r["orderLinkId"] == "close-1"][-1]
    assert Decimal(closed["closedPnl"]) == Decimal(closing["execPnl"]) - Decimal(closing["execFee"])
    assert closed["feeCurrency"] == ""
    assert closed["stopOrderType"] == "UNKNOWN"
    assert (closed["takeProfit"], closed["triggerPrice"], closed["triggerBy"]) == (
        "0.00",
        "0.00",
        "UNKNOWN",
    )
    position = [r for t, rows in events if t == "position" for r in rows][-1]
    assert position["entryPrice"] == position["avgPrice"]
    assert Decimal(position["entryPrice"]) == entry
    realised = Decimal(position["curRealisedPnl"])
    qty = Decimal(position["size"])
    expected = (entry * qty - realised) / (qty - qty * Decimal("0.00055"))
    assert Decimal(position["breakEvenPrice"]) == expected.quantize(Decimal("1E-8"), ROUND_DOWN)
    assert (position["takeProfit"], position["stopLoss"], position["trailingStop"]) == (
        "0.00",
        "0.00",
        "0.00",
    )
    assert position["openTime"] == int(position["createdTime"]) > 0
    _, tick, _ = await raw.get("/v5/market/tickers", "category=linear&symbol=BTCUSDT")
    row = tick["result"]["list"][0]
    assert (row["fundingIntervalHour"], row["fundingCap"]) == ("8", "0.00375")
    spot_buy = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market"}
    await raw.post("/v5/order/create", {**spot_buy, "qty": "100", "orderLinkId": "spot-fee"})
    spot_order = [r for t, rows in events if t == "order" for r in rows][-1]
    assert (spot_order["feeCurrency"], spot_order["marketUnit"]) == ("BTC", "quoteCoin")
    spot_fill = [r for t, rows in events if t == "execution" for r in rows][-1]
    assert (spot_fill["feeCurrency"], spot_fill["marketUnit"]) == ("BTC", "quoteCoin")
    assert "createType" not in spot_order
    assert "createType" not in spot_fill


@pytest.mark.integration
async def test_a_duplicate_order_link_id_gets_the_categorys_code(raw: RawClient) -> None:
    """error.mdx: 110072 for derivatives, 170141 ("Duplicate clientOrderId") for spot."""
    for category, qty, code in (("linear", "0.01", 110072), ("spot", "0.001", 170141)):
        body = {
            "category": category,
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": qty,
            "price": "58000",
            "orderLinkId": f"dup-{category}",
        }
        _, first, _ = await raw.post("/v5/order/create", body)
        await asyncio.sleep(0.002)
        _, again, _ = await raw.post("/v5/order/create", body)
        assert first["retCode"] == 0, first
        assert again["retCode"] == code, again


@pytest.mark.integration
async def test_instruments_info_pages_with_limit_and_cursor(raw: RawClient) -> None:
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        query = "category=linear&limit=2" + (f"&cursor={cursor}" if cursor else "")
        _, page, _ = await raw.get("/v5/market/instruments-info", query)
        assert page["retCode"] == 0, page
        assert len(page["result"]["list"]) <= 2
        seen += [r["symbol"] for r in page["result"]["list"]]
        cursor = page["result"]["nextPageCursor"]
        if not cursor:
            break
    assert seen == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    _, whole, _ = await raw.get("/v5/market/instruments-info", "category=spot")
    assert [r["symbolId"] for r in whole["result"]["list"]] == [1, 2, 3]
    assert whole["result"]["nextPageCursor"] == ""
    _, bad, _ = await raw.get("/v5/market/instruments-info", "category=linear&limit=1001")
    assert bad["retCode"] == 10001
