"""A matching engine on its own: a book, an instrument and two callbacks, no venue and no
accounts. It decides fills and ends of orders and only reports them."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from paper_venue.config import BookSettings
from paper_venue.instruments import Category, build_instruments
from paper_venue.matching.book import SyntheticBook
from paper_venue.matching.engine import MatchingEngine
from paper_venue.matching.orders import ClientOrderId, Order, OrderStatus, VenueOrderId

pytestmark = pytest.mark.unit

INST = build_instruments(["BTCUSDT"])[(Category.LINEAR, "BTCUSDT")]


class Recorder:
    """Plays the router: applies a reported fill to the order (as `fills.execute` would) and
    keeps what it was told."""

    def __init__(self) -> None:
        self.fills: list[tuple[str, D, D, bool]] = []
        self.closed: list[tuple[str, str, str]] = []

    def fill(self, order: Order, price: D, qty: D, is_maker: bool) -> None:
        self.fills.append((order.order_id, price, qty, is_maker))
        order.cum_exec_qty += qty
        done = order.cum_exec_qty >= order.qty
        order.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED

    def close(self, order: Order, reason: str, cancel_type: str, keep_status: bool) -> None:
        self.closed.append((order.order_id, reason, cancel_type))
        if not keep_status:
            order.status = OrderStatus.CANCELLED


def engine_at(mid: str) -> MatchingEngine:
    book = SyntheticBook(BookSettings())
    book.refresh(INST, D(mid))
    return MatchingEngine(INST, book)


def order(oid: str, side: str, qty: str, price: str | None, tif: str = "GTC") -> Order:
    return Order(
        order_id=VenueOrderId(oid),
        order_link_id=ClientOrderId(""),
        uid=1,
        inst=INST,
        side=side,
        order_type="Market" if price is None else "Limit",
        qty=D(qty),
        price=None if price is None else D(price),
        time_in_force="IOC" if price is None else tif,
        reduce_only=False,
        close_on_trigger=False,
        created_ms=0,
        last_price_on_created=D(60000),
    )


def test_a_market_order_takes_the_best_ask_as_taker_and_is_closed_filled() -> None:
    engine, seen = engine_at("60000"), Recorder()
    buy = order("m1", "Buy", "0.01", None)
    engine.match_new(buy, seen.fill, seen.close)
    assert seen.fills == [("m1", D("60000.1"), D("0.01"), False)]
    assert seen.closed == [("m1", "EC_NoError", "UNKNOWN")]
    assert engine.resting == {}


def test_a_limit_rests_then_fills_as_maker_at_its_price_when_the_book_moves_through() -> None:
    engine, seen = engine_at("60000"), Recorder()
    bid = order("l1", "Buy", "0.01", "59900.0")
    engine.match_new(bid, seen.fill, seen.close)
    assert seen.fills == []
    assert list(engine.resting) == ["l1"]
    updated: list[str] = []
    no_position = {1: D(0)}.__getitem__
    engine.book.refresh(INST, D("59890"))
    touched = engine.match_resting(
        no_position, seen.fill, seen.close, lambda o: updated.append(o.order_id)
    )
    assert touched == {1}
    assert seen.fills == [("l1", D("59900.0"), D("0.01"), True)]
    assert updated == ["l1"]
    assert seen.closed == [("l1", "EC_NoError", "UNKNOWN")]


def test_post_only_that_would_take_is_reported_closed_without_a_fill() -> None:
    engine, seen = engine_at("60000"), Recorder()
    engine.match_new(order("p1", "Buy", "0.01", "60000.1", "PostOnly"), seen.fill, seen.close)
    assert seen.fills == []
    assert seen.closed == [("p1", "EC_PostOnlyWillTakeLiquidity", "UNKNOWN")]
    assert engine.resting == {}


def test_a_resting_reduce_only_order_without_a_position_is_cancelled() -> None:
    engine, seen = engine_at("60000"), Recorder()
    sell = order("r1", "Sell", "0.01", "60100.0")
    sell.reduce_only = True
    engine.match_new(sell, seen.fill, seen.close)
    engine.book.refresh(INST, D("60200"))
    engine.match_resting({1: D(0)}.__getitem__, seen.fill, seen.close, lambda o: None)
    assert seen.fills == []
    assert seen.closed == [("r1", "EC_NoError", "CancelByReduceOnly")]
