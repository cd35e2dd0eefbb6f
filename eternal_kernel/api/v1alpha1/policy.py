"""The `CircuitBreakerPolicy` kind: portfolio drawdown levels, loss limits and the halt switch."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import ApiModel, Fraction, cel, rules
from .common import Conditions, DecimalString, LabelSelector
from .engine import DirectiveContent, ObjectMeta


class BreakerLevel(ApiModel):
    """One circuit-breaker level: the drawdown that trips it and what it does."""

    level: int = Field(ge=1, le=4, description="Level number, 1..4, in increasing severity.")
    drawdown: Decimal = Field(
        gt=0, lt=1, description="Portfolio drawdown from the high-water mark that trips it."
    )
    size_multiplier: Fraction = Field(
        default=Decimal("1"), description="Multiply new position sizes by this."
    )
    widen_stops: bool = Field(default=False, description="Widen stops (level 1 by default).")
    widen_stops_by: Annotated[Decimal, Field(ge=1, le=5)] = Field(
        default=Decimal("1.5"),
        description="With widenStops: stops go this many times as far from the entry as the "
        "strategy's own distance (1.5: half again as far), so a noisier market at a drawdown "
        "does not stop out what the smaller sizes still hold.",
    )
    pause_entries: bool = Field(default=False, description="Refuse new entries.")
    close_directional: bool = Field(
        default=False, description="Close directional positions and move to stables."
    )
    halt: bool = Field(
        default=False, description="Liquidate everything and halt; latched until reset."
    )


def _default_levels() -> list[BreakerLevel]:
    return [
        BreakerLevel(
            level=1, drawdown=Decimal("0.10"), size_multiplier=Decimal("0.75"), widen_stops=True
        ),
        BreakerLevel(
            level=2, drawdown=Decimal("0.15"), size_multiplier=Decimal("0.5"), pause_entries=True
        ),
        BreakerLevel(
            level=3,
            drawdown=Decimal("0.20"),
            size_multiplier=Decimal("0"),
            pause_entries=True,
            close_directional=True,
        ),
        BreakerLevel(
            level=4,
            drawdown=Decimal("0.25"),
            size_multiplier=Decimal("0"),
            pause_entries=True,
            close_directional=True,
            halt=True,
        ),
    ]


class UnknownEquity(StrEnum):
    """What an engine whose equity is stale counts as."""

    HOLD = "Hold"
    HALT = "Halt"


_LEVEL_RULES = rules(
    cel("self.map(l, l.level).isSorted()", "levels must be listed in increasing level order"),
    cel(
        "self.map(l, l.drawdown).isSorted() && "
        "self.all(a, self.exists_one(b, b.drawdown == a.drawdown))",
        "levels' drawdowns must be strictly increasing with the level",
    ),
)


class CircuitBreakerPolicySpec(ApiModel):
    """Which engines, at which drawdowns, do what; and the emergency halt switch."""

    selector: LabelSelector = Field(
        default_factory=LabelSelector,
        description="Engines this policy governs, by label; empty selects all in the namespace.",
    )
    levels: list[BreakerLevel] = Field(
        default_factory=_default_levels,
        min_length=1,
        max_length=4,
        description="Levels in increasing order of drawdown (defaults: 10/15/20/25%).",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["level"],
            **_LEVEL_RULES,
        },
    )
    daily_loss_limit: Fraction = Field(
        default=Decimal("0.05"),
        description="Portfolio loss since 00:00 UTC that pauses entries for the rest of the day.",
    )
    weekly_loss_limit: Fraction = Field(
        default=Decimal("0.10"),
        description="Portfolio loss since Monday 00:00 UTC that pauses entries for the week.",
    )
    emergency_halt: bool = Field(
        default=False,
        description="Halt every selected engine now. Latched: setting it back to false does not "
        "resume; annotate the policy with trading.eternal-engine.io/reset=<new value> to release.",
    )
    stale_after_seconds: int = Field(
        default=30, ge=1, le=3600, description="Equity older than this counts as unknown."
    )
    on_unknown: UnknownEquity = Field(
        default=UnknownEquity.HOLD,
        description="Hold (keep the last level) or Halt when an engine's equity is unknown.",
    )
    halt_deadline_seconds: int = Field(
        default=30,
        ge=1,
        le=3600,
        description="How long a runtime has to confirm flat before the operator closes for it.",
    )
    hysteresis: Fraction = Field(
        default=Decimal("0.02"),
        description="Drawdown must recover this far below a level's threshold to step down.",
    )
    cooldown_seconds: int = Field(
        default=3600, ge=0, le=604800, description="Minimum time at a level before stepping down."
    )

    @model_validator(mode="after")
    def _ordered(self) -> CircuitBreakerPolicySpec:
        numbers = [lvl.level for lvl in self.levels]
        if numbers != sorted(set(numbers)):
            raise ValueError("levels must be listed in increasing level order")
        drawdowns = [lvl.drawdown for lvl in self.levels]
        if any(a >= b for a, b in itertools.pairwise(drawdowns)):
            raise ValueError("levels' drawdowns must be strictly increasing with the level")
        if self.daily_loss_limit > self.weekly_loss_limit:
            raise ValueError("dailyLossLimit must not exceed weeklyLossLimit")
        return self


_POLICY_SPEC_RULES = rules(
    cel(
        "self.dailyLossLimit <= self.weeklyLossLimit",
        "dailyLossLimit must not exceed weeklyLossLimit",
        ".dailyLossLimit",
    )
)


class LevelChange(ApiModel):
    """One entry of the policy's history."""

    time: datetime = Field(description="When it happened.")
    from_level: int = Field(ge=0, le=4, description="Level before.")
    to_level: int = Field(ge=0, le=4, description="Level after.")
    drawdown: DecimalString = Field(description="Drawdown at the time.")
    reason: str = Field(max_length=512, description="Why.")


class CircuitBreakerPolicyStatus(ApiModel):
    """The portfolio as governance measures it; the high-water mark survives restarts."""

    observed_generation: int | None = Field(default=None, ge=0, description="Spec generation.")
    conditions: Conditions = Field(default_factory=list, description="Ready, Halted, ...")
    equity: DecimalString | None = Field(default=None, description="Portfolio equity in USDT.")
    nav_per_unit: DecimalString | None = Field(default=None, description="NAV per unit.")
    units: DecimalString | None = Field(default=None, description="Units outstanding.")
    high_water_mark: DecimalString | None = Field(
        default=None, description="Highest NAV per unit seen."
    )
    drawdown: DecimalString | None = Field(
        default=None, description="Drawdown of NAV per unit from the high-water mark, 0..1."
    )
    level: int = Field(default=0, ge=0, le=4, description="Level in force, 0..4.")
    halted: bool = Field(default=False, description="Latched halt in force.")
    halt_reason: str | None = Field(default=None, max_length=512, description="Why it halted.")
    tripped_at: datetime | None = Field(default=None, description="When the level last rose.")
    reset_token: str | None = Field(
        default=None, max_length=253, description="The reset annotation value last honoured."
    )
    history: list[LevelChange] = Field(
        default_factory=list, max_length=20, description="Recent level changes, newest last."
    )
    level_since: datetime | None = Field(default=None, description="When the level last changed.")
    refused_reset_token: str | None = Field(
        default=None, max_length=253, description="A reset annotation value that was refused."
    )
    directive_sequence: int = Field(
        default=0, ge=0, description="Sequence of the directive last issued to the engines."
    )
    recorded_sequence: int | None = Field(
        default=None,
        ge=0,
        description="Sequence of the newest directive whose records (each engine's "
        "status.governance) have all been written: a runtime reports a directive once it is "
        "here, so that the records go out first. Absent: the operator does not say, and "
        "runtimes do not wait for it.",
    )
    flows_applied: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=200,
        description="Transfer ids of contributions and withdrawals already counted in units.",
    )
    day_start: datetime | None = Field(default=None, description="Start of the loss-limit day.")
    day_open_nav: DecimalString | None = Field(default=None, description="NAV per unit then.")
    week_start: datetime | None = Field(default=None, description="Start of the loss-limit week.")
    week_open_nav: DecimalString | None = Field(default=None, description="NAV per unit then.")
    engines: list[Annotated[str, Field(max_length=253)]] = Field(
        default_factory=list, max_length=500, description="Engines the selector matches."
    )
    directive: DirectiveContent | None = Field(
        default=None,
        description="The directive this policy issues to its engines, written before the "
        "engines are told (runtimes hear a halt from here too).",
    )
    halted_engines: list[Annotated[str, Field(max_length=253)]] = Field(
        default_factory=list,
        max_length=500,
        description="While halted: every engine the halt reached. They stay halted until the "
        "reset, even if relabelled out of the selector meanwhile.",
    )
    unknown_engines: list[Annotated[str, Field(max_length=253)]] = Field(
        default_factory=list,
        max_length=500,
        description="Selected engines whose equity is stale or missing.",
    )


class CircuitBreakerPolicy(ApiModel):
    """Portfolio circuit breakers for a set of engines."""

    api_version: Literal["trading.eternal-engine.io/v1alpha1"] = (
        "trading.eternal-engine.io/v1alpha1"
    )
    kind: Literal["CircuitBreakerPolicy"] = "CircuitBreakerPolicy"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CircuitBreakerPolicySpec = Field(
        default_factory=CircuitBreakerPolicySpec,
        json_schema_extra=_POLICY_SPEC_RULES,
    )
    status: CircuitBreakerPolicyStatus | None = None
