"""The `Engine` kind: one strategy on one Bybit subaccount, run by one runtime pod."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .base import ApiModel, Fraction, cel, rules, snake
from .common import Conditions, DecimalString, Resources, SecretKeys
from .names import engine_name_problem
from .strategy_params import (
    CoreHodlParams,
    FundingParams,
    GridParams,
    MetaTrendParams,
    ScalperParams,
    StrategyParams,
    TacticalParams,
    TrendParams,
)


class Strategy(StrEnum):
    """The strategies an Engine can run."""

    CORE_HODL = "core-hodl"
    TREND = "trend"
    FUNDING = "funding"
    TACTICAL = "tactical"
    GRID = "grid"
    SCALPER = "scalper"
    META_TREND = "meta-trend"


class Venue(StrEnum):
    """Where orders go. Only `mainnet` trades real money, and only where the operator allows it."""

    SIMULATOR = "simulator"
    DEMO = "demo"
    TESTNET = "testnet"
    MAINNET = "mainnet"


class OnDelete(StrEnum):
    """What deleting the Engine does to its account before the runtime goes away."""

    CANCEL_ORDERS = "cancelOrders"
    FLATTEN = "flatten"


_PARAMS_MODELS: dict[Strategy, type[ApiModel]] = {
    Strategy.CORE_HODL: CoreHodlParams,
    Strategy.TREND: TrendParams,
    Strategy.FUNDING: FundingParams,
    Strategy.TACTICAL: TacticalParams,
    Strategy.GRID: GridParams,
    Strategy.SCALPER: ScalperParams,
    Strategy.META_TREND: MetaTrendParams,
}


Symbol = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,20}$", max_length=20)]

PARAMS_BLOCKS = {
    Strategy.CORE_HODL: "coreHodl",
    Strategy.TREND: "trend",
    Strategy.FUNDING: "funding",
    Strategy.TACTICAL: "tactical",
    Strategy.GRID: "grid",
    Strategy.SCALPER: "scalper",
    Strategy.META_TREND: "metaTrend",
}


class RiskLimits(ApiModel):
    """Hard limits the runtime checks before every order; breaching one refuses the intent."""

    max_leverage: Decimal = Field(
        default=Decimal("2"), ge=1, le=10, description="Highest leverage on any position (1..10)."
    )
    max_position_fraction: Fraction = Field(
        default=Decimal("0.5"),
        description="Largest single position's notional as a fraction of engine equity.",
    )
    max_concurrent_positions: int = Field(
        default=4, ge=1, le=100, description="Most positions open at once."
    )
    daily_loss_limit: Fraction = Field(
        default=Decimal("0.02"),
        description="Loss from the day's opening equity that stops new entries for the day.",
    )
    weekly_loss_limit: Fraction = Field(
        default=Decimal("0.05"),
        description="Loss from the week's opening equity that stops new entries for the week.",
    )
    min_signal_confidence: Fraction = Field(
        default=Decimal("0.5"), description="Signals below this confidence are not traded."
    )

    @model_validator(mode="after")
    def _daily_within_weekly(self) -> RiskLimits:
        if self.daily_loss_limit > self.weekly_loss_limit:
            raise ValueError("dailyLossLimit must not exceed weeklyLossLimit")
        return self


def _risk_default() -> RiskLimits:
    return RiskLimits()


_RISK_RULES = rules(
    cel(
        "self.dailyLossLimit <= self.weeklyLossLimit",
        "dailyLossLimit must not exceed weeklyLossLimit",
        ".dailyLossLimit",
    )
)


class EngineSpec(ApiModel):
    """What the Engine should be: Git owns this, the operator never writes it."""

    strategy: Strategy = Field(
        description="The strategy to run: core-hodl, trend, funding, tactical, grid, scalper, "
        "meta-trend."
    )
    params: StrategyParams = Field(
        default_factory=StrategyParams,
        description="Strategy parameters; only the block named after the strategy may be set.",
    )
    symbols: list[Symbol] = Field(
        min_length=1,
        max_length=20,
        description="Bybit symbols the engine trades, e.g. BTCUSDT.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    venue: Venue = Field(
        default=Venue.SIMULATOR,
        description="simulator (the paper venue, the default), demo, testnet or mainnet "
        "(real money).",
    )
    subaccount: str = Field(
        min_length=1,
        max_length=20,
        pattern=r"^[A-Za-z0-9]+$",
        description="The Bybit subaccount the engine trades in: its UID (digits), or its "
        "username (6-16 letters and digits, with at least one of each, as Bybit requires).",
    )
    credentials: SecretKeys | None = Field(
        default=None,
        description="The Secret holding this subaccount's API key; required for every venue "
        "but simulator, where the operator provisions keys.",
    )
    risk: RiskLimits = Field(
        default_factory=_risk_default,
        description="Hard risk limits checked before every order.",
        json_schema_extra=_RISK_RULES,
    )
    suspend: bool = Field(
        default=False,
        description="Cancel open orders and scale the runtime to zero; false brings it back.",
    )
    on_delete: OnDelete = Field(
        default=OnDelete.CANCEL_ORDERS,
        description="On deletion: cancelOrders (keep positions) or flatten (close them too).",
    )
    image: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        pattern=r"^[^\s]+$",
        description="Runtime image (no whitespace); the operator's default when unset.",
    )
    resources: Resources = Field(
        default_factory=Resources, description="CPU and memory for the runtime container."
    )

    @model_validator(mode="after")
    def _consistent(self) -> EngineSpec:
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("spec.symbols lists a symbol more than once")
        for strategy, block in PARAMS_BLOCKS.items():
            if getattr(self.params, snake(block)) is not None and self.strategy != strategy:
                raise ValueError(
                    f"spec.params.{block} is only valid with strategy {strategy.value}"
                )
        if not valid_subaccount(self.subaccount):
            raise ValueError("subaccount must be a UID or a 6-16 letter-and-digit username")
        if self.venue is not Venue.SIMULATOR and self.credentials is None:
            raise ValueError(
                f"spec.credentials.secretName is required for venue {self.venue.value}"
            )
        return self

    def strategy_params(self) -> Any:
        """The parameters block of this engine's strategy, defaulted when the spec omits it."""
        block = getattr(self.params, snake(PARAMS_BLOCKS[self.strategy]))
        return block if block is not None else _PARAMS_MODELS[self.strategy]()


SUBACCOUNT_RULE = (
    "self.subaccount.matches('^[0-9]+$') || (self.subaccount.matches('^[A-Za-z0-9]{6,16}$') "
    "&& self.subaccount.matches('[A-Za-z]') && self.subaccount.matches('[0-9]'))"
)


def valid_subaccount(value: str) -> bool:
    """Bybit's rule, as SUBACCOUNT_RULE states it in CEL."""
    if value.isdigit():
        return True
    return (
        6 <= len(value) <= 16
        and value.isalnum()
        and any(c.isalpha() for c in value)
        and any(c.isdigit() for c in value)
    )


_SPEC_RULES = rules(
    *(
        cel(
            f"!has(self.params.{block}) || self.strategy == '{strategy.value}'",
            f"spec.params.{block} is only valid with strategy {strategy.value}",
            f".params.{block}",
        )
        for strategy, block in PARAMS_BLOCKS.items()
    ),
    cel(
        SUBACCOUNT_RULE,
        "subaccount must be a UID (digits) or a Bybit username: 6-16 letters and digits "
        "with at least one letter and one digit",
        ".subaccount",
    ),
    cel(
        "self.venue != 'mainnet' || has(self.credentials)",
        "a mainnet Engine trades real money and must name its credentials Secret "
        "in spec.credentials.secretName",
        ".credentials",
    ),
    cel(
        "self.venue == 'simulator' || self.venue == 'mainnet' || has(self.credentials)",
        "spec.credentials.secretName is required for the demo and testnet venues",
        ".credentials",
    ),
)


class Phase(StrEnum):
    """The one-word summary of an Engine's state."""

    PENDING = "Pending"
    STARTING = "Starting"
    RUNNING = "Running"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    HALTING = "Halting"
    HALTED = "Halted"
    FAILED = "Failed"


class PositionReport(ApiModel):
    """One open position as the runtime last saw it."""

    symbol: Symbol = Field(description="Symbol.")
    category: Literal["spot", "linear"] = Field(description="spot or linear.")
    side: Literal["Buy", "Sell"] = Field(description="Buy (long) or Sell (short).")
    size: DecimalString = Field(description="Position size in base coin.")
    entry_price: DecimalString = Field(description="Average entry price.")
    unrealized_pnl: DecimalString = Field(description="Unrealized PnL in USDT.")


class RuntimeStartError(ApiModel):
    """A runtime that could not start says why before it exits."""

    message: str = Field(max_length=1024, description="What stopped the start.")
    time: datetime = Field(description="When.")


class RuntimeReport(ApiModel):
    """What the runtime reports every few seconds (written by the runtime only)."""

    equity: DecimalString | None = Field(default=None, description="Equity in USDT.")
    cash: DecimalString | None = Field(default=None, description="Free USDT.")
    day_pnl: DecimalString | None = Field(default=None, description="PnL since 00:00 UTC.")
    drawdown: DecimalString | None = Field(
        default=None, description="The engine's drawdown from its own high-water mark (0..1)."
    )
    positions: list[PositionReport] = Field(
        default_factory=list, max_length=100, description="Open positions."
    )
    open_orders: int = Field(default=0, ge=0, description="Open orders on the venue.")
    heartbeat: datetime | None = Field(default=None, description="When the runtime last reported.")
    applied_directive: int | None = Field(
        default=None, ge=0, description="The governance directive sequence the runtime obeys."
    )
    flat: bool | None = Field(
        default=None, description="True once no position and no order remain (after a halt)."
    )
    venue_connected: bool | None = Field(
        default=None, description="Whether the venue's REST and private stream are reachable."
    )
    shutdown_done_at: datetime | None = Field(
        default=None,
        description="When the runtime finished the shutdown in status.shutdown: orders cancelled, "
        "and positions closed if it asked for flatten.",
    )
    last_error: str | None = Field(default=None, max_length=1024, description="Last error seen.")
    residue: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list,
        max_length=20,
        description="What a flatten could not close, and why (below the venue's minimum, no "
        "market to sell on): reported, never hidden.",
    )
    entries_paused: str | None = Field(
        default=None,
        max_length=1024,
        description="Why the runtime paused its own entries (a strategy's kill switch, e.g. "
        "meta-trend's API errors or low model confidence); unset while it takes entries. It "
        "lasts until the runtime restarts.",
    )
    start_error: RuntimeStartError | None = Field(
        default=None,
        description="Why the runtime could not start (a symbol the venue does not list, a key "
        "it refuses); cleared by the first report of a runtime that started.",
    )


class ShutdownReason(StrEnum):
    SUSPEND = "Suspend"
    DELETE = "Delete"


class ShutdownRequest(ApiModel):
    """What the operator asks of the runtime before it scales it away (written by the operator).

    The runtime cancels its open orders (and closes positions if `flatten`), then sets
    status.runtime.shutdownDoneAt. Past the deadline, or with no live runtime, the operator does
    the same through the venue itself.
    """

    reason: ShutdownReason = Field(description="Suspend or Delete.")
    flatten: bool = Field(default=False, description="Close positions too, not just orders.")
    requested_at: datetime = Field(description="When the operator asked.")
    completed_at: datetime | None = Field(default=None, description="When it was done.")
    completed_by: Literal["runtime", "operator"] | None = Field(
        default=None, description="Who did it: the runtime, or the operator through the venue."
    )


class AllocationReport(ApiModel):
    """The capital the Allocation gives this engine (written by the allocation controller)."""

    allocation: str | None = Field(default=None, max_length=253, description="Allocation name.")
    target_weight: DecimalString | None = Field(default=None, description="Target share, 0..1.")
    target_capital: DecimalString | None = Field(default=None, description="Target USDT.")
    current_weight: DecimalString | None = Field(default=None, description="Current share.")


class DirectiveContent(ApiModel):
    """What a CircuitBreakerPolicy tells each of its engines (published in the policy's status,
    and written into every engine's `status.governance`)."""

    sequence: int = Field(
        default=0, ge=0, description="Increases with every new directive of the issuing policy."
    )
    level: int = Field(default=0, ge=0, le=4, description="Circuit-breaker level 0..4.")
    size_multiplier: Fraction = Field(
        default=Decimal("1"), description="Multiply every new position size by this."
    )
    entries_paused: bool = Field(default=False, description="No new entries.")
    close_directional: bool = Field(default=False, description="Close directional positions.")
    halt: bool = Field(default=False, description="Cancel everything, flatten, stop trading.")
    stop_multiplier: Annotated[Decimal, Field(ge=1, le=5)] = Field(
        default=Decimal("1"),
        description="Place stops this many times as far as the strategy's own distance "
        "(a level that widens stops says how much; 1: unchanged).",
    )
    reason: str | None = Field(default=None, max_length=1024, description="Why.")
    issued_at: datetime | None = Field(default=None, description="When it was issued.")


class GovernanceDirective(DirectiveContent):
    """The directive in force, written by governance only (the API server refuses anyone
    else); the runtime obeys it within a second."""

    policy: str | None = Field(default=None, max_length=253, description="Issuing policy.")
    halted_at: datetime | None = Field(
        default=None,
        description="When this engine was first told to halt in the halt now in force: the "
        "operator's deadline for a confirmed flat account counts from here.",
    )
    runtime_stopped: bool = Field(
        default=False,
        description="The runtime did not confirm flat in time, or the venue showed the account "
        "not flat: the operator closed everything through the venue itself and scaled the "
        "runtime to zero.",
    )
    verified_flat_at: datetime | None = Field(
        default=None,
        description="When the operator itself saw the halted account flat on the venue.",
    )
    conflicts: list[Annotated[str, Field(max_length=253)]] = Field(
        default_factory=list,
        max_length=16,
        description="Other policies that select this engine too: one engine should have one "
        "policy; meanwhile the most restrictive directive is the one written here.",
    )


class EngineStatus(ApiModel):
    """What the Engine is: each part has one writer (operator, runtime, allocation, governance)."""

    phase: Phase | None = Field(default=None, description="One-word summary.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The spec generation the operator last acted on."
    )
    conditions: Conditions = Field(
        default_factory=list,
        description="Ready, VenueConnected, RiskLimitsOk, Halted, with typed reasons.",
    )
    runtime: RuntimeReport | None = Field(default=None, description="Reported by the runtime.")
    allocation: AllocationReport | None = Field(
        default=None, description="Given by the allocation controller."
    )
    governance: GovernanceDirective | None = Field(
        default=None, description="The governance directive in force."
    )
    shutdown: ShutdownRequest | None = Field(
        default=None, description="A shutdown the operator asked of the runtime, if any."
    )
    credentials_secret: str | None = Field(
        default=None, max_length=253, description="The Secret the runtime's API key comes from."
    )


class ObjectMeta(ApiModel):
    """The parts of metadata this project reads; everything else passes through untouched."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = None
    uid: str | None = None


class Engine(ApiModel):
    """A trading engine: one strategy on one Bybit subaccount, run by one runtime pod."""

    api_version: Literal["trading.eternal-engine.io/v1alpha1"] = (
        "trading.eternal-engine.io/v1alpha1"
    )
    kind: Literal["Engine"] = "Engine"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: EngineSpec = Field(json_schema_extra=_SPEC_RULES)
    status: EngineStatus | None = None

    @model_validator(mode="after")
    def _buildable_name(self) -> Engine:
        # The CRD checks metadata.name too (names.ENGINE_NAME_RULE); unnamed models (specs
        # parsed on their own) have nothing to check.
        if self.metadata.name is not None and (problem := engine_name_problem(self.metadata.name)):
            raise ValueError(problem)
        return self
