"""Booking a fill into an account: the coins a spot fill moves, the position and USDT a linear
fill changes. The matching engine reports the fill (price, quantity, fee); the ledger alone
changes balances and positions."""

from __future__ import annotations

from decimal import Decimal

from paper_venue.decimals import ZERO
from paper_venue.ledger.accounts import Account


def book_spot_fill(
    acct: Account, base: str, quote: str, *, buy: bool, qty: Decimal, value: Decimal, fee: Decimal
) -> None:
    """A spot fill of `qty` base for `value` quote; the fee is in the coin received (base on a
    buy, quote on a sell), as Bybit charges it."""
    if buy:
        acct.credit(quote, -value)
        acct.credit(base, qty - fee)
    else:
        acct.credit(base, -qty)
        acct.credit(quote, value - fee)


def book_linear_fill(
    acct: Account,
    symbol: str,
    side: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    *,
    default_leverage: Decimal,
    now_ms: int,
    seq: int,
) -> tuple[Decimal, Decimal]:
    """A linear fill into the account's one-way position: realised PnL less the fee to the USDT
    wallet and the realised figures; returns (realised PnL, size closed)."""
    pos = acct.position(symbol, default_leverage)
    was_flat = pos.size == 0
    pnl, closed = pos.apply_fill(side, qty, price)
    pos.cur_realised -= fee
    if was_flat:
        pos.created_ms = now_ms
    pos.updated_ms = now_ms
    pos.seq = seq
    acct.credit("USDT", pnl - fee)
    for key in ("USDT", f"pos:{symbol}"):
        acct.cum_realised[key] = acct.cum_realised.get(key, ZERO) + pnl - fee
    return pnl, closed
