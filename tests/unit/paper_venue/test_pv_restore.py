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


def funding_paid(venue: Venue) -> D:
    return sum((e.exec_fee for e in venue.executions[SUB] if e.exec_type == "Funding"), D(0))


@pytest.mark.unit
@pytest.mark.parametrize("crosses_a_settlement", [False, True])
def test_a_snapshot_nine_hours_old_settles_the_missed_funding_once(
    tmp_path: Path, crosses_a_settlement: bool
) -> None:
    # The old venue's ten minutes start five minutes before a settlement time, or ten after
    # one; either way it stopped about nine hours ago, so one or two more fell due since.
    latest = Clock.wall_ms() - 9 * HOUR_MS - 600_000
    settlement = latest - latest % (8 * HOUR_MS)
    started_ms = settlement - 300_000 if crosses_a_settlement else settlement + 600_000
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
    # What the old venue settled itself.
    settled = funding_rows(old)
    assert len(settled) == int(crosses_a_settlement)
    settled_history = [t for t, _ in old.funding_history.get("BTCUSDT", [])]
    paid_before = funding_paid(old)
    path = tmp_path / "state.json"
    snapshot.save(old, path)

    restarted = Venue(settings("real"))  # a new process: a new clock, a new random walk
    snapshot.restore(restarted, path)

    assert abs(restarted.clock.now_ms() - Clock.wall_ms()) < 1000
    assert funding_rows(restarted) == settled + due
    assert [t for t, _ in restarted.funding_history["BTCUSDT"]] == settled_history + due
    assert restarted.next_funding_ms == due[-1] + 8 * HOUR_MS
    assert restarted.market.price("BTCUSDT") == price  # continues from the saved price
    paid_on_restore = funding_paid(restarted) - paid_before
    assert paid_on_restore == len(due) * D("0.01") * price * D("0.0001")
    restarted.update()
    assert funding_rows(restarted) == settled + due  # exactly once
