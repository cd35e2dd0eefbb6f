"""The `Allocation` kind: each engine's share of capital, edited through Git, and rebalancing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from .base import WEIGHTS_SUM_RULE, ApiModel, Fraction, cel, rules, weights_within_bound
from .common import Conditions, DecimalString, EngineName, SecretKeys
from .engine import ObjectMeta
from .strategy_params import CalendarPeriod


class AllocationTarget(ApiModel):
    """One engine's target share of the portfolio."""

    engine: EngineName = Field(description="Name of an Engine in the same namespace.")
    weight: Fraction = Field(description="Target share of portfolio capital, 0..1.")


class AllocationSpec(ApiModel):
    """Target weights and how rebalancing between subaccounts is triggered."""

    targets: list[AllocationTarget] = Field(
        min_length=1,
        max_length=50,
        description="Target weight per engine; the weights sum to at most 1 (the rest is cash "
        "kept in the master account).",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["engine"],
            **rules(cel(WEIGHTS_SUM_RULE, "targets weights must sum to at most 1")),
        },
    )
    drift_threshold: Fraction = Field(
        default=Decimal("0.10"),
        description="Rebalance when any engine's weight is this far from its target, relative "
        "to the target (0.10 = 10% of the target weight).",
    )
    calendar_fallback: CalendarPeriod = Field(
        default=CalendarPeriod.QUARTERLY,
        description="Rebalance at least this often even when drift stays under the threshold.",
    )
    monthly_contribution: Decimal = Field(
        default=Decimal("0"),
        ge=0,
        le=Decimal("1000000000"),
        description="USDT added each month, split across engines by their target weights.",
    )
    master_credentials: SecretKeys | None = Field(
        default=None,
        description="The Secret with the master account's API key, used for transfers between "
        "subaccounts; without it transfers are planned but not executed.",
    )

    @model_validator(mode="after")
    def _targets_valid(self) -> AllocationSpec:
        names = [t.engine for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError("targets name an engine more than once")
        if not weights_within_bound(t.weight for t in self.targets):
            raise ValueError("targets weights must sum to at most 1")
        return self


class TransferState(StrEnum):
    PLANNED = "Planned"
    PENDING = "Pending"
    SUCCESS = "Success"
    FAILED = "Failed"


class TransferRecord(ApiModel):
    """A transfer between subaccounts, identified by its idempotent transferId."""

    transfer_id: str = Field(max_length=64, description="Idempotent Bybit transferId (a UUID).")
    from_engine: str = Field(max_length=253, description="Engine (or 'master') giving USDT.")
    to_engine: str = Field(max_length=253, description="Engine (or 'master') receiving USDT.")
    coin: Literal["USDT"] = Field(default="USDT", description="Coin transferred.")
    amount: DecimalString = Field(description="Amount transferred.")
    state: TransferState = Field(description="Planned, Pending, Success or Failed.")
    reason: str | None = Field(default=None, max_length=512, description="Why it failed.")
    time: datetime | None = Field(default=None, description="When the state last changed.")


class EngineWeight(ApiModel):
    """One engine's current share, from its reported equity."""

    engine: str = Field(max_length=253, description="Engine name.")
    equity: DecimalString | None = Field(default=None, description="Reported equity in USDT.")
    weight: DecimalString | None = Field(default=None, description="Current share, 0..1.")
    drift: DecimalString | None = Field(default=None, description="Relative drift from target.")


class AllocationStatus(ApiModel):
    """Observed weights, drift and the transfers that rebalancing planned and executed."""

    observed_generation: int | None = Field(default=None, ge=0, description="Spec generation.")
    conditions: Conditions = Field(default_factory=list, description="Ready, Rebalancing, ...")
    total_equity: DecimalString | None = Field(default=None, description="Sum of equities.")
    current_weights: list[EngineWeight] = Field(
        default_factory=list, max_length=50, description="Current weight per engine."
    )
    max_drift: DecimalString | None = Field(default=None, description="Largest relative drift.")
    last_rebalance: datetime | None = Field(default=None, description="Last completed rebalance.")
    last_contribution: datetime | None = Field(
        default=None, description="When the last monthly contribution was split."
    )
    transfers: list[TransferRecord] = Field(
        default_factory=list,
        max_length=100,
        description="Transfers of the current and recent rebalances, newest last.",
    )
    accepted_targets: list[AllocationTarget] = Field(
        default_factory=list,
        max_length=50,
        description="The targets in force: a change refused by governance leaves these.",
    )
    rebalance_round: int = Field(default=0, ge=0, description="Rebalances planned so far.")
    contribution_month: str | None = Field(
        default=None, max_length=7, description="The last month (YYYY-MM) contributed for."
    )


class Allocation(ApiModel):
    """Capital allocation across engines."""

    api_version: Literal["trading.eternal-engine.io/v1alpha1"] = (
        "trading.eternal-engine.io/v1alpha1"
    )
    kind: Literal["Allocation"] = "Allocation"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AllocationSpec
    status: AllocationStatus | None = None
