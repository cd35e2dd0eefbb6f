"""The backtester's orders: a strategy's intent as a simulated order, and the orders the
simulation itself makes (a liquidation at the close, the flatten of a level-4 halt)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from engine_runtime.strategies.interface import Category, OrderType, Side, SubmitOrder

from .venue import SimOrder
from .views import dec

LINEAR, SPOT = Category.LINEAR, Category.SPOT


def side_of(sign: int) -> Side:
    return Side.BUY if sign > 0 else Side.SELL


def sim_order(intent: SubmitOrder) -> SimOrder:
    """The simulated order of an intent (already as governance lets it through)."""
    return SimOrder(
        intent.intent_id,
        intent.symbol,
        intent.category,
        1 if intent.side.value == "Buy" else -1,
        intent.order_type,
        float(intent.qty) if intent.qty is not None else 0.0,
        float(intent.notional) if intent.notional is not None else 0.0,
        float(intent.price) if intent.price is not None else 0.0,
        intent.post_only,
        intent.reduce_only,
        intent.reason,
    )


def liquidation_order(symbol: str, qty: float, i: int) -> SimOrder:
    """Close a perp position of ``qty`` (signed) at bar ``i``'s close, reduce-only."""
    side = -1 if qty > 0 else 1
    return SimOrder(f"liq-{symbol}-{i}", symbol, LINEAR, side, OrderType.MARKET, abs(qty), 0.0,
                    0.0, False, True, "liquidation")  # fmt: skip


def halt_orders(
    perp_qty: Mapping[str, float], spot: Mapping[str, float], now: int
) -> Iterator[SubmitOrder]:
    """Level 4: market orders that flatten every perp position and sell every spot holding."""
    for symbol, qty in perp_qty.items():
        side = Side.SELL if qty > 0 else Side.BUY
        yield _flatten(f"halt-{symbol}-perp-{now}", symbol, LINEAR, side, abs(qty))
    for symbol, qty in spot.items():
        if qty > 0:
            yield _flatten(f"halt-{symbol}-spot-{now}", symbol, SPOT, Side.SELL, qty)


def _flatten(iid: str, symbol: str, category: Category, side: Side, qty: float) -> SubmitOrder:
    return SubmitOrder(iid, symbol, category, side, OrderType.MARKET, qty=dec(qty, 12),
                       reduce_only=category is LINEAR, reason="halt")  # fmt: skip
