"""Before anything else, ask the venue whether this engine can trade there at all: every symbol
listed, the API key accepted. A runtime that cannot trade stops at once with a `StartError`
saying why (and reports it in its Engine's status), instead of retrying in a crash loop that
shows nothing but Starting."""

from __future__ import annotations

from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.errors import FatalError, RejectedError
from eternal_kernel.model.enums import Category
from eternal_kernel.model.instruments import Instrument


class StartError(Exception):
    """The runtime cannot start as configured; the message says what to fix (no secret in it)."""


async def listed_instruments(
    venue: BybitDomainClient, markets: list[tuple[str, Category]]
) -> dict[tuple[str, Category], Instrument]:
    """Every market's instrument; a StartError naming the symbols the venue does not list."""
    found: dict[tuple[str, Category], Instrument] = {}
    missing = []
    for symbol, category in markets:
        try:
            listed = await venue.instruments(category, [symbol])
        except RejectedError:  # Bybit answers an unknown symbol with an error or an empty list
            listed = {}
        if symbol in listed:
            found[(symbol, category)] = listed[symbol]
        else:
            missing.append(f"{symbol} ({category.value})")
    if missing:
        raise StartError(
            f"the venue does not list {', '.join(missing)}: spec.symbols names a market this "
            "engine cannot trade"
        )
    return found


def strategy_ready(strategy: object) -> None:
    """A StartError when the strategy says it must not trade at all (META-TREND without a
    verified model: ``start_problem()``)."""
    check = getattr(strategy, "start_problem", None)
    problem = check() if callable(check) else None
    if problem:
        raise StartError(str(problem))


async def key_accepted(venue: BybitDomainClient) -> None:
    """A signed read: a StartError when the venue refuses the key (unknown, bad signature,
    no permission, expired, wrong IP)."""
    try:
        await venue.wallet()
    except FatalError as error:
        raise StartError(f"the venue refuses the API key: {error}") from error
