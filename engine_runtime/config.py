"""The runtime's typed settings: the operator-rendered `engine.json` plus the environment.

Identity and trading configuration come from the file (`RuntimeConfig`, the operator's
contract); secrets and data-store URLs only from the environment (the credentials Secret and
the optional runtime-env Secret). PostgreSQL and Redis are both required: a runtime that cannot
persist its orders must not trade. Anything missing or malformed stops the process at start with
one message naming every bad variable or field (`ConfigError`), never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eternal_kernel.api.runtime_config import RuntimeConfig

KLINE_INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D")


class ConfigError(Exception):
    """The configuration cannot run: the message says what to fix."""


class RuntimeSettings(BaseSettings):
    """Environment of the runtime process (prefix `EE_`; API keys as the operator names them)."""

    model_config = SettingsConfigDict(env_prefix="EE_", frozen=True, extra="ignore")

    config_path: Path = Field(description="engine.json from the Engine's ConfigMap.")
    engine_name: str = Field(min_length=1, description="The Engine's name (downward API).")
    engine_namespace: str = Field(min_length=1, description="The Engine's namespace.")
    pod_name: str = Field(default="local", description="This pod's name, for logs.")
    database_url: SecretStr = Field(description="postgresql://... (required).")
    redis_url: SecretStr = Field(description="redis://... (required).")
    api_key: SecretStr = Field(validation_alias=AliasChoices("BYBIT_API_KEY"))
    api_secret: SecretStr = Field(validation_alias=AliasChoices("BYBIT_API_SECRET"))
    report_interval_seconds: float = Field(
        default=10.0,
        ge=0.2,
        le=60,
        description="How often status.runtime is patched; changes that matter report at once.",
    )
    equity_interval_seconds: float = Field(
        default=0.5,
        ge=0.1,
        le=60,
        description="How often equity goes to the Redis stream governance reads while prices "
        "move (a move of 0.1% of equity goes at once).",
    )
    wallet_interval_seconds: float = Field(
        default=5.0,
        ge=0.1,
        le=60,
        description="How often the wallet is read from the venue for that stream (and after "
        "every fill or balance change); in between, equity follows the tickers' prices.",
    )
    bar_interval: str = Field(
        default="D", description="Kline interval the strategy runs on (its backtests use 1D)."
    )
    cancel_on_shutdown: bool = Field(
        default=True, description="On SIGTERM: cancel resting orders (true) or leave them."
    )
    dcp_window_seconds: int = Field(
        default=10, ge=0, le=300, description="Disconnected-cancel-all window; 0 disarms."
    )
    resubmit_max_age_seconds: float = Field(
        default=30, ge=0, description="A crash-interrupted submit is retried only this young."
    )
    kubernetes: bool = Field(
        default=True, description="Watch the Engine and report status (off: local runs)."
    )
    governance_lease_seconds: float = Field(
        default=5.0,
        ge=0.5,
        le=300,
        description="An order that can add exposure needs governance confirmed this recently; "
        "older, the runtime reads its Engine and policies first, and refuses the order if the "
        "API server does not answer.",
    )
    strategy_factory: str | None = Field(
        default=None, description="module:callable building the strategy (tests, development)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Overrides engine.json's metricsPort (local pods share one network).",
    )
    health_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Overrides engine.json's healthPort (local pods share one network).",
    )
    orders_per_second: float = Field(default=8, gt=0, le=100)
    queries_per_second: float = Field(default=40, gt=0, le=500)

    @field_validator("database_url")
    @classmethod
    def _postgres(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value

    @field_validator("bar_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        if value not in KLINE_INTERVALS:
            raise ValueError(f"must be one of {', '.join(KLINE_INTERVALS)}")
        return value


_ENV_NAMES = {"api_key": "BYBIT_API_KEY", "api_secret": "BYBIT_API_SECRET"}


@dataclass(frozen=True)
class Config:
    settings: RuntimeSettings
    engine: RuntimeConfig

    @property
    def engine_key(self) -> str:
        """`namespace/name`: the key of this engine's rows in the shared database."""
        return f"{self.settings.engine_namespace}/{self.settings.engine_name}"


def _describe(error: ValidationError, env: bool) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"])
        if env and field.isupper():  # an alias: already the variable's name
            name = field
        else:
            name = _ENV_NAMES.get(field, f"EE_{field.upper()}") if env else field
        lines.append(f"  {name}: {item['msg']}")
    return "\n".join(lines)


def load_config() -> Config:
    """Settings from the environment and engine.json; raises ConfigError listing every problem."""
    try:
        settings = RuntimeSettings()
    except ValidationError as error:
        raise ConfigError("invalid runtime environment:\n" + _describe(error, True)) from None
    try:
        raw = json.loads(settings.config_path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read {settings.config_path}: {error}") from None
    try:
        engine = RuntimeConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"invalid {settings.config_path}:\n" + _describe(error, False)) from None
    if not engine.symbols:
        raise ConfigError(f"{settings.config_path}: symbols is empty")
    if engine.engine.name != settings.engine_name:
        raise ConfigError(
            f"{settings.config_path} is for engine {engine.engine.name!r}, "
            f"but EE_ENGINE_NAME is {settings.engine_name!r}"
        )
    return Config(settings, engine)
