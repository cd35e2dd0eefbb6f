"""The Eternal Engine's strategies and their versioned interface (see ``interface``).

Pure code (the features over numpy, ``frame``): the live runtime and the backtester
call the same objects. The concrete strategies load on first use (``from engine_runtime.strategies
import TrendStrategy`` works as before): importing the interface or the registry loads no
strategy, so a live runtime holds only the one its Engine names (``registry``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .interface import (
    NORMAL,
    STRATEGY_API_VERSION,
    SUPPORTED_API_VERSIONS,
    BookLevel,
    CancelOrder,
    Category,
    FundingEvent,
    GovernanceDirective,
    Intent,
    MarketView,
    OrderBook,
    OrderEvent,
    OrderStatus,
    OrderType,
    PortfolioView,
    PublicTrade,
    SetStopLoss,
    Side,
    Strategy,
    StrategyContext,
    SubmitOrder,
    TimerEvent,
    TimerSpec,
    TransferProceeds,
    intent_id,
)
from .registry import REGISTRY, create_strategy

if TYPE_CHECKING:
    from .core_hodl import CoreHodlState, CoreHodlStrategy
    from .funding import FundingState, FundingStrategy
    from .grid import GridState, GridStrategy
    from .scalper import ScalperState, ScalperStrategy
    from .sma_cross import SmaCrossStrategy
    from .tactical import TacticalState, TacticalStrategy
    from .trend import TrendState, TrendStrategy

_LAZY = {
    "CoreHodlState": "core_hodl",
    "CoreHodlStrategy": "core_hodl",
    "FundingState": "funding",
    "FundingStrategy": "funding",
    "GridState": "grid",
    "GridStrategy": "grid",
    "ScalperState": "scalper",
    "ScalperStrategy": "scalper",
    "SmaCrossStrategy": "sma_cross",
    "TacticalState": "tactical",
    "TacticalStrategy": "tactical",
    "TrendState": "trend",
    "TrendStrategy": "trend",
}
"""The concrete strategies by the module that defines them, imported when first asked for."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "NORMAL",
    "REGISTRY",
    "STRATEGY_API_VERSION",
    "SUPPORTED_API_VERSIONS",
    "BookLevel",
    "CancelOrder",
    "Category",
    "CoreHodlState",
    "CoreHodlStrategy",
    "FundingEvent",
    "FundingState",
    "FundingStrategy",
    "GovernanceDirective",
    "GridState",
    "GridStrategy",
    "Intent",
    "MarketView",
    "OrderBook",
    "OrderEvent",
    "OrderStatus",
    "OrderType",
    "PortfolioView",
    "PublicTrade",
    "ScalperState",
    "ScalperStrategy",
    "SetStopLoss",
    "Side",
    "SmaCrossStrategy",
    "Strategy",
    "StrategyContext",
    "SubmitOrder",
    "TacticalState",
    "TacticalStrategy",
    "TimerEvent",
    "TimerSpec",
    "TransferProceeds",
    "TrendState",
    "TrendStrategy",
    "create_strategy",
    "intent_id",
]
