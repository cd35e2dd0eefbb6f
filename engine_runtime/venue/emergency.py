"""Cancel everything and, if asked, close everything on one (sub)account.

Used when a runtime cannot do it itself (the operator's fallback on delete, suspend and halt).
Synchronous (pybit is): callers run it off the event loop. Every order it places carries a
deterministic orderLinkId derived from `request_id`, so running it twice places nothing twice:
Bybit answers 110072 (duplicate orderLinkId) to the repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from pybit.exceptions import InvalidRequestError

DUPLICATE_ORDER_LINK_ID = 110072
QUOTE = "USDT"


@dataclass
class FlattenReport:
    cancelled: int = 0
    closed: list[str] = field(default_factory=list)
    sold: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.cancelled} orders cancelled"]
        if self.closed:
            parts.append(f"closed {', '.join(self.closed)}")
        if self.sold:
            parts.append(f"sold {', '.join(self.sold)}")
        if self.skipped:
            parts.append(f"left dust in {', '.join(self.skipped)}")
        return "; ".join(parts)


def _link_id(request_id: str, what: str) -> str:
    return f"ee-x-{request_id}-{what}"[:36]


def _place_once(session: Any, **order: Any) -> None:
    try:
        session.place_order(**order)
    except InvalidRequestError as error:
        if error.status_code != DUPLICATE_ORDER_LINK_ID:
            raise


def cancel_all(session: Any) -> int:
    cancelled = 0
    for kwargs in ({"category": "linear", "settleCoin": QUOTE}, {"category": "spot"}):
        result = session.cancel_all_orders(**kwargs)["result"]
        cancelled += len(result.get("list") or [])
    return cancelled


def close_positions(session: Any, request_id: str, report: FlattenReport) -> None:
    positions = session.get_positions(category="linear", settleCoin=QUOTE)["result"]["list"]
    for position in positions:
        size = Decimal(position.get("size") or "0")
        if size <= 0:
            continue
        symbol = position["symbol"]
        _place_once(
            session,
            category="linear",
            symbol=symbol,
            side="Sell" if position["side"] == "Buy" else "Buy",
            orderType="Market",
            qty=str(size),
            reduceOnly=True,
            orderLinkId=_link_id(request_id, f"c{symbol}"),
        )
        report.closed.append(f"{symbol} {position['side']} {size}")


def sell_spot(session: Any, symbols: list[str], request_id: str, report: FlattenReport) -> None:
    wallet = session.get_wallet_balance(accountType="UNIFIED")["result"]["list"]
    coins = {c["coin"]: c for account in wallet for c in account.get("coin", [])}
    for symbol in symbols:
        base = symbol.removesuffix(QUOTE)
        if base == symbol or base not in coins:
            continue
        coin = coins[base]
        free = Decimal(coin.get("walletBalance") or "0") - Decimal(coin.get("locked") or "0")
        info = session.get_instruments_info(category="spot", symbol=symbol)["result"]["list"]
        lot = info[0]["lotSizeFilter"] if info else {}
        step = Decimal(lot.get("basePrecision") or "0.000001")
        qty = (free / step).to_integral_value(rounding=ROUND_DOWN) * step
        if qty <= 0 or qty < Decimal(lot.get("minOrderQty") or "0"):
            if free > 0:
                report.skipped.append(f"{base} {free}")
            continue
        _place_once(
            session,
            category="spot",
            symbol=symbol,
            side="Sell",
            orderType="Market",
            qty=str(qty),
            marketUnit="baseCoin",
            orderLinkId=_link_id(request_id, f"s{base}"),
        )
        report.sold.append(f"{qty} {base}")


def cancel_and_flatten(
    session: Any, symbols: list[str], *, flatten: bool, request_id: str
) -> FlattenReport:
    """Cancel all open orders; with `flatten`, close linear positions and sell spot holdings."""
    report = FlattenReport(cancelled=cancel_all(session))
    if flatten:
        close_positions(session, request_id, report)
        sell_spot(session, symbols, request_id, report)
    return report
