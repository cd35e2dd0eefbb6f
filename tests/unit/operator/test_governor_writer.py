"""Of two policies over one engine, a policy whose index has not yet seen the other's halt in
its status, but sees it in the engine's record, does not overwrite it with a weaker word."""

from __future__ import annotations

import pytest

from eternal_kernel.breaker.conflicts import writer
from eternal_operator.controllers.policy.governor import _newest

pytestmark = pytest.mark.unit

ALPHA = {"level": 0, "sizeMultiplier": 1, "halt": False, "sequence": 3}
ZETA_HALT = {"policy": "zeta", "level": 4, "sizeMultiplier": 0, "entriesPaused": True,
             "closeDirectional": True, "halt": True, "sequence": 1}  # fmt: skip


def alpha_writes(zeta_published: dict[str, object] | None, record: dict[str, object]) -> bool:
    return writer({"alpha": ALPHA, "zeta": _newest(zeta_published, record, "zeta")}) == "alpha"


def test_a_halt_in_the_engines_record_wins_over_a_status_not_yet_indexed() -> None:
    assert not alpha_writes(None, ZETA_HALT)  # zeta's status not in alpha's index yet
    older = {**ZETA_HALT, "halt": False, "closeDirectional": False, "entriesPaused": False,
             "sizeMultiplier": 1, "level": 0, "sequence": 0}  # fmt: skip
    assert not alpha_writes(older, ZETA_HALT)  # zeta's status from before its halt


def test_a_newer_status_wins_over_an_older_record() -> None:
    reset = {"level": 0, "sizeMultiplier": 1, "halt": False, "sequence": 2}
    assert alpha_writes(reset, ZETA_HALT)  # zeta reset since: the record is the old halt


def test_a_record_of_another_policy_is_not_that_policys_word() -> None:
    assert _newest(None, {**ZETA_HALT, "policy": "omega"}, "zeta") is None
    assert alpha_writes(None, {**ZETA_HALT, "policy": "alpha"})
