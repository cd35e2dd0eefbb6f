"""What makes an account flat: one pure function from what the venue reports to the orders that
close it, shared by the runtime (halt, close-directional, shutdown) and the operator (its
fallback when a runtime cannot act, and its check that a halted account really is flat).

Flat means the whole account, whatever the strategy's spec names: no open order in any
category, no linear position, and no coin but the quote coin that the venue would let us sell.
What cannot be sold (below the minimum quantity or order value, or with no market to sell it
on) is residue: reported with the reason, never silently left. Order ids come from
`flatten_order_id`, so two actors closing the same position for the same reason send the same
orderLinkId and the venue takes it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, flatten_order_id
from eternal_kernel.model.instruments import Instrument
from eternal_kernel.model.reports import CoinBalance, PositionStatusReport

QUOTE = "USDT"
CATEGORIES = (Category.LINEAR, Category.SPOT)
"""Every category the venues we trade on serve: cancel-all and positions cover each."""


def spot_symbol(coin: str) -> str:
    """The market a coin is sold on."""
    return f"{coin}{QUOTE}"


@dataclass(frozen=True)
class AccountSnapshot:
    """The account as the venue reports it at one moment."""

    open_orders: Mapping[Category, int]
    positions: Sequence[PositionStatusReport]
    coins: Mapping[str, CoinBalance]
    instruments: Mapping[tuple[str, Category], Instrument] = field(default_factory=dict)
    """The markets of the held coins (spot) and of the positions (linear)."""
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    """Last prices of spot markets, to tell an order below the minimum value."""


@dataclass(frozen=True)
class Residue:
    """Something the plan cannot close, and why."""

    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.what} ({self.why})"


@dataclass(frozen=True)
class FlattenPlan:
    cancel: tuple[Category, ...] = ()
    """Categories with open orders: cancel everything there first."""
    orders: tuple[OrderRequest, ...] = ()
    """Reduce-only market closes of linear positions and market sells of held coins."""
    residue: tuple[Residue, ...] = ()

    @property
    def flat(self) -> bool:
        """Nothing left to cancel or to close (residue may remain, and is reported)."""
        return not self.cancel and not self.orders

    def describe(self) -> str:
        parts = [f"open orders in {', '.join(c.value for c in self.cancel)}"] if self.cancel else []
        parts += [f"{o.side.value} {o.qty} {o.symbol} {o.category.value}" for o in self.orders]
        text = "; ".join(parts) or "flat"
        if self.residue:
            text += f"; residue: {', '.join(map(str, self.residue))}"
        return text


def plan(
    snapshot: AccountSnapshot,
    *,
    engine: str,
    purpose: str,
    directional_only: bool = False,
    attempt: int = 0,
) -> FlattenPlan:
    """The orders that make this account flat, for `purpose` (e.g. `halt:eternal:7`).

    `directional_only` (close-directional) closes the linear positions and cancels open orders
    but keeps spot holdings. Positions close with reduce-only market orders of their exact size;
    coins sell at market in base-coin units, rounded down to the market's step.
    """
    cancel = tuple(c for c in CATEGORIES if snapshot.open_orders.get(c, 0) > 0)
    orders: list[OrderRequest] = []
    residue: list[Residue] = []

    def order_id(category: Category, symbol: str, side: OrderSide, qty: Decimal) -> ClientOrderId:
        market = f"{category.value}:{symbol}:{side.value}"
        return flatten_order_id(engine, purpose, market, qty, attempt)

    for position in sorted(snapshot.positions, key=lambda p: p.symbol):
        if position.size <= 0 or position.side is None:
            continue
        side = position.side.opposite()
        link = order_id(Category.LINEAR, position.symbol, side, position.size)
        orders.append(
            OrderRequest(
                link,
                position.symbol,
                Category.LINEAR,
                side,
                OrderType.MARKET,
                position.size,
                reduce_only=True,
            )
        )
    if not directional_only:
        for coin in sorted(snapshot.coins):
            sale = _sale(snapshot, snapshot.coins[coin], residue)
            if sale is not None:
                symbol, qty = sale
                link = order_id(Category.SPOT, symbol, OrderSide.SELL, qty)
                orders.append(
                    OrderRequest(
                        link,
                        symbol,
                        Category.SPOT,
                        OrderSide.SELL,
                        OrderType.MARKET,
                        qty,
                    )
                )
    return FlattenPlan(cancel, tuple(orders), tuple(residue))


def _sale(
    snapshot: AccountSnapshot, balance: CoinBalance, residue: list[Residue]
) -> tuple[str, Decimal] | None:
    """(symbol, qty) to sell this coin's free balance, or None (noting residue when some is
    held but cannot be sold)."""
    coin = balance.coin
    if coin == QUOTE or balance.wallet_balance <= 0:
        return None
    free = max(balance.free, Decimal(0))
    symbol = spot_symbol(coin)
    inst = snapshot.instruments.get((symbol, Category.SPOT))
    if inst is None:
        residue.append(Residue(f"{balance.wallet_balance} {coin}", f"no {symbol} spot market"))
        return None
    qty = inst.round_qty(free)
    left = balance.wallet_balance - qty
    if qty <= 0 or qty < inst.min_qty:
        if free > 0:
            residue.append(
                Residue(f"{free} {coin}", f"below {symbol}'s minimum order of {inst.min_qty}")
            )
        return None
    price = snapshot.prices.get(symbol)
    if price is not None and inst.min_notional > 0 and qty * price < inst.min_notional:
        residue.append(
            Residue(f"{free} {coin}", f"below {symbol}'s minimum order value {inst.min_notional}")
        )
        return None
    if 0 < left < inst.qty_step and free == balance.wallet_balance:
        residue.append(Residue(f"{left} {coin}", f"below {symbol}'s step of {inst.qty_step}"))
    return symbol, qty
