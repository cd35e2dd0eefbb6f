"""The restart rule of the local stack and the pod runner, on a clock moved by hand."""

from __future__ import annotations

import pytest

from eternal_operator.devtools.backoff import Backoff, Crashes, crashed, observed

STACK = Backoff(first_s=1, max_s=30, healthy_after_s=60)


def crash_loop(policy: Backoff, times: int) -> list[float]:
    """Waits when the process dies at once, every time it is started."""
    crashes, now, waits = Crashes(), 0.0, []
    for _ in range(times):
        wait, crashes = crashed(policy, crashes, now)
        waits.append(wait)
        now += wait
    return waits


@pytest.mark.unit
def test_crashes_in_a_row_double_the_wait_up_to_the_cap() -> None:
    assert crash_loop(STACK, 8) == [1, 2, 4, 8, 16, 30, 30, 30]


@pytest.mark.unit
def test_the_pod_runners_rule_starts_at_two_seconds_and_stops_at_a_minute() -> None:
    pods = Backoff(first_s=2, max_s=60, healthy_after_s=60)
    assert crash_loop(pods, 7) == [2, 4, 8, 16, 32, 60, 60]


@pytest.mark.unit
def test_a_healthy_run_long_enough_resets_the_wait() -> None:
    crashes = Crashes()
    for now in (0.0, 1.0, 3.0, 7.0):  # four crashes in a row
        _, crashes = crashed(STACK, crashes, now)
    crashes = observed(crashes, healthy=True, now=20.0)
    crashes = observed(crashes, healthy=True, now=50.0)  # healthy since 20, still
    wait, crashes = crashed(STACK, crashes, now=80.0)  # 60 s healthy: a first crash again
    assert wait == 1
    assert crashes == Crashes(restarts=5, streak=1, healthy_since=None)


@pytest.mark.unit
def test_a_short_or_broken_healthy_spell_does_not() -> None:
    crashes = Crashes()
    for now in (0.0, 1.0, 3.0):
        _, crashes = crashed(STACK, crashes, now)
    short = observed(crashes, healthy=True, now=10.0)
    assert crashed(STACK, short, now=69.0)[0] == 8  # 59 s healthy is not enough
    broken = observed(observed(short, healthy=False, now=40.0), healthy=True, now=50.0)
    assert broken.healthy_since == 50.0
    assert crashed(STACK, broken, now=100.0)[0] == 8  # healthy since 50, not since 10
    assert crashed(STACK, broken, now=110.0)[0] == 1


@pytest.mark.unit
def test_restarts_are_counted_through_resets() -> None:
    crashes = Crashes()
    for now in (0.0, 100.0, 200.0):
        crashes = observed(crashes, healthy=True, now=now)
        _, crashes = crashed(STACK, crashes, now + 61)
    assert crashes.restarts == 3
    assert crashes.streak == 1
