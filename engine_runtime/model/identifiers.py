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


def flatten_order_id(
    engine: str, purpose: str, market: str, qty: object, attempt: int = 0
) -> ClientOrderId:
    """The orderLinkId of an order that closes part of an account (a halt, a shutdown, the
    operator's fallback): a function of the engine, why it is flattened (`halt:<policy>:<seq>`),
    what it closes (`linear:BTCUSDT:Sell`) and how much. Two actors flattening the same account
    for the same reason send the same id for the same close, so the venue takes it once (Bybit
    refuses a second order with one orderLinkId: 110072); a close of what is left after a
    partial fill has another quantity, hence another id. `attempt` separates a resend of the
    same close after the first was refused or cancelled unfilled."""
    text = f"{engine}|{purpose}|{market}|{qty}|{attempt}"
    return ClientOrderId("fl-" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest())
