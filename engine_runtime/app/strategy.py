"""Building the engine's strategy: from the registry by `RuntimeConfig.strategy` with its params,
or (tests, development) from `EE_STRATEGY_FACTORY=module:callable`, called with the config."""

from __future__ import annotations

import importlib

from pydantic import ValidationError

from engine_runtime.config import ConfigError
from engine_runtime.strategies.interface import Strategy
from engine_runtime.strategies.registry import create_strategy
from eternal_kernel.api.runtime_config import RuntimeConfig
from eternal_kernel.api.v1alpha1.engine import PARAMS_BLOCKS
from eternal_kernel.api.v1alpha1.strategy_params import StrategyParams


def build_strategy(config: RuntimeConfig, factory: str | None) -> Strategy:
    if factory:
        module_name, _, attribute = factory.partition(":")
        try:
            build = getattr(importlib.import_module(module_name), attribute or "create")
        except (ImportError, AttributeError) as error:
            raise ConfigError(f"EE_STRATEGY_FACTORY={factory}: {error}") from None
        strategy = build(config)
    else:
        block = PARAMS_BLOCKS[config.strategy]
        try:
            params = StrategyParams.model_validate({block: config.params})
        except ValidationError as error:
            raise ConfigError(f"params of strategy {config.strategy.value}: {error}") from None
        strategy = create_strategy(config.strategy.value, params, config.symbols)
    if not isinstance(strategy, Strategy):
        raise ConfigError(f"{type(strategy).__name__} does not implement the Strategy protocol")
    return strategy
