"""An Engine's status.allocation is a display: rewritten on a change of allocation or target
weight, or a move of its figures by more than 0.1%, not on every cent prices move the fleet's
total (a fleet's worth of Engine status writes at every allocation pass)."""

from __future__ import annotations

import pytest

from eternal_operator.controllers.allocation.reconcile import shows

pytestmark = pytest.mark.unit

SHOWN = {"allocation": "eternal", "targetWeight": "0.2", "targetCapital": "2000",
         "currentWeight": "0.2013"}  # fmt: skip


def report(**changes: str) -> dict[str, str]:
    return {**SHOWN, **changes}


def test_the_same_figures_are_not_written_again() -> None:
    assert shows(SHOWN, report())


def test_a_move_within_a_tenth_of_a_percent_is_not_written() -> None:
    assert shows(SHOWN, report(targetCapital="2001.99", currentWeight="0.2015"))
    assert shows(SHOWN, report(targetCapital="1998.01"))


def test_a_larger_move_is_written() -> None:
    assert not shows(SHOWN, report(targetCapital="2002.01"))
    assert not shows(SHOWN, report(targetCapital="1997.99"))
    assert not shows(SHOWN, report(currentWeight="0.2016"))


def test_a_new_target_or_allocation_is_written_however_small() -> None:
    assert not shows(SHOWN, report(targetWeight="0.2001"))
    assert not shows(SHOWN, report(allocation="other"))


def test_nothing_shown_yet_or_zero_is_written() -> None:
    assert not shows({}, report())
    assert not shows({**SHOWN, "targetCapital": "garbage"}, report())
    assert not shows({**SHOWN, "currentWeight": "0"}, report(currentWeight="0.0001"))
    assert shows({**SHOWN, "currentWeight": "0"}, report(currentWeight="0"))
