"""The order state machine: which status may follow which.

Created (persisted, not yet sent) -> Submitted (sent) -> Acknowledged (the venue has it) ->
PartiallyFilled -> Filled, or Cancelled / Rejected. Streams and REST may report out of order
or skip steps (a market order is often Filled before its acknowledgement arrives), so any
forward move is allowed, a move backwards is stale and ignored, and a final state is final.
The same status again (a resend after a crash or reconnect sets Submitted on a Submitted order,
a repeated report, an amend acknowledged again) is no move at all: it changes nothing.
"""

from __future__ import annotations

from eternal_kernel.model.enums import OrderStatus

_RANK = {
    OrderStatus.CREATED: 0,
    OrderStatus.SUBMITTED: 1,
    OrderStatus.ACKNOWLEDGED: 2,
    OrderStatus.PARTIALLY_FILLED: 3,
    OrderStatus.FILLED: 4,
    OrderStatus.CANCELLED: 4,
    OrderStatus.REJECTED: 4,
}

ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    # moves to another status; the same status again is handled by `next_status`
    OrderStatus.CREATED: frozenset(
        {
            OrderStatus.SUBMITTED,
            OrderStatus.ACKNOWLEDGED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
        }
    ),
    OrderStatus.SUBMITTED: frozenset(
        {
            OrderStatus.ACKNOWLEDGED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
        }
    ),
    OrderStatus.ACKNOWLEDGED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED}),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
}


class InvalidTransition(ValueError):
    pass


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    return new in ALLOWED[current]


def is_stale(current: OrderStatus, new: OrderStatus) -> bool:
    """A report of an earlier stage than the one we already know (arrived late): ignore it."""
    return _RANK[new] < _RANK[current] or (current.is_final and new != current)


def next_status(current: OrderStatus, new: OrderStatus) -> OrderStatus:
    """The status after a report of `new`; raises InvalidTransition for an impossible move that
    is not merely stale (none exist between the ranks, so this guards future statuses)."""
    if current == new:
        return current  # the same fact again: idempotent, final or not
    if is_stale(current, new):
        return current
    if not can_transition(current, new):
        raise InvalidTransition(f"{current} -> {new}")
    return new
