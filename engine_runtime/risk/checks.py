"""Pre-trade risk checks on every order intent, with the reason recorded when one refuses.

Exits (reduce-only, or an order that only shrinks a position) always pass but for a halt's own
bookkeeping: a runtime must be able to get flat. Entries pass, in order: emergency stop and
governance (halt, entries paused), daily and weekly loss from the period's opening equity,
minimum signal confidence, duplicate position (a linear position already open in that
direction, or an entry order already working on the symbol: open, or filled but with its fills
not booked into the position yet), max concurrent positions, max position size as a fraction of
equity, and leverage (linear notional over equity).

A strategy that layers its entries by design (the grid: several resting levels on one side,
adding to a position level by level) declares ``layered_entries = True``; the duplicate-position
check does not apply to its orders, every other check does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine_runtime.execution.orders import ManagedOrder
from engine_runtime.portfolio.positions import Position
from eternal_kernel.api.v1alpha1.engine import RiskLimits
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide

ZERO = Decimal(0)
PositionKey = tuple[str, Category]


@dataclass(frozen=True, slots=True)
class RiskDecision:
    ok: bool
    check: str = ""
    reason: str = ""


PASS = RiskDecision(True)


@dataclass(frozen=True)
class RiskState:
    equity: Decimal
    day_start_equity: Decimal | None
    week_start_equity: Decimal | None
    positions: Mapping[PositionKey, Position]
    marks: Mapping[str, Decimal]
    open_orders: Sequence[ManagedOrder]
    """Working orders: open, or final on the venue with fills the positions do not show yet."""
    emergency_stop: str | None = None
    halted: bool = False
    entries_paused: bool = False


def increases_exposure(order: OrderRequest) -> bool:
    """Whether an order could add exposure, whatever the account holds when it arrives: every
    linear order but a reduce-only one, and every spot buy. A spot sell only sells what the
    account holds (the runtime never turns on spot margin trading, so it cannot borrow to sell).
    While a halt is in force, only orders for which this is False may leave the runtime."""
    if order.category is Category.SPOT:
        return order.side is OrderSide.BUY
    return not order.reduce_only


def exits(*, buy: bool, qty: Decimal, quote: bool, reduce_only: bool, position: Decimal) -> bool:
    """Whether an order is an exit: reduce-only, or against the signed ``position`` and no
    larger than it (a quote-sized order against a position counts: its base size is known only
    at the fill). Exits pass the checks, and governance never scales them
    (``governance.admission``); the live runner and the backtester both ask here."""
    if reduce_only:
        return True
    if position == 0 or (position > 0) is buy:
        return False
    return quote or qty <= abs(position)


def is_exit(order: OrderRequest, position: Position | None) -> bool:
    return exits(
        buy=order.side is OrderSide.BUY,
        qty=order.qty,
        quote=order.quote_qty,
        reduce_only=order.reduce_only,
        position=position.qty if position is not None else ZERO,
    )


def _loss(start: Decimal | None, equity: Decimal) -> Decimal:
    if start is None or start <= 0:
        return ZERO
    return max(ZERO, (start - equity) / start)


def check_order(
    order: OrderRequest,
    state: RiskState,
    limits: RiskLimits,
    *,
    confidence: Decimal | None = None,
    reference_price: Decimal | None = None,
    layered: bool = False,
) -> RiskDecision:
    """Whether `order` may be sent; the first failing check names itself and why."""
    key = (order.symbol, order.category)
    position = state.positions.get(key)
    if is_exit(order, position):
        return PASS
    if state.emergency_stop:
        return RiskDecision(False, "emergency_stop", f"emergency stop: {state.emergency_stop}")
    if state.halted:
        return RiskDecision(False, "governance_halt", "governance halt in force")
    if state.entries_paused:
        return RiskDecision(False, "entries_paused", "governance paused entries")
    daily = _loss(state.day_start_equity, state.equity)
    if daily >= limits.daily_loss_limit:
        return RiskDecision(
            False, "daily_loss", f"day loss {daily:.4f} >= limit {limits.daily_loss_limit}"
        )
    weekly = _loss(state.week_start_equity, state.equity)
    if weekly >= limits.weekly_loss_limit:
        return RiskDecision(
            False, "weekly_loss", f"week loss {weekly:.4f} >= limit {limits.weekly_loss_limit}"
        )
    if confidence is not None and confidence < limits.min_signal_confidence:
        return RiskDecision(
            False,
            "min_confidence",
            f"confidence {confidence} < minimum {limits.min_signal_confidence}",
        )
    duplicate = _duplicate(order, state, position) if not layered else None
    if duplicate is not None:
        return duplicate
    open_count = sum(1 for p in state.positions.values() if not p.is_flat)
    if (position is None or position.is_flat) and open_count >= limits.max_concurrent_positions:
        return RiskDecision(
            False,
            "max_concurrent_positions",
            f"{open_count} positions open, limit {limits.max_concurrent_positions}",
        )
    price = order.price or reference_price or state.marks.get(order.symbol)
    if state.equity <= 0:
        return RiskDecision(False, "max_position_size", "no equity")
    if price is None and not order.quote_qty:
        return RiskDecision(False, "max_position_size", f"no price for {order.symbol}")
    added = order.qty if order.quote_qty else order.qty * (price or ZERO)
    current = position.notional(state.marks.get(order.symbol)) if position else ZERO
    fraction = (current + added) / state.equity
    if fraction > limits.max_position_fraction:
        return RiskDecision(
            False,
            "max_position_size",
            f"{order.symbol} notional {current + added:.2f} is {fraction:.4f} of equity, "
            f"limit {limits.max_position_fraction}",
        )
    if order.category is Category.LINEAR:
        linear = sum(
            (
                p.notional(state.marks.get(p.symbol))
                for k, p in state.positions.items()
                if k[1] is Category.LINEAR
            ),
            ZERO,
        )
        leverage = (linear + added) / state.equity
        if leverage > limits.max_leverage:
            return RiskDecision(
                False, "leverage", f"leverage {leverage:.2f} > limit {limits.max_leverage}"
            )
    return PASS


def _duplicate(
    order: OrderRequest, state: RiskState, position: Position | None
) -> RiskDecision | None:
    if order.category is Category.LINEAR and position is not None and position.side is order.side:
        return RiskDecision(
            False, "duplicate_position", f"{order.symbol} {order.side} already open"
        )
    for working in state.open_orders:
        if (
            working.symbol == order.symbol
            and working.category is order.category
            and working.side is order.side
            and not working.reduce_only
            and working.client_order_id != order.client_order_id
        ):
            return RiskDecision(
                False, "duplicate_position", f"entry {working.client_order_id} already working"
            )
    return None
