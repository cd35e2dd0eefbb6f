"""Matching against the synthetic book: market, limit GTC/IOC/FOK, PostOnly, reduce-only,
partial fills, resting fills as the price moves, fees."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from paper_venue.errors import BybitError, Code
from paper_venue.instruments import Category
from paper_venue.matching.orders import OrderStatus
from paper_venue.router import trading
from paper_venue.router.trading import PlaceOrder
from paper_venue.router.venue import Venue

SUB = 100001
LIN, SPOT = Category.LINEAR, Category.SPOT


def place(venue: Venue, **kw: object) -> trading.Order:
    args: dict[str, object] = {
        "category": LIN,
        "symbol": "BTCUSDT",
        "side": "Buy",
        "order_type": "Market",
        "qty": D("0.01"),
    }
    args.update(kw)
    return trading.place_order(venue, SUB, PlaceOrder(**args))  # type: ignore[arg-type]


def snapshot_state(venue: Venue) -> tuple[object, ...]:
    acct = venue.account(SUB)
    return (dict(acct.unified), {s: p.size for s, p in acct.positions.items()}, len(venue.orders))


@pytest.mark.unit
def test_market_buy_takes_best_ask_and_pays_taker_fee(venue: Venue) -> None:
    order = place(venue)
    assert order.status is OrderStatus.FILLED
    assert order.avg_price == D("60000.1")
    [ex] = venue.executions[SUB]
    assert ex.exec_fee == D("60000.1") * D("0.01") * D("0.00055")
    assert not ex.is_maker
    pos = venue.account(SUB).positions["BTCUSDT"]
    assert pos.size == D("0.01")
    assert venue.account(SUB).balance("USDT") == D(10000) - ex.exec_fee


@pytest.mark.unit
def test_large_market_order_walks_the_book_in_partial_fills(venue: Venue) -> None:
    venue.account(SUB).credit("USDT", D(1_000_000))
    order = place(venue, qty=D("2"))
    fills = list(venue.executions[SUB])
    assert order.status is OrderStatus.FILLED
    assert len(fills) > 1
    assert sum(f.exec_qty for f in fills) == D(2)
    prices = sorted(f.exec_price for f in fills)
    assert prices[0] == D("60000.1")
    assert prices[-1] > prices[0]


@pytest.mark.unit
def test_ioc_limit_fills_what_it_can_and_cancels_the_rest(venue: Venue) -> None:
    venue.account(SUB).credit("USDT", D(1_000_000))
    order = place(venue, order_type="Limit", price=D("60000.1"), qty=D("5"), time_in_force="IOC")
    assert order.status is OrderStatus.CANCELLED
    assert D(0) < order.cum_exec_qty < D(5)
    assert order.leaves_qty == 0


@pytest.mark.unit
def test_fok_that_cannot_fill_in_full_is_cancelled_with_nothing_filled(venue: Venue) -> None:
    venue.account(SUB).credit("USDT", D(1_000_000))
    order = place(venue, order_type="Limit", price=D("60000.1"), qty=D("5"), time_in_force="FOK")
    assert order.status is OrderStatus.CANCELLED
    assert order.cum_exec_qty == 0
    assert SUB not in venue.executions


@pytest.mark.unit
def test_post_only_that_would_cross_is_cancelled_not_filled(venue: Venue) -> None:
    order = place(venue, order_type="Limit", price=D("60000.1"), time_in_force="PostOnly")
    assert order.status is OrderStatus.CANCELLED
    assert order.reject_reason == "EC_PostOnlyWillTakeLiquidity"
    assert SUB not in venue.executions


@pytest.mark.unit
def test_post_only_rests_and_fills_as_maker_when_the_price_comes_down(venue: Venue) -> None:
    order = place(venue, order_type="Limit", price=D("59000.0"), time_in_force="PostOnly")
    assert order.status is OrderStatus.NEW
    venue.market.move("BTCUSDT", D("58990"), venue.clock.now_ms())
    venue.update()
    assert order.status is OrderStatus.FILLED
    [ex] = venue.executions[SUB]
    assert ex.is_maker
    assert ex.exec_price == D("59000.0")
    assert ex.fee_rate == D("0.0002")


@pytest.mark.unit
def test_resting_order_fills_partially_when_the_book_is_thin(make_venue: object) -> None:
    venue = make_venue(book={"level_notional_usdt": "600", "levels": 2})  # type: ignore[operator]
    venue.account(SUB).credit("USDT", D(100_000))
    order = place(venue, order_type="Limit", price=D("59000.0"), qty=D("0.5"))
    venue.market.move("BTCUSDT", D("58990"), venue.clock.now_ms())
    venue.update()
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert D(0) < order.cum_exec_qty < D("0.5")


@pytest.mark.unit
def test_reduce_only_is_refused_without_a_position_and_clamped_with_one(venue: Venue) -> None:
    before = snapshot_state(venue)
    with pytest.raises(BybitError) as err:
        place(venue, side="Sell", reduce_only=True)
    assert err.value.code is Code.REDUCE_ONLY
    assert snapshot_state(venue) == before
    place(venue, qty=D("0.01"))
    closing = place(venue, side="Sell", qty=D("0.05"), reduce_only=True)
    assert closing.qty == D("0.01")
    assert venue.account(SUB).positions["BTCUSDT"].size == 0


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"order_type": "Limit", "price": D("60000.05")}, Code.PARAMS),
        ({"qty": D("0.0015")}, Code.PARAMS),
        ({"qty": D("0.00001")}, Code.PARAMS),
        (
            {"qty": D("0.0001") * 0 + D("0.001"), "order_type": "Limit", "price": D("1000.0")},
            Code.MIN_NOTIONAL,
        ),
        ({"qty": D("-1")}, Code.PARAMS),
        ({"symbol": "DOGEUSDT"}, Code.PARAMS),
        ({"qty": D("100")}, Code.AVAILABLE_INSUFFICIENT),
        ({"order_type": "Limit", "price": D("70000.0")}, Code.PRICE_OUT_OF_RANGE),
        (
            {"category": SPOT, "order_type": "Limit", "price": D("60000.005")},
            Code.SPOT_PRICE_DECIMALS,
        ),
        ({"category": SPOT, "side": "Sell", "qty": D("0.0000001")}, Code.SPOT_QTY_DECIMALS),
        ({"category": SPOT, "side": "Sell", "qty": D("1")}, Code.SPOT_INSUFFICIENT),
        ({"category": SPOT, "qty": D("0.5")}, Code.SPOT_VALUE_LOWER),
        ({"category": SPOT, "qty": D("20000")}, Code.SPOT_INSUFFICIENT),
        ({"category": SPOT, "symbol": "DOGEUSDT"}, Code.SPOT_INVALID_SYMBOL),
    ],
)
def test_filters_and_balances_are_enforced_with_bybit_codes(
    venue: Venue, kw: dict[str, object], code: Code
) -> None:
    before = snapshot_state(venue)
    with pytest.raises(BybitError) as err:
        place(venue, **kw)
    assert err.value.code is code
    assert snapshot_state(venue) == before


@pytest.mark.unit
def test_duplicate_order_link_id_is_refused(venue: Venue) -> None:
    place(venue, order_link_id="dup-1")
    with pytest.raises(BybitError) as err:
        place(venue, order_link_id="dup-1")
    assert err.value.code is Code.ORDER_LINK_ID_DUPLICATE


@pytest.mark.unit
def test_spot_market_buy_spends_quote_and_charges_fee_in_base(venue: Venue) -> None:
    order = place(venue, category=SPOT, qty=D("600"))
    acct = venue.account(SUB)
    assert order.status is OrderStatus.FILLED
    assert order.market_unit == "quoteCoin"
    bought = order.cum_exec_qty
    assert acct.balance("BTC") == bought - order.cum_exec_fee
    assert acct.balance("USDT") == D(10000) - order.cum_exec_value
    assert order.cum_exec_value <= D(600)


@pytest.mark.unit
def test_spot_limit_sell_locks_base_until_cancelled(venue: Venue) -> None:
    place(venue, category=SPOT, qty=D("0.01"), market_unit="baseCoin")
    held = venue.account(SUB).balance("BTC")
    order = place(
        venue, category=SPOT, side="Sell", order_type="Limit", price=D("61000.0"), qty=held
    )
    with pytest.raises(BybitError) as err:
        place(venue, category=SPOT, side="Sell", order_type="Limit", price=D("61000.0"), qty=held)
    assert err.value.code is Code.SPOT_INSUFFICIENT
    trading.cancel_order(venue, SUB, SPOT, "BTCUSDT", order.order_id, None)
    assert order.status is OrderStatus.CANCELLED
    again = place(
        venue, category=SPOT, side="Sell", order_type="Limit", price=D("61000.0"), qty=held
    )
    assert again.status is OrderStatus.NEW


@pytest.mark.unit
def test_amend_moves_price_and_cancel_of_finished_order_is_110001(venue: Venue) -> None:
    order = place(venue, order_type="Limit", price=D("59000.0"), order_link_id="a-1")
    trading.amend_order(venue, SUB, LIN, "BTCUSDT", None, "a-1", D("0.02"), D("59100.0"))
    assert (order.qty, order.price) == (D("0.02"), D("59100.0"))
    trading.cancel_order(venue, SUB, LIN, "BTCUSDT", order.order_id, None)
    with pytest.raises(BybitError) as err:
        trading.cancel_order(venue, SUB, LIN, "BTCUSDT", order.order_id, None)
    assert err.value.code is Code.ORDER_NOT_EXISTS
    with pytest.raises(BybitError) as err:
        trading.amend_order(venue, SUB, LIN, "BTCUSDT", order.order_id, None, D("0.03"), None)
    assert err.value.code is Code.ORDER_NOT_EXISTS


@pytest.mark.unit
def test_amend_that_crosses_fills_as_taker(venue: Venue) -> None:
    order = place(venue, order_type="Limit", price=D("59000.0"))
    trading.amend_order(venue, SUB, LIN, "BTCUSDT", order.order_id, None, None, D("60000.1"))
    assert order.status is OrderStatus.FILLED


@pytest.mark.unit
def test_order_events_are_published_in_bybit_shape(
    venue: Venue, events: list[tuple[int, str, list[dict[str, object]]]]
) -> None:
    place(venue)
    topics = [t for _, t, _ in events]
    assert topics[:3] == ["execution", "execution.fast", "order"]
    full = events[0][2][0]
    fast = events[1][2][0]
    assert fast == {k: full[k] for k in fast}  # the fast form is a subset of the same fill
    assert set(fast) == {
        "category", "symbol", "execId", "execPrice", "execQty", "orderId", "isMaker",
        "orderLinkId", "side", "execTime", "seq",
    }  # fmt: skip
    assert "position" in topics
    assert "wallet" in topics
    order_row = next(rows[0] for _, t, rows in events if t == "order")
    assert order_row["orderStatus"] == "Filled"
    assert order_row["category"] == "linear"


@pytest.mark.unit
def test_cancel_all_filters_by_symbol(venue: Venue) -> None:
    place(venue, order_type="Limit", price=D("59000.0"))
    place(venue, symbol="ETHUSDT", order_type="Limit", price=D("2900.00"), qty=D("0.1"))
    done = trading.cancel_all(venue, SUB, LIN, "BTCUSDT")
    assert [o.inst.symbol for o in done] == ["BTCUSDT"]
    assert [o.inst.symbol for o in venue.open_orders(SUB)] == ["ETHUSDT"]
