"""Margin arithmetic of the unified account and the wallet view."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from paper_venue.instruments import Category
from paper_venue.router import trading
from paper_venue.router.venue import Venue
from paper_venue.router.wallet import margin, position_wire, wallet_wire

SUB = 100001


@pytest.mark.unit
def test_initial_margin_and_available_balance_follow_the_position(venue: Venue) -> None:
    trading.place_order(
        venue, SUB, trading.PlaceOrder(Category.LINEAR, "BTCUSDT", "Buy", "Market", D("1.5"))
    )
    trading.place_order(
        venue,
        SUB,
        trading.PlaceOrder(Category.LINEAR, "ETHUSDT", "Buy", "Limit", D("1"), D("2900.00")),
    )
    acct = venue.account(SUB)
    m = margin(venue, acct)
    mark = venue.market.price("BTCUSDT")
    assert m.position_im == D("1.5") * mark / 10
    assert m.order_im == D("2900") / 10
    assert m.position_mm == D("1.5") * mark * D("0.005")
    wire = wallet_wire(venue, acct)
    assert D(str(wire["totalInitialMargin"])) == m.position_im + m.order_im
    available = m.margin_balance - m.position_im - m.order_im
    assert abs(D(str(wire["totalAvailableBalance"])) - available) < D("0.00000001")
    pos = position_wire(venue, acct, acct.positions["BTCUSDT"])
    assert (pos["side"], pos["size"], pos["leverage"]) == ("Buy", "1.500", "10")
    assert pos["liqPrice"] != ""
    assert D(str(pos["liqPrice"])) < mark


@pytest.mark.unit
def test_spot_holds_show_as_locked(venue: Venue) -> None:
    trading.place_order(
        venue,
        SUB,
        trading.PlaceOrder(Category.SPOT, "ETHUSDT", "Buy", "Limit", D("1"), D("2500.00")),
    )
    coins = {c["coin"]: c for c in wallet_wire(venue, venue.account(SUB))["coin"]}  # type: ignore[union-attr, index]
    assert coins["USDT"]["locked"] == "2500"
    assert coins["USDT"]["walletBalance"] == "10000"
