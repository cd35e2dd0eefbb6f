"""Market data: kline, tickers, order book, instruments, funding history, server time."""

from __future__ import annotations

from paper_venue.clock import Clock
from paper_venue.decimals import ZERO, fmt, fmt_plain
from paper_venue.errors import params_error
from paper_venue.instruments import Category, Instrument, instrument_info
from paper_venue.params import Params
from paper_venue.router.gateway import Ctx, Endpoint
from paper_venue.router.market import INTERVALS
from paper_venue.router.rest.common import (
    category,
    listed_category,
    page,
    req_category,
    unlisted_symbol,
)
from paper_venue.router.venue import Venue


def kline(ctx: Ctx, p: Params) -> object:
    cat = category(p, required=False) or Category.LINEAR
    symbol = p.req_string("symbol")
    interval = p.req_string("interval", choices=INTERVALS)
    start = p.integer("start", low=0)
    end = p.integer("end", low=0)
    limit = p.integer("limit", default=200, low=1, high=1000)
    p.done()
    inst = ctx.venue.instrument(cat, symbol)
    assert limit is not None
    bars = ctx.venue.market.klines(symbol, interval, start, end, limit)
    pd = inst.price_decimals
    return {
        "category": cat.value,
        "symbol": symbol,
        "list": [
            [
                str(b.start_ms),
                fmt(b.open, pd),
                fmt(b.high, pd),
                fmt(b.low, pd),
                fmt(b.close, pd),
                fmt_plain(b.volume),
                fmt_plain(b.turnover),
            ]
            for b in bars
        ],
    }


def ticker_row(venue: Venue, inst: Instrument) -> dict[str, object]:
    """One ticker, in the shape of /v5/market/tickers for the instrument's category."""
    now = venue.clock.now_ms()
    st = venue.market.stats(inst.symbol, now)
    last = venue.market.price(inst.symbol)
    pd = inst.price_decimals
    bids = venue.book.side_levels(inst, "b", 1)
    asks = venue.book.side_levels(inst, "a", 1)
    pcnt = (last - st["prev24h"]) / st["prev24h"] if st["prev24h"] else ZERO
    row: dict[str, object] = {
        "symbol": inst.symbol,
        "bid1Price": fmt(bids[0][0], pd) if bids else "",
        "bid1Size": fmt_plain(bids[0][1]) if bids else "",
        "ask1Price": fmt(asks[0][0], pd) if asks else "",
        "ask1Size": fmt_plain(asks[0][1]) if asks else "",
        "lastPrice": fmt(last, pd),
        "prevPrice24h": fmt(st["prev24h"], pd),
        "price24hPcnt": fmt(pcnt, 4) if pcnt else "0",
        "highPrice24h": fmt(st["high"], pd),
        "lowPrice24h": fmt(st["low"], pd),
        "turnover24h": fmt(st["turnover"], 4),
        "volume24h": fmt(st["volume"], inst.qty_decimals),
    }
    if inst.category is Category.SPOT:
        row["usdIndexPrice"] = fmt(last, pd)
        return row
    row.update(
        {
            "indexPrice": fmt(last, pd),
            "markPrice": fmt(last, pd),
            "prevPrice1h": fmt(st["prev1h"], pd),
            "openInterest": "0",
            "openInterestValue": "0.00",
            "fundingRate": fmt_plain(venue.funding_rate(inst.symbol)),
            "nextFundingTime": str(venue.next_funding_ms),
            "fundingIntervalHour": str(venue.settings.funding.interval_hours),
            "fundingCap": str(inst.funding_cap),
            "predictedDeliveryPrice": "",
            "basisRate": "",
            "deliveryFeeRate": "",
            "deliveryTime": "0",
            "basis": "",
            "basisRateYear": "",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
        }
    )
    return row


def tickers(ctx: Ctx, p: Params) -> object:
    cat = listed_category(p)
    symbol = p.string("symbol")
    p.accept("baseCoin", "expDate")
    p.done()
    if cat is None:
        unlisted_symbol(symbol)
        return {"category": p.req_string("category"), "list": []}
    venue = ctx.venue
    if symbol:
        insts = [venue.instrument(cat, symbol)]
    else:
        insts = [i for (c, _), i in venue.instruments.items() if c is cat]
    return {"category": cat.value, "list": [ticker_row(venue, i) for i in insts]}


def book_snapshot(venue: Venue, inst: Instrument, depth: int) -> dict[str, list[list[str]]]:
    """Synthetic liquidity plus resting orders, best first, as [price, size] strings."""
    pd = inst.price_decimals
    sides: dict[str, list[list[str]]] = {}
    for side in ("b", "a"):
        levels = dict(venue.book.side_levels(inst, side, depth))
        for order in venue.resting(inst.category, inst.symbol):
            if order.price is not None and (side == "b") == order.is_buy:
                levels[order.price] = levels.get(order.price, 0) + order.leaves_qty
        ordered = sorted(levels.items(), reverse=(side == "b"))[:depth]
        sides[side] = [[fmt(px, pd), fmt_plain(q)] for px, q in ordered]
    return sides


def orderbook(ctx: Ctx, p: Params) -> object:
    cat = req_category(p)
    symbol = p.req_string("symbol")
    # Bybit: spot [1, 1000] default 1; linear [1, 1000] default 25 (option [1, 25]).
    limit = p.integer("limit", default=1 if cat is Category.SPOT else 25, low=1, high=1000)
    p.done()
    venue = ctx.venue
    inst = venue.instrument(cat, symbol)
    assert limit is not None
    now = venue.clock.now_ms()
    seq = venue.next_seq()
    sides = book_snapshot(venue, inst, limit)
    return {
        "s": inst.symbol,
        "b": sides["b"],
        "a": sides["a"],
        "ts": now,
        "u": seq,
        "seq": seq,
        "cts": now,
    }


def instruments_info(ctx: Ctx, p: Params) -> object:
    cat = listed_category(p)
    symbol = p.string("symbol")
    status = p.string("status", choices=("PreLaunch", "Trading", "Delivering", "Closed"))
    base = p.string("baseCoin")
    if cat is None:
        p.accept("limit", "cursor")
        p.done()
        return {"category": p.req_string("category"), "list": [], "nextPageCursor": ""}
    venue = ctx.venue
    insts = [
        i
        for (c, s), i in venue.instruments.items()
        if c is cat
        and (not symbol or s == symbol)
        and (not base or i.base == base)
        and status in (None, "Trading")
    ]
    if symbol and not insts:
        venue.instrument(cat, symbol)
    minutes = venue.settings.funding.interval_hours * 60
    rows = [instrument_info(i, venue.started_ms, minutes) for i in insts]
    items, cursor = page(rows, p, 500, 1000)
    p.done()
    return {"category": cat.value, "list": items, "nextPageCursor": cursor}


def funding_history(ctx: Ctx, p: Params) -> object:
    cat = req_category(p)
    symbol = p.req_string("symbol")
    start = p.integer("startTime", low=0)
    end = p.integer("endTime", low=0)
    limit = p.integer("limit", default=200, low=1, high=200)
    p.done()
    if cat is not Category.LINEAR:
        raise params_error("category only support linear or inverse")
    ctx.venue.instrument(cat, symbol)
    rows = [
        {"symbol": symbol, "fundingRate": fmt_plain(rate), "fundingRateTimestamp": str(ts)}
        for ts, rate in reversed(ctx.venue.funding_history[symbol])
        if (start is None or ts >= start) and (end is None or ts <= end)
    ]
    assert limit is not None
    return {"category": cat.value, "list": rows[:limit]}


def recent_trades(ctx: Ctx, p: Params) -> object:
    cat = listed_category(p)
    symbol = p.string("symbol")
    p.string("optionType", choices=("Call", "Put"))
    p.accept("baseCoin")
    high, default = (60, 60) if cat is Category.SPOT else (1000, 500)
    limit = p.integer("limit", default=default, low=1, high=high)
    p.done()
    name = p.req_string("category")
    if cat is None:
        if name != "option" and not symbol:
            raise params_error("symbol is required")
        unlisted_symbol(symbol)
        return {"category": name, "list": []}
    if not symbol:
        raise params_error("symbol is required")
    inst = ctx.venue.instrument(cat, symbol)
    assert limit is not None
    pd, qd = inst.price_decimals, inst.qty_decimals
    return {
        "category": cat.value,
        "list": [
            {
                "execId": t.exec_id,
                "symbol": inst.symbol,
                "price": fmt(t.price, pd),
                "size": fmt(t.qty, qd),
                "side": t.side,
                "time": str(t.time_ms),
                "isBlockTrade": False,
                "isRPITrade": False,
                "seq": str(t.seq),
            }
            for t in ctx.venue.recent_trades.latest(cat, inst.symbol, limit)
        ],
    }


def server_time(ctx: Ctx, p: Params) -> object:
    p.done()
    now = Clock.wall_ms()  # the reference for request timestamps, whatever the market clock
    return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}


ENDPOINTS = [
    Endpoint("GET", "/v5/market/kline", kline, "public"),
    Endpoint("GET", "/v5/market/tickers", tickers, "public"),
    Endpoint("GET", "/v5/market/orderbook", orderbook, "public"),
    Endpoint("GET", "/v5/market/instruments-info", instruments_info, "public"),
    Endpoint("GET", "/v5/market/funding/history", funding_history, "public"),
    Endpoint("GET", "/v5/market/recent-trade", recent_trades, "public"),
    Endpoint("GET", "/v5/market/time", server_time, "public"),
]
