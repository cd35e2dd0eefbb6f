"""The governor writes an engine's record once per directive, even when the Engine index lags
its own write (a runtime's heartbeat committed just before it arrives after it)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from eternal_kernel.breaker.evaluate import State
from eternal_operator.controllers.policy.governor import EngineSnapshot, Governor

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 3, tzinfo=UTC)
HALT = {"policy": "p", "level": 4, "sizeMultiplier": 0.0, "entriesPaused": True,
        "closeDirectional": True, "halt": True, "reason": "emergency halt"}  # fmt: skip
EARLIER = {"policy": "p", "level": 0, "sequence": 1, "halt": False, "reason": "normal"}


class Kube:
    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []

    async def merge_patch(self, *args: Any, subresource: str = "") -> dict[str, Any]:
        _api, _kind, _namespace, name, body = args
        self.patches.append((name, body))
        return {}


def snapshot(governance: dict[str, Any] | None) -> EngineSnapshot:
    """The Engine as an index event shows it (a new object each event)."""
    return EngineSnapshot("a", {}, {}, None, dict(governance or {}) or None, "uid-a")


@pytest.fixture
def told() -> tuple[Governor, Kube, list[tuple[str, ...]]]:
    kube, events = Kube(), []
    governor = Governor(SimpleNamespace(kube=kube), "ns", "p", events=lambda *e: events.append(e))  # type: ignore[arg-type]
    governor.state = State(sequence=2)
    return governor, kube, events


async def test_a_lagging_index_is_not_told_again(told: tuple[Governor, Kube, list[Any]]) -> None:
    governor, kube, events = told
    await governor._tell_engines([snapshot(EARLIER)], HALT, {}, NOW)
    assert len(kube.patches) == 1
    assert [e[1] for e in events] == ["Directive"]
    # A heartbeat committed before the write arrives after it: the record it shows is the old one.
    await governor._tell_engines([snapshot(EARLIER)], HALT, {}, NOW)
    assert (len(kube.patches), len(events)) == (1, 1)
    written = kube.patches[0][1]["status"]["governance"]
    await governor._tell_engines([snapshot(written)], HALT, {}, NOW)  # the write's own event
    assert (len(kube.patches), len(events)) == (1, 1)


async def test_an_older_record_after_the_write_was_seen_is_told_again(
    told: tuple[Governor, Kube, list[Any]],
) -> None:
    governor, kube, events = told
    await governor._tell_engines([snapshot(EARLIER)], HALT, {}, NOW)
    written = kube.patches[0][1]["status"]["governance"]
    await governor._tell_engines([snapshot(written)], HALT, {}, NOW)
    await governor._tell_engines([snapshot(EARLIER)], HALT, {}, NOW)  # really put back since
    assert (len(kube.patches), len(events)) == (2, 2)
