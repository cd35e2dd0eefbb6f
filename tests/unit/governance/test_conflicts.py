"""Two policies over one engine: the most restrictive directive is the one written, by its own
policy only, whoever evaluates first."""

from __future__ import annotations

from typing import Any

import pytest

from eternal_kernel.breaker.conflicts import restrictiveness, writer

pytestmark = pytest.mark.unit


def d(**fields: Any) -> dict[str, Any]:
    return {"level": 0, "sizeMultiplier": 1, "entriesPaused": False, "closeDirectional": False,
            "halt": False, **fields}  # fmt: skip


def test_a_halt_wins_over_any_level_and_a_smaller_size_over_a_higher_level() -> None:
    assert writer({"a": d(level=3, sizeMultiplier=0, entriesPaused=True, closeDirectional=True),
                   "b": d(halt=True)}) == "b"  # fmt: skip
    assert (
        writer({"a": d(level=2, sizeMultiplier=0.5), "b": d(level=1, sizeMultiplier=0.25)}) == "b"
    )
    assert writer({"a": d(level=1, entriesPaused=True), "b": d(level=2)}) == "a"


def test_ties_and_silent_policies_go_to_the_first_name_the_same_way_for_everyone() -> None:
    assert writer({"b": d(), "a": d()}) == "a"
    assert writer({"b": d(level=1, sizeMultiplier=0.75), "a": None}) == "b"
    assert writer({"zeta": d(halt=True), "alpha": d(halt=True, level=4)}) == "alpha"
    assert restrictiveness(None) == restrictiveness(d())
