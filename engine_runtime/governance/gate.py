"""The last check before an order leaves the runtime: nothing that can add exposure goes out
while a halt is in force, or while the runtime cannot vouch for what governance says.

It runs right before every attempt to send (retries included) and before every amend, after
the strategy and the risk checks, so whatever queued an order (a bar, a replayed decision, a
resend after a crash, a task that was frozen mid-flight) meets it at the moment of sending.
Closing orders (`increases_exposure` is False) always pass: a halted runtime must get flat.

Governance is *confirmed as of* a time: the newest moment the runtime knows the API server's
state of its Engine for (a version of the Engine that carries its own heartbeat, or a read or
write it made). A watch event delivered late, after a freeze, carries an old heartbeat and
confirms nothing new. Past `lease_s` without confirmation, the gate reads the Engine and the
policies itself before it lets an order add exposure; if the API server does not answer, the
order is refused: a runtime that cannot hear a halt does not open positions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from engine_runtime.risk.checks import increases_exposure
from eternal_kernel.bybit.errors import OrderRefused
from eternal_kernel.model.commands import OrderRequest

from .obedience import Governor

log = logging.getLogger(__name__)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ExposureGate:
    def __init__(
        self,
        governor: Governor,
        *,
        confirm: Callable[[], Awaitable[None]] | None,
        lease_s: float,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.governor = governor
        self.confirm = confirm
        self.lease_ms = int(lease_s * 1000)
        self.clock = clock
        self.refused = 0
        self._confirming: asyncio.Task[None] | None = None

    def _refusal(self) -> str | None:
        if self.governor.halted:
            return f"halt in force ({self.governor.latch.reason()})"
        if self.governor.stopping:
            return "the runtime is stopping"
        return None

    def stale(self) -> bool:
        """Whether governance is unconfirmed for longer than the lease (always False without
        an API server to confirm it with)."""
        if self.confirm is None:
            return False
        return self.clock() - self.governor.confirmed_ms > self.lease_ms

    async def check(self, order: OrderRequest) -> None:
        """Raise OrderRefused unless `order` may leave now."""
        if not increases_exposure(order):
            return
        reason = self._refusal()
        if reason is None and self.stale():
            try:
                await self._confirm_once()
            except Exception as error:  # any failure to hear governance closes the gate
                reason = f"governance unconfirmed (the API server did not answer: {error})"
            else:
                reason = self._refusal()
                if reason is None and self.stale():
                    reason = "governance unconfirmed"
        if reason is not None:
            self.refused += 1
            log.warning(
                "order refused at the gate",
                extra={"client_order_id": order.client_order_id, "reason": reason},
            )
            raise OrderRefused(reason)

    async def _confirm_once(self) -> None:
        """One confirmation in flight at a time, however many orders wait for it."""
        assert self.confirm is not None
        if self._confirming is None or self._confirming.done():
            self._confirming = asyncio.ensure_future(self.confirm())
        await asyncio.shield(self._confirming)
