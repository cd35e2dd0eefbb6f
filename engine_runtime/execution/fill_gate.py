"""An order's final event waits for its fills: the strategy hears "filled" with the position in.

The order stream's Filled and the executions that make it come separately, in either order, and
an execution is booked (position, PostgreSQL) after it arrives. So a final order whose reported
filled quantity is more than what is booked is held: its event goes out when the bookings catch
up, or, when they do not within `wait_s`, once the caller has looked its executions up over REST
(`late`), whatever that found. While held, the order still counts as working exposure
(`held`): the books do not show its fills yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from eternal_kernel.model.identifiers import ClientOrderId

from .orders import ManagedOrder

WAIT_S = 5.0
"""How long a final event waits for the streams to deliver its executions before REST is asked."""

Announce = Callable[[ManagedOrder], None]


class FillGate:
    def __init__(self, announce: Announce, late: Announce, wait_s: float = WAIT_S) -> None:
        self._announce = announce
        self._late = late
        self.wait_s = wait_s
        self._held: dict[ClientOrderId, tuple[ManagedOrder, asyncio.TimerHandle]] = {}

    def held(self) -> list[ManagedOrder]:
        """Final on the venue, fills not booked yet, event not announced."""
        return [order for order, _ in self._held.values()]

    def final(self, order: ManagedOrder) -> None:
        """The order has reached a final state: announce it now, or once its fills are booked."""
        if not order.fills_unbooked:
            self._announce(order)
            return
        if order.client_order_id in self._held:
            return
        timer = asyncio.get_running_loop().call_later(self.wait_s, self._late, order)
        self._held[order.client_order_id] = (order, timer)

    def booked(self, order: ManagedOrder) -> None:
        """A fill of the order was booked: its event goes out if that was the last one."""
        if order.client_order_id in self._held and not order.fills_unbooked:
            self.release(order)

    def release(self, order: ManagedOrder) -> None:
        """Announce a held order now (its fills booked, or given up on after the REST lookup)."""
        held = self._held.pop(order.client_order_id, None)
        if held is None:
            return
        held[1].cancel()
        self._announce(order)
