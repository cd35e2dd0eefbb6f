"""One matching engine per instrument: its resting orders, matched against the synthetic book.

The engine decides what fills (price, quantity, maker or taker) and when an order is done, and
reports each through the callbacks it is handed; it never touches an account. The router books
the fills through the ledger and publishes the events. New orders that cross take liquidity as
taker; what rests fills as maker, at its own price, when the book moves through it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from paper_venue.decimals import ZERO
from paper_venue.instruments import Instrument
from paper_venue.matching.book import SyntheticBook
from paper_venue.matching.orders import Order, OrderStatus

FillReport = Callable[[Order, Decimal, Decimal, bool], None]
"""A fill of (order, price, quantity, is_maker): the router books it and records it."""
CloseReport = Callable[[Order, str, str, bool], None]
"""An order done: (order, reject reason, cancel type, keep its status: a fill finished it)."""


class MatchingEngine:
    """The resting orders of one instrument and its matching rules."""

    def __init__(self, inst: Instrument, book: SyntheticBook) -> None:
        self.inst = inst
        self.book = book
        self.resting: dict[str, Order] = {}

    def rest(self, order: Order) -> None:
        self.resting[order.order_id] = order

    def remove(self, order: Order) -> None:
        self.resting.pop(order.order_id, None)

    def _would_take(self, order: Order) -> bool:
        """Whether a limit order's price reaches the best opposite price (it would take)."""
        if order.price is None:
            return False
        best = self.book.best(self.inst, "a" if order.is_buy else "b")
        return order.price >= best if order.is_buy else order.price <= best

    def match_new(self, order: Order, fill: FillReport, close: CloseReport) -> None:
        """Match an accepted order: PostOnly that would take is cancelled, FOK that cannot fill
        in full is cancelled, the rest takes what the book offers; IOC and market orders end
        there, GTC and PostOnly rest."""
        inst = self.inst
        book = self.book
        tif = order.time_in_force
        if tif == "PostOnly" and self._would_take(order):
            close(order, "EC_PostOnlyWillTakeLiquidity", "UNKNOWN", False)
            return
        budget = order.quote_qty
        if tif == "FOK":
            preview = book.preview(inst, order.side, order.qty, order.price)
            if sum((q for _, q in preview), ZERO) < order.qty:
                close(order, "EC_CancelForNoFullFill", "UNKNOWN", False)
                return
        taking = (
            [] if tif == "PostOnly" else book.take(inst, order.side, order.qty, order.price, budget)
        )
        for price, qty in taking:
            fill(order, price, qty, False)
        if order.quote_qty is not None:
            if order.cum_exec_qty > 0:
                order.status = OrderStatus.FILLED
                close(order, "EC_NoError", "UNKNOWN", True)
            else:
                close(order, "EC_NoImmediateQtyToFill", "UNKNOWN", False)
            return
        if order.status is OrderStatus.FILLED:
            close(order, "EC_NoError", "UNKNOWN", True)
        elif tif in ("IOC", "FOK"):
            reason = "EC_NoError" if order.cum_exec_qty > 0 else "EC_NoImmediateQtyToFill"
            close(order, reason, "UNKNOWN", False)
        else:
            self.rest(order)

    def match_amended(self, order: Order, fill: FillReport, close: CloseReport) -> None:
        """After an amend: a PostOnly order that would now take is cancelled; another takes
        what its new price reaches."""
        assert order.price is not None
        if order.time_in_force == "PostOnly":
            if self._would_take(order):
                close(order, "EC_PostOnlyWillTakeLiquidity", "UNKNOWN", False)
            return
        for price, qty in self.book.take(self.inst, order.side, order.leaves_qty, order.price):
            fill(order, price, qty, False)
        if order.status is OrderStatus.FILLED:
            close(order, "EC_NoError", "UNKNOWN", True)

    def match_resting(
        self,
        position_size: Callable[[int], Decimal],
        fill: FillReport,
        close: CloseReport,
        updated: Callable[[Order], None],
    ) -> set[int]:
        """Fill resting orders the moved book now reaches, as maker at their own price; a
        reduce-only order is clamped to the account's position (`position_size`, signed) and
        cancelled when there is none to reduce. Returns the accounts whose orders filled."""
        touched: set[int] = set()
        for order in list(self.resting.values()):
            if not order.status.is_open or order.price is None:
                continue
            leaves = order.leaves_qty
            if order.reduce_only:
                size = position_size(order.uid)
                if size == 0 or (size > 0) == order.is_buy:
                    close(order, "EC_NoError", "CancelByReduceOnly", False)
                    updated(order)
                    continue
                leaves = min(leaves, abs(size))
            taken = self.book.take(self.inst, order.side, leaves, order.price)
            qty = sum((q for _, q in taken), ZERO)
            if qty <= 0:
                continue
            fill(order, order.price, qty, True)
            if order.status is OrderStatus.FILLED:
                close(order, "EC_NoError", "UNKNOWN", True)
            updated(order)
            touched.add(order.uid)
        return touched
