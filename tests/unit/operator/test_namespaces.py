"""A namespace first seen in the listing that opens kopf's namespace watch is served.

kopf lists the namespaces matching the operator's globs, then opens a watch that lists them
again. A namespace created between the two appears only in the second listing, whose events
kopf 1.45 drops; `eternal_operator.namespaces` makes it count like any other event."""

from __future__ import annotations

from typing import Any

import pytest
from kopf._cogs.structs import references
from kopf._core.reactor import observation

from eternal_operator.namespaces import serve_namespaces_listed_at_watch_start

pytestmark = pytest.mark.unit


def listed(name: str, **metadata: Any) -> Any:
    return {"type": None, "object": {"metadata": {"name": name, **metadata}}}


async def see(insights: references.Insights, raw_event: Any) -> None:
    await observation.process_discovered_namespace_event(
        raw_event=raw_event, namespaces=["fleet-*"], insights=insights
    )


async def test_a_namespace_in_the_watch_listing_is_served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(  # restored after the test
        observation, "process_discovered_namespace_event",
        observation.process_discovered_namespace_event,
    )  # fmt: skip
    serve_namespaces_listed_at_watch_start()
    insights = references.Insights()
    await see(insights, listed("fleet-a"))
    await see(insights, listed("other"))
    assert insights.namespaces == {"fleet-a"}
    await see(insights, listed("fleet-a"))  # listed again when the watch restarts: no change
    assert insights.namespaces == {"fleet-a"}
    gone = {"type": "DELETED", "object": {"metadata": {"name": "fleet-a"}}}
    await see(insights, gone)
    assert insights.namespaces == set()
