"""A fleet of Engines created at once: the operator provisions their subaccounts and keys on the
paper venue at the venue's own pace, in turn, with pybit over HTTP. Bybit's limits on the
master account (5 subaccounts and 5 keys created, 10 listings, in any rolling second) are never
made to refuse it; and a 10006 that comes all the same is waited out, not turned into a failed
Engine (as pybit's own retries did: three refusals, or a reset time already past, and the
provisioning failed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pybit.unified_trading import HTTP
from pydantic import SecretStr

from eternal_kernel.api.v1alpha1 import Engine
from eternal_operator.controllers.engine.credentials import ApiKeys
from eternal_operator.settings import OperatorSettings
from eternal_operator.venue_actions import BybitVenueActions
from paper_venue.config import DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET
from paper_venue.router.app import PaperVenue
from paper_venue.router.ratelimit import LimitState

pytestmark = pytest.mark.integration

FLEET = 12


def refusals(pv: PaperVenue) -> list[str]:
    """Every request of the venue's that its rate limits refused, by path, from now on."""
    refused: list[str] = []
    hit = pv.limiter.hit

    def counted(who: str, path: str, now_ms: int, category: str | None = None) -> Any:
        state: LimitState | None = hit(who, path, now_ms, category)
        if state is not None and not state.allowed:
            refused.append(path)
        return state

    pv.limiter.hit = counted  # type: ignore[method-assign]
    return refused


def actions(pv: PaperVenue) -> BybitVenueActions:
    return BybitVenueActions(
        OperatorSettings(
            simulator_url=pv.http_url,
            simulator_master_api_key=DEFAULT_MASTER_KEY,
            simulator_master_api_secret=SecretStr(DEFAULT_MASTER_SECRET),
        )
    )


def engine(subaccount: str) -> Engine:
    return Engine.model_validate(
        {"metadata": {"name": subaccount}, "spec": {"strategy": "core-hodl",
         "symbols": ["BTCUSDT"], "subaccount": subaccount}}
    )  # fmt: skip


async def provision(venue: BybitVenueActions, subaccount: str) -> tuple[str, ApiKeys]:
    e = engine(subaccount)
    uid = await venue.subaccount(e)
    return uid, await venue.mint_key(e, uid)


def works(pv: PaperVenue, keys: ApiKeys) -> bool:
    session = HTTP(api_key=keys.api_key, api_secret=keys.api_secret, max_retries=1)
    session.endpoint = pv.http_url
    return session.get_wallet_balance(accountType="UNIFIED")["retCode"] == 0


async def test_a_fleet_created_at_once_is_provisioned_without_a_refusal(pv: PaperVenue) -> None:
    refused = refusals(pv)
    venue = actions(pv)
    made = await asyncio.gather(*(provision(venue, f"pace{i:02d}") for i in range(FLEET)))
    assert refused == []
    assert len({uid for uid, _ in made}) == FLEET
    assert all(await asyncio.gather(*(asyncio.to_thread(works, pv, k) for _, k in made)))
    again = await venue.subaccount(engine("pace00"))  # found, not made twice
    assert again == made[0][0]


async def test_refusals_all_the_same_are_waited_out(pv: PaperVenue) -> None:
    pv.faults.rate_limit_storm = 4  # the next four requests get 10006, whatever the pace
    uid, keys = await provision(actions(pv), "stormy01")
    assert pv.faults.rate_limit_storm == 0  # all four went to this provisioning
    assert await asyncio.to_thread(works, pv, keys)
    assert uid.isdigit()
