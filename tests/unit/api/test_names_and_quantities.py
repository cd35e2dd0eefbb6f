"""The rules the CRD states in CEL, in their Python form: Engine names and quantities."""

from __future__ import annotations

from decimal import Decimal

import pytest

from eternal_kernel.api.kinds import KINDS
from eternal_kernel.api.v1alpha1 import names, quantity

pytestmark = pytest.mark.unit


def test_the_name_limit_comes_from_the_metrics_service() -> None:
    assert names.ENGINE_NAME_MAX == 63 - len("-metrics") == 55
    engine = next(k for k in KINDS if k.kind == "Engine")
    (rule,) = engine.name_rules
    assert rule["rule"] == names.ENGINE_NAME_RULE
    assert str(names.ENGINE_NAME_MAX) in rule["rule"]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("trend", True), ("core-hodl", True), ("a", True), ("e" * 55, True), ("e" * 56, False),
        ("trend.v2", False), ("1trend", False), ("trend-", False), ("Trend", False),
        ("trend\n", False), ("", False),
    ],
)  # fmt: skip
def test_engine_names(name: str, ok: bool) -> None:
    problem = names.engine_name_problem(name)
    assert (problem is None) == ok
    if problem is not None:
        assert problem.startswith("metadata.name")


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("500m", Decimal("0.5")), (2, Decimal(2)), ("1.5Gi", Decimal(1610612736)),
        ("512Mi", Decimal(536870912)), ("1e3", Decimal(1000)), ("1E-3", Decimal("0.001")),
        ("1k", Decimal(1000)), (".5", Decimal("0.5")), ("1.", Decimal(1)), ("3n", Decimal("3e-9")),
    ],
)  # fmt: skip
def test_quantities_parse_exactly(text: int | str, amount: Decimal) -> None:
    assert quantity.is_quantity(text)
    assert quantity.parse(text) == amount


@pytest.mark.parametrize("text", ["lots", "-1", "+1", "1 Gi", "1ki", "e3", ".", "", "1e1000", True])
def test_what_is_not_a_quantity(text: int | str) -> None:
    assert not quantity.is_quantity(text)
    with pytest.raises(ValueError, match="quantity"):
        quantity.parse(text)
