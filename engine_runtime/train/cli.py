"""``python -m engine_runtime.train``: train the meta-trend model and write its artifact.

Examples::

    python -m engine_runtime.train --candles BTCUSDT=btc-1h.csv ETHUSDT=eth-1h.csv --out model/
    python -m engine_runtime.train --venue-url http://127.0.0.1:8399 --symbols BTCUSDT ETHUSDT \\
        --bars 8760 --params meta-trend.yaml --seed 7 --out model/

``--out`` receives ``manifest.json`` and ``model.json`` (the published artifact) and
``report.html`` (not published). The last line on stdout is the metrics summary (JSON).
Exit status 2 for unusable input (files, data too short, one outcome only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from engine_runtime.strategies.interface import Category
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

from . import artifact, data, report
from .pipeline import TrainingError, category_of, train


def params_from(path: str | None) -> MetaTrendParams:
    """``params.metaTrend`` from a YAML file: the block alone, or under ``metaTrend``."""
    if path is None:
        return MetaTrendParams()
    raw = yaml.safe_load(Path(path).read_text()) or {}
    if isinstance(raw, dict) and "metaTrend" in raw:
        raw = raw["metaTrend"]
    return MetaTrendParams.model_validate(raw)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine_runtime.train", description=__doc__)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--candles", nargs="+", metavar="SYMBOL=PATH", help="CSV/Parquet files")
    source.add_argument("--venue-url", help="a Bybit-compatible REST base URL (kline endpoint)")
    p.add_argument("--symbols", nargs="+", default=["BTCUSDT", "ETHUSDT"], help="with --venue-url")
    p.add_argument(
        "--funding", nargs="+", metavar="SYMBOL=PATH", default=[],
        help="with --candles: settled funding (CSV, a 'rate' column); the venue's otherwise",
    )  # fmt: skip
    p.add_argument("--bars", type=int, default=8760, help="with --venue-url: candles per symbol")
    p.add_argument("--params", help="YAML with params.metaTrend (the Engine's block)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=3, help="walk-forward folds for tuning")
    p.add_argument("--holdout", type=float, default=0.25, help="out-of-sample share of the span")
    p.add_argument("--purge-bars", type=int, help="purge gap (default timeBarrierBars)")
    p.add_argument("--no-backtest", action="store_true", help="skip the out-of-sample backtests")
    p.add_argument("--out", required=True, type=Path)
    return p


def summary(metrics: dict[str, Any], seconds: float) -> dict[str, Any]:
    keys = ("events", "testEvents", "baseRate", "auc", "precision", "unfiltered", "filtered")
    out = {k: metrics.get(k) for k in keys}
    if "backtest" in metrics:
        out["backtest"] = {n: r["totalReturn"] for n, r in metrics["backtest"].items()}
    out["seconds"] = round(seconds, 2)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.monotonic()
    try:
        params = params_from(args.params)
        linear = category_of(params) is Category.LINEAR
        if args.candles:
            candles = data.from_files(args.candles)
            funding = data.funding_from_files(args.funding) if linear else {}
        else:
            now_ms = int(time.time() * 1000)
            candles = data.from_venue(
                args.venue_url, args.symbols, category_of(params).value,
                params.interval.value, args.bars, now_ms,
            )  # fmt: skip
            start_ms = min(int(f.index[0].value // 1_000_000) for f in candles.values())
            funding = (
                data.funding_from_venue(args.venue_url, args.symbols, start_ms, now_ms)
                if linear else {}
            )  # fmt: skip
        trained = train(
            candles, params, seed=args.seed, folds=args.folds, holdout=args.holdout,
            purge_bars=args.purge_bars, backtest=not args.no_backtest, funding=funding,
        )  # fmt: skip
    except (TrainingError, ValueError, OSError) as error:
        print(f"train: {error}", file=sys.stderr)
        return 2
    artifact.write(args.out, trained.model_bytes, trained.manifest)
    report.write(trained, args.out / "report.html")
    print(f"artifact: {args.out / artifact.MANIFEST}, {args.out / artifact.MODEL}", file=sys.stderr)
    print(json.dumps(summary(trained.metrics, time.monotonic() - started), default=str))
    return 0
