"""A venue in process, on a stepped clock and a flat scripted feed, for unit tests."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from paper_venue.clock import Clock, ClockMode
from paper_venue.config import VenueSettings
from paper_venue.router.venue import Venue

START_MS = 1_700_000_400_000  # 2023-11-14 22:20 UTC, 1h40m before a funding settlement

MakeVenue = Callable[..., Venue]


@pytest.fixture
def make_venue() -> MakeVenue:
    def make(**overrides: Any) -> Venue:
        data: dict[str, Any] = {
            "feed": {"kind": "scripted", "backfill_minutes": 5},
            "clock": {"mode": "stepped", "start_ms": START_MS},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        settings = VenueSettings.model_validate(data)
        return Venue(settings, Clock(ClockMode.STEPPED, start_ms=START_MS))

    return make


@pytest.fixture
def venue(make_venue: MakeVenue) -> Venue:
    return make_venue()


@pytest.fixture
def events(venue: Venue) -> list[tuple[int, str, list[dict[str, object]]]]:
    seen: list[tuple[int, str, list[dict[str, object]]]] = []
    venue.private_listeners.append(lambda uid, topic, rows: seen.append((uid, topic, rows)))
    return seen


D = Decimal
