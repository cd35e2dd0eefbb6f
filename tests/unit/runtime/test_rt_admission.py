"""The governance size multiplier, applied once (`governance.admission`): entries cut and rounded
down to the step, exits whole, a zero multiplier withholding entries; hand-worked numbers."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.governance.admission import admit, entries_paused
from engine_runtime.governance.obedience import Governor
from engine_runtime.risk.checks import exits
from eternal_kernel.api.v1alpha1.engine import GovernanceDirective

pytestmark = pytest.mark.unit

STEP = D("0.001")


def entry(qty: str, multiplier: str, step: D | None = STEP, **kw: object) -> D | None:
    args: dict[str, object] = {"buy": True, "reduce_only": False, "position": D(0)} | kw
    return admit(D(qty), multiplier=D(multiplier), step=step, **args)  # type: ignore[arg-type]


def test_entries_are_cut_by_the_multiplier_and_rounded_down_to_the_step() -> None:
    assert entry("0.066", "0.5") == D("0.033")
    assert entry("0.067", "0.5") == D("0.033")  # 0.0335 rounds down, never up
    assert entry("0.067", "0.75") == D("0.050")  # 0.05025
    assert entry("0.0335", "0.5", step=None) == D("0.01675")  # no step: not rounded
    assert entry("0.0015", "0.5") == 0  # below one step: nothing (the filter refuses it)
    assert entry("1.23456", "1") == D("1.23456")  # 1 changes nothing, not even the rounding
    assert entry("100", "0.5", step=D("0.01"), quote=True) == D("50.00")  # a USDT notional
    # a sell that opens or adds to a short, a buy that adds to a long: entries
    assert entry("2", "0.5", buy=False) == D("1.000")
    assert entry("2", "0.5", position=D(3)) == D("1.000")


def test_exits_are_never_cut() -> None:
    assert entry("0.067", "0.5", reduce_only=True) == D("0.067")
    assert entry("0.4", "0.5", buy=False, position=D("0.4")) == D("0.4")  # closes a long
    assert entry("0.3", "0.25", buy=True, position=D("-0.5")) == D("0.3")  # reduces a short
    assert entry("200", "0.5", buy=False, position=D("0.1"), quote=True) == D(200)
    # larger than the position it is against: it opens the other side, so it is an entry
    assert entry("0.6", "0.5", buy=False, position=D("0.4")) == D("0.300")
    assert entry("0.4", "0", buy=False, position=D("0.4")) == D("0.4")  # even at 0


def test_a_zero_multiplier_withholds_entries_and_the_strategies_are_told_entries_paused() -> None:
    assert entry("0.067", "0") is None
    assert entry("5", "0", buy=False, position=D(1)) is None  # a flip is an entry too
    assert entries_paused(False, D(0))
    assert not entries_paused(False, D("0.5"))
    assert entries_paused(True, D(1))
    governor = Governor("e")
    governor.directive = GovernanceDirective(level=1, size_multiplier=D(0))
    told = governor.for_strategy()
    assert (told.size_multiplier, told.entries_paused) == (0, True)
    assert not governor.entries_paused  # the risk checks' own flag is the directive's


def test_the_exit_rule_is_the_one_the_risk_checks_use() -> None:
    assert exits(buy=False, qty=D(1), quote=False, reduce_only=False, position=D(1))
    assert not exits(buy=False, qty=D("1.01"), quote=False, reduce_only=False, position=D(1))
    assert not exits(buy=True, qty=D(1), quote=False, reduce_only=False, position=D(1))
    assert not exits(buy=False, qty=D(1), quote=False, reduce_only=False, position=D(0))
    assert exits(buy=True, qty=D(9), quote=False, reduce_only=True, position=D(0))
