"""Strategies by name (``Engine.spec.strategy``), built from the Engine's typed parameters.

Each factory imports its strategy's module when it is called: a runtime loads the one strategy
its Engine names, and only that strategy's dependencies (numpy for the strategies with features,
xgboost for META-TREND; pandas for none of them live).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from eternal_kernel.api.v1alpha1.strategy_params import (
    CoreHodlParams,
    FundingParams,
    GridParams,
    MetaTrendParams,
    ScalperParams,
    StrategyParams,
    TacticalParams,
    TrendParams,
)

from .interface import Strategy

StrategyFactory = Callable[[StrategyParams, Sequence[str] | None], Strategy]


def _core_hodl(params: StrategyParams, symbols: Sequence[str] | None) -> Strategy:
    from .core_hodl import CoreHodlStrategy

    return CoreHodlStrategy(params=params.core_hodl or CoreHodlParams())


def _trend(params: StrategyParams, symbols: Sequence[str] | None) -> Strategy:
    from .trend import TrendStrategy

    chosen = tuple(symbols) if symbols else ("BTCUSDT", "ETHUSDT")
    return TrendStrategy(params=params.trend or TrendParams(), symbols=chosen)


def _funding(params: StrategyParams, symbols: Sequence[str] | None) -> Strategy:
    from .funding import FundingStrategy

    chosen = tuple(symbols) if symbols else ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    return FundingStrategy(params=params.funding or FundingParams(), symbols=chosen)


def _tactical(params: StrategyParams, symbols: Sequence[str] | None) -> Strategy:
    from .tactical import TacticalStrategy

    return TacticalStrategy(params=params.tactical or TacticalParams())


def _grid(params: StrategyParams, symbols: Sequence[str] | None) -> Strategy:
    from .grid import GridStrategy

    p = params.grid or GridParams()
    return GridStrategy(params=p, symbol=symbols[0] if symbols else p.symbol)


def _scalper(params: StrategyParams, symbols: Sequence[str] | None) -> Strategy:
    from .scalper import ScalperStrategy

    chosen = tuple(symbols) if symbols else ("BTCUSDT",)
    return ScalperStrategy(params=params.scalper or ScalperParams(), symbols=chosen)


def _meta_trend(params: StrategyParams, symbols: Sequence[str] | None) -> Strategy:
    from .meta_trend_model import load_strategy

    chosen = tuple(symbols) if symbols else ("BTCUSDT", "ETHUSDT")
    return load_strategy(params.meta_trend or MetaTrendParams(), chosen)


REGISTRY: dict[str, StrategyFactory] = {
    "core-hodl": _core_hodl,
    "trend": _trend,
    "funding": _funding,
    "tactical": _tactical,
    "grid": _grid,
    "scalper": _scalper,
    "meta-trend": _meta_trend,
}


def create_strategy(
    name: str, params: StrategyParams | None = None, symbols: Sequence[str] | None = None
) -> Strategy:
    """A fresh strategy ``name`` ('core-hodl' | 'trend' | 'funding' | 'tactical' | 'grid' |
    'scalper' | 'meta-trend').

    Only the parameter block named after the strategy is read; a missing block means defaults.
    ``symbols`` overrides the markets of TREND, FUNDING, SCALPER and META-TREND, and GRID's market
    (its first symbol); CORE-HODL and TACTICAL take theirs from their parameters. META-TREND loads
    its model from ``$EE_MODEL_DIR``.
    """
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(REGISTRY)}") from None
    return factory(params or StrategyParams(), symbols)
