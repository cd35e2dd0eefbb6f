"""The Eternal Engine's strategies and their versioned interface (see ``interface``).

Pure code over numpy/pandas: the live runtime and the backtester call the same objects.
"""

from .core_hodl import CoreHodlState, CoreHodlStrategy
from .funding import FundingState, FundingStrategy
from .interface import (
    NORMAL,
    STRATEGY_API_VERSION,
    CancelOrder,
    Category,
    FundingEvent,
    GovernanceDirective,
    Intent,
    MarketView,
    OrderEvent,
    OrderStatus,
    OrderType,
    PortfolioView,
    SetStopLoss,
    Side,
    Strategy,
    StrategyContext,
    SubmitOrder,
    TransferProceeds,
    intent_id,
)
from .registry import REGISTRY, create_strategy
from .sma_cross import SmaCrossStrategy
from .tactical import TacticalState, TacticalStrategy
from .trend import TrendState, TrendStrategy

__all__ = [
    "NORMAL",
    "REGISTRY",
    "STRATEGY_API_VERSION",
    "CancelOrder",
    "Category",
    "CoreHodlState",
    "CoreHodlStrategy",
    "FundingEvent",
    "FundingState",
    "FundingStrategy",
    "GovernanceDirective",
    "Intent",
    "MarketView",
    "OrderEvent",
    "OrderStatus",
    "OrderType",
    "PortfolioView",
    "SetStopLoss",
    "Side",
    "SmaCrossStrategy",
    "Strategy",
    "StrategyContext",
    "SubmitOrder",
    "TacticalState",
    "TacticalStrategy",
    "TransferProceeds",
    "TrendState",
    "TrendStrategy",
    "create_strategy",
    "intent_id",
]
