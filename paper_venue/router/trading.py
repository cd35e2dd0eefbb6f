"""Placing, amending and cancelling orders, and matching resting ones as the price moves.

Every check runs before anything changes, so a refused request leaves no trace. Matching is
the instrument's matching engine's (`matching/engine.py`): it reports fills and finished
orders, which this module books (through `fills`) and closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from paper_venue.decimals import ZERO, is_multiple
from paper_venue.errors import BybitError, Code, params_error
from paper_venue.instruments import Category, Instrument
from paper_venue.matching.engine import CloseReport, FillReport
from paper_venue.matching.orders import ClientOrderId, Order, OrderStatus, VenueOrderId
from paper_venue.router import fills
from paper_venue.router.state import VenueState
from paper_venue.router.wallet import locked, margin

PRICE_BAND = Decimal("0.10")


@dataclass(frozen=True)
class PlaceOrder:
    """A validated order request (the REST layer has checked types and presence)."""

    category: Category
    symbol: str
    side: str
    order_type: str
    qty: Decimal
    price: Decimal | None = None
    time_in_force: str = "GTC"
    order_link_id: str = ""
    reduce_only: bool = False
    close_on_trigger: bool = False
    market_unit: str = ""


def _check_filters(inst: Instrument, qty: Decimal, price: Decimal | None, quote: bool) -> None:
    spot = inst.category is Category.SPOT
    if price is not None:
        if price <= 0:
            raise params_error("price invalid")
        if not is_multiple(price, inst.tick_size):
            if spot:
                raise BybitError(Code.SPOT_PRICE_DECIMALS)
            raise params_error(f"price must be a multiple of tickSize {inst.tick_size}")
    if qty <= 0:
        raise params_error("qty invalid") if not spot else BybitError(Code.SPOT_PARAM_INVALID)
    if quote:
        return
    if not is_multiple(qty, inst.qty_step):
        if spot:
            raise BybitError(Code.SPOT_QTY_DECIMALS)
        raise params_error(f"qty must be a multiple of qtyStep {inst.qty_step}")
    if qty < inst.min_qty:
        if spot:
            raise BybitError(Code.SPOT_QTY_LOWER)
        raise BybitError(Code.PARAMS, "The number of contracts exceeds minimum limit allowed")
    if qty > inst.max_qty:
        if spot:
            raise BybitError(Code.SPOT_QTY_UPPER)
        raise BybitError(Code.PARAMS, "The number of contracts exceeds maximum limit allowed")


def _reference_price(
    venue: VenueState, inst: Instrument, side: str, price: Decimal | None
) -> Decimal:
    if price is not None:
        return price
    return venue.book.best(inst, "a" if side == "Buy" else "b")


def place_order(
    venue: VenueState,
    uid: int,
    req: PlaceOrder,
    *,
    create_type: str = "CreateByUser",
    stop_order_type: str = "",
) -> Order:
    """Validate, accept and match one order; returns it (possibly already finished)."""
    inst = venue.instrument(req.category, req.symbol)
    acct = venue.account(uid)
    spot = inst.category is Category.SPOT
    if req.order_link_id and (uid, req.order_link_id) in venue.by_link:
        # error.mdx: the same refusal is 110072 for derivatives, 170141 for spot.
        raise BybitError(
            Code.SPOT_ORDER_LINK_ID_DUPLICATE if spot else Code.ORDER_LINK_ID_DUPLICATE
        )
    is_market = req.order_type == "Market"
    if not is_market and req.price is None:
        raise params_error("price is required for a Limit order")
    price = None if is_market else req.price
    quote_unit = spot and is_market and req.side == "Buy" and req.market_unit != "baseCoin"
    _check_filters(inst, req.qty, price, quote_unit)
    ref = _reference_price(venue, inst, req.side, price)
    notional = req.qty if quote_unit else req.qty * ref
    if notional < inst.min_notional:
        raise BybitError(Code.SPOT_VALUE_LOWER if spot else Code.MIN_NOTIONAL)
    last = venue.market.price(inst.symbol)
    outside_band = price is not None and (
        (req.side == "Buy" and price > last * (1 + PRICE_BAND))
        or (req.side == "Sell" and price < last * (1 - PRICE_BAND))
    )
    if outside_band and not spot:
        raise BybitError(Code.PRICE_OUT_OF_RANGE)
    qty = req.qty
    lock = ZERO
    if spot:
        if req.side == "Buy":
            if quote_unit:
                lock = req.qty
            elif is_market:
                fills_preview = venue.book.preview(inst, "Buy", req.qty, None)
                lock = sum((p * q for p, q in fills_preview), ZERO)
            else:
                lock = req.qty * ref
            if lock > margin(venue, acct).available:
                raise BybitError(Code.SPOT_INSUFFICIENT)
        else:
            lock = req.qty
            if acct.balance(inst.base) - locked(venue, uid, inst.base) < req.qty:
                raise BybitError(Code.SPOT_INSUFFICIENT)
    else:
        pos = acct.positions.get(inst.symbol)
        size = pos.size if pos is not None else ZERO
        closable = ZERO
        if size != 0 and (size > 0) != (req.side == "Buy"):
            closable = abs(size)
        if req.reduce_only:
            if closable == 0:
                raise BybitError(Code.REDUCE_ONLY)
            qty = min(qty, closable)
        else:
            lev = acct.leverage.get(inst.symbol, venue.default_leverage(inst))
            needed = max(ZERO, req.qty - closable) * ref / lev
            if needed > margin(venue, acct).available:
                raise BybitError(Code.AVAILABLE_INSUFFICIENT)
    now = venue.clock.now_ms()
    tif = "IOC" if is_market else req.time_in_force
    order = Order(
        order_id=VenueOrderId(venue.new_order_id(inst.category)),
        order_link_id=ClientOrderId(req.order_link_id),
        uid=uid,
        inst=inst,
        side=req.side,
        order_type=req.order_type,
        qty=qty,
        price=price,
        time_in_force=tif,
        reduce_only=req.reduce_only and not spot,
        close_on_trigger=req.close_on_trigger,
        created_ms=now,
        updated_ms=now,
        last_price_on_created=last,
        market_unit=("quoteCoin" if quote_unit else "baseCoin") if spot and is_market else "",
        locked=lock,
        quote_qty=req.qty if quote_unit else None,
        create_type=create_type,
        stop_order_type=stop_order_type,
    )
    venue.register(order)
    venue.engine(inst).match_new(order, *_reports(venue))
    fills.publish_order(venue, order)
    fills.publish_account(venue, uid, {inst.symbol} if not spot else set())
    return order


def _reports(venue: VenueState) -> tuple[FillReport, CloseReport]:
    """The matching engine's reports, bound to this venue: a fill is booked, an order closed."""

    def fill(order: Order, price: Decimal, qty: Decimal, is_maker: bool) -> None:
        fills.execute(venue, order, price, qty, is_maker=is_maker)

    def close(order: Order, reason: str, cancel_type: str, keep_status: bool) -> None:
        _close(venue, order, reason, cancel_type, keep_status=keep_status)

    return fill, close


def _close(
    venue: VenueState, order: Order, reason: str, cancel_type: str, *, keep_status: bool = False
) -> None:
    """Finish an order: Filled stays Filled; otherwise Cancelled (spot: PartiallyFilledCanceled
    when something filled). Spot holds are released."""
    if not keep_status:
        partial = order.cum_exec_qty > 0
        if order.inst.category is Category.SPOT and partial:
            order.status = OrderStatus.PARTIALLY_FILLED_CANCELED
        else:
            order.status = OrderStatus.CANCELLED
        order.reject_reason = reason
        order.cancel_type = cancel_type
    order.locked = ZERO
    order.updated_ms = venue.clock.now_ms()
    venue.finish(order)


def match_resting(venue: VenueState, inst: Instrument) -> None:
    """Fill resting orders the moved book now reaches, as maker at their own price."""

    def position_size(uid: int) -> Decimal:
        pos = venue.account(uid).positions.get(inst.symbol)
        return pos.size if pos is not None else ZERO

    touched = venue.engine(inst).match_resting(
        position_size, *_reports(venue), lambda order: fills.publish_order(venue, order)
    )
    for uid in touched:
        fills.publish_account(
            venue, uid, {inst.symbol} if inst.category is Category.LINEAR else set()
        )


def amend_order(
    venue: VenueState,
    uid: int,
    category: Category,
    symbol: str,
    order_id: str | None,
    link_id: str | None,
    qty: Decimal | None,
    price: Decimal | None,
) -> Order:
    """Change an open order's quantity and/or price, keeping its place in the venue."""
    inst = venue.instrument(category, symbol)
    order = venue.find_order(uid, order_id, link_id)
    if order is None or order.inst is not inst or not order.status.is_open:
        raise BybitError(Code.ORDER_NOT_EXISTS, "order not exists or too late to replace")
    if order.order_type == "Market" or (price is not None and order.price is None):
        raise params_error("only a resting limit order can be amended")
    new_qty = qty if qty is not None else order.qty
    new_price = price if price is not None else order.price
    if new_qty == order.qty and new_price == order.price:
        raise BybitError(
            Code.PARAMS,
            "The order remains unchanged as the parameters entered match the existing ones.",
        )
    _check_filters(inst, new_qty, new_price, quote=False)
    if new_qty <= order.cum_exec_qty:
        raise BybitError(
            Code.PARAMS,
            "The number of contracts modified cannot be less than or equal to the filled quantity",
        )
    acct = venue.account(uid)
    assert new_price is not None
    new_leaves = new_qty - order.cum_exec_qty
    if inst.category is Category.SPOT:
        new_lock = new_leaves * new_price if order.is_buy else new_leaves
        extra = new_lock - order.locked
        if order.is_buy and extra > margin(venue, acct).available:
            raise BybitError(Code.SPOT_INSUFFICIENT)
        if not order.is_buy and extra > acct.balance(inst.base) - locked(venue, uid, inst.base):
            raise BybitError(Code.SPOT_INSUFFICIENT)
        order.locked = new_lock
    elif not order.reduce_only:
        lev = acct.leverage.get(symbol, venue.default_leverage(inst))
        assert order.price is not None
        extra = (new_leaves * new_price - order.leaves_qty * order.price) / lev
        if extra > margin(venue, acct).available:
            raise BybitError(Code.AVAILABLE_INSUFFICIENT)
    order.qty = new_qty
    order.price = new_price
    order.updated_ms = venue.clock.now_ms()
    venue.engine(inst).match_amended(order, *_reports(venue))
    fills.publish_order(venue, order)
    fills.publish_account(venue, uid, {symbol} if category is Category.LINEAR else set())
    return order


def cancel_order(
    venue: VenueState,
    uid: int,
    category: Category,
    symbol: str,
    order_id: str | None,
    link_id: str | None,
) -> Order:
    """Cancel one open order."""
    inst = venue.instrument(category, symbol)
    order = venue.find_order(uid, order_id, link_id)
    if order is None or order.inst is not inst or not order.status.is_open:
        raise BybitError(Code.ORDER_NOT_EXISTS, "order not exists or too late to cancel")
    _close(venue, order, "EC_PerCancelRequest", "CancelByUser")
    fills.publish_order(venue, order)
    fills.publish_account(venue, uid, set())
    return order


def cancel_all(
    venue: VenueState,
    uid: int,
    category: Category | None,
    symbol: str | None,
    *,
    base_coin: str | None = None,
    cancel_type: str = "CancelByUser",
) -> list[Order]:
    """Cancel every open order matching the filters; returns those cancelled."""
    done = []
    for order in venue.open_orders(uid):
        if category is not None and order.inst.category is not category:
            continue
        if symbol and order.inst.symbol != symbol:
            continue
        if base_coin and order.inst.base != base_coin:
            continue
        _close(venue, order, "EC_PerCancelRequest", cancel_type)
        fills.publish_order(venue, order)
        done.append(order)
    if done:
        fills.publish_account(venue, uid, set())
    return done
