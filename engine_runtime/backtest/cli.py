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
import logging
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from engine_runtime.strategies.interface import Category, Strategy
from engine_runtime.strategies.registry import REGISTRY, create_strategy
from engine_runtime.strategies.sma_cross import SmaCrossStrategy
from eternal_kernel.api.v1alpha1.strategy_params import StrategyParams

from .book_data import Event, book_events, read_jsonl
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
    from eternal_kernel.api.v1alpha1.engine import PARAMS_BLOCKS

    from .sweep import block_name

    key = block_name(strategy)
    if isinstance(raw, dict) and not set(raw) & set(PARAMS_BLOCKS.values()):
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
    """Bybit's base rates unless ``--fee`` (every fill) or ``--maker-fee``/``--taker-fee`` say
    otherwise; the latter two win over ``--fee``."""
    from .shard import fee_model

    maker = args.maker_fee if args.maker_fee is not None else args.fee
    taker = args.taker_fee if args.taker_fee is not None else args.fee
    return fee_model(maker, taker, args.slippage_bps)


def _sma_market(args: argparse.Namespace, data: MarketData) -> tuple[str, Category]:
    """sma-cross's market: ``--symbols``' first, else the data's first market (so
    ``--candles GOOG=GOOG.csv`` alone runs on GOOG); linear when the data has it."""
    symbol = args.symbols.split(",")[0] if args.symbols else next(iter(data.candles))[0]
    if (symbol, Category.LINEAR) in data.candles:
        return symbol, Category.LINEAR
    if (symbol, Category.SPOT) in data.candles:
        return symbol, Category.SPOT
    have = ", ".join(f"{s}:{c.value}" for s, c in data.candles)
    raise SystemExit(f"error: no candles for {symbol}; the data has {have}")


def _report(result: BacktestResult, out: Path, no_plot: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(result, out / "result.json")
    if not no_plot:
        plot(result, out / "equity.png")
    rejected = {name: len(e.rejections) for name, e in result.engines.items() if e.rejections}
    summary: dict[str, object] = {"stats": result.stats.as_dict(), "output": str(out)}
    if rejected:
        summary["rejectedOrders"] = rejected  # each one is in result.json and the log
    print(json.dumps(summary, indent=2))


def _cmd_run(args: argparse.Namespace) -> None:
    strategy: Strategy
    data = _data(args)
    if args.strategy == "sma-cross":
        symbol, category = _sma_market(args, data)
        strategy = SmaCrossStrategy(
            symbol=symbol, fast=args.fast, slow=args.slow, qty=Decimal(args.qty), category=category
        )
    elif args.strategy == "meta-trend":
        strategy = _meta_trend(args)
    else:
        symbols = args.symbols.split(",") if args.symbols else None
        strategy = create_strategy(args.strategy, _params(args.params, args.strategy), symbols)
    missing = [k for k in strategy.markets() if not _has(data, k)]
    if missing:
        have = ", ".join(f"{s}:{c.value}" for s, c in data.candles)
        want = ", ".join(f"{s}:{c.value}" for s, c in missing)
        raise SystemExit(
            f"error: {args.strategy} trades {want}, and the data has only {have} "
            "(name the markets with --symbols, or give their --candles)"
        )
    result = run_backtest(
        strategy,
        data,
        initial_cash=Decimal(args.cash),
        fees=_fees(args),
        leverage=args.leverage,
        book_events=_books(args.book or [], strategy.book_depth()),
    )
    _report(result, Path(args.out), args.no_plot)


def _meta_trend(args: argparse.Namespace) -> Strategy:
    """META-TREND with the verified model of ``--model`` (default ``$EE_MODEL_DIR``), or every
    primary signal with ``--no-filter``: the two runs to compare on the same data."""
    from engine_runtime.strategies.meta_trend import MetaTrendStrategy
    from engine_runtime.strategies.meta_trend_model import load_strategy
    from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

    params = _params(args.params, args.strategy).meta_trend or MetaTrendParams()
    symbols = tuple(args.symbols.split(",")) if args.symbols else ("BTCUSDT", "ETHUSDT")
    if args.no_filter:
        return MetaTrendStrategy(params=params, symbols=symbols, use_filter=False)
    strategy = load_strategy(params, symbols, args.model)
    if (problem := strategy.start_problem()) is not None:
        raise SystemExit(f"meta-trend: {problem} (--model DIR, or --no-filter)")
    return strategy


def _has(data: MarketData, key: tuple[str, Category]) -> bool:
    try:
        data.frame(key)
    except KeyError:
        return False
    return True


def _cmd_sweep(args: argparse.Namespace) -> None:
    from .sweep import (
        RunSettings,
        StrategyBuilder,
        block_name,
        heatmap,
        parse_axis,
        sample,
        sweep,
        table,
    )  # fmt: skip

    data = _data(args)
    axes = [parse_axis(text) for text in args.axis]
    combos = sample(axes, args.random, args.seed) if args.random else sample(axes, 10**9)
    market = _sma_market(args, data) if args.strategy == "sma-cross" else None
    if market is None:
        fixed = _params(args.params, args.strategy).model_dump(by_alias=True, exclude_none=True)
        base = fixed.get(block_name(args.strategy), {})
    else:
        base = {"qty": args.qty}
    build = StrategyBuilder(
        args.strategy,
        base,
        tuple(args.symbols.split(",")) if args.symbols and market is None else None,
        market,
    )
    settings = RunSettings(Decimal(args.cash), _fees(args), args.leverage)
    result = sweep(
        build, data, combos, metric=args.metric, folds=args.folds, settings=settings,
        workers=args.workers,
    )  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ranked = [
        {"rank": i, **row.combo, "error": row.error, **row.stats}
        for i, row in enumerate(result.ranked(), 1)
    ]
    pd.DataFrame(ranked).to_csv(out / "sweep.csv", index=False)
    if len(axes) >= 2 and not args.no_plot:
        heatmap(result, out / "heatmap.png")
    print(table(result, limit=args.top))
    for fold in result.folds:
        (a, b), (c, d) = fold.in_span, fold.out_span
        print(
            f"walk-forward: {a[:10]}..{b[:10]} chose {fold.chosen} ({args.metric} "
            f"{fold.in_sample:.4g}); {c[:10]}..{d[:10]} out of sample {fold.out_of_sample:.4g}"
        )
    print(f"{len(combos)} combinations -> {out / 'sweep.csv'}")


def _books(items: Sequence[str], levels: int) -> list[Event] | None:
    """``--book linear=btc.jsonl``: recorded Bybit messages of a category (``book_data``)."""
    if not items:
        return None
    recorded: dict[tuple[str, Category], Sequence[dict[str, Any]]] = {}
    for item in items:
        category, _, path = item.partition("=")
        recorded[(path, Category(category))] = list(read_jsonl(path))
    return book_events(recorded, levels)


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
    p.add_argument(
        "--fee", type=float, help="fee rate of every fill, e.g. 0.002 (default: Bybit's base rates)"
    )
    p.add_argument("--maker-fee", type=float, help="fee rate of maker fills (wins over --fee)")
    p.add_argument("--taker-fee", type=float, help="fee rate of taker fills (wins over --fee)")
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
    run.add_argument(
        "--symbols",
        help="comma-separated, e.g. BTCUSDT,ETHUSDT (trend, funding; sma-cross: the first; "
        "default: the strategy's own, for sma-cross the first market of --candles)",
    )
    run.add_argument("--leverage", type=float, default=2.0)
    run.add_argument(
        "--book",
        action="append",
        help="CATEGORY=file.jsonl: recorded orderbook/publicTrade messages (version-2 strategies)",
    )
    run.add_argument("--fast", type=int, default=10, help="sma-cross only")
    run.add_argument("--slow", type=int, default=20, help="sma-cross only")
    run.add_argument("--qty", default="1", help="sma-cross only")
    run.add_argument("--model", help="meta-trend: the artifact directory (default $EE_MODEL_DIR)")
    run.add_argument(
        "--no-filter", action="store_true", help="meta-trend: trade every signal, no model"
    )
    _common(run)
    run.set_defaults(func=_cmd_run)
    sw = sub.add_parser("sweep", help="a grid (or random sample) of one strategy's parameters")
    sw.add_argument("--strategy", required=True, choices=[*REGISTRY, "sma-cross"])
    sw.add_argument(
        "--axis",
        action="append",
        required=True,
        metavar="NAME=A:B:STEP|V1,V2",
        help="a parameter and its values (repeatable); camelCase names of the params block, "
        "fast/slow/qty for sma-cross",
    )
    sw.add_argument("--params", help="YAML/JSON: the fixed parameters (the strategy's block)")
    sw.add_argument("--random", type=int, default=0, help="run this many random combinations")
    sw.add_argument("--metric", default="sharpe", help="the statistic to rank by (stats' names)")
    sw.add_argument("--folds", type=int, default=0, help="walk forward over this many spans")
    sw.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    sw.add_argument("--top", type=int, default=20, help="rows of the table printed")
    sw.add_argument("--symbols", help="as for run")
    sw.add_argument("--qty", default="1", help="sma-cross only, as for run")
    sw.add_argument("--leverage", type=float, default=2.0)
    _common(sw)
    sw.set_defaults(func=_cmd_sweep, out="sweep-out")
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
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
