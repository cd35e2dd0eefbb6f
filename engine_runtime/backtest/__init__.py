"""The backtester: the live strategy code over history, with fees, slippage, funding and stops.

Python API: ``load_candles(path)`` (CSV or Parquet), ``run_backtest(strategy, data)``,
``run_portfolio(data)``, ``write_json(result, path)`` and ``plot(result, path)``; CLI:
``python -m engine_runtime.backtest --help``. See docs/strategies-and-backtesting.md.
"""

from .data import MarketData, align, load_btc_monthly, load_candles
from .engine import Simulation
from .fills import FillModel
from .governance import BreakerEvent, BreakerPolicy, CircuitBreaker
from .lookahead import LookAheadError
from .report import plot, write_json
from .runner import DEFAULT_WEIGHTS, BacktestResult, EngineResult, run_backtest, run_portfolio
from .runs import EngineSpec
from .stats import Stats, compute_stats
from .synthetic import demo_market, fine_candles
from .venue import FeeModel

__all__ = [
    "DEFAULT_WEIGHTS",
    "BacktestResult",
    "BreakerEvent",
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
    "plot",
    "run_backtest",
    "run_portfolio",
    "write_json",
]
