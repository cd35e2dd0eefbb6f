"""Performance statistics of an equity curve and its trades (vectorised numpy).

Returns are per bar on NAV per unit (so deposits and transfers are not returns); annualisation
uses the bar length: ``periods_per_year = 365.25 days / bar``. Sharpe and Sortino assume a zero
risk-free rate; Sortino's downside deviation is the root mean square of the negative returns over
all periods. Calmar is the annualised return over the maximum drawdown. Trades are round trips
(flat to flat) of a market; win rate and profit factor count closed ones, net of fees and funding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from .venue import RoundTrip
from .views import dec

MS_PER_YEAR = 365.25 * 86_400_000


@dataclass(frozen=True, slots=True)
class Stats:
    """The usual figures, Decimal at the boundary (ratios rounded to 6 places)."""

    start_equity: Decimal
    final_equity: Decimal
    total_return: Decimal
    annualised_return: Decimal | None
    max_drawdown: Decimal
    sharpe: Decimal | None
    sortino: Decimal | None
    calmar: Decimal | None
    trades: int
    win_rate: Decimal | None
    profit_factor: Decimal | None
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
    peak = np.maximum.accumulate(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, 1.0 - x / peak, 0.0)
    return float(dd.max())


def drawdown_series(nav: npt.ArrayLike) -> npt.NDArray[np.float64]:
    x = np.asarray(nav, dtype=np.float64)
    peak = np.maximum.accumulate(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, 1.0 - x / peak, 0.0)


def _ratio(value: float | None, places: int = 6) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return dec(value, places)


def compute_stats(
    nav: npt.ArrayLike,
    *,
    start_equity: float,
    final_equity: float,
    duration_ms: float,
    bar_ms: float,
    trips: Sequence[RoundTrip],
    exposure: float,
    fees: float,
    funding: float,
) -> Stats:
    """Statistics of a NAV-per-unit series that starts at 1 before the first bar."""
    x = np.concatenate(([1.0], np.asarray(nav, dtype=np.float64)))
    rets = x[1:] / x[:-1] - 1.0 if x.size > 1 else np.zeros(0)
    total = float(x[-1] - 1.0)
    years = duration_ms / MS_PER_YEAR
    cagr = (x[-1] ** (1.0 / years) - 1.0) if years > 0 and x[-1] > 0 else None
    mdd = max_drawdown(x)
    per_year = MS_PER_YEAR / bar_ms if bar_ms > 0 else 0.0
    sharpe = sortino = None
    if rets.size > 1:
        sd = float(rets.std(ddof=1))
        mean = float(rets.mean())
        if sd > 0:
            sharpe = mean / sd * math.sqrt(per_year)
        downside = float(np.sqrt(np.mean(np.minimum(rets, 0.0) ** 2)))
        if downside > 0:
            sortino = mean / downside * math.sqrt(per_year)
    calmar = cagr / mdd if cagr is not None and mdd > 0 else None
    closed = [t for t in trips if t.exit_ms]
    wins = [t.pnl for t in closed if t.pnl > 0]
    losses = [-t.pnl for t in closed if t.pnl <= 0]
    win_rate = len(wins) / len(closed) if closed else None
    profit_factor = sum(wins) / sum(losses) if losses and sum(losses) > 0 else None
    return Stats(
        start_equity=dec(start_equity, 2),
        final_equity=dec(final_equity, 2),
        total_return=dec(total, 6),
        annualised_return=_ratio(cagr),
        max_drawdown=dec(mdd, 6),
        sharpe=_ratio(sharpe, 4),
        sortino=_ratio(sortino, 4),
        calmar=_ratio(calmar, 4),
        trades=len(closed),
        win_rate=_ratio(win_rate),
        profit_factor=_ratio(profit_factor, 4),
        exposure=dec(exposure, 6),
        fees=dec(fees, 2),
        funding=dec(funding, 2),
    )
