"""Distinct identifier types: ours (`ClientOrderId`, Bybit's orderLinkId) and the venue's; and
the one function every orderLinkId we send is made with (`order_link_id`).

Bybit takes an orderLinkId of at most 36 characters of letters, digits, `-` and `_`. Ours are a
two-letter prefix that says what made the order (`ee` a strategy's intent, `fl` a close of a
flatten), a dash, and 32 hex digits of a BLAKE2b digest of everything that identifies it:
35 characters whatever the input, never truncated, so two different inputs never share an id
(the operator's old emergency ids were cut at 36 characters and two long request ids could).
The ids are deterministic: a replayed decision, a resend after a crash, or another actor
closing the same position for the same reason sends the same id, and the venue takes it once.
"""

from __future__ import annotations

import hashlib
import re
from typing import NewType

ClientOrderId = NewType("ClientOrderId", str)
VenueOrderId = NewType("VenueOrderId", str)
TradeId = NewType("TradeId", str)

LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
"""What Bybit accepts as an orderLinkId."""
INTENT = "ee"
"""The prefix of a strategy's orders."""
FLATTEN = "fl"
"""The prefix of the closes of a flatten (a halt, a close-directional, a shutdown)."""


def order_link_id(prefix: str, *parts: object) -> ClientOrderId:
    """The orderLinkId for `parts` (each as `str()` gives it, joined by `|`): `prefix-` and 32
    hex digits of their digest. Parts are names, times, counters and quantities: none holds a
    `|` (which would make `("a|b",)` and `("a", "b")` one text). The same parts always give
    the same id; ids persisted before this function existed were made by the same recipe, so a
    restarted runtime still finds its own orders of an earlier life."""
    text = "|".join(map(str, parts))
    return ClientOrderId(f"{prefix}-{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}")


def client_order_id(engine_key: str, intent_id: str) -> ClientOrderId:
    """The orderLinkId of an intent of this engine: deterministic, at most 36 characters.

    A strategy's intent id (`strategies.interface.intent_id`, made by `order_link_id`) already
    fits Bybit's alphabet and length and is used as it is, so logs and the venue show the same
    id. Anything else is hashed with the engine, so the same intent always gives the same id and
    two engines never share one."""
    if LINK_ID.match(intent_id):
        return ClientOrderId(intent_id)
    return order_link_id(INTENT, engine_key, intent_id)


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
    return order_link_id(FLATTEN, engine, purpose, market, qty, attempt)
