"""Typed parameters of each strategy: `Engine.spec.params.<strategy>`.

The API server validates them through the generated CRD schema, and the strategies receive them
as these frozen models, so the live runtime and the backtester read one definition.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from .base import WEIGHTS_SUM_RULE, ApiModel, Fraction, cel, rules, weights_within_bound
from .markets import KlineInterval as KlineInterval
from .markets import MarketCategory as MarketCategory
from .meta_trend_params import MODEL_DIR_ENV as MODEL_DIR_ENV
from .meta_trend_params import MODEL_MOUNT_PATH as MODEL_MOUNT_PATH
from .meta_trend_params import MetaTrendParams as MetaTrendParams


class CalendarPeriod(StrEnum):
    """How often a calendar rebalance falls due when drift alone has not triggered one."""

    NONE = "none"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


Asset = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$", max_length=10)]


class AssetWeight(ApiModel):
    """One asset of a target mix and its share of the engine's capital."""

    asset: Asset = Field(description="Base coin, e.g. BTC.")
    weight: Fraction = Field(description="Share of the engine's capital, 0..1.")


def _core_hodl_targets() -> list[AssetWeight]:
    return [
        AssetWeight(asset="BTC", weight=Decimal("0.6667")),
        AssetWeight(asset="ETH", weight=Decimal("0.3333")),
    ]


class CoreHodlParams(ApiModel):
    """CORE-HODL: hold a fixed spot mix, rebalance on drift or on the calendar, maker-only."""

    targets: list[AssetWeight] = Field(
        default_factory=_core_hodl_targets,
        min_length=1,
        max_length=10,
        description="Target mix of spot assets; weights sum to at most 1 (the rest stays in USDT).",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["asset"],
            **rules(cel(WEIGHTS_SUM_RULE, "targets weights must sum to at most 1")),
        },
    )
    drift_threshold: Fraction = Field(
        default=Decimal("0.10"),
        description="Relative drift of any asset from its target weight that triggers a rebalance.",
    )
    calendar_rebalance: CalendarPeriod = Field(
        default=CalendarPeriod.QUARTERLY,
        description="Calendar fallback: rebalance at least this often even without drift.",
    )
    maker_only: bool = Field(
        default=True,
        description="Place PostOnly limit orders only, re-priced when they would cross.",
    )
    limit_offset: Decimal = Field(
        default=Decimal("0.0005"),
        ge=0,
        le=Decimal("0.05"),
        description=(
            "Distance of a maker limit order from the last price (0.0005 = 5 bps): buys below, "
            "sells above. Orders not filled by the next bar are cancelled and re-priced."
        ),
    )
    min_order_notional: Decimal = Field(
        default=Decimal("10"),
        ge=0,
        le=Decimal("100000"),
        description="Smallest order (USDT) worth placing; smaller rebalancing gaps are left alone.",
    )

    @model_validator(mode="after")
    def _weights_sum(self) -> CoreHodlParams:
        assets = [t.asset for t in self.targets]
        if len(set(assets)) != len(assets):
            raise ValueError("targets name an asset more than once")
        if not weights_within_bound(t.weight for t in self.targets):
            raise ValueError("targets weights must sum to at most 1")
        return self


class TrendParams(ApiModel):
    """TREND: SMA50/SMA200 with ADX filter on perpetuals, ATR trailing stop."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel("self.smaFast < self.smaSlow", "smaFast must be shorter than smaSlow", ".smaFast")
        )
    )

    interval: KlineInterval = Field(default=KlineInterval.D1, description="Candle interval.")
    sma_fast: int = Field(default=50, ge=2, le=1000, description="Fast SMA period (bars).")
    sma_slow: int = Field(default=200, ge=3, le=2000, description="Slow SMA period (bars).")
    adx_period: int = Field(default=14, ge=2, le=200, description="ADX period (bars).")
    adx_threshold: Decimal = Field(
        default=Decimal("25"), ge=0, le=100, description="Minimum ADX for an entry."
    )
    atr_period: int = Field(default=14, ge=2, le=200, description="ATR period (bars).")
    atr_stop_multiple: Decimal = Field(
        default=Decimal("3"), gt=0, le=20, description="Trailing stop distance in ATRs."
    )
    risk_per_trade: Fraction = Field(
        default=Decimal("0.01"), description="Fraction of the subaccount risked per trade."
    )
    max_asset_fraction: Fraction = Field(
        default=Decimal("0.5"), description="Largest notional per asset, as a fraction of equity."
    )
    leverage: Decimal = Field(default=Decimal("2"), ge=1, le=10, description="Leverage used.")
    allow_short: bool = Field(default=True, description="Take the mirrored short entries.")
    kelly_fraction: Fraction = Field(
        default=Decimal("0.125"),
        description="Fraction of full Kelly used by position sizing (0.125 = 1/8 Kelly).",
    )
    kelly_min_trades: int = Field(
        default=20,
        ge=1,
        le=10000,
        description="Closed trades recorded before Kelly sizing applies (until then: risk only).",
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> TrendParams:
        if self.sma_fast >= self.sma_slow:
            raise ValueError("smaFast must be shorter than smaSlow")
        return self


class FundingParams(ApiModel):
    """FUNDING: delta-neutral spot long plus perp short, harvesting positive funding."""

    entry_rate: Decimal = Field(
        default=Decimal("0.0001"),
        ge=0,
        le=Decimal("0.01"),
        description="Predicted funding per 8h above which an entry is considered (0.0001 = 0.01%).",
    )
    entry_periods: int = Field(
        default=2, ge=1, le=30, description="Consecutive periods above entryRate before entering."
    )
    max_premium: Fraction = Field(
        default=Decimal("0.02"), description="Exit when the perp premium over spot exceeds this."
    )
    max_hold_days: int = Field(default=14, ge=1, le=365, description="Exit after this many days.")
    reinvest_fraction: Fraction = Field(
        default=Decimal("0.5"), description="Share of funding income added back to the position."
    )
    rehedge_threshold: Fraction = Field(
        default=Decimal("0.02"), description="Leg mismatch (relative) that triggers a re-hedge."
    )
    deploy_fraction: Fraction = Field(
        default=Decimal("0.9"),
        description=(
            "Share of the engine's equity committed to spot legs, split evenly over the symbols; "
            "the rest stays in USDT as margin buffer for the perp legs."
        ),
    )
    min_order_notional: Decimal = Field(
        default=Decimal("10"),
        ge=0,
        le=Decimal("100000"),
        description="Smallest reinvestment or re-hedge order (USDT) worth placing.",
    )


class TacticalParams(ApiModel):
    """TACTICAL: dry powder deployed into deep drawdowns, returned to CORE-HODL on recovery."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "self.firstTrancheDrawdown < self.secondTrancheDrawdown",
                "firstTrancheDrawdown must be smaller than secondTrancheDrawdown",
                ".firstTrancheDrawdown",
            )
        )
    )

    first_tranche_drawdown: Fraction = Field(
        default=Decimal("0.5"), description="BTC drawdown from its high that deploys tranche one."
    )
    second_tranche_drawdown: Fraction = Field(
        default=Decimal("0.7"), description="BTC drawdown from its high that deploys the rest."
    )
    first_tranche_fraction: Fraction = Field(
        default=Decimal("0.5"), description="Share of the cash deployed by tranche one."
    )
    fear_greed_threshold: int = Field(
        default=20, ge=0, le=100, description="Fear & Greed index below which tranche one deploys."
    )
    funding_threshold: Decimal = Field(
        default=Decimal("-0.0005"),
        le=0,
        ge=Decimal("-0.01"),
        description="Funding per 8h below which (for fundingDays) tranche one deploys.",
    )
    funding_days: int = Field(default=3, ge=1, le=30, description="Days of negative funding.")
    btc_weight: Fraction = Field(
        default=Decimal("0.8"), description="BTC share of deployments; the rest goes to ETH."
    )
    take_profit: Decimal = Field(
        default=Decimal("1.0"), gt=0, le=100, description="Exit at this gain (1.0 = +100%)."
    )
    max_hold_months: int = Field(default=12, ge=1, le=120, description="Exit after this long.")

    @model_validator(mode="after")
    def _tranches_ordered(self) -> TacticalParams:
        if self.first_tranche_drawdown >= self.second_tranche_drawdown:
            raise ValueError("firstTrancheDrawdown must be smaller than secondTrancheDrawdown")
        return self


class GridSpacing(StrEnum):
    """How the distance between two levels is set."""

    PERCENT = "percent"
    ATR = "atr"


GRID_LEVELS_RULE = "double(self.levels) * self.spacingPct < 1.0"
GRID_LIMITS_RULE = "self.maxInventory <= self.maxExposure"


class GridParams(ApiModel):
    """GRID: a ladder of PostOnly limits around a centre, each fill answered one level away."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                GRID_LEVELS_RULE,
                "levels x spacingPct must stay below 1 (the lowest buy above zero)",
                ".spacingPct",
            ),
            cel(GRID_LIMITS_RULE, "maxInventory must not exceed maxExposure", ".maxInventory"),
        )
    )

    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,20}$", max_length=20)] = Field(
        default="BTCUSDT", description="The market, unless spec.symbols names one."
    )
    category: MarketCategory = Field(
        default=MarketCategory.SPOT, description="spot (sells only from inventory) or linear."
    )
    interval: KlineInterval = Field(default=KlineInterval.M1, description="Candle interval.")
    levels: int = Field(default=5, ge=1, le=50, description="Levels per side of the centre.")
    spacing: GridSpacing = Field(
        default=GridSpacing.PERCENT, description="percent (spacingPct) or atr (atrMultiple)."
    )
    spacing_pct: Decimal = Field(
        default=Decimal("0.005"),
        gt=0,
        le=Decimal("0.2"),
        description="Distance between levels as a fraction of the centre (spacing percent).",
    )
    atr_multiple: Decimal = Field(
        default=Decimal("1"), gt=0, le=20, description="Distance in ATRs (spacing atr)."
    )
    atr_period: int = Field(default=14, ge=2, le=500, description="ATR period (bars).")
    budget_fraction: Fraction = Field(
        default=Decimal("0.8"),
        description="Share of equity the full ladder commits; each level gets 1/(2 x levels).",
    )
    max_inventory: Fraction = Field(
        default=Decimal("0.5"),
        description="Largest position per side, as a fraction of equity: no more levels on "
        "that side beyond it.",
    )
    max_exposure: Fraction = Field(
        default=Decimal("0.8"),
        description="Largest position plus working orders that add to it, as a fraction of "
        "equity: no new orders beyond it.",
    )
    leverage: Decimal = Field(default=Decimal("1"), ge=1, le=10, description="Linear leverage.")
    recentre_margin: Fraction = Field(
        default=Decimal("0.02"),
        description="Recentre when the price is this far beyond the outermost level.",
    )
    max_age_hours: int = Field(
        default=24, ge=1, le=720, description="Recentre a ladder at least this often."
    )
    dominance_fraction: Decimal = Field(
        default=Decimal("0.8"),
        ge=Decimal("0.5"),
        le=1,
        description="Recentre when the price stayed on one side of the centre this share of "
        "dominanceHours.",
    )
    dominance_hours: int = Field(
        default=10, ge=1, le=168, description="The window of the one-side rule (hours)."
    )
    pump_move: Fraction = Field(
        default=Decimal("0.05"), description="Recentre on a move this large within pumpMinutes."
    )
    pump_minutes: int = Field(
        default=60, ge=1, le=1440, description="The window of the pump/dump rule (minutes)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> GridParams:
        if float(self.levels) * float(self.spacing_pct) >= 1.0:
            raise ValueError("levels x spacingPct must stay below 1 (the lowest buy above zero)")
        if self.max_inventory > self.max_exposure:
            raise ValueError("maxInventory must not exceed maxExposure")
        return self


class ScalperMomentum(StrEnum):
    """The 1-minute candle indicator that must agree with a scalper entry's direction."""

    RSI = "rsi"
    EMA = "ema"
    NONE = "none"


class ExitUnit(StrEnum):
    """What the scalper's take-profit and stop-loss distances count."""

    TICKS = "ticks"
    ATR = "atr"


class ScalperParams(ApiModel):
    """SCALPER: order-book imbalance with a tape volume spike, maker entries, quick exits."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "self.entryTimeoutSeconds < self.maxHoldingSeconds",
                "entryTimeoutSeconds must be shorter than maxHoldingSeconds",
                ".entryTimeoutSeconds",
            ),
            cel(
                "self.volumeWindowSeconds * self.volumeBaselineWindows <= 86400",
                "the volume baseline (volumeWindowSeconds x volumeBaselineWindows) spans at "
                "most a day",
                ".volumeBaselineWindows",
            ),
            cel(
                "self.stopLoss < self.takeProfit * 10.0",
                "stopLoss must be less than 10 times takeProfit",
                ".stopLoss",
            ),
        )
    )

    imbalance_levels: int = Field(
        default=5, ge=1, le=50, description="Book levels per side summed for the imbalance."
    )
    imbalance_threshold: Decimal = Field(
        default=Decimal("1.5"),
        gt=1,
        le=100,
        description="Bid/ask volume ratio over imbalanceLevels for a long (ask/bid for a short).",
    )
    volume_window_seconds: int = Field(
        default=60, ge=1, le=3600, description="Window of the tape's traded volume."
    )
    volume_baseline_windows: int = Field(
        default=10,
        ge=2,
        le=1440,
        description="Completed windows whose mean volume is the baseline of a spike.",
    )
    volume_spike_multiple: Decimal = Field(
        default=Decimal("3"),
        ge=1,
        le=100,
        description="Volume in the last window over the baseline mean that counts as a spike.",
    )
    max_spread_bps: Decimal = Field(
        default=Decimal("5"),
        gt=0,
        le=1000,
        description="No entry when the spread is wider than this (basis points of the mid).",
    )
    momentum: ScalperMomentum = Field(
        default=ScalperMomentum.RSI,
        description="Confirmation on the 1-minute candles: rsi, ema (close against it) or none.",
    )
    rsi_period: int = Field(default=14, ge=2, le=200, description="RSI period (bars).")
    rsi_threshold: Decimal = Field(
        default=Decimal("50"),
        ge=50,
        le=100,
        description="RSI at or above which a long is confirmed (at or below 100 - it: a short).",
    )
    ema_period: int = Field(default=9, ge=2, le=500, description="EMA period (bars).")
    entry_timeout_seconds: int = Field(
        default=10,
        ge=1,
        le=3600,
        description="A PostOnly entry at the touch not filled within this is cancelled.",
    )
    exit_unit: ExitUnit = Field(
        default=ExitUnit.TICKS, description="Unit of takeProfit and stopLoss: ticks or atr."
    )
    take_profit: Decimal = Field(
        default=Decimal("20"),
        gt=0,
        le=100000,
        description="Take-profit distance from the entry, in exitUnit (ticks, or ATR multiples).",
    )
    stop_loss: Decimal = Field(
        default=Decimal("10"),
        gt=0,
        le=100000,
        description="Stop-loss distance from the entry, in exitUnit (ticks, or ATR multiples).",
    )
    atr_period: int = Field(default=14, ge=2, le=200, description="ATR period (1-minute bars).")
    tick_size: Decimal = Field(
        default=Decimal("0.1"),
        gt=0,
        le=1000,
        description="Price tick the tick distances count (Bybit's BTCUSDT tick: 0.1).",
    )
    max_holding_seconds: int = Field(
        default=300, ge=1, le=86400, description="A position still open after this is closed."
    )
    cooldown_seconds: int = Field(
        default=120, ge=0, le=86400, description="No entry on a symbol for this long after a loss."
    )
    allow_short: bool = Field(default=True, description="Take the mirrored short entries.")
    risk_per_trade: Fraction = Field(
        default=Decimal("0.005"), description="Fraction of the subaccount lost at the stop."
    )
    max_position_fraction: Fraction = Field(
        default=Decimal("0.2"), description="Largest position notional as a fraction of equity."
    )
    kelly_fraction: Fraction = Field(
        default=Decimal("0.125"), description="Fraction of full Kelly used by position sizing."
    )
    kelly_min_trades: int = Field(
        default=20,
        ge=1,
        le=10000,
        description="Closed trades recorded before Kelly sizing applies (until then: risk only).",
    )

    @model_validator(mode="after")
    def _cross_checks(self) -> ScalperParams:
        if self.entry_timeout_seconds >= self.max_holding_seconds:
            raise ValueError("entryTimeoutSeconds must be shorter than maxHoldingSeconds")
        if self.volume_window_seconds * self.volume_baseline_windows > 86400:
            raise ValueError(
                "the volume baseline (volumeWindowSeconds x volumeBaselineWindows) spans at "
                "most a day"
            )
        if self.stop_loss >= self.take_profit * 10:
            raise ValueError("stopLoss must be less than 10 times takeProfit")
        return self


class StrategyParams(ApiModel):
    """Parameters for the Engine's strategy: set at most the block named after spec.strategy."""

    core_hodl: CoreHodlParams | None = Field(default=None, description="CORE-HODL parameters.")
    trend: TrendParams | None = Field(default=None, description="TREND parameters.")
    funding: FundingParams | None = Field(default=None, description="FUNDING parameters.")
    tactical: TacticalParams | None = Field(default=None, description="TACTICAL parameters.")
    grid: GridParams | None = Field(default=None, description="GRID parameters.")
    scalper: ScalperParams | None = Field(default=None, description="SCALPER parameters.")
    meta_trend: MetaTrendParams | None = Field(default=None, description="META-TREND parameters.")
