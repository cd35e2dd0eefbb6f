"""The strategy's state across restarts.

Strategies keep their state in the object (see docs/strategies-and-backtesting.md) and leave
checkpointing to the runtime: after every decision (`on_bar`, `on_order_event`, `on_funding`)
the object is pickled into `engine_checkpoints.strategy_state`; at start it is restored if the
strategy's name and interface version are the same, else the strategy starts fresh (logged).
The pickle comes only from the runtime's own database, written by this code.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

from engine_runtime.strategies.interface import Strategy

log = logging.getLogger(__name__)


def dump(strategy: Strategy) -> bytes | None:
    try:
        return pickle.dumps(strategy, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        log.warning("strategy state not checkpointable: %s", error)
        return None


def load(strategy: Strategy, saved: dict[str, Any] | None) -> Strategy:
    """The saved strategy when it matches `strategy`'s name and API version, else `strategy`."""
    if not saved or saved.get("state") is None:
        return strategy
    if saved.get("name") != strategy.name or saved.get("api") != strategy.api_version:
        log.warning(
            "checkpointed strategy %s v%s does not match %s v%s: starting fresh",
            saved.get("name"),
            saved.get("api"),
            strategy.name,
            strategy.api_version,
        )
        return strategy
    try:
        restored = pickle.loads(saved["state"])  # noqa: S301 - our own checkpoint
    except Exception as error:
        log.warning("strategy state unreadable (%s): starting fresh", error)
        return strategy
    if type(restored) is not type(strategy):
        return strategy
    adopt = getattr(restored, "adopt", None)  # what is not state (a verified model) is this start's
    if callable(adopt):
        adopt(strategy)
    log.info("strategy state restored", extra={"strategy": strategy.name})
    return restored
