"""The backtester: the live strategy code over history, with fees, slippage, funding and stops.

Python API: ``run_backtest(strategy, data)`` and ``run_portfolio(data)``; CLI:
``python -m engine_runtime.backtest --help``. See docs/strategies-and-backtesting.md.
"""

from .data import MarketData, align, load_btc_monthly, load_candles
from .engine import Simulation
from .fills import FillModel
from .governance import DEFAULT_LEVELS, BreakerLevel, BreakerPolicy, CircuitBreaker
from .lookahead import LookAheadError
from .runner import DEFAULT_WEIGHTS, BacktestResult, EngineResult, run_backtest, run_portfolio
from .runs import EngineSpec
from .stats import Stats, compute_stats
from .synthetic import demo_market, fine_candles
from .venue import FeeModel

__all__ = [
    "DEFAULT_LEVELS",
    "DEFAULT_WEIGHTS",
    "BacktestResult",
    "BreakerLevel",
    "BreakerPolicy",
    "CircuitBreaker",
    "EngineResult",
    "EngineSpec",
    "FeeModel",
    "FillModel",
    "LookAheadError",
    "MarketData",
    "Simulation",
    "Stats",
    "align",
    "compute_stats",
    "demo_market",
    "fine_candles",
    "load_btc_monthly",
    "load_candles",
    "run_backtest",
    "run_portfolio",
]
