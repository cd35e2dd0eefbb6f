"""The runtime's flatten: the kernel's loop (`eternal_kernel.bybit.flatten`) with its closes sent
through the runtime's own order manager."""

from __future__ import annotations

from collections.abc import Mapping

from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.flatten import (
    MAX_ROUNDS,
    Attempts,
    FlattenResult,
    Instruments,
    flatten_account,
)
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category
from eternal_kernel.model.instruments import Instrument

from .manager import OrderManager


class ManagerCloser:
    """Closes through the runtime's order manager: each close recorded before it is sent, and
    sent through the exposure gate (closes pass it, whatever governance says)."""

    def __init__(self, manager: OrderManager) -> None:
        self.manager = manager

    async def cancel_all(self, categories: tuple[Category, ...]) -> int:
        return await self.manager.cancel_all()

    async def submit(self, request: OrderRequest, purpose: str) -> None:
        await self.manager.submit(request, intent_id=f"{purpose}:{request.symbol}", reason=purpose)


class Flattener:
    """The runtime's flatten: the whole account, through its own order manager."""

    def __init__(
        self,
        venue: BybitDomainClient,
        manager: OrderManager,
        engine: str,
        instruments: Mapping[tuple[str, Category], Instrument],
        *,
        rounds: int = MAX_ROUNDS,
    ) -> None:
        self.venue = venue
        self.closer = ManagerCloser(manager)
        self.engine = engine
        self.instruments: Instruments = dict(instruments)
        self.rounds = rounds
        self.attempts = Attempts()

    async def flatten(self, purpose: str, *, directional_only: bool = False) -> FlattenResult:
        return await flatten_account(
            self.venue,
            self.closer,
            engine=self.engine,
            purpose=purpose,
            directional_only=directional_only,
            instruments=self.instruments,
            rounds=self.rounds,
            attempts=self.attempts,
        )
