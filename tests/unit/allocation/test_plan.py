"""Allocation weights, drift and transfer plans against hand-worked figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from eternal_kernel.api.v1alpha1.strategy_params import CalendarPeriod
from eternal_operator.allocation import plan

pytestmark = pytest.mark.unit


def day(year: int, month: int, date: int) -> datetime:
    return datetime(year, month, date, tzinfo=UTC)


TARGETS = {"core": D("0.60"), "trend": D("0.20"), "funding": D("0.15"), "tactical": D("0.05")}


def test_weights_and_relative_drift() -> None:
    w = plan.weights(TARGETS, {"core": D(70000), "trend": D(10000), "funding": D(15000),
                               "tactical": D(5000)})  # fmt: skip
    assert w.total == D(100000)
    assert w.current["core"] == D("0.7")
    assert w.drift["trend"] == D("0.5")  # 10% held against 20% targeted
    assert w.max_drift == D("0.5")


def test_rebalance_moves_the_surplus_to_the_deficit() -> None:
    equities = {"core": D(70000), "trend": D(10000), "funding": D(15000), "tactical": D(5000)}
    legs = plan.rebalance("uid-1", "r1", TARGETS, equities)
    assert [(leg.source, leg.target, leg.amount) for leg in legs] == [("core", "trend", D(10000))]


def test_rebalance_restores_every_target_and_conserves_money() -> None:
    equities = {"core": D("41234.56"), "trend": D("30000"), "funding": D("2000.11"),
                "tactical": D("26765.33")}  # fmt: skip
    legs = plan.rebalance("uid-1", "r2", TARGETS, equities)
    after = dict(equities)
    for leg in legs:
        after[leg.source] -= leg.amount
        after[leg.target] += leg.amount
    assert sum(after.values()) == sum(equities.values())
    total = sum(after.values())
    for name, target in TARGETS.items():
        assert abs(after[name] - total * target) <= D("0.05"), name


def test_transfer_ids_are_deterministic_per_round() -> None:
    equities = {"core": D(70000), "trend": D(10000), "funding": D(15000), "tactical": D(5000)}
    first = plan.rebalance("uid-1", "r1", TARGETS, equities)
    again = plan.rebalance("uid-1", "r1", TARGETS, equities)
    other = plan.rebalance("uid-1", "r2", TARGETS, equities)
    assert [leg.transfer_id for leg in first] == [leg.transfer_id for leg in again]
    assert first[0].transfer_id != other[0].transfer_id


def test_no_transfer_below_the_minimum() -> None:
    equities = {
        "core": D("60000.4"),
        "trend": D("19999.6"),
        "funding": D(15000),
        "tactical": D(5000),
    }
    assert plan.rebalance("uid", "r", TARGETS, equities) == []


def test_contribution_is_split_by_the_targets() -> None:
    legs = plan.contribution("uid", "2026-11", D(1000), TARGETS)
    assert {leg.target: leg.amount for leg in legs} == {
        "core": D(600), "trend": D(200), "funding": D(150), "tactical": D(50),
    }  # fmt: skip
    assert {leg.source for leg in legs} == {plan.MASTER}


@pytest.mark.parametrize(
    ("period", "last", "now", "due"),
    [
        (CalendarPeriod.QUARTERLY, day(2026, 1, 15), day(2026, 3, 31), False),
        (CalendarPeriod.QUARTERLY, day(2026, 1, 15), day(2026, 4, 1), True),
        (CalendarPeriod.MONTHLY, day(2026, 1, 31), day(2026, 2, 1), True),
        (CalendarPeriod.NONE, day(2020, 1, 1), day(2026, 1, 1), False),
    ],
)  # fmt: skip
def test_calendar_fallback(
    period: CalendarPeriod, last: datetime, now: datetime, due: bool
) -> None:
    assert plan.calendar_due(period, last, now) is due


def test_raising_a_target_during_level_two_is_flagged() -> None:
    accepted = {"trend": D("0.20"), "core": D("0.60")}
    wanted = {"trend": D("0.30"), "core": D("0.50")}
    assert plan.raised_while_paused(accepted, wanted, {"trend": 2, "core": 2}) == ["trend"]
    assert plan.raised_while_paused(accepted, wanted, {"trend": 1}) == []


def test_a_round_waits_for_equity_measured_after_the_transfers_that_moved_it() -> None:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    before, after = datetime(2026, 3, 1, 11, tzinfo=UTC), datetime(2026, 3, 1, 13, tzinfo=UTC)
    moves = [plan.Moved(("trend", "core"), at), plan.Moved((plan.MASTER, "funding"), at)]
    measured = {"trend": after, "core": before, "funding": None, "tactical": before}
    # core and funding were measured before (or never since) their money moved; tactical's did
    # not move; the master is no engine.
    assert plan.unsettled(moves, measured) == ["core", "funding"]
    # An engine dropped from the targets is not waited for.
    assert plan.unsettled(moves, {"trend": after, "funding": after}) == []


def test_weights_the_api_accepts_above_one_become_shares_of_at_most_the_whole() -> None:
    # 1.0000009: within the API's bound (CEL adds doubles), more than the capital there is.
    targets = {
        "a": D("0.6"),
        "b": D("0.2"),
        "c": D("0.15"),
        "d": D("0.0500009"),
    }
    shares = plan.shares(targets)
    total = D("100000")
    assert sum(shares.values()) <= 1
    assert sum(shares.values()) > D("0.99999999999999999")
    assert sum(total * s for s in shares.values()) <= total
    assert shares["a"] < targets["a"]
    under = {"a": D("0.6"), "b": D("0.3")}
    assert plan.shares(under) == under  # the rest stays in the master account
