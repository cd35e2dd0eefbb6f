"""``python -m engine_runtime.backtest``: run a strategy or the portfolio, write JSON and a PNG.

Examples::

    python -m engine_runtime.backtest run --strategy trend --interval 1D --start 2017-01-01
    python -m engine_runtime.backtest portfolio --interval 1D --start 2018-01-01 --out out/pf
    python -m engine_runtime.backtest data --interval 1h --start 2021-01-01 --out btc-1h.csv

Without ``--candles`` the data is the demo market: the real monthly BTC-USD history bundled with
the ``backtesting`` package made finer by the seeded generator, plus synthetic ETH, SOL, funding
and perps (see ``synthetic``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pandas as pd
import yaml

from engine_runtime.strategies.interface import Category, Strategy
from engine_runtime.strategies.registry import REGISTRY, create_strategy
from engine_runtime.strategies.sma_cross import SmaCrossStrategy
from eternal_operator.api.v1alpha1.strategy_params import StrategyParams

from .data import MarketData, align, load_candles
from .governance import BreakerPolicy
from .report import plot, write_json
from .runner import DEFAULT_WEIGHTS, BacktestResult, run_backtest, run_portfolio
from .synthetic import MONTH, demo_market, fine_candles
from .venue import FeeModel


def _params(path: str | None, strategy: str) -> StrategyParams:
    if path is None:
        return StrategyParams()
    raw = yaml.safe_load(Path(path).read_text()) or {}
    key = {"core-hodl": "coreHodl", "meta-trend": "metaTrend"}.get(strategy, strategy)
    if (
        isinstance(raw, dict)
        and key not in raw
        and not set(raw) & {"coreHodl", "trend", "funding", "tactical", "metaTrend"}
    ):
        raw = {key: raw}  # the strategy's block alone
    return StrategyParams.model_validate(raw)


def _data(args: argparse.Namespace) -> MarketData:
    if not args.candles:
        return demo_market(args.interval, args.seed, args.start, args.end)
    candles: dict[tuple[str, Category], pd.DataFrame] = {}
    for item in args.candles:
        name, _, path = item.partition("=")
        symbol, _, cat = name.partition(":")
        candles[(symbol, Category(cat or "spot"))] = load_candles(path)
    funding = {}
    for item in args.funding or []:
        symbol, _, path = item.partition("=")
        frame = pd.read_csv(path, index_col=0, parse_dates=True)
        frame.index = (
            pd.DatetimeIndex(frame.index).tz_localize("UTC")
            if frame.index.tz is None
            else frame.index
        )
        funding[symbol] = frame
    return MarketData(align(candles), funding).window(args.start, args.end)


def _fees(args: argparse.Namespace) -> FeeModel:
    return FeeModel(slippage=args.slippage_bps / 10_000)


def _report(result: BacktestResult, out: Path, no_plot: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(result, out / "result.json")
    if not no_plot:
        plot(result, out / "equity.png")
    print(json.dumps({"stats": result.stats.as_dict(), "output": str(out)}, indent=2))


def _cmd_run(args: argparse.Namespace) -> None:
    strategy: Strategy
    if args.strategy == "sma-cross":
        symbol = (args.symbols or "BTCUSDT").split(",")[0]
        strategy = SmaCrossStrategy(
            symbol=symbol, fast=args.fast, slow=args.slow, qty=Decimal(args.qty)
        )
    elif args.strategy == "meta-trend":
        strategy = _meta_trend(args)
    else:
        symbols = args.symbols.split(",") if args.symbols else None
        strategy = create_strategy(args.strategy, _params(args.params, args.strategy), symbols)
    result = run_backtest(
        strategy,
        _data(args),
        initial_cash=Decimal(args.cash),
        fees=_fees(args),
        leverage=args.leverage,
    )
    _report(result, Path(args.out), args.no_plot)


def _meta_trend(args: argparse.Namespace) -> Strategy:
    """META-TREND with the verified model of ``--model`` (default ``$EE_MODEL_DIR``), or every
    primary signal with ``--no-filter``: the two runs to compare on the same data."""
    from engine_runtime.strategies.meta_trend import MetaTrendStrategy
    from engine_runtime.strategies.meta_trend_model import load_strategy
    from eternal_operator.api.v1alpha1.strategy_params import MetaTrendParams

    params = _params(args.params, args.strategy).meta_trend or MetaTrendParams()
    symbols = tuple(args.symbols.split(",")) if args.symbols else ("BTCUSDT", "ETHUSDT")
    if args.no_filter:
        return MetaTrendStrategy(params=params, symbols=symbols, use_filter=False)
    strategy = load_strategy(params, symbols, args.model)
    if (problem := strategy.start_problem()) is not None:
        raise SystemExit(f"meta-trend: {problem} (--model DIR, or --no-filter)")
    return strategy


def _cmd_portfolio(args: argparse.Namespace) -> None:
    weights = dict(DEFAULT_WEIGHTS)
    for item in (args.weights or "").split(","):
        if item:
            name, _, value = item.partition("=")
            weights[name] = Decimal(value)
    weights = {k: v for k, v in weights.items() if v > 0}
    result = run_portfolio(
        _data(args),
        weights=weights,
        initial_cash=Decimal(args.cash),
        monthly_contribution=Decimal(args.contribution),
        policy=BreakerPolicy(),
        fees=_fees(args),
        governance=not args.no_governance,
    )
    _report(result, Path(args.out), args.no_plot)


def _cmd_data(args: argparse.Namespace) -> None:
    from .data import load_btc_monthly

    monthly = load_btc_monthly()
    if args.start:
        monthly = monthly.loc[monthly.index >= pd.Timestamp(args.start, tz="UTC")]
    if args.end:
        monthly = monthly.loc[monthly.index < pd.Timestamp(args.end, tz="UTC")]
    fine = fine_candles(monthly, args.interval, args.seed, MONTH)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix in (".parquet", ".pq"):
        fine.to_parquet(out)
    else:
        fine.to_csv(out)
    print(f"{len(fine)} candles -> {out}")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interval", default="1D", help="bar size of the demo data (1min, 1h, 1D, ...)")
    p.add_argument("--start", help="first bar (inclusive), e.g. 2018-01-01")
    p.add_argument("--end", help="end (exclusive)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")
    p.add_argument(
        "--candles",
        action="append",
        metavar="SYMBOL[:spot|linear]=PATH",
        help="CSV or Parquet candles (repeatable)",
    )
    p.add_argument(
        "--funding",
        action="append",
        metavar="SYMBOL=PATH",
        help="CSV with a 'rate' column (repeatable)",
    )
    p.add_argument("--cash", default="10000", help="starting capital (USDT)")
    p.add_argument("--slippage-bps", type=float, default=2.0)
    p.add_argument("--out", default="backtest-out", help="directory for result.json and equity.png")
    p.add_argument("--no-plot", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine_runtime.backtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one strategy")
    run.add_argument("--strategy", required=True, choices=[*REGISTRY, "sma-cross"])
    run.add_argument(
        "--params", help="YAML/JSON: spec.params, or the strategy's block alone (camelCase)"
    )
    run.add_argument("--symbols", help="comma-separated, e.g. BTCUSDT,ETHUSDT (trend, funding)")
    run.add_argument("--leverage", type=float, default=2.0)
    run.add_argument("--fast", type=int, default=10, help="sma-cross only")
    run.add_argument("--slow", type=int, default=20, help="sma-cross only")
    run.add_argument("--qty", default="1", help="sma-cross only")
    run.add_argument("--model", help="meta-trend: the artifact directory (default $EE_MODEL_DIR)")
    run.add_argument(
        "--no-filter", action="store_true", help="meta-trend: trade every signal, no model"
    )
    _common(run)
    run.set_defaults(func=_cmd_run)
    pf = sub.add_parser("portfolio", help="the four engines with allocation and circuit breaker")
    pf.add_argument("--weights", help="e.g. core-hodl=0.6,trend=0.2,funding=0.15,tactical=0.05")
    pf.add_argument("--contribution", default="0", help="monthly contribution (USDT)")
    pf.add_argument("--no-governance", action="store_true", help="run without the circuit breaker")
    _common(pf)
    pf.set_defaults(cash="100000", func=_cmd_portfolio)
    data = sub.add_parser(
        "data", help="write finer BTC candles consistent with the monthly history"
    )
    data.add_argument("--interval", default="1h")
    data.add_argument("--start")
    data.add_argument("--end")
    data.add_argument("--seed", type=int, default=7)
    data.add_argument("--out", required=True)
    data.set_defaults(func=_cmd_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
