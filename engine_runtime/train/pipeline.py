"""The training pipeline: signals -> triple-barrier labels -> purged walk-forward tuning ->
XGBoost -> out-of-sample metrics and backtests -> the artifact's contents.

Events (labelled signals of every symbol) are sorted by time. The last ``holdout`` share of the
span is the out-of-sample test; the rest, purged of every label that reaches into the test,
is the development set, where a walk-forward split chooses the grid point. The model trained on
the whole development set is the one evaluated and shipped: the figures describe exactly it.
The out-of-sample backtests run the strategy (with and without the filter) through the
project's backtester over the test period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine_runtime.backtest.data import MarketData, align, bar_ms, epoch_ms
from engine_runtime.backtest.runner import BacktestResult, run_backtest
from engine_runtime.backtest.venue import FeeModel
from engine_runtime.live.market import interval_ms
from engine_runtime.strategies import meta_trend_features as mf
from engine_runtime.strategies.interface import Category
from engine_runtime.strategies.meta_trend import MetaTrendStrategy
from engine_runtime.strategies.meta_trend_model import label_params
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

from . import artifact
from .data import data_hash
from .labels import label_signals
from .model import auc, choose, fit, predict
from .split import purged_split, walk_forward


class TrainingError(ValueError):
    """The data cannot train a model (too few signals, one class only, wrong interval)."""


@dataclass(frozen=True)
class Events:
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]
    returns: npt.NDArray[np.float64]
    times_ms: npt.NDArray[np.int64]
    symbols: npt.NDArray[np.str_]


@dataclass
class Trained:
    model_bytes: bytes
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    backtests: dict[str, BacktestResult] = field(default_factory=dict)
    test_probabilities: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    importance: dict[str, float] = field(default_factory=dict)


def category_of(params: MetaTrendParams) -> Category:
    return Category(params.category.value)


def build_events(
    candles: dict[str, pd.DataFrame],
    params: MetaTrendParams,
    fees: FeeModel,
    funding: dict[str, pd.DataFrame] | None = None,
) -> Events:
    """Every labelled signal of every symbol, with its model inputs, sorted by time."""
    parts = []
    linear = category_of(params) is Category.LINEAR
    for symbol in sorted(candles):
        frame = candles[symbol]
        feats = mf.compute(frame, params)
        lab = label_signals(frame, feats, params, fees)
        close_ms = epoch_ms(pd.DatetimeIndex(frame.index)) + bar_ms(pd.DatetimeIndex(frame.index))
        rates = mf.funding_at(close_ms, (funding or {}).get(symbol) if linear else None)
        x = mf.model_matrix(feats.iloc[lab.positions], rates[lab.positions])
        parts.append((x, lab.labels, lab.returns, close_ms[lab.positions], symbol))
    if not parts:
        raise TrainingError("no candles to train on")
    x = np.concatenate([p[0] for p in parts])
    times = np.concatenate([p[3] for p in parts]).astype(np.int64)
    order = np.argsort(times, kind="stable")
    return Events(
        x.astype(np.float32)[order],
        np.concatenate([p[1] for p in parts]).astype(np.int64)[order],
        np.concatenate([p[2] for p in parts])[order],
        times[order],
        np.concatenate([np.full(len(p[1]), p[4]) for p in parts])[order],
    )


def _selection(returns: npt.NDArray[np.float64], take: npt.NDArray[np.bool_]) -> dict[str, Any]:
    chosen = returns[take]
    return {
        "trades": int(take.sum()),
        "meanReturn": float(chosen.mean()) if len(chosen) else None,
        "sumReturn": float(chosen.sum()),
        "winRate": float((chosen > 0).mean()) if len(chosen) else None,
    }


def _backtest(
    candles: dict[str, pd.DataFrame],
    funding: dict[str, pd.DataFrame],
    params: MetaTrendParams,
    booster_bytes: bytes,
    start_ms: int,
    use_filter: bool,
    fees: FeeModel,
) -> BacktestResult:
    category = category_of(params)
    start = pd.Timestamp(start_ms, unit="ms", tz="UTC")
    window = {(s, category): f.loc[f.index >= start] for s, f in candles.items()}
    probe = {artifact.PROBE: artifact.probe_record(booster_bytes)}  # as the written manifest's
    model = artifact.MetaModel(artifact.Artifact(Path("."), probe, booster_bytes))
    strategy = MetaTrendStrategy(params=params, symbols=tuple(sorted(candles)), model=model,
                                 use_filter=use_filter)  # fmt: skip
    data = MarketData(align(window), funding if category is Category.LINEAR else {})
    return run_backtest(strategy, data, fees=fees, leverage=float(params.leverage))


def _stats(result: BacktestResult) -> dict[str, Any]:
    s = result.stats
    return {
        "totalReturn": str(s.total_return),
        "maxDrawdown": str(s.max_drawdown),
        "sharpe": None if s.sharpe is None else str(s.sharpe),
        "trades": s.trades,
        "winRate": None if s.win_rate is None else str(s.win_rate),
    }


def train(
    candles: dict[str, pd.DataFrame],
    params: MetaTrendParams,
    *,
    seed: int = 0,
    folds: int = 3,
    holdout: float = 0.25,
    purge_bars: int | None = None,
    funding: dict[str, pd.DataFrame] | None = None,
    fees: FeeModel | None = None,
    backtest: bool = True,
) -> Trained:
    """Train and evaluate the meta-model on ``candles`` (symbol -> OHLCV at params.interval)."""
    import xgboost

    fees = fees or FeeModel()
    funding = funding or {}
    width = interval_ms(params.interval.value)
    for symbol, frame in candles.items():
        if len(frame) < 2 or bar_ms(pd.DatetimeIndex(frame.index)) != width:
            raise TrainingError(f"{symbol}: candles are not {params.interval.value}-minute bars")
    events = build_events(candles, params, fees, funding)
    if len(events.y) < 50 or len(set(events.y.tolist())) < 2:
        raise TrainingError(
            f"{len(events.y)} labelled signals ({int(events.y.sum())} profitable): too few, or "
            "only one outcome, to train on"
        )
    purge = (params.time_barrier_bars if purge_bars is None else purge_bars) * width
    horizon = (params.time_barrier_bars + 2) * width
    t = events.times_ms
    test_start = int(t[0] + (t[-1] - t[0]) * (1 - holdout))
    outer = purged_split(t, horizon, test_start, None, purge)
    dev, test = outer.train, outer.test
    inner = walk_forward(t[dev], folds, horizon, purge)
    best, grid = choose(events.x[dev], events.y[dev], inner, seed)
    booster = fit(events.x[dev], events.y[dev], best, seed)
    model_bytes = bytes(booster.save_raw("json"))
    p = predict(booster, events.x[test])
    threshold = float(params.confidence_threshold)
    take = p >= threshold
    y_test, r_test = events.y[test], events.returns[test]
    metrics: dict[str, Any] = {
        "events": len(events.y),
        "developmentEvents": len(dev),
        "testEvents": len(test),
        "testStart": _iso(test_start),
        "baseRate": float(y_test.mean()) if len(test) else None,
        "auc": auc(y_test, p),
        "precision": float(y_test[take].mean()) if take.any() else None,
        "confidenceThreshold": threshold,
        "validationAuc": next(g["auc"] for g in grid if all(g[k] == best[k] for k in best)),
        "hyperparameters": best,
        "unfiltered": _selection(r_test, np.ones(len(test), dtype=bool)),
        "filtered": _selection(r_test, take),
    }
    trained = Trained(model_bytes, {}, metrics, test_probabilities=p)
    gains = booster.get_score(importance_type="gain")
    trained.importance = {f: float(np.sum(gains.get(f, 0.0))) for f in mf.MODEL_FEATURES}
    if backtest:
        for name, use in (("filtered", True), ("unfiltered", False)):
            result = _backtest(candles, funding, params, model_bytes, test_start, use, fees)
            trained.backtests[name] = result
        metrics["backtest"] = {n: _stats(r) for n, r in trained.backtests.items()}
    first = min(f.index[0] for f in candles.values())
    last = max(f.index[-1] for f in candles.values())
    trained.manifest = {
        "strategy": artifact.STRATEGY,
        "features": list(mf.MODEL_FEATURES),
        "featureSetVersion": mf.FEATURE_SET_VERSION,
        "signalParams": mf.signal_params(params),
        "labelParams": label_params(params),
        "data": {
            "symbols": sorted(candles),
            "interval": params.interval.value,
            "category": params.category.value,
            "start": first.isoformat(),
            "end": last.isoformat(),
            "bars": int(sum(len(f) for f in candles.values())),
            "funding": sorted(funding) if category_of(params) is Category.LINEAR else [],
            "sha256": data_hash(candles, funding),
        },
        "training": {
            "seed": seed,
            "folds": folds,
            "holdout": holdout,
            "purgeBars": purge // width,
            "grid": grid,
            "xgboost": xgboost.__version__,
        },
        "metrics": metrics,
        "createdAt": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    return trained


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()
