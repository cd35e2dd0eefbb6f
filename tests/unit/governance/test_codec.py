"""The directive as the API carries it: what changes it, and what a record without a newer
field (written before it existed) means."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from eternal_kernel.breaker.codec import directive_content, neutral, same_directive
from eternal_kernel.breaker.evaluate import Directive

pytestmark = pytest.mark.unit


def test_the_stop_multiplier_travels_and_a_change_of_it_is_news() -> None:
    widened = directive_content(Directive(level=1, size_multiplier=D("0.75"),
                                          stop_multiplier=D("1.5")), "eternal")  # fmt: skip
    assert widened["stopMultiplier"] == 1.5
    plain = directive_content(Directive(level=1, size_multiplier=D("0.75")), "eternal")
    assert plain["stopMultiplier"] == 1
    assert not same_directive(plain, widened)
    assert same_directive(widened, dict(widened))
    older = {k: v for k, v in plain.items() if k != "stopMultiplier"}  # written before the field
    assert same_directive(older, plain)
    assert not same_directive(older, widened)


def test_widened_stops_alone_are_not_neutral() -> None:
    assert neutral(directive_content(Directive(), "eternal"))
    assert not neutral(directive_content(Directive(stop_multiplier=D(2)), "eternal"))
