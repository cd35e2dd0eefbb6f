"""A restored venue resumes: a real-time clock at wall time, what fell due meanwhile settled
once, prices from where they were."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from paper_venue.clock import Clock, ClockMode
from paper_venue.config import VenueSettings
from paper_venue.instruments import Category
from paper_venue.router import snapshot, trading
from paper_venue.router.venue import Venue

HOUR_MS = 3_600_000
SUB = 100001


def settings(mode: str, **clock: Any) -> VenueSettings:
    return VenueSettings.model_validate(
        {"feed": {"kind": "random_walk", "backfill_minutes": 2}, "clock": {"mode": mode, **clock}}
    )


def funding_rows(venue: Venue) -> list[int]:
    return sorted(e.exec_time_ms for e in venue.executions[SUB] if e.exec_type == "Funding")


@pytest.mark.unit
def test_a_real_clock_resumes_at_wall_time_others_where_they_were() -> None:
    wall = Clock.wall_ms()
    real = Clock(ClockMode.REAL)
    assert abs(real.restore(wall - 9 * HOUR_MS) - wall) < 1000
    assert abs(real.now_ms() - Clock.wall_ms()) < 1000
    assert real.restore(wall + HOUR_MS) == wall + HOUR_MS  # never backwards
    stepped = Clock(ClockMode.STEPPED, start_ms=5)
    assert stepped.restore(1000) == 1000
    assert stepped.now_ms() == 1000
    fast = Clock(ClockMode.ACCELERATED, speed=1000)
    assert fast.restore(1000) == 1000
    assert 1000 <= fast.now_ms() < 1000 + 1000 * 1000


@pytest.mark.unit
def test_a_snapshot_nine_hours_old_settles_the_missed_funding_once(tmp_path: Path) -> None:
    started_ms = Clock.wall_ms() - 9 * HOUR_MS - 600_000
    old = Venue(settings("stepped"), Clock(ClockMode.STEPPED, start_ms=started_ms))
    trading.place_order(
        old, SUB, trading.PlaceOrder(Category.LINEAR, "BTCUSDT", "Buy", "Market", D("0.01"))
    )
    old.clock.advance(600_000)  # ten minutes of trading; it stopped nine hours ago
    old.update()
    price = old.market.price("BTCUSDT")
    assert price != old.source.price_at("BTCUSDT", started_ms)
    due = list(range(old.next_funding_ms, Clock.wall_ms(), 8 * HOUR_MS))
    assert len(due) in (1, 2)  # every eight hours: one or two fall into nine hours
    # What the old venue settled itself (its ten minutes may cross a settlement time).
    settled = funding_rows(old)
    settled_history = [t for t, _ in old.funding_history.get("BTCUSDT", [])]
    path = tmp_path / "state.json"
    snapshot.save(old, path)

    restarted = Venue(settings("real"))  # a new process: a new clock, a new random walk
    snapshot.restore(restarted, path)

    assert abs(restarted.clock.now_ms() - Clock.wall_ms()) < 1000
    assert funding_rows(restarted) == settled + due
    assert [t for t, _ in restarted.funding_history["BTCUSDT"]] == settled_history + due
    assert restarted.next_funding_ms == due[-1] + 8 * HOUR_MS
    assert restarted.market.price("BTCUSDT") == price  # continues from the saved price
    paid = sum(e.exec_fee for e in restarted.executions[SUB] if e.exec_type == "Funding")
    assert paid == len(due) * D("0.01") * price * D("0.0001")
    restarted.update()
    assert funding_rows(restarted) == due  # exactly once
