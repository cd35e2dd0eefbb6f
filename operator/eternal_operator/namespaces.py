"""Namespaces created while the operator starts are served like any other (a kopf workaround).

With namespace globs (EE_OPERATOR_NAMESPACES=`fleet-*`), kopf finds the matching namespaces in
two steps: it lists them, then starts a watch, which lists them again before it streams changes.
kopf 1.45 drops that second listing (`process_discovered_namespace_event` returns early on its
events, of type None). A namespace created between the two listings is in neither: its Engines
and policies go unserved, silently, until the namespace itself changes. Seen in CI: a policy
applied to a namespace created just after the operator took its Lease went unnoticed for 20 s,
until the namespace was deleted.

The fix feeds that listing to kopf's own revision of the namespace set, like any other event:
a namespace already known is added again, which changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from kopf._core.reactor import observation


async def _revise_on_every_event(
    *,
    raw_event: Any,
    namespaces: Collection[Any],
    insights: Any,
    **_: Any,
) -> None:
    async with insights.revised:
        observation.revise_namespaces(
            raw_events=[raw_event], insights=insights, namespaces=namespaces
        )
        insights.revised.notify_all()


def serve_namespaces_listed_at_watch_start() -> None:
    """Install the fix; kopf looks the processor up when its namespace observer starts."""
    observation.process_discovered_namespace_event = _revise_on_every_event
