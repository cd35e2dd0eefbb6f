"""Bybit V5 wire rows (REST results and private stream data) to the runtime's reports.

The only place that knows Bybit's field names and status words. Numbers arrive as strings and
become Decimal; empty strings are absent values.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, TradeId, VenueOrderId
from eternal_kernel.model.instruments import Instrument
from eternal_kernel.model.reports import (
    CoinBalance,
    FillReport,
    OrderStatusReport,
    PositionStatusReport,
    WalletReport,
)

ZERO = Decimal(0)
Row = dict[str, Any]

BYBIT_STATUS = {
    "Created": OrderStatus.SUBMITTED,
    "New": OrderStatus.ACKNOWLEDGED,
    "Untriggered": OrderStatus.ACKNOWLEDGED,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Deactivated": OrderStatus.CANCELLED,
    "Triggered": OrderStatus.ACKNOWLEDGED,
    "Rejected": OrderStatus.REJECTED,
}


def dec(value: Any, default: Decimal = ZERO) -> Decimal:
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default


def opt_dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    result = dec(value)
    return result if result != 0 else None


def order_report(row: Row, category: Category | None = None) -> OrderStatusReport:
    cat = Category(row.get("category") or category or "linear")
    return OrderStatusReport(
        client_order_id=ClientOrderId(str(row.get("orderLinkId") or "")),
        venue_order_id=VenueOrderId(str(row["orderId"])),
        symbol=str(row["symbol"]),
        category=cat,
        side=OrderSide(row["side"]),
        order_type=OrderType(row.get("orderType") or "Limit"),
        status=BYBIT_STATUS.get(str(row.get("orderStatus")), OrderStatus.ACKNOWLEDGED),
        qty=dec(row.get("qty")),
        price=opt_dec(row.get("price")),
        filled_qty=dec(row.get("cumExecQty")),
        avg_price=opt_dec(row.get("avgPrice")),
        reduce_only=bool(row.get("reduceOnly")),
        reject_reason=str(row.get("rejectReason") or ""),
        ts_event_ms=int(row.get("updatedTime") or row.get("createdTime") or 0),
    )


def fill_report(row: Row, category: Category | None = None) -> FillReport:
    return FillReport(
        trade_id=TradeId(str(row["execId"])),
        client_order_id=ClientOrderId(str(row.get("orderLinkId") or "")),
        venue_order_id=VenueOrderId(str(row["orderId"])),
        symbol=str(row["symbol"]),
        category=Category(row.get("category") or category or "linear"),
        side=OrderSide(row["side"]),
        qty=dec(row.get("execQty")),
        price=dec(row.get("execPrice")),
        fee=dec(row.get("execFee")),
        fee_currency=str(row.get("feeCurrency") or "USDT"),
        is_maker=bool(row.get("isMaker")),
        ts_event_ms=int(row.get("execTime") or 0),
    )


POSITION_EXEC_TYPES = frozenset({"Trade", "AdlTrade", "BustTrade", "BlockTrade"})
"""Bybit's execTypes that move a position: trades, auto-deleveraging, the liquidation's own fill
and block trades. Never `Funding` (a settlement: money, not a fill; NautilusTrader #4937 booked
them as trades), `Settle`, `Delivery` or anything newer we do not know."""


def is_trade(row: Row) -> bool:
    """An execution row that is a fill (moves a position), from REST or the private stream."""
    return str(row.get("execType") or "Trade") in POSITION_EXEC_TYPES


def position_report(row: Row) -> PositionStatusReport:
    size = dec(row.get("size"))
    side = row.get("side") or ""
    return PositionStatusReport(
        symbol=str(row["symbol"]),
        category=Category(row.get("category") or "linear"),
        side=OrderSide(side) if side in ("Buy", "Sell") and size > 0 else None,
        size=size,
        entry_price=dec(row.get("avgPrice")),
        mark_price=dec(row.get("markPrice")),
        unrealized_pnl=dec(row.get("unrealisedPnl")),
        leverage=dec(row.get("leverage"), Decimal(1)),
    )


def wallet_report(row: Row) -> WalletReport:
    coins = {}
    for coin in row.get("coin") or []:
        name = str(coin["coin"])
        wallet = dec(coin.get("walletBalance"))
        free = coin.get("free")
        if free in (None, ""):
            free_dec = wallet - dec(coin.get("locked")) - dec(coin.get("totalOrderIM"))
        else:
            free_dec = dec(free)
        coins[name] = CoinBalance(name, wallet, free_dec, dec(coin.get("equity"), wallet))
    return WalletReport(total_equity=dec(row.get("totalEquity")), coins=coins)


def instrument(row: Row, category: Category) -> Instrument:
    lot = row.get("lotSizeFilter") or {}
    price = row.get("priceFilter") or {}
    lev = row.get("leverageFilter") or {}
    if category is Category.SPOT:
        step = dec(lot.get("basePrecision"), Decimal("0.000001"))
        min_notional = dec(lot.get("minOrderAmt"))
    else:
        step = dec(lot.get("qtyStep"), Decimal("0.001"))
        min_notional = dec(lot.get("minNotionalValue"))
    return Instrument(
        symbol=str(row["symbol"]),
        category=category,
        base_coin=str(row.get("baseCoin") or ""),
        quote_coin=str(row.get("quoteCoin") or "USDT"),
        tick_size=dec(price.get("tickSize"), Decimal("0.01")),
        qty_step=step,
        min_qty=dec(lot.get("minOrderQty"), step),
        max_qty=dec(lot.get("maxOrderQty"), Decimal("1e12")),
        min_notional=min_notional,
        max_leverage=dec(lev.get("maxLeverage"), Decimal(1)),
    )
