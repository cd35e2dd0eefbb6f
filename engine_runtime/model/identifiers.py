"""Distinct identifier types: ours (`ClientOrderId`, Bybit's orderLinkId) and the venue's."""

from __future__ import annotations

import hashlib
import re
from typing import NewType

ClientOrderId = NewType("ClientOrderId", str)
VenueOrderId = NewType("VenueOrderId", str)
TradeId = NewType("TradeId", str)

_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def client_order_id(engine_key: str, intent_id: str) -> ClientOrderId:
    """The orderLinkId of an intent of this engine: deterministic, at most 36 characters.

    A strategy's intent id is already deterministic and engine-specific; one that fits Bybit's
    alphabet and length is used as it is, so logs and the venue show the same id. Anything else
    is hashed with the engine, so the same intent always gives the same id and two engines never
    share one.
    """
    if _LINK_ID.match(intent_id):
        return ClientOrderId(intent_id)
    digest = hashlib.blake2b(f"{engine_key}|{intent_id}".encode(), digest_size=16).hexdigest()
    return ClientOrderId("ee-" + digest)


def derived_id(base: ClientOrderId, purpose: str) -> ClientOrderId:
    """A deterministic id for an order the runtime itself places because of `base` or a purpose
    (halt flatten, close-directional), e.g. `derived_id("halt-7", "cBTCUSDT")`."""
    digest = hashlib.blake2b(f"{base}|{purpose}".encode(), digest_size=15).hexdigest()
    return ClientOrderId("rt-" + digest)
