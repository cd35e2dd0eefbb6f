"""META-TREND's parameters (`Engine.spec.params.metaTrend`) and where its runtime finds the
trained model it is given."""

from __future__ import annotations

from decimal import Decimal

from pydantic import ConfigDict, Field, model_validator

from .base import ApiModel, Fraction, cel, rules
from .markets import KlineInterval, MarketCategory

MODEL_MOUNT_PATH = "/etc/eternal-engine/model"
"""Where the runtime pod mounts `modelConfigMap`; the pod's env `EE_MODEL_DIR` names it."""

MODEL_DIR_ENV = "EE_MODEL_DIR"
"""The environment variable the meta-trend runtime reads its model directory from."""


class MetaTrendParams(ApiModel):
    """META-TREND: trend votes (EMA, RSI extremes, MACD) filtered by a trained meta-model.

    The primary signal is a vote of EMA(fast) against EMA(slow), RSI beyond its extremes and
    MACD against its signal line; a trade is taken only when the meta-model's probability that
    the signal pays (triple-barrier label, fees included) reaches `confidenceThreshold`. The
    indicator periods here are also what the model's features were computed with: the runtime
    refuses a model trained with other values.
    """

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel("self.emaFast < self.emaSlow", "emaFast must be shorter than emaSlow", ".emaFast"),
            cel(
                "self.macdFast < self.macdSlow",
                "macdFast must be shorter than macdSlow",
                ".macdFast",
            ),
            cel(
                "self.rsiOversold < self.rsiOverbought",
                "rsiOversold must be below rsiOverbought",
                ".rsiOversold",
            ),
        )
    )

    interval: KlineInterval = Field(default=KlineInterval.H1, description="Candle interval.")
    category: MarketCategory = Field(
        default=MarketCategory.LINEAR,
        description="linear (USDT perpetuals, long and short) or spot (long only).",
    )
    ema_fast: int = Field(default=9, ge=2, le=500, description="Fast EMA period (bars).")
    ema_slow: int = Field(default=21, ge=3, le=1000, description="Slow EMA period (bars).")
    rsi_period: int = Field(default=14, ge=2, le=200, description="RSI period (bars).")
    rsi_oversold: Decimal = Field(
        default=Decimal("30"), ge=0, le=100, description="RSI below this votes long."
    )
    rsi_overbought: Decimal = Field(
        default=Decimal("70"), ge=0, le=100, description="RSI above this votes short."
    )
    macd_fast: int = Field(default=12, ge=2, le=500, description="MACD fast EMA (bars).")
    macd_slow: int = Field(default=26, ge=3, le=1000, description="MACD slow EMA (bars).")
    macd_signal: int = Field(default=9, ge=2, le=500, description="MACD signal line EMA (bars).")
    vote_threshold: int = Field(
        default=2,
        ge=1,
        le=3,
        description="Net votes (of EMA, RSI, MACD; each -1, 0 or +1) that make a signal; the "
        "signal fires on the bar the net vote first reaches it in a direction.",
    )
    confidence_threshold: Decimal = Field(
        default=Decimal("0.6"),
        ge=Decimal("0.5"),
        le=Decimal("0.99"),
        description="Trade a signal only when the meta-model's probability reaches this; the "
        "probability is also the signal confidence the pre-trade risk check sees.",
    )
    atr_period: int = Field(default=14, ge=2, le=200, description="ATR period of the barriers.")
    take_profit_atr: Decimal = Field(
        default=Decimal("2"), gt=0, le=20, description="Take-profit barrier, in ATRs from entry."
    )
    stop_loss_atr: Decimal = Field(
        default=Decimal("1"), gt=0, le=20, description="Stop-loss barrier, in ATRs from entry."
    )
    time_barrier_bars: int = Field(
        default=24, ge=1, le=1000, description="Close a trade still open after this many bars."
    )
    max_api_errors_per_minute: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Kill switch: more venue errors than this within a minute pause entries.",
    )
    low_confidence_stretch: int = Field(
        default=100,
        ge=1,
        le=10000,
        description="Kill switch: this many primary signals in a row below confidenceThreshold "
        "pause entries (the model no longer recognises the market).",
    )
    risk_per_trade: Fraction = Field(
        default=Decimal("0.01"), description="Fraction of the subaccount risked per trade."
    )
    max_asset_fraction: Fraction = Field(
        default=Decimal("0.5"), description="Largest notional per asset, as a fraction of equity."
    )
    leverage: Decimal = Field(default=Decimal("2"), ge=1, le=10, description="Leverage used.")
    model_config_map: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="The ConfigMap holding the trained artifact (manifest.json, model.json); "
        f"the runtime pod mounts it at {MODEL_MOUNT_PATH} and reads it from env "
        f"{MODEL_DIR_ENV}. Without a verified model the engine does not trade.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> MetaTrendParams:
        if self.ema_fast >= self.ema_slow:
            raise ValueError("emaFast must be shorter than emaSlow")
        if self.macd_fast >= self.macd_slow:
            raise ValueError("macdFast must be shorter than macdSlow")
        if self.rsi_oversold >= self.rsi_overbought:
            raise ValueError("rsiOversold must be below rsiOverbought")
        return self
