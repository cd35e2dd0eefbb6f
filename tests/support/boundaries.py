"""Objects at the edge of a rule, which the API server and the models must decide alike (both
accept, or both refuse): the unit tests check the models, the cluster tests the real server,
against this one table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from support.malformed import ALLOC, ENGINE, POLICY, edit, named


@dataclass(frozen=True)
class Boundary:
    """An object at the edge of a rule: the API server and the models must both accept it, or
    both refuse it. Numbers given as Decimal go on the wire as written (`to_json`)."""

    id: str
    manifest: dict[str, Any]
    accepted: bool


def _weights(*weights: Any) -> list[dict[str, Any]]:
    return [{"engine": f"e{i}", "weight": w} for i, w in enumerate(weights)]


def _resources(**limits: Any) -> dict[str, Any]:
    return {"limits": limits}


QUANTITY_EDGES: list[tuple[Any, bool]] = [
    ("1.", True), (".5", True), ("1e3", True), ("1E-3", True), ("1.5Gi", True), (2, True),
    ("0", True), ("1n", True), ("e3", False), (".", False), ("+1", False), ("-0", False),
    ("1Ki ", False), ("1e1000", False), ("0x10", False),
]  # fmt: skip

BOUNDARIES: list[Boundary] = [
    # Weights: CEL adds doubles in list order against 1.000001, and so do the models.
    Boundary(
        "sample-weights", edit(ALLOC, "spec.targets", _weights(0.6, 0.2, 0.15, 0.05), "w1"), True
    ),
    Boundary(
        "weights-one-in-decimals-above-one-in-doubles",
        edit(ALLOC, "spec.targets", _weights(0.05, 0.55, 0.3, 0.1), "w2"),
        True,
    ),
    Boundary(
        "weights-1.0000009",
        edit(ALLOC, "spec.targets", _weights(0.6, 0.2, 0.15, 0.0500009), "w3"),
        True,
    ),
    Boundary(
        "weights-1.0000011", edit(ALLOC, "spec.targets", _weights(0.5, 0.5000011), "w4"), False
    ),
    Boundary(
        "weights-at-the-bound-in-decimals-above-it-in-doubles",
        edit(ALLOC, "spec.targets", _weights(0.5, 0.500001), "w7"),
        False,
    ),
    Boundary("integer-weights", edit(ALLOC, "spec.targets", _weights(1, 0), "w5"), True),
    Boundary("ten-tenths", edit(ALLOC, "spec.targets", _weights(*[0.1] * 10), "w6"), True),
    # Decimals longer than a double: the server compares the double, so do the models.
    Boundary(
        "daily-limit-a-hair-above-weekly",
        edit(ENGINE, "spec.risk.dailyLossLimit", Decimal("0.05000000000000000001"), "d1"),
        True,
    ),
    Boundary(
        "leverage-a-hair-above-ten",
        edit(ENGINE, "spec.risk.maxLeverage", Decimal("10.0000000000000000001"), "d2"),
        True,
    ),
    Boundary(
        "drawdown-a-hair-below-one",
        edit(POLICY, "spec.levels.3.drawdown", Decimal("0.99999999999999999999"), "d3"),
        False,
    ),
    Boundary(
        "drawdowns-equal-as-doubles",
        edit(POLICY, "spec.levels.1.drawdown", Decimal("0.10000000000000000001"), "d4"),
        False,
    ),
    # An integral number where an integer goes: read as the integer by both.
    Boundary(
        "integer-written-4.0",
        edit(ENGINE, "spec.risk.maxConcurrentPositions", Decimal("4.0"), "i1"),
        True,
    ),
    Boundary(
        "integer-written-4.5",
        edit(ENGINE, "spec.risk.maxConcurrentPositions", Decimal("4.5"), "i2"),
        False,
    ),
    # Names at the limit.
    Boundary("name-of-55-characters", named(ENGINE, "e" * 55), True),
    Boundary("name-with-digits-and-dashes", named(ENGINE, "trend-2-b"), True),
    # Quantities: the models' grammar is a subset of Kubernetes' and the CEL rule asks both.
    *(
        Boundary(f"quantity-{i}", edit(ENGINE, "spec.resources", _resources(memory=q), f"q{i}"), ok)
        for i, (q, ok) in enumerate(QUANTITY_EDGES)
    ),
    Boundary(
        "request-equal-to-limit-in-other-units",
        edit(ENGINE, "spec.resources", {"requests": {"cpu": 1}, "limits": {"cpu": "1000m"}}, "r1"),
        True,
    ),
    Boundary(
        "request-a-millicore-above-limit",
        edit(ENGINE, "spec.resources", {"requests": {"cpu": "1001m"}, "limits": {"cpu": 1}}, "r2"),
        False,
    ),
]


def to_json(obj: Any) -> str:
    """JSON with Decimals written as the numbers they are (not as doubles)."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_json(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ", ".join(to_json(v) for v in obj) + "]"
    return json.dumps(obj)
