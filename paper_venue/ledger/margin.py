"""Margin arithmetic of the unified account: what positions and open orders hold of its USDT.

Margin is USDT only: linear positions and orders draw on USDT equity (wallet plus unrealised
PnL); spot orders hold what they may spend (`Order.locked`). The ledger owns the figures; the
prices, maintenance rates and open orders come from the caller, so nothing here reaches into
the matching engines or the router.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from paper_venue.decimals import ZERO
from paper_venue.instruments import Category, Instrument
from paper_venue.ledger.accounts import Account
from paper_venue.matching.orders import Order


@dataclass
class Margin:
    """USDT margin figures of one account."""

    wallet: Decimal
    upnl: Decimal
    position_im: Decimal
    position_mm: Decimal
    order_im: Decimal
    spot_locked: Decimal

    @property
    def margin_balance(self) -> Decimal:
        return self.wallet + self.upnl

    @property
    def available(self) -> Decimal:
        return self.margin_balance - self.position_im - self.order_im - self.spot_locked


def spot_locked(open_orders: Iterable[Order], coin: str) -> Decimal:
    """Coin held by these open spot orders (a buy holds quote, a sell base)."""
    total = ZERO
    for order in open_orders:
        if order.inst.category is Category.SPOT:
            held_coin = order.inst.quote if order.is_buy else order.inst.base
            if held_coin == coin:
                total += order.locked
    return total


def account_margin(
    acct: Account,
    open_orders: Callable[[], Iterable[Order]],
    *,
    mark: Callable[[str], Decimal],
    maintenance_rate: Callable[[str], Decimal],
    default_leverage: Callable[[Instrument], Decimal],
) -> Margin:
    """The account's USDT margin at these mark prices: positions' initial and maintenance
    margin, open linear orders' initial margin (at their price, or the mark for a market
    order), and the USDT its open spot orders hold."""
    upnl = position_im = position_mm = order_im = ZERO
    for symbol, pos in acct.positions.items():
        if pos.size == 0:
            continue
        px = mark(symbol)
        upnl += pos.unrealised(px)
        position_im += pos.value(px) / pos.leverage
        position_mm += pos.value(px) * maintenance_rate(symbol)
    for order in open_orders():
        if order.inst.category is Category.LINEAR and not order.reduce_only:
            lev = acct.leverage.get(order.inst.symbol, default_leverage(order.inst))
            price = order.price if order.price is not None else mark(order.inst.symbol)
            order_im += order.leaves_qty * price / lev
    return Margin(
        acct.balance("USDT"),
        upnl,
        position_im,
        position_mm,
        order_im,
        spot_locked(open_orders(), "USDT"),
    )
