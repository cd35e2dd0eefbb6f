"""Performance statistics of an equity curve and its trades (vectorised numpy).

The figures and their definitions are backtesting.py's (its ``compute_stats``, version 0.6), so
the two can be read side by side; where ours differ, it is said here:

* Returns are taken on NAV per unit, so deposits and transfers are not returns (backtesting.py
  has no flows; with none, NAV per unit is equity over the starting equity).
* **Annualisation follows the data's own calendar**: per-bar NAV is sampled at each calendar
  day's last bar (week's or month's for weekly or monthly bars), and a year has as many of
  those periods as the data trades: 365 days when weekends trade (crypto), 252 when they do
  not (stocks), 52 weeks, 12 months. ``annualised_return`` is the geometric mean period return
  compounded over a year; ``volatility`` the matching annualised deviation; Sharpe is their
  ratio (zero risk-free rate), Sortino the annualised return over the annualised root mean
  square of the negative period returns, Calmar the annualised return over the maximum
  drawdown. ``cagr`` is by calendar time (365.25 days a year).
* ``buy_and_hold_return`` is the first traded market's close at the end over its close after
  the strategy's declared warm-up (backtesting.py starts at its indicators' first defined bar).
* ``exposure`` is the share of bars that ended with something held (backtesting.py counts the
  bars from each trade's entry bar to its exit bar).
* Trades are round trips (flat to flat, a flip closes one and opens the next) of a market; the
  figures count closed ones, net of fees and funding. A trade's return is its net profit over
  the notional it put in (backtesting.py's ``ReturnPct`` for one entry). ``avg_trade`` is the
  geometric mean of those returns, ``expectancy`` their arithmetic mean, ``profit_factor`` the
  sum of the positive returns over the sum of the negative ones, SQN ``sqrt(n) * mean(pnl) /
  std(pnl)``, Kelly ``win_rate - (1 - win_rate) / (mean win / mean loss)``.
* Alpha and beta are against the first traded market's log returns, bar by bar.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from .venue import RoundTrip
from .views import dec

MS_PER_DAY = 86_400_000
MS_PER_YEAR = 365.25 * MS_PER_DAY


@dataclass(frozen=True, slots=True)
class Stats:
    """The usual figures, Decimal at the boundary (ratios rounded to 6 places, money to 2,
    durations in days)."""

    start_equity: Decimal
    final_equity: Decimal
    equity_peak: Decimal
    total_return: Decimal
    buy_and_hold_return: Decimal | None
    annualised_return: Decimal | None
    volatility: Decimal | None
    cagr: Decimal | None
    periods_per_year: int | None
    max_drawdown: Decimal
    avg_drawdown: Decimal | None
    max_drawdown_days: Decimal | None
    avg_drawdown_days: Decimal | None
    sharpe: Decimal | None
    sortino: Decimal | None
    calmar: Decimal | None
    alpha: Decimal | None
    beta: Decimal | None
    trades: int
    win_rate: Decimal | None
    best_trade: Decimal | None
    worst_trade: Decimal | None
    avg_trade: Decimal | None
    max_trade_days: Decimal | None
    avg_trade_days: Decimal | None
    profit_factor: Decimal | None
    expectancy: Decimal | None
    sqn: Decimal | None
    kelly: Decimal | None
    exposure: Decimal
    fees: Decimal
    funding: Decimal

    def as_dict(self) -> dict[str, str | int | None]:
        out: dict[str, str | int | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Decimal) else value
        return out


def max_drawdown(nav: npt.ArrayLike) -> float:
    """Largest peak-to-trough loss as a fraction (0.25 = -25%)."""
    x = np.asarray(nav, dtype=np.float64)
    if x.size == 0:
        return 0.0
    return float(drawdown_series(x).max())


def drawdown_series(nav: npt.ArrayLike) -> npt.NDArray[np.float64]:
    x = np.asarray(nav, dtype=np.float64)
    peak = np.maximum.accumulate(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, 1.0 - x / peak, 0.0)


def drawdown_episodes(
    dd: npt.NDArray[np.float64], times_ms: npt.NDArray[np.int64]
) -> tuple[list[float], list[float]]:
    """Each drawdown's depth and its length in days, from a peak to the bar it is recovered
    (or the last bar): backtesting.py's ``compute_drawdown_duration_peaks``."""
    at_peak = np.flatnonzero(dd == 0)
    marks = np.unique(np.concatenate((at_peak, [dd.size - 1])))
    depths: list[float] = []
    days: list[float] = []
    for prev, cur in itertools.pairwise(marks.tolist()):
        if cur > prev + 1:
            depths.append(float(dd[prev : cur + 1].max()))
            days.append(float(times_ms[cur] - times_ms[prev]) / MS_PER_DAY)
    return depths, days


def periods(index: pd.DatetimeIndex) -> tuple[int, str]:
    """Periods per year and the resampling rule of the data's calendar (backtesting.py's)."""
    step = pd.Series(index[-100:]).diff().dropna().median()
    days = step.days if isinstance(step, pd.Timedelta) else 0
    if days == 7:
        return 52, "W"
    if days in (28, 29, 30, 31):
        return 12, "ME"
    if days >= 365:
        return 1, "YE"
    weekends = float(np.mean(index.day_of_week >= 5)) > 2 / 7 * 0.6
    return (365 if weekends else 252), "D"


def geometric_mean(returns: npt.NDArray[np.float64]) -> float:
    growth = np.nan_to_num(returns) + 1.0
    if growth.size == 0 or np.any(growth <= 0):
        return 0.0
    return float(np.exp(np.log(growth).sum() / growth.size) - 1.0)


def _ratio(value: float | None, places: int = 6) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return dec(value, places)


def compute_stats(
    nav: npt.ArrayLike,
    *,
    index: pd.DatetimeIndex,
    start_equity: float,
    equity: npt.ArrayLike,
    duration_ms: float,
    trips: Sequence[RoundTrip],
    exposure: float,
    fees: float,
    funding: float,
    benchmark: npt.ArrayLike | None = None,
    warmup: int = 0,
) -> Stats:
    """Statistics of a NAV-per-unit series (one value per bar, at its close; it starts at 1
    before the first bar) whose bars open at ``index``; ``equity`` is in quote currency,
    ``benchmark`` the first traded market's closes."""
    x = np.asarray(nav, dtype=np.float64)
    eq = np.asarray(equity, dtype=np.float64)
    final_equity = float(eq[-1]) if eq.size else start_equity
    total = float(x[-1] - 1.0) if x.size else 0.0
    dd = drawdown_series(np.concatenate(([1.0], x)))[1:] if x.size else np.zeros(0)
    mdd = float(dd.max()) if dd.size else 0.0
    times = index.as_unit("ms").asi8 if len(index) else np.zeros(0, dtype=np.int64)
    depths, dd_days = drawdown_episodes(dd, times) if dd.size else ([], [])

    per_year: int | None = None
    ann = vol = sharpe = sortino = calmar = None
    if len(index) > 1:
        per_year, rule = periods(index)
        period_nav = pd.Series(x, index=index).resample(rule).last().dropna()
        rets = period_nav.pct_change().dropna().to_numpy()
        g = geometric_mean(rets)
        ann = (1 + g) ** per_year - 1
        var = float(rets.var(ddof=1)) if rets.size > 1 else float("nan")
        vol = math.sqrt(max(0.0, (var + (1 + g) ** 2) ** per_year - (1 + g) ** (2 * per_year)))
        sharpe = ann / vol if vol else None
        downside = math.sqrt(float(np.mean(np.minimum(rets, 0.0) ** 2))) if rets.size else 0.0
        sortino = ann / (downside * math.sqrt(per_year)) if downside else None
        calmar = ann / mdd if mdd > 0 else None
    years = duration_ms / MS_PER_YEAR
    cagr = (x[-1] ** (1.0 / years) - 1.0) if years > 0 and x.size and x[-1] > 0 else None

    bh = alpha = beta = None
    if benchmark is not None:
        c = np.asarray(benchmark, dtype=np.float64)
        start = min(max(warmup, 0), c.size - 1)
        if c.size and c[start] > 0:
            bh = float(c[-1] / c[start] - 1.0)
        if x.size > 2 and c.size == x.size:
            with np.errstate(divide="ignore", invalid="ignore"):
                mine = np.log(x[1:] / x[:-1])
                market = np.log(c[1:] / c[:-1])
            ok = np.isfinite(mine) & np.isfinite(market)
            if ok.sum() > 1:
                cov = np.cov(mine[ok], market[ok])
                beta = float(cov[0, 1] / cov[1, 1]) if cov[1, 1] > 0 else None
                if beta is not None and bh is not None:
                    alpha = total - beta * bh

    closed = [t for t in trips if t.exit_ms]
    pnl = np.array([t.pnl for t in closed], dtype=np.float64)
    ret = np.array([t.return_pct for t in closed], dtype=np.float64)
    held = np.array([(t.exit_ms - t.entry_ms) / MS_PER_DAY for t in closed], dtype=np.float64)
    n = len(closed)
    win_rate = float((pnl > 0).mean()) if n else None
    losses = -ret[ret < 0].sum()
    profit_factor = float(ret[ret > 0].sum() / losses) if losses > 0 else None
    sqn = None
    if n > 1 and pnl.std(ddof=1) > 0:
        sqn = math.sqrt(n) * float(pnl.mean()) / float(pnl.std(ddof=1))
    kelly = None
    if win_rate is not None and (pnl > 0).any() and (pnl < 0).any():
        payoff = float(pnl[pnl > 0].mean() / -pnl[pnl < 0].mean())
        kelly = win_rate - (1 - win_rate) / payoff
    return Stats(
        start_equity=dec(start_equity, 2),
        final_equity=dec(final_equity, 2),
        equity_peak=dec(float(eq.max()) if eq.size else start_equity, 2),
        total_return=dec(total, 6),
        buy_and_hold_return=_ratio(bh),
        annualised_return=_ratio(ann),
        volatility=_ratio(vol),
        cagr=_ratio(cagr),
        periods_per_year=per_year,
        max_drawdown=dec(mdd, 6),
        avg_drawdown=_ratio(float(np.mean(depths))) if depths else None,
        max_drawdown_days=_ratio(max(dd_days), 4) if dd_days else None,
        avg_drawdown_days=_ratio(float(np.mean(dd_days)), 4) if dd_days else None,
        sharpe=_ratio(sharpe, 4),
        sortino=_ratio(sortino, 4),
        calmar=_ratio(calmar, 4),
        alpha=_ratio(alpha),
        beta=_ratio(beta, 4),
        trades=n,
        win_rate=_ratio(win_rate),
        best_trade=_ratio(float(ret.max())) if n else None,
        worst_trade=_ratio(float(ret.min())) if n else None,
        avg_trade=_ratio(geometric_mean(ret)) if n else None,
        max_trade_days=_ratio(float(held.max()), 4) if n else None,
        avg_trade_days=_ratio(float(held.mean()), 4) if n else None,
        profit_factor=_ratio(profit_factor, 4),
        expectancy=_ratio(float(ret.mean())) if n else None,
        sqn=_ratio(sqn, 4),
        kelly=_ratio(kelly, 4),
        exposure=dec(exposure, 6),
        fees=dec(fees, 2),
        funding=dec(funding, 2),
    )
