"""Backtest results as JSON and as a PNG of equity and drawdown (and breaker levels)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine_runtime.strategies.interface import MarketKey

from .runner import BacktestResult, EngineResult
from .stats import drawdown_series
from .views import dec

MAX_CURVE_POINTS = 5000


def _curve(result: BacktestResult, values: np.ndarray, places: int = 2) -> list[list[object]]:
    """``[iso time, value]`` pairs, thinned evenly to at most MAX_CURVE_POINTS (last kept)."""
    n = len(values)
    if n == 0:
        return []
    idx = np.unique(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).astype(int))
    times = result.close_index[idx]
    return [
        [t.isoformat(), str(dec(float(values[i]), places))] for t, i in zip(times, idx, strict=True)
    ]


def _engine(result: BacktestResult, engine: EngineResult, *, fills_limit: int) -> dict[str, Any]:
    trades = [
        {
            "symbol": t.symbol,
            "category": t.category.value,
            "direction": "long" if t.direction > 0 else "short",
            "entry": _iso(t.entry_ms),
            "exit": _iso(t.exit_ms) if t.exit_ms else None,
            "entryPrice": str(dec(t.entry_price, 8)),
            "exitPrice": str(dec(t.exit_price, 8)) if t.exit_ms else None,
            "returnPct": str(dec(t.return_pct * 100, 4)) if t.exit_ms else None,
            "maxQty": str(dec(t.max_qty, 8)),
            "pnl": str(dec(t.pnl, 2)),
            "fees": str(dec(t.fees, 2)),
            "funding": str(dec(t.funding, 2)),
        }
        for t in engine.trips
    ]
    fills = [
        {
            "time": _iso(f.ts_ms),
            "intentId": f.intent_id,
            "symbol": f.symbol,
            "category": f.category.value,
            "side": f.side.value,
            "qty": str(dec(f.qty, 8)),
            "price": str(dec(f.price, 8)),
            "fee": str(dec(f.fee, 8)),
            "liquidity": "maker" if f.maker else "taker",
            "reason": f.reason,
        }
        for f in engine.fills[-fills_limit:]
    ]
    return {
        "strategy": engine.strategy,
        "stats": engine.stats.as_dict(),
        "state": dict(engine.state),
        "final": {
            "cash": str(dec(engine.cash, 2)),
            "spot": {k: str(dec(v, 8)) for k, v in engine.spot.items()},
            "perps": {k: str(dec(v, 8)) for k, v in engine.perps.items()},
        },
        "trades": trades,
        "fills": fills,
        "fillsTotal": len(engine.fills),
        "rejections": [
            {"time": _iso(r.ts_ms), "intentId": r.intent_id, "symbol": r.symbol, "reason": r.reason}
            for r in engine.rejections[:fills_limit]
        ],
        "rejectionsTotal": len(engine.rejections),
        "transfers": [
            {
                "time": _iso(t.ts_ms),
                "to": t.target,
                "amount": str(dec(t.amount, 2)),
                "reason": t.reason,
            }
            for t in engine.transfers
        ],
        "equity": _curve(result, engine.equity),
    }


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def to_dict(result: BacktestResult, *, fills_limit: int = 10_000) -> dict[str, Any]:
    """Everything a reader needs: config, statistics, per-engine trades and curves, breaker."""
    return {
        "config": result.config,
        "period": {
            "start": result.index[0].isoformat() if len(result.index) else None,
            "end": result.close_index[-1].isoformat() if len(result.index) else None,
            "bars": len(result.index),
        },
        "stats": result.stats.as_dict(),
        "equity": _curve(result, result.equity),
        "navPerUnit": _curve(result, result.nav, 6),
        "breaker": [
            {
                "time": _iso(e.ts_ms),
                "level": e.level,
                "drawdown": str(dec(e.drawdown, 4)),
                "reason": e.reason,
            }
            for e in result.breaker_events
        ],
        "engines": {
            name: _engine(result, e, fills_limit=fills_limit) for name, e in result.engines.items()
        },
    }


def write_json(result: BacktestResult, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_dict(result), indent=2))
    return out


def plot(result: BacktestResult, path: str | Path, title: str | None = None) -> Path:
    """A PNG: the traded market's close with every fill marked (one-engine runs), equity (per
    engine and total), drawdown of NAV per unit, and breaker levels if any tripped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    times = result.close_index.tz_convert(None)
    governance = bool(result.levels.size and result.levels.max() > 0)
    market = next(iter(result.prices), None) if len(result.engines) == 1 else None
    shown = {"price": market is not None, "equity": True, "dd": True, "breaker": governance}
    panels = [p for p, wanted in shown.items() if wanted]
    heights = {"price": 2.2, "equity": 2.2, "dd": 1.1, "breaker": 0.8}
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(11, 2.2 * len(panels) + 1),
        sharex=True,
        gridspec_kw={"height_ratios": [heights[p] for p in panels]},
    )
    ax_of = dict(zip(panels, axes, strict=True))
    if market is not None:
        _price_panel(ax_of["price"], result, market, times)
    ax = ax_of["equity"]
    ax.plot(times, result.equity, label="total", color="black", linewidth=1.2)
    if len(result.engines) > 1:
        for name, engine in result.engines.items():
            ax.plot(times, engine.equity, label=name, linewidth=0.8)
    ax.set_ylabel("equity")
    if (
        result.equity.size
        and result.equity.min() > 0
        and result.equity.max() / result.equity.min() > 20
    ):
        ax.set_yscale("log")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    s = result.stats
    axes[0].set_title(
        title
        or f"return {float(s.total_return):.1%}, max DD {float(s.max_drawdown):.1%}, "
        f"Sharpe {s.sharpe}, {s.trades} trades"
    )
    dd = -drawdown_series(result.nav) * 100
    ax_of["dd"].fill_between(times, dd, 0, color="tab:red", alpha=0.4, linewidth=0)
    ax_of["dd"].set_ylabel("drawdown %")
    ax_of["dd"].grid(alpha=0.3)
    if governance:
        ax_of["breaker"].step(times, result.levels, where="post", color="tab:purple")
        ax_of["breaker"].set_ylabel("breaker")
        ax_of["breaker"].set_yticks(range(0, 5))
        ax_of["breaker"].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _price_panel(ax: Any, result: BacktestResult, market: MarketKey, times: Any) -> None:
    """The market's close, buys as green up-triangles and sells as red down-triangles."""
    import pandas as pd

    symbol, category = market
    ax.plot(times, result.prices[market], color="tab:blue", linewidth=0.8, label="close")
    (engine,) = result.engines.values()
    fills = [f for f in engine.fills if f.symbol == symbol]
    for side, marker, color in (("Buy", "^", "tab:green"), ("Sell", "v", "tab:red")):
        chosen = [f for f in fills if f.side.value == side]
        if chosen:
            when = pd.to_datetime([f.ts_ms for f in chosen], unit="ms")
            prices = [f.price for f in chosen]
            ax.scatter(when, prices, marker=marker, color=color, s=18, label=side.lower())
    ax.set_ylabel(f"{symbol} ({category.value})")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
