"""Making an account flat on the venue: read it, plan (`flatten_plan.plan`), act, read again.

One loop for every actor: the runtime sends its closes through its order manager (each one
recorded before it is sent, and through its exposure gate), the operator straight through the
classified Bybit client when a runtime cannot act. Both read the whole account (every category,
every coin, every position, whatever the engine's spec names) and derive the same order ids, so
two actors flattening one account never double a close.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.errors import FatalError, VenueError
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category
from eternal_kernel.model.instruments import Instrument

from .flatten_plan import CATEGORIES, QUOTE, AccountSnapshot, FlattenPlan, plan, spot_symbol

log = logging.getLogger(__name__)
MAX_ROUNDS = 6
SETTLE_S = 0.2
"""Pause after sending closes before the account is read again (market orders fill at once)."""

Instruments = dict[tuple[str, Category], Instrument]


class Closer(Protocol):
    """Who sends the cancels and closes: the runtime's order manager, or the venue directly."""

    async def cancel_all(self, categories: tuple[Category, ...]) -> int: ...

    async def submit(self, request: OrderRequest, purpose: str) -> None: ...


@dataclass
class FlattenResult:
    flat: bool = False
    plan: FlattenPlan = field(default_factory=FlattenPlan)
    cancelled: int = 0
    sent: list[str] = field(default_factory=list)
    error: str | None = None
    attempts: int = 0
    """Rounds that sent closes, counted on from the earlier tries of the same purpose."""

    @property
    def residue(self) -> list[str]:
        return [str(r) for r in self.plan.residue]

    def summary(self) -> str:
        parts = [f"{self.cancelled} orders cancelled"]
        if self.sent:
            parts.append(f"sent {', '.join(self.sent)}")
        parts.append("flat" if self.flat else f"not flat: {self.plan.describe()}")
        if self.flat and self.plan.residue:
            parts.append(f"residue: {', '.join(self.residue)}")
        if self.error:
            parts.append(f"last error: {self.error}")
        return "; ".join(parts)


class Attempts:
    """The rounds that sent closes, by engine and purpose, in one actor: a flatten tried again
    for the same purpose (a halt not flat yet) goes on from there, so its closes carry ids the
    venue has not seen; the same ids would be refused as duplicates of closes that did not
    fill, and nothing would be sent. Every actor's first try starts at 0, so the runtime and the
    operator flattening at once still send the same first closes. Forgotten once flat."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], int] = {}

    def first(self, engine: str, purpose: str) -> int:
        return self._made.get((engine, purpose), 0)

    def record(self, engine: str, purpose: str, result: FlattenResult) -> None:
        if result.flat:
            self._made.pop((engine, purpose), None)
        else:
            self._made[(engine, purpose)] = result.attempts


async def snapshot(venue: BybitDomainClient, instruments: Instruments) -> AccountSnapshot:
    """The whole account now. `instruments` is a cache of markets, filled in as coins and
    positions need one. Reads that do not depend on each other go together: when the cache
    already knows a spot market (the runtime's holds its own markets), the spot prices are read
    with the account, for such an account likely holds coins and their sale then waits one round
    trip less; otherwise they are read once coins are found, with the markets those need."""

    async def open_orders() -> dict[Category, int]:
        counts = await asyncio.gather(*(venue.open_orders(c) for c in CATEGORIES))
        return {c: len(listed) for c, listed in zip(CATEGORIES, counts, strict=True)}

    async def early_prices() -> dict[str, Decimal] | None:
        known_spot = any(category is Category.SPOT for _, category in instruments)
        return await venue.last_prices(Category.SPOT) if known_spot else None

    counts, held, wallet, early = await asyncio.gather(
        open_orders(), venue.positions(), venue.wallet(), early_prices()
    )
    positions = [p for p in held if p.size > 0]
    coins = {c: b for c, b in wallet.coins.items() if c != QUOTE and b.wallet_balance > 0}
    wanted = {(spot_symbol(c), Category.SPOT) for c in coins}
    wanted |= {(p.symbol, Category.LINEAR) for p in positions}

    async def markets(category: Category) -> None:
        missing = sorted(s for s, c in wanted if c is category and (s, c) not in instruments)
        if missing:
            found = await venue.instruments(category, missing)
            instruments.update({(s, category): inst for s, inst in found.items()})

    async def last_prices() -> dict[str, Decimal]:
        if early is not None:
            return early
        return await venue.last_prices(Category.SPOT) if coins else {}

    _, _, everything = await asyncio.gather(
        markets(Category.SPOT), markets(Category.LINEAR), last_prices()
    )
    prices = {s: everything[s] for s, c in wanted if c is Category.SPOT and s in everything}
    return AccountSnapshot(
        open_orders=counts,
        positions=positions,
        coins=coins,
        instruments={k: v for k, v in instruments.items() if k in wanted},
        prices=prices,
    )


async def flatten_account(
    venue: BybitDomainClient,
    closer: Closer,
    *,
    engine: str,
    purpose: str,
    directional_only: bool = False,
    instruments: Instruments | None = None,
    rounds: int = MAX_ROUNDS,
    attempts: Attempts | None = None,
) -> FlattenResult:
    """Cancel, close and sell until the venue shows the account flat (or `rounds` run out).

    The first round cancels every open order before it reads anything (a cancel and a close:
    the least a halt can do). Venue errors are retried on the next round (the account is read
    again first); keys the venue refuses (FatalError) end it at once: nothing more can be done
    with them. `attempts` carries the count of rounds that sent closes from one try of a
    purpose to the next (`Attempts`)."""
    cache: Instruments = instruments if instruments is not None else {}
    result = FlattenResult(attempts=attempts.first(engine, purpose) if attempts else 0)
    try:
        return await _flatten(venue, closer, engine, purpose, directional_only, cache, rounds,
                              result)  # fmt: skip
    finally:
        if attempts is not None:
            attempts.record(engine, purpose, result)


async def _flatten(
    venue: BybitDomainClient,
    closer: Closer,
    engine: str,
    purpose: str,
    directional_only: bool,
    cache: Instruments,
    rounds: int,
    result: FlattenResult,
) -> FlattenResult:
    cancelled_first = False
    for round_ in range(rounds):
        try:
            if not cancelled_first:
                result.cancelled += await closer.cancel_all(CATEGORIES)
                cancelled_first = True
            state = await snapshot(venue, cache)
            result.plan = plan(
                state,
                engine=engine,
                purpose=purpose,
                directional_only=directional_only,
                attempt=result.attempts,
            )
            if result.plan.flat:
                result.flat = True
                return result
            log.info("flatten %s: %s", purpose, result.plan.describe())
            if result.plan.cancel:
                result.cancelled += await closer.cancel_all(result.plan.cancel)
                continue  # locked coins are free now: plan again from the venue's word
            result.attempts += 1  # the first closes of every actor carry attempt 0: same ids
            orders = result.plan.orders
            sent = await asyncio.gather(
                *(closer.submit(o, purpose) for o in orders), return_exceptions=True
            )
            result.sent += [f"{o.side.value} {o.qty} {o.symbol}"
                            for o, r in zip(orders, sent, strict=True) if r is None]  # fmt: skip
            failed = next((r for r in sent if isinstance(r, BaseException)), None)
            if failed is not None:
                raise failed
        except FatalError:
            raise
        except VenueError as error:
            result.error = str(error)
            log.warning("flatten %s round %d: %s", purpose, round_, error)
            await asyncio.sleep(0.5 * (round_ + 1))
            continue
        await asyncio.sleep(SETTLE_S)
    return result


class VenueCloser:
    """Closes straight through the classified client: the operator's hands on an account."""

    def __init__(self, venue: BybitDomainClient) -> None:
        self.venue = venue

    async def cancel_all(self, categories: tuple[Category, ...]) -> int:
        return await self.venue.cancel_all(categories)

    async def submit(self, request: OrderRequest, purpose: str) -> None:
        await self.venue.submit(request)
