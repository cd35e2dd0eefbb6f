"""When the operator measures an engine's equity on the venue itself: after its runtime has
been quiet for QUIET_S, and a runtime never heard from counts as quiet only QUIET_S after the
operator first asked about it (it may be starting, or its first word not in the index yet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from eternal_kernel.breaker.evaluate import Observation
from eternal_operator.controllers.policy.measure import QUIET_S, VenueEquity

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> tuple[VenueEquity, list[str]]:
    equity = VenueEquity(SimpleNamespace(), "ns")  # type: ignore[arg-type]
    calls: list[str] = []
    monkeypatch.setattr(equity, "_start", lambda engine, spec, uid: calls.append(engine))
    return equity, calls


def ask(equity: VenueEquity, observed: Observation, seconds: float) -> None:
    equity.freshest(observed, {}, "uid", T0 + timedelta(seconds=seconds))


def test_a_runtime_never_heard_from_is_given_quiet_s_before_the_venue_is_read(
    started: tuple[VenueEquity, list[str]],
) -> None:
    equity, calls = started
    never = Observation("a", None, None)
    for at in (0, 1, QUIET_S):
        ask(equity, never, at)
    assert calls == []
    ask(equity, never, QUIET_S + 0.1)
    assert calls == ["a"]


def test_a_runtime_quiet_for_quiet_s_is_read_on_the_venue_at_once(
    started: tuple[VenueEquity, list[str]],
) -> None:
    equity, calls = started
    ask(equity, Observation("a", Decimal(100), T0, heard=T0), 1)
    assert calls == []
    ask(equity, Observation("b", Decimal(100), T0, heard=T0), QUIET_S + 0.1)
    assert calls == ["b"]
