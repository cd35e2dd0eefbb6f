"""Equity between wallet reads: the last read's total, moved by the prices since.

Governance needs equity that follows prices within a fraction of a second. Reading the wallet
that often costs a venue request per engine per tick. The tickers already bring every price.
So each wallet read is kept with the prices the runtime knew when it read. Until the next read,
equity is that total plus, per symbol, the quantity held times the price change:
- a spot coin: its balance, valued at `<coin>USDT`;
- a linear position: its signed size (its unrealised PnL is in the USDT equity).

The figure keeps the read's time as its own. Its balances are the read's, so a transfer after
the read is not in it: the timing contract governance counts contributions by
(docs/governance.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from eternal_kernel.model.enums import Category
from eternal_kernel.model.reports import WalletReport

from .positions import Position

ZERO = Decimal(0)

STABLE = frozenset({"USDT", "USDC"})
"""Coins the venue values at 1 USD: no price moves them."""


@dataclass(frozen=True, slots=True)
class WalletBasis:
    equity: Decimal
    """Total equity (USDT) in the read."""
    measured_ms: int
    """When it was measured: taken before the read was sent, never after."""
    exposure: Mapping[str, tuple[Decimal, Decimal]]
    """Per symbol: the quantity whose value moves with its price, and the price at the read."""


def basis(
    wallet: WalletReport,
    positions: Iterable[Position],
    prices: Mapping[str, Decimal],
    measured_ms: int,
) -> WalletBasis:
    """A wallet read with the prices known when it was made (`prices` taken before the read)."""
    quantities: dict[str, Decimal] = {}
    for coin, balance in wallet.coins.items():
        if coin not in STABLE and balance.equity:
            symbol = f"{coin}USDT"
            quantities[symbol] = quantities.get(symbol, ZERO) + balance.equity
    for position in positions:
        if position.category is Category.LINEAR and position.qty:
            quantities[position.symbol] = quantities.get(position.symbol, ZERO) + position.qty
    exposure = {
        symbol: (qty, prices[symbol])
        for symbol, qty in quantities.items()
        if qty and symbol in prices  # without a price of our own: held at the read's value
    }
    return WalletBasis(wallet.total_equity, measured_ms, exposure)


def revalue(basis: WalletBasis, prices: Mapping[str, Decimal]) -> Decimal:
    """The read's equity at today's prices."""
    equity = basis.equity
    for symbol, (qty, then) in basis.exposure.items():
        equity += qty * (prices.get(symbol, then) - then)
    return equity
