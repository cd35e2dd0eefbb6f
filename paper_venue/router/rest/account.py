"""Account and position: wallet balance, fee rates, positions, leverage."""

from __future__ import annotations

from decimal import Decimal

from paper_venue.decimals import fmt_plain
from paper_venue.errors import BybitError, Code, params_error
from paper_venue.instruments import Category
from paper_venue.matching import arithmetic
from paper_venue.params import Params
from paper_venue.router import fills
from paper_venue.router.gateway import Ctx, Endpoint
from paper_venue.router.rest.common import (
    listed_category,
    page,
    req_category,
    unlisted_symbol,
)
from paper_venue.router.wallet import margin, position_wire, wallet_wire


def wallet_balance(ctx: Ctx, p: Params) -> object:
    account_type = p.req_string("accountType", choices=("UNIFIED", "CONTRACT", "SPOT"))
    coins = p.string("coin")
    p.done()
    if account_type != "UNIFIED":
        raise BybitError(Code.PARAMS, "accountType only support UNIFIED")
    wire = wallet_wire(ctx.venue, ctx.venue.account(ctx.uid))
    if coins:
        wanted = set(coins.split(","))
        rows = wire["coin"]
        assert isinstance(rows, list)
        wire["coin"] = [c for c in rows if c["coin"] in wanted]
    return {"list": [wire]}


UTA_2 = 5
"""unifiedMarginStatus: Unified trading account 2.0 (Bybit's enum)."""


def account_info(ctx: Ctx, p: Params) -> object:
    p.done()
    acct = ctx.venue.account(ctx.uid)
    return {
        "marginMode": "REGULAR_MARGIN",
        "updatedTime": str(acct.created_ms),
        "unifiedMarginStatus": UTA_2,
        "dcpStatus": "OFF",
        "timeWindow": 0,
        "smpGroup": 0,
        "isMasterTrader": False,
        "spotHedgingStatus": "OFF",
    }


def fee_rate(ctx: Ctx, p: Params) -> object:
    listed = listed_category(p)
    symbol = p.string("symbol")
    p.accept("baseCoin")
    p.done()
    if listed is None:
        unlisted_symbol(symbol)
        return {"category": p.req_string("category"), "list": []}
    cat = listed
    fees, spot = ctx.venue.settings.fees, cat is Category.SPOT
    maker = arithmetic.fee_rate(fees, spot=spot, maker=True)
    taker = arithmetic.fee_rate(fees, spot=spot, maker=False)
    symbols = [symbol] if symbol else ctx.venue.settings.symbols
    for s in symbols:
        ctx.venue.instrument(cat, s)
    return {
        "category": cat.value,
        "list": [
            {"symbol": s, "takerFeeRate": fmt_plain(taker), "makerFeeRate": fmt_plain(maker)}
            for s in symbols
        ],
    }


def positions(ctx: Ctx, p: Params) -> object:
    listed = listed_category(p)
    symbol = p.string("symbol")
    settle = p.string("settleCoin")
    p.accept("baseCoin", "limit", "cursor")
    p.done()
    if listed is Category.SPOT:
        raise params_error("category only support linear, inverse or option")
    if listed is None:
        unlisted_symbol(symbol)
        return {"list": [], "nextPageCursor": "", "category": p.req_string("category")}
    cat = listed
    if not symbol and not settle:
        raise params_error("symbol or settleCoin is required")
    venue = ctx.venue
    acct = venue.account(ctx.uid)
    if symbol:
        inst = venue.instrument(cat, symbol)
        rows = [
            position_wire(venue, acct, acct.position(inst.symbol, venue.default_leverage(inst)))
        ]
    else:
        rows = [position_wire(venue, acct, pos) for pos in acct.positions.values() if pos.size != 0]
    items, cursor = page(rows, p, 20, 200)
    return {"list": items, "nextPageCursor": cursor, "category": cat.value}


def set_leverage(ctx: Ctx, p: Params) -> object:
    cat = req_category(p)
    symbol = p.req_string("symbol")
    buy = p.req_decimal("buyLeverage")
    sell = p.req_decimal("sellLeverage")
    p.done()
    if cat is not Category.LINEAR:
        raise params_error("category only support linear or inverse")
    venue = ctx.venue
    inst = venue.instrument(cat, symbol)
    if buy != sell:
        raise params_error("buy leverage must equal sell leverage in one-way mode")
    if buy < 1 or buy > inst.max_leverage or buy != buy.quantize(Decimal("0.01")):
        raise params_error("leverage invalid")
    acct = venue.account(ctx.uid)
    current = acct.leverage.get(symbol, venue.default_leverage(inst))
    if buy == current:
        raise BybitError(Code.LEVERAGE_NOT_MODIFIED)
    pos = acct.position(symbol, current)
    before = pos.leverage
    acct.leverage[symbol] = buy
    pos.leverage = buy
    if margin(venue, acct).available < 0:
        acct.leverage[symbol] = current
        pos.leverage = before
        raise BybitError(Code.AVAILABLE_INSUFFICIENT)
    pos.updated_ms = venue.clock.now_ms()
    fills.publish_account(venue, ctx.uid, {symbol})
    return {}


def _stop_price(p: Params, name: str, tick: Decimal) -> Decimal | None:
    """A TP/SL price: None if absent, Decimal(0) to cancel it."""
    value = p.decimal(name)
    if value is None:
        return None
    if value < 0 or (value > 0 and value % tick != 0):
        raise params_error(f"{name} invalid")
    return value


def trading_stop(ctx: Ctx, p: Params) -> object:
    cat = req_category(p)
    symbol = p.req_string("symbol")
    mode = p.string("tpslMode", choices=("Full", "Partial")) or "Full"
    position_idx = p.integer("positionIdx", default=0)
    p.string("tpTriggerBy", choices=("LastPrice", "MarkPrice", "IndexPrice"))
    p.string("slTriggerBy", choices=("LastPrice", "MarkPrice", "IndexPrice"))
    p.refuse("trailingStop", "activePrice", "tpSize", "slSize", "tpLimitPrice", "slLimitPrice")
    p.string("tpOrderType", choices=("Market",))
    p.string("slOrderType", choices=("Market",))
    venue = ctx.venue
    if cat is not Category.LINEAR:
        raise params_error("category only support linear or inverse")
    inst = venue.instrument(cat, symbol)
    take_profit = _stop_price(p, "takeProfit", inst.tick_size)
    stop_loss = _stop_price(p, "stopLoss", inst.tick_size)
    p.done()
    if mode != "Full":
        raise params_error("tpslMode Partial is not supported by the paper venue")
    if position_idx != 0:
        raise params_error("position idx not match position mode")
    pos = venue.account(ctx.uid).positions.get(symbol)
    if pos is None or pos.size == 0:
        raise BybitError(Code.PARAMS, "can not set tp/sl/ts for zero position")
    price = venue.market.price(symbol)
    long = pos.size > 0
    if take_profit and (take_profit <= price if long else take_profit >= price):
        side = "Buy" if long else "Sell"
        raise params_error(
            f"TakeProfit:{take_profit} set for {side} position is on the wrong side of {price}"
        )
    if stop_loss and (stop_loss >= price if long else stop_loss <= price):
        side = "Buy" if long else "Sell"
        raise params_error(
            f"StopLoss:{stop_loss} set for {side} position is on the wrong side of {price}"
        )
    if take_profit is not None:
        pos.take_profit = take_profit or None
    if stop_loss is not None:
        pos.stop_loss = stop_loss or None
    pos.updated_ms = venue.clock.now_ms()
    fills.publish_account(venue, ctx.uid, {symbol})
    return {}


ENDPOINTS = [
    Endpoint("GET", "/v5/account/wallet-balance", wallet_balance, "read"),
    Endpoint("GET", "/v5/account/fee-rate", fee_rate, "read"),
    Endpoint("GET", "/v5/account/info", account_info, "read"),
    Endpoint("GET", "/v5/position/list", positions, "read"),
    Endpoint("POST", "/v5/position/set-leverage", set_leverage, "trade"),
    Endpoint("POST", "/v5/position/trading-stop", trading_stop, "trade"),
]
