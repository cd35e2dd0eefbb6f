"""From targets and equities to weights, drift and the transfers that restore the targets.

Transfer ids are UUIDs derived from the Allocation, the round and the legs, so a plan computed
again after a crash has the same ids, and Bybit's idempotent transferId makes a repeat a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from eternal_kernel.api.v1alpha1.strategy_params import CalendarPeriod

MASTER = "master"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Weights:
    total: Decimal
    current: dict[str, Decimal]
    drift: dict[str, Decimal]
    """|current - target| / target, per engine with a target above 0."""

    @property
    def max_drift(self) -> Decimal:
        return max(self.drift.values(), default=Decimal(0))


def shares(targets: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The targets as shares of the whole: as given, or scaled down to sum to exactly 1 when
    they sum above it. The API accepts weights summing to up to WEIGHTS_SUM_BOUND (1.000001:
    it adds them as doubles, as CEL does), and capital cannot be allocated 1.000001 times."""
    total = sum(targets.values(), Decimal(0))
    if total <= 1:
        return dict(targets)
    return {name: weight / total for name, weight in targets.items()}


def weights(targets: Mapping[str, Decimal], equities: Mapping[str, Decimal]) -> Weights:
    total = sum((equities.get(name, Decimal(0)) for name in targets), Decimal(0))
    current = {
        name: (equities.get(name, Decimal(0)) / total if total > 0 else Decimal(0))
        for name in targets
    }
    drift = {
        name: abs(current[name] - target) / target for name, target in targets.items() if target > 0
    }
    return Weights(total, current, drift)


@dataclass(frozen=True)
class Leg:
    transfer_id: str
    source: str
    target: str
    amount: Decimal


def transfer_id(allocation_uid: str, round_name: str, source: str, target: str) -> str:
    return str(
        uuid.uuid5(
            uuid.NAMESPACE_URL, f"eternal-engine/{allocation_uid}/{round_name}/{source}/{target}"
        )
    )


def rebalance(
    allocation_uid: str,
    round_name: str,
    targets: Mapping[str, Decimal],
    equities: Mapping[str, Decimal],
    minimum: Decimal = Decimal(1),
) -> list[Leg]:
    """Transfers from over- to underweight engines (largest first) that restore the targets."""
    total = sum((equities.get(name, Decimal(0)) for name in targets), Decimal(0))
    weight_sum = sum(targets.values(), Decimal(0))
    if total <= 0 or weight_sum <= 0:
        return []
    # Targets are shares of the whole; what the engines hold together is redistributed.
    gap = {n: total * t / weight_sum - equities.get(n, Decimal(0)) for n, t in targets.items()}
    surplus = {n: -g for n, g in gap.items() if g < 0}
    deficit = {n: g for n, g in gap.items() if g > 0}
    legs: list[Leg] = []
    for giver in sorted(surplus, key=lambda n: (-surplus[n], n)):
        for taker in sorted(deficit, key=lambda n: (-deficit[n], n)):
            amount = min(surplus[giver], deficit[taker]).quantize(CENT, rounding=ROUND_DOWN)
            if amount < minimum:
                continue
            leg_id = transfer_id(allocation_uid, round_name, giver, taker)
            legs.append(Leg(leg_id, giver, taker, amount))
            surplus[giver] -= amount
            deficit[taker] -= amount
    return legs


def contribution(
    allocation_uid: str, month: str, amount: Decimal, targets: Mapping[str, Decimal]
) -> list[Leg]:
    """The month's contribution from the master account, split by the target weights."""
    weight_sum = sum(targets.values(), Decimal(0))
    if amount <= 0 or weight_sum <= 0:
        return []
    return [
        Leg(transfer_id(allocation_uid, f"contribution-{month}", MASTER, name), MASTER, name,
            (amount * target / weight_sum).quantize(CENT, rounding=ROUND_DOWN))
        for name, target in sorted(targets.items())
        if target > 0
    ]  # fmt: skip


def calendar_due(period: CalendarPeriod, last: datetime | None, now: datetime) -> bool:
    """Has a calendar rebalance fallen due since `last` (the creation time if never)?"""
    if period == CalendarPeriod.NONE or last is None:
        return False
    months = 1 if period == CalendarPeriod.MONTHLY else 3
    elapsed = (now.year - last.year) * 12 + now.month - last.month
    return elapsed >= months


def raised_while_paused(
    accepted: Mapping[str, Decimal], wanted: Mapping[str, Decimal], levels: Mapping[str, int]
) -> list[str]:
    """Engines whose target the change raises while governance pauses their entries (level 2+)."""
    return sorted(
        name
        for name, weight in wanted.items()
        if weight > accepted.get(name, Decimal(0)) and levels.get(name, 0) >= 2
    )


@dataclass(frozen=True)
class Moved:
    """A completed transfer, as settlement needs it: the engines it touched and when."""

    engines: tuple[str, ...]
    at: datetime


def unsettled(moves: Iterable[Moved], measured: Mapping[str, datetime | None]) -> list[str]:
    """The engines of `measured` (the targets, with when their equity was measured) whose equity
    predates the last transfer that moved their money: weights from it would plan the same
    rebalance a second time. An engine outside the targets no longer weighs in: not waited for."""
    last: dict[str, datetime] = {}
    for move in moves:
        for engine in move.engines:
            if engine in measured:
                last[engine] = max(last.get(engine, move.at), move.at)
    return sorted(
        engine for engine, at in last.items() if (seen := measured[engine]) is None or seen <= at
    )
