"""Orders and executions: create, amend, cancel, cancel-all, realtime, history, executions,
and the disconnect-cancel-all (DCP) window."""

from __future__ import annotations

import re

from paper_venue.errors import params_error
from paper_venue.instruments import Category
from paper_venue.matching.orders import Order
from paper_venue.params import Params
from paper_venue.router import trading
from paper_venue.router.gateway import Ctx, Endpoint
from paper_venue.router.rest.common import (
    DAY_MS,
    listed_category,
    page,
    req_category,
    time_window,
    unlisted_symbol,
)

ORDER_STATUSES = (
    "New",
    "PartiallyFilled",
    "Untriggered",
    "Rejected",
    "PartiallyFilledCanceled",
    "Filled",
    "Cancelled",
    "Triggered",
    "Deactivated",
)
EXEC_TYPES = (
    "Trade",
    "AdlTrade",
    "Funding",
    "BustTrade",
    "Delivery",
    "Settle",
    "BlockTrade",
    "MovePosition",
    "FutureSpread",
    "CorporateAction",
)
LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
UNMODELLED = (
    "triggerPrice",
    "triggerDirection",
    "triggerBy",
    "takeProfit",
    "stopLoss",
    "tpTriggerBy",
    "slTriggerBy",
    "tpLimitPrice",
    "slLimitPrice",
    "tpOrderType",
    "slOrderType",
    "orderIv",
)


def _link_id(p: Params) -> str | None:
    link = p.string("orderLinkId")
    if link is not None and not LINK_ID.match(link):
        raise params_error("orderLinkId invalid")
    return link


def create(ctx: Ctx, p: Params) -> object:
    cat = req_category(p)
    symbol = p.req_string("symbol")
    side = p.req_string("side", choices=("Buy", "Sell"))
    order_type = p.req_string("orderType", choices=("Market", "Limit"))
    qty = p.req_decimal("qty")
    price = p.decimal("price")
    tif = p.string("timeInForce", choices=("GTC", "IOC", "FOK", "PostOnly")) or "GTC"
    link = _link_id(p) or ""
    reduce_only = p.boolean("reduceOnly")
    close_on_trigger = p.boolean("closeOnTrigger")
    position_idx = p.integer("positionIdx", default=0)
    is_leverage = p.integer("isLeverage", default=0)
    market_unit = p.string("marketUnit", choices=("baseCoin", "quoteCoin")) or ""
    p.string("orderFilter", choices=("Order",))
    p.string("smpType", choices=("None", "CancelMaker", "CancelTaker", "CancelBoth"))
    p.accept(
        "tpslMode", "mmp", "bboSideType", "bboLevel", "slippageToleranceType", "slippageTolerance"
    )
    p.refuse(*UNMODELLED)
    p.done()
    if position_idx != 0:
        raise params_error("position idx not match position mode")
    if is_leverage not in (0, None):
        raise params_error("isLeverage is not supported by the paper venue")
    if order_type == "Market":
        price = None
    order = trading.place_order(
        ctx.venue,
        ctx.uid,
        trading.PlaceOrder(
            cat,
            symbol,
            side,
            order_type,
            qty,
            price,
            tif,
            link,
            reduce_only,
            close_on_trigger,
            market_unit,
        ),
    )
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def _target(p: Params) -> tuple[str | None, str | None]:
    order_id = p.string("orderId")
    link = p.string("orderLinkId")
    if not order_id and not link:
        raise params_error("orderId or orderLinkId is required")
    return order_id, link


def amend(ctx: Ctx, p: Params) -> object:
    cat = req_category(p)
    symbol = p.req_string("symbol")
    order_id, link = _target(p)
    qty = p.decimal("qty")
    price = p.decimal("price")
    p.refuse(*UNMODELLED)
    p.done()
    if qty is None and price is None:
        raise params_error("qty or price is required")
    order = trading.amend_order(ctx.venue, ctx.uid, cat, symbol, order_id, link, qty, price)
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def cancel(ctx: Ctx, p: Params) -> object:
    cat = req_category(p)
    symbol = p.req_string("symbol")
    order_id, link = _target(p)
    p.string("orderFilter", choices=("Order",))
    p.done()
    order = trading.cancel_order(ctx.venue, ctx.uid, cat, symbol, order_id, link)
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def cancel_all(ctx: Ctx, p: Params) -> object:
    cat = req_category(p)
    symbol = p.string("symbol")
    base = p.string("baseCoin")
    settle = p.string("settleCoin")
    p.string("orderFilter", choices=("Order",))
    p.accept("stopOrderType")
    p.done()
    if cat is Category.LINEAR and not (symbol or base or settle):
        raise params_error("symbol or settleCoin or baseCoin is required")
    if symbol:
        ctx.venue.instrument(cat, symbol)
    done = trading.cancel_all(ctx.venue, ctx.uid, cat, symbol, base_coin=base)
    return {
        "list": [{"orderId": o.order_id, "orderLinkId": o.order_link_id} for o in done],
        "success": "1",
    }


def _filtered(orders: list[Order], cat: Category, p: Params) -> list[Order]:
    symbol = p.string("symbol")
    base = p.string("baseCoin")
    settle = p.string("settleCoin")
    order_id = p.string("orderId")
    link = p.string("orderLinkId")
    p.string("orderFilter", choices=("Order", "StopOrder", "tpslOrder", "OcoOrder"))
    out = [o for o in orders if o.inst.category is cat]
    if order_id:
        return [o for o in out if o.order_id == order_id]
    if link:
        return [o for o in out if o.order_link_id == link]
    if symbol:
        out = [o for o in out if o.inst.symbol == symbol]
    if base:
        out = [o for o in out if o.inst.base == base]
    if settle:
        out = [o for o in out if o.inst.quote == settle]
    return out


def _unlisted(p: Params, default: int, high: int) -> dict[str, object]:
    """An order or execution list in a category the venue lists nothing in: empty."""
    for name in ("orderId", "orderLinkId", "baseCoin", "settleCoin", "orderFilter", "cursor"):
        p.string(name)
    unlisted_symbol(p.string("symbol"))
    p.integer("limit", default=default, low=1, high=high)
    return {"list": [], "nextPageCursor": "", "category": p.req_string("category")}


def realtime(ctx: Ctx, p: Params) -> object:
    listed = listed_category(p)
    open_only = p.integer("openOnly", default=0, low=0, high=2)
    if listed is None:
        out = _unlisted(p, 20, 50)
        p.done()
        return out
    cat = listed
    venue = ctx.venue
    by_id = p.string("orderId") or p.string("orderLinkId")
    if cat is Category.LINEAR and not (
        by_id or p.string("symbol") or p.string("baseCoin") or p.string("settleCoin")
    ):
        raise params_error("symbol or settleCoin or baseCoin is required")
    candidates = list(venue.open_orders(ctx.uid))
    if p.string("orderId") or p.string("orderLinkId") or open_only:
        candidates += list(venue.closed.get(ctx.uid, []))
    orders = _filtered(candidates, cat, p)
    if not (p.string("orderId") or p.string("orderLinkId")) and not open_only:
        orders = [o for o in orders if o.status.is_open]
    orders.sort(key=lambda o: o.created_ms, reverse=True)
    rows, cursor = page([o.to_wire() for o in orders], p, 20, 50)
    p.done()
    return {"list": rows, "nextPageCursor": cursor, "category": cat.value}


def history(ctx: Ctx, p: Params) -> object:
    listed = listed_category(p)
    venue = ctx.venue
    start, end = time_window(p, venue.clock.now_ms(), 7 * DAY_MS)
    status = p.string("orderStatus", choices=ORDER_STATUSES)
    if listed is None:
        out = _unlisted(p, 20, 50)
        p.done()
        return out
    cat = listed
    candidates = list(venue.history.get(ctx.uid, [])) + list(venue.open_orders(ctx.uid))
    orders = _filtered(candidates, cat, p)
    if status:
        orders = [o for o in orders if o.status.value == status]
    orders = [o for o in orders if start <= o.created_ms <= end]
    orders.sort(key=lambda o: o.created_ms, reverse=True)
    rows, cursor = page([o.to_wire() for o in orders], p, 20, 50)
    p.done()
    return {"list": rows, "nextPageCursor": cursor, "category": cat.value}


def executions(ctx: Ctx, p: Params) -> object:
    listed = listed_category(p)
    venue = ctx.venue
    start, end = time_window(p, venue.clock.now_ms(), 7 * DAY_MS)
    exec_type = p.string("execType", choices=EXEC_TYPES)
    # ccxt's fetchFundingHistory sends `size` (not Bybit's); Bybit ignores it, so do we.
    p.accept("size")
    if listed is None:
        out = _unlisted(p, 50, 100)
        p.done()
        return out
    cat = listed
    symbol = p.string("symbol")
    order_id = p.string("orderId")
    link = p.string("orderLinkId")
    base = p.string("baseCoin")
    settle = p.string("settleCoin")
    rows = [e for e in venue.executions.get(ctx.uid, []) if e.inst.category is cat]
    if order_id:
        rows = [e for e in rows if e.order_id == order_id]
    elif link:
        rows = [e for e in rows if e.order_link_id == link]
    else:
        if symbol:
            rows = [e for e in rows if e.inst.symbol == symbol]
        if base:
            rows = [e for e in rows if e.inst.base == base]
        if settle:
            rows = [e for e in rows if e.inst.quote == settle]
    if exec_type:
        rows = [e for e in rows if e.exec_type == exec_type]
    rows = [e for e in rows if start <= e.exec_time_ms <= end]
    items, cursor = page([e.to_wire() for e in rows], p, 50, 100)
    p.done()
    return {"nextPageCursor": cursor, "category": cat.value, "list": items}


def disconnected_cancel_all(ctx: Ctx, p: Params) -> object:
    window = p.integer("timeWindow", low=3, high=300)
    p.string("product", choices=("OPTIONS", "DERIVATIVES", "SPOT"))
    p.done()
    if window is None:
        raise params_error("timeWindow is required")
    ctx.venue.account(ctx.uid).dcp_window_s = window
    return {}


ENDPOINTS = [
    Endpoint("POST", "/v5/order/create", create, "trade"),
    Endpoint("POST", "/v5/order/amend", amend, "trade"),
    Endpoint("POST", "/v5/order/cancel", cancel, "trade"),
    Endpoint("POST", "/v5/order/cancel-all", cancel_all, "trade"),
    Endpoint("GET", "/v5/order/realtime", realtime, "read"),
    Endpoint("GET", "/v5/order/history", history, "read"),
    Endpoint("GET", "/v5/execution/list", executions, "read"),
    Endpoint("POST", "/v5/order/disconnected-cancel-all", disconnected_cancel_all, "trade"),
]
