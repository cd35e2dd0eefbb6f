"""The operator's own hands on the venue: provisioning paper-venue keys, and cancelling or
flattening an engine's account when its runtime cannot, through the same classified Bybit
client and the same flatten plan as the runtime (so both agree on what flat is, and on the
ids of the closes). Calls on engines' accounts share one aiohttp session (pybit signs them):
a whole fleet flattened at once is sent at once, not queued behind a few worker threads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
from pybit.exceptions import InvalidRequestError
from pybit.unified_trading import HTTP

from eternal_kernel.api.runtime_config import endpoints_for
from eternal_kernel.api.v1alpha1 import Engine
from eternal_kernel.bybit.aio import AioTransport
from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.errors import RATE_LIMIT, UnknownKeyError
from eternal_kernel.bybit.flatten import (
    Attempts,
    FlattenResult,
    VenueCloser,
    flatten_account,
)
from eternal_kernel.bybit.flatten_plan import CATEGORIES
from eternal_kernel.bybit.ratelimit import RateLimiter
from eternal_kernel.bybit.raw import BybitRawClient
from eternal_kernel.bybit.session import http_session

from .controllers.engine.credentials import ApiKeys, UnknownKey
from .controllers.engine.render import EngineRef
from .settings import OperatorSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

SUBACCOUNT_PERMISSIONS = {
    "ContractTrade": ["Order", "Position"],
    "Spot": ["SpotTrade"],
    "Wallet": ["AccountTransfer"],
}


ORDERS_PER_SECOND = 8.0
QUERIES_PER_SECOND = 40.0
"""Pacing of the operator's calls on one account, below Bybit's limits as the runtime's is."""


MASTER_LIMITS = {
    "query-api": (10, 1.0),
    "query-sub-members": (10, 1.0),
    "create-sub-member": (5, 1.0),
    "create-sub-api": (5, 1.0),
    "universal-transfer": (20, 60.0),
}
"""Bybit's limits on the master account's calls the operator makes (requests per rolling window
of seconds). Each kind is sent in turn, at most one fewer per window than the limit (a margin
for the network's jitter), counted over a window `WINDOW_MARGIN_S` longer (`Window`): a fleet
of Engines applied at once is provisioned, and a fleet's transfers are made, at this pace,
instead of refused (10006) and failed."""
WINDOW_MARGIN_S = 0.05
RATE_LIMITED_TRIES = 10
"""A master call refused with 10006 all the same waits and goes again, this many times at most."""


@dataclass
class Window:
    """At most `count` sends in any `seconds` (a rolling window, as Bybit counts)."""

    count: int
    seconds: float
    sent: deque[float] = field(default_factory=deque)
    closed_until: float = 0.0

    def wait_s(self, now: float) -> float:
        """Seconds to wait before one more may go (0: it goes now, and is counted)."""
        while self.sent and self.sent[0] <= now - self.seconds:
            self.sent.popleft()
        if now < self.closed_until:
            return self.closed_until - now
        if len(self.sent) < self.count:
            self.sent.append(now)
            return 0.0
        return self.sent[0] + self.seconds - now


def _master_pacing() -> dict[str, Window]:
    return {kind: Window(count - 1, window + WINDOW_MARGIN_S)
            for kind, (count, window) in MASTER_LIMITS.items()}  # fmt: skip


def _master_session(rest_url: str, api_key: str, api_secret: str) -> HTTP:
    """pybit's session on the master account. A 10006 is `_paced`'s to wait out, not pybit's:
    pybit sleeps a worker thread until Bybit's reset time (up to a minute, for transfers), and
    fails when that time is already past."""
    return http_session(rest_url, api_key, api_secret, retry_codes=frozenset({10002}))


class VenueActionError(Exception):
    """A venue call the operator made failed; the message is safe to show."""


@dataclass
class BybitVenueActions:
    settings: OperatorSettings
    _http: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)
    _attempts: Attempts = field(default_factory=Attempts, init=False, repr=False)
    """The closes the operator's flattens sent so far, by engine and purpose: a retry of a
    halt's flatten sends fresh ids (`eternal_kernel.bybit.flatten.Attempts`)."""
    _pacing: dict[str, Window] = field(default_factory=_master_pacing, init=False, repr=False)
    _turns: dict[str, asyncio.Lock] = field(default_factory=dict, init=False, repr=False)

    def _aio(self) -> aiohttp.ClientSession:
        """The shared session (made on the operator's event loop, at first use)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()  # at most 100 requests in flight: the rest queue
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _rest_url(self, engine: Engine) -> str:
        s = self.settings
        return endpoints_for(engine.spec.venue, s.simulator_url, s.venue_ws_url()).rest_url

    def _master(self) -> HTTP:
        master_key = self.settings.simulator_master_api_key
        master_secret = self.settings.simulator_master_api_secret
        if not master_key or not master_secret:
            raise VenueActionError(
                "no paper-venue master key: set EE_OPERATOR_SIMULATOR_MASTER_API_KEY and "
                "EE_OPERATOR_SIMULATOR_MASTER_API_SECRET, or give the Engine spec.credentials"
            )
        return _master_session(
            self.settings.simulator_url, master_key, master_secret.get_secret_value()
        )

    async def _paced(self, kind: str, call: Callable[[], T]) -> T:
        """One call on a master account, in turn and paced (`kind`: its entry in
        MASTER_LIMITS); refused with 10006 all the same, it waits out Bybit's window (at most
        10 s) and goes again."""
        window = self._pacing[kind]
        for attempt in range(1, RATE_LIMITED_TRIES + 1):
            async with self._turns.setdefault(kind, asyncio.Lock()):
                while (wait := window.wait_s(time.monotonic())) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(wait)  # the window's time passing, not an event
            try:
                return await asyncio.to_thread(call)
            except InvalidRequestError as error:
                if error.status_code != RATE_LIMIT or attempt == RATE_LIMITED_TRIES:
                    raise
                window.closed_until = time.monotonic() + min(window.seconds, 10.0)
        raise AssertionError("unreachable")

    async def subaccount(self, engine: Engine) -> str:
        """The UID of the Engine's paper-venue subaccount (named by its username, created if
        missing, or by its UID, which must exist: a UID cannot be created)."""
        session, name = self._master(), engine.spec.subaccount
        uid = await self._paced("query-sub-members", lambda: _find_subaccount(session, name))
        if uid is None and name.isdigit():
            raise VenueActionError(f"no subaccount with UID {name} under this master account")
        if uid is None:
            uid = await self._paced("create-sub-member", lambda: _create(session, name))
        return uid

    async def mint_key(self, engine: Engine, uid: str) -> ApiKeys:
        """A new read-write API key of that subaccount (simulator only)."""
        session, name = self._master(), engine.spec.subaccount
        return await self._paced("create-sub-api", lambda: _mint_key(session, uid, name))

    def _client(self, engine: Engine, keys: ApiKeys) -> BybitDomainClient:
        limiter = RateLimiter({"orders": ORDERS_PER_SECOND, "queries": QUERIES_PER_SECOND})
        url = self._rest_url(engine)
        transport = AioTransport(self._aio(), url, keys.api_key, keys.api_secret)
        raw = BybitRawClient(url, keys.api_key, keys.api_secret, limiter=limiter,
                             transport=transport)  # fmt: skip
        return BybitDomainClient(raw)

    async def flatten(
        self, engine: Engine, ref: EngineRef, keys: ApiKeys, *, purpose: str
    ) -> FlattenResult:
        """Make the whole account flat (a no-op that reads it, if it already is)."""
        venue = self._client(engine, keys)
        try:
            result = await flatten_account(
                venue, VenueCloser(venue), engine=ref.uid, purpose=purpose,
                attempts=self._attempts,
            )  # fmt: skip
        except UnknownKeyError as error:
            raise UnknownKey(str(error)) from error
        except Exception as error:
            raise VenueActionError(f"{type(error).__name__}: {error}") from error
        log.info("venue actions for %s/%s: %s", ref.namespace, ref.name, result.summary())
        return result

    async def equity(self, engine: Engine, ref: EngineRef, keys: ApiKeys) -> Decimal:
        """The account's total equity, from the venue's wallet (the runtime's own source)."""
        try:
            return (await self._client(engine, keys).wallet()).total_equity
        except UnknownKeyError as error:
            raise UnknownKey(str(error)) from error
        except Exception as error:
            raise VenueActionError(f"{type(error).__name__}: {error}") from error

    async def cancel_all(
        self, engine: Engine, ref: EngineRef, keys: ApiKeys, *, flatten: bool, request_id: str
    ) -> str:
        if flatten:
            return (
                await self.flatten(engine, ref, keys, purpose=f"shutdown:{request_id}")
            ).summary()
        venue = self._client(engine, keys)
        try:
            cancelled = await venue.cancel_all(CATEGORIES)
        except UnknownKeyError as error:
            raise UnknownKey(str(error)) from error
        except Exception as error:
            raise VenueActionError(f"{type(error).__name__}: {error}") from error
        log.info("venue actions for %s/%s: %d cancelled", ref.namespace, ref.name, cancelled)
        return f"{cancelled} orders cancelled"

    async def member_ids(
        self, rest_url: str, master: ApiKeys, subaccounts: list[str]
    ) -> dict[str, int]:
        """UIDs of the master ('master') and of each subaccount (a UID, or a username)."""
        session = _master_session(rest_url, master.api_key, master.api_secret)
        info = await self._paced("query-api", session.get_api_key_information)
        ids = {"master": int(info["result"]["userID"])}
        members: dict[str, int] = {}
        if any(not s.isdigit() for s in subaccounts):
            listed = await self._paced("query-sub-members", lambda: _sub_members(session))
            members = {m["username"]: int(m["uid"]) for m in listed}
        for sub in subaccounts:
            if sub.isdigit():
                ids[sub] = int(sub)
            elif sub in members:
                ids[sub] = members[sub]
            else:
                raise VenueActionError(f"no subaccount named {sub!r} under this master account")
        return ids

    async def transfer(
        self,
        rest_url: str,
        master: ApiKeys,
        transfer_id: str,
        amount: str,
        source: int,
        target: int,
    ) -> str:
        """A universal transfer of USDT; the same transferId twice moves the money once."""
        session = _master_session(rest_url, master.api_key, master.api_secret)

        def send() -> Any:
            return session.create_universal_transfer(
                transferId=transfer_id, coin="USDT", amount=amount, fromMemberId=source,
                toMemberId=target, fromAccountType="UNIFIED", toAccountType="UNIFIED",
            )  # fmt: skip

        try:
            result = await self._paced("universal-transfer", send)
        except Exception as error:
            raise VenueActionError(f"{type(error).__name__}: {error}") from error
        return str(result["result"].get("status") or "SUCCESS")


def _create(session: HTTP, username: str) -> str:
    created = session.create_sub_uid(username=username, memberType=1)
    return str(created["result"]["uid"])


def _mint_key(session: HTTP, uid: str, username: str) -> ApiKeys:
    key = session.create_sub_api_key(
        subuid=int(uid), readOnly=0, note=f"eternal-engine {username}",
        permissions=SUBACCOUNT_PERMISSIONS,
    )["result"]  # fmt: skip
    return ApiKeys(api_key=key["apiKey"], api_secret=key["secret"])


def _sub_members(session: HTTP) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = session.get_sub_uid_list()["result"].get("subMembers") or []
    return listed


def _find_subaccount(session: HTTP, name: str) -> str | None:
    """The UID of the subaccount with this username, or this UID."""
    for member in _sub_members(session):
        if member.get("username") == name or str(member.get("uid")) == name:
            return str(member["uid"])
    return None
