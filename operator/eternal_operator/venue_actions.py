"""The operator's own hands on the venue: provisioning paper-venue keys, and cancelling or
flattening an engine's account when its runtime cannot."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pybit.exceptions import InvalidRequestError

from engine_runtime.adapters.bybit.errors import UnknownKeyError, classify
from engine_runtime.venue.emergency import cancel_and_flatten
from engine_runtime.venue.session import http_session

from .api.runtime_config import endpoints_for
from .api.v1alpha1 import Engine
from .controllers.engine.credentials import ApiKeys, UnknownKey
from .controllers.engine.render import EngineRef
from .settings import OperatorSettings

log = logging.getLogger(__name__)

SUBACCOUNT_PERMISSIONS = {
    "ContractTrade": ["Order", "Position"],
    "Spot": ["SpotTrade"],
    "Wallet": ["AccountTransfer"],
}


class VenueActionError(Exception):
    """A venue call the operator made failed; the message is safe to show."""


@dataclass
class BybitVenueActions:
    settings: OperatorSettings

    def _rest_url(self, engine: Engine) -> str:
        s = self.settings
        return endpoints_for(engine.spec.venue, s.simulator_url, s.venue_ws_url()).rest_url

    async def provision(self, engine: Engine, ref: EngineRef) -> ApiKeys:
        master_key = self.settings.simulator_master_api_key
        master_secret = self.settings.simulator_master_api_secret
        if not master_key or not master_secret:
            raise VenueActionError(
                "no paper-venue master key: set EE_OPERATOR_SIMULATOR_MASTER_API_KEY and "
                "EE_OPERATOR_SIMULATOR_MASTER_API_SECRET, or give the Engine spec.credentials"
            )
        session = http_session(
            self.settings.simulator_url, master_key, master_secret.get_secret_value()
        )
        return await asyncio.to_thread(_provision, session, engine.spec.subaccount)

    async def cancel_all(
        self, engine: Engine, ref: EngineRef, keys: ApiKeys, *, flatten: bool, request_id: str
    ) -> str:
        session = http_session(self._rest_url(engine), keys.api_key, keys.api_secret)
        try:
            report = await asyncio.to_thread(
                cancel_and_flatten,
                session,
                list(engine.spec.symbols),
                flatten=flatten,
                request_id=request_id,
            )
        except InvalidRequestError as error:
            if isinstance(classify(error.status_code, error.message), UnknownKeyError):
                raise UnknownKey(f"{error.status_code} {error.message}") from error
            raise VenueActionError(f"{type(error).__name__}: {error}") from error
        except Exception as error:
            raise VenueActionError(f"{type(error).__name__}: {error}") from error
        log.info("venue actions for %s/%s: %s", ref.namespace, ref.name, report.summary())
        return report.summary()

    async def member_ids(
        self, rest_url: str, master: ApiKeys, subaccounts: list[str]
    ) -> dict[str, int]:
        """UIDs of the master ('master') and of each subaccount (a UID, or a username)."""
        session = http_session(rest_url, master.api_key, master.api_secret)
        return await asyncio.to_thread(_member_ids, session, subaccounts)

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
        session = http_session(rest_url, master.api_key, master.api_secret)
        try:
            result = await asyncio.to_thread(
                session.create_universal_transfer,
                transferId=transfer_id, coin="USDT", amount=amount, fromMemberId=source,
                toMemberId=target, fromAccountType="UNIFIED", toAccountType="UNIFIED",
            )  # fmt: skip
        except Exception as error:
            raise VenueActionError(f"{type(error).__name__}: {error}") from error
        return str(result["result"].get("status") or "SUCCESS")


def _member_ids(session: object, subaccounts: list[str]) -> dict[str, int]:
    info = session.get_api_key_information()["result"]  # type: ignore[attr-defined]
    ids = {"master": int(info["userID"])}
    usernames = [s for s in subaccounts if not s.isdigit()]
    members = {}
    if usernames:
        listed = session.get_sub_uid_list()["result"].get("subMembers") or []  # type: ignore[attr-defined]
        members = {m["username"]: int(m["uid"]) for m in listed}
    for sub in subaccounts:
        if sub.isdigit():
            ids[sub] = int(sub)
        elif sub in members:
            ids[sub] = members[sub]
        else:
            raise VenueActionError(f"no subaccount named {sub!r} under this master account")
    return ids


def _provision(session: object, username: str) -> ApiKeys:
    uid = _find_subaccount(session, username)
    if uid is None:
        created = session.create_sub_uid(username=username, memberType=1)  # type: ignore[attr-defined]
        uid = str(created["result"]["uid"])
    key = session.create_sub_api_key(  # type: ignore[attr-defined]
        subuid=int(uid), readOnly=0, note=f"eternal-engine {username}",
        permissions=SUBACCOUNT_PERMISSIONS,
    )["result"]  # fmt: skip
    return ApiKeys(api_key=key["apiKey"], api_secret=key["secret"])


def _find_subaccount(session: object, username: str) -> str | None:
    members = session.get_sub_uid_list()["result"].get("subMembers") or []  # type: ignore[attr-defined]
    for member in members:
        if member.get("username") == username:
            return str(member["uid"])
    return None
